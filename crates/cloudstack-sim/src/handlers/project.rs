//! Projects: createProject, updateProject, deleteProject (async) and listProjects, owned by
//! the simulator's one account. Objects of a project are listed only with its `projectid`
//! (or `projectid=-1` for every project), as CloudStack does; see [`visible`].

use super::{check_id_filter_in, keyword_matches, list_answer, name_matches, require_id, Ctx};
use crate::error::ApiError;
use crate::params::Params;
use crate::render;
use crate::state::{new_id, timestamp, JobAction};
use serde::{Deserialize, Serialize};
use serde_json::Value;

const CREATE_CMD: &str = "org.apache.cloudstack.api.command.user.project.CreateProjectCmd";
const UPDATE_CMD: &str = "org.apache.cloudstack.api.command.user.project.UpdateProjectCmd";
const DELETE_CMD: &str = "org.apache.cloudstack.api.command.user.project.DeleteProjectCmd";

/// A project.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Project {
    /// UUID.
    pub id: String,
    /// Name (unique in the domain).
    pub name: String,
    /// Display text.
    pub displaytext: String,
    /// `Active`, `Suspended`.
    pub state: String,
    /// Creation time.
    pub created: String,
}

/// Whether an object owned by `owner` (a project id, or `None` for the account) is listed
/// for the request's `projectid`: the account's objects without one, a project's with its
/// id, every project's with `-1` (CloudStack's `ListProjectResourcesCriteria`:
/// `SkipProjectResources` without `projectid`, `ListProjectResourcesOnly` with `-1`). A
/// list by `id` without `projectid` sets no criteria, so it finds a project's object too.
pub fn visible(p: &Params, owner: Option<&str>) -> bool {
    match (p.opt("projectid"), owner) {
        (None, None) => true,
        (None, Some(_)) => p.opt("id").is_some(),
        (Some("-1"), o) => o.is_some(),
        (Some(want), o) => o == Some(want),
    }
}

/// createProject (async create): name, displaytext, domainid.
pub fn create(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let name = p.req("name")?.to_string();
    // the one domain there is; any other id fails CloudStack's id translation
    if let Some(d) = p.opt("domainid").filter(|d| *d != render::DOMAIN_ID) {
        return Err(p.invalid_id("domainid", d));
    }
    if ctx
        .world
        .projects
        .iter()
        .any(|x| x.name.eq_ignore_ascii_case(&name))
    {
        return Err(ApiError::param(format!(
            "Project with name {name} already exists in domain id={}",
            render::DOMAIN_ID
        )));
    }
    let id = new_id();
    ctx.world.projects.push(Project {
        id: id.clone(),
        displaytext: p.opt("displaytext").unwrap_or(&name).to_string(),
        name,
        state: "Active".into(),
        created: timestamp(),
    });
    Ok(ctx.async_answer(
        CREATE_CMD,
        "Project",
        &id,
        JobAction::Activate {
            object: "project".into(),
            id: id.clone(),
        },
    ))
}

/// updateProject (async): id, name, displaytext.
pub fn update(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let pr = require_id(p, "id", &ctx.world.projects, |x| &x.id)?.clone();
    if let Some(n) = p.opt("name") {
        if ctx
            .world
            .projects
            .iter()
            .any(|x| x.id != pr.id && x.name.eq_ignore_ascii_case(n))
        {
            return Err(ApiError::param(format!(
                "Project with name {n} already exists in domain id={}",
                render::DOMAIN_ID
            )));
        }
    }
    if let Some(x) = ctx.world.projects.iter_mut().find(|x| x.id == pr.id) {
        if let Some(n) = p.opt("name") {
            x.name = n.to_string();
        }
        if let Some(d) = p.opt("displaytext") {
            x.displaytext = d.to_string();
        }
    }
    Ok(ctx.async_answer(
        UPDATE_CMD,
        "Project",
        &pr.id,
        JobAction::Activate {
            object: "project".into(),
            id: pr.id.clone(),
        },
    ))
}

/// deleteProject (async): id.
pub fn delete(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let pr = require_id(p, "id", &ctx.world.projects, |x| &x.id)?.clone();
    Ok(ctx.async_answer(
        DELETE_CMD,
        "Project",
        &pr.id,
        JobAction::Remove {
            object: "project".into(),
            id: pr.id.clone(),
        },
    ))
}

/// listProjects (id, name, displaytext, state, keyword).
pub fn list(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let id = check_id_filter_in(ctx.world, p, "id")?;
    let items = ctx
        .world
        .projects
        .iter()
        .filter(|x| id.as_deref().map(|i| i == x.id).unwrap_or(true))
        .filter(|x| name_matches(p, &x.name))
        .filter(|x| {
            p.opt("displaytext")
                .map(|d| d == x.displaytext)
                .unwrap_or(true)
        })
        .filter(|x| {
            p.opt("state")
                .map(|s| s.eq_ignore_ascii_case(&x.state))
                .unwrap_or(true)
        })
        .filter(|x| keyword_matches(p, &[&x.name, &x.displaytext]))
        .map(render::project)
        .collect();
    list_answer(p, "project", items)
}
