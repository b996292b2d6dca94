//! The simulated cloud: every object CloudStack would keep in its database, plus
//! persistence (`--state FILE`, written atomically after every change).
//!
//! Objects are typed structs; their JSON (serde) is the persisted form, and
//! [`crate::render`] turns them into CloudStack's response shapes (adding derived
//! fields such as `zonename` and hiding internal ones such as a VM's password).

use crate::error::Error;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

mod vpc;
pub use vpc::*;

/// A zone.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Zone {
    /// UUID.
    pub id: String,
    /// Name (`zone001`).
    pub name: String,
    /// `Advanced` or `Basic`.
    pub networktype: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// An advanced zone with security groups: VMs deploy into its shared guest network
    /// with security groups (the account's `default` group unless others are named).
    #[serde(default)]
    pub securitygroupsenabled: bool,
}

/// A guest OS type (`listOsTypes`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OsType {
    /// UUID.
    pub id: String,
    /// Description, the name clients match on (`Ubuntu 14.04 (64-bit)`).
    pub description: String,
    /// Category UUID.
    #[serde(default)]
    pub oscategoryid: String,
}

/// A compute offering.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServiceOffering {
    /// UUID.
    pub id: String,
    /// Name (`t1.small`).
    pub name: String,
    /// Display text.
    pub displaytext: String,
    /// vCPUs.
    pub cpunumber: i64,
    /// MHz per vCPU.
    pub cpuspeed: i64,
    /// MiB.
    pub memory: i64,
}

/// A disk offering.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DiskOffering {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Display text.
    pub displaytext: String,
    /// Size in GiB (0 when custom).
    pub disksize: i64,
    /// Whether the size is chosen at deploy time.
    #[serde(default)]
    pub iscustomized: bool,
}

/// A network offering.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NetworkOffering {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Display text.
    pub displaytext: String,
    /// `Isolated` or `Shared`.
    pub guestiptype: String,
    /// Services offered (`SourceNat`, `Firewall`, `PortForwarding`, `Dhcp`, ...).
    pub services: Vec<String>,
    /// Whether IP ranges must be given at createNetwork.
    #[serde(default)]
    pub specifyipranges: bool,
    /// Whether VLAN must be given.
    #[serde(default)]
    pub specifyvlan: bool,
    /// For VPC tiers only (and only offering usable for them).
    #[serde(default)]
    pub forvpc: bool,
}

impl NetworkOffering {
    /// Isolated networks of this offering get a source NAT IP.
    pub fn has_source_nat(&self) -> bool {
        self.services.iter().any(|s| s == "SourceNat")
    }
}

/// A template (or ISO when `format == "ISO"`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Template {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Display text.
    pub displaytext: String,
    /// OS type UUID.
    pub ostypeid: String,
    /// Zone UUID.
    pub zoneid: String,
    /// Whether it can be deployed.
    pub isready: bool,
    /// `Download Complete`, `Installing Template`, ...
    pub status: String,
    /// `QCOW2`, `VHD`, `ISO`, ...
    pub format: String,
    /// `KVM`, `XenServer`, ...
    pub hypervisor: String,
    /// Featured flag.
    pub isfeatured: bool,
    /// Public flag.
    pub ispublic: bool,
    /// Whether deploy generates a password.
    pub passwordenabled: bool,
    /// Dynamic scaling flag.
    #[serde(default)]
    pub isdynamicallyscalable: bool,
    /// Requires HVM.
    #[serde(default)]
    pub requireshvm: bool,
    /// Extractable flag.
    #[serde(default)]
    pub isextractable: bool,
    /// `BUILTIN`, `USER`, ...
    pub templatetype: String,
    /// Size in bytes.
    pub size: i64,
    /// Creation time.
    pub created: String,
    /// Template tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub templatetag: Option<String>,
    /// Registration URL (registerTemplate) if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Volume it was made from (createTemplate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sourcevolumeid: Option<String>,
    /// Deleted (kept until its delete job finishes).
    #[serde(default)]
    pub removed: bool,
    /// The owning project (`projectid` at createTemplate); `None`: the account's own.
    #[serde(default)]
    pub projectid: Option<String>,
}

