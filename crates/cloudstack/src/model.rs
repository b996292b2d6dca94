//! Typed CloudStack objects. Field names are exactly CloudStack 4.x's JSON names (lower-case,
//! e.g. `ipaddress`, `virtualmachineid`, `ostypeid`). Decoding is lenient because CloudStack's
//! types drifted between versions (e.g. `ostypeid` was a number before 4.12, a UUID string
//! after): strings accept numbers, numbers and booleans accept strings, everything but `id` is
//! optional and unknown fields are ignored.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Lenient field decoders used by the models.
pub(crate) mod lenient {
    use super::*;

    fn to_string(v: Value) -> Option<String> {
        match v {
            Value::Null => None,
            Value::String(s) => Some(s),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            other => Some(other.to_string()),
        }
    }

    /// A required string that may arrive as a number.
    pub(crate) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        to_string(Value::deserialize(d)?).ok_or_else(|| serde::de::Error::custom("null id"))
    }

    /// An optional string that may arrive as a number or boolean.
    pub(crate) fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(to_string(Value::deserialize(d)?))
    }

    /// An optional integer that may arrive as a string (unparsable → `None`).
    pub(crate) fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
    }

    /// An optional boolean that may arrive as `"true"`/`"false"`.
    pub(crate) fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Bool(b) => Some(b),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            Value::Number(n) => n.as_i64().map(|i| i != 0),
            _ => None,
        })
    }
}

