//! `data "cloudstack_instance"`: the newest VM matching every `filter`, or
//! the one whose first NIC has `nic { ip_address }` (Go schema).

use std::collections::BTreeMap;

use cloudstack::model::VirtualMachine;
use serde::{Deserialize, Serialize};
use tfplugin5::{async_trait, Attribute, Block, Diagnostics, NestedBlock, Schema, Type};

use super::{
    filtered_schema, list_all, pick_newest, project_scope, FilterModel, FilteredView, Filters,
};
use crate::{
    attr,
    common::tags_map,
    kit::{Ctx, TypedDataSource},
};

/// The `cloudstack_instance` data source.
#[derive(Debug)]
pub struct InstanceData;

/// A `nic` block.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NicModel {
    ip_address: Option<String>,
}

/// The data source's value.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Model {
    id: Option<String>,
    instance_id: Option<String>,
    account: Option<String>,
    project: Option<String>,
    display_name: Option<String>,
    state: Option<String>,
    host_id: Option<String>,
    zone_id: Option<String>,
    created: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    nic: Vec<NicModel>,
    filter: Vec<FilterModel>,
}

fn schema() -> Schema {
    let s = |n: &str| Attribute::computed(n, Type::String);
    filtered_schema(
        Block::new()
            .attribute(s("id"))
            .attribute(s("instance_id"))
            .attribute(s("account"))
            .attribute(Attribute::optional_computed("project", Type::String))
            .attribute(s("display_name"))
            .attribute(s("state"))
            .attribute(s("host_id"))
            .attribute(s("zone_id"))
            .attribute(s("created"))
            .attribute(Attribute::optional_computed(
                "tags",
                Type::map(Type::String),
            ))
            .block(NestedBlock::list(
                "nic",
                Block::new().attribute(Attribute::optional_computed("ip_address", Type::String)),
            )),
    )
}

#[async_trait]
impl TypedDataSource for InstanceData {
    type Model = Model;
    type View = FilteredView;

    fn type_name(&self) -> &'static str {
        "cloudstack_instance"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, config: FilteredView, diags: &mut Diagnostics) {
        Filters::of(&config, diags);
    }

    async fn read(&self, cx: Ctx<'_>, mut m: Model, diags: &mut Diagnostics) -> Option<Model> {
        let p = project_scope(cx, m.project.as_deref(), diags).await?;
        let command = ("listVirtualMachines", "virtualmachine");
        let wanted_ip = m.nic.first().and_then(|n| n.ip_address.clone());
        let vm: VirtualMachine = match &wanted_ip {
            Some(ip) => {
                let all =
                    list_all(cx.c, command.0, command.1, &p, "instances", None, diags).await?;
                let hit = all.into_iter().find(|v| {
                    v.pointer("/nic/0/ipaddress").and_then(|a| a.as_str()) == Some(ip.as_str())
                });
                let Some(hit) = hit else {
                    diags.attribute_error(
                        attr!(Model, nic),
                        format!("No instance has the address {ip}"),
                        "Check nic.ip_address (the first NIC's address is compared).",
                    );
                    return None;
                };
                match serde_json::from_value(hit) {
                    Ok(v) => v,
                    Err(e) => {
                        diags.error("Cannot read the instance CloudStack listed", e.to_string());
                        return None;
                    }
                }
            }
            None => pick_newest(cx, command, &p, "instances", diags).await?,
        };
        m.id = Some(vm.id.clone());
        m.instance_id = Some(vm.id.clone());
        m.account = vm.account.clone();
        m.display_name = vm.displayname.clone();
        m.state = vm.state.clone();
        m.host_id = vm.hostid.clone();
        m.zone_id = vm.zoneid.clone();
        m.created = vm.created.clone();
        m.tags = Some(tags_map(&vm.tags));
        m.nic = vec![NicModel {
            ip_address: vm.nic.first().and_then(|n| n.ipaddress.clone()),
        }];
        Some(m)
    }
}
