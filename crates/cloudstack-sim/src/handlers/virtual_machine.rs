//! VMs and their volumes: deploy, lifecycle (Starting → Running → Stopping → Stopped →
//! Destroyed → Expunging → gone), updates, and listings.

use super::{
    check_id_filter_in, keyword_matches, list_answer, name_matches, optional_id, require_id, Ctx,
};
use crate::error::ApiError;
use crate::params::Params;
use crate::render;
use crate::state::{new_id, timestamp, JobAction, Nic, VirtualMachine, Volume};
use base64::Engine as _;
use rand::Rng;
use serde_json::{json, Value};
use std::net::Ipv4Addr;

const DEPLOY_CMD: &str = "org.apache.cloudstack.api.command.user.vm.DeployVMCmd";
const START_CMD: &str = "org.apache.cloudstack.api.command.user.vm.StartVMCmd";
const STOP_CMD: &str = "org.apache.cloudstack.api.command.user.vm.StopVMCmd";
const REBOOT_CMD: &str = "org.apache.cloudstack.api.command.user.vm.RebootVMCmd";
const DESTROY_CMD: &str = "org.apache.cloudstack.api.command.user.vm.DestroyVMCmd";
const EXPUNGE_CMD: &str = "org.apache.cloudstack.api.command.admin.vm.ExpungeVMCmd";
const ATTACH_ISO_CMD: &str = "org.apache.cloudstack.api.command.user.iso.AttachIsoCmd";
const DETACH_ISO_CMD: &str = "org.apache.cloudstack.api.command.user.iso.DetachIsoCmd";
const RESET_KEY_CMD: &str = "org.apache.cloudstack.api.command.user.vm.ResetVMSSHKeyCmd";
const GIB: i64 = 1 << 30;

/// The VM named by a required id parameter, cloned (the world is mutated afterwards).
fn vm_param(ctx: &Ctx<'_>, p: &Params, name: &str) -> Result<VirtualMachine, ApiError> {
    require_id(p, name, &ctx.world.virtual_machines, |v| &v.id).cloned()
}

fn valid_hostname(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphabetic()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && !name.ends_with('-')
}

fn random_password() -> String {
    // CloudStack generates short passwords from letters and digits (no look-alikes).
    const CHARS: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..8)
        .map(|_| char::from(CHARS[rng.gen_range(0..CHARS.len())]))
        .collect()
}

pub(super) fn mac_address(number: u64, nic: usize) -> String {
    let n = number.wrapping_mul(4).wrapping_add(nic as u64);
    format!(
        "02:00:{:02x}:{:02x}:{:02x}:{:02x}",
        (n >> 24) & 0xff,
        (n >> 16) & 0xff,
        (n >> 8) & 0xff,
        n & 0xff
    )
}

/// The security groups of a new VM (`securitygroupids` or `securitygroupnames`, never both,
/// as DeployVMCmd): in a zone with security groups the account's `default` group when none
/// is named; elsewhere none may be named (UserVmManagerImpl's check).
fn security_groups_param(
    ctx: &Ctx<'_>,
    p: &Params,
    zone_has_groups: bool,
) -> Result<Vec<String>, ApiError> {
    let (ids, names) = (p.list("securitygroupids"), p.list("securitygroupnames"));
    if !ids.is_empty() && !names.is_empty() {
        return Err(ApiError::param(
            "securitygroupids parameter is mutually exclusive with securitygroupnames parameter",
        ));
    }
    let groups = &ctx.world.security_groups;
    let mut out = Vec::new();
    for id in &ids {
        match groups.iter().find(|g| &g.id == id) {
            Some(g) if super::looks_like_id(id) => out.push(g.id.clone()),
            _ => return Err(p.invalid_id("securitygroupids", id)),
        }
    }
    for name in &names {
        match groups.iter().find(|g| &g.name == name) {
            Some(g) => out.push(g.id.clone()),
            None => {
                return Err(ApiError::param(format!(
                    "Unable to find group by name {name}"
                )))
            }
        }
    }
    if !zone_has_groups {
        if !out.is_empty() {
            return Err(ApiError::param(
                "Can't create vm with security groups; security group feature is not enabled per zone",
            ));
        }
        return Ok(out);
    }
    if out.is_empty() {
        if let Some(g) = groups
            .iter()
            .find(|g| g.name == super::security_group::DEFAULT_GROUP && g.projectid.is_none())
        {
            out.push(g.id.clone());
        }
    }
    Ok(out)
}

