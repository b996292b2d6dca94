//! `cloudstack_static_nat`: a public IP mapped one-to-one to a VM (Go
//! provider schema; every argument replaces it; ID = the IP's id).

use cloudstack::{model::PublicIpAddress, Params};
use serde::{Deserialize, Serialize};
use tfplugin5::{async_trait, Attribute, Block, Diagnostics, Schema, Type};

use crate::{
    attr,
    common::{attr_in_text, bounded, find_by_id, found, keep_spelling, OpError},
    kit::{Ctx, TypedResource},
    provider::Client,
};

/// The `cloudstack_static_nat` resource.
#[derive(Debug)]
pub struct StaticNat;

/// The resource's value.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Model {
    id: Option<String>,
    ip_address_id: Option<String>,
    virtual_machine_id: Option<String>,
    vm_guest_ip: Option<String>,
    project: Option<String>,
}

fn schema() -> Schema {
    Schema::new(
        Block::new()
            .attribute(Attribute::computed("id", Type::String))
            .attribute(Attribute::required("ip_address_id", Type::String).force_new())
            .attribute(Attribute::required("virtual_machine_id", Type::String).force_new())
            .attribute(Attribute::optional_computed("vm_guest_ip", Type::String).force_new())
            .attribute(Attribute::optional_computed("project", Type::String).force_new()),
    )
}

/// The public IP by id in the account or any project; `None` when released.
async fn find_ip(c: &Client, id: &str) -> Result<Option<PublicIpAddress>, OpError> {
    find_by_id(c, "listPublicIpAddresses", "publicipaddress", id).await
}

/// `m` from what CloudStack says of the IP; `None` when static NAT is off.
fn fill(mut m: Model, ip: &PublicIpAddress) -> Option<Model> {
    if ip.isstaticnat != Some(true) {
        return None;
    }
    m.id = Some(ip.id.clone());
    m.ip_address_id = Some(ip.id.clone());
    m.virtual_machine_id = ip.virtualmachineid.clone();
    m.vm_guest_ip = ip.vmipaddress.clone();
    if let Some(pid) = &ip.projectid {
        m.project = keep_spelling(m.project.as_deref(), ip.project.as_deref(), pid)
            .as_str()
            .map(str::to_string);
    }
    Some(m)
}

#[async_trait]
impl TypedResource for StaticNat {
    type Model = Model;
    type View = crate::kit::NoView;

    fn type_name(&self) -> &'static str {
        "cloudstack_static_nat"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn create(&self, cx: Ctx<'_>, plan: Model, diags: &mut Diagnostics) -> Option<Model> {
        let c = cx.c;
        let ip_id = plan.ip_address_id.clone().unwrap_or_default();
        let vm_id = plan.virtual_machine_id.clone().unwrap_or_default();
        let mut p = Params::new()
            .with("ipaddressid", &ip_id)
            .with("virtualmachineid", &vm_id);
        p.set_opt(
            "vmguestip",
            plan.vm_guest_ip.as_deref().filter(|g| !g.is_empty()),
        );
        if let Err(e) = bounded(c, c.timeout, c.api.request_async("enableStaticNat", &p)).await {
            let attr = attr_in_text(
                &e,
                &[
                    ("vm ip", attr!(Model, vm_guest_ip)),
                    ("virtualmachineid", attr!(Model, virtual_machine_id)),
                    ("vm id", attr!(Model, virtual_machine_id)),
                ],
            )
            .or(Some(attr!(Model, ip_address_id)));
            diags.push(e.diagnostic(
                &format!("enabling static NAT on IP {ip_id}"),
                attr,
                "create",
            ));
            return None;
        }
        match find_ip(c, &ip_id).await {
            Ok(Some(ip)) => fill(plan, &ip),
            Ok(None) => {
                diags.error(
                    format!("IP address {ip_id} vanished while enabling static NAT"),
                    "It was released outside Terraform; apply again to choose another.",
                );
                None
            }
            Err(e) => {
                diags.push(e.diagnostic(&format!("reading IP address {ip_id}"), None, "create"));
                None
            }
        }
    }

    async fn read(&self, cx: Ctx<'_>, state: Model, diags: &mut Diagnostics) -> Option<Model> {
        let id = state.id.clone()?;
        let ip = found(find_ip(cx.c, &id).await, "IP address", &id, "read", diags)?;
        fill(state, &ip)
    }

    async fn delete(&self, cx: Ctx<'_>, prior: Model, diags: &mut Diagnostics) {
        let c = cx.c;
        let Some(id) = prior.id else { return };
        let p = Params::new().with("ipaddressid", &id);
        match bounded(c, c.timeout, c.api.request_async("disableStaticNat", &p)).await {
            Ok(_) => {}
            // already off, or the address is gone
            Err(e) if e.is_not_found() || matches!(&e, OpError::Api(x) if x.is_param_error()) => {}
            Err(e) => diags.push(e.diagnostic(
                &format!("disabling static NAT on IP {id}"),
                None,
                "delete",
            )),
        }
    }
}
