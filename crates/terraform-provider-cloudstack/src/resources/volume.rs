//! `cloudstack_volume`: a data volume from a disk offering, the Go provider's minimal schema
//! (`name`, `disk_offering_id`, `zone_id`, all forcing a new volume). Attach it with
//! `cloudstack_attach_volume`. Unlike the Go provider (which looks the volume up by name)
//! it is read by id, so two volumes of one name do not mix, and it can be imported by `<id>`
//! or `<project>/<id>`. Written on the typed-model kit, so a volume CloudStack accepted is
//! kept (tainted) when its create fails.

use cloudstack::{model::Volume as CsVolume, volume::CreateVolume};
use serde::{Deserialize, Serialize};
use tfplugin5::{async_trait, model::Field, Attribute, Block, Diagnostics, Schema, Type, Value};

use crate::{
    attr,
    common::{attr_in_text, bounded, deleted, found, import_state, split_import_id},
    kit::{Ctx, TypedResource},
};

/// The `cloudstack_volume` resource.
#[derive(Debug)]
pub struct Volume;

/// The resource's attributes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Model {
    id: Field<String>,
    /// Null after an import until the first read.
    name: Field<String>,
    disk_offering_id: Field<String>,
    zone_id: Field<String>,
}

fn schema() -> Schema {
    Schema::new(
        Block::new()
            .attribute(Attribute::computed("id", Type::String))
            .attribute(Attribute::required("name", Type::String).force_new())
            .attribute(Attribute::required("disk_offering_id", Type::String).force_new())
            .attribute(Attribute::required("zone_id", Type::String).force_new()),
    )
}

impl Model {
    fn fill(mut self, v: &CsVolume) -> Model {
        self.id = Field::Known(v.id.clone());
        self.name = v.name.clone().into();
        self.disk_offering_id = v.diskofferingid.clone().into();
        self.zone_id = v.zoneid.clone().into();
        self
    }
}

#[async_trait]
impl TypedResource for Volume {
    type Model = Model;
    type View = crate::kit::NoView;

    fn type_name(&self) -> &'static str {
        "cloudstack_volume"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn create_command(&self) -> Option<&'static str> {
        Some("createVolume")
    }

    async fn create(&self, cx: Ctx<'_>, plan: Model, diags: &mut Diagnostics) -> Option<Model> {
        let name = plan.name.non_empty()?.to_string();
        let req = CreateVolume {
            name: name.clone(),
            zone_id: plan.zone_id.known().cloned().unwrap_or_default(),
            disk_offering_id: plan.disk_offering_id.known().cloned().unwrap_or_default(),
            ..Default::default()
        };
        match bounded(cx.c, cx.c.timeout, cx.c.api.create_volume(&req)).await {
            Ok(v) => Some(plan.fill(&v)),
            Err(e) => {
                let attr = attr_in_text(
                    &e,
                    &[
                        ("diskofferingid", attr!(Model, disk_offering_id)),
                        ("disk offering", attr!(Model, disk_offering_id)),
                        ("size", attr!(Model, disk_offering_id)),
                        ("zone", attr!(Model, zone_id)),
                    ],
                );
                diags.push(e.diagnostic(&format!("creating volume {name}"), attr, "create"));
                None
            }
        }
    }

    async fn read(&self, cx: Ctx<'_>, state: Model, diags: &mut Diagnostics) -> Option<Model> {
        let id = state.id.known()?.clone();
        let v = found(
            bounded(cx.c, cx.c.timeout, cx.c.api.get_volume(&id, true)).await,
            "volume",
            &id,
            "read",
            diags,
        )?;
        Some(state.fill(&v))
    }

    async fn delete(&self, cx: Ctx<'_>, prior: Model, diags: &mut Diagnostics) {
        let Some(id) = prior.id.known() else { return };
        deleted(
            bounded(cx.c, cx.c.timeout, cx.c.api.delete_volume(id)).await,
            &format!("deleting volume {id}"),
            diags,
        );
    }

    /// `terraform import cloudstack_volume.x <id>` or `<project>/<id>` (the Go provider has
    /// no import); the Go schema has no `project`, so only the id is kept.
    fn import(&self, import_id: &str) -> Vec<Value> {
        import_state(split_import_id(import_id).1, &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::{
        common::testenv::{self, interrupted_client, ZONE_ID},
        kit::Typed,
    };
    use tfplugin5::Resource;

    const OFFERING: &str = cloudstack_sim::seed::DISK_SMALL_ID;

    fn planned(name: &str) -> Value {
        Value::object([
            ("id", Value::Unknown),
            ("name", Value::from(name)),
            ("disk_offering_id", Value::from(OFFERING)),
            ("zone_id", Value::from(ZONE_ID)),
        ])
    }

    #[tokio::test]
    async fn create_read_import_delete() {
        let env = testenv::start(Default::default()).await;
        let c = &env.client;
        let r = Typed(Volume);
        let mut d = Diagnostics::default();
        let made = r.create(c, &planned("data"), &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert!(made.is_fully_known(), "{made:?}");
        assert_eq!(r.read(c, &made, &mut d).await, made);
        let id = made.get_str("id").unwrap().to_string();
        let imported = r.import(c, &format!("someproject/{id}"), &mut d).await;
        // as the server hands it to Terraform: every attribute, null when unset
        let imported = tfplugin5::plan::normalize(&schema().block, &imported[0]);
        let read = r.read(c, &imported, &mut d).await;
        assert_eq!(read, made);
        r.delete(c, &made, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert!(r.read(c, &made, &mut d).await.is_null());
    }

    /// Ctrl-C while `createVolume`'s job runs: the volume is kept tainted with its id.
    #[tokio::test]
    async fn an_accepted_create_interrupted_is_kept_tainted() {
        let (env, c) = interrupted_client("createvolume").await;
        let mut d = Diagnostics::default();
        let state = Typed(Volume).create(&c, &planned("data"), &mut d).await;
        let held: Vec<String> = env
            .sim
            .world()
            .volumes
            .iter()
            .filter(|v| v.name == "data")
            .map(|v| v.id.clone())
            .collect();
        testenv::assert_kept_tainted(&state, &d, &held);
    }
}
