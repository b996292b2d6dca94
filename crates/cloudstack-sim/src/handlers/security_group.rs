//! Security groups: create/delete/list (sync) and their ingress and egress rules
//! (authorize/revoke, async), with SecurityGroupManagerImpl's rules: one rule per CIDR, a rule
//! that exists already is not authorized twice (the job fails), the account's `default`
//! group cannot be deleted.

use super::{check_id_filter_in, keyword_matches, list_answer, require_id, Ctx};
use crate::error::ApiError;
use crate::params::Params;
use crate::render;
use crate::state::{new_id, JobAction};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

const AUTHORIZE_INGRESS_CMD: &str =
    "org.apache.cloudstack.api.command.user.securitygroup.AuthorizeSecurityGroupIngressCmd";
const AUTHORIZE_EGRESS_CMD: &str =
    "org.apache.cloudstack.api.command.user.securitygroup.AuthorizeSecurityGroupEgressCmd";
const REVOKE_INGRESS_CMD: &str =
    "org.apache.cloudstack.api.command.user.securitygroup.RevokeSecurityGroupIngressCmd";
const REVOKE_EGRESS_CMD: &str =
    "org.apache.cloudstack.api.command.user.securitygroup.RevokeSecurityGroupEgressCmd";

/// The name of the group every account has.
pub const DEFAULT_GROUP: &str = "default";

/// A security group and its rules.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SecurityGroup {
    /// UUID.
    pub id: String,
    /// Name (unique per account).
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Owning project, if any.
    #[serde(default)]
    pub projectid: Option<String>,
    /// Ingress rules.
    #[serde(default)]
    pub ingress: Vec<SecurityGroupRule>,
    /// Egress rules.
    #[serde(default)]
    pub egress: Vec<SecurityGroupRule>,
}

/// One rule: a protocol, a port range or ICMP type/code, and one CIDR or one group.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SecurityGroupRule {
    /// UUID.
    pub ruleid: String,
    /// `tcp`, `udp`, `icmp`, `all` or a protocol number.
    pub protocol: String,
    /// Start port (tcp/udp).
    #[serde(default)]
    pub startport: Option<i64>,
    /// End port (tcp/udp).
    #[serde(default)]
    pub endport: Option<i64>,
    /// ICMP type.
    #[serde(default)]
    pub icmptype: Option<i64>,
    /// ICMP code.
    #[serde(default)]
    pub icmpcode: Option<i64>,
    /// Source (ingress) or destination (egress) CIDR.
    #[serde(default)]
    pub cidr: Option<String>,
    /// Name of the group allowed instead of a CIDR.
    #[serde(default)]
    pub securitygroupname: Option<String>,
}

impl SecurityGroupRule {
    /// Same traffic (everything but the id).
    fn same(&self, o: &SecurityGroupRule) -> bool {
        (
            &self.protocol,
            self.startport,
            self.endport,
            self.icmptype,
            self.icmpcode,
            &self.cidr,
            &self.securitygroupname,
        ) == (
            &o.protocol,
            o.startport,
            o.endport,
            o.icmptype,
            o.icmpcode,
            &o.cidr,
            &o.securitygroupname,
        )
    }
}

fn group_by_id_or_name(
    ctx: &Ctx<'_>,
    p: &Params,
    id: &str,
    name: &str,
) -> Result<SecurityGroup, ApiError> {
    match (p.opt(id), p.opt(name)) {
        (Some(_), _) => require_id(p, id, &ctx.world.security_groups, |g| &g.id).cloned(),
        (None, Some(n)) => ctx
            .world
            .security_groups
            .iter()
            .find(|g| g.name == n)
            .cloned()
            .ok_or_else(|| ApiError::param(format!("Unable to find security group by name {n}"))),
        (None, None) => Err(ApiError::param(format!(
            "Either {id} or {name} is required"
        ))),
    }
}

/// createSecurityGroup (sync): name, description, projectid.
pub fn create(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let name = p.req("name")?.to_string();
    if ctx
        .world
        .security_groups
        .iter()
        .any(|g| g.name.eq_ignore_ascii_case(&name))
    {
        return Err(ApiError::param(format!(
            "Unable to create security group, a group with name {name} already exists."
        )));
    }
    let g = SecurityGroup {
        id: new_id(),
        name,
        description: p.opt("description").map(str::to_string),
        projectid: p.opt("projectid").map(str::to_string),
        ingress: Vec::new(),
        egress: Vec::new(),
    };
    let v = render::security_group(ctx.world, &g);
    ctx.world.security_groups.push(g);
    ctx.changed = true;
    Ok(json!({"securitygroup": v}))
}

