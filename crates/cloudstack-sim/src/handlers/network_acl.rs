//! Network ACL lists and their items (rules) of VPC tiers: createNetworkACLList,
//! listNetworkACLLists, deleteNetworkACLList, createNetworkACL, listNetworkACLs,
//! updateNetworkACLItem, deleteNetworkACL, replaceNetworkACLList. Checks and texts
//! follow CloudStack's `NetworkACLServiceImpl` / `NetworkACLManagerImpl`.

use super::{check_id_filter_in, keyword_matches, list_answer, optional_id, require_id, Ctx};
use crate::error::{cs_code, ApiError};
use crate::params::Params;
use crate::render;
use crate::state::{
    new_id, JobAction, NetworkAclItem, NetworkAclList, World, DEFAULT_ALLOW_ACL_ID,
    DEFAULT_DENY_ACL_ID,
};
use serde_json::{json, Value};

const CREATE_LIST_CMD: &str =
    "org.apache.cloudstack.api.command.user.network.CreateNetworkACLListCmd";
const DELETE_LIST_CMD: &str =
    "org.apache.cloudstack.api.command.user.network.DeleteNetworkACLListCmd";
const REPLACE_CMD: &str = "org.apache.cloudstack.api.command.user.network.ReplaceNetworkACLListCmd";
const CREATE_CMD: &str = "org.apache.cloudstack.api.command.user.network.CreateNetworkACLCmd";
const UPDATE_CMD: &str = "org.apache.cloudstack.api.command.user.network.UpdateNetworkACLItemCmd";
const DELETE_CMD: &str = "org.apache.cloudstack.api.command.user.network.DeleteNetworkACLCmd";

fn is_default(id: &str) -> bool {
    id == DEFAULT_ALLOW_ACL_ID || id == DEFAULT_DENY_ACL_ID
}

fn job(object: &str, id: &str, remove: bool) -> JobAction {
    JobAction::Vpc {
        object: object.into(),
        id: id.into(),
        remove,
    }
}

/// An ACL list as CloudStack's `NetworkACLResponse` shows it (no `vpcid` for the
/// built-in lists).
pub fn render_list(l: &NetworkAclList) -> Value {
    let mut v = json!({
        "id": l.id, "name": l.name, "description": l.description, "fordisplay": true,
    });
    if let (Some(vpc), Some(m)) = (&l.vpcid, v.as_object_mut()) {
        m.insert("vpcid".into(), json!(vpc));
    }
    v
}

/// An ACL item as CloudStack's `NetworkACLItemResponse` shows it: ports as strings,
/// `cidrlist` comma separated.
pub fn render_item(w: &World, i: &NetworkAclItem) -> Value {
    let mut v = json!({
        "id": i.id, "protocol": i.protocol, "traffictype": i.traffictype, "state": i.state,
        "cidrlist": i.cidrlist.join(","), "aclid": i.aclid,
        "aclname": w.vpc.acl_list(&i.aclid).map(|l| l.name.clone()).unwrap_or_default(),
        "number": i.number, "action": i.action, "fordisplay": true,
        "tags": render::tags_json(w, &i.id),
    });
    if let Some(m) = v.as_object_mut() {
        if let Some(p) = i.startport {
            m.insert("startport".into(), json!(p.to_string()));
        }
        if let Some(p) = i.endport {
            m.insert("endport".into(), json!(p.to_string()));
        }
        if let Some(t) = i.icmptype {
            m.insert("icmptype".into(), json!(t));
        }
        if let Some(c) = i.icmpcode {
            m.insert("icmpcode".into(), json!(c));
        }
        if let Some(r) = &i.reason {
            m.insert("reason".into(), json!(r));
        }
    }
    v
}

/// createNetworkACLList (async): name, vpcid; description optional.
pub fn create_list(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let name = p.req("name")?.to_string();
    let vpc = require_id(p, "vpcid", &ctx.world.vpc.vpcs, |v| &v.id)?.clone();
    let id = new_id();
    ctx.world.vpc.acl_lists.push(NetworkAclList {
        id: id.clone(),
        description: p.opt("description").unwrap_or(&name).to_string(),
        name,
        vpcid: Some(vpc.id),
    });
    Ok(ctx.async_answer(
        CREATE_LIST_CMD,
        "NetworkAclList",
        &id,
        job("networkacllist", &id, false),
    ))
}

