//! `cloudstack_security_group`: a security group (SG-enabled zones), the Go provider's
//! schema; every argument forces a new group. Its rules are `cloudstack_security_group_rule`.
//! Import by `<id>` or `<project>/<id>`. Written on the typed-model kit ([`crate::kit`]).

use cloudstack::security_group::SecurityGroup as CsGroup;
use serde::{Deserialize, Serialize};
use tfplugin5::{async_trait, model::Field, Attribute, Block, Diagnostics, Schema, Type};

use crate::{
    attr,
    common::{attr_in_text, bounded, deleted, found, keep_spelling, OpError},
    kit::{Ctx, TypedResource},
};

/// The `cloudstack_security_group` resource.
#[derive(Debug)]
pub struct SecurityGroup;

/// The resource's attributes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Model {
    id: Field<String>,
    /// Null after an import until the first read.
    name: Field<String>,
    description: Field<String>,
    project: Field<String>,
}

fn schema() -> Schema {
    Schema::new(
        Block::new()
            .attribute(Attribute::computed("id", Type::String))
            .attribute(Attribute::required("name", Type::String).force_new())
            .attribute(
                Attribute::optional_computed("description", Type::String)
                    .force_new()
                    .description("Defaults to the name."),
            )
            .attribute(Attribute::optional_computed("project", Type::String).force_new()),
    )
}

impl Model {
    fn fill(mut self, g: &CsGroup) -> Model {
        self.id = Field::Known(g.id.clone());
        if let Some(n) = &g.name {
            self.name = Field::Known(n.clone());
        }
        self.description = g.description.clone().map_or(Field::Null, Field::Known);
        self.project = match &g.projectid {
            Some(pid) => {
                let spelled = keep_spelling(
                    self.project.known().map(String::as_str),
                    g.project.as_deref(),
                    pid,
                );
                spelled
                    .as_str()
                    .map_or(Field::Null, |s| Field::Known(s.to_string()))
            }
            None => Field::Null,
        };
        self
    }
}

async fn find(cx: Ctx<'_>, id: &str, in_project: bool) -> Result<Option<CsGroup>, OpError> {
    bounded(
        cx.c,
        cx.c.timeout,
        cx.c.api.get_security_group(id, in_project),
    )
    .await
}

#[async_trait]
impl TypedResource for SecurityGroup {
    fn create_command(&self) -> Option<&'static str> {
        Some("createSecurityGroup")
    }

    type Model = Model;

    type View = crate::kit::NoView;

    fn type_name(&self) -> &'static str {
        "cloudstack_security_group"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn create(&self, cx: Ctx<'_>, plan: Model, diags: &mut Diagnostics) -> Option<Model> {
        let project = cx.project_id(plan.project.non_empty(), diags).await.ok()?;
        let name = plan.name.non_empty()?.to_string();
        // as the Go provider: the name when no description is given
        let description = plan.description.non_empty().unwrap_or(&name).to_string();
        let created =
            cx.c.api
                .create_security_group(&name, Some(&description), project.as_deref());
        match bounded(cx.c, cx.c.timeout, created).await {
            Ok(g) => Some(plan.fill(&g)),
            Err(e) => {
                let attr = attr_in_text(
                    &e,
                    &[
                        ("name", attr!(Model, name)),
                        ("project", attr!(Model, project)),
                    ],
                );
                diags.push(e.diagnostic(
                    &format!("creating security group {name}"),
                    attr,
                    "create",
                ));
                None
            }
        }
    }

    async fn read(&self, cx: Ctx<'_>, state: Model, diags: &mut Diagnostics) -> Option<Model> {
        let id = state.id.known()?.clone();
        let g = found(
            find(cx, &id, !state.project.is_null()).await,
            "security group",
            &id,
            "read",
            diags,
        )?;
        Some(state.fill(&g))
    }

    async fn delete(&self, cx: Ctx<'_>, prior: Model, diags: &mut Diagnostics) {
        let Some(id) = prior.id.known() else { return };
        let Ok(project) = cx.project_id(prior.project.non_empty(), diags).await else {
            return;
        };
        let call = cx.c.api.delete_security_group(id, project.as_deref());
        deleted(
            bounded(cx.c, cx.c.timeout, call).await,
            &format!("deleting security group {id}"),
            diags,
        );
    }
}