/// deleteSecurityGroup (sync): id or name; never the `default` group, nor one a VM (not yet
/// expunged) is in.
pub fn delete(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let g = group_by_id_or_name(ctx, p, "id", "name")?;
    if g.name == DEFAULT_GROUP {
        return Err(ApiError::param(
            "The network default group cannot be deleted",
        ));
    }
    // SecurityGroupManagerImpl: ResourceInUseException, RESOURCE_IN_USE_ERROR
    if ctx
        .world
        .virtual_machines
        .iter()
        .any(|vm| vm.securitygroupids.contains(&g.id))
    {
        return Err(ApiError::with_code(
            536,
            "Cannot delete group when it's in use by virtual machines",
        ));
    }
    ctx.world.security_groups.retain(|x| x.id != g.id);
    ctx.world.tags.retain(|t| t.resourceid != g.id);
    ctx.world.retire(&g.id);
    ctx.changed = true;
    Ok(super::success())
}

/// listSecurityGroups (id, securitygroupname, keyword).
pub fn list(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let id = check_id_filter_in(ctx.world, p, "id")?;
    let w = &*ctx.world;
    let items = w
        .security_groups
        .iter()
        .filter(|g| id.as_deref().map(|i| i == g.id).unwrap_or(true))
        .filter(|g| {
            p.opt("securitygroupname")
                .map(|n| n.eq_ignore_ascii_case(&g.name))
                .unwrap_or(true)
        })
        .filter(|g| super::project::visible(p, g.projectid.as_deref()))
        .filter(|g| keyword_matches(p, &[&g.name]))
        .map(|g| render::security_group(w, g))
        .collect();
    list_answer(p, "securitygroup", items)
}

/// The rules an authorize call asks for (one per CIDR or per group), checked like
/// SecurityGroupManagerImpl does.
fn requested_rules(p: &Params) -> Result<Vec<SecurityGroupRule>, ApiError> {
    let protocol = p.opt("protocol").unwrap_or("tcp").to_ascii_lowercase();
    let known = ["tcp", "udp", "icmp", "all"].contains(&protocol.as_str())
        || protocol.parse::<u8>().is_ok();
    if !known {
        return Err(ApiError::param(format!("Invalid protocol {protocol}")));
    }
    let (mut start, mut end) = (p.int("startport")?, p.int("endport")?);
    let (mut icmptype, mut icmpcode) = (p.int("icmptype")?, p.int("icmpcode")?);
    match protocol.as_str() {
        "tcp" | "udp" => {
            let (Some(s), Some(e)) = (start, end) else {
                return Err(ApiError::param(format!(
                    "Invalid port range specified: {}:{}",
                    start
                        .map(|x| x.to_string())
                        .unwrap_or_else(|| "null".into()),
                    end.map(|x| x.to_string()).unwrap_or_else(|| "null".into())
                )));
            };
            if !(0..=65535).contains(&s) || !(0..=65535).contains(&e) {
                return Err(ApiError::param(format!("Invalid port numbers {s}:{e}")));
            }
            if s > e {
                return Err(ApiError::param(format!("Invalid port range {s}:{e}")));
            }
            (icmptype, icmpcode) = (None, None);
        }
        "icmp" => {
            let t = icmptype.unwrap_or(-1);
            let c = icmpcode.unwrap_or(-1);
            if t == -1 && c != -1 {
                return Err(ApiError::param("Invalid icmp code"));
            }
            (icmptype, icmpcode) = (Some(t), Some(c));
            (start, end) = (None, None);
        }
        _ => {
            (start, end, icmptype, icmpcode) = (None, None, None, None);
        }
    }
    let cidrs = p.list("cidrlist");
    let groups: Vec<String> = p
        .map_list("usersecuritygrouplist")
        .into_iter()
        .filter_map(|m| m.get("group").cloned())
        .collect();
    if cidrs.is_empty() && groups.is_empty() {
        return Err(ApiError::param(
            "At least one cidr or at least one security group needs to be specified",
        ));
    }
    for c in &cidrs {
        if c.parse::<crate::cidr::Ipv4Cidr>().is_err() {
            return Err(ApiError::param(format!("Invalid cidr {c}")));
        }
    }
    let rule = |cidr: Option<String>, group: Option<String>| SecurityGroupRule {
        ruleid: new_id(),
        protocol: protocol.clone(),
        startport: start,
        endport: end,
        icmptype,
        icmpcode,
        cidr,
        securitygroupname: group,
    };
    Ok(cidrs
        .into_iter()
        .map(|c| rule(Some(c), None))
        .chain(groups.into_iter().map(|g| rule(None, Some(g))))
        .collect())
}

