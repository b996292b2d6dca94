//! The VPC family's objects: VPC offerings, VPCs, network ACL lists and
//! their items (rules), load balancer rules and static NAT.

use serde::{Deserialize, Serialize};

/// UUID of the built-in `Default VPC offering`.
pub const DEFAULT_VPC_OFFERING_ID: &str = "0b8c5e3f-7a10-4c2e-9d11-5e0f0a000001";
/// UUID of the built-in ACL list `default_allow`.
pub const DEFAULT_ALLOW_ACL_ID: &str = "0b8c5e3f-7a10-4c2e-9d11-5e0f0a00ac02";
/// UUID of the built-in ACL list `default_deny`.
pub const DEFAULT_DENY_ACL_ID: &str = "0b8c5e3f-7a10-4c2e-9d11-5e0f0a00ac01";

/// A VPC offering.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VpcOffering {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Display text.
    pub displaytext: String,
    /// Services offered.
    pub services: Vec<String>,
    /// The default offering.
    pub isdefault: bool,
}

/// A VPC.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Vpc {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Display text.
    pub displaytext: String,
    /// Super CIDR of its tiers.
    pub cidr: String,
    /// Zone UUID.
    pub zoneid: String,
    /// Offering UUID.
    pub vpcofferingid: String,
    /// Network domain.
    pub networkdomain: String,
    /// `Enabled`, `Inactive`.
    pub state: String,
    /// Creation time.
    pub created: String,
}

/// A network ACL list.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NetworkAclList {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Owning VPC; `None` for the built-in lists.
    #[serde(default)]
    pub vpcid: Option<String>,
}

/// A network ACL item (a rule of a list).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NetworkAclItem {
    /// UUID.
    pub id: String,
    /// List UUID.
    pub aclid: String,
    /// Rule number (order of evaluation; unique within the list).
    pub number: i64,
    /// `tcp`, `udp`, `icmp`, `all` or a protocol number.
    pub protocol: String,
    /// Start port.
    #[serde(default)]
    pub startport: Option<u16>,
    /// End port.
    #[serde(default)]
    pub endport: Option<u16>,
    /// Source (ingress) or destination (egress) CIDRs.
    pub cidrlist: Vec<String>,
    /// ICMP type.
    #[serde(default)]
    pub icmptype: Option<i64>,
    /// ICMP code.
    #[serde(default)]
    pub icmpcode: Option<i64>,
    /// `Ingress` or `Egress`.
    pub traffictype: String,
    /// `Allow` or `Deny`.
    pub action: String,
    /// Why the rule exists.
    #[serde(default)]
    pub reason: Option<String>,
    /// `Add`, `Active`, `Revoke`.
    pub state: String,
}

/// Static NAT of a public IP to a VM (`enableStaticNat`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StaticNat {
    /// The VM.
    pub virtualmachineid: String,
    /// The VM's guest address the IP maps to.
    pub vmguestip: String,
    /// The VM's network.
    pub networkid: String,
}

/// A load balancer rule on a public IP.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LoadBalancerRule {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// `roundrobin`, `leastconn` or `source`.
    pub algorithm: String,
    /// Public IP UUID.
    pub publicipid: String,
    /// Public port.
    pub publicport: u16,
    /// VM port.
    pub privateport: u16,
    /// `tcp`, `udp` or `tcp-proxy`.
    pub protocol: String,
    /// Guest network of the members.
    pub networkid: String,
    /// Source CIDRs allowed.
    pub cidrlist: Vec<String>,
    /// Member VM UUIDs.
    pub members: Vec<String>,
    /// `Add`, `Active`, `Revoke`.
    pub state: String,
}

/// The VPC family's part of the world.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct VpcWorld {
    /// VPC offerings.
    pub vpc_offerings: Vec<VpcOffering>,
    /// VPCs.
    pub vpcs: Vec<Vpc>,
    /// ACL lists (the two built-in ones first).
    pub acl_lists: Vec<NetworkAclList>,
    /// ACL items.
    pub acl_items: Vec<NetworkAclItem>,
    /// The ACL list of each VPC tier (network id → list id).
    pub tier_acls: std::collections::BTreeMap<String, String>,
    /// Static NAT by public IP id.
    pub static_nat: std::collections::BTreeMap<String, StaticNat>,
    /// Load balancer rules.
    pub lb_rules: Vec<LoadBalancerRule>,
}

impl Default for VpcWorld {
    /// What every CloudStack has: the default VPC offering and the
    /// `default_allow` / `default_deny` ACL lists.
    fn default() -> VpcWorld {
        let services = [
            "Dhcp",
            "Dns",
            "Lb",
            "NetworkACL",
            "PortForwarding",
            "SourceNat",
            "StaticNat",
            "UserData",
            "Vpn",
        ];
        VpcWorld {
            vpc_offerings: vec![VpcOffering {
                id: DEFAULT_VPC_OFFERING_ID.into(),
                name: "Default VPC offering".into(),
                displaytext: "Default VPC offering".into(),
                services: services.iter().map(|s| s.to_string()).collect(),
                isdefault: true,
            }],
            vpcs: Vec::new(),
            acl_lists: vec![
                NetworkAclList {
                    id: DEFAULT_DENY_ACL_ID.into(),
                    name: "default_deny".into(),
                    description: "Default Network ACL Deny All".into(),
                    vpcid: None,
                },
                NetworkAclList {
                    id: DEFAULT_ALLOW_ACL_ID.into(),
                    name: "default_allow".into(),
                    description: "Default Network ACL Allow All".into(),
                    vpcid: None,
                },
            ],
            acl_items: Vec::new(),
            tier_acls: Default::default(),
            static_nat: Default::default(),
            lb_rules: Vec::new(),
        }
    }
}

impl VpcWorld {
    /// Whether an id names one of these objects.
    pub fn knows_id(&self, id: &str) -> bool {
        self.vpc_offerings.iter().any(|x| x.id == id)
            || self.vpcs.iter().any(|x| x.id == id)
            || self.acl_lists.iter().any(|x| x.id == id)
            || self.acl_items.iter().any(|x| x.id == id)
            || self.lb_rules.iter().any(|x| x.id == id)
    }

    /// VPC by id.
    pub fn vpc(&self, id: &str) -> Option<&Vpc> {
        self.vpcs.iter().find(|v| v.id == id)
    }

    /// ACL list by id.
    pub fn acl_list(&self, id: &str) -> Option<&NetworkAclList> {
        self.acl_lists.iter().find(|v| v.id == id)
    }
}