/// deployVirtualMachine: validates everything synchronously (431s), creates the VM in
/// `Starting` with its ROOT volume and NICs, and a job that makes it `Running`.
pub fn deploy(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let zone = require_id(p, "zoneid", &ctx.world.zones, |z| &z.id)?.clone();
    let so = require_id(p, "serviceofferingid", &ctx.world.service_offerings, |s| {
        &s.id
    })?
    .clone();
    let template = require_id(p, "templateid", &ctx.world.templates, |t| &t.id)?.clone();
    if template.removed {
        return Err(p.invalid_id("templateid", &template.id));
    }
    if !template.isready {
        return Err(ApiError::param(format!(
            "Template {} has not been completely downloaded to zone {}",
            template.id, zone.id
        )));
    }
    let disk_offering =
        optional_id(p, "diskofferingid", &ctx.world.disk_offerings, |d| &d.id)?.cloned();
    let is_iso = template.format == "ISO";
    if is_iso && disk_offering.is_none() {
        return Err(ApiError::param(
            "Installing from ISO requires a disk offering to be specified for the root disk.",
        ));
    }
    let hypervisor = match p.opt("hypervisor") {
        Some(h) => h.to_string(),
        None if is_iso => {
            return Err(ApiError::param(
                "Hypervisor parameter is needed to deploy VM or the hypervisor parameter value passed is invalid",
            ))
        }
        None => template.hypervisor.clone(),
    };
    let keypair = match p.opt("keypair") {
        Some(k) => {
            // looked up in the VM's owner: a VM of a project needs the project's key pair
            let owner = p.opt("projectid");
            if !ctx
                .world
                .ssh_keypairs
                .iter()
                .any(|kp| kp.name == k && kp.projectid.as_deref() == owner)
            {
                return Err(ApiError::param(format!(
                    "A key pair with name '{k}' was not found."
                )));
            }
            Some(k.to_string())
        }
        None => None,
    };
    let affinitygroupids = super::affinity_group::groups_param(ctx, p)?;
    let userdata = p
        .opt("userdata")
        .map(super::user_data::validate)
        .transpose()?;
    let userdataid =
        super::optional_id(p, "userdataid", &ctx.world.user_data, |u| &u.id)?.map(|u| u.id.clone());
    let projectid =
        super::optional_id(p, "projectid", &ctx.world.projects, |x| &x.id)?.map(|x| x.id.clone());
    let securitygroupids = security_groups_param(ctx, p, zone.securitygroupsenabled)?;
    let uefi_bootmode = boot_param(p)?;
    // Networks: explicit ids, else the zone's first network (advanced zones need one).
    let mut network_ids = p.list("networkids");
    for id in &network_ids {
        if !super::looks_like_id(id) || ctx.world.network(id).is_none() {
            return Err(p.invalid_id("networkids", id));
        }
    }
    if network_ids.is_empty() {
        match ctx.world.networks.iter().find(|n| n.zoneid == zone.id) {
            Some(n) => network_ids.push(n.id.clone()),
            None => {
                return Err(ApiError::param(format!(
                "Unable to find a default network to deploy the vm in zone {}; specify networkids",
                zone.name
            )))
            }
        }
    }
    let id = new_id();
    let name = match p.opt("name") {
        Some(n) => {
            if !valid_hostname(n) {
                return Err(ApiError::param(format!(
                    "Invalid value for instance name ({n}): host names must start with a letter, contain only letters, digits and hyphens, and be at most 63 characters"
                )));
            }
            n.to_string()
        }
        None => format!("VM-{id}"),
    };
    if ctx
        .world
        .virtual_machines
        .iter()
        .any(|v| v.name.eq_ignore_ascii_case(&name) && v.state != "Expunging")
    {
        return Err(ApiError::param(format!(
            "The vm with hostName {name} already exists in the network domain: cs1cloud.internal; network=default"
        )));
    }
    let rootdisksize = p.int("rootdisksize")?;
    let requested_ip: Option<Ipv4Addr> = match p.opt("ipaddress") {
        Some(ip) => Some(ip.parse().map_err(|_| {
            ApiError::param(format!("Invalid format for IPv4 address parameter {ip}"))
        })?),
        None => None,
    };

    // Allocate NICs.
    let mut nics = Vec::new();
    for (i, nid) in network_ids.iter().enumerate() {
        let requested = if i == 0 { requested_ip } else { None };
        let ip = super::nic::allocate_ip(ctx.world, nid, requested)?;
        let Some(net) = ctx.world.network(nid) else {
            return Err(p.invalid_id("networkids", nid));
        };
        nics.push(Nic {
            id: new_id(),
            networkid: nid.clone(),
            ipaddress: ip.to_string(),
            gateway: net.gateway.clone(),
            netmask: net.netmask.clone(),
            macaddress: String::new(),
            isdefault: i == 0,
            secondaryip: Vec::new(),
        });
    }
    ctx.world.next_vm_number += 1;
    let number = ctx.world.next_vm_number;
    for (i, n) in nics.iter_mut().enumerate() {
        n.macaddress = mac_address(number, i);
    }
    let now = timestamp();
    let root_size = rootdisksize
        .filter(|s| *s > 0)
        .map(|s| s * GIB)
        .unwrap_or(if is_iso {
            disk_offering
                .as_ref()
                .map(|d| d.disksize * GIB)
                .unwrap_or(GIB)
        } else {
            template.size
        });
    ctx.world.volumes.push(Volume {
        id: new_id(),
        name: format!("ROOT-{number}"),
        kind: "ROOT".into(),
        virtualmachineid: Some(id.clone()),
        zoneid: zone.id.clone(),
        size: root_size,
        diskofferingid: if is_iso {
            disk_offering.as_ref().map(|d| d.id.clone())
        } else {
            None
        },
        templateid: Some(template.id.clone()),
        deviceid: 0,
        created: now.clone(),
        state: "Ready".into(),
        attached: Some(now.clone()),
        projectid: projectid.clone(),
        deleteprotection: false,
    });
    if let (false, Some(d)) = (is_iso, &disk_offering) {
        ctx.world.volumes.push(Volume {
            id: new_id(),
            name: format!("DATA-{number}"),
            kind: "DATADISK".into(),
            virtualmachineid: Some(id.clone()),
            zoneid: zone.id.clone(),
            size: d.disksize.max(1) * GIB,
            diskofferingid: Some(d.id.clone()),
            templateid: None,
            deviceid: 1,
            created: now.clone(),
            state: "Ready".into(),
            attached: Some(now.clone()),
            projectid: projectid.clone(),
            deleteprotection: false,
        });
    }
    let start = p.flag("startvm", true)?;
    ctx.world.virtual_machines.push(VirtualMachine {
        id: id.clone(),
        name: name.clone(),
        displayname: p.opt("displayname").unwrap_or(&name).to_string(),
        state: if start { "Starting" } else { "Stopped" }.into(),
        zoneid: zone.id.clone(),
        templateid: template.id.clone(),
        serviceofferingid: so.id.clone(),
        diskofferingid: disk_offering.map(|d| d.id),
        keypair,
        password: template.passwordenabled.then(|| {
            ctx.options
                .vm_password
                .clone()
                .unwrap_or_else(random_password)
        }),
        userdata,
        hypervisor,
        group: p.opt("group").map(str::to_string),
        nic: nics,
        created: now,
        guestosid: template.ostypeid.clone(),
        number,
        isoid: is_iso.then(|| template.id.clone()),
        affinitygroupids,
        hostid: None,
        userdataid,
        projectid,
        securitygroupids,
        uefi_bootmode,
        deleteprotection: false,
    });
    let state = if start { "Running" } else { "Stopped" };
    Ok(ctx.async_answer(
        DEPLOY_CMD,
        "VirtualMachine",
        &id,
        JobAction::VmState {
            vm: id.clone(),
            state: state.into(),
        },
    ))
}

