//! `cloudstack_network_acl`: a network ACL list of a VPC (Go provider
//! schema; every argument replaces it). The project is inherited from the
//! VPC, as in the Go provider.

use cloudstack::{
    model::{NetworkAclList, Vpc},
    Params,
};
use serde::{Deserialize, Serialize};
use tfplugin5::{async_trait, model::Timeouts, Attribute, Block, Diagnostics, Schema, Type};

use crate::{
    attr,
    common::{bounded, find_by_id, keep_spelling, OpError},
    kit::{Ctx, TypedResource},
    provider::Client,
};

/// The `cloudstack_network_acl` resource.
#[derive(Debug)]
pub struct NetworkAcl;

/// The resource's value.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Model {
    id: Option<String>,
    name: Option<String>,
    description: Option<String>,
    project: Option<String>,
    vpc_id: Option<String>,
    timeouts: Option<Timeouts>,
}

fn schema() -> Schema {
    Schema::new(
        Block::new()
            .attribute(Attribute::computed("id", Type::String))
            .attribute(Attribute::required("name", Type::String).force_new())
            .attribute(Attribute::optional_computed("description", Type::String).force_new())
            .attribute(Attribute::optional_computed("project", Type::String).force_new())
            .attribute(Attribute::required("vpc_id", Type::String).force_new())
            .timeouts(&["create", "delete"]),
    )
}

/// Looks an ACL list up by id (`None` when gone), in the account or any project.
async fn find_list(c: &Client, id: &str) -> Result<Option<NetworkAclList>, OpError> {
    find_by_id(c, "listNetworkACLLists", "networkacllist", id).await
}

/// The project of VPC `vpc_id` as the user spelt it (name unless they gave the id).
async fn vpc_project(c: &Client, vpc_id: &str, prior: Option<&str>) -> Option<String> {
    let vpc = find_by_id::<Vpc>(c, "listVPCs", "vpc", vpc_id)
        .await
        .ok()
        .flatten()?;
    let pid = vpc.projectid.as_deref()?;
    keep_spelling(prior, vpc.project.as_deref(), pid)
        .as_str()
        .map(str::to_string)
}

#[async_trait]
impl TypedResource for NetworkAcl {
    fn create_command(&self) -> Option<&'static str> {
        Some("createNetworkACLList")
    }

    type Model = Model;

    type View = crate::kit::NoView;

    fn type_name(&self) -> &'static str {
        "cloudstack_network_acl"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn create(&self, cx: Ctx<'_>, plan: Model, diags: &mut Diagnostics) -> Option<Model> {
        let c = cx.c;
        let limit = cx.limit("create", diags);
        let name = plan.name.clone().unwrap_or_default();
        let vpc_id = plan.vpc_id.clone().unwrap_or_default();
        let description = plan
            .description
            .clone()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| name.clone());
        let p = Params::new()
            .with("name", &name)
            .with("description", &description)
            .with("vpcid", &vpc_id);
        let api = c.api_with_timeout(limit);
        let lookup = || {
            let q = Params::new()
                .with("vpcid", &vpc_id)
                .with("name", &name)
                .with("listall", "true");
            let (api, name, vpc) = (api.clone(), name.clone(), vpc_id.clone());
            async move {
                let all = api
                    .list_all_values("listNetworkACLLists", "networkacllist", &q)
                    .await?;
                Ok(all.into_iter().find(|l| {
                    l.get("name").and_then(|n| n.as_str()) == Some(name.as_str())
                        && l.get("vpcid").and_then(|n| n.as_str()) == Some(vpc.as_str())
                }))
            }
        };
        let created =
            api.create_with_recovery("createNetworkACLList", &p, Some("networkacllist"), lookup);
        let list: NetworkAclList = match bounded(c, limit, created).await.and_then(|v| {
            serde_json::from_value(v).map_err(|e| {
                OpError::Api(cloudstack::Error::Decode {
                    command: "createNetworkACLList".into(),
                    message: e.to_string(),
                })
            })
        }) {
            Ok(l) => l,
            Err(e) => {
                diags.push(e.diagnostic(
                    &format!("creating network ACL list {name}"),
                    Some(attr!(Model, vpc_id)),
                    "create",
                ));
                return None;
            }
        };
        let project = match plan.project.clone().filter(|p| !p.is_empty()) {
            Some(p) => Some(p),
            None => vpc_project(c, &vpc_id, None).await,
        };
        Some(Model {
            id: Some(list.id),
            name: list.name.or(Some(name)),
            description: list.description.or(Some(description)),
            project,
            vpc_id: list.vpcid.or(Some(vpc_id)),
            timeouts: plan.timeouts,
        })
    }

    async fn read(&self, cx: Ctx<'_>, state: Model, diags: &mut Diagnostics) -> Option<Model> {
        let id = state.id.clone()?;
        let list = match find_list(cx.c, &id).await {
            Ok(Some(l)) => l,
            Ok(None) => return None,
            Err(e) => {
                diags.push(e.diagnostic(&format!("reading network ACL list {id}"), None, "read"));
                return None;
            }
        };
        let vpc_id = list.vpcid.clone().or(state.vpc_id.clone());
        let project = match (&state.project, &vpc_id) {
            (Some(p), Some(v)) => vpc_project(cx.c, v, Some(p)).await.or(Some(p.clone())),
            (None, Some(v)) => vpc_project(cx.c, v, None).await,
            (p, None) => p.clone(),
        };
        Some(Model {
            id: Some(list.id),
            name: list.name,
            description: list.description,
            project,
            vpc_id,
            timeouts: state.timeouts,
        })
    }

    async fn delete(&self, cx: Ctx<'_>, prior: Model, diags: &mut Diagnostics) {
        let Some(id) = prior.id else { return };
        let p = Params::new().with("id", &id);
        let what = format!("network ACL list {id}");
        cx.delete("deleteNetworkACLList", &p, &what, diags).await
    }
}
