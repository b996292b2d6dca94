//! `cloudstack_ipaddress`: a public IP address associated with a network,
//! a VPC or a zone (Go provider schema; every argument forces a new IP).
//! The association is recovered after unclear failures by the client (the
//! one new address of the network is ours), so a retry never takes two; one
//! CloudStack accepted before a later failure is kept in state (tainted).

use std::collections::BTreeMap;

use cloudstack::{model::PublicIpAddress, Params, Resource as Kind};
use serde::{Deserialize, Serialize};
use tfplugin5::{
    async_trait,
    model::{Field, Timeouts},
    Attribute, Block, Diagnostics, Schema, Type,
};

use crate::{
    attr,
    common::{bounded, deleted, found, resolve, spelled, tags_map, update_tags, OpError},
    kit::{Ctx, Planning, TypedResource},
    provider::{Client, Handle},
};

const TAG_TYPE: &str = "PublicIpAddress";

/// The `cloudstack_ipaddress` resource.
#[derive(Debug)]
pub struct IpAddress {
    handle: Handle,
}

impl IpAddress {
    /// `handle` lets plan-time checks reach the configured client.
    pub fn new(handle: Handle) -> IpAddress {
        IpAddress { handle }
    }
}

/// The resource's value (attribute names are the field names).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Model {
    id: Option<String>,
    is_portable: Option<bool>,
    network_id: Option<String>,
    vpc_id: Option<String>,
    zone: Option<String>,
    project: Option<String>,
    ip_address: Option<String>,
    is_source_nat: Option<bool>,
    tags: Option<BTreeMap<String, String>>,
    timeouts: Option<Timeouts>,
}

fn schema() -> Schema {
    Schema::new(
        Block::new()
            .attribute(Attribute::computed("id", Type::String))
            .attribute(
                Attribute::optional("is_portable", Type::Bool)
                    .default(false)
                    .force_new(),
            )
            .attribute(Attribute::optional("network_id", Type::String).force_new())
            .attribute(Attribute::optional("vpc_id", Type::String).force_new())
            .attribute(Attribute::optional("zone", Type::String).force_new())
            .attribute(Attribute::optional_computed("project", Type::String).force_new())
            .attribute(Attribute::optional_computed("ip_address", Type::String).force_new())
            .attribute(Attribute::computed("is_source_nat", Type::Bool))
            .attribute(Attribute::optional_computed(
                "tags",
                Type::map(Type::String),
            ))
            .timeouts(&["create", "delete"]),
    )
}

/// What the plan-time checks read (see [`crate::kit`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct View {
    network_id: Field<String>,
    vpc_id: Field<String>,
    zone: Field<String>,
    is_portable: Field<bool>,
}

/// `m` brought up to date from CloudStack's `ip`, keeping the user's spelling.
fn fill(mut m: Model, ip: &PublicIpAddress) -> Model {
    m.id = Some(ip.id.clone());
    m.ip_address = ip.ipaddress.clone();
    m.is_source_nat = Some(ip.issourcenat.unwrap_or(false));
    m.tags = Some(tags_map(&ip.tags));
    if m.network_id.is_none() && m.vpc_id.is_none() && m.zone.is_none() {
        // import: take what CloudStack says
        m.network_id = ip.associatednetworkid.clone().or(ip.networkid.clone());
        m.vpc_id = ip.vpcid.clone();
    }
    if m.zone.is_some() {
        m.zone = spelled(m.zone, ip.zonename.as_deref(), ip.zoneid.as_deref());
    }
    if ip.projectid.is_some() {
        m.project = spelled(m.project, ip.project.as_deref(), ip.projectid.as_deref());
    }
    m.is_portable = m.is_portable.or(Some(ip.isportable.unwrap_or(false)));
    m
}

