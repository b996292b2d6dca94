//! `data "cloudstack_user_data"`: the newest registered user data matching every `filter`
//! (Go schema; `userdata` is the decoded content, as the Go provider sets it).

use base64::Engine as _;
use cloudstack::Params;
use serde::{Deserialize, Serialize};
use tfplugin5::{async_trait, Attribute, Block, Diagnostics, Schema, Type};

use super::{filtered_schema, list_all, pick, str_field, FilterModel, FilteredView, Filters};
use crate::{
    attr,
    common::resolve_project,
    kit::{Ctx, TypedDataSource},
};

/// The `cloudstack_user_data` data source.
#[derive(Debug)]
pub struct UserData;

/// The data source's attributes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Model {
    id: Option<String>,
    project: Option<String>,
    name: Option<String>,
    account: Option<String>,
    account_id: Option<String>,
    domain: Option<String>,
    domain_id: Option<String>,
    project_id: Option<String>,
    userdata_id: Option<String>,
    userdata: Option<String>,
    params: Option<String>,
    filter: Vec<FilterModel>,
}

fn schema() -> Schema {
    let mut b = Block::new()
        .attribute(Attribute::computed("id", Type::String))
        .attribute(Attribute::optional_computed("project", Type::String));
    for a in [
        "name",
        "account",
        "account_id",
        "domain",
        "domain_id",
        "project_id",
        "userdata_id",
        "userdata",
        "params",
    ] {
        b = b.attribute(Attribute::computed(a, Type::String));
    }
    filtered_schema(b)
}

#[async_trait]
impl TypedDataSource for UserData {
    type Model = Model;
    type View = FilteredView;

    fn type_name(&self) -> &'static str {
        "cloudstack_user_data"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, config: FilteredView, diags: &mut Diagnostics) {
        Filters::of(&config, diags);
    }

    async fn read(&self, cx: Ctx<'_>, mut m: Model, diags: &mut Diagnostics) -> Option<Model> {
        let filters = Filters::parse(cx.raw, diags)?;
        let mut params = Params::new().with("listall", "true");
        if let Some(p) = m.project.as_deref() {
            let id = resolve_project(cx.c, attr!(Model, project), p, diags).await?;
            params.set("projectid", id);
        }
        let what = "user data";
        let all = list_all(cx.c, "listUserData", "userdata", &params, what, None, diags).await?;
        let best = pick(&all, &filters, what, diags)?;
        m.id = str_field(best, "id");
        m.userdata_id = str_field(best, "id");
        m.name = str_field(best, "name");
        m.account = str_field(best, "account");
        m.account_id = str_field(best, "accountid");
        m.domain = str_field(best, "domain");
        m.domain_id = str_field(best, "domainid");
        m.project_id = str_field(best, "projectid");
        m.params = str_field(best, "params");
        if m.project.is_none() {
            m.project = str_field(best, "project");
        }
        m.userdata = str_field(best, "userdata").map(|raw| {
            base64::engine::general_purpose::STANDARD
                .decode(raw.as_bytes())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or(raw)
        });
        Some(m)
    }
}