/// `boottype` (BIOS/UEFI) and `bootmode` (LEGACY/SECURE): the UEFI mode, `None` for BIOS.
fn boot_param(p: &Params) -> Result<Option<String>, ApiError> {
    let Some(kind) = p.opt("boottype") else {
        return Ok(None);
    };
    let mode = p.opt("bootmode").unwrap_or("LEGACY").to_ascii_uppercase();
    if !matches!(mode.as_str(), "LEGACY" | "SECURE") {
        return Err(ApiError::param(format!(
            "Invalid bootmode: {mode} specified for VM: bootmode must be one of LEGACY, SECURE"
        )));
    }
    match kind.to_ascii_uppercase().as_str() {
        "BIOS" => Ok(None),
        "UEFI" => Ok(Some(mode)),
        other => Err(ApiError::param(format!(
            "Invalid boottype: {other} specified for VM: boottype must be one of BIOS, UEFI"
        ))),
    }
}

fn gone(vm: &VirtualMachine) -> bool {
    vm.state == "Destroyed" || vm.state == "Expunging"
}

/// startVirtualMachine: Stopped → Starting → Running.
pub fn start(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let vm = vm_param(ctx, p, "id")?;
    if gone(&vm) {
        return Err(ApiError::param(format!(
            "Unable to start VM {} as it is in {} state",
            vm.name, vm.state
        )));
    }
    if vm.state == "Stopped" {
        if let Some(v) = ctx.world.vm_mut(&vm.id) {
            v.state = "Starting".into();
        }
    }
    Ok(ctx.async_answer(
        START_CMD,
        "VirtualMachine",
        &vm.id,
        JobAction::VmState {
            vm: vm.id.clone(),
            state: "Running".into(),
        },
    ))
}

