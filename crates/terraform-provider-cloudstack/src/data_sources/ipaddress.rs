//! `data "cloudstack_ipaddress"`: the newest public IP matching every
//! `filter` (Go schema), optionally inside `project`.

use std::collections::BTreeMap;

use cloudstack::model::PublicIpAddress;
use serde::{Deserialize, Serialize};
use tfplugin5::{async_trait, Attribute, Block, Diagnostics, Schema, Type};

use super::{filtered_schema, pick_newest, project_scope, FilterModel, FilteredView, Filters};
use crate::{
    common::tags_map,
    kit::{Ctx, TypedDataSource},
};

/// The `cloudstack_ipaddress` data source.
#[derive(Debug)]
pub struct IpAddressData;

/// The data source's value.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Model {
    id: Option<String>,
    is_portable: Option<bool>,
    network_id: Option<String>,
    vpc_id: Option<String>,
    zone_name: Option<String>,
    project: Option<String>,
    ip_address: Option<String>,
    is_source_nat: Option<bool>,
    tags: Option<BTreeMap<String, String>>,
    filter: Vec<FilterModel>,
}

fn schema() -> Schema {
    filtered_schema(
        Block::new()
            .attribute(Attribute::computed("id", Type::String))
            .attribute(Attribute::computed("is_portable", Type::Bool))
            .attribute(Attribute::computed("network_id", Type::String))
            .attribute(Attribute::computed("vpc_id", Type::String))
            .attribute(Attribute::computed("zone_name", Type::String))
            .attribute(Attribute::optional_computed("project", Type::String))
            .attribute(Attribute::computed("ip_address", Type::String))
            .attribute(Attribute::computed("is_source_nat", Type::Bool))
            .attribute(Attribute::optional_computed(
                "tags",
                Type::map(Type::String),
            )),
    )
}

#[async_trait]
impl TypedDataSource for IpAddressData {
    type Model = Model;
    type View = FilteredView;

    fn type_name(&self) -> &'static str {
        "cloudstack_ipaddress"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, config: FilteredView, diags: &mut Diagnostics) {
        Filters::of(&config, diags);
    }

    async fn read(&self, cx: Ctx<'_>, mut m: Model, diags: &mut Diagnostics) -> Option<Model> {
        let p = project_scope(cx, m.project.as_deref(), diags).await?;
        let command = ("listPublicIpAddresses", "publicipaddress");
        let ip: PublicIpAddress = pick_newest(cx, command, &p, "IP addresses", diags).await?;
        m.id = Some(ip.id.clone());
        m.is_portable = Some(ip.isportable.unwrap_or(false));
        m.network_id = ip.associatednetworkid.or(ip.networkid);
        m.vpc_id = ip.vpcid;
        m.zone_name = ip.zonename;
        m.project = ip.project.or(m.project);
        m.ip_address = ip.ipaddress;
        m.is_source_nat = Some(ip.issourcenat.unwrap_or(false));
        m.tags = Some(tags_map(&ip.tags));
        Some(m)
    }
}
