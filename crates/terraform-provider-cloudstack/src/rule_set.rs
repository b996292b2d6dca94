//! What the rule-set resources share (`cloudstack_firewall`,
//! `cloudstack_egress_firewall`, `cloudstack_port_forward`,
//! `cloudstack_network_acl_rule`): bounded concurrent rule jobs and the
//! checks of port ranges and CIDRs their `rule` blocks hold.

use std::{
    future::Future,
    net::{Ipv4Addr, Ipv6Addr},
};

use futures::StreamExt;

/// Upper bound of rule jobs in flight for one resource: enough to hide job
/// latency, small enough not to flood an API with rate limits.
pub(crate) const MAX_IN_FLIGHT: usize = 10;

/// Runs `f` on every item with at most `limit` futures in flight and returns
/// the results in the order of `items`. No sleeps between launches: the
/// client backs off on 429 by itself.
pub(crate) async fn in_parallel<T, R, F, Fut>(items: Vec<T>, limit: usize, f: F) -> Vec<R>
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = R>,
{
    let f = &f;
    let mut out: Vec<(usize, R)> = futures::stream::iter(items.into_iter().enumerate())
        .map(|(i, item)| async move { (i, f(item).await) })
        .buffer_unordered(limit.max(1))
        .collect()
        .await;
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

/// Parses a port number 1..=65535.
fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u16>().ok().filter(|p| *p > 0)
}

/// Parses a `ports` entry: `"80"` or `"80-90"` with start <= end.
pub(crate) fn parse_port_range(s: &str) -> Option<(u16, u16)> {
    match s.split_once('-') {
        None => parse_port(s).map(|p| (p, p)),
        Some((a, b)) => {
            let (a, b) = (parse_port(a)?, parse_port(b)?);
            (a <= b).then_some((a, b))
        }
    }
}

/// Whether `s` is an IPv4 or IPv6 CIDR such as `0.0.0.0/0` or `10.1.0.0/16`.
pub(crate) fn is_cidr(s: &str) -> bool {
    let Some((addr, len)) = s.split_once('/') else {
        return false;
    };
    if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Ok(len) = len.parse::<u8>() else {
        return false;
    };
    if addr.parse::<Ipv4Addr>().is_ok() {
        len <= 32
    } else {
        addr.parse::<Ipv6Addr>().is_ok() && len <= 128
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_cidrs() {
        assert_eq!(parse_port_range("80"), Some((80, 80)));
        assert_eq!(parse_port_range("80-90"), Some((80, 90)));
        assert_eq!(parse_port_range("1-65535"), Some((1, 65535)));
        for bad in [
            "0", "65536", "90-80", "", "-", "a", "80-", " 80", "+80", "1-2-3",
        ] {
            assert_eq!(parse_port_range(bad), None, "{bad}");
        }
        assert!(is_cidr("0.0.0.0/0") && is_cidr("10.1.0.0/16") && is_cidr("::/0"));
        for bad in [
            "10.0.0.0",
            "10.0.0.0/33",
            "300.0.0.0/8",
            "10.0.0.0/x",
            "abc/8",
        ] {
            assert!(!is_cidr(bad), "{bad}");
        }
    }
}