fn authorize(ctx: &mut Ctx<'_>, p: &Params, egress: bool) -> Result<Value, ApiError> {
    let g = group_by_id_or_name(ctx, p, "securitygroupid", "securitygroupname")?;
    let rules = requested_rules(p)?;
    for r in rules.iter().filter_map(|r| r.securitygroupname.as_ref()) {
        if !ctx.world.security_groups.iter().any(|x| &x.name == r) {
            return Err(ApiError::param(format!(
                "Unable to find security group {r} for account admin"
            )));
        }
    }
    let existing = if egress { &g.egress } else { &g.ingress };
    // rules that exist already are skipped; nothing new fails the job, as in CloudStack
    let new: Vec<SecurityGroupRule> = rules
        .into_iter()
        .filter(|r| !existing.iter().any(|e| e.same(r)))
        .collect();
    let ids: Vec<String> = new.iter().map(|r| r.ruleid.clone()).collect();
    if let Some(group) = ctx.world.security_groups.iter_mut().find(|x| x.id == g.id) {
        if egress {
            group.egress.extend(new);
        } else {
            group.ingress.extend(new);
        }
    }
    let (cmd, object) = if egress {
        (AUTHORIZE_EGRESS_CMD, "securitygroupegress")
    } else {
        (AUTHORIZE_INGRESS_CMD, "securitygroupingress")
    };
    Ok(ctx.async_answer(
        cmd,
        "SecurityGroup",
        &g.id,
        JobAction::Activate {
            object: object.into(),
            id: format!("{}:{}", g.id, ids.join(",")),
        },
    ))
}

/// authorizeSecurityGroupIngress (async).
pub fn authorize_ingress(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    authorize(ctx, p, false)
}

/// authorizeSecurityGroupEgress (async).
pub fn authorize_egress(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    authorize(ctx, p, true)
}

fn revoke(ctx: &mut Ctx<'_>, p: &Params, egress: bool) -> Result<Value, ApiError> {
    let id = p.req("id")?.to_string();
    let found = ctx.world.security_groups.iter().any(|g| {
        let rules = if egress { &g.egress } else { &g.ingress };
        rules.iter().any(|r| r.ruleid == id)
    });
    if !super::looks_like_id(&id) || !found {
        return Err(p.invalid_id("id", &id));
    }
    for g in &mut ctx.world.security_groups {
        g.ingress.retain(|r| egress || r.ruleid != id);
        g.egress.retain(|r| !egress || r.ruleid != id);
    }
    ctx.world.retire(&id);
    let cmd = if egress {
        REVOKE_EGRESS_CMD
    } else {
        REVOKE_INGRESS_CMD
    };
    let jobid = ctx.job(cmd, Some("SecurityGroup"), None, JobAction::Success);
    Ok(json!({"jobid": jobid}))
}

/// revokeSecurityGroupIngress (async): id of the rule.
pub fn revoke_ingress(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    revoke(ctx, p, false)
}

/// revokeSecurityGroupEgress (async): id of the rule.
pub fn revoke_egress(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    revoke(ctx, p, true)
}

/// The job answer of an authorize: the group with only the new rules, or CloudStack's
/// failure when nothing was new. `spec` is `<group id>:<rule ids>`.
pub fn authorized(w: &crate::state::World, egress: bool, spec: &str) -> Result<Value, ApiError> {
    let (gid, ids) = spec.split_once(':').unwrap_or((spec, ""));
    let ids: Vec<&str> = ids.split(',').filter(|s| !s.is_empty()).collect();
    let Some(g) = w.security_groups.iter().find(|g| g.id == gid) else {
        return Err(ApiError::with_code(
            530,
            format!("security group {gid} no longer exists"),
        ));
    };
    if ids.is_empty() {
        let what = if egress { "egress" } else { "ingress" };
        return Err(ApiError::with_code(
            530,
            format!("Failed to authorize security group {what} rule(s)"),
        ));
    }
    let mut only_new = g.clone();
    only_new
        .ingress
        .retain(|r| !egress && ids.contains(&r.ruleid.as_str()));
    only_new
        .egress
        .retain(|r| egress && ids.contains(&r.ruleid.as_str()));
    Ok(json!({"securitygroup": render::security_group(w, &only_new)}))
}
