//! `data "cloudstack_volume"`: the newest volume matching every `filter` (Go schema:
//! `name`, `disk_offering_id`, `zone_id`).

use cloudstack::Params;
use tfplugin5::{async_trait, Attribute, Block, DataSource, Diagnostics, Schema, Type, Value};

use super::{filtered_schema, list_all, pick, str_field, Filters};
use crate::provider::Client;

/// The `cloudstack_volume` data source.
#[derive(Debug)]
pub struct Volume;

#[async_trait]
impl DataSource<Client> for Volume {
    fn type_name(&self) -> &'static str {
        "cloudstack_volume"
    }

    fn schema(&self) -> Schema {
        filtered_schema(
            Block::new()
                .attribute(Attribute::computed("id", Type::String))
                .attribute(Attribute::computed("name", Type::String))
                .attribute(Attribute::computed("disk_offering_id", Type::String))
                .attribute(Attribute::computed("zone_id", Type::String)),
        )
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        Filters::parse(config, diags);
    }

    async fn read(&self, c: &Client, config: &Value, diags: &mut Diagnostics) -> Value {
        let Some(filters) = Filters::parse(config, diags) else {
            return Value::Null;
        };
        let params = Params::new().with("listall", "true");
        let Some(all) = list_all(c, "listVolumes", "volume", &params, "volumes", None, diags).await
        else {
            return Value::Null;
        };
        let str_of = str_field;
        let Some(best) = pick(&all, &filters, "volume", diags) else {
            return Value::Null;
        };
        let mut out = config.clone();
        out.set_attr("id", Value::from(str_of(best, "id")));
        out.set_attr("name", Value::from(str_of(best, "name")));
        out.set_attr(
            "disk_offering_id",
            Value::from(str_of(best, "diskofferingid")),
        );
        out.set_attr("zone_id", Value::from(str_of(best, "zoneid")));
        out
    }
}
