//! The built-in seeded world (documented in the crate README; print it with
//! `cloudstack-sim --print-seed`).
//!
//! Ids are fixed so scripts can use them, and the main ones are those of the original
//! mesostack Packer template (`seed/original/packer/mesostack.json`), so that template's
//! UUIDs name real objects here.

use crate::cidr::Ipv4Cidr;
use crate::placement::Host;
use crate::state::SecurityGroup;
use crate::state::{
    DiskOffering, Network, NetworkOffering, OsType, PublicIp, ServiceOffering, Template, World,
    Zone,
};

/// Zone `zone001`.
pub const ZONE_ID: &str = "5ea72245-fbe5-4646-9a88-277b81facfbe";
/// Service offering `t1.small`.
pub const T1_SMALL_ID: &str = "03f15d3e-57cd-41de-afb0-8714c3a3f05a";
/// Service offering `t1.medium`.
pub const T1_MEDIUM_ID: &str = "1b7c2a54-3e8d-4f0a-9c61-5d2e8f4a7b10";
/// Disk offering `Small` (5 GiB).
pub const DISK_SMALL_ID: &str = "6c1d3b2a-8e4f-4a7c-b5d9-0e2f1a3c4b50";
/// Disk offering `Custom`.
pub const DISK_CUSTOM_ID: &str = "6c1d3b2a-8e4f-4a7c-b5d9-0e2f1a3c4b51";
/// Template `Ubuntu 14.04`.
pub const TEMPLATE_ID: &str = "936ddbeb-a04a-4fb4-bf5a-e1de49fa3af5";
/// ISO `ipxe`.
pub const ISO_ID: &str = "7e3f5a1b-2c4d-4e6f-8a9b-0c1d2e3f4a60";
/// Network `guestnet001`.
pub const NETWORK_ID: &str = "5fed5b81-ea49-4e5a-bc36-ee52bd782d54";
/// Network offering `DefaultIsolatedNetworkOfferingWithSourceNatService`.
pub const ISOLATED_OFFERING_ID: &str = "2a9c8b7d-6e5f-4a3b-9c1d-0e8f7a6b5c40";
/// Network offering `DefaultSharedNetworkOffering`.
pub const SHARED_OFFERING_ID: &str = "2a9c8b7d-6e5f-4a3b-9c1d-0e8f7a6b5c41";
/// Network offering `DefaultIsolatedNetworkOfferingForVpcNetworks` (VPC tiers).
pub const VPC_TIER_OFFERING_ID: &str = "2a9c8b7d-6e5f-4a3b-9c1d-0e8f7a6b5c42";
/// Source NAT IP of `guestnet001`.
pub const SOURCE_NAT_IP_ID: &str = "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c70";
/// OS type `Ubuntu 14.04 (64-bit)`.
pub const OS_UBUNTU_1404_ID: &str = "c0a80a01-0000-4000-8000-000000000141";

/// Hosts of `zone001` (`kvm01`..`kvm03`): host anti-affinity fits three members.
pub const HOST_IDS: [&str; 3] = [
    "d1a2b3c4-0000-4000-8000-000000000101",
    "d1a2b3c4-0000-4000-8000-000000000102",
    "d1a2b3c4-0000-4000-8000-000000000103",
];

/// Zone `zone002`: an advanced zone with security groups (`securitygroupsenabled`), whose
/// guest network is the shared, SG-isolated `sgnet002`.
pub const SG_ZONE_ID: &str = "5ea72245-fbe5-4646-9a88-277b81fa0002";
/// Network offering `DefaultSharedNetworkOfferingWithSGService`.
pub const SG_SHARED_OFFERING_ID: &str = "2a9c8b7d-6e5f-4a3b-9c1d-0e8f7a6b5c43";
/// Network `sgnet002`, the shared guest network of `zone002`.
pub const SG_NETWORK_ID: &str = "5fed5b81-ea49-4e5a-bc36-ee52bd780002";
/// Template `Ubuntu 20.04` (in `zone002`).
pub const SG_TEMPLATE_ID: &str = "936ddbeb-a04a-4fb4-bf5a-e1de49fa0002";
/// OS type `Ubuntu 20.04 (64-bit)`.
const OS_UBUNTU_2004_ID: &str = "c0a80a01-0000-4000-8000-000000000201";
/// Hosts of `zone002` (`kvm11`, `kvm12`).
pub const SG_HOST_IDS: [&str; 2] = [
    "d1a2b3c4-0000-4000-8000-000000000111",
    "d1a2b3c4-0000-4000-8000-000000000112",
];

