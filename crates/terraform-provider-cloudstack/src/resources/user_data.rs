//! `cloudstack_user_data`: user data registered once (`registerUserData`, CloudStack 4.18+)
//! and referenced by instances through `userdata_id`. Every argument forces a new
//! registration (CloudStack cannot change one). Import by `<id>` or `<project>/<id>`.
//! Written on the typed-model kit: a registration CloudStack accepted is kept (tainted)
//! when a later step fails.

use cloudstack::user_data::{RegisterUserData, UserData as CsUserData};
use cloudstack::Params;
use serde::{Deserialize, Serialize};
use tfplugin5::{async_trait, model::Field, Attribute, Block, Diagnostics, Schema, Type, Value};

use crate::{
    attr,
    common::{attr_in_text, bounded, found, split_import_id, OpError},
    kit::{imported, Ctx, TypedResource},
};

/// The `cloudstack_user_data` resource.
#[derive(Debug)]
pub struct UserData;

/// The resource's attributes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Model {
    id: Field<String>,
    /// Null after an import until the first read.
    name: Field<String>,
    userdata: Field<String>,
    account: Field<String>,
    domain_id: Field<String>,
    params: Field<Vec<String>>,
    project_id: Field<String>,
}

fn schema() -> Schema {
    Schema::new(
        Block::new()
            .attribute(Attribute::computed("id", Type::String))
            .attribute(Attribute::required("name", Type::String).force_new())
            .attribute(
                Attribute::required("userdata", Type::String)
                    .force_new()
                    .description("Base64 content, e.g. base64encode(file(\"init.sh\"))."),
            )
            .attribute(
                Attribute::optional("account", Type::String)
                    .force_new()
                    .description("Owner account; needs domain_id."),
            )
            .attribute(Attribute::optional("domain_id", Type::String).force_new())
            .attribute(
                Attribute::optional("params", Type::set(Type::String))
                    .force_new()
                    .description("Variables declared in the content."),
            )
            .attribute(Attribute::optional("project_id", Type::String).force_new()),
    )
}

impl Model {
    fn fill(mut self, u: &CsUserData) -> Model {
        self.id = Field::Known(u.id.clone());
        self.name = u.name.clone().into();
        self.userdata = u.userdata.clone().into();
        // like the Go provider: owner attributes only when the configuration sets them
        if !self.account.is_null() {
            self.account = u.account.clone().into();
        }
        if !self.domain_id.is_null() {
            self.domain_id = u.domainid.clone().into();
        }
        let params: Vec<String> = u
            .params
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect();
        if !params.is_empty() || self.params.is_unknown() {
            self.params = Field::Known(params);
        }
        if u.projectid.is_some() {
            self.project_id = u.projectid.clone().into();
        }
        self
    }
}

/// The user data by id (in its project when `project_id` is set).
async fn find(cx: Ctx<'_>, id: &str, project: Option<&str>) -> Result<Option<CsUserData>, OpError> {
    let mut p = Params::new().with("id", id);
    match project {
        Some(pr) => p.set("projectid", pr),
        None => p.set("listall", "true"),
    };
    match bounded(cx.c, cx.c.timeout, cx.c.api.list_user_data(&p)).await {
        Ok(v) => Ok(v.into_iter().find(|u| u.id == id)),
        Err(OpError::Api(e)) if e.is_param_error() => Ok(None),
        Err(e) => Err(e),
    }
}

#[async_trait]
impl TypedResource for UserData {
    type Model = Model;
    type View = Model;

