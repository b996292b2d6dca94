//! `data "cloudstack_user_data"`: the newest registered user data matching every `filter`
//! (Go schema; `userdata` is the decoded content, as the Go provider sets it).

use base64::Engine as _;
use cloudstack::Params;
use tfplugin5::{async_trait, Attribute, Block, DataSource, Diagnostics, Schema, Type, Value};

use super::{filtered_schema, list_all, pick, str_field, Filters};
use crate::{common::resolve_project, provider::Client};

/// The `cloudstack_user_data` data source.
#[derive(Debug)]
pub struct UserData;

#[async_trait]
impl DataSource<Client> for UserData {
    fn type_name(&self) -> &'static str {
        "cloudstack_user_data"
    }

    fn schema(&self) -> Schema {
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

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        Filters::parse(config, diags);
    }

    async fn read(&self, c: &Client, config: &Value, diags: &mut Diagnostics) -> Value {
        let Some(filters) = Filters::parse(config, diags) else {
            return Value::Null;
        };
        let mut params = Params::new().with("listall", "true");
        if let Some(p) = config.get_str("project") {
            match resolve_project(c, "project", p, diags).await {
                Some(id) => params.set("projectid", id),
                None => return Value::Null,
            };
        }
        let Some(all) = list_all(
            c,
            "listUserData",
            "userdata",
            &params,
            "user data",
            None,
            diags,
        )
        .await
        else {
            return Value::Null;
        };
        let str_of = str_field;
        let Some(best) = pick(&all, &filters, "user data", diags) else {
            return Value::Null;
        };
        let mut out = config.clone();
        out.set_attr("id", Value::from(str_of(best, "id")));
        out.set_attr("userdata_id", Value::from(str_of(best, "id")));
        for (attr, key) in [
            ("name", "name"),
            ("account", "account"),
            ("account_id", "accountid"),
            ("domain", "domain"),
            ("domain_id", "domainid"),
            ("project_id", "projectid"),
            ("params", "params"),
        ] {
            out.set_attr(attr, Value::from(str_of(best, key)));
        }
        if config.get("project").is_null() {
            out.set_attr("project", Value::from(str_of(best, "project")));
        }
        let content = str_of(best, "userdata").map(|raw| {
            base64::engine::general_purpose::STANDARD
                .decode(raw.as_bytes())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or(raw)
        });
        out.set_attr("userdata", Value::from(content));
        out
    }
}
