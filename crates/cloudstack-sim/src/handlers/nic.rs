//! NICs and their secondary IPs: `listNics`, `addNicToVirtualMachine`,
//! `removeNicFromVirtualMachine`, `addIpToNic`, `removeIpFromNic`, with the checks of
//! CloudStack's `UserVmManagerImpl` and `NetworkServiceImpl` (one NIC per network and VM,
//! the network in the VM's zone, never the default NIC removed, an address used once per
//! network). As in CloudStack, ids are checked when the command is accepted (431) and the
//! rest inside the job, which then fails with the exception's code.

use super::{require_id, Ctx};
use crate::cidr::Ipv4Cidr;
use crate::error::ApiError;
use crate::params::Params;
use crate::render;
use crate::state::{new_id, JobAction, Nic, SecondaryIp, World};
use serde_json::{json, Value};
use std::net::Ipv4Addr;

const ADD_NIC_CMD: &str = "org.apache.cloudstack.api.command.user.vm.AddNicToVMCmd";
const REMOVE_NIC_CMD: &str = "org.apache.cloudstack.api.command.user.vm.RemoveNicFromVMCmd";
const ADD_IP_CMD: &str = "org.apache.cloudstack.api.command.user.vm.AddIpToVmNicCmd";
const REMOVE_IP_CMD: &str = "org.apache.cloudstack.api.command.user.vm.RemoveIpFromVmNicCmd";

/// Every address in use in network `nid`: NIC addresses and their secondary IPs.
fn in_use(w: &World, nid: &str) -> Vec<String> {
    w.virtual_machines
        .iter()
        .flat_map(|v| v.nic.iter())
        .filter(|n| n.networkid == nid)
        .flat_map(|n| {
            std::iter::once(n.ipaddress.clone())
                .chain(n.secondaryip.iter().map(|s| s.ipaddress.clone()))
        })
        .collect()
}

/// Hands out an address of network `nid`: `requested` if it is inside the network and free,
/// else the next free host address. Errors are CloudStack's (431 outside the CIDR, 533 in
/// use or exhausted).
pub(super) fn allocate_ip(
    w: &mut World,
    nid: &str,
    requested: Option<Ipv4Addr>,
) -> Result<Ipv4Addr, ApiError> {
    let used = in_use(w, nid);
    let Some(net) = w.networks.iter_mut().find(|n| n.id == nid) else {
        return Err(ApiError::param(format!(
            "unable to find a network with id {nid}"
        )));
    };
    let cidr: Ipv4Cidr = net
        .cidr
        .parse()
        .map_err(|e: String| ApiError::with_code(530, e))?;
    let ip = match requested {
        Some(ip) => {
            if !cidr.contains(ip) {
                return Err(ApiError::param(format!(
                    "Invalid ip address {ip} for network {}: it is outside {}",
                    net.name, net.cidr
                )));
            }
            if used.iter().any(|u| u == &ip.to_string()) {
                return Err(ApiError::with_code(
                    533,
                    format!(
                        "The requested ip address {ip} is already in use in network {}",
                        net.name
                    ),
                ));
            }
            ip
        }
        None => loop {
            if net.next_host >= cidr.host_count() {
                return Err(ApiError::with_code(
                    533,
                    format!("Insufficient address capacity in network {}", net.name),
                ));
            }
            let candidate = cidr.host(net.next_host);
            net.next_host += 1;
            if !used.iter().any(|u| u == &candidate.to_string()) {
                break candidate;
            }
        },
    };
    if net.state == "Allocated" {
        net.state = "Implemented".into();
    }
    Ok(ip)
}

/// The optional `ipaddress` parameter as an IPv4 address.
fn ip_param(p: &Params) -> Result<Option<Ipv4Addr>, ApiError> {
    match p.opt("ipaddress") {
        Some(ip) => ip
            .parse()
            .map(Some)
            .map_err(|_| ApiError::param(format!("Invalid format for IP address parameter: {ip}"))),
        None => Ok(None),
    }
}

/// A job that fails with `e` (a check CloudStack makes inside the job).
fn failed_job(ctx: &mut Ctx<'_>, cmd: &str, vm: &str, e: ApiError) -> Value {
    let action = JobAction::Fail {
        errorcode: e.errorcode,
        errortext: e.errortext,
    };
    ctx.async_answer(cmd, "VirtualMachine", vm, action)
}

