//! Data volumes: createVolume, attachVolume, detachVolume, resizeVolume, updateVolume (async)
//! and deleteVolume (sync), with VolumeApiServiceImpl's state rules and texts: an attached
//! volume cannot be deleted or attached again, only data disks detach, shrinking needs
//! `shrinkok`, a volume with delete protection (4.20+) cannot be deleted.
//! (listVolumes is with the VMs, in `virtual_machine.rs`.)

use super::{require_id, Ctx};
use crate::error::ApiError;
use crate::params::Params;
use crate::state::{new_id, timestamp, JobAction, VirtualMachine, Volume};
use serde_json::Value;

const CREATE_CMD: &str = "org.apache.cloudstack.api.command.user.volume.CreateVolumeCmd";
const ATTACH_CMD: &str = "org.apache.cloudstack.api.command.user.volume.AttachVolumeCmd";
const DETACH_CMD: &str = "org.apache.cloudstack.api.command.user.volume.DetachVolumeCmd";
const RESIZE_CMD: &str = "org.apache.cloudstack.api.command.user.volume.ResizeVolumeCmd";
const UPDATE_CMD: &str = "org.apache.cloudstack.api.command.user.volume.UpdateVolumeCmd";
const GIB: i64 = 1 << 30;
/// `custom.diskoffering.size.min` / `.max` defaults (GB).
const CUSTOM_MIN_GB: i64 = 1;
const CUSTOM_MAX_GB: i64 = 1024;
/// Device 3 is the CD-ROM's.
const CDROM_DEVICE: i64 = 3;

fn volume_param(ctx: &Ctx<'_>, p: &Params) -> Result<Volume, ApiError> {
    require_id(p, "id", &ctx.world.volumes, |v| &v.id).cloned()
}

/// The size in bytes a disk offering gives, with `size` (GB) for a custom one.
fn offering_size(ctx: &Ctx<'_>, p: &Params, offering_id: &str) -> Result<i64, ApiError> {
    let Some(o) = ctx
        .world
        .disk_offerings
        .iter()
        .find(|o| o.id == offering_id)
    else {
        return Err(ApiError::param("Please specify a valid disk offering."));
    };
    let size = p.int("size")?;
    if let Some(s) = size {
        if s <= 0 {
            return Err(ApiError::param("Disk size must be larger than 0"));
        }
    }
    match (o.iscustomized, size) {
        (true, None) => Err(ApiError::param(
            "This disk offering requires a custom size specified",
        )),
        (true, Some(s)) if !(CUSTOM_MIN_GB..=CUSTOM_MAX_GB).contains(&s) => {
            Err(ApiError::param(format!(
                "Volume size: {s}GB is out of allowed range. Max: {CUSTOM_MAX_GB} Min:{CUSTOM_MIN_GB}"
            )))
        }
        (true, Some(s)) => Ok(s * GIB),
        (false, Some(_)) => Err(ApiError::param(
            "This disk offering does not allow custom size",
        )),
        (false, None) => Ok(o.disksize * GIB),
    }
}

/// createVolume (async create): name, diskofferingid (+ size for a custom offering), zoneid,
/// projectid; with `virtualmachineid` the new volume is attached too. It starts `Allocated`.
pub fn create(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    if p.opt("diskofferingid").is_none() {
        return Err(ApiError::param(
            "Either disk Offering Id or snapshot Id must be passed whilst creating volume",
        ));
    }
    let offering = require_id(p, "diskofferingid", &ctx.world.disk_offerings, |d| &d.id)?
        .id
        .clone();
    let zone = require_id(p, "zoneid", &ctx.world.zones, |z| &z.id)?
        .id
        .clone();
    let size = offering_size(ctx, p, &offering)?;
    let vm = match p.opt("virtualmachineid") {
        Some(_) => Some(
            require_id(p, "virtualmachineid", &ctx.world.virtual_machines, |v| {
                &v.id
            })?
            .clone(),
        ),
        None => None,
    };
    let id = new_id();
    let name = p
        .opt("name")
        .map(str::to_string)
        .unwrap_or_else(|| format!("DATA-{}", &id[..8]));
    let volume = Volume {
        id: id.clone(),
        name,
        kind: "DATADISK".into(),
        virtualmachineid: None,
        zoneid: zone,
        size,
        diskofferingid: Some(offering),
        templateid: None,
        deviceid: 0,
        created: timestamp(),
        state: "Allocated".into(),
        attached: None,
        projectid: p.opt("projectid").map(str::to_string),
        deleteprotection: false,
    };
    if let Some(vm) = &vm {
        check_attachable(&volume, vm)?;
    }
    ctx.world.volumes.push(volume);
    if let Some(vm) = vm {
        let device = next_device(ctx, &vm.id, None)?;
        attach_now(ctx, &id, &vm.id, device);
    }
    Ok(ctx.async_answer(
        CREATE_CMD,
        "Volume",
        &id,
        JobAction::Activate {
            object: "volume".into(),
            id: id.clone(),
        },
    ))
}

