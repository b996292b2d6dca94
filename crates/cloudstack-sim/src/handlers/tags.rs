//! Resource tags (createTags / deleteTags are async in CloudStack).

use super::{list_answer, Ctx};
use crate::error::ApiError;
use crate::params::Params;
use crate::render;
use crate::state::{JobAction, Tag};
use serde_json::{json, Value};

const CREATE_CMD: &str = "org.apache.cloudstack.api.command.user.tag.CreateTagsCmd";
const DELETE_CMD: &str = "org.apache.cloudstack.api.command.user.tag.DeleteTagsCmd";

fn resource_exists(ctx: &Ctx<'_>, kind: &str, id: &str) -> bool {
    let w = &*ctx.world;
    match kind.to_lowercase().as_str() {
        "uservm" => w.vm(id).is_some(),
        "template" | "iso" => w.template(id).is_some(),
        "volume" => w.volumes.iter().any(|v| v.id == id),
        "network" => w.network(id).is_some(),
        "vpc" => w.vpc.vpc(id).is_some(),
        "publicipaddress" => w.public_ip(id).is_some(),
        "portforwardingrule" => w.port_forwarding_rules.iter().any(|r| r.id == id),
        "firewallrule" => {
            w.firewall_rules.iter().any(|r| r.id == id) || w.egress_rules.iter().any(|r| r.id == id)
        }
        _ => false,
    }
}

fn canonical_type(kind: &str) -> Option<&'static str> {
    const TYPES: &[&str] = &[
        "UserVm",
        "Template",
        "ISO",
        "Volume",
        "Network",
        "PublicIpAddress",
        "PortForwardingRule",
        "FirewallRule",
        "Vpc",
    ];
    TYPES.iter().copied().find(|t| t.eq_ignore_ascii_case(kind))
}

/// createTags (async): resourcetype, resourceids, tags[i].key / tags[i].value.
pub fn create(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let kind_raw = p.req("resourcetype")?;
    let kind = canonical_type(kind_raw)
        .ok_or_else(|| ApiError::param(format!("Invalid resource type {kind_raw}")))?;
    p.req("resourceids")?;
    let ids = p.list("resourceids");
    let tags = p.map_list("tags");
    if tags.is_empty() {
        return Err(p
            .req("tags")
            .err()
            .unwrap_or_else(|| ApiError::param("tags")));
    }
    for id in &ids {
        if !resource_exists(ctx, kind, id) {
            return Err(ApiError::param(format!(
                "Unable to find resource by id {id} and type {kind}"
            )));
        }
    }
    for id in &ids {
        for t in &tags {
            let (Some(k), v) = (t.get("key"), t.get("value")) else {
                return Err(ApiError::param("Tag key must be specified"));
            };
            if ctx
                .world
                .tags
                .iter()
                .any(|x| x.resourceid == *id && x.key == *k)
            {
                return Err(ApiError::param(format!("tag {k} already on {kind} {id}")));
            }
            ctx.world.tags.push(Tag {
                key: k.clone(),
                value: v.cloned().unwrap_or_default(),
                resourcetype: kind.to_string(),
                resourceid: id.clone(),
            });
        }
    }
    let jobid = ctx.job(CREATE_CMD, None, None, JobAction::Success);
    Ok(json!({"jobid": jobid}))
}

/// deleteTags (async): without `tags`, removes every tag of the resources.
pub fn delete(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let kind_raw = p.req("resourcetype")?;
    let kind = canonical_type(kind_raw)
        .ok_or_else(|| ApiError::param(format!("Invalid resource type {kind_raw}")))?;
    p.req("resourceids")?;
    let ids = p.list("resourceids");
    let tags = p.map_list("tags");
    ctx.world.tags.retain(|t| {
        let hit = t.resourcetype.eq_ignore_ascii_case(kind)
            && ids.contains(&t.resourceid)
            && (tags.is_empty()
                || tags.iter().any(|m| {
                    m.get("key") == Some(&t.key)
                        && m.get("value").map(|v| v == &t.value).unwrap_or(true)
                }));
        !hit
    });
    let jobid = ctx.job(DELETE_CMD, None, None, JobAction::Success);
    Ok(json!({"jobid": jobid}))
}

/// listTags (resourceid, resourcetype, key, value).
pub fn list(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let items = ctx
        .world
        .tags
        .iter()
        .filter(|t| {
            p.opt("resourceid")
                .map(|r| r == t.resourceid)
                .unwrap_or(true)
        })
        .filter(|t| {
            p.opt("resourcetype")
                .map(|r| r.eq_ignore_ascii_case(&t.resourcetype))
                .unwrap_or(true)
        })
        .filter(|t| p.opt("key").map(|k| k == t.key).unwrap_or(true))
        .filter(|t| p.opt("value").map(|v| v == t.value).unwrap_or(true))
        .map(render::tag)
        .collect();
    list_answer(p, "tag", items)
}
