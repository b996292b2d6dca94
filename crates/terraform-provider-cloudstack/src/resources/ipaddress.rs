//! `cloudstack_ipaddress`: a public IP address associated with a network,
//! a VPC or a zone (Go provider schema; every argument forces a new IP).
//! The association is recovered after unclear failures by the client (the
//! one new address of the network is ours), so a retry never takes two.

use cloudstack::{model::PublicIpAddress, AcceptedLog, Params, Resource as Kind};
use tfplugin5::{
    async_trait, Attribute, Block, Diagnostics, PlanRequest, Resource, Schema, Type, Value,
};

use crate::{
    common::{
        accepted_state, bounded, get_str, import_state, keep_spelling, known_str, op_timeout,
        planned_unless_failed, read_by_id, resolve, resolve_project, tags_of, tags_value,
        update_planned_tags, update_tags, OpError,
    },
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

fn fill_state(base: &Value, ip: &PublicIpAddress) -> Value {
    let mut s = base.clone();
    s.set_attr("id", ip.id.as_str());
    s.set_attr("ip_address", Value::from(ip.ipaddress.clone()));
    s.set_attr("is_source_nat", ip.issourcenat.unwrap_or(false));
    s.set_attr("tags", tags_value(&ip.tags));
    let net = ip.associatednetworkid.clone().or(ip.networkid.clone());
    if base.get("network_id").is_null()
        && base.get("vpc_id").is_null()
        && base.get("zone").is_null()
    {
        // import: take what CloudStack says
        s.set_attr("network_id", Value::from(net));
        s.set_attr("vpc_id", Value::from(ip.vpcid.clone()));
    }
    if let (Some(_), Some(zid)) = (base.get_str("zone"), &ip.zoneid) {
        s.set_attr(
            "zone",
            keep_spelling(base.get_str("zone"), ip.zonename.as_deref(), zid),
        );
    }
    if s.get("is_portable").is_null() {
        s.set_attr("is_portable", ip.isportable.unwrap_or(false));
    }
    if let Value::Object(m) = &mut s {
        for v in m.values_mut() {
            if v.is_unknown() {
                *v = Value::Null;
            }
        }
    }
    s
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

/// The create itself; `create` keeps the planned values afterwards.
async fn create_impl(c: &Client, planned: &Value, diags: &mut Diagnostics) -> Value {
    let limit = op_timeout(c, planned, "create", diags);
    let mut p = Params::new();
    p.set_opt("networkid", get_str(planned, "network_id"));
    p.set_opt("vpcid", get_str(planned, "vpc_id"));
    p.set_opt("ipaddress", get_str(planned, "ip_address"));
    if let Some(z) = get_str(planned, "zone") {
        match resolve(c, Kind::Zone, "zone", z, &Params::new(), diags).await {
            Some(id) => {
                p.set("zoneid", id);
            }
            None => return Value::Null,
        }
    }
    if planned.get_bool("is_portable") == Some(true) {
        p.set("isportable", "true");
    }
    if let Some(pr) = get_str(planned, "project") {
        match resolve_project(c, "project", pr, diags).await {
            Some(id) => {
                p.set("projectid", id);
            }
            None => return Value::Null,
        }
    }
    let accepted = AcceptedLog::new();
    let api = c.api_with_timeout(limit).recording_accepted(&accepted);
    let ip = match bounded(c, limit, api.associate_ip_address(&p)).await {
        Ok(ip) => ip,
        Err(e) => {
            diags.push(e.diagnostic(
                "associating a public IP address",
                Some("network_id"),
                "create",
            ));
            return accepted_state(planned, &accepted, "associateIpAddress", diags);
        }
    };
    let mut state = fill_state(planned, &ip);
    let tags = tags_of(planned);
    if !tags.is_empty() {
        match update_tags(c, limit, TAG_TYPE, &ip.id, &Default::default(), &tags).await {
            Ok(()) => state.set_attr("tags", planned.get("tags").clone()),
            Err(e) => diags.push(e.diagnostic("tagging the IP address", Some("tags"), "create")),
        }
    }
    state
}

#[async_trait]
impl Resource<Client> for IpAddress {
    fn type_name(&self) -> &'static str {
        "cloudstack_ipaddress"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        let set = |a: &str| !config.get(a).is_null();
        if set("network_id") && set("vpc_id") {
            diags.attribute_error(
                "vpc_id",
                "\"vpc_id\" conflicts with \"network_id\"",
                "Associate the IP with a network or with a VPC, not both.",
            );
        }
        let portable = config.get_bool("is_portable") == Some(true);
        if portable && !set("network_id") && !set("vpc_id") {
            diags.attribute_error(
                "is_portable",
                "A portable IP needs network_id or vpc_id",
                "Set exactly one of network_id and vpc_id.",
            );
        }
        if !portable && !set("network_id") && !set("vpc_id") && !set("zone") {
            diags.attribute_error(
                "network_id",
                "Where should the IP address go?",
                "Set network_id (or vpc_id, or zone).",
            );
        }
    }

    async fn modify_plan(&self, req: PlanRequest<'_>, diags: &mut Diagnostics) {
        let Some(c) = self.handle.get() else { return };
        if req.prior.is_null() {
            if let Some(z) = known_str(req.config, "zone") {
                resolve(c, Kind::Zone, "zone", z, &Params::new(), diags).await;
            }
        }
    }

    async fn create(&self, c: &Client, planned: &Value, diags: &mut Diagnostics) -> Value {
        let state = create_impl(c, planned, diags).await;
        planned_unless_failed(planned, state, diags)
    }

    async fn read(&self, c: &Client, state: &Value, diags: &mut Diagnostics) -> Value {
        let in_project = !state.get("project").is_null();
        let lookup = |id| find(c, id, in_project);
        read_by_id(state, "IP address", diags, lookup, |ip| {
            fill_state(state, ip)
        })
        .await
    }

    async fn update(
        &self,
        c: &Client,
        prior: &Value,
        planned: &Value,
        diags: &mut Diagnostics,
    ) -> Value {
        // only tags (and timeouts) can change in place
        let Some(id) = prior.get_str("id") else {
            return Value::Null;
        };
        let limit = op_timeout(c, planned, "create", diags);
        if !update_planned_tags(c, limit, TAG_TYPE, id, prior, planned, diags).await {
            return Value::Null;
        }
        planned.clone()
    }

    async fn delete(&self, c: &Client, prior: &Value, diags: &mut Diagnostics) {
        let Some(id) = prior.get_str("id") else {
            return;
        };
        if prior.get_bool("is_source_nat") == Some(true) {
            // released with its network, like the Go provider
            return;
        }
        let limit = op_timeout(c, prior, "delete", diags);
        let api = c.api_with_timeout(limit);
        match bounded(c, limit, api.disassociate_ip_address(id)).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                diags.push(e.diagnostic(&format!("releasing IP address {id}"), None, "delete"))
            }
        }
    }

    /// `terraform import cloudstack_ipaddress.x <id>` or `<project>/<id>`.
    async fn import(&self, _c: &Client, id: &str, _diags: &mut Diagnostics) -> Vec<Value> {
        import_state(id, &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::common::testenv::{self, NETWORK_ID};

    #[tokio::test]
    async fn associate_read_release() {
        let env = testenv::start(Default::default()).await;
        let c = &env.client;
        let r = IpAddress::new(Handle::default());
        let planned = Value::object([
            ("network_id", Value::from(NETWORK_ID)),
            ("is_portable", false.into()),
            ("id", Value::Unknown),
            ("ip_address", Value::Unknown),
            ("is_source_nat", Value::Unknown),
            ("project", Value::Unknown),
            ("tags", Value::Unknown),
        ]);
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
        IpAddress::new(Handle::default())
            .validate(&Value::object([("is_portable", false)]), &mut d)
            .await;
        assert_eq!(d.0[0].attribute.as_ref().unwrap().to_string(), "network_id");
    }
}