/// listNetworkACLLists (id, name, vpcid, networkid, keyword): the VPC's lists and the
/// built-in ones.
pub fn list_lists(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let id = check_id_filter_in(ctx.world, p, "id")?;
    let vpcid = check_id_filter_in(ctx.world, p, "vpcid")?;
    let networkid = check_id_filter_in(ctx.world, p, "networkid")?;
    let w = &*ctx.world;
    let tier_acl = networkid.as_deref().map(|n| w.vpc.tier_acls.get(n));
    let items = w
        .vpc
        .acl_lists
        .iter()
        .filter(|l| id.as_deref().is_none_or(|i| i == l.id))
        .filter(|l| {
            vpcid
                .as_deref()
                .is_none_or(|v| l.vpcid.as_deref() == Some(v) || l.vpcid.is_none())
        })
        .filter(|l| tier_acl.is_none_or(|a| a == Some(&l.id)))
        .filter(|l| super::name_matches(p, &l.name))
        .filter(|l| keyword_matches(p, &[&l.name, &l.description]))
        .map(render_list)
        .collect();
    list_answer(p, "networkacllist", items)
}

/// deleteNetworkACLList (async): not the built-in lists, not while a tier uses it; its
/// items go with it.
pub fn delete_list(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let list = require_id(p, "id", &ctx.world.vpc.acl_lists, |l| &l.id)?.clone();
    if is_default(&list.id) {
        return Err(ApiError::param("Default ACL cannot be removed"));
    }
    let tiers = ctx
        .world
        .vpc
        .tier_acls
        .values()
        .filter(|a| **a == list.id)
        .count();
    if tiers > 0 {
        return Err(ApiError {
            errorcode: 530,
            cserrorcode: Some(cs_code::CLOUD_RUNTIME),
            errortext: format!(
                "ACL is still associated with {tiers} tier(s). Cannot delete network ACL: {}",
                list.id
            ),
        });
    }
    let jobid = ctx.job(
        DELETE_LIST_CMD,
        Some("NetworkAclList"),
        Some(&list.id),
        job("networkacllist", &list.id, true),
    );
    Ok(json!({"jobid": jobid}))
}

/// replaceNetworkACLList (async): aclid, networkid (a VPC tier of the list's VPC).
pub fn replace_list(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let list = require_id(p, "aclid", &ctx.world.vpc.acl_lists, |l| &l.id)?.clone();
    let Some(net) = optional_id(p, "networkid", &ctx.world.networks, |n| &n.id)?.cloned() else {
        return Err(ApiError::param(
            "Network ID and private gateway can't be passed at the same time",
        ));
    };
    let Some(vpcid) = net.vpcid.clone() else {
        return Err(ApiError::param(format!(
            "Network is not part of a VPC: {}",
            net.id
        )));
    };
    if !is_default(&list.id) && list.vpcid.as_deref() != Some(vpcid.as_str()) {
        return Err(ApiError::param(format!(
            "Network: {} and ACL: {} do not belong to the same VPC",
            net.id, list.id
        )));
    }
    ctx.world.vpc.tier_acls.insert(net.id.clone(), list.id);
    ctx.changed = true;
    let jobid = ctx.job(
        REPLACE_CMD,
        Some("Network"),
        Some(&net.id),
        JobAction::Success,
    );
    Ok(json!({"jobid": jobid}))
}

