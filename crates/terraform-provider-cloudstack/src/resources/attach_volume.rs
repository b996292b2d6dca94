//! `cloudstack_attach_volume`: attaches a volume to a VM (the Go provider's schema; its id
//! is the volume's). Destroying it detaches the volume. A volume detached or moved to
//! another VM outside Terraform is attached again by the next apply. Written on the
//! typed-model kit: once CloudStack accepted the `attachVolume` (its job started), a
//! failure later (a lost job answer, a timeout, Ctrl-C) keeps the attachment in state as
//! tainted, so the next apply or destroy detaches it instead of leaving it behind.

use cloudstack::model::Volume;
use serde::{Deserialize, Serialize};
use tfplugin5::{async_trait, model::Field, Attribute, Block, Diagnostics, Schema, Type, Value};

use crate::{
    attr,
    common::{attr_in_text, bounded, import_state, split_import_id, OpError},
    kit::{Ctx, TypedResource},
};

/// The `cloudstack_attach_volume` resource.
#[derive(Debug)]
pub struct AttachVolume;

/// The resource's attributes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Model {
    id: Field<String>,
    volume_id: Field<String>,
    virtual_machine_id: Field<String>,
    device_id: Field<i64>,
    attached: Field<String>,
}

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

impl Model {
    fn fill(mut self, v: &Volume) -> Model {
        self.id = Field::Known(v.id.clone());
        self.volume_id = Field::Known(v.id.clone());
        self.virtual_machine_id = v.virtualmachineid.clone().into();
        self.device_id = v.deviceid.into();
        self.attached = v.attached.clone().into();
        self
    }
}

#[async_trait]
impl TypedResource for AttachVolume {
    type Model = Model;
    type View = crate::kit::NoView;

    fn type_name(&self) -> &'static str {
        "cloudstack_attach_volume"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    /// Accepted means the attach job started: the client records the volume's id then.
    fn create_command(&self) -> Option<&'static str> {
        Some("attachVolume")
    }

    async fn create(&self, cx: Ctx<'_>, plan: Model, diags: &mut Diagnostics) -> Option<Model> {
        let volume = plan.volume_id.non_empty()?.to_string();
        let vm = plan.virtual_machine_id.non_empty()?.to_string();
        let device = plan.device_id.known().copied();
        let attached = cx.c.api.attach_volume(&volume, &vm, device);
        match bounded(cx.c, cx.c.timeout, attached).await {
            Ok(v) => Some(plan.fill(&v)),
            Err(e) => {
                let attr = attr_in_text(
                    &e,
                    &[
                        ("deviceid", attr!(Model, device_id)),
                        ("virtualmachineid", attr!(Model, virtual_machine_id)),
                        ("vm", attr!(Model, virtual_machine_id)),
                        ("volume", attr!(Model, volume_id)),
                    ],
                );
                let action = format!("attaching volume {volume} to VM {vm}");
                diags.push(e.diagnostic(&action, attr, "create"));
                None
            }
        }
    }

    /// Gone when the volume is gone or no longer attached to the VM.
    async fn read(&self, cx: Ctx<'_>, state: Model, diags: &mut Diagnostics) -> Option<Model> {
        let id = state.id.known()?.clone();
        let looked_up: Result<_, OpError> =
            bounded(cx.c, cx.c.timeout, cx.c.api.get_volume(&id, true)).await;
        match looked_up {
            Ok(Some(v)) if v.virtualmachineid.is_some() => {
                let vm = state.virtual_machine_id.known();
                if vm.is_some() && vm != v.virtualmachineid.as_ref() {
                    // attached elsewhere: this attachment no longer exists
                    return None;
                }
                Some(state.fill(&v))
            }
            Ok(_) => None,
            Err(e) => {
                diags.push(e.diagnostic(&format!("reading volume {id}"), None, "read"));
                None
            }
        }
    }

    async fn delete(&self, cx: Ctx<'_>, prior: Model, diags: &mut Diagnostics) {
        let Some(id) = prior.id.known() else { return };
        match bounded(cx.c, cx.c.timeout, cx.c.api.detach_volume(id)).await {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            // detached already (outside Terraform): nothing to do
            Err(OpError::Api(e)) if e.to_string().contains("is not attached") => {}
            Err(e) => diags.push(e.diagnostic(&format!("detaching volume {id}"), None, "delete")),
        }
    }

    /// `terraform import cloudstack_attach_volume.x <volume id>` (the Go provider has none).
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
    use cloudstack::{api::DeployVirtualMachine, volume::CreateVolume};
    use cloudstack_sim::seed::{DISK_SMALL_ID, T1_SMALL_ID, TEMPLATE_ID};
    use tfplugin5::Resource;

    /// A running VM and a detached data volume: (vm id, volume id).
    async fn vm_and_volume(env: &testenv::Env) -> (String, String) {
        let api = &env.client.api;
        let vm = api
            .deploy_virtual_machine(&DeployVirtualMachine {
                zone_id: ZONE_ID.into(),
                service_offering_id: T1_SMALL_ID.into(),
                template_id: TEMPLATE_ID.into(),
                name: Some("vm-1".into()),
                network_ids: vec![testenv::NETWORK_ID.into()],
                ..Default::default()
            })
            .await
            .unwrap();
        let vol = api
            .create_volume(&CreateVolume {
                name: "data".into(),
                zone_id: ZONE_ID.into(),
                disk_offering_id: DISK_SMALL_ID.into(),
                ..Default::default()
            })
            .await
            .unwrap();
        (vm.id, vol.id)
    }

    fn planned(vm: &str, volume: &str) -> Value {
        Value::object([
            ("id", Value::Unknown),
            ("volume_id", Value::from(volume)),
            ("virtual_machine_id", Value::from(vm)),
            ("device_id", Value::Unknown),
            ("attached", Value::Unknown),
        ])
    }

    #[tokio::test]
    async fn attach_read_detach() {
        let env = testenv::start(Default::default()).await;
        let c = &env.client;
        let (vm, vol) = vm_and_volume(&env).await;
        let r = Typed(AttachVolume);
        let mut d = Diagnostics::default();
        let made = r.create(c, &planned(&vm, &vol), &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert!(made.is_fully_known(), "{made:?}");
        assert_eq!(made.get_str("id"), Some(vol.as_str()));
        assert_eq!(r.read(c, &made, &mut d).await, made);
        r.delete(c, &made, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert!(r.read(c, &made, &mut d).await.is_null(), "detached → gone");
        // detached already: destroying again is not an error
        r.delete(c, &made, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
    }

    /// Ctrl-C while `attachVolume`'s job runs: CloudStack accepted the attach, so the
    /// attachment is kept (tainted, id = the volume's) and a destroy detaches it.
    #[tokio::test]
    async fn an_accepted_create_interrupted_is_kept_tainted() {
        let (env, c) = interrupted_client("attachvolume").await;
        let (vm, vol) = vm_and_volume(&env).await;
        let r = Typed(AttachVolume);
        let mut d = Diagnostics::default();
        let state = r.create(&c, &planned(&vm, &vol), &mut d).await;
        testenv::assert_kept_tainted(&state, &d, std::slice::from_ref(&vol));
        assert_eq!(state.get_str("virtual_machine_id"), Some(vm.as_str()));
        // the job finishes in CloudStack; destroying the tainted attachment detaches it
        let attached = || {
            env.sim
                .world()
                .volumes
                .iter()
                .any(|v| v.id == vol && v.virtualmachineid.as_deref() == Some(vm.as_str()))
        };
        let mut d = Diagnostics::default();
        r.delete(&env.client, &state, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert!(!attached(), "detached by the destroy");
    }
}
