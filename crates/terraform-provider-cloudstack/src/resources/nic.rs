//! `cloudstack_nic`: an extra NIC of a VM on another network
//! (`addNicToVirtualMachine` / `removeNicFromVirtualMachine`), the Go
//! provider's schema; every argument forces a new NIC. CloudStack allows one
//! NIC per network and VM. Import by the NIC's id (the VM is looked up).
//!
//! No `create_command`: the accepted answer of `addNicToVirtualMachine`
//! names the VM, not the NIC, so a lost answer is recovered by the client
//! (it finds the VM's NIC in that network) instead of a tainted state.

use cloudstack::{model::Nic as CsNic, Params};
use serde::{Deserialize, Serialize};
use tfplugin5::{async_trait, model::Field, Attribute, Block, Diagnostics, Schema, Type, Value};

use crate::{
    attr,
    common::{attr_in_text, bounded, found, OpError},
    kit::{Ctx, TypedResource},
};

/// The `cloudstack_nic` resource.
#[derive(Debug)]
pub struct NicResource;

/// The resource's attributes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Model {
    id: Field<String>,
    /// Null after an import until the first read.
    network_id: Field<String>,
    ip_address: Field<String>,
    /// Null after an import until the first read.
    virtual_machine_id: Field<String>,
    mac_address: Field<String>,
}

fn schema() -> Schema {
    Schema::new(
        Block::new()
            .attribute(Attribute::computed("id", Type::String))
            .attribute(Attribute::required("network_id", Type::String).force_new())
            .attribute(Attribute::optional_computed("ip_address", Type::String).force_new())
            .attribute(Attribute::required("virtual_machine_id", Type::String).force_new())
            .attribute(Attribute::optional_computed("mac_address", Type::String).force_new()),
    )
}

impl Model {
    fn fill(mut self, vm_id: &str, n: &CsNic) -> Model {
        self.id = Field::Known(n.id.clone());
        self.virtual_machine_id = Field::Known(vm_id.to_string());
        self.network_id = n.networkid.clone().into();
        self.ip_address = n.ipaddress.clone().into();
        self.mac_address = n.macaddress.clone().into();
        self
    }
}

/// The NIC `id` and its VM (looked up among every VM when `vm_id` is unknown).
async fn find(
    cx: Ctx<'_>,
    vm_id: Option<&str>,
    id: &str,
) -> Result<Option<(String, CsNic)>, OpError> {
    let c = cx.c;
    let vm = match vm_id {
        Some(vm) => bounded(c, c.timeout, c.api.get_virtual_machine(vm)).await?,
        None => bounded(c, c.timeout, c.api.find_vm_by_nic(id, false)).await?,
    };
    Ok(vm.and_then(|vm| {
        let nic = vm.nic.iter().find(|n| n.id == id).cloned();
        nic.map(|n| (vm.id.clone(), n))
    }))
}

#[async_trait]
impl TypedResource for NicResource {
    type Model = Model;
    type View = crate::kit::NoView;

    fn type_name(&self) -> &'static str {
        "cloudstack_nic"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn create(&self, cx: Ctx<'_>, plan: Model, diags: &mut Diagnostics) -> Option<Model> {
        let vm = plan.virtual_machine_id.non_empty()?.to_string();
        let network = plan.network_id.non_empty()?.to_string();
        let added = cx.c.api.add_nic_to_virtual_machine(
            &vm,
            &network,
            plan.ip_address.non_empty(),
            plan.mac_address.non_empty(),
        );
        match bounded(cx.c, cx.c.timeout, added).await {
            Ok(n) => Some(plan.fill(&vm, &n)),
            Err(e) => {
                let attr = attr_in_text(
                    &e,
                    &[
                        ("ip address", attr!(Model, ip_address)),
                        ("ipaddress", attr!(Model, ip_address)),
                        ("network", attr!(Model, network_id)),
                        ("virtualmachineid", attr!(Model, virtual_machine_id)),
                    ],
                );
                diags.push(e.diagnostic(
                    &format!("adding a NIC on network {network} to VM {vm}"),
                    attr,
                    "create",
                ));
                None
            }
        }
    }

    async fn read(&self, cx: Ctx<'_>, state: Model, diags: &mut Diagnostics) -> Option<Model> {
        let id = state.id.known()?.clone();
        let vm = state.virtual_machine_id.non_empty().map(str::to_string);
        let (vm, n) = found(
            find(cx, vm.as_deref(), &id).await,
            "NIC",
            &id,
            "read",
            diags,
        )?;
        Some(state.fill(&vm, &n))
    }

    async fn delete(&self, cx: Ctx<'_>, prior: Model, diags: &mut Diagnostics) {
        let (Some(id), Some(vm)) = (prior.id.known(), prior.virtual_machine_id.non_empty()) else {
            return;
        };
        let p = Params::new().with("virtualmachineid", vm).with("nicid", id);
        cx.delete(
            "removeNicFromVirtualMachine",
            &p,
            &format!("NIC {id}"),
            diags,
        )
        .await
    }

    /// `terraform import cloudstack_nic.x <nic id>`.
    fn import(&self, import_id: &str) -> Vec<Value> {
        vec![Value::object([(attr!(Model, id), import_id)])]
    }
}
