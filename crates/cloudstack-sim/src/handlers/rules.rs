//! Port forwarding, ingress firewall and egress firewall rules.

use super::{check_id_filter_in, list_answer, require_id, Ctx};
use crate::cidr::Ipv4Cidr;
use crate::error::{code, cs_code, ApiError};
use crate::params::Params;
use crate::render;
use crate::state::{new_id, EgressRule, FirewallRule, JobAction, PortForwardingRule};
use serde_json::{json, Value};

const PF_CREATE: &str =
    "org.apache.cloudstack.api.command.user.firewall.CreatePortForwardingRuleCmd";
const PF_DELETE: &str =
    "org.apache.cloudstack.api.command.user.firewall.DeletePortForwardingRuleCmd";
const FW_CREATE: &str = "org.apache.cloudstack.api.command.user.firewall.CreateFirewallRuleCmd";
const FW_DELETE: &str = "org.apache.cloudstack.api.command.user.firewall.DeleteFirewallRuleCmd";
const EG_CREATE: &str =
    "org.apache.cloudstack.api.command.user.firewall.CreateEgressFirewallRuleCmd";
const EG_DELETE: &str =
    "org.apache.cloudstack.api.command.user.firewall.DeleteEgressFirewallRuleCmd";

fn conflict(text: String) -> ApiError {
    ApiError {
        errorcode: code::NETWORK_RULE_CONFLICT_ERROR,
        cserrorcode: Some(cs_code::NETWORK_RULE_CONFLICT),
        errortext: text,
    }
}

fn port(p: &Params, name: &str) -> Result<Option<u16>, ApiError> {
    match p.int(name)? {
        None => Ok(None),
        Some(v) => u16::try_from(v)
            .ok()
            .filter(|v| *v > 0)
            .map(Some)
            .ok_or_else(|| ApiError::param(format!("Invalid port {v} for parameter {name}"))),
    }
}

fn req_port(p: &Params, name: &str) -> Result<u16, ApiError> {
    p.req(name)?;
    port(p, name)?.ok_or_else(|| ApiError::param(format!("Invalid port for parameter {name}")))
}

fn cidrs(p: &Params, default: &str) -> Result<Vec<String>, ApiError> {
    let mut list = p.list("cidrlist");
    if list.is_empty() {
        list.push(default.to_string());
    }
    for c in &list {
        c.parse::<Ipv4Cidr>()
            .map_err(|_| ApiError::param(format!("Source cidrs formatting error {c}")))?;
    }
    Ok(list)
}

fn protocol(p: &Params, allowed: &[&str]) -> Result<String, ApiError> {
    let proto = p.req("protocol")?.to_lowercase();
    if !allowed.contains(&proto.as_str()) {
        return Err(ApiError::param(format!(
            "Invalid protocol {proto}; supported: {}",
            allowed.join(", ")
        )));
    }
    Ok(proto)
}

fn overlaps(a: (u16, u16), b: (u16, u16)) -> bool {
    a.0 <= b.1 && b.0 <= a.1
}

/// createPortForwardingRule (async). With `openfirewall` (default true, as in CloudStack)
/// a matching ingress firewall rule is created too.
pub fn create_port_forwarding_rule(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let ip = require_id(p, "ipaddressid", &ctx.world.public_ips, |i| &i.id)?.clone();
    let proto = protocol(p, &["tcp", "udp"])?;
    let private = req_port(p, "privateport")?;
    let public = req_port(p, "publicport")?;
    let private_end = port(p, "privateendport")?.unwrap_or(private);
    let public_end = port(p, "publicendport")?.unwrap_or(public);
    if private_end < private || public_end < public {
        return Err(ApiError::param("End port can't be smaller than start port"));
    }
    let vm = require_id(p, "virtualmachineid", &ctx.world.virtual_machines, |v| {
        &v.id
    })?
    .clone();
    let network_id = match p.opt("networkid") {
        Some(_) => require_id(p, "networkid", &ctx.world.networks, |n| &n.id)?
            .id
            .clone(),
        None => ip.associatednetworkid.clone().ok_or_else(|| {
            ApiError::param(
                "Unable to create port forwarding rule; ip id= is not associated with any network",
            )
        })?,
    };
    let Some(nic) = vm.nic.iter().find(|n| n.networkid == network_id) else {
        return Err(ApiError::param(format!(
            "Unable to create port forwarding rule: VM {} has no NIC in network {}",
            vm.name, network_id
        )));
    };
    // a VPC address joins the tier of its first rule (IpAddressManager's
    // association on demand)
    let tier_of_ip_vpc = ip.associatednetworkid.is_none()
        && ip.vpcid.is_some()
        && ctx
            .world
            .network(&network_id)
            .and_then(|n| n.vpcid.as_deref())
            == ip.vpcid.as_deref();
    if tier_of_ip_vpc {
        if let Some(m) = ctx.world.public_ips.iter_mut().find(|i| i.id == ip.id) {
            m.associatednetworkid = Some(network_id.clone());
        }
    } else if ip.associatednetworkid.as_deref() != Some(network_id.as_str()) {
        return Err(ApiError::param(format!(
            "Unable to create port forwarding rule: ip address {} is not associated with network {}",
            ip.ipaddress, network_id
        )));
    }
    if let Some(other) = ctx.world.port_forwarding_rules.iter().find(|r| {
        r.ipaddressid == ip.id
            && r.protocol == proto
            && overlaps((r.publicport, r.publicendport), (public, public_end))
    }) {
        return Err(conflict(format!(
            "The range specified, {public}-{public_end}, conflicts with rule {} which has {}-{}",
            other.id, other.publicport, other.publicendport
        )));
    }
    let vmguestip = p.opt("vmguestip").unwrap_or(&nic.ipaddress).to_string();
    let id = new_id();
    ctx.world.port_forwarding_rules.push(PortForwardingRule {
        id: id.clone(),
        ipaddressid: ip.id.clone(),
        privateport: private,
        privateendport: private_end,
        publicport: public,
        publicendport: public_end,
        protocol: proto.clone(),
        virtualmachineid: vm.id.clone(),
        vmguestip,
        networkid: network_id,
        state: "Add".into(),
    });
    if p.flag("openfirewall", true)? {
        ctx.world.firewall_rules.push(FirewallRule {
            id: new_id(),
            ipaddressid: ip.id.clone(),
            protocol: proto,
            startport: Some(public),
            endport: Some(public_end),
            cidrlist: vec!["0.0.0.0/0".into()],
            icmptype: None,
            icmpcode: None,
            state: "Active".into(),
        });
    }
    Ok(ctx.async_answer(
        PF_CREATE,
        "FirewallRule",
        &id,
        JobAction::Activate {
            object: "portforwardingrule".into(),
            id: id.clone(),
        },
    ))
}

