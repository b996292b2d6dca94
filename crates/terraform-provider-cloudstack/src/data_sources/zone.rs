//! `data "cloudstack_zone"`: the zone matching every `filter` (Go schema).
//! Several matches are an error listing them (the Go provider silently
//! took the last one).

use cloudstack::Params;
use serde::{Deserialize, Serialize};
use tfplugin5::{async_trait, Attribute, Block, Diagnostics, Schema, Type};

use super::{filtered_schema, list_all, str_field, FilterModel, FilteredView, Filters};
use crate::{
    attr,
    kit::{Ctx, TypedDataSource},
};

/// The `cloudstack_zone` data source.
#[derive(Debug)]
pub struct Zone;

/// The data source's attributes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Model {
    id: Option<String>,
    name: Option<String>,
    dns1: Option<String>,
    internal_dns1: Option<String>,
    network_type: Option<String>,
    filter: Vec<FilterModel>,
}

fn schema() -> Schema {
    filtered_schema(
        Block::new()
            .attribute(Attribute::computed("id", Type::String))
            .attribute(Attribute::computed("name", Type::String))
            .attribute(Attribute::computed("dns1", Type::String))
            .attribute(Attribute::computed("internal_dns1", Type::String))
            .attribute(Attribute::computed("network_type", Type::String)),
    )
}

#[async_trait]
impl TypedDataSource for Zone {
    type Model = Model;
    type View = FilteredView;

    fn type_name(&self) -> &'static str {
        "cloudstack_zone"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, config: FilteredView, diags: &mut Diagnostics) {
        Filters::of(&config, diags);
    }

    async fn read(&self, cx: Ctx<'_>, mut m: Model, diags: &mut Diagnostics) -> Option<Model> {
        let filters = Filters::parse(cx.raw, diags)?;
        let p = Params::new();
        let all = list_all(cx.c, "listZones", "zone", &p, "zones", None, diags).await?;
        let name = |z: &serde_json::Value| str_field(z, "name").unwrap_or_default();
        let hits: Vec<&serde_json::Value> = all.iter().filter(|z| filters.matches(z)).collect();
        let zone = match hits.as_slice() {
            [one] => *one,
            [] => {
                let names: Vec<String> = all.iter().map(name).collect();
                diags.attribute_error(
                    attr!(Model, filter),
                    "No zone is matching with the specified regex",
                    format!(
                        "filters: {}; zones: {}",
                        filters.describe(),
                        names.join(", ")
                    ),
                );
                return None;
            }
            many => {
                let names: Vec<String> = many.iter().map(|z| name(z)).collect();
                diags.attribute_error(
                    attr!(Model, filter),
                    format!("{} zones match the filter", many.len()),
                    format!(
                        "matching: {}; narrow the filter (e.g. value = \"^{}$\").",
                        names.join(", "),
                        names[0]
                    ),
                );
                return None;
            }
        };
        m.id = str_field(zone, "id");
        m.name = str_field(zone, "name");
        m.dns1 = str_field(zone, "dns1");
        m.internal_dns1 = str_field(zone, "internaldns1");
        m.network_type = str_field(zone, "networktype");
        Some(m)
    }
}