/// A volume.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Volume {
    /// UUID.
    pub id: String,
    /// Name (`ROOT-12`).
    pub name: String,
    /// `ROOT` or `DATADISK`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Owning VM.
    pub virtualmachineid: Option<String>,
    /// Zone UUID.
    pub zoneid: String,
    /// Bytes.
    pub size: i64,
    /// Disk offering UUID if any.
    #[serde(default)]
    pub diskofferingid: Option<String>,
    /// Template it was made from (ROOT).
    #[serde(default)]
    pub templateid: Option<String>,
    /// Device id on the VM.
    pub deviceid: i64,
    /// Creation time.
    pub created: String,
    /// `Allocated` (created, never attached) or `Ready`.
    #[serde(default = "ready")]
    pub state: String,
    /// When it was attached to its VM.
    #[serde(default)]
    pub attached: Option<String>,
    /// Owning project, if any.
    #[serde(default)]
    pub projectid: Option<String>,
    /// `deleteprotection` (CloudStack 4.20+, set by updateVolume): deleteVolume refuses.
    #[serde(default)]
    pub deleteprotection: bool,
}

fn ready() -> String {
    "Ready".into()
}

/// A guest network.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Network {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Display text.
    pub displaytext: String,
    /// Zone UUID.
    pub zoneid: String,
    /// Offering UUID.
    pub networkofferingid: String,
    /// CIDR (`10.1.1.0/24`).
    pub cidr: String,
    /// Gateway (`10.1.1.1`).
    pub gateway: String,
    /// Netmask.
    pub netmask: String,
    /// `Isolated` / `Shared`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `Allocated` / `Implemented`.
    pub state: String,
    /// Network domain.
    pub networkdomain: String,
    /// VPC UUID if in a VPC.
    #[serde(default)]
    pub vpcid: Option<String>,
    /// Next host number handed to a NIC.
    #[serde(default = "default_next_host")]
    pub next_host: u32,
}

fn default_next_host() -> u32 {
    10
}

/// A VM NIC.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Nic {
    /// UUID.
    pub id: String,
    /// Network UUID.
    pub networkid: String,
    /// Guest IP.
    pub ipaddress: String,
    /// Gateway.
    pub gateway: String,
    /// Netmask.
    pub netmask: String,
    /// MAC.
    pub macaddress: String,
    /// Default NIC.
    pub isdefault: bool,
    /// Secondary IPs (`addIpToNic`).
    #[serde(default)]
    pub secondaryip: Vec<SecondaryIp>,
}

/// A secondary IP of a NIC (`NicSecondaryIpResponse`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SecondaryIp {
    /// UUID.
    pub id: String,
    /// The address, in the NIC's network.
    pub ipaddress: String,
}

