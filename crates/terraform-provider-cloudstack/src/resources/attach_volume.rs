//! `cloudstack_attach_volume`: attaches a volume to a VM (the Go provider's schema; its id
//! is the volume's). Destroying it detaches the volume. A volume detached or moved to
//! another VM outside Terraform is attached again by the next apply.

use tfplugin5::{async_trait, Attribute, Block, Diagnostics, Resource, Schema, Type, Value};

use crate::{
    common::{attr_in_text, bounded, get_str, import_state, planned_unless_failed, OpError},
    provider::Client,
};

/// The `cloudstack_attach_volume` resource.
#[derive(Debug)]
pub struct AttachVolume;

fn schema() -> Schema {
    Schema::new(
        Block::new()
            .attribute(Attribute::computed("id", Type::String))
            .attribute(
                Attribute::required("volume_id", Type::String)
                    .force_new()
                    .description("The volume to attach."),
            )
            .attribute(
                Attribute::required("virtual_machine_id", Type::String)
                    .force_new()
                    .description("The VM it is attached to."),
            )
            .attribute(Attribute::optional_computed("device_id", Type::Number).force_new())
            .attribute(
                Attribute::computed("attached", Type::String)
                    .description("When the volume was attached."),
            ),
    )
}

fn fill_state(base: &Value, v: &cloudstack::model::Volume) -> Value {
    let mut s = base.clone();
    s.set_attr("id", v.id.as_str());
    s.set_attr("volume_id", v.id.as_str());
    s.set_attr(
        "virtual_machine_id",
        Value::from(v.virtualmachineid.clone()),
    );
    s.set_attr("device_id", Value::from(v.deviceid));
    s.set_attr("attached", Value::from(v.attached.clone()));
    s
}

#[async_trait]
impl Resource<Client> for AttachVolume {
    fn type_name(&self) -> &'static str {
        "cloudstack_attach_volume"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn create(&self, c: &Client, planned: &Value, diags: &mut Diagnostics) -> Value {
        let (Some(volume), Some(vm)) = (
            get_str(planned, "volume_id"),
            get_str(planned, "virtual_machine_id"),
        ) else {
            diags.error("volume_id and virtual_machine_id are required", "");
            return Value::Null;
        };
        let device = planned.get_i64("device_id");
        match bounded(c, c.timeout, c.api.attach_volume(volume, vm, device)).await {
            Ok(v) => planned_unless_failed(planned, fill_state(planned, &v), diags),
            Err(e) => {
                let attr = attr_in_text(
                    &e,
                    &[
                        ("deviceid", "device_id"),
                        ("virtualmachineid", "virtual_machine_id"),
                        ("vm", "virtual_machine_id"),
                        ("volume", "volume_id"),
                    ],
                );
                let action = format!("attaching volume {volume} to VM {vm}");
                diags.push(e.diagnostic(&action, attr, "create"));
                Value::Null
            }
        }
    }

    /// Gone when the volume is gone or no longer attached to the VM.
    async fn read(&self, c: &Client, state: &Value, diags: &mut Diagnostics) -> Value {
        let Some(id) = state.get_str("id") else {
            return Value::Null;
        };
        let looked_up: Result<_, OpError> = bounded(c, c.timeout, c.api.get_volume(id, true)).await;
        match looked_up {
            Ok(Some(v)) if v.virtualmachineid.is_some() => {
                let vm = state.get_str("virtual_machine_id");
                if vm.is_some() && vm != v.virtualmachineid.as_deref() {
                    // attached elsewhere: this attachment no longer exists
                    return Value::Null;
                }
                fill_state(state, &v)
            }
            Ok(_) => Value::Null,
            Err(e) => {
                diags.push(e.diagnostic(&format!("reading volume {id}"), None, "read"));
                Value::Null
            }
        }
    }

    async fn delete(&self, c: &Client, prior: &Value, diags: &mut Diagnostics) {
        let Some(id) = prior.get_str("id") else {
            return;
        };
        match bounded(c, c.timeout, c.api.detach_volume(id)).await {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            // detached already (outside Terraform): nothing to do
            Err(OpError::Api(e)) if e.to_string().contains("is not attached") => {}
            Err(e) => diags.push(e.diagnostic(&format!("detaching volume {id}"), None, "delete")),
        }
    }

    /// `terraform import cloudstack_attach_volume.x <volume id>` (the Go provider has none).
    async fn import(&self, _c: &Client, id: &str, _diags: &mut Diagnostics) -> Vec<Value> {
        let (_, id) = crate::common::split_import_id(id);
        import_state(id, &[])
    }
}
