//! IPv4 CIDR blocks: the public IP range and firewall `cidrlist` matching.
//! Hand-written (a dozen lines) rather than pulling a crate for one struct.

use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 network such as `127.100.0.0/16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Cidr {
    /// Network address (host bits cleared).
    pub base: Ipv4Addr,
    /// Prefix length, 0..=32.
    pub prefix: u8,
}

impl Ipv4Cidr {
    fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        }
    }
    /// Whether `ip` is inside the block.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.base)
    }
    /// Number of usable host addresses (network and broadcast excluded when prefix < 31).
    pub fn host_count(&self) -> u32 {
        let size = (!self.mask()).saturating_add(1);
        if self.prefix >= 31 {
            size.max(1)
        } else {
            size - 2
        }
    }
    /// The `n`-th host address (1-based: 1 is the first after the network address).
    pub fn host(&self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.base).wrapping_add(n))
    }
    /// Whether `other` lies entirely inside this block (VPC tiers in their VPC).
    pub fn contains_cidr(&self, other: &Ipv4Cidr) -> bool {
        other.prefix >= self.prefix && self.contains(other.base)
    }
    /// Whether the two blocks share any address (tiers of one VPC must not).
    pub fn overlaps(&self, other: &Ipv4Cidr) -> bool {
        self.contains_cidr(other) || other.contains_cidr(self)
    }
    /// The dotted netmask.
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.mask())
    }
}

impl FromStr for Ipv4Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (ip, prefix) = s.split_once('/').unwrap_or((s, "32"));
        let ip: Ipv4Addr = ip.trim().parse().map_err(|_| format!("invalid CIDR {s}"))?;
        let prefix: u8 = prefix
            .trim()
            .parse()
            .map_err(|_| format!("invalid CIDR {s}"))?;
        if prefix > 32 {
            return Err(format!("invalid CIDR {s}"));
        }
        let mut c = Ipv4Cidr { base: ip, prefix };
        c.base = Ipv4Addr::from(u32::from(ip) & c.mask());
        Ok(c)
    }
}

impl std::fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_contains() {
        let c: Ipv4Cidr = "127.100.3.4/16".parse().unwrap();
        assert_eq!(c.to_string(), "127.100.0.0/16");
        assert!(c.contains("127.100.255.1".parse().unwrap()));
        assert!(!c.contains("127.101.0.1".parse().unwrap()));
        assert_eq!(c.host(1).to_string(), "127.100.0.1");
        assert_eq!(c.host_count(), 65534);
        assert_eq!(c.netmask().to_string(), "255.255.0.0");
        let all: Ipv4Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("1.2.3.4".parse().unwrap()));
        assert!("1.2.3.4/33".parse::<Ipv4Cidr>().is_err());
        let vpc: Ipv4Cidr = "10.0.0.0/16".parse().unwrap();
        let tier: Ipv4Cidr = "10.0.1.0/24".parse().unwrap();
        assert!(vpc.contains_cidr(&tier) && !tier.contains_cidr(&vpc));
        assert!(tier.overlaps(&vpc));
        assert!(!tier.overlaps(&"10.0.2.0/24".parse().unwrap()));
    }
}