/// stopVirtualMachine: Running → Stopping → Stopped.
pub fn stop(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let vm = vm_param(ctx, p, "id")?;
    if gone(&vm) {
        return Err(ApiError::param(format!(
            "Unable to stop VM {} as it is in {} state",
            vm.name, vm.state
        )));
    }
    if vm.state == "Running" || vm.state == "Starting" {
        if let Some(v) = ctx.world.vm_mut(&vm.id) {
            v.state = "Stopping".into();
        }
    }
    Ok(ctx.async_answer(
        STOP_CMD,
        "VirtualMachine",
        &vm.id,
        JobAction::VmState {
            vm: vm.id.clone(),
            state: "Stopped".into(),
        },
    ))
}

/// rebootVirtualMachine: only a Running VM.
pub fn reboot(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let vm = vm_param(ctx, p, "id")?;
    if vm.state != "Running" {
        return Err(ApiError::param(format!(
            "Unable to reboot VM {}: it is not in Running state (state: {})",
            vm.name, vm.state
        )));
    }
    Ok(ctx.async_answer(
        REBOOT_CMD,
        "VirtualMachine",
        &vm.id,
        JobAction::VmState {
            vm: vm.id.clone(),
            state: "Running".into(),
        },
    ))
}

/// destroyVirtualMachine (expunge): the job's result carries the VM object.
pub fn destroy(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let vm = vm_param(ctx, p, "id")?;
    let expunge = p.flag("expunge", false)?;
    if vm.state == "Expunging" {
        return Err(p.invalid_id("id", &vm.id));
    }
    if vm.state == "Destroyed" && !expunge {
        return Err(ApiError::param(format!(
            "Vm with id {} is already destroyed",
            vm.id
        )));
    }
    if vm.deleteprotection {
        return Err(ApiError::param(format!(
            "Instance [id = {}, name = {}] has delete protection enabled and cannot be deleted.",
            vm.id, vm.name
        )));
    }
    Ok(ctx.async_answer(
        DESTROY_CMD,
        "VirtualMachine",
        &vm.id,
        JobAction::VmDestroy {
            vm: vm.id.clone(),
            expunge,
        },
    ))
}

/// expungeVirtualMachine: only a Destroyed VM.
pub fn expunge(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let vm = vm_param(ctx, p, "id")?;
    if vm.state != "Destroyed" {
        return Err(ApiError::param(format!(
            "Please destroy vm with specified vmId before expunge (state: {})",
            vm.state
        )));
    }
    if let Some(v) = ctx.world.vm_mut(&vm.id) {
        v.state = "Expunging".into();
    }
    Ok(ctx.async_answer(
        EXPUNGE_CMD,
        "VirtualMachine",
        &vm.id,
        JobAction::VmExpunge { vm: vm.id.clone() },
    ))
}

/// recoverVirtualMachine: Destroyed → Stopped (sync).
pub fn recover(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let vm = vm_param(ctx, p, "id")?;
    if vm.state != "Destroyed" {
        return Err(ApiError::param(format!(
            "vm {} is not in the Destroyed state",
            vm.id
        )));
    }
    let w = &mut *ctx.world;
    if let Some(v) = w.vm_mut(&vm.id) {
        v.state = "Stopped".into();
    }
    ctx.changed = true;
    vm_answer(ctx, &vm.id)
}

