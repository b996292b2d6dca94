//! `cloudstack_affinity_group`: an affinity group (`host anti-affinity` spreads its members
//! over hosts, `host affinity` keeps them together), the Go provider's schema: every argument
//! forces a new group (CloudStack cannot change one). Deleting a group with members removes
//! it from them, as CloudStack does. Import by `<id>` or `<project>/<id>`. Written on the
//! typed-model kit, so a group CloudStack accepted is kept (tainted) when its create fails.

use cloudstack::{affinity::CreateAffinityGroup, model::AffinityGroup as CsGroup};
use serde::{Deserialize, Serialize};
use tfplugin5::{async_trait, model::Field, Attribute, Block, Diagnostics, Schema, Type};

use crate::{
    attr,
    common::{attr_in_text, bounded, deleted, found, OpError},
    kit::{Ctx, TypedResource},
};

/// The `cloudstack_affinity_group` resource.
#[derive(Debug)]
pub struct AffinityGroup;

/// The resource's attributes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Model {
    id: Field<String>,
    /// Null after an import until the first read.
    name: Field<String>,
    description: Field<String>,
    r#type: Field<String>,
    project: Option<String>,
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
            .attribute(
                Attribute::required("type", Type::String)
                    .force_new()
                    .description("`host anti-affinity` or `host affinity`."),
            )
            .attribute(Attribute::optional("project", Type::String).force_new()),
    )
}

impl Model {
    fn fill(mut self, g: &CsGroup) -> Model {
        self.id = Field::Known(g.id.clone());
        self.name = g.name.clone().into();
        self.description = g.description.clone().into();
        self.r#type = g.r#type.clone().into();
        self
    }
}

/// The group by id; with a project, every project's groups are searched (`projectid=-1`).
async fn find(cx: Ctx<'_>, id: &str, in_project: bool) -> Result<Option<CsGroup>, OpError> {
    let project = in_project.then_some("-1");
    bounded(cx.c, cx.c.timeout, cx.c.api.get_affinity_group(id, project)).await
}

#[async_trait]
impl TypedResource for AffinityGroup {
    type Model = Model;
    type View = crate::kit::NoView;

    fn type_name(&self) -> &'static str {
        "cloudstack_affinity_group"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn create_command(&self) -> Option<&'static str> {
        Some("createAffinityGroup")
    }

    async fn create(&self, cx: Ctx<'_>, plan: Model, diags: &mut Diagnostics) -> Option<Model> {
        let project_id = cx.project_id(plan.project.as_deref(), diags).await.ok()?;
        let name = plan.name.non_empty()?.to_string();
        let req = CreateAffinityGroup {
            name: name.clone(),
            kind: plan.r#type.known().cloned().unwrap_or_default(),
            // as the Go provider: the name when no description is given
            description: Some(plan.description.non_empty().unwrap_or(&name).to_string()),
            project_id,
        };
        match bounded(cx.c, cx.c.timeout, cx.c.api.create_affinity_group(&req)).await {
            Ok(g) => Some(plan.fill(&g)),
            Err(e) => {
                let attr = attr_in_text(
                    &e,
                    &[
                        ("group type", attr!(Model, r#type)),
                        ("name", attr!(Model, name)),
                    ],
                );
                diags.push(e.diagnostic(
                    &format!("creating affinity group {name}"),
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
            find(cx, &id, state.project.is_some()).await,
            "affinity group",
            &id,
            "read",
            diags,
        )?;
        Some(state.fill(&g))
    }

    async fn delete(&self, cx: Ctx<'_>, prior: Model, diags: &mut Diagnostics) {
        let Some(id) = prior.id.known() else { return };
        let Ok(project_id) = cx.project_id(prior.project.as_deref(), diags).await else {
            return;
        };
        let call = cx.c.api.delete_affinity_group(id, project_id.as_deref());
        deleted(
            bounded(cx.c, cx.c.timeout, call).await,
            &format!("deleting affinity group {id}"),
            diags,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::{
        common::testenv::{self, interrupted_client},
        kit::Typed,
    };
    use tfplugin5::{Resource, Value};

    fn planned(name: &str, kind: &str) -> Value {
        Value::object([
            ("id", Value::Unknown),
            ("name", Value::from(name)),
            ("description", Value::Unknown),
            ("type", Value::from(kind)),
            ("project", Value::Null),
        ])
    }

    #[tokio::test]
    async fn create_read_delete_and_errors_name_the_field() {
        let env = testenv::start(Default::default()).await;
        let c = &env.client;
        let r = Typed(AffinityGroup);
        let mut d = Diagnostics::default();
        let made = r
            .create(c, &planned("masters", "host anti-affinity"), &mut d)
            .await;
        assert!(!d.has_errors(), "{d:?}");
        assert_eq!(made.get_str("description"), Some("masters"));
        assert!(made.is_fully_known());
        let read = r.read(c, &made, &mut d).await;
        assert_eq!(read, made);

        // a second group of that name, a wrong type: errors on the field to fix
        let mut d2 = Diagnostics::default();
        let dup = r
            .create(c, &planned("masters", "host anti-affinity"), &mut d2)
            .await;
        assert!(dup.is_null());
        assert!(d2.0[0].detail.contains("already exists"), "{d2:?}");
        let mut d3 = Diagnostics::default();
        r.create(c, &planned("x", "anti-affinity"), &mut d3).await;
        assert_eq!(d3.0[0].attribute.as_ref().unwrap().to_string(), "type");
        assert!(d3.0[0].detail.contains("host anti-affinity"), "{d3:?}");

        r.delete(c, &made, &mut d).await;
        assert!(r.read(c, &made, &mut d).await.is_null());
        // gone already: deleting again is not an error
        r.delete(c, &made, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert!(env.sim.world().affinity_groups.is_empty());
    }

    /// Ctrl-C while `createAffinityGroup`'s job runs: the group CloudStack accepted is
    /// kept in state (tainted) with its id instead of being orphaned.
    #[tokio::test]
    async fn an_accepted_create_interrupted_is_kept_tainted() {
        let (env, c) = interrupted_client("createaffinitygroup").await;
        let mut d = Diagnostics::default();
        let state = Typed(AffinityGroup)
            .create(&c, &planned("spread", "host anti-affinity"), &mut d)
            .await;
        let held: Vec<String> = env
            .sim
            .world()
            .affinity_groups
            .iter()
            .map(|g| g.id.clone())
            .collect();
        testenv::assert_kept_tainted(&state, &d, &held);
    }
}
