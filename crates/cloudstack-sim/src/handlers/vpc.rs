//! VPCs and VPC offerings (createVPC, listVPCs, updateVPC, deleteVPC,
//! restartVPC, listVPCOfferings), and finishing the async jobs of the VPC
//! family ([`finish`]). Checks and texts follow CloudStack's `VpcManagerImpl`.

use super::{address, check_id_filter_in, keyword_matches, list_answer, require_id, Ctx};
use crate::cidr::Ipv4Cidr;
use crate::error::{cs_code, ApiError};
use crate::params::Params;
use crate::render::{self, ACCOUNT, DOMAIN_ID};
use crate::state::{new_id, timestamp, JobAction, Vpc, VpcOffering, World};
use serde_json::{json, Value};

const CREATE_CMD: &str = "org.apache.cloudstack.api.command.user.vpc.CreateVPCCmd";
const UPDATE_CMD: &str = "org.apache.cloudstack.api.command.user.vpc.UpdateVPCCmd";
const DELETE_CMD: &str = "org.apache.cloudstack.api.command.user.vpc.DeleteVPCCmd";
const RESTART_CMD: &str = "org.apache.cloudstack.api.command.user.vpc.RestartVPCCmd";

fn services_json(services: &[String]) -> Vec<Value> {
    services
        .iter()
        .map(|s| json!({"name": s, "provider": [{"name": "VpcVirtualRouter"}], "capability": []}))
        .collect()
}

/// A VPC offering as `listVPCOfferings` shows it.
pub fn render_offering(o: &VpcOffering) -> Value {
    json!({
        "id": o.id, "name": o.name, "displaytext": o.displaytext, "isdefault": o.isdefault,
        "state": "Enabled", "created": "2016-01-01T00:00:00+0000",
        "service": services_json(&o.services), "distributedvpcrouter": false,
        "supportsregionLevelvpc": false, "fordisplay": true,
    })
}

/// A VPC as CloudStack's `VpcResponse` shows it.
pub fn render_vpc(w: &World, v: &Vpc) -> Value {
    let off = w.vpc.vpc_offerings.iter().find(|o| o.id == v.vpcofferingid);
    let networks: Vec<Value> = w
        .networks
        .iter()
        .filter(|n| n.vpcid.as_deref() == Some(v.id.as_str()))
        .map(|n| render::network(w, n))
        .collect();
    json!({
        "id": v.id, "name": v.name, "displaytext": v.displaytext, "state": v.state,
        "zoneid": v.zoneid,
        "zonename": w.zone(&v.zoneid).map(|z| z.name.clone()).unwrap_or_default(),
        "cidr": v.cidr, "vpcofferingid": v.vpcofferingid,
        "vpcofferingname": off.map(|o| o.name.clone()).unwrap_or_default(),
        "service": services_json(off.map(|o| o.services.as_slice()).unwrap_or(&[])),
        "created": v.created, "account": ACCOUNT, "domainid": DOMAIN_ID, "domain": "ROOT",
        "network": networks, "restartrequired": false, "networkdomain": v.networkdomain,
        "fordisplay": true, "distributedvpcrouter": false, "regionlevelvpc": false,
        "redundantvpcrouter": false, "tags": render::tags_json(w, &v.id),
    })
}

/// listVPCOfferings (id, name, isdefault, keyword).
pub fn list_offerings(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let id = check_id_filter_in(ctx.world, p, "id")?;
    let isdefault = p.bool("isdefault")?;
    let items = ctx
        .world
        .vpc
        .vpc_offerings
        .iter()
        .filter(|o| id.as_deref().is_none_or(|i| i == o.id))
        .filter(|o| super::name_matches(p, &o.name))
        .filter(|o| isdefault.is_none_or(|d| d == o.isdefault))
        .filter(|o| keyword_matches(p, &[&o.name, &o.displaytext]))
        .map(render_offering)
        .collect();
    list_answer(p, "vpcoffering", items)
}