/// attachVolume's checks (ROOT volumes may be attached too, once detached).
fn check_attachable(vol: &Volume, vm: &VirtualMachine) -> Result<(), ApiError> {
    if vol.virtualmachineid.is_some() {
        return Err(ApiError::param(
            "Please specify a volume that is not attached to any VM.",
        ));
    }
    if vm.state != "Running" && vm.state != "Stopped" {
        return Err(ApiError::param(
            "Please specify a VM that is either running or stopped.",
        ));
    }
    if vm.zoneid != vol.zoneid {
        return Err(ApiError::param(
            "Please specify a VM that is in the same zone as the volume.",
        ));
    }
    Ok(())
}

/// The device id for a new data disk: `wanted` if free, else the lowest free one (never 0,
/// the root disk's, nor 3, the CD-ROM's).
fn next_device(ctx: &Ctx<'_>, vm: &str, wanted: Option<i64>) -> Result<i64, ApiError> {
    let used: Vec<i64> = ctx
        .world
        .volumes
        .iter()
        .filter(|v| v.virtualmachineid.as_deref() == Some(vm))
        .map(|v| v.deviceid)
        .collect();
    match wanted {
        Some(d) if d <= 0 => Err(ApiError::param(
            "deviceId can't be 0, which is used by Root device",
        )),
        // a CloudRuntimeException in VolumeApiServiceImpl.getDeviceId
        Some(d) if used.contains(&d) => Err(ApiError::with_code(
            530,
            format!("deviceId {d} is used by vm {vm}"),
        )),
        Some(d) => Ok(d),
        None => Ok((1..)
            .find(|d| *d != CDROM_DEVICE && !used.contains(d))
            .unwrap_or(1)),
    }
}

fn attach_now(ctx: &mut Ctx<'_>, vol: &str, vm: &str, device: i64) {
    if let Some(v) = ctx.world.volumes.iter_mut().find(|v| v.id == vol) {
        v.virtualmachineid = Some(vm.to_string());
        v.deviceid = device;
        v.state = "Ready".into();
        v.attached = Some(timestamp());
    }
    ctx.changed = true;
}

/// attachVolume (async): id, virtualmachineid, deviceid.
pub fn attach(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let vol = volume_param(ctx, p)?;
    let vm = require_id(p, "virtualmachineid", &ctx.world.virtual_machines, |v| {
        &v.id
    })?
    .clone();
    check_attachable(&vol, &vm)?;
    let device = next_device(ctx, &vm.id, p.int("deviceid")?)?;
    attach_now(ctx, &vol.id, &vm.id, device);
    Ok(ctx.async_answer(
        ATTACH_CMD,
        "Volume",
        &vol.id,
        JobAction::Activate {
            object: "volume".into(),
            id: vol.id.clone(),
        },
    ))
}

/// detachVolume (async): id (or virtualmachineid + deviceid).
pub fn detach(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let vol = match p.opt("id") {
        Some(_) => volume_param(ctx, p)?,
        None => {
            let vm = require_id(p, "virtualmachineid", &ctx.world.virtual_machines, |v| {
                &v.id
            })?
            .id
            .clone();
            let device = p.req_int("deviceid")?;
            ctx.world
                .volumes
                .iter()
                .find(|v| {
                    v.virtualmachineid.as_deref() == Some(vm.as_str()) && v.deviceid == device
                })
                .cloned()
                .ok_or_else(|| {
                    ApiError::param(format!(
                        "Unable to find volume with ID: deviceid {device} of vm {vm}"
                    ))
                })?
        }
    };
    let Some(vmid) = vol.virtualmachineid.clone() else {
        return Err(ApiError::param(
            "The specified volume is not attached to a VM.",
        ));
    };
    if vol.kind != "DATADISK" {
        return Err(ApiError::param("Please specify a data volume."));
    }
    let state = ctx
        .world
        .vm(&vmid)
        .map(|v| v.state.clone())
        .unwrap_or_default();
    if !matches!(state.as_str(), "Running" | "Stopped" | "Destroyed") {
        return Err(ApiError::param(
            "Please specify a VM that is either running or stopped.",
        ));
    }
    if let Some(v) = ctx.world.volumes.iter_mut().find(|v| v.id == vol.id) {
        v.virtualmachineid = None;
        v.attached = None;
        v.deviceid = 0;
    }
    ctx.changed = true;
    Ok(ctx.async_answer(
        DETACH_CMD,
        "Volume",
        &vol.id,
        JobAction::Activate {
            object: "volume".into(),
            id: vol.id.clone(),
        },
    ))
}

