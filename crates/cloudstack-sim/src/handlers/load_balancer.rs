//! Load balancer rules on public IPs (createLoadBalancerRule, listLoadBalancerRules,
//! updateLoadBalancerRule, deleteLoadBalancerRule, assignToLoadBalancerRule,
//! removeFromLoadBalancerRule, listLoadBalancerRuleInstances). Checks and texts follow
//! CloudStack's `LoadBalancingRulesManagerImpl`.

use super::{check_id_filter_in, keyword_matches, list_answer, require_id, Ctx};
use crate::error::ApiError;
use crate::params::Params;
use crate::render::{self, ACCOUNT, DOMAIN_ID};
use crate::state::{new_id, JobAction, LoadBalancerRule, World};
use serde_json::{json, Value};

const CREATE_CMD: &str =
    "org.apache.cloudstack.api.command.user.loadbalancer.CreateLoadBalancerRuleCmd";
const UPDATE_CMD: &str =
    "org.apache.cloudstack.api.command.user.loadbalancer.UpdateLoadBalancerRuleCmd";
const DELETE_CMD: &str =
    "org.apache.cloudstack.api.command.user.loadbalancer.DeleteLoadBalancerRuleCmd";
const ASSIGN_CMD: &str =
    "org.apache.cloudstack.api.command.user.loadbalancer.AssignToLoadBalancerRuleCmd";
const REMOVE_CMD: &str =
    "org.apache.cloudstack.api.command.user.loadbalancer.RemoveFromLoadBalancerRuleCmd";

const ALGORITHMS: [&str; 3] = ["roundrobin", "leastconn", "source"];

/// A rule as CloudStack's `LoadBalancerResponse` shows it (ports as strings).
pub fn render_rule(w: &World, r: &LoadBalancerRule) -> Value {
    let ip = w.public_ip(&r.publicipid);
    json!({
        "id": r.id, "name": r.name, "description": r.description, "algorithm": r.algorithm,
        "publicipid": r.publicipid,
        "publicip": ip.map(|i| i.ipaddress.clone()).unwrap_or_default(),
        "publicport": r.publicport.to_string(), "privateport": r.privateport.to_string(),
        "protocol": r.protocol, "networkid": r.networkid, "cidrlist": r.cidrlist.join(","),
        "zoneid": ip.map(|i| i.zoneid.clone()).unwrap_or_default(), "state": r.state,
        "account": ACCOUNT, "domainid": DOMAIN_ID, "domain": "ROOT", "fordisplay": true,
        "tags": render::tags_json(w, &r.id),
    })
}

fn port(p: &Params, name: &str) -> Result<u16, ApiError> {
    let v = p.req_int(name)?;
    u16::try_from(v)
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| ApiError::param(format!("Invalid value for {name}: {v}")))
}

fn check_algorithm(a: &str) -> Result<String, ApiError> {
    let lower = a.to_ascii_lowercase();
    if ALGORITHMS.contains(&lower.as_str()) {
        Ok(lower)
    } else {
        Err(ApiError::param(format!("Invalid algorithm: {a}")))
    }
}

/// createLoadBalancerRule (async): name, algorithm, privateport, publicport, publicipid;
/// networkid (else the IP's network), description, protocol (tcp), cidrlist.
pub fn create(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let name = p.req("name")?.to_string();
    let algorithm = check_algorithm(p.req("algorithm")?)?;
    let privateport = port(p, "privateport")?;
    let publicport = port(p, "publicport")?;
    let ip = require_id(p, "publicipid", &ctx.world.public_ips, |i| &i.id)?.clone();
    let w = &*ctx.world;
    let networkid = match p.opt("networkid") {
        Some(_) => require_id(p, "networkid", &w.networks, |n| &n.id)?.id.clone(),
        None => ip.associatednetworkid.clone().ok_or_else(|| {
            ApiError::param(format!(
                "Unable to create load balancer rule; IP {} is not associated with a network: give networkid",
                ip.ipaddress
            ))
        })?,
    };
    if w.vpc.static_nat.contains_key(&ip.id) {
        return Err(ApiError::with_code(
            537,
            format!(
                "Can't create a load balancer rule on ip address {} as it has static nat enabled",
                ip.ipaddress
            ),
        ));
    }
    let clash = w
        .vpc
        .lb_rules
        .iter()
        .find(|r| r.publicipid == ip.id && r.publicport == publicport)
        .map(|r| r.id.clone())
        .or_else(|| {
            w.port_forwarding_rules
                .iter()
                .find(|r| {
                    r.ipaddressid == ip.id && (r.publicport..=r.publicendport).contains(&publicport)
                })
                .map(|r| r.id.clone())
        });
    if let Some(other) = clash {
        return Err(ApiError::with_code(
            537,
            format!(
                "The range specified, {publicport}-{publicport}, conflicts with rule {other} which has {publicport}-{publicport}"
            ),
        ));
    }
    let id = new_id();
    ctx.world.vpc.lb_rules.push(LoadBalancerRule {
        id: id.clone(),
        description: p.opt("description").unwrap_or(&name).to_string(),
        name,
        algorithm,
        publicipid: ip.id,
        publicport,
        privateport,
        protocol: p.opt("protocol").unwrap_or("tcp").to_ascii_lowercase(),
        networkid,
        cidrlist: match p.list("cidrlist") {
            l if l.is_empty() => vec!["0.0.0.0/0".into()],
            l => l,
        },
        members: Vec::new(),
        state: "Add".into(),
    });
    Ok(ctx.async_answer(
        CREATE_CMD,
        "LoadBalancerRule",
        &id,
        finish("loadbalancer", &id),
    ))
}