/// A VM.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VirtualMachine {
    /// UUID.
    pub id: String,
    /// Host name.
    pub name: String,
    /// Display name.
    pub displayname: String,
    /// `Starting`, `Running`, `Stopping`, `Stopped`, `Destroyed`, `Expunging`.
    pub state: String,
    /// Zone UUID.
    pub zoneid: String,
    /// Template (or ISO) UUID.
    pub templateid: String,
    /// Service offering UUID.
    pub serviceofferingid: String,
    /// Data disk offering.
    #[serde(default)]
    pub diskofferingid: Option<String>,
    /// SSH key pair name.
    #[serde(default)]
    pub keypair: Option<String>,
    /// Password generated at deploy (only returned by deploy / reset).
    #[serde(default)]
    pub password: Option<String>,
    /// Base64 user data.
    #[serde(default)]
    pub userdata: Option<String>,
    /// Hypervisor.
    pub hypervisor: String,
    /// Group.
    #[serde(default)]
    pub group: Option<String>,
    /// NICs.
    pub nic: Vec<Nic>,
    /// Creation time.
    pub created: String,
    /// Guest OS type UUID.
    pub guestosid: String,
    /// Instance number (for `i-2-N-VM` and volume names).
    pub number: u64,
    /// Attached ISO.
    #[serde(default)]
    pub isoid: Option<String>,
    /// Affinity groups (ids).
    #[serde(default)]
    pub affinitygroupids: Vec<String>,
    /// Host it runs on while Starting/Running/Stopping (see [`crate::placement`]).
    #[serde(default)]
    pub hostid: Option<String>,
    /// Registered user data it was deployed with.
    #[serde(default)]
    pub userdataid: Option<String>,
    /// Owning project, if any.
    #[serde(default)]
    pub projectid: Option<String>,
    /// Security groups (ids; VMs of SG-enabled zones only).
    #[serde(default)]
    pub securitygroupids: Vec<String>,
    /// UEFI boot mode (`LEGACY`/`SECURE`) when deployed with `boottype=UEFI`, else BIOS.
    #[serde(default)]
    pub uefi_bootmode: Option<String>,
    /// `deleteprotection` (updateVirtualMachine): destroy is refused while set.
    #[serde(default)]
    pub deleteprotection: bool,
}

/// A public IP address.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PublicIp {
    /// UUID.
    pub id: String,
    /// The address (inside the loopback range, so rules can be real).
    pub ipaddress: String,
    /// Zone UUID.
    pub zoneid: String,
    /// Guest network it serves.
    #[serde(default)]
    pub associatednetworkid: Option<String>,
    /// VPC it serves.
    #[serde(default)]
    pub vpcid: Option<String>,
    /// Source NAT IP of its network.
    pub issourcenat: bool,
    /// `Allocating`, `Allocated`, `Releasing`.
    pub state: String,
    /// Allocation time.
    pub allocated: String,
}

/// A port forwarding rule.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PortForwardingRule {
    /// UUID.
    pub id: String,
    /// Public IP UUID.
    pub ipaddressid: String,
    /// VM port.
    pub privateport: u16,
    /// VM end port.
    pub privateendport: u16,
    /// Public port.
    pub publicport: u16,
    /// Public end port.
    pub publicendport: u16,
    /// `tcp` / `udp`.
    pub protocol: String,
    /// Target VM.
    pub virtualmachineid: String,
    /// Guest IP of the VM.
    pub vmguestip: String,
    /// Network UUID.
    pub networkid: String,
    /// `Add`, `Active`, `Revoke`.
    pub state: String,
}

/// An ingress firewall rule on a public IP.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FirewallRule {
    /// UUID.
    pub id: String,
    /// Public IP UUID.
    pub ipaddressid: String,
    /// `tcp`, `udp`, `icmp`, `all`.
    pub protocol: String,
    /// Start port.
    #[serde(default)]
    pub startport: Option<u16>,
    /// End port.
    #[serde(default)]
    pub endport: Option<u16>,
    /// Source CIDRs.
    pub cidrlist: Vec<String>,
    /// ICMP type.
    #[serde(default)]
    pub icmptype: Option<i64>,
    /// ICMP code.
    #[serde(default)]
    pub icmpcode: Option<i64>,
    /// `Add`, `Active`, `Revoke`.
    pub state: String,
}

/// An egress firewall rule on a network.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EgressRule {
    /// UUID.
    pub id: String,
    /// Network UUID.
    pub networkid: String,
    /// `tcp`, `udp`, `icmp`, `all`.
    pub protocol: String,
    /// Start port.
    #[serde(default)]
    pub startport: Option<u16>,
    /// End port.
    #[serde(default)]
    pub endport: Option<u16>,
    /// Source CIDRs.
    pub cidrlist: Vec<String>,
    /// Destination CIDRs.
    #[serde(default)]
    pub destcidrlist: Vec<String>,
    /// ICMP type.
    #[serde(default)]
    pub icmptype: Option<i64>,
    /// ICMP code.
    #[serde(default)]
    pub icmpcode: Option<i64>,
    /// `Add`, `Active`, `Revoke`.
    pub state: String,
}

