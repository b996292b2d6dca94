//! `data "cloudstack_vpc"`: the newest VPC matching every `filter` (Go
//! schema), optionally inside `project`.

use std::collections::BTreeMap;

use cloudstack::model::Vpc;
use serde::{Deserialize, Serialize};
use tfplugin5::{async_trait, Attribute, Block, Diagnostics, Schema, Type};

use super::{filtered_schema, pick_newest, project_scope, FilterModel, FilteredView, Filters};
use crate::{
    common::tags_map,
    kit::{Ctx, TypedDataSource},
};

/// The `cloudstack_vpc` data source.
#[derive(Debug)]
pub struct VpcData;

/// The data source's value.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Model {
    id: Option<String>,
    name: Option<String>,
    display_text: Option<String>,
    cidr: Option<String>,
    vpc_offering_name: Option<String>,
    network_domain: Option<String>,
    project: Option<String>,
    zone_name: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    filter: Vec<FilterModel>,
}

fn schema() -> Schema {
    filtered_schema(
        Block::new()
            .attribute(Attribute::computed("id", Type::String))
            .attribute(Attribute::computed("name", Type::String))
            .attribute(Attribute::computed("display_text", Type::String))
            .attribute(Attribute::computed("cidr", Type::String))
            .attribute(Attribute::computed("vpc_offering_name", Type::String))
            .attribute(Attribute::computed("network_domain", Type::String))
            .attribute(Attribute::optional_computed("project", Type::String))
            .attribute(Attribute::computed("zone_name", Type::String))
            .attribute(Attribute::optional_computed(
                "tags",
                Type::map(Type::String),
            )),
    )
}

#[async_trait]
impl TypedDataSource for VpcData {
    type Model = Model;
    type View = FilteredView;

    fn type_name(&self) -> &'static str {
        "cloudstack_vpc"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, config: FilteredView, diags: &mut Diagnostics) {
        Filters::of(&config, diags);
    }

    async fn read(&self, cx: Ctx<'_>, mut m: Model, diags: &mut Diagnostics) -> Option<Model> {
        let p = project_scope(cx, m.project.as_deref(), diags).await?;
        let vpc: Vpc = pick_newest(cx, ("listVPCs", "vpc"), &p, "VPCs", diags).await?;
        m.id = Some(vpc.id.clone());
        m.name = vpc.name;
        m.display_text = vpc.displaytext;
        m.cidr = vpc.cidr;
        m.vpc_offering_name = vpc.vpcofferingname;
        m.network_domain = vpc.networkdomain;
        m.project = vpc.project.or(m.project);
        m.zone_name = vpc.zonename;
        m.tags = Some(tags_map(&vpc.tags));
        Some(m)
    }
}
