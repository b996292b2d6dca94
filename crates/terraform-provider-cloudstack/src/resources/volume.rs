//! `cloudstack_volume`: a data volume from a disk offering, the Go provider's minimal schema
//! (`name`, `disk_offering_id`, `zone_id`, all forcing a new volume). Attach it with
//! `cloudstack_attach_volume`. Unlike the Go provider (which looks the volume up by name)
//! it is read by id, so two volumes of one name do not mix, and it can be imported by `<id>`
//! or `<project>/<id>`.

use cloudstack::volume::CreateVolume;
use tfplugin5::{async_trait, Attribute, Block, Diagnostics, Resource, Schema, Type, Value};

use crate::{
    common::{bounded, get_str, import_state, planned_unless_failed, read_by_id},
    provider::Client,
};

/// The `cloudstack_volume` resource.
#[derive(Debug)]
pub struct Volume;

fn schema() -> Schema {
    Schema::new(
        Block::new()
            .attribute(Attribute::computed("id", Type::String))
            .attribute(Attribute::required("name", Type::String).force_new())
            .attribute(Attribute::required("disk_offering_id", Type::String).force_new())
            .attribute(Attribute::required("zone_id", Type::String).force_new()),
    )
}

fn fill_state(base: &Value, v: &cloudstack::model::Volume) -> Value {
    let mut s = base.clone();
    s.set_attr("id", v.id.as_str());
    s.set_attr("name", Value::from(v.name.clone()));
    s.set_attr("disk_offering_id", Value::from(v.diskofferingid.clone()));
    s.set_attr("zone_id", Value::from(v.zoneid.clone()));
    s
}

#[async_trait]
impl Resource<Client> for Volume {
    fn type_name(&self) -> &'static str {
        "cloudstack_volume"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn create(&self, c: &Client, planned: &Value, diags: &mut Diagnostics) -> Value {
        let (Some(name), Some(offering), Some(zone)) = (
            get_str(planned, "name"),
            get_str(planned, "disk_offering_id"),
            get_str(planned, "zone_id"),
        ) else {
            diags.error("name, disk_offering_id and zone_id are required", "");
            return Value::Null;
        };
        let req = CreateVolume {
            name: name.to_string(),
            zone_id: zone.to_string(),
            disk_offering_id: offering.to_string(),
            ..Default::default()
        };
        match bounded(c, c.timeout, c.api.create_volume(&req)).await {
            Ok(v) => planned_unless_failed(planned, fill_state(planned, &v), diags),
            Err(e) => {
                let attr = crate::common::attr_in_text(
                    &e,
                    &[
                        ("diskofferingid", "disk_offering_id"),
                        ("disk offering", "disk_offering_id"),
                        ("size", "disk_offering_id"),
                        ("zone", "zone_id"),
                    ],
                );
                diags.push(e.diagnostic(&format!("creating volume {name}"), attr, "create"));
                Value::Null
            }
        }
    }

    async fn read(&self, c: &Client, state: &Value, diags: &mut Diagnostics) -> Value {
        let lookup = |id| async move { bounded(c, c.timeout, c.api.get_volume(id, true)).await };
        read_by_id(state, "volume", diags, lookup, |v| fill_state(state, v)).await
    }

    async fn delete(&self, c: &Client, prior: &Value, diags: &mut Diagnostics) {
        let Some(id) = prior.get_str("id") else {
            return;
        };
        match bounded(c, c.timeout, c.api.delete_volume(id)).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => diags.push(e.diagnostic(&format!("deleting volume {id}"), None, "delete")),
        }
    }

    /// `terraform import cloudstack_volume.x <id>` or `<project>/<id>` (the Go provider has
    /// no import).
    async fn import(&self, _c: &Client, id: &str, _diags: &mut Diagnostics) -> Vec<Value> {
        let mut v = import_state(id, &[]);
        // the Go schema has no `project`: keep only the id
        for s in &mut v {
            if let Value::Object(m) = s {
                m.remove("project");
            }
        }
        v
    }
}