async fn find(c: &Client, id: &str, in_project: bool) -> Result<Option<PublicIpAddress>, OpError> {
    let mut p = Params::new().with("id", id).with("listall", "true");
    if in_project {
        p.set("projectid", "-1");
    }
    match bounded(c, c.timeout, c.api.list_public_ip_addresses(&p)).await {
        Ok(v) => Ok(v.into_iter().find(|i| {
            i.id == id && !matches!(i.state.as_deref(), Some("Free") | Some("Releasing"))
        })),
        Err(OpError::Api(e)) if e.is_param_error() || e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

#[async_trait]
impl TypedResource for IpAddress {
    type Model = Model;
    type View = View;

    fn type_name(&self) -> &'static str {
        "cloudstack_ipaddress"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn create_command(&self) -> Option<&'static str> {
        Some("associateIpAddress")
    }

    async fn validate(&self, config: View, diags: &mut Diagnostics) {
        let network = !config.network_id.is_null();
        let vpc = !config.vpc_id.is_null();
        if network && vpc {
            diags.attribute_error(
                attr!(Model, vpc_id),
                "\"vpc_id\" conflicts with \"network_id\"",
                "Associate the IP with a network or with a VPC, not both.",
            );
        }
        let portable = config.is_portable.known() == Some(&true);
        if portable && !network && !vpc {
            diags.attribute_error(
                attr!(Model, is_portable),
                "A portable IP needs network_id or vpc_id",
                "Set exactly one of network_id and vpc_id.",
            );
        }
        if !portable && !network && !vpc && config.zone.is_null() {
            diags.attribute_error(
                attr!(Model, network_id),
                "Where should the IP address go?",
                "Set network_id (or vpc_id, or zone).",
            );
        }
    }

    async fn modify_plan(&self, plan: &mut Planning<'_, View>, diags: &mut Diagnostics) {
        let Some(c) = self.handle.get() else { return };
        if plan.prior.is_none() {
            if let Some(z) = plan.config.zone.non_empty() {
                resolve(c, Kind::Zone, attr!(Model, zone), z, &Params::new(), diags).await;
            }
        }
    }

    async fn create(&self, cx: Ctx<'_>, plan: Model, diags: &mut Diagnostics) -> Option<Model> {
        let c = cx.c;
        let limit = cx.limit("create", diags);
        let mut p = Params::new();
        p.set_opt("networkid", plan.network_id.as_deref());
        p.set_opt("vpcid", plan.vpc_id.as_deref());
        p.set_opt("ipaddress", plan.ip_address.as_deref());
        if let Some(z) = plan.zone.as_deref() {
            let zone_id =
                resolve(c, Kind::Zone, attr!(Model, zone), z, &Params::new(), diags).await?;
            p.set("zoneid", zone_id);
        }
        if plan.is_portable == Some(true) {
            p.set("isportable", "true");
        }
        let project = cx.project_id(plan.project.as_deref(), diags).await.ok()?;
        p.set_opt("projectid", project);
        let api = c.api_with_timeout(limit);
        let ip = match bounded(c, limit, api.associate_ip_address(&p)).await {
            Ok(ip) => ip,
            Err(e) => {
                let action = "associating a public IP address";
                diags.push(e.diagnostic(action, Some(attr!(Model, network_id)), "create"));
                // the kit keeps an address CloudStack accepted (tainted)
                return None;
            }
        };
        let tags = plan.tags.clone().unwrap_or_default();
        let mut state = fill(plan, &ip);
        if !tags.is_empty() {
            match update_tags(c, limit, TAG_TYPE, &ip.id, &BTreeMap::new(), &tags).await {
                Ok(()) => state.tags = Some(tags),
                Err(e) => diags.push(e.diagnostic(
                    "tagging the IP address",
                    Some(attr!(Model, tags)),
                    "create",
                )),
            }
        }
        Some(state)
    }

    async fn read(&self, cx: Ctx<'_>, state: Model, diags: &mut Diagnostics) -> Option<Model> {
        let id = state.id.clone()?;
        let ip = find(cx.c, &id, state.project.is_some()).await;
        found(ip, "IP address", &id, "read", diags).map(|ip| fill(state, &ip))
    }

    /// Only tags (and timeouts) change in place.
    async fn update(
        &self,
        cx: Ctx<'_>,
        prior: Model,
        plan: Model,
        diags: &mut Diagnostics,
    ) -> Option<Model> {
        let id = prior.id.clone()?;
        let limit = cx.limit("create", diags);
        if !cx
            .update_tags(TAG_TYPE, &id, limit, &prior.tags, &plan.tags, diags)
            .await
        {
            return None;
        }
        Some(plan)
    }

    async fn delete(&self, cx: Ctx<'_>, prior: Model, diags: &mut Diagnostics) {
        let Some(id) = prior.id.as_deref() else {
            return;
        };
        if prior.is_source_nat == Some(true) {
            // released with its network, like the Go provider
            return;
        }
        let c = cx.c;
        let limit = cx.limit("delete", diags);
        let api = c.api_with_timeout(limit);
        deleted(
            bounded(c, limit, api.disassociate_ip_address(id)).await,
            &format!("releasing IP address {id}"),
            diags,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tfplugin5::Value;

    use crate::{
        common::testenv::{self, NETWORK_ID},
        kit::Typed,
    };
    use tfplugin5::Resource;

    /// A plan for an address in the seeded network, computed attributes unknown.
    fn planned() -> Value {
        Value::object([
            ("network_id", Value::from(NETWORK_ID)),
            ("is_portable", false.into()),
            ("id", Value::Unknown),
            ("ip_address", Value::Unknown),
            ("is_source_nat", Value::Unknown),
            ("project", Value::Unknown),
            ("tags", Value::Unknown),
        ])
    }

    /// Ctrl-C while `associateIpAddress`'s job runs: CloudStack accepted it, so the
    /// address is kept in state (tainted) instead of being leaked.
    #[tokio::test]
    async fn an_accepted_associate_interrupted_is_kept_tainted() {
        let mut opts = cloudstack_sim::Options::default();
        opts.job_latency.per_command.insert(
            "associateipaddress".into(),
            std::time::Duration::from_secs(30),
        );
        let env = testenv::start(opts).await;
        let before: Vec<String> = env
            .sim
            .world()
            .public_ips
            .iter()
            .map(|i| i.id.clone())
            .collect();
        let c = testenv::stopped_after(&env, std::time::Duration::from_millis(500));
        let r = Typed(IpAddress::new(Handle::default()));
        let planned = planned();
        let mut d = Diagnostics::default();
        let state = r.create(&c, &planned, &mut d).await;
        let new: Vec<String> = env
            .sim
            .world()
            .public_ips
            .iter()
            .map(|i| i.id.clone())
            .filter(|i| !before.contains(i))
            .collect();
        testenv::assert_kept_tainted(&state, &d, &new);
    }

    #[tokio::test]
    async fn associate_read_release() {
        let env = testenv::start(Default::default()).await;
        let c = &env.client;
        let r = Typed(IpAddress::new(Handle::default()));
        let planned = planned();
        let mut d = Diagnostics::default();
        let state = r.create(c, &planned, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert!(state.is_fully_known(), "{state:?}");
        assert_eq!(state.get_bool("is_source_nat"), Some(false));
        let id = state.get_str("id").unwrap().to_string();
        assert_eq!(r.read(c, &state, &mut d).await, state);
        r.delete(c, &state, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert!(env.sim.world().public_ips.iter().all(|i| i.id != id));
        assert!(r.read(c, &state, &mut d).await.is_null());
    }

    #[tokio::test]
    async fn validation_names_the_attribute() {
        let mut d = Diagnostics::default();
        Typed(IpAddress::new(Handle::default()))
            .validate(&Value::object([("is_portable", false)]), &mut d)
            .await;
        assert_eq!(d.0[0].attribute.as_ref().unwrap().to_string(), "network_id");
    }
}
