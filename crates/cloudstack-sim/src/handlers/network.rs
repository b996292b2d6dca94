//! Guest networks: isolated networks get a source NAT public IP on creation.

use super::{address, check_id_filter_in, keyword_matches, list_answer, require_id, Ctx};
use crate::cidr::Ipv4Cidr;
use crate::error::ApiError;
use crate::params::Params;
use crate::render;
use crate::state::{new_id, JobAction, Network};
use serde_json::{json, Value};
use std::net::Ipv4Addr;

const UPDATE_CMD: &str = "org.apache.cloudstack.api.command.user.network.UpdateNetworkCmd";
const DELETE_CMD: &str = "org.apache.cloudstack.api.command.user.network.DeleteNetworkCmd";

/// listNetworks (id, zoneid, type, vpcid, keyword, canusefordeploy; a project's networks
/// only with its projectid, see [`super::project::visible`]).
pub fn list_networks(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let id = check_id_filter_in(ctx.world, p, "id")?;
    let zoneid = check_id_filter_in(ctx.world, p, "zoneid")?;
    let vpcid = check_id_filter_in(ctx.world, p, "vpcid")?;
    let w = &*ctx.world;
    let items = w
        .networks
        .iter()
        .filter(|n| id.as_deref().map(|i| i == n.id).unwrap_or(true))
        .filter(|n| zoneid.as_deref().map(|z| z == n.zoneid).unwrap_or(true))
        .filter(|n| {
            vpcid
                .as_deref()
                .map(|v| n.vpcid.as_deref() == Some(v))
                .unwrap_or(true)
        })
        .filter(|n| {
            p.opt("type")
                .map(|t| t.eq_ignore_ascii_case(&n.kind))
                .unwrap_or(true)
        })
        .filter(|n| keyword_matches(p, &[&n.name, &n.displaytext]))
        .filter(|n| super::project::visible(p, w.owner(&n.id)))
        .map(|n| render::network(w, n))
        .collect();
    list_answer(p, "network", items)
}

