//! `cloudstack_vpc`: a VPC (Go provider schema: name and display text
//! update in place, everything else replaces it). Created with recovery by
//! name, so a lost answer never makes a second VPC.

use std::collections::BTreeMap;

use cloudstack::{model::Vpc, Params, Resource as Kind};
use serde::{Deserialize, Serialize};
use tfplugin5::{
    async_trait,
    model::{Field, Timeouts},
    Attribute, Block, Diagnostics, Schema, Type,
};

use crate::{
    attr,
    common::{bounded, keep_spelling, resolve, tags_map, update_tags, OpError},
    kit::{Ctx, Planning, TypedResource},
    provider::{Client, Handle},
};

const TAG_TYPE: &str = "Vpc";

/// The `cloudstack_vpc` resource.
#[derive(Debug)]
pub struct VpcResource {
    handle: Handle,
}

impl VpcResource {
    /// `handle` lets plan-time checks reach the configured client.
    pub fn new(handle: Handle) -> VpcResource {
        VpcResource { handle }
    }
}

/// The resource's value (attribute names are the field names).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Model {
    id: Option<String>,
    name: Option<String>,
    display_text: Option<String>,
    cidr: Option<String>,
    vpc_offering: Option<String>,
    network_domain: Option<String>,
    project: Option<String>,
    source_nat_ip: Option<String>,
    zone: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    timeouts: Option<Timeouts>,
}

/// What the plan-time checks read (see [`crate::kit`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct View {
    zone: Field<String>,
    vpc_offering: Field<String>,
}

fn schema() -> Schema {
    Schema::new(
        Block::new()
            .attribute(Attribute::computed("id", Type::String))
            .attribute(Attribute::required("name", Type::String))
            .attribute(Attribute::optional_computed("display_text", Type::String))
            .attribute(Attribute::required("cidr", Type::String).force_new())
            .attribute(Attribute::required("vpc_offering", Type::String).force_new())
            .attribute(Attribute::optional_computed("network_domain", Type::String).force_new())
            .attribute(Attribute::optional_computed("project", Type::String).force_new())
            .attribute(Attribute::computed("source_nat_ip", Type::String))
            .attribute(Attribute::required("zone", Type::String).force_new())
            .attribute(Attribute::optional_computed(
                "tags",
                Type::map(Type::String),
            ))
            .timeouts(&["create", "delete"]),
    )
}

