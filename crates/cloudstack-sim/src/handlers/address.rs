//! Public IP addresses, allocated from the (loopback) public range.

use super::{check_id_filter_in, list_answer, optional_id, require_id, Ctx};
use crate::error::ApiError;
use crate::params::Params;
use crate::render;
use crate::state::{new_id, timestamp, JobAction, PublicIp};
use serde_json::{json, Value};

const ASSOCIATE_CMD: &str = "org.apache.cloudstack.api.command.user.address.AssociateIPAddrCmd";
const DISASSOCIATE_CMD: &str =
    "org.apache.cloudstack.api.command.user.address.DisassociateIPAddrCmd";

/// Allocates the next free address of the range and records it; returns its id.
pub fn allocate(
    ctx: &mut Ctx<'_>,
    zoneid: &str,
    networkid: Option<&str>,
    vpcid: Option<&str>,
    source_nat: bool,
    state: &str,
) -> Result<String, ApiError> {
    let range = ctx.options.public_ip_range;
    let total = range.host_count();
    for _ in 0..total {
        ctx.world.next_ip_offset = ctx.world.next_ip_offset % total + 1;
        let ip = range.host(ctx.world.next_ip_offset).to_string();
        if ctx.world.public_ips.iter().any(|p| p.ipaddress == ip) {
            continue;
        }
        let id = new_id();
        // an address of a project's network is the project's
        if let Some(project) = networkid.and_then(|n| ctx.world.owner(n)) {
            ctx.world.project_of.insert(id.clone(), project.to_string());
        }
        ctx.world.public_ips.push(PublicIp {
            id: id.clone(),
            ipaddress: ip,
            zoneid: zoneid.to_string(),
            associatednetworkid: networkid.map(str::to_string),
            vpcid: vpcid.map(str::to_string),
            issourcenat: source_nat,
            state: state.to_string(),
            allocated: timestamp(),
        });
        ctx.changed = true;
        return Ok(id);
    }
    Err(ApiError::with_code(
        533,
        format!("Insufficient address capacity: public IP range {range} is exhausted"),
    ))
}

/// associateIpAddress (async): networkid or vpcid (zoneid optional, defaults to the network's).
pub fn associate(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    if let Some(vpc) = optional_id(p, "vpcid", &ctx.world.vpc.vpcs, |v| &v.id)?.cloned() {
        // the project asked for, else the VPC's
        let project = optional_id(p, "projectid", &ctx.world.projects, |x| &x.id)?
            .map(|x| x.id.clone())
            .or_else(|| ctx.world.owner(&vpc.id).map(str::to_string));
        let id = allocate(ctx, &vpc.zoneid, None, Some(&vpc.id), false, "Allocating")?;
        if let Some(project) = project {
            ctx.world.project_of.insert(id.clone(), project);
        }
        let action = JobAction::Activate {
            object: "ipaddress".into(),
            id: id.clone(),
        };
        return Ok(ctx.async_answer(ASSOCIATE_CMD, "IpAddress", &id, action));
    }
    let Some(network) = optional_id(p, "networkid", &ctx.world.networks, |n| &n.id)?.cloned()
    else {
        return Err(ApiError::param(
            "Unable to execute API command associateipaddress: either networkid or vpcid must be specified",
        ));
    };
    let zoneid = match optional_id(p, "zoneid", &ctx.world.zones, |z| &z.id)? {
        Some(z) if z.id != network.zoneid => {
            return Err(ApiError::param(format!(
                "Network {} is not in zone {}",
                network.name, z.name
            )))
        }
        _ => network.zoneid.clone(),
    };
    let project =
        optional_id(p, "projectid", &ctx.world.projects, |x| &x.id)?.map(|x| x.id.clone());
    let netid = Some(network.id);
    let id = allocate(ctx, &zoneid, netid.as_deref(), None, false, "Allocating")?;
    if let Some(project) = project {
        ctx.world.project_of.insert(id.clone(), project);
    }
    Ok(ctx.async_answer(
        ASSOCIATE_CMD,
        "IpAddress",
        &id,
        JobAction::Activate {
            object: "ipaddress".into(),
            id: id.clone(),
        },
    ))
}

/// disassociateIpAddress (async): a network's source NAT IP cannot be released.
pub fn disassociate(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let ip = require_id(p, "id", &ctx.world.public_ips, |i| &i.id)?.clone();
    if ip.issourcenat {
        return Err(ApiError::param(format!(
            "Ip address id={} is source nat ip address; it cannot be released while its network exists",
            ip.id
        )));
    }
    if let Some(m) = ctx.world.public_ips.iter_mut().find(|i| i.id == ip.id) {
        m.state = "Releasing".into();
    }
    let jobid = ctx.job(
        DISASSOCIATE_CMD,
        Some("IpAddress"),
        Some(&ip.id),
        JobAction::Remove {
            object: "ipaddress".into(),
            id: ip.id.clone(),
        },
    );
    Ok(json!({"jobid": jobid}))
}

/// listPublicIpAddresses (id, ipaddress, associatednetworkid, issourcenat, zoneid, vpcid, allocatedonly).
pub fn list(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let id = check_id_filter_in(ctx.world, p, "id")?;
    let netid = check_id_filter_in(ctx.world, p, "associatednetworkid")?;
    let zoneid = check_id_filter_in(ctx.world, p, "zoneid")?;
    let vpcid = check_id_filter_in(ctx.world, p, "vpcid")?;
    let sourcenat = p.bool("issourcenat")?;
    let w = &*ctx.world;
    let items = w
        .public_ips
        .iter()
        .filter(|i| id.as_deref().map(|x| x == i.id).unwrap_or(true))
        .filter(|i| p.opt("ipaddress").map(|a| a == i.ipaddress).unwrap_or(true))
        .filter(|i| {
            netid
                .as_deref()
                .map(|n| i.associatednetworkid.as_deref() == Some(n))
                .unwrap_or(true)
        })
        .filter(|i| zoneid.as_deref().map(|z| z == i.zoneid).unwrap_or(true))
        .filter(|i| {
            vpcid
                .as_deref()
                .is_none_or(|v| i.vpcid.as_deref() == Some(v))
        })
        .filter(|i| sourcenat.map(|s| s == i.issourcenat).unwrap_or(true))
        .filter(|i| super::project::visible(p, w.owner(&i.id)))
        .map(|i| render::public_ip(w, i))
        .collect();
    list_answer(p, "publicipaddress", items)
}