/// The fields of an ACL item a create or update may set, checked like
/// `NetworkACLServiceImpl.validateNetworkACLItem`.
fn apply_fields(item: &mut NetworkAclItem, p: &Params) -> Result<(), ApiError> {
    if let Some(proto) = p.opt("protocol") {
        let lower = proto.to_ascii_lowercase();
        if !matches!(lower.as_str(), "tcp" | "udp" | "icmp" | "all") {
            match proto.parse::<i64>() {
                Ok(n) if !(0..=255).contains(&n) => {
                    return Err(ApiError::param(format!("Invalid protocol number: {n}")))
                }
                Ok(_) => {}
                Err(_) => return Err(ApiError::param(format!("Invalid protocol: {proto}"))),
            }
        }
        item.protocol = lower;
    }
    let port = |name: &str| -> Result<Option<u16>, ApiError> {
        match p.int(name)? {
            None => Ok(None),
            Some(v) => u16::try_from(v)
                .ok()
                .filter(|v| *v > 0)
                .map(Some)
                .ok_or_else(|| ApiError::param(format!("Invalid value for {name}: {v}"))),
        }
    };
    if let Some(s) = port("startport")? {
        item.startport = Some(s);
        if p.opt("endport").is_none() {
            item.endport = Some(s);
        }
    }
    if let Some(e) = port("endport")? {
        item.endport = Some(e);
    }
    if p.opt("cidrlist").is_some() {
        let cidrs = p.list("cidrlist");
        for c in &cidrs {
            c.parse::<crate::cidr::Ipv4Cidr>()
                .map_err(|_| ApiError::param(format!("Invalid cidr {c}")))?;
        }
        item.cidrlist = cidrs;
    }
    if let Some(t) = p.int("icmptype")? {
        item.icmptype = Some(t);
    }
    if let Some(c) = p.int("icmpcode")? {
        item.icmpcode = Some(c);
    }
    if let Some(t) = p.opt("traffictype") {
        item.traffictype = match t.to_ascii_lowercase().as_str() {
            "ingress" => "Ingress".into(),
            "egress" => "Egress".into(),
            _ => return Err(p.invalid_value("traffictype", t, "TrafficType")),
        };
    }
    if let Some(a) = p.opt("action") {
        item.action = match a.to_ascii_lowercase().as_str() {
            "allow" => "Allow".into(),
            "deny" => "Deny".into(),
            _ => {
                return Err(ApiError::param(format!(
                    "Invalid action [{a}]. Permitted actions are Allow and Deny"
                )))
            }
        };
    }
    if let Some(r) = p.opt("reason") {
        item.reason = Some(r.to_string());
    }
    if let (Some(s), Some(e)) = (item.startport, item.endport) {
        if s > e {
            return Err(ApiError::param("Start port can't be bigger than end port"));
        }
    }
    let ported = item.startport.is_some() || item.endport.is_some();
    if ported && !matches!(item.protocol.as_str(), "tcp" | "udp") {
        return Err(ApiError::param(format!(
            "Can specify start/end port only for protocols TCP and UDP, not {}",
            item.protocol
        )));
    }
    if (item.icmptype.is_some() || item.icmpcode.is_some()) && item.protocol != "icmp" {
        return Err(ApiError::param(
            "Can specify icmpCode and icmpType for ICMP protocol only",
        ));
    }
    Ok(())
}

fn check_number(w: &World, aclid: &str, number: i64, except: Option<&str>) -> Result<(), ApiError> {
    if number < 1 {
        return Err(ApiError::param(format!(
            "Invalid number [{number}]. Number cannot be < 1"
        )));
    }
    let taken = w
        .vpc
        .acl_items
        .iter()
        .any(|i| i.aclid == aclid && i.number == number && Some(i.id.as_str()) != except);
    if taken {
        return Err(ApiError::param(format!(
            "ACL item with number {number} already exists in ACL: {aclid}"
        )));
    }
    Ok(())
}

