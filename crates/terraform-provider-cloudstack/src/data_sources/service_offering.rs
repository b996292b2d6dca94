//! `data "cloudstack_service_offering"`: the newest compute offering
//! matching every `filter` (Go schema: `name`, `display_text`).

use cloudstack::Params;
use serde::{Deserialize, Serialize};
use tfplugin5::{async_trait, Attribute, Block, Diagnostics, Schema, Type};

use super::{filtered_schema, list_all, newest, str_field, FilterModel, FilteredView, Filters};
use crate::{
    attr,
    kit::{Ctx, TypedDataSource},
};

/// The `cloudstack_service_offering` data source.
#[derive(Debug)]
pub struct ServiceOffering;

/// The data source's attributes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Model {
    id: Option<String>,
    name: Option<String>,
    display_text: Option<String>,
    filter: Vec<FilterModel>,
}

fn schema() -> Schema {
    filtered_schema(
        Block::new()
            .attribute(Attribute::computed("id", Type::String))
            .attribute(Attribute::computed("name", Type::String))
            .attribute(Attribute::computed("display_text", Type::String)),
    )
}

#[async_trait]
impl TypedDataSource for ServiceOffering {
    type Model = Model;
    type View = FilteredView;

    fn type_name(&self) -> &'static str {
        "cloudstack_service_offering"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, config: FilteredView, diags: &mut Diagnostics) {
        Filters::of(&config, diags);
    }

    async fn read(&self, cx: Ctx<'_>, mut m: Model, diags: &mut Diagnostics) -> Option<Model> {
        let filters = Filters::parse(cx.raw, diags)?;
        let (command, key) = ("listServiceOfferings", "serviceoffering");
        let what = "service offerings";
        let all = list_all(cx.c, command, key, &Params::new(), what, None, diags).await?;
        let Some(best) = newest(&all, &filters) else {
            let names: Vec<String> = all.iter().filter_map(|o| str_field(o, "name")).collect();
            diags.attribute_error(
                attr!(Model, filter),
                "No service offering is matching with the specified regex",
                format!(
                    "filters: {}; offerings: {}",
                    filters.describe(),
                    names.join(", ")
                ),
            );
            return None;
        };
        m.id = str_field(best, "id");
        m.name = str_field(best, "name");
        m.display_text = str_field(best, "displaytext");
        Some(m)
    }
}