/// The VM and index of the NIC `nic_id`.
fn find_nic(w: &World, nic_id: &str) -> Option<(String, usize)> {
    w.virtual_machines.iter().find_map(|v| {
        v.nic
            .iter()
            .position(|n| n.id == nic_id)
            .map(|i| (v.id.clone(), i))
    })
}

/// listNics: `virtualmachineid` (required), `nicid`, `networkid`.
pub fn list(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let vm = require_id(p, "virtualmachineid", &ctx.world.virtual_machines, |v| {
        &v.id
    })?;
    let nicid = super::check_id_filter_in(ctx.world, p, "nicid")?;
    let networkid = super::check_id_filter_in(ctx.world, p, "networkid")?;
    let w = &*ctx.world;
    let items = vm
        .nic
        .iter()
        .filter(|n| nicid.as_deref().is_none_or(|i| i == n.id))
        .filter(|n| networkid.as_deref().is_none_or(|i| i == n.networkid))
        .map(|n| {
            let mut v = render::nic(w, n);
            if let Some(m) = v.as_object_mut() {
                m.insert("virtualmachineid".into(), json!(vm.id));
                m.insert(
                    "deviceid".into(),
                    json!(vm.nic.iter().position(|x| x.id == n.id)),
                );
            }
            v
        })
        .collect();
    super::list_answer(p, "nic", items)
}

/// addNicToVirtualMachine: a NIC on another network of the VM's zone; the job answers with
/// the VM.
pub fn add(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let vm = require_id(p, "virtualmachineid", &ctx.world.virtual_machines, |v| {
        &v.id
    })?
    .clone();
    let net = require_id(p, "networkid", &ctx.world.networks, |n| &n.id)?.clone();
    let requested = ip_param(p)?;
    let checked = (|| {
        if net.zoneid != vm.zoneid {
            return Err(ApiError::with_code(
                530,
                format!(
                    "VM[User|{}] is in zone:{} but Ntwk[{}] is in zone:{}",
                    vm.name, vm.zoneid, net.id, net.zoneid
                ),
            ));
        }
        if vm.nic.iter().any(|n| n.networkid == net.id) {
            return Err(ApiError::with_code(
                530,
                format!(
                    "A NIC already exists for VM:i-2-{}-VM in network: {}",
                    vm.number, net.id
                ),
            ));
        }
        Ok(())
    })();
    if let Err(e) = checked {
        return Ok(failed_job(ctx, ADD_NIC_CMD, &vm.id, e));
    }
    let ip = match allocate_ip(ctx.world, &net.id, requested) {
        Ok(ip) => ip,
        Err(e) => {
            let e = ApiError::with_code(
                530,
                format!(
                    "Insufficient capacity when adding NIC to VM[User|{}]: {}",
                    vm.name, e.errortext
                ),
            );
            return Ok(failed_job(ctx, ADD_NIC_CMD, &vm.id, e));
        }
    };
    let index = vm.nic.len();
    let nic = Nic {
        id: new_id(),
        networkid: net.id.clone(),
        ipaddress: ip.to_string(),
        gateway: net.gateway.clone(),
        netmask: net.netmask.clone(),
        macaddress: super::virtual_machine::mac_address(vm.number, index),
        isdefault: false,
        secondaryip: Vec::new(),
    };
    if let Some(v) = ctx.world.vm_mut(&vm.id) {
        v.nic.push(nic);
    }
    ctx.changed = true;
    Ok(ctx.async_answer(
        ADD_NIC_CMD,
        "VirtualMachine",
        &vm.id,
        JobAction::VmResult { vm: vm.id.clone() },
    ))
}