fn finish(object: &str, id: &str) -> JobAction {
    JobAction::Vpc {
        object: object.into(),
        id: id.into(),
        remove: false,
    }
}

/// listLoadBalancerRules (id, publicipid, name, networkid, zoneid, keyword).
pub fn list(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let id = check_id_filter_in(ctx.world, p, "id")?;
    let ip = check_id_filter_in(ctx.world, p, "publicipid")?;
    let net = check_id_filter_in(ctx.world, p, "networkid")?;
    let w = &*ctx.world;
    let items = w
        .vpc
        .lb_rules
        .iter()
        .filter(|r| id.as_deref().is_none_or(|x| x == r.id))
        .filter(|r| ip.as_deref().is_none_or(|x| x == r.publicipid))
        .filter(|r| net.as_deref().is_none_or(|x| x == r.networkid))
        .filter(|r| super::name_matches(p, &r.name))
        .filter(|r| keyword_matches(p, &[&r.name, &r.description]))
        // rules on a project's address only with its projectid (or -1), as CloudStack
        .filter(|r| super::project::visible(p, w.owner(&r.publicipid)))
        .map(|r| render_rule(w, r))
        .collect();
    list_answer(p, "loadbalancerrule", items)
}

/// updateLoadBalancerRule (async): id; name, description, algorithm.
pub fn update(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let id = require_id(p, "id", &ctx.world.vpc.lb_rules, |r| &r.id)?
        .id
        .clone();
    let algorithm = p.opt("algorithm").map(check_algorithm).transpose()?;
    if let Some(r) = ctx.world.vpc.lb_rules.iter_mut().find(|r| r.id == id) {
        if let Some(n) = p.opt("name") {
            r.name = n.to_string();
        }
        if let Some(d) = p.opt("description") {
            r.description = d.to_string();
        }
        if let Some(a) = algorithm {
            r.algorithm = a;
        }
    }
    ctx.changed = true;
    Ok(ctx.async_answer(
        UPDATE_CMD,
        "LoadBalancerRule",
        &id,
        finish("loadbalancer", &id),
    ))
}

/// deleteLoadBalancerRule (async): id.
pub fn delete(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let id = require_id(p, "id", &ctx.world.vpc.lb_rules, |r| &r.id)?
        .id
        .clone();
    if let Some(r) = ctx.world.vpc.lb_rules.iter_mut().find(|r| r.id == id) {
        r.state = "Revoke".into();
    }
    let jobid = ctx.job(
        DELETE_CMD,
        Some("LoadBalancerRule"),
        Some(&id),
        JobAction::Vpc {
            object: "loadbalancer".into(),
            id: id.clone(),
            remove: true,
        },
    );
    Ok(json!({"jobid": jobid}))
}

/// The VMs of `virtualmachineids`, each checked to exist and sit in the rule's network.
fn members(w: &World, p: &Params, rule: &LoadBalancerRule) -> Result<Vec<String>, ApiError> {
    p.req("virtualmachineids")?;
    let mut out = Vec::new();
    for id in p.list("virtualmachineids") {
        let vm = w
            .vm(&id)
            .ok_or_else(|| p.invalid_id("virtualmachineids", &id))?;
        if !vm.nic.iter().any(|n| n.networkid == rule.networkid) {
            return Err(ApiError::param(format!(
                "VM {} is not in the network {} of load balancer rule {}",
                vm.name, rule.networkid, rule.name
            )));
        }
        out.push(id);
    }
    Ok(out)
}

/// assignToLoadBalancerRule (async): id, virtualmachineids.
pub fn assign(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let rule = require_id(p, "id", &ctx.world.vpc.lb_rules, |r| &r.id)?.clone();
    let add = members(ctx.world, p, &rule)?;
    if let Some(r) = ctx.world.vpc.lb_rules.iter_mut().find(|r| r.id == rule.id) {
        for vm in add {
            if !r.members.contains(&vm) {
                r.members.push(vm);
            }
        }
    }
    ctx.changed = true;
    let jobid = ctx.job(
        ASSIGN_CMD,
        Some("LoadBalancerRule"),
        Some(&rule.id),
        JobAction::Success,
    );
    Ok(json!({"jobid": jobid}))
}

/// removeFromLoadBalancerRule (async): id, virtualmachineids (members only).
pub fn remove(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let rule = require_id(p, "id", &ctx.world.vpc.lb_rules, |r| &r.id)?.clone();
    p.req("virtualmachineids")?;
    let drop = p.list("virtualmachineids");
    if let Some(vm) = drop.iter().find(|v| !rule.members.contains(v)) {
        return Err(ApiError::param(format!(
            "VM {vm} is not assigned to load balancer rule {}",
            rule.name
        )));
    }
    if let Some(r) = ctx.world.vpc.lb_rules.iter_mut().find(|r| r.id == rule.id) {
        r.members.retain(|m| !drop.contains(m));
    }
    ctx.changed = true;
    let jobid = ctx.job(
        REMOVE_CMD,
        Some("LoadBalancerRule"),
        Some(&rule.id),
        JobAction::Success,
    );
    Ok(json!({"jobid": jobid}))
}

/// listLoadBalancerRuleInstances: id → the member VMs.
pub fn list_instances(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let rule = require_id(p, "id", &ctx.world.vpc.lb_rules, |r| &r.id)?;
    let w = &*ctx.world;
    let items = rule
        .members
        .iter()
        .filter_map(|m| w.vm(m))
        .map(|vm| render::virtual_machine(w, vm, false))
        .collect();
    list_answer(p, "loadbalancerruleinstance", items)
}