fn delete_rule(
    ctx: &mut Ctx<'_>,
    p: &Params,
    exists: bool,
    cmd: &str,
    object: &str,
) -> Result<Value, ApiError> {
    let id = p.req("id")?.to_string();
    if !super::looks_like_id(&id) || !exists {
        return Err(p.invalid_id("id", &id));
    }
    let jobid = ctx.job(
        cmd,
        Some("FirewallRule"),
        Some(&id),
        JobAction::Remove {
            object: object.into(),
            id: id.clone(),
        },
    );
    Ok(json!({"jobid": jobid}))
}

/// deletePortForwardingRule (async).
pub fn delete_port_forwarding_rule(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let exists = p
        .opt("id")
        .map(|id| ctx.world.port_forwarding_rules.iter().any(|r| r.id == id))
        .unwrap_or(false);
    delete_rule(ctx, p, exists, PF_DELETE, "portforwardingrule")
}

/// listPortForwardingRules (id, ipaddressid, networkid; a project IP's rules only with its
/// projectid, see [`super::project::visible`]).
pub fn list_port_forwarding_rules(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let id = check_id_filter_in(ctx.world, p, "id")?;
    let ipid = check_id_filter_in(ctx.world, p, "ipaddressid")?;
    let netid = check_id_filter_in(ctx.world, p, "networkid")?;
    let w = &*ctx.world;
    let items = w
        .port_forwarding_rules
        .iter()
        .filter(|r| id.as_deref().map(|x| x == r.id).unwrap_or(true))
        .filter(|r| ipid.as_deref().map(|x| x == r.ipaddressid).unwrap_or(true))
        .filter(|r| netid.as_deref().map(|x| x == r.networkid).unwrap_or(true))
        .filter(|r| super::project::visible(p, w.owner(&r.ipaddressid)))
        .map(|r| render::port_forwarding_rule(w, r))
        .collect();
    list_answer(p, "portforwardingrule", items)
}

fn icmp(p: &Params, proto: &str) -> Result<(Option<i64>, Option<i64>), ApiError> {
    if proto == "icmp" {
        Ok((
            Some(p.int("icmptype")?.unwrap_or(-1)),
            Some(p.int("icmpcode")?.unwrap_or(-1)),
        ))
    } else {
        if p.opt("icmptype").is_some() || p.opt("icmpcode").is_some() {
            return Err(ApiError::param(
                "Can specify icmpCode and icmpType for ICMP protocol only",
            ));
        }
        Ok((None, None))
    }
}

fn port_range(p: &Params, proto: &str) -> Result<(Option<u16>, Option<u16>), ApiError> {
    let start = port(p, "startport")?;
    let end = port(p, "endport")?;
    match proto {
        "tcp" | "udp" => {
            let Some(s) = start else {
                return Err(ApiError::param(format!(
                    "Unable to execute API command {} due to missing parameter startport (required for {proto})",
                    p.command.to_lowercase()
                )));
            };
            let e = end.unwrap_or(s);
            if e < s {
                return Err(ApiError::param("End port can't be smaller than start port"));
            }
            Ok((Some(s), Some(e)))
        }
        _ => {
            if start.is_some() || end.is_some() {
                return Err(ApiError::param(format!(
                    "Ports can't be specified for protocol {proto}"
                )));
            }
            Ok((None, None))
        }
    }
}