/// Declares a model: `id` plus optional string / integer / boolean fields and extra typed ones.
macro_rules! model {
    (
        $(#[$meta:meta])*
        $name:ident {
            strings: [$($s:ident),* $(,)?],
            ints: [$($i:ident),* $(,)?],
            bools: [$($b:ident),* $(,)?]
            $(, extra: { $($(#[$em:meta])* $e:ident : $et:ty),* $(,)? })?
        }
    ) => {
        $(#[$meta])*
        ///
        /// Every field is CloudStack's JSON field of the same name.
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[allow(missing_docs)]
        pub struct $name {
            #[serde(deserialize_with = "lenient::string")]
            pub id: String,
            $(
                #[serde(default, deserialize_with = "lenient::opt_string", skip_serializing_if = "Option::is_none")]
                pub $s: Option<String>,
            )*
            $(
                #[serde(default, deserialize_with = "lenient::opt_i64", skip_serializing_if = "Option::is_none")]
                pub $i: Option<i64>,
            )*
            $(
                #[serde(default, deserialize_with = "lenient::opt_bool", skip_serializing_if = "Option::is_none")]
                pub $b: Option<bool>,
            )*
            $($(
                $(#[$em])*
                #[serde(default)]
                pub $e: $et,
            )*)?
        }
    };
}

model! {
    /// A zone (`listZones` → `zone`).
    Zone {
        strings: [name, description, networktype, allocationstate, dns1, internaldns1, domain],
        ints: [],
        bools: [localstorageenabled, securitygroupsenabled]
    }
}

model! {
    /// A compute offering (`listServiceOfferings` → `serviceoffering`).
    ServiceOffering {
        strings: [name, displaytext, storagetype, created],
        ints: [cpunumber, cpuspeed, memory],
        bools: [iscustomized, offerha, limitcpuuse]
    }
}

model! {
    /// A disk offering (`listDiskOfferings` → `diskoffering`).
    DiskOffering {
        strings: [name, displaytext, storagetype, created],
        ints: [disksize],
        bools: [iscustomized]
    }
}

model! {
    /// A template (`listTemplates` → `template`); `isready`/`status` tell when it is usable.
    Template {
        strings: [name, displaytext, status, zoneid, zonename, ostypeid, ostypename, format,
                  hypervisor, templatetype, account, domainid, created, checksum, sourcetemplateid],
        ints: [size, physicalsize],
        bools: [isready, ispublic, isfeatured, passwordenabled, isextractable, bootable],
        extra: {
            /// Resource tags.
            tags: Vec<Tag>
        }
    }
}

model! {
    /// A guest network (`listNetworks` → `network`).
    Network {
        strings: [name, displaytext, zoneid, zonename, networkofferingid, networkofferingname,
                  state, cidr, gateway, netmask, r#type, traffictype, vpcid, aclid, account,
                  domainid, broadcasturi, networkdomain, project, projectid],
        ints: [],
        bools: [isdefault, issystem, restartrequired, specifyipranges],
        extra: {
            /// Resource tags.
            tags: Vec<Tag>
        }
    }
}

model! {
    /// A network offering (`listNetworkOfferings` → `networkoffering`).
    NetworkOffering {
        strings: [name, displaytext, guestiptype, state, traffictype, availability],
        ints: [networkrate],
        bools: [isdefault, specifyvlan, specifyipranges, forvpc, egressdefaultpolicy, conservemode]
    }
}

model! {
    /// A VM's network interface.
    Nic {
        strings: [networkid, networkname, ipaddress, ip6address, gateway, netmask, macaddress,
                  r#type, traffictype, broadcasturi, isolationuri, virtualmachineid],
        ints: [deviceid],
        bools: [isdefault],
        extra: {
            /// Secondary IPs (`addIpToNic`).
            secondaryip: Vec<NicSecondaryIp>
        }
    }
}

model! {
    /// A secondary IP of a NIC (`addIpToNic` → `nicsecondaryip`; a NIC's `secondaryip`).
    NicSecondaryIp {
        strings: [ipaddress, nicid, networkid, virtualmachineid],
        ints: [],
        bools: []
    }
}

model! {
    /// A virtual machine (`listVirtualMachines` → `virtualmachine`; `deployVirtualMachine`'s
    /// job result). `password` is set when the template is password-enabled.
    VirtualMachine {
        strings: [name, displayname, state, zoneid, zonename, templateid, templatename,
                  serviceofferingid, serviceofferingname, diskofferingid, password, keypair,
                  jobid, hostname, hostid, hypervisor, account, domainid, created, ostypeid,
                  publicip, publicipid, group, userdata, guestosid, rootdevicetype,
                  userdataid, userdataname, project, projectid, boottype, bootmode],
        ints: [cpunumber, cpuspeed, memory, jobstatus, rootdeviceid],
        bools: [passwordenabled, haenable, isdynamicallyscalable, forvirtualnetwork,
                deleteprotection],
        extra: {
            /// Network interfaces.
            nic: Vec<Nic>,
            /// Resource tags.
            tags: Vec<Tag>,
            /// Affinity groups the VM belongs to.
            affinitygroup: Vec<AffinityGroup>,
            /// Security groups the VM is in (SG-enabled zones).
            securitygroup: Vec<crate::security_group::SecurityGroup>
        }
    }
}

model! {
    /// An affinity group (`listAffinityGroups` → `affinitygroup`); `type` is e.g.
    /// `host anti-affinity`.
    AffinityGroup {
        strings: [name, description, r#type, account, domainid, project, projectid],
        ints: [],
        bools: []
    }
}

impl VirtualMachine {
    /// Destroyed (waiting for expunge) or being expunged: no longer the VM anyone means.
    pub fn is_gone(&self) -> bool {
        matches!(
            self.state.as_deref(),
            Some("Destroyed" | "Expunging" | "Expunged")
        )
    }

    /// The default NIC, else the first (an older or odd answer may mark none).
    pub fn default_nic(&self) -> Option<&Nic> {
        self.nic
            .iter()
            .find(|n| n.isdefault == Some(true))
            .or(self.nic.first())
    }

    /// The IP address of the default NIC (else the first NIC with one).
    pub fn ip_address(&self) -> Option<&str> {
        self.nic
            .iter()
            .find(|n| n.isdefault == Some(true) && n.ipaddress.is_some())
            .or_else(|| self.nic.iter().find(|n| n.ipaddress.is_some()))
            .and_then(|n| n.ipaddress.as_deref())
    }
}

model! {
    /// A volume (`listVolumes` → `volume`); `type` is `ROOT` or `DATADISK`.
    Volume {
        strings: [name, r#type, state, zoneid, zonename, virtualmachineid, vmname, vmstate,
                  diskofferingid, diskofferingname, storagetype, created, path, templateid,
                  attached, project, projectid],
        ints: [size, deviceid],
        bools: [isextractable, deleteprotection],
        extra: {
            /// Resource tags.
            tags: Vec<Tag>
        }
    }
}

model! {
    /// A public IP address (`listPublicIpAddresses` → `publicipaddress`).
    PublicIpAddress {
        strings: [ipaddress, zoneid, zonename, state, associatednetworkid, associatednetworkname,
                  networkid, virtualmachineid, virtualmachinename, vpcid, account, domainid,
                  allocated, vlanid, vmipaddress, project, projectid],
        ints: [],
        bools: [issourcenat, isstaticnat, isportable, forvirtualnetwork],
        extra: {
            /// Resource tags.
            tags: Vec<Tag>
        }
    }
}

model! {
    /// A port-forwarding rule (`listPortForwardingRules` → `portforwardingrule`).
    PortForwardingRule {
        strings: [ipaddressid, ipaddress, protocol, privateport, privateendport, publicport,
                  publicendport, virtualmachineid, virtualmachinename, virtualmachinedisplayname,
                  state, cidrlist, networkid, vmguestip],
        ints: [],
        bools: [fordisplay]
    }
}

model! {
    /// An ingress firewall rule on a public IP (`listFirewallRules` → `firewallrule`).
    FirewallRule {
        strings: [ipaddressid, ipaddress, protocol, state, cidrlist, networkid],
        ints: [startport, endport, icmptype, icmpcode],
        bools: [fordisplay]
    }
}

model! {
    /// An egress firewall rule on a network (`listEgressFirewallRules` → `firewallrule`).
    EgressFirewallRule {
        strings: [networkid, protocol, state, cidrlist, destcidrlist, traffictype],
        ints: [startport, endport, icmptype, icmpcode],
        bools: [fordisplay]
    }
}

model! {
    /// An OS type (`listOsTypes` → `ostype`); matched by `description`.
    OsType {
        strings: [description, oscategoryid, name],
        ints: [],
        bools: [isuserdefined]
    }
}

/// A resource tag (`key`, `value`), as embedded in objects and listed by `listTags`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct Tag {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub key: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub value: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub resourcetype: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub resourceid: Option<String>,
}

/// An SSH key pair (`listSSHKeyPairs` → `sshkeypair`; `createSSHKeyPair` → `keypair`).
/// Key pairs are identified by `name` (older servers send no `id`); `privatekey` is only ever
/// returned by `createSSHKeyPair`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct SshKeyPair {
    #[serde(deserialize_with = "lenient::string")]
    pub name: String,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub fingerprint: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub privatekey: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub account: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub domainid: Option<String>,
}

/// An async job (`queryAsyncJobResult`): `jobstatus` 0 pending, 1 succeeded, 2 failed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct AsyncJob {
    #[serde(deserialize_with = "lenient::string")]
    pub jobid: String,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub jobstatus: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub jobresultcode: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub jobresulttype: Option<String>,
    #[serde(default)]
    pub jobresult: Option<Value>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub jobinstancetype: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub jobinstanceid: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub cmd: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub created: Option<String>,
}

mod vpc;
pub use vpc::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_vm_decoding() {
        let vm: VirtualMachine = serde_json::from_str(
            r#"{"id":"v1","name":"vm","state":"Running","ostypeid":142,"cpunumber":"2",
                "passwordenabled":"true","password":"pw","unknownfield":{"x":1},
                "nic":[{"id":"n0","ipaddress":"10.1.1.5","isdefault":false},
                       {"id":"n1","ipaddress":"10.1.1.9","isdefault":true,"networkid":"net"}]}"#,
        )
        .unwrap();
        assert_eq!(vm.ostypeid.as_deref(), Some("142"));
        assert_eq!(vm.cpunumber, Some(2));
        assert_eq!(vm.passwordenabled, Some(true));
        assert_eq!(vm.ip_address(), Some("10.1.1.9"));
        assert_eq!(vm.nic[1].networkid.as_deref(), Some("net"));
        assert!(serde_json::from_str::<VirtualMachine>(r#"{"name":"no id"}"#).is_err());
    }

    #[test]
    fn ostypeid_string_or_number_and_template_flags() {
        let t: Template = serde_json::from_str(
            r#"{"id":"t","name":"Ubuntu 14.04","isready":true,"status":"Download Complete","ostypeid":"a-b","size":2147483648}"#,
        )
        .unwrap();
        assert_eq!(t.isready, Some(true));
        assert_eq!(t.size, Some(2_147_483_648));
        let k: SshKeyPair =
            serde_json::from_str(r#"{"name":"k","fingerprint":"aa:bb","privatekey":"-----BEGIN"}"#)
                .unwrap();
        assert_eq!(k.id, None);
        assert_eq!(k.privatekey.as_deref(), Some("-----BEGIN"));
    }
}
