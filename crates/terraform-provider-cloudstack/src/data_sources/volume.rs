//! `data "cloudstack_volume"`: the newest volume matching every `filter` (Go schema:
//! `name`, `disk_offering_id`, `zone_id`).

use cloudstack::Params;
use serde::{Deserialize, Serialize};
use tfplugin5::{async_trait, Attribute, Block, Diagnostics, Schema, Type};

use super::{filtered_schema, list_all, pick, str_field, FilterModel, FilteredView, Filters};
use crate::kit::{Ctx, TypedDataSource};

/// The `cloudstack_volume` data source.
#[derive(Debug)]
pub struct Volume;

/// The data source's attributes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Model {
    id: Option<String>,
    name: Option<String>,
    disk_offering_id: Option<String>,
    zone_id: Option<String>,
    filter: Vec<FilterModel>,
}

fn schema() -> Schema {
    filtered_schema(
        Block::new()
            .attribute(Attribute::computed("id", Type::String))
            .attribute(Attribute::computed("name", Type::String))
            .attribute(Attribute::computed("disk_offering_id", Type::String))
            .attribute(Attribute::computed("zone_id", Type::String)),
    )
}

#[async_trait]
impl TypedDataSource for Volume {
    type Model = Model;
    type View = FilteredView;

    fn type_name(&self) -> &'static str {
        "cloudstack_volume"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, config: FilteredView, diags: &mut Diagnostics) {
        Filters::of(&config, diags);
    }

    async fn read(&self, cx: Ctx<'_>, mut m: Model, diags: &mut Diagnostics) -> Option<Model> {
        let filters = Filters::parse(cx.raw, diags)?;
        let params = Params::new().with("listall", "true");
        let all = list_all(
            cx.c,
            "listVolumes",
            "volume",
            &params,
            "volumes",
            None,
            diags,
        )
        .await?;
        let best = pick(&all, &filters, "volume", diags)?;
        m.id = str_field(best, "id");
        m.name = str_field(best, "name");
        m.disk_offering_id = str_field(best, "diskofferingid");
        m.zone_id = str_field(best, "zoneid");
        Some(m)
    }
}