/// removeNicFromVirtualMachine: never the default NIC, nor one that rules point at.
pub fn remove(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let vm = require_id(p, "virtualmachineid", &ctx.world.virtual_machines, |v| {
        &v.id
    })?
    .clone();
    let nic_id = p.req("nicid")?.to_string();
    let Some((owner, idx)) = find_nic(ctx.world, &nic_id).filter(|_| super::looks_like_id(&nic_id))
    else {
        return Err(p.invalid_id("nicid", &nic_id));
    };
    let w = &*ctx.world;
    let checked = match w.vm(&owner).and_then(|v| v.nic.get(idx)) {
        _ if owner != vm.id => Err(ApiError::param(format!(
            "Nic[{nic_id}] is not a nic on VM[User|{}]",
            vm.name
        ))),
        Some(n) if n.isdefault => Err(ApiError::param(format!(
            "Unable to remove nic from VM[User|{}] in Ntwk[{}], nic is default.",
            vm.name, n.networkid
        ))),
        Some(n)
            if w.port_forwarding_rules
                .iter()
                .any(|r| r.virtualmachineid == vm.id && r.networkid == n.networkid)
                || w.vpc
                    .static_nat
                    .values()
                    .any(|s| s.virtualmachineid == vm.id && s.vmguestip == n.ipaddress) =>
        {
            Err(ApiError::param(format!(
                "Unable to remove nic from VM[User|{}] in Ntwk[{}], nic has associated Port forwarding or Load balancer or Static NAT rules.",
                vm.name, n.networkid
            )))
        }
        _ => Ok(()),
    };
    if let Err(e) = checked {
        return Ok(failed_job(ctx, REMOVE_NIC_CMD, &vm.id, e));
    }
    if let Some(v) = ctx.world.vm_mut(&vm.id) {
        v.nic.retain(|n| n.id != nic_id);
    }
    ctx.world.retire(&nic_id);
    ctx.changed = true;
    Ok(ctx.async_answer(
        REMOVE_NIC_CMD,
        "VirtualMachine",
        &vm.id,
        JobAction::VmResult { vm: vm.id.clone() },
    ))
}

/// addIpToNic: a secondary address of the NIC's network (given or the next free one).
pub fn add_ip(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let nic_id = p.req("nicid")?.to_string();
    let Some((vm_id, idx)) = find_nic(ctx.world, &nic_id).filter(|_| super::looks_like_id(&nic_id))
    else {
        return Err(p.invalid_id("nicid", &nic_id));
    };
    let requested = ip_param(p)?;
    let network = ctx
        .world
        .vm(&vm_id)
        .and_then(|v| v.nic.get(idx))
        .map(|n| n.networkid.clone())
        .unwrap_or_default();
    let ip = match allocate_ip(ctx.world, &network, requested) {
        Ok(ip) => ip,
        Err(e) => {
            let e = ApiError::param(format!(
                "Allocating guest ip for nic failed : {}",
                e.errortext
            ));
            return Ok(failed_job(ctx, ADD_IP_CMD, &vm_id, e));
        }
    };
    let id = new_id();
    if let Some(n) = ctx.world.vm_mut(&vm_id).and_then(|v| v.nic.get_mut(idx)) {
        n.secondaryip.push(SecondaryIp {
            id: id.clone(),
            ipaddress: ip.to_string(),
        });
    }
    ctx.changed = true;
    let jobid = ctx.job(
        ADD_IP_CMD,
        Some("IpAddress"),
        Some(&id),
        JobAction::SecondaryIp { id: id.clone() },
    );
    Ok(json!({"jobid": jobid, "id": id}))
}

/// removeIpFromNic: `id` of the secondary IP.
pub fn remove_ip(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let id = p.req("id")?.to_string();
    let found = ctx
        .world
        .virtual_machines
        .iter()
        .flat_map(|v| v.nic.iter())
        .any(|n| n.secondaryip.iter().any(|s| s.id == id));
    if !super::looks_like_id(&id) || !found {
        return Err(p.invalid_id("id", &id));
    }
    for n in ctx
        .world
        .virtual_machines
        .iter_mut()
        .flat_map(|v| v.nic.iter_mut())
    {
        n.secondaryip.retain(|s| s.id != id);
    }
    ctx.world.retire(&id);
    let jobid = ctx.job(REMOVE_IP_CMD, Some("IpAddress"), None, JobAction::Success);
    Ok(json!({"jobid": jobid}))
}

/// The job answer of addIpToNic (`NicSecondaryIpResponse`).
pub fn secondary_ip_answer(w: &World, id: &str) -> Result<Value, ApiError> {
    for vm in &w.virtual_machines {
        for n in &vm.nic {
            if let Some(s) = n.secondaryip.iter().find(|s| s.id == id) {
                return Ok(json!({"nicsecondaryip": {
                    "id": s.id, "ipaddress": s.ipaddress, "nicid": n.id,
                    "networkid": n.networkid, "virtualmachineid": vm.id,
                }}));
            }
        }
    }
    Err(ApiError::with_code(
        530,
        format!("secondary IP {id} no longer exists"),
    ))
}