/// An SSH key pair (only the public half is kept).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SshKeyPair {
    /// UUID.
    pub id: String,
    /// Name (the key clients use).
    pub name: String,
    /// MD5 fingerprint, colon separated hex, as CloudStack shows it.
    pub fingerprint: String,
    /// OpenSSH public key line.
    pub publickey: String,
    /// The owning project (`projectid` at creation); `None`: the account's own.
    #[serde(default)]
    pub projectid: Option<String>,
}

/// A resource tag.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tag {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
    /// `UserVm`, `Template`, `Network`, `PublicIpAddress`, ...
    pub resourcetype: String,
    /// Resource UUID.
    pub resourceid: String,
}

/// What finishing an async job does (kept in the state so a restart can finish it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobAction {
    /// Move a VM to a state and answer with it.
    VmState {
        /// VM UUID.
        vm: String,
        /// Final state.
        state: String,
    },
    /// Answer with a VM as it is (changes were applied when the command was accepted).
    VmResult {
        /// VM UUID.
        vm: String,
    },
    /// Destroy (optionally expunge) a VM, answering with the VM object.
    VmDestroy {
        /// VM UUID.
        vm: String,
        /// Remove it entirely.
        expunge: bool,
    },
    /// Remove an expunging VM; answers `success`.
    VmExpunge {
        /// VM UUID.
        vm: String,
    },
    /// Make a template ready and answer with it.
    TemplateReady {
        /// Template UUID.
        template: String,
    },
    /// Remove a template; answers `success`.
    TemplateDelete {
        /// Template UUID.
        template: String,
    },
    /// Mark an object of a kind as active/allocated and answer with it.
    Activate {
        /// `ipaddress`, `portforwardingrule`, `firewallrule`, `egressfirewallrule`.
        object: String,
        /// UUID.
        id: String,
    },
    /// Remove an object of a kind; answers `success`.
    Remove {
        /// `ipaddress`, `portforwardingrule`, `firewallrule`, `egressfirewallrule`, `network`.
        object: String,
        /// UUID.
        id: String,
    },
    /// Nothing left to do; answers `success` (tags).
    Success,
    /// The job fails with this error (CloudStack's checks that run inside the job, e.g.
    /// `addNicToVirtualMachine` on a network the VM is already in).
    Fail {
        /// `errorcode` of the failed job.
        errorcode: u16,
        /// `errortext`.
        errortext: String,
    },
    /// Answers with one secondary IP (`addIpToNic`).
    SecondaryIp {
        /// UUID of the secondary IP.
        id: String,
    },
    /// Finish a VPC-family command (see `handlers::vpc::finish`): activate
    /// the object and answer with it, or remove it.
    Vpc {
        /// `vpc`, `networkacllist`, `networkacl`, ...
        object: String,
        /// UUID.
        id: String,
        /// Remove instead of activate.
        remove: bool,
    },
}

/// An async job.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AsyncJob {
    /// Job UUID.
    pub jobid: String,
    /// Java command class CloudStack reports (`org.apache.cloudstack.api.command.user.vm.DeployVMCmd`).
    pub cmd: String,
    /// 0 pending, 1 success, 2 failure.
    pub jobstatus: i64,
    /// 0 or the error code.
    pub jobresultcode: i64,
    /// Result object once finished.
    #[serde(default)]
    pub jobresult: Option<serde_json::Value>,
    /// `VirtualMachine`, `Template`, `IpAddress`, ...
    #[serde(default)]
    pub jobinstancetype: Option<String>,
    /// Object UUID.
    #[serde(default)]
    pub jobinstanceid: Option<String>,
    /// Creation time.
    pub created: String,
    /// Completion time.
    #[serde(default)]
    pub completed: Option<String>,
    /// What completing does; `None` once done.
    #[serde(default)]
    pub action: Option<JobAction>,
}

