//! Static NAT (enableStaticNat, disableStaticNat): one public IP maps to one VM's guest
//! address. Checks and texts follow CloudStack's `RulesManagerImpl`.

use super::{require_id, Ctx};
use crate::error::ApiError;
use crate::params::Params;
use crate::state::{JobAction, StaticNat};
use serde_json::{json, Value};

const DISABLE_CMD: &str = "org.apache.cloudstack.api.command.user.nat.DisableStaticNatCmd";

/// enableStaticNat (sync): ipaddressid, virtualmachineid; networkid, vmguestip optional.
pub fn enable(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let ip = require_id(p, "ipaddressid", &ctx.world.public_ips, |i| &i.id)?.clone();
    let vm = require_id(p, "virtualmachineid", &ctx.world.virtual_machines, |v| {
        &v.id
    })?
    .clone();
    if ip.issourcenat {
        return Err(ApiError::param(format!(
            "Can't enable static, ip address {} is a sourceNat ip address",
            ip.ipaddress
        )));
    }
    let nic = match p.opt("vmguestip") {
        Some(g) => vm.nic.iter().find(|n| n.ipaddress == g).ok_or_else(|| {
            ApiError::param(format!(
                "Invalid vm ip address {g} specified: VM {} has no such address",
                vm.name
            ))
        })?,
        None => match p.opt("networkid") {
            Some(n) => vm.nic.iter().find(|x| x.networkid == n).ok_or_else(|| {
                ApiError::param(format!("VM {} has no nic in network {n}", vm.name))
            })?,
            None => vm
                .nic
                .iter()
                .find(|n| n.isdefault)
                .or(vm.nic.first())
                .ok_or_else(|| ApiError::param(format!("VM {} has no nic", vm.name)))?,
        },
    }
    .clone();
    let w = &*ctx.world;
    if let Some(other) = w.vpc.static_nat.get(&ip.id) {
        if other.virtualmachineid != vm.id {
            return Err(ApiError::with_code(
                537,
                format!(
                    "Failed to enable static nat for the ip address id={} as it's already assigned to vm id={}",
                    ip.id, other.virtualmachineid
                ),
            ));
        }
    }
    if let Some((old_ip, _)) =
        w.vpc.static_nat.iter().find(|(i, n)| {
            n.virtualmachineid == vm.id && n.vmguestip == nic.ipaddress && **i != ip.id
        })
    {
        return Err(ApiError::with_code(
            537,
            format!(
                "Failed to enable static nat for the ip address id={} as vm id={} is already associated with ip id={old_ip}",
                ip.id, vm.id
            ),
        ));
    }
    if w.port_forwarding_rules
        .iter()
        .any(|r| r.ipaddressid == ip.id)
    {
        return Err(ApiError::with_code(
            537,
            format!(
                "Failed to enable static nat for the ip address id={} as it has port forwarding rules",
                ip.id
            ),
        ));
    }
    ctx.world.vpc.static_nat.insert(
        ip.id.clone(),
        StaticNat {
            virtualmachineid: vm.id,
            vmguestip: nic.ipaddress,
            networkid: nic.networkid,
        },
    );
    ctx.changed = true;
    Ok(super::success())
}

/// disableStaticNat (async): ipaddressid.
pub fn disable(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let ip = require_id(p, "ipaddressid", &ctx.world.public_ips, |i| &i.id)?.clone();
    if ctx.world.vpc.static_nat.remove(&ip.id).is_none() {
        return Err(ApiError::param(format!(
            "Specified IP address id is not associated with any vm Id: {}",
            ip.id
        )));
    }
    ctx.changed = true;
    let jobid = ctx.job(
        DISABLE_CMD,
        Some("IpAddress"),
        Some(&ip.id),
        JobAction::Success,
    );
    Ok(json!({"jobid": jobid}))
}