/// Looks a VPC up by id (`None` when gone); `projectid=-1` finds it in any project.
async fn find_vpc(c: &Client, id: &str, in_project: bool) -> Result<Option<Vpc>, OpError> {
    let mut p = Params::new().with("id", id).with("listall", "true");
    if in_project {
        p.set("projectid", "-1");
    }
    match bounded(c, c.timeout, c.api.list_all::<Vpc>("listVPCs", "vpc", &p)).await {
        Ok(v) => Ok(v.into_iter().find(|x| x.id == id)),
        Err(OpError::Api(e)) if e.is_param_error() || e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// The VPC's source NAT address (`listPublicIpAddresses issourcenat=true`).
async fn source_nat_ip(c: &Client, vpc: &Vpc) -> Result<Option<String>, OpError> {
    let mut p = Params::new()
        .with("vpcid", &vpc.id)
        .with("issourcenat", "true")
        .with("listall", "true");
    p.set_opt("projectid", vpc.projectid.as_deref());
    let ips = bounded(c, c.timeout, c.api.list_public_ip_addresses(&p)).await?;
    Ok(ips.into_iter().find_map(|i| i.ipaddress))
}

/// `m` brought up to date from CloudStack's `vpc`, keeping the user's spelling of names.
fn fill(mut m: Model, vpc: &Vpc, nat_ip: Option<String>) -> Model {
    m.id = Some(vpc.id.clone());
    m.name = vpc.name.clone();
    m.display_text = vpc.displaytext.clone();
    m.cidr = vpc.cidr.clone();
    m.network_domain = vpc.networkdomain.clone();
    if let Some(oid) = &vpc.vpcofferingid {
        m.vpc_offering = keep_spelling(
            m.vpc_offering.as_deref(),
            vpc.vpcofferingname.as_deref(),
            oid,
        )
        .as_str()
        .map(str::to_string);
    }
    if let Some(zid) = &vpc.zoneid {
        m.zone = keep_spelling(m.zone.as_deref(), vpc.zonename.as_deref(), zid)
            .as_str()
            .map(str::to_string);
    }
    if let Some(pid) = &vpc.projectid {
        m.project = keep_spelling(m.project.as_deref(), vpc.project.as_deref(), pid)
            .as_str()
            .map(str::to_string);
    }
    m.source_nat_ip = nat_ip;
    m.tags = Some(tags_map(&vpc.tags));
    m
}

#[async_trait]
impl TypedResource for VpcResource {
    fn create_command(&self) -> Option<&'static str> {
        Some("createVPC")
    }

    type Model = Model;

    type View = View;

    fn type_name(&self) -> &'static str {
        "cloudstack_vpc"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    /// Unknown zone or VPC offering names fail at plan time, before any change.
    async fn modify_plan(&self, plan: &mut Planning<'_, View>, diags: &mut Diagnostics) {
        let Some(c) = self.handle.get() else { return };
        if plan.prior.is_some() {
            return;
        }
        let none = Params::new();
        if let Some(z) = plan.config.zone.non_empty() {
            resolve(c, Kind::Zone, attr!(Model, zone), z, &none, diags).await;
        }
        if let Some(o) = plan.config.vpc_offering.non_empty() {
            let attr = attr!(Model, vpc_offering);
            resolve(c, Kind::VpcOffering, attr, o, &none, diags).await;
        }
    }

    async fn create(&self, cx: Ctx<'_>, plan: Model, diags: &mut Diagnostics) -> Option<Model> {
        let c = cx.c;
        let limit = cx.limit("create", diags);
        let name = plan.name.clone().unwrap_or_default();
        let scope = Params::new();
        let zone = plan.zone.as_deref().unwrap_or_default();
        let zone_id = resolve(c, Kind::Zone, attr!(Model, zone), zone, &scope, diags).await;
        let offering = plan.vpc_offering.as_deref().unwrap_or_default();
        let offering_id = resolve(
            c,
            Kind::VpcOffering,
            attr!(Model, vpc_offering),
            offering,
            &scope,
            diags,
        )
        .await;
        let project_id = cx.project_id(plan.project.as_deref(), diags).await.ok()?;
        let (Some(zone_id), Some(offering_id)) = (zone_id, offering_id) else {
            return None;
        };
        let mut p = Params::new()
            .with("name", &name)
            .with(
                "displaytext",
                plan.display_text
                    .as_deref()
                    .filter(|d| !d.is_empty())
                    .unwrap_or(&name),
            )
            .with("cidr", plan.cidr.as_deref().unwrap_or_default())
            .with("vpcofferingid", &offering_id)
            .with("zoneid", &zone_id);
        p.set_opt(
            "networkdomain",
            plan.network_domain.as_deref().filter(|d| !d.is_empty()),
        );
        p.set_opt("projectid", project_id.as_deref());
        let api = c.api_with_timeout(limit);
        // a lost answer is recovered by finding the VPC of this name and CIDR in the zone
        let lookup = || {
            let mut q = Params::new()
                .with("zoneid", &zone_id)
                .with("name", &name)
                .with("listall", "true");
            q.set_opt("projectid", project_id.as_deref());
            let (api, name, cidr) = (api.clone(), name.clone(), plan.cidr.clone());
            async move {
                let all = api.list_all_values("listVPCs", "vpc", &q).await?;
                Ok(all.into_iter().find(|v| {
                    v.get("name").and_then(|n| n.as_str()) == Some(name.as_str())
                        && v.get("cidr").and_then(|n| n.as_str()) == cidr.as_deref()
                }))
            }
        };
        let created = bounded(
            c,
            limit,
            api.create_with_recovery("createVPC", &p, Some("vpc"), lookup),
        )
        .await;
        let vpc: Vpc = match created.and_then(|v| {
            serde_json::from_value(v).map_err(|e| {
                OpError::Api(cloudstack::Error::Decode {
                    command: "createVPC".into(),
                    message: e.to_string(),
                })
            })
        }) {
            Ok(v) => v,
            Err(e) => {
                let attr = crate::common::attr_in_text(
                    &e,
                    &[
                        ("cidr", attr!(Model, cidr)),
                        ("domain", attr!(Model, network_domain)),
                        ("offering", attr!(Model, vpc_offering)),
                    ],
                );
                diags.push(e.diagnostic(
                    &format!("creating VPC {name}"),
                    attr.or(Some(attr!(Model, cidr))),
                    "create",
                ));
                return None;
            }
        };
        let tags = plan.tags.clone().unwrap_or_default();
        let mut state = fill(plan, &vpc, None);
        state.source_nat_ip = match source_nat_ip(c, &vpc).await {
            Ok(ip) => ip,
            Err(e) => {
                diags.push(e.diagnostic("reading the VPC's source NAT IP", None, "create"));
                return Some(state);
            }
        };
        if !tags.is_empty() {
            if let Err(e) = update_tags(c, limit, TAG_TYPE, &vpc.id, &BTreeMap::new(), &tags).await
            {
                diags.push(e.diagnostic("tagging the VPC", Some(attr!(Model, tags)), "create"));
                return Some(state);
            }
            state.tags = Some(tags);
        }
        Some(state)
    }

    async fn read(&self, cx: Ctx<'_>, state: Model, diags: &mut Diagnostics) -> Option<Model> {
        let c = cx.c;
        let id = state.id.clone()?;
        let vpc = match find_vpc(c, &id, state.project.is_some()).await {
            Ok(Some(v)) => v,
            Ok(None) => return None,
            Err(e) => {
                diags.push(e.diagnostic(&format!("reading VPC {id}"), None, "read"));
                return None;
            }
        };
        match source_nat_ip(c, &vpc).await {
            Ok(ip) => Some(fill(state, &vpc, ip)),
            Err(e) => {
                diags.push(e.diagnostic(&format!("reading VPC {id}"), None, "read"));
                None
            }
        }
    }

    async fn update(
        &self,
        cx: Ctx<'_>,
        prior: Model,
        plan: Model,
        diags: &mut Diagnostics,
    ) -> Option<Model> {
        let c = cx.c;
        let id = prior.id.clone()?;
        let limit = cx.limit("create", diags);
        let api = c.api_with_timeout(limit);
        let mut p = Params::new().with("id", &id);
        if plan.name != prior.name {
            p.set_opt("name", plan.name.as_deref());
        }
        if plan.display_text != prior.display_text {
            // unset display text falls back to the name, like the Go provider
            let text = plan
                .display_text
                .as_deref()
                .filter(|d| !d.is_empty())
                .or(plan.name.as_deref());
            p.set_opt("displaytext", text);
        }
        if p.iter().count() > 1 {
            if let Err(e) = bounded(c, limit, api.request_async("updateVPC", &p)).await {
                diags.push(e.diagnostic(
                    &format!("updating VPC {id}"),
                    Some(attr!(Model, name)),
                    "update",
                ));
                return None;
            }
        }
        let old = prior.tags.clone().unwrap_or_default();
        let new = plan.tags.clone().unwrap_or_default();
        if plan.tags.is_some() && old != new {
            if let Err(e) = update_tags(c, limit, TAG_TYPE, &id, &old, &new).await {
                diags.push(e.diagnostic("updating tags", Some(attr!(Model, tags)), "update"));
                return None;
            }
        }
        let vpc = match find_vpc(c, &id, prior.project.is_some()).await {
            Ok(Some(v)) => v,
            Ok(None) => return Some(plan),
            Err(e) => {
                diags.push(e.diagnostic(&format!("reading VPC {id}"), None, "update"));
                return None;
            }
        };
        let nat = prior.source_nat_ip.clone();
        Some(fill(plan, &vpc, nat))
    }

    async fn delete(&self, cx: Ctx<'_>, prior: Model, diags: &mut Diagnostics) {
        let Some(id) = prior.id else { return };
        let p = Params::new().with("id", &id);
        cx.delete("deleteVPC", &p, &format!("VPC {id}"), diags)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testenv::{self, ZONE_ID};
    use crate::kit::Typed;
    use tfplugin5::{Resource, Value};

    #[tokio::test]
    async fn create_read_update_delete() {
        let env = testenv::start(Default::default()).await;
        let c = &env.client;
        let r = Typed(VpcResource::new(Handle::default()));
        let planned = Value::object([
            ("id", Value::Unknown),
            ("name", "vpc1".into()),
            ("display_text", Value::Unknown),
            ("cidr", "10.10.0.0/16".into()),
            ("vpc_offering", "Default VPC offering".into()),
            ("network_domain", Value::Unknown),
            ("project", Value::Unknown),
            ("source_nat_ip", Value::Unknown),
            ("zone", ZONE_ID.into()),
            (
                "tags",
                Value::Map([("env".to_string(), Value::from("test"))].into()),
            ),
            ("timeouts", Value::Null),
        ]);
        let mut d = Diagnostics::default();
        let state = r.create(c, &planned, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert!(state.is_fully_known(), "{state:?}");
        assert_eq!(state.get_str("display_text"), Some("vpc1"));
        assert_eq!(state.get_str("vpc_offering"), Some("Default VPC offering"));
        assert!(state.get_str("source_nat_ip").is_some(), "{state:?}");
        assert_eq!(r.read(c, &state, &mut d).await, state);

        let mut renamed = state.clone();
        renamed.set_attr("name", "vpc2");
        let updated = r.update(c, &state, &renamed, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert_eq!(updated.get_str("name"), Some("vpc2"));
        assert_eq!(env.sim.world().vpc.vpcs[0].name, "vpc2");

        r.delete(c, &updated, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert!(env.sim.world().vpc.vpcs.is_empty());
        assert!(r.read(c, &updated, &mut d).await.is_null());
    }

    /// Ctrl-C while `createVPC`'s job runs: CloudStack accepted it, so the VPC
    /// is kept in state (tainted) instead of being orphaned.
    #[tokio::test]
    async fn an_accepted_create_interrupted_is_kept_tainted() {
        let (env, c) = testenv::interrupted_client("createvpc").await;
        let r = Typed(VpcResource::new(Handle::default()));
        let planned = Value::object([
            ("id", Value::Unknown),
            ("name", "vpc-stopped".into()),
            ("display_text", Value::Unknown),
            ("cidr", "10.20.0.0/16".into()),
            ("vpc_offering", "Default VPC offering".into()),
            ("network_domain", Value::Unknown),
            ("project", Value::Unknown),
            ("source_nat_ip", Value::Unknown),
            ("zone", ZONE_ID.into()),
            ("tags", Value::Null),
            ("timeouts", Value::Null),
        ]);
        let mut d = Diagnostics::default();
        let state = r.create(&c, &planned, &mut d).await;
        let held: Vec<String> = env
            .sim
            .world()
            .vpc
            .vpcs
            .iter()
            .map(|v| v.id.clone())
            .collect();
        testenv::assert_kept_tainted(&state, &d, &held);
    }

    #[tokio::test]
    async fn bad_cidr_names_the_attribute() {
        let env = testenv::start(Default::default()).await;
        let r = Typed(VpcResource::new(Handle::default()));
        let planned = Value::object([
            ("name", Value::from("v")),
            ("cidr", "8.8.0.0/16".into()),
            ("vpc_offering", "Default VPC offering".into()),
            ("zone", ZONE_ID.into()),
        ]);
        let mut d = Diagnostics::default();
        assert!(r.create(&env.client, &planned, &mut d).await.is_null());
        let e = &d.0[0];
        assert_eq!(
            e.attribute.as_ref().map(|a| a.to_string()).as_deref(),
            Some("cidr")
        );
        assert!(e.detail.contains("RFC1918"), "{e:?}");
        assert!(env.sim.world().vpc.vpcs.is_empty());
    }
}