fn vm_answer(ctx: &Ctx<'_>, id: &str) -> Result<Value, ApiError> {
    let vm = ctx
        .world
        .vm(id)
        .ok_or_else(|| ApiError::with_code(530, "virtual machine vanished"))?;
    Ok(json!({"virtualmachine": render::virtual_machine(ctx.world, vm, false)}))
}

/// updateVirtualMachine (displayname, name, group, userdata, ostypeid, haenable) — sync.
pub fn update(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let vm = vm_param(ctx, p, "id")?;
    if let Some(os) = p.opt("ostypeid") {
        if !ctx.world.os_types.iter().any(|o| o.id == os) {
            return Err(p.invalid_id("ostypeid", os));
        }
    }
    if let Some(n) = p.opt("name") {
        if !valid_hostname(n) {
            return Err(ApiError::param(format!(
                "Invalid value for instance name ({n})"
            )));
        }
        if n != vm.name && vm.state != "Stopped" {
            return Err(ApiError::param(
                "Unable to update the host name of a VM that is not stopped",
            ));
        }
    }
    if let Some(u) = p.opt("userdata") {
        if base64::engine::general_purpose::STANDARD.decode(u).is_err() {
            return Err(ApiError::param("User data is not base64 encoded."));
        }
    }
    let userdataid =
        super::optional_id(p, "userdataid", &ctx.world.user_data, |u| &u.id)?.map(|u| u.id.clone());
    let protect = p.bool("deleteprotection")?;
    let Some(v) = ctx.world.vm_mut(&vm.id) else {
        return Err(p.invalid_id("id", &vm.id));
    };
    if let Some(d) = p.opt("displayname") {
        v.displayname = d.to_string();
    }
    if let Some(n) = p.opt("name") {
        v.name = n.to_string();
    }
    if let Some(g) = p.opt("group") {
        v.group = Some(g.to_string());
    }
    if let Some(u) = p.opt("userdata") {
        v.userdata = Some(u.to_string());
    }
    if let Some(u) = &userdataid {
        v.userdataid = Some(u.clone());
    }
    if let Some(dp) = protect {
        v.deleteprotection = dp;
    }
    if let Some(os) = p.opt("ostypeid") {
        v.guestosid = os.to_string();
    }
    ctx.changed = true;
    vm_answer(ctx, &vm.id)
}

/// changeServiceForVirtualMachine: only a Stopped VM (sync).
pub fn change_service(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let vm = vm_param(ctx, p, "id")?;
    let so = require_id(p, "serviceofferingid", &ctx.world.service_offerings, |s| {
        &s.id
    })?
    .clone();
    if vm.state != "Stopped" {
        return Err(ApiError::param(format!(
            "Unable to upgrade virtual machine {} since it is in {} state; it must be Stopped",
            vm.id, vm.state
        )));
    }
    if let Some(v) = ctx.world.vm_mut(&vm.id) {
        v.serviceofferingid = so.id;
    }
    ctx.changed = true;
    vm_answer(ctx, &vm.id)
}

/// listVirtualMachines (id, ids, name, state, zoneid, templateid, networkid, keyword, keypair).
pub fn list_virtual_machines(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let id = check_id_filter_in(ctx.world, p, "id")?;
    let ids = p.list("ids");
    let zoneid = check_id_filter_in(ctx.world, p, "zoneid")?;
    let templateid = check_id_filter_in(ctx.world, p, "templateid")?;
    let networkid = check_id_filter_in(ctx.world, p, "networkid")?;
    let w = &*ctx.world;
    let items = w
        .virtual_machines
        .iter()
        .filter(|v| id.as_deref().map(|i| i == v.id).unwrap_or(true))
        .filter(|v| ids.is_empty() || ids.contains(&v.id))
        .filter(|v| name_matches(p, &v.name))
        .filter(|v| {
            p.opt("state")
                .map(|s| s.eq_ignore_ascii_case(&v.state))
                .unwrap_or(true)
        })
        .filter(|v| zoneid.as_deref().map(|z| z == v.zoneid).unwrap_or(true))
        .filter(|v| {
            templateid
                .as_deref()
                .map(|t| t == v.templateid)
                .unwrap_or(true)
        })
        .filter(|v| {
            networkid
                .as_deref()
                .map(|n| v.nic.iter().any(|nic| nic.networkid == n))
                .unwrap_or(true)
        })
        .filter(|v| {
            p.opt("keypair")
                .map(|k| v.keypair.as_deref() == Some(k))
                .unwrap_or(true)
        })
        .filter(|v| keyword_matches(p, &[&v.name, &v.displayname]))
        // a project's VMs only with its projectid (or -1), as CloudStack
        .filter(|v| super::project::visible(p, v.projectid.as_deref()))
        .map(|v| render::virtual_machine(w, v, false))
        .collect();
    list_answer(p, "virtualmachine", items)
}

