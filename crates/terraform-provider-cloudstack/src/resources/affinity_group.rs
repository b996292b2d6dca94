//! `cloudstack_affinity_group`: an affinity group (`host anti-affinity` spreads its members
//! over hosts, `host affinity` keeps them together), the Go provider's schema: every argument
//! forces a new group (CloudStack cannot change one). Deleting a group with members removes
//! it from them, as CloudStack does. Import by `<id>` or `<project>/<id>`.

use cloudstack::{affinity::CreateAffinityGroup, model::AffinityGroup as CsGroup};
use tfplugin5::{async_trait, Attribute, Block, Diagnostics, Resource, Schema, Type, Value};

use crate::{
    common::{
        attr_in_text, bounded, get_str, import_state, planned_unless_failed, read_by_id,
        resolve_project, OpError,
    },
    provider::Client,
};

/// The `cloudstack_affinity_group` resource.
#[derive(Debug)]
pub struct AffinityGroup;

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

/// The group by id; with a project, every project's groups are searched (`projectid=-1`).
async fn find(c: &Client, id: &str, in_project: bool) -> Result<Option<CsGroup>, OpError> {
    let project = in_project.then_some("-1");
    bounded(c, c.timeout, c.api.get_affinity_group(id, project)).await
}

fn fill_state(base: &Value, g: &CsGroup) -> Value {
    let mut s = base.clone();
    s.set_attr("id", g.id.as_str());
    s.set_attr("name", Value::from(g.name.clone()));
    s.set_attr("description", Value::from(g.description.clone()));
    s.set_attr("type", Value::from(g.r#type.clone()));
    s
}

#[async_trait]
impl Resource<Client> for AffinityGroup {
    fn type_name(&self) -> &'static str {
        "cloudstack_affinity_group"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn create(&self, c: &Client, planned: &Value, diags: &mut Diagnostics) -> Value {
        let (Some(name), Some(kind)) = (get_str(planned, "name"), get_str(planned, "type")) else {
            diags.attribute_error("name", "name and type are required", "");
            return Value::Null;
        };
        let project_id = match get_str(planned, "project") {
            Some(p) => match resolve_project(c, "project", p, diags).await {
                Some(id) => Some(id),
                None => return Value::Null,
            },
            None => None,
        };
        let req = CreateAffinityGroup {
            name: name.to_string(),
            kind: kind.to_string(),
            // as the Go provider: the name when no description is given
            description: Some(get_str(planned, "description").unwrap_or(name).to_string()),
            project_id,
        };
        match bounded(c, c.timeout, c.api.create_affinity_group(&req)).await {
            Ok(g) => planned_unless_failed(planned, fill_state(planned, &g), diags),
            Err(e) => {
                let attr = attr_in_text(&e, &[("group type", "type"), ("name", "name")]);
                diags.push(e.diagnostic(
                    &format!("creating affinity group {name}"),
                    attr,
                    "create",
                ));
                Value::Null
            }
        }
    }

    async fn read(&self, c: &Client, state: &Value, diags: &mut Diagnostics) -> Value {
        let in_project = !state.get("project").is_null();
        let lookup = |id| find(c, id, in_project);
        read_by_id(state, "affinity group", diags, lookup, |g| {
            fill_state(state, g)
        })
        .await
    }

    async fn delete(&self, c: &Client, prior: &Value, diags: &mut Diagnostics) {
        let Some(id) = prior.get_str("id") else {
            return;
        };
        let project_id = match get_str(prior, "project") {
            Some(p) => resolve_project(c, "project", p, diags).await,
            None => None,
        };
        let deleted = c.api.delete_affinity_group(id, project_id.as_deref());
        match bounded(c, c.timeout, deleted).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                diags.push(e.diagnostic(&format!("deleting affinity group {id}"), None, "delete"))
            }
        }
    }

    /// `terraform import cloudstack_affinity_group.x <id>` or `<project>/<id>`.
    async fn import(&self, _c: &Client, id: &str, _diags: &mut Diagnostics) -> Vec<Value> {
        import_state(id, &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::common::testenv;

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
        let mut d = Diagnostics::default();
        let made = AffinityGroup
            .create(c, &planned("masters", "host anti-affinity"), &mut d)
            .await;
        assert!(!d.has_errors(), "{d:?}");
        assert_eq!(made.get_str("description"), Some("masters"));
        assert!(made.is_fully_known());
        let read = AffinityGroup.read(c, &made, &mut d).await;
        assert_eq!(read, made);

        // a second group of that name, a wrong type: errors on the field to fix
        let mut d2 = Diagnostics::default();
        let dup = AffinityGroup
            .create(c, &planned("masters", "host anti-affinity"), &mut d2)
            .await;
        assert!(dup.is_null());
        assert!(d2.0[0].detail.contains("already exists"), "{d2:?}");
        let mut d3 = Diagnostics::default();
        AffinityGroup
            .create(c, &planned("x", "anti-affinity"), &mut d3)
            .await;
        assert_eq!(d3.0[0].attribute.as_ref().unwrap().to_string(), "type");
        assert!(d3.0[0].detail.contains("host anti-affinity"), "{d3:?}");

        AffinityGroup.delete(c, &made, &mut d).await;
        assert!(AffinityGroup.read(c, &made, &mut d).await.is_null());
        // gone already: deleting again is not an error
        AffinityGroup.delete(c, &made, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert!(env.sim.world().affinity_groups.is_empty());
    }
}