/// The seeded hosts of a zone, named `kvm<first>`, `kvm<first+1>`, ...
fn hosts(zone: &str, ids: &[&str], first: usize) -> Vec<Host> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| Host {
            id: (*id).into(),
            name: format!("kvm{:02}", first + i),
            zoneid: zone.into(),
        })
        .collect()
}

/// The account's `default` security group.
pub const DEFAULT_SECURITY_GROUP_ID: &str = "d1a2b3c4-0000-4000-8000-000000000201";

const OS_CATEGORY_UBUNTU: &str = "c0a80a01-0000-4000-8000-0000000000c1";
const OS_CATEGORY_OTHER: &str = "c0a80a01-0000-4000-8000-0000000000c2";

/// The default world. `public_ip_range` gives the source NAT IP of `guestnet001`
/// (its first host address).
pub fn default_world(public_ip_range: Ipv4Cidr) -> World {
    let created = "2016-01-01T00:00:00+0000".to_string();
    let os = |id: &str, desc: &str, cat: &str| OsType {
        id: id.into(),
        description: desc.into(),
        oscategoryid: cat.into(),
    };
    World {
        zones: vec![
            Zone {
                id: ZONE_ID.into(),
                name: "zone001".into(),
                networktype: "Advanced".into(),
                description: "mesostack simulated zone".into(),
                securitygroupsenabled: false,
            },
            Zone {
                id: SG_ZONE_ID.into(),
                name: "zone002".into(),
                networktype: "Advanced".into(),
                description: "advanced zone with security groups".into(),
                securitygroupsenabled: true,
            },
        ],
        os_types: vec![
            os(
                OS_UBUNTU_1404_ID,
                "Ubuntu 14.04 (64-bit)",
                OS_CATEGORY_UBUNTU,
            ),
            os(
                "c0a80a01-0000-4000-8000-000000000161",
                "Ubuntu 16.04 (64-bit)",
                OS_CATEGORY_UBUNTU,
            ),
            os(
                "c0a80a01-0000-4000-8000-000000000181",
                "Ubuntu 18.04 (64-bit)",
                OS_CATEGORY_UBUNTU,
            ),
            os(
                OS_UBUNTU_2004_ID,
                "Ubuntu 20.04 (64-bit)",
                OS_CATEGORY_UBUNTU,
            ),
            os(
                "c0a80a01-0000-4000-8000-000000000099",
                "Other Linux (64-bit)",
                OS_CATEGORY_OTHER,
            ),
            os(
                "c0a80a01-0000-4000-8000-000000000103",
                "Other (64-bit)",
                OS_CATEGORY_OTHER,
            ),
        ],
        service_offerings: vec![
            ServiceOffering {
                id: T1_SMALL_ID.into(),
                name: "t1.small".into(),
                displaytext: "t1.small: 1 vCPU, 1 GiB".into(),
                cpunumber: 1,
                cpuspeed: 2000,
                memory: 1024,
            },
            ServiceOffering {
                id: T1_MEDIUM_ID.into(),
                name: "t1.medium".into(),
                displaytext: "t1.medium: 2 vCPU, 2 GiB".into(),
                cpunumber: 2,
                cpuspeed: 2000,
                memory: 2048,
            },
        ],
        disk_offerings: vec![
            DiskOffering {
                id: DISK_SMALL_ID.into(),
                name: "Small".into(),
                displaytext: "Small Disk, 5 GB".into(),
                disksize: 5,
                iscustomized: false,
            },
            DiskOffering {
                id: DISK_CUSTOM_ID.into(),
                name: "Custom".into(),
                displaytext: "Custom Disk".into(),
                disksize: 0,
                iscustomized: true,
            },
        ],
        network_offerings: vec![
            NetworkOffering {
                id: ISOLATED_OFFERING_ID.into(),
                name: "DefaultIsolatedNetworkOfferingWithSourceNatService".into(),
                displaytext: "Offering for Isolated networks with Source Nat service enabled"
                    .into(),
                guestiptype: "Isolated".into(),
                services: [
                    "Vpn",
                    "Dhcp",
                    "Dns",
                    "Firewall",
                    "Lb",
                    "UserData",
                    "SourceNat",
                    "StaticNat",
                    "PortForwarding",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect(),
                specifyipranges: false,
                specifyvlan: false,
                forvpc: false,
            },
            NetworkOffering {
                id: SHARED_OFFERING_ID.into(),
                name: "DefaultSharedNetworkOffering".into(),
                displaytext: "Offering for Shared networks".into(),
                guestiptype: "Shared".into(),
                services: ["Dhcp", "Dns", "UserData"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                specifyipranges: true,
                specifyvlan: true,
                forvpc: false,
            },
            NetworkOffering {
                id: VPC_TIER_OFFERING_ID.into(),
                name: "DefaultIsolatedNetworkOfferingForVpcNetworks".into(),
                displaytext: "Offering for Isolated VPC networks with Source Nat service enabled"
                    .into(),
                guestiptype: "Isolated".into(),
                services: [
                    "Dhcp",
                    "Dns",
                    "Lb",
                    "NetworkACL",
                    "PortForwarding",
                    "SourceNat",
                    "StaticNat",
                    "UserData",
                    "Vpn",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect(),
                specifyipranges: false,
                specifyvlan: false,
                forvpc: true,
            },
            NetworkOffering {
                id: SG_SHARED_OFFERING_ID.into(),
                name: "DefaultSharedNetworkOfferingWithSGService".into(),
                displaytext: "Offering for Shared Security group enabled networks".into(),
                guestiptype: "Shared".into(),
                services: ["Dhcp", "Dns", "UserData", "SecurityGroup"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                specifyipranges: true,
                specifyvlan: true,
                forvpc: false,
            },
        ],
        templates: vec![
            Template {
                id: TEMPLATE_ID.into(),
                name: "Ubuntu 14.04".into(),
                displaytext: "Ubuntu 14.04 LTS (trusty) 64-bit".into(),
                ostypeid: OS_UBUNTU_1404_ID.into(),
                zoneid: ZONE_ID.into(),
                isready: true,
                status: "Download Complete".into(),
                format: "QCOW2".into(),
                hypervisor: "KVM".into(),
                isfeatured: true,
                ispublic: true,
                passwordenabled: true,
                isdynamicallyscalable: false,
                requireshvm: true,
                isextractable: false,
                templatetype: "BUILTIN".into(),
                size: 10 * (1 << 30),
                created: created.clone(),
                templatetag: None,
                url: None,
                sourcevolumeid: None,
                removed: false,
                projectid: None,
            },
            Template {
                id: ISO_ID.into(),
                name: "ipxe".into(),
                displaytext: "iPXE boot ISO".into(),
                ostypeid: "c0a80a01-0000-4000-8000-000000000099".into(),
                zoneid: ZONE_ID.into(),
                isready: true,
                status: "Successfully Installed".into(),
                format: "ISO".into(),
                hypervisor: "None".into(),
                isfeatured: true,
                ispublic: true,
                passwordenabled: false,
                isdynamicallyscalable: false,
                requireshvm: false,
                isextractable: false,
                templatetype: "BUILTIN".into(),
                size: 1 << 20,
                created: created.clone(),
                templatetag: None,
                url: None,
                sourcevolumeid: None,
                removed: false,
                projectid: None,
            },
            Template {
                id: SG_TEMPLATE_ID.into(),
                name: "Ubuntu 20.04".into(),
                displaytext: "Ubuntu 20.04 LTS (focal) 64-bit".into(),
                ostypeid: OS_UBUNTU_2004_ID.into(),
                zoneid: SG_ZONE_ID.into(),
                isready: true,
                status: "Download Complete".into(),
                format: "QCOW2".into(),
                hypervisor: "KVM".into(),
                isfeatured: true,
                ispublic: true,
                passwordenabled: true,
                isdynamicallyscalable: false,
                requireshvm: true,
                isextractable: false,
                templatetype: "BUILTIN".into(),
                size: 10 * (1 << 30),
                created: created.clone(),
                templatetag: None,
                url: None,
                sourcevolumeid: None,
                removed: false,
                projectid: None,
            },
        ],
        networks: vec![
            Network {
                id: NETWORK_ID.into(),
                name: "guestnet001".into(),
                displaytext: "guestnet001".into(),
                zoneid: ZONE_ID.into(),
                networkofferingid: ISOLATED_OFFERING_ID.into(),
                cidr: "10.1.1.0/24".into(),
                gateway: "10.1.1.1".into(),
                netmask: "255.255.255.0".into(),
                kind: "Isolated".into(),
                state: "Implemented".into(),
                networkdomain: "cs1cloud.internal".into(),
                vpcid: None,
                next_host: 10,
            },
            Network {
                id: SG_NETWORK_ID.into(),
                name: "sgnet002".into(),
                displaytext: "shared guest network with security groups".into(),
                zoneid: SG_ZONE_ID.into(),
                networkofferingid: SG_SHARED_OFFERING_ID.into(),
                cidr: "10.2.0.0/16".into(),
                gateway: "10.2.0.1".into(),
                netmask: "255.255.0.0".into(),
                kind: "Shared".into(),
                state: "Setup".into(),
                networkdomain: "cs2cloud.internal".into(),
                vpcid: None,
                next_host: 10,
            },
        ],
        public_ips: vec![PublicIp {
            id: SOURCE_NAT_IP_ID.into(),
            ipaddress: public_ip_range.host(1).to_string(),
            zoneid: ZONE_ID.into(),
            associatednetworkid: Some(NETWORK_ID.into()),
            vpcid: None,
            issourcenat: true,
            state: "Allocated".into(),
            allocated: created,
        }],
        hosts: [
            hosts(ZONE_ID, &HOST_IDS, 1),
            hosts(SG_ZONE_ID, &SG_HOST_IDS, 11),
        ]
        .concat(),
        security_groups: vec![SecurityGroup {
            id: DEFAULT_SECURITY_GROUP_ID.into(),
            name: "default".into(),
            description: Some("Default Security Group".into()),
            projectid: None,
            ingress: Vec::new(),
            egress: Vec::new(),
        }],
        next_ip_offset: 1,
        ..World::default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_PUBLIC_IP_RANGE;

    #[test]
    fn default_world_is_consistent() {
        let w = default_world(DEFAULT_PUBLIC_IP_RANGE);
        w.validate().unwrap();
        assert_eq!(w.public_ips[0].ipaddress, "127.100.0.1");
    }

    #[test]
    fn mesostack_fixture_loads_and_names_the_template_ids() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/mesostack-seed.json");
        let w = World::load(&path).unwrap();
        w.validate().unwrap();
        assert!(w
            .zones
            .iter()
            .any(|z| z.id == "5ea72245-fbe5-4646-9a88-277b81facfbe"));
        assert!(w
            .service_offerings
            .iter()
            .any(|s| s.id == "03f15d3e-57cd-41de-afb0-8714c3a3f05a"));
        assert!(w
            .templates
            .iter()
            .any(|t| t.id == "936ddbeb-a04a-4fb4-bf5a-e1de49fa3af5"));
        assert!(w
            .networks
            .iter()
            .any(|n| n.id == "5fed5b81-ea49-4e5a-bc36-ee52bd782d54"));
        assert!(w.os_types.iter().any(|o| o.id == "241"));
    }
}