/// createNetwork (sync): networkofferingid, zoneid, name; optional displaytext, gateway,
/// netmask, startip, endip. Without gateway/netmask a free 10.1.N.0/24 is chosen.
pub fn create_network(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let offering = require_id(p, "networkofferingid", &ctx.world.network_offerings, |o| {
        &o.id
    })?
    .clone();
    let zone = require_id(p, "zoneid", &ctx.world.zones, |z| &z.id)?.clone();
    let name = p.req("name")?.to_string();
    let displaytext = p.opt("displaytext").unwrap_or(&name).to_string();
    let cidr: Ipv4Cidr = match (p.opt("gateway"), p.opt("netmask")) {
        (Some(gw), Some(mask)) => {
            let gw: Ipv4Addr = gw
                .parse()
                .map_err(|_| ApiError::param(format!("Invalid gateway IP provided: {gw}")))?;
            let mask: Ipv4Addr = mask
                .parse()
                .map_err(|_| ApiError::param(format!("Invalid netmask provided: {mask}")))?;
            let bits = u32::from(mask);
            if bits.leading_ones() + bits.trailing_zeros() != 32 {
                return Err(ApiError::param(format!("Invalid netmask provided: {mask}")));
            }
            let prefix = u8::try_from(bits.leading_ones()).unwrap_or(32);
            format!("{gw}/{prefix}")
                .parse()
                .map_err(|e: String| ApiError::param(e))?
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(ApiError::param(
                "gateway and netmask must be given together",
            ))
        }
        (None, None) => {
            let used: Vec<&str> = ctx.world.networks.iter().map(|n| n.cidr.as_str()).collect();
            let mut n = 1u8;
            loop {
                let c = format!("10.1.{n}.0/24");
                if !used.contains(&c.as_str()) {
                    break c.parse().map_err(|e: String| ApiError::param(e))?;
                }
                n = n.checked_add(1).ok_or_else(|| {
                    ApiError::with_code(533, "no free guest CIDR left in 10.1.0.0/16")
                })?;
            }
        }
    };
    let tier_acl = super::vpc::check_tier(ctx.world, p, offering.forvpc, &cidr)?;
    let project =
        super::optional_id(p, "projectid", &ctx.world.projects, |x| &x.id)?.map(|x| x.id.clone());
    if offering.specifyipranges && (p.opt("startip").is_none() || p.opt("gateway").is_none()) {
        return Err(ApiError::param(
            "startip, gateway and netmask are required by this network offering (specifyipranges)",
        ));
    }
    let gateway = p
        .opt("gateway")
        .map(str::to_string)
        .unwrap_or_else(|| cidr.host(1).to_string());
    let id = new_id();
    let network = Network {
        id: id.clone(),
        name,
        displaytext,
        zoneid: zone.id.clone(),
        networkofferingid: offering.id.clone(),
        cidr: cidr.to_string(),
        gateway,
        netmask: cidr.netmask().to_string(),
        kind: offering.guestiptype.clone(),
        state: "Allocated".into(),
        networkdomain: "cs1cloud.internal".into(),
        vpcid: p.opt("vpcid").map(str::to_string),
        next_host: 10,
    };
    if let Some(project) = project {
        ctx.world.project_of.insert(id.clone(), project);
    }
    // a VPC tier uses its VPC's source NAT
    let isolated = offering.guestiptype.eq_ignore_ascii_case("Isolated");
    if isolated && offering.has_source_nat() && tier_acl.is_none() {
        address::allocate(ctx, &zone.id, Some(&id), None, true, "Allocated")?;
    }
    if let Some(acl) = tier_acl {
        ctx.world.vpc.tier_acls.insert(id.clone(), acl);
    }
    ctx.world.networks.push(network);
    ctx.changed = true;
    let w = &*ctx.world;
    let n = w
        .network(&id)
        .ok_or_else(|| ApiError::with_code(530, "network vanished"))?;
    Ok(json!({"network": render::network(w, n)}))
}

/// updateNetwork (async): name, displaytext, networkofferingid, networkdomain.
pub fn update_network(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let net = require_id(p, "id", &ctx.world.networks, |n| &n.id)?.clone();
    if let Some(o) = p.opt("networkofferingid") {
        require_id(p, "networkofferingid", &ctx.world.network_offerings, |x| {
            &x.id
        })?;
        let _ = o;
    }
    if let Some(m) = ctx.world.networks.iter_mut().find(|n| n.id == net.id) {
        if let Some(v) = p.opt("name") {
            m.name = v.to_string();
        }
        if let Some(v) = p.opt("displaytext") {
            m.displaytext = v.to_string();
        }
        if let Some(v) = p.opt("networkofferingid") {
            m.networkofferingid = v.to_string();
        }
        if let Some(v) = p.opt("networkdomain") {
            m.networkdomain = v.to_string();
        }
    }
    Ok(ctx.async_answer(
        UPDATE_CMD,
        "Network",
        &net.id,
        JobAction::Activate {
            object: "network".into(),
            id: net.id.clone(),
        },
    ))
}

/// deleteNetwork (async): refused while VMs that are not expunged use it.
pub fn delete_network(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let net = require_id(p, "id", &ctx.world.networks, |n| &n.id)?.clone();
    if let Some(vm) = ctx
        .world
        .virtual_machines
        .iter()
        .find(|v| v.nic.iter().any(|n| n.networkid == net.id))
    {
        return Err(ApiError::with_code(
            530,
            format!(
                "Can't delete the network, not all user vms are expunged. Vm {} is in {} state",
                vm.name, vm.state
            ),
        ));
    }
    let jobid = ctx.job(
        DELETE_CMD,
        Some("Network"),
        Some(&net.id),
        JobAction::Remove {
            object: "network".into(),
            id: net.id.clone(),
        },
    );
    Ok(json!({"jobid": jobid}))
}
