//! Affinity groups: create/delete (async), list, the types, and a stopped VM's groups
//! (updateVMAffinityGroup). Placement itself is [`crate::placement`].

use super::{check_id_filter_in, keyword_matches, list_answer, name_matches, require_id, Ctx};
use crate::error::ApiError;
use crate::params::Params;
use crate::placement::{AffinityGroup, AFFINITY_TYPES};
use crate::render;
use crate::state::{new_id, JobAction};
use serde_json::{json, Value};

const CREATE_CMD: &str =
    "org.apache.cloudstack.api.command.user.affinitygroup.CreateAffinityGroupCmd";
const DELETE_CMD: &str =
    "org.apache.cloudstack.api.command.user.affinitygroup.DeleteAffinityGroupCmd";
const UPDATE_VM_CMD: &str =
    "org.apache.cloudstack.api.command.user.affinitygroup.UpdateVMAffinityGroupCmd";

/// The group ids a command names with `affinitygroupids` or `affinitygroupnames` (exclusive,
/// as in deployVirtualMachine and updateVMAffinityGroup).
pub fn groups_param(ctx: &Ctx<'_>, p: &Params) -> Result<Vec<String>, ApiError> {
    let ids = p.list("affinitygroupids");
    let names = p.list("affinitygroupnames");
    if !ids.is_empty() && !names.is_empty() {
        return Err(ApiError::param(
            "affinityGroupIds parameter is mutually exclusive with affinityGroupNames parameter",
        ));
    }
    let groups = &ctx.world.affinity_groups;
    let mut out = Vec::new();
    for id in ids {
        if !super::looks_like_id(&id) || !groups.iter().any(|g| g.id == id) {
            return Err(p.invalid_id("affinitygroupids", &id));
        }
        out.push(id);
    }
    for name in names {
        match groups.iter().find(|g| g.name == name) {
            Some(g) => out.push(g.id.clone()),
            None => {
                return Err(ApiError::param(format!(
                    "Unable to find affinity group by name {name}"
                )))
            }
        }
    }
    out.dedup();
    Ok(out)
}

/// createAffinityGroup (async create): name, type, description, projectid.
pub fn create(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let name = p.req("name")?.to_string();
    let kind = p.req("type")?.to_string();
    if !AFFINITY_TYPES.contains(&kind.as_str()) {
        return Err(ApiError::param(format!(
            "Unable to create affinity group, invalid affinity group type: {kind}. Valid values are {}",
            AFFINITY_TYPES.join(",")
        )));
    }
    if ctx.world.affinity_groups.iter().any(|g| g.name == name) {
        return Err(ApiError::param(format!(
            "Unable to create affinity group, a group with name {name} already exists."
        )));
    }
    let id = new_id();
    ctx.world.affinity_groups.push(AffinityGroup {
        id: id.clone(),
        name,
        description: p.opt("description").map(str::to_string),
        kind,
        projectid: p.opt("projectid").map(str::to_string),
    });
    Ok(ctx.async_answer(
        CREATE_CMD,
        "AffinityGroup",
        &id,
        JobAction::Activate {
            object: "affinitygroup".into(),
            id: id.clone(),
        },
    ))
}

/// deleteAffinityGroup (async): by id, or by name. Members lose the group (CloudStack removes
/// the VM mappings with the group).
pub fn delete(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let group =
        match (p.opt("id"), p.opt("name")) {
            (Some(_), _) => require_id(p, "id", &ctx.world.affinity_groups, |g| &g.id)?.clone(),
            (None, Some(name)) => ctx
                .world
                .affinity_groups
                .iter()
                .find(|g| g.name == name)
                .cloned()
                .ok_or_else(|| ApiError::param(format!("Unable to find affinity group {name}")))?,
            (None, None) => return Err(ApiError::param(
                "Either the affinity group Id or group name must be specified to delete the group",
            )),
        };
    Ok(ctx.async_answer(
        DELETE_CMD,
        "AffinityGroup",
        &group.id,
        JobAction::Remove {
            object: "affinitygroup".into(),
            id: group.id.clone(),
        },
    ))
}

/// listAffinityGroups (id, name, type, virtualmachineid, keyword).
pub fn list(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let id = check_id_filter_in(ctx.world, p, "id")?;
    let vmid = check_id_filter_in(ctx.world, p, "virtualmachineid")?;
    let w = &*ctx.world;
    let member_of = vmid.as_deref().map(|v| {
        w.vm(v)
            .map(|vm| vm.affinitygroupids.clone())
            .unwrap_or_default()
    });
    let items = w
        .affinity_groups
        .iter()
        .filter(|g| id.as_deref().map(|i| i == g.id).unwrap_or(true))
        .filter(|g| super::project::visible(p, g.projectid.as_deref()))
        .filter(|g| name_matches(p, &g.name))
        .filter(|g| p.opt("type").map(|t| t == g.kind).unwrap_or(true))
        .filter(|g| {
            member_of
                .as_ref()
                .map(|m| m.contains(&g.id))
                .unwrap_or(true)
        })
        .filter(|g| keyword_matches(p, &[&g.name]))
        .map(|g| render::affinity_group(w, g))
        .collect();
    list_answer(p, "affinitygroup", items)
}

/// listAffinityGroupTypes.
pub fn list_types(_ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let items = AFFINITY_TYPES.iter().map(|t| json!({"type": t})).collect();
    list_answer(p, "affinityGroupType", items)
}

/// updateVMAffinityGroup (async): id, affinitygroupids or affinitygroupnames; the VM must be
/// Stopped. An empty list removes every group.
pub fn update_vm(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let vm = require_id(p, "id", &ctx.world.virtual_machines, |v| &v.id)?.clone();
    let groups = groups_param(ctx, p)?;
    if vm.state != "Stopped" {
        return Err(ApiError::param(format!(
            "Unable update affinity groups of the virtual machine VM instance {{\"id\": {}, \"name\": \"i-2-{}-VM\", \"uuid\": \"{}\", \"type\": \"User\"}} in state {}; make sure the virtual machine is stopped and not in an error state before updating.",
            vm.number, vm.number, vm.id, vm.state
        )));
    }
    if let Some(v) = ctx.world.vm_mut(&vm.id) {
        v.affinitygroupids = groups;
    }
    Ok(ctx.async_answer(
        UPDATE_VM_CMD,
        "VirtualMachine",
        &vm.id,
        JobAction::VmResult { vm: vm.id.clone() },
    ))
}
