//! `cloudstack_user_data`: user data registered once (`registerUserData`, CloudStack 4.18+)
//! and referenced by instances through `userdata_id`. Every argument forces a new
//! registration (CloudStack cannot change one). Import by `<id>` or `<project>/<id>`.

use cloudstack::user_data::{RegisterUserData, UserData as CsUserData};
use cloudstack::Params;
use tfplugin5::{async_trait, Attribute, Block, Diagnostics, Resource, Schema, Type, Value};

use crate::{
    common::{attr_in_text, bounded, get_str, planned_unless_failed, split_import_id, OpError},
    provider::Client,
};

/// The `cloudstack_user_data` resource.
#[derive(Debug)]
pub struct UserData;

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

/// The user data by id (in its project when `project_id` is set).
async fn find(c: &Client, id: &str, project: Option<&str>) -> Result<Option<CsUserData>, OpError> {
    let mut p = Params::new().with("id", id);
    match project {
        Some(pr) => p.set("projectid", pr),
        None => p.set("listall", "true"),
    };
    match bounded(c, c.timeout, c.api.list_user_data(&p)).await {
        Ok(v) => Ok(v.into_iter().find(|u| u.id == id)),
        Err(OpError::Api(e)) if e.is_param_error() => Ok(None),
        Err(e) => Err(e),
    }
}

fn fill_state(base: &Value, u: &CsUserData) -> Value {
    let mut s = base.clone();
    s.set_attr("id", u.id.as_str());
    s.set_attr("name", Value::from(u.name.clone()));
    s.set_attr("userdata", Value::from(u.userdata.clone()));
    // like the Go provider: owner attributes only when the configuration sets them
    if !base.get("account").is_null() {
        s.set_attr("account", Value::from(u.account.clone()));
    }
    if !base.get("domain_id").is_null() {
        s.set_attr("domain_id", Value::from(u.domainid.clone()));
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
    if !params.is_empty() || base.get("params").is_unknown() {
        s.set_attr("params", Value::set(params));
    }
    if u.projectid.is_some() {
        s.set_attr("project_id", Value::from(u.projectid.clone()));
    }
    s
}

#[async_trait]
impl Resource<Client> for UserData {
    fn type_name(&self) -> &'static str {
        "cloudstack_user_data"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if !config.get("account").is_null() && config.get("domain_id").is_null() {
            diags.attribute_error(
                "domain_id",
                "account needs domain_id",
                "CloudStack finds an account by name within a domain: set domain_id too.",
            );
        }
    }

    async fn create(&self, c: &Client, planned: &Value, diags: &mut Diagnostics) -> Value {
        let (Some(name), Some(content)) = (get_str(planned, "name"), get_str(planned, "userdata"))
        else {
            diags.error("name and userdata are required", "");
            return Value::Null;
        };
        let req = RegisterUserData {
            name: name.to_string(),
            userdata: content.to_string(),
            params: planned.get_strings("params"),
            account: get_str(planned, "account").map(str::to_string),
            domain_id: get_str(planned, "domain_id").map(str::to_string),
            project_id: get_str(planned, "project_id").map(str::to_string),
        };
        match bounded(c, c.timeout, c.api.register_user_data(&req)).await {
            Ok(u) => planned_unless_failed(planned, fill_state(planned, &u), diags),
            Err(e) => {
                let attr = attr_in_text(
                    &e,
                    &[
                        ("base64", "userdata"),
                        ("same content", "userdata"),
                        ("too long", "userdata"),
                        ("name", "name"),
                        ("account", "account"),
                        ("project", "project_id"),
                    ],
                );
                let action = format!("registering user data {name}");
                diags.push(e.diagnostic(&action, attr, "create"));
                Value::Null
            }
        }
    }

    async fn read(&self, c: &Client, state: &Value, diags: &mut Diagnostics) -> Value {
        let Some(id) = state.get_str("id") else {
            return Value::Null;
        };
        match find(c, id, get_str(state, "project_id")).await {
            Ok(Some(u)) => fill_state(state, &u),
            Ok(None) => Value::Null,
            Err(e) => {
                diags.push(e.diagnostic(&format!("reading user data {id}"), None, "read"));
                Value::Null
            }
        }
    }

    async fn delete(&self, c: &Client, prior: &Value, diags: &mut Diagnostics) {
        let Some(id) = prior.get_str("id") else {
            return;
        };
        let deleted = c.api.delete_user_data(id, get_str(prior, "project_id"));
        match bounded(c, c.timeout, deleted).await {
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
    async fn import(&self, _c: &Client, id: &str, _diags: &mut Diagnostics) -> Vec<Value> {
        let (project, id) = split_import_id(id);
        let mut v = Value::object([("id", id)]);
        if let Some(p) = project {
            v.set_attr("project_id", p);
        }
        vec![v]
    }
}
