//! `data "cloudstack_zone"`: the zone matching every `filter` (Go schema).
//! Several matches are an error listing them (the Go provider silently
//! took the last one).

use cloudstack::Params;
use tfplugin5::{async_trait, Attribute, Block, DataSource, Diagnostics, Schema, Type, Value};

use super::{filtered_schema, list_all, Filters};
use crate::provider::Client;

/// The `cloudstack_zone` data source.
#[derive(Debug)]
pub struct Zone;

#[async_trait]
impl DataSource<Client> for Zone {
    fn type_name(&self) -> &'static str {
        "cloudstack_zone"
    }

    fn schema(&self) -> Schema {
        filtered_schema(
            Block::new()
                .attribute(Attribute::computed("id", Type::String))
                .attribute(Attribute::computed("name", Type::String))
                .attribute(Attribute::computed("dns1", Type::String))
                .attribute(Attribute::computed("internal_dns1", Type::String))
                .attribute(Attribute::computed("network_type", Type::String)),
        )
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        Filters::parse(config, diags);
    }

    async fn read(&self, c: &Client, config: &Value, diags: &mut Diagnostics) -> Value {
        let Some(filters) = Filters::parse(config, diags) else {
            return Value::Null;
        };
        let p = Params::new();
        let Some(all) = list_all(c, "listZones", "zone", &p, "zones", None, diags).await else {
            return Value::Null;
        };
        let name = |z: &serde_json::Value| {
            z.get("name")
                .and_then(|n| n.as_str())
                .unwrap_or("")
                .to_string()
        };
        let hits: Vec<&serde_json::Value> = all.iter().filter(|z| filters.matches(z)).collect();
        let zone = match hits.as_slice() {
            [one] => *one,
            [] => {
                let names: Vec<String> = all.iter().map(name).collect();
                diags.attribute_error(
                    "filter",
                    "No zone is matching with the specified regex",
                    format!(
                        "filters: {}; zones: {}",
                        filters.describe(),
                        names.join(", ")
                    ),
                );
                return Value::Null;
            }
            many => {
                let names: Vec<String> = many.iter().map(|z| name(z)).collect();
                diags.attribute_error(
                    "filter",
                    format!("{} zones match the filter", many.len()),
                    format!(
                        "matching: {}; narrow the filter (e.g. value = \"^{}$\").",
                        names.join(", "),
                        names[0]
                    ),
                );
                return Value::Null;
            }
        };
        let f = |k: &str| Value::from(zone.get(k).and_then(|v| v.as_str()).map(str::to_string));
        let mut out = config.clone();
        out.set_attr("id", f("id"));
        out.set_attr("name", f("name"));
        out.set_attr("dns1", f("dns1"));
        out.set_attr("internal_dns1", f("internaldns1"));
        out.set_attr("network_type", f("networktype"));
        out
    }
}