/// The whole simulated cloud.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct World {
    /// Zones.
    pub zones: Vec<Zone>,
    /// Affinity groups.
    pub affinity_groups: Vec<crate::placement::AffinityGroup>,
    /// Hypervisor hosts (placement only).
    pub hosts: Vec<crate::placement::Host>,
    /// Registered user data.
    pub user_data: Vec<UserData>,
    /// Security groups with their rules.
    pub security_groups: Vec<SecurityGroup>,
    /// Projects.
    pub projects: Vec<Project>,
    /// OS types.
    pub os_types: Vec<OsType>,
    /// Service offerings.
    pub service_offerings: Vec<ServiceOffering>,
    /// Disk offerings.
    pub disk_offerings: Vec<DiskOffering>,
    /// Network offerings.
    pub network_offerings: Vec<NetworkOffering>,
    /// Templates and ISOs.
    pub templates: Vec<Template>,
    /// Volumes.
    pub volumes: Vec<Volume>,
    /// Networks.
    pub networks: Vec<Network>,
    /// VMs.
    pub virtual_machines: Vec<VirtualMachine>,
    /// Public IPs.
    pub public_ips: Vec<PublicIp>,
    /// Port forwarding rules.
    pub port_forwarding_rules: Vec<PortForwardingRule>,
    /// Ingress firewall rules.
    pub firewall_rules: Vec<FirewallRule>,
    /// Egress firewall rules.
    pub egress_rules: Vec<EgressRule>,
    /// SSH key pairs.
    pub ssh_keypairs: Vec<SshKeyPair>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Async jobs.
    pub jobs: Vec<AsyncJob>,
    /// VPCs, ACL lists and their rules.
    pub vpc: VpcWorld,
    /// Ids of removed objects: CloudStack keeps removed rows, so an id that once existed
    /// filters a list to nothing, while an id that never existed is a 431.
    pub retired_ids: Vec<String>,
    /// The owning project of networks and public IPs created in one (object id →
    /// project id); their rules belong to it too. Absent: the account's own.
    pub project_of: BTreeMap<String, String>,
    /// Next VM number.
    pub next_vm_number: u64,
    /// Next public IP offset inside the range.
    pub next_ip_offset: u32,
}

