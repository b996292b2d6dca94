//! `data "cloudstack_service_offering"`: the newest compute offering
//! matching every `filter` (Go schema: `name`, `display_text`).

use cloudstack::Params;
use tfplugin5::{async_trait, Attribute, Block, DataSource, Diagnostics, Schema, Type, Value};

use super::{filtered_schema, list_all, newest, Filters};
use crate::provider::Client;

/// The `cloudstack_service_offering` data source.
#[derive(Debug)]
pub struct ServiceOffering;

#[async_trait]
impl DataSource<Client> for ServiceOffering {
    fn type_name(&self) -> &'static str {
        "cloudstack_service_offering"
    }

    fn schema(&self) -> Schema {
        filtered_schema(
            Block::new()
                .attribute(Attribute::computed("id", Type::String))
                .attribute(Attribute::computed("name", Type::String))
                .attribute(Attribute::computed("display_text", Type::String)),
        )
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        Filters::parse(config, diags);
    }

    async fn read(&self, c: &Client, config: &Value, diags: &mut Diagnostics) -> Value {
        let Some(filters) = Filters::parse(config, diags) else {
            return Value::Null;
        };
        let (command, key) = ("listServiceOfferings", "serviceoffering");
        let what = "service offerings";
        let Some(all) = list_all(c, command, key, &Params::new(), what, None, diags).await else {
            return Value::Null;
        };
        let str_of =
            |o: &serde_json::Value, k: &str| o.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let Some(best) = newest(&all, &filters) else {
            let names: Vec<String> = all.iter().filter_map(|o| str_of(o, "name")).collect();
            diags.attribute_error(
                "filter",
                "No service offering is matching with the specified regex",
                format!(
                    "filters: {}; offerings: {}",
                    filters.describe(),
                    names.join(", ")
                ),
            );
            return Value::Null;
        };
        let mut out = config.clone();
        out.set_attr("id", Value::from(str_of(best, "id")));
        out.set_attr("name", Value::from(str_of(best, "name")));
        out.set_attr("display_text", Value::from(str_of(best, "displaytext")));
        out
    }
}