/// listVPCs (id, name, zoneid, vpcofferingid, cidr, state, keyword; projectid/listall
/// accepted).
pub fn list_vpcs(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let id = check_id_filter_in(ctx.world, p, "id")?;
    let zoneid = check_id_filter_in(ctx.world, p, "zoneid")?;
    let offering = check_id_filter_in(ctx.world, p, "vpcofferingid")?;
    let w = &*ctx.world;
    let items = w
        .vpc
        .vpcs
        .iter()
        .filter(|v| id.as_deref().is_none_or(|i| i == v.id))
        .filter(|v| zoneid.as_deref().is_none_or(|z| z == v.zoneid))
        .filter(|v| offering.as_deref().is_none_or(|o| o == v.vpcofferingid))
        // CloudStack matches `name` with LIKE %name%
        .filter(|v| {
            p.opt("name")
                .is_none_or(|n| v.name.to_lowercase().contains(&n.to_lowercase()))
        })
        .filter(|v| p.opt("cidr").is_none_or(|c| c == v.cidr))
        .filter(|v| {
            p.opt("state")
                .is_none_or(|s| s.eq_ignore_ascii_case(&v.state))
        })
        .filter(|v| keyword_matches(p, &[&v.name, &v.displaytext]))
        // a project's VPCs only with its projectid (or -1), as CloudStack
        .filter(|v| super::project::visible(p, w.owner(&v.id)))
        .map(|v| render_vpc(w, v))
        .collect();
    list_answer(p, "vpc", items)
}

/// Whether a CIDR is inside the RFC 1918 private ranges (`NetUtils.validateGuestCidr`).
fn is_rfc1918(c: &Ipv4Cidr) -> bool {
    ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
        .iter()
        .filter_map(|r| r.parse::<Ipv4Cidr>().ok())
        .any(|r| r.contains_cidr(c))
}

/// createVPC (async): name, displaytext (optional since 4.17), cidr, vpcofferingid,
/// zoneid; optional networkdomain, start (default true).
pub fn create_vpc(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let name = p.req("name")?.to_string();
    let cidr_text = p.req("cidr")?.to_string();
    let offering = require_id(p, "vpcofferingid", &ctx.world.vpc.vpc_offerings, |o| &o.id)?.clone();
    let zone = require_id(p, "zoneid", &ctx.world.zones, |z| &z.id)?.clone();
    let cidr: Ipv4Cidr = cidr_text
        .parse()
        .map_err(|_| ApiError::param(format!("Invalid CIDR specified {cidr_text}")))?;
    if !is_rfc1918(&cidr) {
        return Err(ApiError::param(format!(
            "Guest Cidr {cidr_text} is not RFC1918 compliant"
        )));
    }
    if !zone.networktype.eq_ignore_ascii_case("Advanced") {
        return Err(ApiError::param(format!(
            "Can't create VPC in a zone of type {}: only Advanced zones support VPCs",
            zone.networktype
        )));
    }
    let networkdomain = p.opt("networkdomain").unwrap_or("cs1cloud.internal");
    if !valid_domain(networkdomain) {
        return Err(ApiError::param(
            "Invalid network domain. Total length shouldn't exceed 190 chars. Each domain label \
             must be between 1 and 63 characters long, can contain ASCII letters 'a' through 'z', \
             the digits '0' through '9', and the hyphen ('-'); can't start or end with \"-\"",
        ));
    }
    let project =
        super::optional_id(p, "projectid", &ctx.world.projects, |x| &x.id)?.map(|x| x.id.clone());
    let id = new_id();
    if let Some(project) = project {
        ctx.world.project_of.insert(id.clone(), project);
    }
    ctx.world.vpc.vpcs.push(Vpc {
        id: id.clone(),
        displaytext: p.opt("displaytext").unwrap_or(&name).to_string(),
        name,
        cidr: cidr.to_string(),
        zoneid: zone.id.clone(),
        vpcofferingid: offering.id,
        networkdomain: networkdomain.to_string(),
        state: "Enabled".into(),
        created: timestamp(),
    });
    // the VPC's virtual router takes a source NAT IP
    address::allocate(ctx, &zone.id, None, Some(&id), true, "Allocated")?;
    Ok(ctx.async_answer(CREATE_CMD, "Vpc", &id, activate("vpc", &id)))
}