impl World {
    /// Loads a world from a JSON file (state or seed).
    pub fn load(path: &Path) -> Result<World, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        serde_json::from_str(&text)
            .map_err(|e| Error::json(format!("parsing {}", path.display()), e))
    }

    /// Writes the world atomically: a temporary file next to `path`, then a rename,
    /// so a crash never leaves a half-written state.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let text = serde_json::to_vec_pretty(self).map_err(|e| Error::json("encoding state", e))?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        std::fs::write(&tmp, text)
            .map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
        std::fs::rename(&tmp, path)
            .map_err(|e| Error::io(format!("renaming onto {}", path.display()), e))
    }

    /// Checks references between objects, so a bad seed fails at start, not mid-test.
    pub fn validate(&self) -> Result<(), Error> {
        let zone = |id: &str, what: &str| {
            if self.zones.iter().any(|z| z.id == id) {
                Ok(())
            } else {
                Err(Error::Config(format!("{what} refers to unknown zone {id}")))
            }
        };
        for t in &self.templates {
            zone(&t.zoneid, &format!("template {}", t.name))?;
            if !self.os_types.iter().any(|o| o.id == t.ostypeid) {
                return Err(Error::Config(format!(
                    "template {} refers to unknown os type {}",
                    t.name, t.ostypeid
                )));
            }
        }
        for n in &self.networks {
            zone(&n.zoneid, &format!("network {}", n.name))?;
            if !self
                .network_offerings
                .iter()
                .any(|o| o.id == n.networkofferingid)
            {
                return Err(Error::Config(format!(
                    "network {} refers to unknown network offering {}",
                    n.name, n.networkofferingid
                )));
            }
        }
        Ok(())
    }

    /// VM by id.
    pub fn vm(&self, id: &str) -> Option<&VirtualMachine> {
        self.virtual_machines.iter().find(|v| v.id == id)
    }
    /// VM by id, mutable.
    pub fn vm_mut(&mut self, id: &str) -> Option<&mut VirtualMachine> {
        self.virtual_machines.iter_mut().find(|v| v.id == id)
    }
    /// Template by id (not removed).
    pub fn template(&self, id: &str) -> Option<&Template> {
        self.templates.iter().find(|t| t.id == id && !t.removed)
    }
    /// Network by id.
    pub fn network(&self, id: &str) -> Option<&Network> {
        self.networks.iter().find(|n| n.id == id)
    }
    /// The project owning network or public IP `id` (`None`: the account's own).
    pub fn owner(&self, id: &str) -> Option<&str> {
        self.project_of.get(id).map(String::as_str)
    }
    /// Public IP by id.
    pub fn public_ip(&self, id: &str) -> Option<&PublicIp> {
        self.public_ips.iter().find(|n| n.id == id)
    }
    /// Zone by id.
    pub fn zone(&self, id: &str) -> Option<&Zone> {
        self.zones.iter().find(|z| z.id == id)
    }
    /// Whether an id names (or named) any object; used to reject unknown ids like
    /// CloudStack's UUID translation does.
    pub fn knows_id(&self, id: &str) -> bool {
        self.affinity_groups.iter().any(|x| x.id == id)
            || self.hosts.iter().any(|x| x.id == id)
            || self.user_data.iter().any(|x| x.id == id)
            || self.projects.iter().any(|x| x.id == id)
            || self
                .security_groups
                .iter()
                .any(|g| g.id == id || g.ingress.iter().chain(&g.egress).any(|r| r.ruleid == id))
            || self.zones.iter().any(|x| x.id == id)
            || self.os_types.iter().any(|x| x.id == id)
            || self.service_offerings.iter().any(|x| x.id == id)
            || self.disk_offerings.iter().any(|x| x.id == id)
            || self.network_offerings.iter().any(|x| x.id == id)
            || self.templates.iter().any(|x| x.id == id)
            || self.volumes.iter().any(|x| x.id == id)
            || self.networks.iter().any(|x| x.id == id)
            || self.virtual_machines.iter().any(|x| {
                x.id == id
                    || x.nic
                        .iter()
                        .any(|n| n.id == id || n.secondaryip.iter().any(|s| s.id == id))
            })
            || self.public_ips.iter().any(|x| x.id == id)
            || self.port_forwarding_rules.iter().any(|x| x.id == id)
            || self.firewall_rules.iter().any(|x| x.id == id)
            || self.egress_rules.iter().any(|x| x.id == id)
            || self.ssh_keypairs.iter().any(|x| x.id == id)
            || self.vpc.knows_id(id)
            || self.retired_ids.iter().any(|x| x == id)
    }

    /// Remembers that an object existed (see [`World::knows_id`]).
    pub fn retire(&mut self, id: &str) {
        self.retired_ids.push(id.to_string());
    }

    /// Tags of one resource.
    pub fn tags_of(&self, resourceid: &str) -> Vec<&Tag> {
        self.tags
            .iter()
            .filter(|t| t.resourceid == resourceid)
            .collect()
    }
}

/// Current time in CloudStack's format (`2024-05-01T12:00:00+0000`).
pub fn timestamp() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%z").to_string()
}

/// A fresh v4 UUID string.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub use crate::handlers::{Project, SecurityGroup, SecurityGroupRule, UserData};