/// createNetworkACL (async): aclid (or networkid of a tier), protocol; startport,
/// endport, cidrlist (default 0.0.0.0/0), icmptype, icmpcode, traffictype (Ingress),
/// action (Allow), number (next free), reason.
pub fn create_item(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let aclid = match p.opt("aclid") {
        Some(_) => require_id(p, "aclid", &ctx.world.vpc.acl_lists, |l| &l.id)?
            .id
            .clone(),
        None => {
            let Some(net) = optional_id(p, "networkid", &ctx.world.networks, |n| &n.id)? else {
                return Err(ApiError::param(
                    "Cannot create Network ACL Item. ACL Id or network Id is required",
                ));
            };
            if net.vpcid.is_none() {
                return Err(ApiError::param(format!(
                    "Network: {} does not belong to VPC",
                    net.id
                )));
            }
            match ctx.world.vpc.tier_acls.get(&net.id) {
                Some(a) => a.clone(),
                None => {
                    return Err(ApiError::param(format!(
                        "Network: {} has no ACL list; give aclid",
                        net.id
                    )))
                }
            }
        }
    };
    if is_default(&aclid) {
        return Err(ApiError::param("Default ACL cannot be modified"));
    }
    p.req("protocol")?;
    let number = match p.int("number")? {
        Some(n) => {
            check_number(ctx.world, &aclid, n, None)?;
            n
        }
        None => {
            ctx.world
                .vpc
                .acl_items
                .iter()
                .filter(|i| i.aclid == aclid)
                .map(|i| i.number)
                .max()
                .unwrap_or(0)
                + 1
        }
    };
    let id = new_id();
    let mut item = NetworkAclItem {
        id: id.clone(),
        aclid,
        number,
        protocol: String::new(),
        startport: None,
        endport: None,
        cidrlist: vec!["0.0.0.0/0".into()],
        icmptype: None,
        icmpcode: None,
        traffictype: "Ingress".into(),
        action: "Allow".into(),
        reason: None,
        state: "Add".into(),
    };
    apply_fields(&mut item, p)?;
    ctx.world.vpc.acl_items.push(item);
    Ok(ctx.async_answer(CREATE_CMD, "NetworkAcl", &id, job("networkacl", &id, false)))
}

/// listNetworkACLs (id, aclid, networkid, protocol, traffictype, action, keyword).
pub fn list_items(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let id = check_id_filter_in(ctx.world, p, "id")?;
    let aclid = check_id_filter_in(ctx.world, p, "aclid")?;
    let networkid = check_id_filter_in(ctx.world, p, "networkid")?;
    let w = &*ctx.world;
    let tier_acl = networkid
        .as_deref()
        .map(|n| w.vpc.tier_acls.get(n).cloned());
    let items = w
        .vpc
        .acl_items
        .iter()
        .filter(|i| id.as_deref().is_none_or(|x| x == i.id))
        .filter(|i| aclid.as_deref().is_none_or(|a| a == i.aclid))
        .filter(|i| {
            tier_acl
                .as_ref()
                .is_none_or(|a| a.as_deref() == Some(i.aclid.as_str()))
        })
        .filter(|i| {
            p.opt("protocol")
                .is_none_or(|x| x.eq_ignore_ascii_case(&i.protocol))
        })
        .filter(|i| {
            p.opt("traffictype")
                .is_none_or(|x| x.eq_ignore_ascii_case(&i.traffictype))
        })
        .filter(|i| {
            p.opt("action")
                .is_none_or(|x| x.eq_ignore_ascii_case(&i.action))
        })
        .filter(|i| keyword_matches(p, &[&i.protocol, i.reason.as_deref().unwrap_or("")]))
        .map(|i| render_item(w, i))
        .collect();
    list_answer(p, "networkacl", items)
}

/// updateNetworkACLItem (async): id; any field of the create.
pub fn update_item(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let mut item = require_id(p, "id", &ctx.world.vpc.acl_items, |i| &i.id)?.clone();
    if is_default(&item.aclid) {
        return Err(ApiError::param("Default ACL cannot be modified"));
    }
    if let Some(n) = p.int("number")? {
        check_number(ctx.world, &item.aclid, n, Some(&item.id))?;
        item.number = n;
    }
    apply_fields(&mut item, p)?;
    let id = item.id.clone();
    if let Some(slot) = ctx.world.vpc.acl_items.iter_mut().find(|i| i.id == id) {
        *slot = item;
    }
    ctx.changed = true;
    Ok(ctx.async_answer(UPDATE_CMD, "NetworkAcl", &id, job("networkacl", &id, false)))
}

/// deleteNetworkACL (async): id.
pub fn delete_item(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let item = require_id(p, "id", &ctx.world.vpc.acl_items, |i| &i.id)?.clone();
    if is_default(&item.aclid) {
        return Err(ApiError::param("Default ACL cannot be modified"));
    }
    if let Some(slot) = ctx.world.vpc.acl_items.iter_mut().find(|i| i.id == item.id) {
        slot.state = "Revoke".into();
    }
    let jobid = ctx.job(
        DELETE_CMD,
        Some("NetworkAcl"),
        Some(&item.id),
        job("networkacl", &item.id, true),
    );
    Ok(json!({"jobid": jobid}))
}
