//! Affinity groups: `createAffinityGroup` recovered by name (names are unique per account or
//! project), `deleteAffinityGroup` idempotent on a retry, `listAffinityGroups`.

use crate::{client::Client, error::Result, model::AffinityGroup, params::Params};

/// Arguments of `createAffinityGroup`.
#[derive(Debug, Clone, Default)]
pub struct CreateAffinityGroup {
    /// `name`.
    pub name: String,
    /// `type` (`host anti-affinity`, `host affinity`, ...).
    pub kind: String,
    /// `description`.
    pub description: Option<String>,
    /// `projectid`.
    pub project_id: Option<String>,
}

impl Client {
    /// `createAffinityGroup`, waiting for its job; an unclear failure is recovered by finding
    /// the group of that name (in the project, if any).
    pub async fn create_affinity_group(&self, req: &CreateAffinityGroup) -> Result<AffinityGroup> {
        const CMD: &str = "createAffinityGroup";
        let mut params = Params::new()
            .with("name", &req.name)
            .with("type", &req.kind);
        params
            .set_opt("description", req.description.as_deref())
            .set_opt("projectid", req.project_id.as_deref());
        let scope = scope(req.project_id.as_deref()).with("name", &req.name);
        let lookup = || self.find_by_name("listAffinityGroups", "affinitygroup", &scope, &req.name);
        let v = self
            .create_with_recovery(CMD, &params, Some("affinitygroup"), lookup)
            .await?;
        Self::typed(CMD, v)
    }

    /// `deleteAffinityGroup` by id (with `projectid` for a project's group).
    pub async fn delete_affinity_group(&self, id: &str, project_id: Option<&str>) -> Result<()> {
        let mut p = Params::new().with("id", id);
        p.set_opt("projectid", project_id);
        self.delete_async("deleteAffinityGroup", &p).await
    }

    /// `listAffinityGroups`, all pages.
    pub async fn list_affinity_groups(&self, params: &Params) -> Result<Vec<AffinityGroup>> {
        self.list_all("listAffinityGroups", "affinitygroup", params)
            .await
    }

    /// One affinity group by id, `None` when it does not exist.
    pub async fn get_affinity_group(
        &self,
        id: &str,
        project_id: Option<&str>,
    ) -> Result<Option<AffinityGroup>> {
        let p = scope(project_id).with("id", id);
        match self.list_affinity_groups(&p).await {
            Ok(groups) => Ok(groups.into_iter().find(|g| g.id == id)),
            Err(e) if e.is_param_error() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// List parameters that see a project's objects (`projectid`) or all of the caller's
/// (`listall`).
fn scope(project_id: Option<&str>) -> Params {
    match project_id {
        Some(p) => Params::new().with("projectid", p),
        None => Params::new().with("listall", "true"),
    }
}