fn valid_domain(d: &str) -> bool {
    d.len() <= 190
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn activate(object: &str, id: &str) -> JobAction {
    JobAction::Vpc {
        object: object.into(),
        id: id.into(),
        remove: false,
    }
}

fn remove(object: &str, id: &str) -> JobAction {
    JobAction::Vpc {
        object: object.into(),
        id: id.into(),
        remove: true,
    }
}

/// updateVPC (async): id; name, displaytext.
pub fn update_vpc(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let id = require_id(p, "id", &ctx.world.vpc.vpcs, |v| &v.id)?
        .id
        .clone();
    if let Some(v) = ctx.world.vpc.vpcs.iter_mut().find(|v| v.id == id) {
        if let Some(n) = p.opt("name") {
            v.name = n.to_string();
        }
        if let Some(d) = p.opt("displaytext") {
            v.displaytext = d.to_string();
        }
    }
    ctx.changed = true;
    Ok(ctx.async_answer(UPDATE_CMD, "Vpc", &id, activate("vpc", &id)))
}

/// deleteVPC (async): refused while tiers exist, like CloudStack.
pub fn delete_vpc(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let vpc = require_id(p, "id", &ctx.world.vpc.vpcs, |v| &v.id)?.clone();
    let tiers = ctx
        .world
        .networks
        .iter()
        .filter(|n| n.vpcid.as_deref() == Some(vpc.id.as_str()))
        .count();
    if tiers > 0 {
        return Err(ApiError::param(format!(
            "Can't delete VPC [VPC {{\"id\": \"{}\", \"name\": \"{}\"}}] as its used by {tiers} networks",
            vpc.id, vpc.name
        )));
    }
    if let Some(v) = ctx.world.vpc.vpcs.iter_mut().find(|v| v.id == vpc.id) {
        v.state = "Inactive".into();
    }
    let jobid = ctx.job(
        DELETE_CMD,
        Some("Vpc"),
        Some(&vpc.id),
        remove("vpc", &vpc.id),
    );
    Ok(json!({"jobid": jobid}))
}

/// restartVPC (async): id; cleanup/makeredundant accepted.
pub fn restart_vpc(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let id = require_id(p, "id", &ctx.world.vpc.vpcs, |v| &v.id)?
        .id
        .clone();
    let jobid = ctx.job(RESTART_CMD, Some("Vpc"), Some(&id), JobAction::Success);
    Ok(json!({"jobid": jobid}))
}

fn gone(what: &str, id: &str) -> ApiError {
    ApiError::with_code(530, format!("{what} {id} no longer exists"))
}

/// Finishes a VPC-family job: activates `object` and answers with it, or
/// removes it (with what hangs off it) and answers `success`.
pub(crate) fn finish(
    w: &mut World,
    object: &str,
    id: &str,
    remove: bool,
) -> Result<Value, ApiError> {
    if remove {
        w.retire(id);
        match object {
            "vpc" => {
                if w.vpc.vpc(id).is_none() {
                    return Err(gone("VPC", id));
                }
                let ips: Vec<String> = w
                    .public_ips
                    .iter()
                    .filter(|i| i.vpcid.as_deref() == Some(id))
                    .map(|i| i.id.clone())
                    .collect();
                for ip in &ips {
                    w.retire(ip);
                    w.tags.retain(|t| &t.resourceid != ip);
                }
                w.public_ips.retain(|i| i.vpcid.as_deref() != Some(id));
                let lists: Vec<String> = w
                    .vpc
                    .acl_lists
                    .iter()
                    .filter(|l| l.vpcid.as_deref() == Some(id))
                    .map(|l| l.id.clone())
                    .collect();
                for l in &lists {
                    w.retire(l);
                }
                w.vpc.acl_items.retain(|i| !lists.contains(&i.aclid));
                w.vpc.acl_lists.retain(|l| l.vpcid.as_deref() != Some(id));
                w.vpc.vpcs.retain(|v| v.id != id);
            }
            "networkacllist" => {
                w.vpc.acl_items.retain(|i| i.aclid != id);
                w.vpc.acl_lists.retain(|l| l.id != id);
            }
            "networkacl" => w.vpc.acl_items.retain(|i| i.id != id),
            "loadbalancer" => w.vpc.lb_rules.retain(|r| r.id != id),
            other => {
                return Err(ApiError::with_code(
                    530,
                    format!("unknown object kind {other}"),
                ))
            }
        }
        w.tags.retain(|t| t.resourceid != id);
        return Ok(json!({"success": true}));
    }
    match object {
        "vpc" => {
            let v = w.vpc.vpc(id).ok_or_else(|| gone("VPC", id))?;
            Ok(json!({"vpc": render_vpc(w, v)}))
        }
        "networkacllist" => {
            let l = w
                .vpc
                .acl_list(id)
                .ok_or_else(|| gone("network ACL list", id))?;
            Ok(json!({"networkacllist": super::network_acl::render_list(l)}))
        }
        "networkacl" => {
            let item = w
                .vpc
                .acl_items
                .iter_mut()
                .find(|i| i.id == id)
                .ok_or_else(|| gone("network ACL item", id))?;
            item.state = "Active".into();
            let item = item.clone();
            Ok(json!({"networkacl": super::network_acl::render_item(w, &item)}))
        }
        "loadbalancer" => {
            let rule = w
                .vpc
                .lb_rules
                .iter_mut()
                .find(|r| r.id == id)
                .ok_or_else(|| gone("load balancer rule", id))?;
            rule.state = "Active".into();
            let rule = rule.clone();
            Ok(json!({"loadbalancer": super::load_balancer::render_rule(w, &rule)}))
        }
        other => Err(ApiError {
            errorcode: 530,
            cserrorcode: Some(cs_code::CLOUD_RUNTIME),
            errortext: format!("unknown object kind {other}"),
        }),
    }
}

/// createNetwork's VPC rules (`VpcManagerImpl.validateNewVpcGuestNetwork`): a tier needs a
/// VPC offering, lies inside the VPC's CIDR and overlaps no other tier; an offering for
/// VPCs serves tiers only. Returns the tier's ACL list (`aclid`, else `default_deny`) when
/// `vpcid` is given.
pub(crate) fn check_tier(
    w: &World,
    p: &Params,
    forvpc: bool,
    cidr: &Ipv4Cidr,
) -> Result<Option<String>, ApiError> {
    let Some(vpc) = super::optional_id(p, "vpcid", &w.vpc.vpcs, |v| &v.id)? else {
        if forvpc {
            return Err(ApiError::param(
                "Network offering can be used for VPC networks only",
            ));
        }
        return Ok(None);
    };
    if !forvpc {
        return Err(ApiError::param(
            "Network offering can't be used for VPC networks",
        ));
    }
    let vpc_cidr: Ipv4Cidr = vpc
        .cidr
        .parse()
        .map_err(|e: String| ApiError::with_code(530, e))?;
    if !vpc_cidr.contains_cidr(cidr) {
        return Err(ApiError::param(format!(
            "Network cidr {cidr} is not within vpc {} cidr {}",
            vpc.name, vpc.cidr
        )));
    }
    for n in w
        .networks
        .iter()
        .filter(|n| n.vpcid.as_deref() == Some(vpc.id.as_str()))
    {
        if n.cidr.parse::<Ipv4Cidr>().is_ok_and(|c| c.overlaps(cidr)) {
            return Err(ApiError::param(format!(
                "Network cidr {cidr} crosses other network cidr {} of network {} belonging to the same vpc {}",
                n.cidr, n.name, vpc.name
            )));
        }
    }
    let acl = match super::optional_id(p, "aclid", &w.vpc.acl_lists, |l| &l.id)? {
        Some(l) if l.vpcid.is_some() && l.vpcid.as_deref() != Some(vpc.id.as_str()) => {
            return Err(ApiError::param(format!(
                "Network ACL {} doesn't belong to the VPC {}",
                l.id, vpc.id
            )))
        }
        Some(l) => l.id.clone(),
        None => crate::state::DEFAULT_DENY_ACL_ID.to_string(),
    };
    Ok(Some(acl))
}