    fn type_name(&self) -> &'static str {
        "cloudstack_user_data"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn create_command(&self) -> Option<&'static str> {
        Some("registerUserData")
    }

    async fn validate(&self, m: Model, diags: &mut Diagnostics) {
        if !m.account.is_null() && m.domain_id.is_null() {
            diags.attribute_error(
                attr!(Model, domain_id),
                "account needs domain_id",
                "CloudStack finds an account by name within a domain: set domain_id too.",
            );
        }
    }

    async fn create(&self, cx: Ctx<'_>, plan: Model, diags: &mut Diagnostics) -> Option<Model> {
        let name = plan.name.non_empty()?.to_string();
        let req = RegisterUserData {
            name: name.clone(),
            userdata: plan.userdata.known().cloned().unwrap_or_default(),
            params: plan.params.known().cloned().unwrap_or_default(),
            account: plan.account.non_empty().map(str::to_string),
            domain_id: plan.domain_id.non_empty().map(str::to_string),
            project_id: plan.project_id.non_empty().map(str::to_string),
        };
        match bounded(cx.c, cx.c.timeout, cx.c.api.register_user_data(&req)).await {
            Ok(u) => Some(plan.fill(&u)),
            Err(e) => {
                let attr = attr_in_text(
                    &e,
                    &[
                        ("base64", attr!(Model, userdata)),
                        ("same content", attr!(Model, userdata)),
                        ("too long", attr!(Model, userdata)),
                        ("name", attr!(Model, name)),
                        ("account", attr!(Model, account)),
                        ("project", attr!(Model, project_id)),
                    ],
                );
                let action = format!("registering user data {name}");
                diags.push(e.diagnostic(&action, attr, "create"));
                None
            }
        }
    }

    async fn read(&self, cx: Ctx<'_>, state: Model, diags: &mut Diagnostics) -> Option<Model> {
        let id = state.id.known()?.clone();
        let u = found(
            find(cx, &id, state.project_id.non_empty()).await,
            "user data",
            &id,
            "read",
            diags,
        )?;
        Some(state.fill(&u))
    }

    async fn delete(&self, cx: Ctx<'_>, prior: Model, diags: &mut Diagnostics) {
        let Some(id) = prior.id.known() else { return };
        let deleted = cx.c.api.delete_user_data(id, prior.project_id.non_empty());
        match bounded(cx.c, cx.c.timeout, deleted).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                let mut d = e.diagnostic(&format!("deleting user data {id}"), None, "delete");
                if d.detail.contains("used by") {
                    d.detail.push_str(
                        "\n\nDestroy or redeploy the instances whose userdata_id names it first.",
                    );
                }
                diags.push(d);
            }
        }
    }

    /// `terraform import cloudstack_user_data.x <id>` or `<project id>/<id>`.
    fn import(&self, import_id: &str) -> Vec<Value> {
        let (project, id) = split_import_id(import_id);
        let m = Model {
            id: Field::Known(id.to_string()),
            project_id: project.map(str::to_string).into(),
            ..Model::default()
        };
        imported(&m, &schema())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::{common::testenv, kit::Typed};
    use tfplugin5::Resource;

    #[tokio::test]
    async fn account_without_domain_is_refused_at_plan_time() {
        let mut d = Diagnostics::default();
        let config = tfplugin5::plan::normalize(
            &schema().block,
            &Value::object([
                ("name", Value::from("u")),
                ("userdata", Value::from("ZWNobwo=")),
                ("account", Value::from("admin")),
            ]),
        );
        Typed(UserData).validate(&config, &mut d).await;
        assert_eq!(d.0[0].attribute.as_ref().unwrap().to_string(), "domain_id");
        // unknown until apply: no error yet
        let mut d = Diagnostics::default();
        let mut later = config.clone();
        later.set_attr("domain_id", Value::Unknown);
        Typed(UserData).validate(&later, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
    }

    #[tokio::test]
    async fn register_read_import_delete() {
        let env = testenv::start(Default::default()).await;
        let c = &env.client;
        let r = Typed(UserData);
        let planned = Value::object([
            ("id", Value::Unknown),
            ("name", Value::from("init")),
            (
                "userdata",
                Value::from("ZWNobyB7e2RzLm1ldGFfZGF0YS5ob3N0fX0K"),
            ),
            ("account", Value::Null),
            ("domain_id", Value::Null),
            ("params", Value::set(["host"])),
            ("project_id", Value::Null),
        ]);
        let mut d = Diagnostics::default();
        let made = r.create(c, &planned, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert!(made.is_fully_known(), "{made:?}");
        assert_eq!(r.read(c, &made, &mut d).await, made);
        let id = made.get_str("id").unwrap().to_string();
        let imported = r.import(c, &id, &mut d).await;
        assert_eq!(r.read(c, &imported[0], &mut d).await, made);
        r.delete(c, &made, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert!(r.read(c, &made, &mut d).await.is_null());
        assert!(env.sim.world().user_data.is_empty());
    }
}
