//! Hosts and affinity groups: where a starting VM runs.
//!
//! CloudStack's deployment planner puts a VM on a host of its zone; the `host anti-affinity`
//! processor excludes hosts that already run a member of the VM's groups, `host affinity`
//! keeps members on the host the first running member uses. When no host is left the start
//! fails with `InsufficientServerCapacityException`, which DeployVMCmd reports as 533 with the
//! text below, and the VM goes to the `Error` state. A world without hosts in a zone (an old
//! seed or state file) places nothing and checks nothing there.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::state::{VirtualMachine, World};

/// `ApiErrorCode.INSUFFICIENT_CAPACITY_ERROR`.
pub const INSUFFICIENT_CAPACITY_ERROR: u16 = 533;

/// The affinity group types this simulator's processors offer (`listAffinityGroupTypes`).
pub const AFFINITY_TYPES: [&str; 2] = ["host anti-affinity", "host affinity"];

/// A hypervisor host (only what placement needs).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Host {
    /// UUID.
    pub id: String,
    /// Name (`kvm01`).
    pub name: String,
    /// Zone UUID.
    pub zoneid: String,
}

/// An affinity group.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AffinityGroup {
    /// UUID.
    pub id: String,
    /// Name (unique per account).
    pub name: String,
    /// Description (CloudStack stores none when not given).
    #[serde(default)]
    pub description: Option<String>,
    /// `host anti-affinity` or `host affinity`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Owning project, if any.
    #[serde(default)]
    pub projectid: Option<String>,
}

/// VM states in which a VM occupies its host.
fn on_host(vm: &VirtualMachine) -> bool {
    matches!(vm.state.as_str(), "Starting" | "Running" | "Stopping")
}

/// Chooses a host for `vm_id` (which must exist) honouring its affinity groups: the least
/// loaded allowed host of its zone. `Ok(None)` when the zone has no hosts.
pub fn choose_host(w: &World, vm_id: &str) -> Result<Option<String>, ApiError> {
    let Some(vm) = w.vm(vm_id) else {
        return Ok(None);
    };
    let hosts: Vec<&Host> = w.hosts.iter().filter(|h| h.zoneid == vm.zoneid).collect();
    if hosts.is_empty() {
        return Ok(None);
    }
    // hosts of the other running members of `group`
    let used_by = |group: &str| -> Vec<String> {
        w.virtual_machines
            .iter()
            .filter(|o| o.id != vm.id && on_host(o))
            .filter(|o| o.affinitygroupids.iter().any(|g| g == group))
            .filter_map(|o| o.hostid.clone())
            .collect()
    };
    let mut allowed: Vec<&Host> = hosts.clone();
    for gid in &vm.affinitygroupids {
        let Some(group) = w.affinity_groups.iter().find(|g| &g.id == gid) else {
            continue;
        };
        let used = used_by(&group.id);
        match group.kind.as_str() {
            "host anti-affinity" => allowed.retain(|h| !used.contains(&h.id)),
            "host affinity" if !used.is_empty() => allowed.retain(|h| used.contains(&h.id)),
            _ => {}
        }
    }
    let load = |h: &Host| {
        w.virtual_machines
            .iter()
            .filter(|o| on_host(o) && o.hostid.as_deref() == Some(h.id.as_str()))
            .count()
    };
    match allowed.into_iter().min_by_key(|h| load(h)) {
        Some(h) => Ok(Some(h.id.clone())),
        None => {
            let mut text = format!(
                "Unable to create a deployment for VM[User|i-2-{}-VM]Scope=interface com.cloud.dc.DataCenter; id=1",
                vm.number
            );
            if !vm.affinitygroupids.is_empty() {
                text.push_str(", Please check the affinity groups provided, there may not be sufficient capacity to follow them");
            }
            Err(ApiError::with_code(INSUFFICIENT_CAPACITY_ERROR, text))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_PUBLIC_IP_RANGE;
    use crate::seed::default_world;

    fn vm(w: &World, id: &str, groups: &[&str]) -> VirtualMachine {
        let mut v = VirtualMachine {
            id: id.into(),
            name: id.into(),
            displayname: id.into(),
            state: "Starting".into(),
            zoneid: w.zones[0].id.clone(),
            templateid: String::new(),
            serviceofferingid: String::new(),
            diskofferingid: None,
            keypair: None,
            password: None,
            userdata: None,
            hypervisor: "KVM".into(),
            group: None,
            nic: vec![],
            created: String::new(),
            guestosid: String::new(),
            number: 7,
            isoid: None,
            affinitygroupids: vec![],
            hostid: None,
            userdataid: None,
            projectid: None,
            securitygroupids: vec![],
            uefi_bootmode: None,
            deleteprotection: false,
        };
        v.affinitygroupids = groups.iter().map(|g| g.to_string()).collect();
        v
    }

    #[test]
    fn anti_affinity_spreads_until_hosts_run_out() {
        let mut w = default_world(DEFAULT_PUBLIC_IP_RANGE);
        let zone = w.zones[0].id.clone();
        let hosts = w.hosts.iter().filter(|h| h.zoneid == zone).count();
        assert!(hosts >= 3);
        w.affinity_groups.push(AffinityGroup {
            id: "g".into(),
            name: "g".into(),
            description: None,
            kind: "host anti-affinity".into(),
            projectid: None,
        });
        let mut used = Vec::new();
        for i in 0..hosts {
            let id = format!("vm{i}");
            w.virtual_machines.push(vm(&w, &id, &["g"]));
            let h = choose_host(&w, &id).unwrap().unwrap();
            assert!(!used.contains(&h));
            used.push(h.clone());
            w.vm_mut(&id).unwrap().hostid = Some(h);
        }
        w.virtual_machines.push(vm(&w, "extra", &["g"]));
        let e = choose_host(&w, "extra").unwrap_err();
        assert_eq!(e.errorcode, 533);
        assert!(e.errortext.contains("affinity groups"), "{}", e.errortext);
        // a member that stops frees its host
        w.vm_mut("vm0").unwrap().state = "Stopped".into();
        assert!(choose_host(&w, "extra").unwrap().is_some());
    }

    #[test]
    fn affinity_keeps_members_together() {
        let mut w = default_world(DEFAULT_PUBLIC_IP_RANGE);
        w.affinity_groups.push(AffinityGroup {
            id: "g".into(),
            name: "g".into(),
            description: None,
            kind: "host affinity".into(),
            projectid: None,
        });
        w.virtual_machines.push(vm(&w, "a", &["g"]));
        let h = choose_host(&w, "a").unwrap().unwrap();
        w.vm_mut("a").unwrap().hostid = Some(h.clone());
        w.virtual_machines.push(vm(&w, "b", &["g"]));
        assert_eq!(choose_host(&w, "b").unwrap(), Some(h));
    }
}
