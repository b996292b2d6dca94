//! `cloudstack_secondary_ipaddress`: a secondary IP on a VM's NIC
//! (`addIpToNic` / `removeIpFromNic`), the Go provider's schema; every
//! argument forces a new address. Without `nic_id` the VM's default NIC
//! gets it. Import by the address's id (the VM is looked up).

use cloudstack::{model::VirtualMachine, Params};
use serde::{Deserialize, Serialize};
use tfplugin5::{async_trait, model::Field, Attribute, Block, Diagnostics, Schema, Type, Value};

use crate::{
    attr,
    common::{attr_in_text, bounded, OpError},
    kit::{Ctx, TypedResource},
};

/// The `cloudstack_secondary_ipaddress` resource.
#[derive(Debug)]
pub struct SecondaryIpAddress;

/// The resource's attributes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Model {
    id: Field<String>,
    ip_address: Field<String>,
    nic_id: Field<String>,
    /// Null after an import until the first read.
    virtual_machine_id: Field<String>,
}

fn schema() -> Schema {
    Schema::new(
        Block::new()
            .attribute(Attribute::computed("id", Type::String))
            .attribute(Attribute::optional_computed("ip_address", Type::String).force_new())
            .attribute(Attribute::optional_computed("nic_id", Type::String).force_new())
            .attribute(Attribute::required("virtual_machine_id", Type::String).force_new()),
    )
}

/// The VM's NIC holding secondary IP `id`: `(nic id, address)`.
fn held_by(vm: &VirtualMachine, id: &str) -> Option<(String, Option<String>)> {
    vm.nic.iter().find_map(|n| {
        n.secondaryip
            .iter()
            .find(|s| s.id == id)
            .map(|s| (n.id.clone(), s.ipaddress.clone()))
    })
}

async fn find_vm(
    cx: Ctx<'_>,
    vm_id: Option<&str>,
    id: &str,
) -> Result<Option<VirtualMachine>, OpError> {
    let c = cx.c;
    match vm_id {
        Some(vm) => bounded(c, c.timeout, c.api.get_virtual_machine(vm)).await,
        None => bounded(c, c.timeout, c.api.find_vm_by_nic(id, true)).await,
    }
}

#[async_trait]
impl TypedResource for SecondaryIpAddress {
    type Model = Model;
    type View = crate::kit::NoView;

    fn type_name(&self) -> &'static str {
        "cloudstack_secondary_ipaddress"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn create_command(&self) -> Option<&'static str> {
        Some("addIpToNic")
    }

    async fn create(&self, cx: Ctx<'_>, mut plan: Model, diags: &mut Diagnostics) -> Option<Model> {
        let vm_id = plan.virtual_machine_id.non_empty()?.to_string();
        let nic = match plan.nic_id.non_empty() {
            Some(n) => n.to_string(),
            None => match find_vm(cx, Some(&vm_id), "").await {
                Ok(Some(vm)) => match vm.default_nic() {
                    Some(n) => n.id.clone(),
                    None => {
                        diags.attribute_error(
                            attr!(Model, virtual_machine_id),
                            format!("VM {vm_id} has no NIC"),
                            "Give nic_id, or a VM with a network.",
                        );
                        return None;
                    }
                },
                Ok(None) => {
                    diags.attribute_error(
                        attr!(Model, virtual_machine_id),
                        format!("VM {vm_id} does not exist"),
                        "Give the id of an existing VM.",
                    );
                    return None;
                }
                Err(e) => {
                    diags.push(e.diagnostic(&format!("reading VM {vm_id}"), None, "create"));
                    return None;
                }
            },
        };
        let added =
            cx.c.api
                .add_ip_to_nic(&vm_id, &nic, plan.ip_address.non_empty());
        match bounded(cx.c, cx.c.timeout, added).await {
            Ok(ip) => {
                plan.id = Field::Known(ip.id.clone());
                plan.nic_id = Field::Known(nic);
                if let Some(addr) = ip.ipaddress {
                    plan.ip_address = Field::Known(addr);
                }
                Some(plan)
            }
            Err(e) => {
                let attr = attr_in_text(
                    &e,
                    &[
                        ("ip", attr!(Model, ip_address)),
                        ("nicid", attr!(Model, nic_id)),
                    ],
                );
                diags.push(e.diagnostic(
                    &format!("adding a secondary IP to NIC {nic}"),
                    attr,
                    "create",
                ));
                None
            }
        }
    }

    async fn read(&self, cx: Ctx<'_>, mut state: Model, diags: &mut Diagnostics) -> Option<Model> {
        let id = state.id.known()?.clone();
        let vm_id = state.virtual_machine_id.non_empty().map(str::to_string);
        match find_vm(cx, vm_id.as_deref(), &id).await {
            Ok(Some(vm)) => {
                let (nic, addr) = held_by(&vm, &id)?;
                state.virtual_machine_id = Field::Known(vm.id.clone());
                state.nic_id = Field::Known(nic);
                state.ip_address = addr.into();
                Some(state)
            }
            Ok(None) => None,
            Err(e) => {
                diags.push(e.diagnostic(&format!("reading secondary IP {id}"), None, "read"));
                None
            }
        }
    }

    async fn delete(&self, cx: Ctx<'_>, prior: Model, diags: &mut Diagnostics) {
        let Some(id) = prior.id.known() else { return };
        let p = Params::new().with("id", id);
        let what = format!("secondary IP {id}");
        cx.delete("removeIpFromNic", &p, &what, diags).await
    }

    /// `terraform import cloudstack_secondary_ipaddress.x <id>`.
    fn import(&self, import_id: &str) -> Vec<Value> {
        vec![Value::object([(attr!(Model, id), import_id)])]
    }
}