/// createFirewallRule (async): ingress rule on a public IP.
pub fn create_firewall_rule(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let ip = require_id(p, "ipaddressid", &ctx.world.public_ips, |i| &i.id)?.clone();
    let proto = protocol(p, &["tcp", "udp", "icmp", "all"])?;
    let (start, end) = port_range(p, &proto)?;
    let (icmptype, icmpcode) = icmp(p, &proto)?;
    let cidrlist = cidrs(p, "0.0.0.0/0")?;
    if let (Some(s), Some(e)) = (start, end) {
        if let Some(other) = ctx.world.firewall_rules.iter().find(|r| {
            r.ipaddressid == ip.id
                && r.protocol == proto
                && r.cidrlist == cidrlist
                && matches!((r.startport, r.endport), (Some(a), Some(b)) if overlaps((a, b), (s, e)))
        }) {
            return Err(conflict(format!(
                "There is already a firewall rule specified with overlapping ports: rule {}",
                other.id
            )));
        }
    }
    let id = new_id();
    ctx.world.firewall_rules.push(FirewallRule {
        id: id.clone(),
        ipaddressid: ip.id.clone(),
        protocol: proto,
        startport: start,
        endport: end,
        cidrlist,
        icmptype,
        icmpcode,
        state: "Add".into(),
    });
    Ok(ctx.async_answer(
        FW_CREATE,
        "FirewallRule",
        &id,
        JobAction::Activate {
            object: "firewallrule".into(),
            id: id.clone(),
        },
    ))
}

/// deleteFirewallRule (async).
pub fn delete_firewall_rule(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let exists = p
        .opt("id")
        .map(|id| ctx.world.firewall_rules.iter().any(|r| r.id == id))
        .unwrap_or(false);
    delete_rule(ctx, p, exists, FW_DELETE, "firewallrule")
}

/// listFirewallRules (id, ipaddressid, networkid; a project IP's rules only with its
/// projectid).
pub fn list_firewall_rules(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let id = check_id_filter_in(ctx.world, p, "id")?;
    let ipid = check_id_filter_in(ctx.world, p, "ipaddressid")?;
    let netid = check_id_filter_in(ctx.world, p, "networkid")?;
    let w = &*ctx.world;
    let items = w
        .firewall_rules
        .iter()
        .filter(|r| id.as_deref().map(|x| x == r.id).unwrap_or(true))
        .filter(|r| ipid.as_deref().map(|x| x == r.ipaddressid).unwrap_or(true))
        .filter(|r| {
            netid
                .as_deref()
                .map(|n| {
                    w.public_ip(&r.ipaddressid)
                        .and_then(|i| i.associatednetworkid.as_deref())
                        == Some(n)
                })
                .unwrap_or(true)
        })
        .filter(|r| super::project::visible(p, w.owner(&r.ipaddressid)))
        .map(|r| render::firewall_rule(w, r))
        .collect();
    list_answer(p, "firewallrule", items)
}

/// createEgressFirewallRule (async): egress rule on a guest network.
pub fn create_egress_rule(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let net = require_id(p, "networkid", &ctx.world.networks, |n| &n.id)?.clone();
    let proto = protocol(p, &["tcp", "udp", "icmp", "all"])?;
    let (start, end) = port_range(p, &proto)?;
    let (icmptype, icmpcode) = icmp(p, &proto)?;
    let cidrlist = cidrs(p, &net.cidr)?;
    let mut destcidrlist = p.list("destcidrlist");
    for c in &destcidrlist {
        c.parse::<Ipv4Cidr>()
            .map_err(|_| ApiError::param(format!("Destination cidrs formatting error {c}")))?;
    }
    destcidrlist.dedup();
    let id = new_id();
    ctx.world.egress_rules.push(EgressRule {
        id: id.clone(),
        networkid: net.id.clone(),
        protocol: proto,
        startport: start,
        endport: end,
        cidrlist,
        destcidrlist,
        icmptype,
        icmpcode,
        state: "Add".into(),
    });
    Ok(ctx.async_answer(
        EG_CREATE,
        "FirewallRule",
        &id,
        JobAction::Activate {
            object: "egressfirewallrule".into(),
            id: id.clone(),
        },
    ))
}

/// deleteEgressFirewallRule (async).
pub fn delete_egress_rule(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let exists = p
        .opt("id")
        .map(|id| ctx.world.egress_rules.iter().any(|r| r.id == id))
        .unwrap_or(false);
    delete_rule(ctx, p, exists, EG_DELETE, "egressfirewallrule")
}

/// listEgressFirewallRules (id, networkid); answers under `firewallrule` like CloudStack.
pub fn list_egress_rules(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let id = check_id_filter_in(ctx.world, p, "id")?;
    let netid = check_id_filter_in(ctx.world, p, "networkid")?;
    let w = &*ctx.world;
    let items = w
        .egress_rules
        .iter()
        .filter(|r| id.as_deref().map(|x| x == r.id).unwrap_or(true))
        .filter(|r| netid.as_deref().map(|x| x == r.networkid).unwrap_or(true))
        .filter(|r| super::project::visible(p, w.owner(&r.networkid)))
        .map(|r| render::egress_rule(w, r))
        .collect();
    list_answer(p, "firewallrule", items)
}