/// listVolumes (id, virtualmachineid, type, zoneid, name, keyword).
pub fn list_volumes(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let id = check_id_filter_in(ctx.world, p, "id")?;
    let vmid = check_id_filter_in(ctx.world, p, "virtualmachineid")?;
    let zoneid = check_id_filter_in(ctx.world, p, "zoneid")?;
    let w = &*ctx.world;
    let items = w
        .volumes
        .iter()
        .filter(|v| id.as_deref().map(|i| i == v.id).unwrap_or(true))
        .filter(|v| {
            vmid.as_deref()
                .map(|m| v.virtualmachineid.as_deref() == Some(m))
                .unwrap_or(true)
        })
        .filter(|v| {
            p.opt("type")
                .map(|t| t.eq_ignore_ascii_case(&v.kind))
                .unwrap_or(true)
        })
        .filter(|v| zoneid.as_deref().map(|z| z == v.zoneid).unwrap_or(true))
        .filter(|v| super::project::visible(p, v.projectid.as_deref()))
        .filter(|v| name_matches(p, &v.name))
        .filter(|v| keyword_matches(p, &[&v.name]))
        .map(|v| render::volume(w, v))
        .collect();
    list_answer(p, "volume", items)
}

/// attachIso (async): id (the ISO), virtualmachineid.
pub fn attach_iso(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let iso = require_id(p, "id", &ctx.world.templates, |t| &t.id)?.clone();
    if iso.format != "ISO" || iso.removed {
        return Err(p.invalid_id("id", &iso.id));
    }
    let vm = vm_param(ctx, p, "virtualmachineid")?;
    if gone(&vm) {
        return Err(ApiError::param(format!(
            "VM {} is in {} state",
            vm.name, vm.state
        )));
    }
    if vm.isoid.is_some() {
        return Err(ApiError::param(format!(
            "An ISO is already attached to VM {}",
            vm.name
        )));
    }
    if let Some(v) = ctx.world.vm_mut(&vm.id) {
        v.isoid = Some(iso.id.clone());
    }
    Ok(ctx.async_answer(
        ATTACH_ISO_CMD,
        "VirtualMachine",
        &vm.id,
        JobAction::VmResult { vm: vm.id.clone() },
    ))
}

/// detachIso (async): virtualmachineid.
pub fn detach_iso(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let vm = vm_param(ctx, p, "virtualmachineid")?;
    if vm.isoid.is_none() {
        return Err(ApiError::param(format!(
            "Virtual machine {} does not have an ISO attached",
            vm.name
        )));
    }
    if let Some(v) = ctx.world.vm_mut(&vm.id) {
        v.isoid = None;
    }
    Ok(ctx.async_answer(
        DETACH_ISO_CMD,
        "VirtualMachine",
        &vm.id,
        JobAction::VmResult { vm: vm.id.clone() },
    ))
}

/// resetSSHKeyForVirtualMachine (async): id, keypair; the VM must be Stopped.
pub fn reset_ssh_key(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let vm = vm_param(ctx, p, "id")?;
    let key = p.req("keypair")?.to_string();
    if !ctx.world.ssh_keypairs.iter().any(|k| k.name == key) {
        return Err(ApiError::param(format!(
            "A key pair with name '{key}' was not found."
        )));
    }
    if vm.state != "Stopped" {
        return Err(ApiError::param(format!(
            "Vm {} should be stopped to do SSH Key reset",
            vm.id
        )));
    }
    if let Some(v) = ctx.world.vm_mut(&vm.id) {
        v.keypair = Some(key);
    }
    Ok(ctx.async_answer(
        RESET_KEY_CMD,
        "VirtualMachine",
        &vm.id,
        JobAction::VmResult { vm: vm.id.clone() },
    ))
}