/// resizeVolume (async): id, size (GB) and/or diskofferingid, shrinkok.
pub fn resize(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let vol = volume_param(ctx, p)?;
    if vol.state != "Ready" && vol.state != "Allocated" {
        return Err(ApiError::param(format!(
            "Volume should be in ready or allocated state before attempting a resize. Volume {} is in state {}.",
            vol.id, vol.state
        )));
    }
    let new_offering = match p.opt("diskofferingid") {
        Some(_) => Some(
            require_id(p, "diskofferingid", &ctx.world.disk_offerings, |d| &d.id)?
                .id
                .clone(),
        ),
        None => None,
    };
    let current_custom = vol
        .diskofferingid
        .as_deref()
        .and_then(|d| ctx.world.disk_offerings.iter().find(|o| o.id == d))
        .is_some_and(|o| o.iscustomized);
    let offering = match &new_offering {
        Some(o) if Some(o) != vol.diskofferingid.as_ref() => o.clone(),
        _ if current_custom || vol.kind == "ROOT" => vol.diskofferingid.clone().unwrap_or_default(),
        _ => {
            return Err(ApiError::param(
                "To change a volume's size without providing a new disk offering, its current disk offering must be customizable or it must be a root volume (if providing a disk offering, make sure it is different from the current disk offering).",
            ))
        }
    };
    let new_size = if vol.kind == "ROOT" && offering.is_empty() {
        p.req_int("size")? * GIB
    } else {
        offering_size(ctx, p, &offering)?
    };
    if new_size < vol.size && !p.flag("shrinkok", false)? {
        return Err(ApiError::param(format!(
            "Going from existing size of {} to size of {} would shrink the volume.Need to sign off by supplying the shrinkok parameter with value of true.",
            vol.size, new_size
        )));
    }
    if let Some(v) = ctx.world.volumes.iter_mut().find(|v| v.id == vol.id) {
        v.size = new_size;
        if !offering.is_empty() {
            v.diskofferingid = Some(offering);
        }
    }
    ctx.changed = true;
    Ok(ctx.async_answer(
        RESIZE_CMD,
        "Volume",
        &vol.id,
        JobAction::Activate {
            object: "volume".into(),
            id: vol.id.clone(),
        },
    ))
}

/// updateVolume (async, `BaseAsyncCustomIdCmd`): id, and what a user may change, `name`
/// (4.16+) and `deleteprotection` (4.20+); the admin-only `displayvolume` too. Answers the
/// volume as its job result.
pub fn update(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let vol = volume_param(ctx, p)?;
    let name = p.opt("name").map(str::to_string);
    let protect = p.bool("deleteprotection")?;
    p.bool("displayvolume")?;
    if let Some(v) = ctx.world.volumes.iter_mut().find(|v| v.id == vol.id) {
        if let Some(n) = name.filter(|n| !n.is_empty()) {
            v.name = n;
        }
        if let Some(on) = protect {
            v.deleteprotection = on;
        }
    }
    ctx.changed = true;
    Ok(ctx.async_answer(
        UPDATE_CMD,
        "Volume",
        &vol.id,
        JobAction::Activate {
            object: "volume".into(),
            id: vol.id.clone(),
        },
    ))
}

/// deleteVolume (sync): only a volume attached to no VM and without delete protection.
pub fn delete(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let vol = volume_param(ctx, p)?;
    if vol.deleteprotection {
        return Err(ApiError::param(format!(
            "Volume [id = {}, name = {}] has delete protection enabled and cannot be deleted",
            vol.id, vol.name
        )));
    }
    if vol.virtualmachineid.is_some() {
        return Err(ApiError::param(
            "Please specify a volume that is not attached to any VM.",
        ));
    }
    ctx.world.volumes.retain(|v| v.id != vol.id);
    ctx.world.tags.retain(|t| t.resourceid != vol.id);
    ctx.world.retire(&vol.id);
    ctx.changed = true;
    Ok(super::success())
}
