//! `data "cloudstack_network_offering"`: the newest network offering
//! matching every `filter` (Go schema).

use std::collections::BTreeMap;

use cloudstack::Params;
use serde::{Deserialize, Serialize};
use tfplugin5::{async_trait, Attribute, Block, Diagnostics, Schema, Type};

use super::{filtered_schema, pick_newest, FilterModel, FilteredView, Filters};
use crate::kit::{Ctx, TypedDataSource};

/// The `cloudstack_network_offering` data source.
#[derive(Debug)]
pub struct NetworkOfferingData;

/// The data source's value.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Model {
    id: Option<String>,
    name: Option<String>,
    display_text: Option<String>,
    guest_ip_type: Option<String>,
    traffic_type: Option<String>,
    network_rate: Option<i64>,
    network_mode: Option<String>,
    conserve_mode: Option<bool>,
    enable: Option<bool>,
    for_vpc: Option<bool>,
    for_nsx: Option<bool>,
    specify_vlan: Option<bool>,
    specify_ip_ranges: Option<bool>,
    specify_as_number: Option<bool>,
    internet_protocol: Option<String>,
    routing_mode: Option<String>,
    max_connections: Option<i64>,
    supported_services: Option<Vec<String>>,
    service_provider_list: Option<BTreeMap<String, String>>,
    filter: Vec<FilterModel>,
}

/// CloudStack's answer, the fields this data source shows.
#[derive(Debug, Deserialize)]
struct Offering {
    id: String,
    name: Option<String>,
    displaytext: Option<String>,
    guestiptype: Option<String>,
    traffictype: Option<String>,
    networkrate: Option<i64>,
    networkmode: Option<String>,
    conservemode: Option<bool>,
    state: Option<String>,
    forvpc: Option<bool>,
    fornsx: Option<bool>,
    specifyvlan: Option<bool>,
    specifyipranges: Option<bool>,
    specifyasnumber: Option<bool>,
    internetprotocol: Option<String>,
    routingmode: Option<String>,
    maxconnections: Option<i64>,
    #[serde(default)]
    service: Vec<Service>,
}

#[derive(Debug, Deserialize)]
struct Service {
    name: String,
    #[serde(default)]
    provider: Vec<Provider>,
}

#[derive(Debug, Deserialize)]
struct Provider {
    name: String,
}

fn schema() -> Schema {
    let s = |n: &str| Attribute::computed(n, Type::String);
    let b = |n: &str| Attribute::computed(n, Type::Bool);
    let n = |n: &str| Attribute::computed(n, Type::Number);
    filtered_schema(
        Block::new()
            .attribute(s("id"))
            .attribute(s("name"))
            .attribute(s("display_text"))
            .attribute(s("guest_ip_type"))
            .attribute(s("traffic_type"))
            .attribute(n("network_rate"))
            .attribute(s("network_mode"))
            .attribute(b("conserve_mode"))
            .attribute(b("enable"))
            .attribute(b("for_vpc"))
            .attribute(b("for_nsx"))
            .attribute(b("specify_vlan"))
            .attribute(b("specify_ip_ranges"))
            .attribute(b("specify_as_number"))
            .attribute(s("internet_protocol"))
            .attribute(s("routing_mode"))
            .attribute(n("max_connections"))
            .attribute(Attribute::computed(
                "supported_services",
                Type::set(Type::String),
            ))
            .attribute(Attribute::computed(
                "service_provider_list",
                Type::map(Type::String),
            )),
    )
}

#[async_trait]
impl TypedDataSource for NetworkOfferingData {
    type Model = Model;
    type View = FilteredView;

    fn type_name(&self) -> &'static str {
        "cloudstack_network_offering"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, config: FilteredView, diags: &mut Diagnostics) {
        Filters::of(&config, diags);
    }

    async fn read(&self, cx: Ctx<'_>, m: Model, diags: &mut Diagnostics) -> Option<Model> {
        let command = ("listNetworkOfferings", "networkoffering");
        let o: Offering =
            pick_newest(cx, command, &Params::new(), "network offerings", diags).await?;
        Some(Model {
            id: Some(o.id),
            name: o.name,
            display_text: o.displaytext,
            guest_ip_type: o.guestiptype,
            traffic_type: o.traffictype,
            network_rate: o.networkrate,
            network_mode: o.networkmode,
            conserve_mode: o.conservemode,
            enable: o.state.map(|s| s.eq_ignore_ascii_case("Enabled")),
            for_vpc: o.forvpc,
            for_nsx: o.fornsx,
            specify_vlan: o.specifyvlan,
            specify_ip_ranges: o.specifyipranges,
            specify_as_number: o.specifyasnumber,
            internet_protocol: o.internetprotocol,
            routing_mode: o.routingmode,
            max_connections: o.maxconnections,
            supported_services: Some(o.service.iter().map(|s| s.name.clone()).collect()),
            service_provider_list: Some(
                o.service
                    .iter()
                    .filter_map(|s| Some((s.name.clone(), s.provider.first()?.name.clone())))
                    .collect(),
            ),
            filter: m.filter,
        })
    }
}
