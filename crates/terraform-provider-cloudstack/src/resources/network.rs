//! `cloudstack_network`: a guest network, with the Go provider's schema.
//!
//! `cidr` is checked at validation (a clear message instead of CloudStack's
//! 431); `gateway` defaults to the first host and `netmask` follows the
//! prefix, like the Go provider; zone and network offering names are
//! checked at plan time. IPv6 attributes, `vlan`, `vpc_id`, `acl_id` and
//! `bypass_vlan_overlap_check` are passed through to CloudStack as given
//! (the simulator has no VPCs or IPv6). `timeouts { create, update, delete }`
//! bound the jobs (an addition; Go configurations have no such block).

use std::net::Ipv4Addr;

use cloudstack::{
    api::CreateNetwork, model::Network as CsNetwork, AcceptedLog, Params, Resource as Kind,
};
use tfplugin5::{
    async_trait, Attribute, Block, Diagnostics, PlanRequest, Resource, Schema, Type, Value,
};

use crate::{
    common::{
        accepted_state, bounded, changed, found, get_str, honor_plan, import_state, keep_spelling,
        known_str, op_timeout, planned_unless_failed, read_by_id, resolve, resolve_project,
        tags_of, tags_value, update_planned_tags, update_tags, OpError,
    },
    provider::{Client, Handle},
};

const TAG_TYPE: &str = "Network";
const NO_ACL: &str = "none";

/// The `cloudstack_network` resource.
#[derive(Debug)]
pub struct Network {
    handle: Handle,
}

impl Network {
    /// `handle` lets plan-time checks reach the configured client.
    pub fn new(handle: Handle) -> Network {
        Network { handle }
    }
}

fn schema() -> Schema {
    Schema::new(
        Block::new()
            .attribute(Attribute::computed("id", Type::String))
            .attribute(Attribute::required("name", Type::String))
            .attribute(Attribute::optional_computed("display_text", Type::String))
            .attribute(Attribute::optional_computed("cidr", Type::String).force_new())
            .attribute(Attribute::optional("ip6cidr", Type::String).force_new())
            .attribute(Attribute::optional_computed("gateway", Type::String).force_new())
            .attribute(Attribute::optional_computed("ip6gateway", Type::String).force_new())
            .attribute(Attribute::optional_computed("startip", Type::String).force_new())
            .attribute(Attribute::optional_computed("endip", Type::String).force_new())
            .attribute(Attribute::optional_computed("startipv6", Type::String).force_new())
            .attribute(Attribute::optional_computed("endipv6", Type::String).force_new())
            .attribute(Attribute::optional_computed("network_domain", Type::String))
            .attribute(Attribute::required("network_offering", Type::String))
            .attribute(Attribute::optional("vlan", Type::Number).force_new())
            .attribute(Attribute::optional("vpc_id", Type::String).force_new())
            .attribute(Attribute::optional("acl_id", Type::String).default(NO_ACL))
            .attribute(Attribute::optional_computed("project", Type::String).force_new())
            .attribute(Attribute::optional("source_nat_ip", Type::Bool).force_new())
            .attribute(Attribute::computed("source_nat_ip_address", Type::String))
            .attribute(Attribute::computed("source_nat_ip_id", Type::String))
            .attribute(Attribute::required("zone", Type::String).force_new())
            .attribute(Attribute::optional("bypass_vlan_overlap_check", Type::Bool))
            .attribute(Attribute::optional_computed(
                "tags",
                Type::map(Type::String),
            ))
            .timeouts(&["create", "update", "delete"]),
    )
}

/// An IPv4 network in CIDR notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The address as written (may have host bits).
    pub addr: Ipv4Addr,
    /// Prefix length 0..=32.
    pub prefix: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n`.
    pub fn parse(s: &str) -> Option<Cidr> {
        let (a, p) = s.trim().split_once('/')?;
        let prefix: u8 = p.parse().ok()?;
        if prefix > 32 || p.starts_with('+') {
            return None;
        }
        Some(Cidr {
            addr: a.parse().ok()?,
            prefix,
        })
    }
    fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        }
    }
    /// The network address.
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }
    /// The netmask, e.g. 255.255.255.0.
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.mask())
    }
    /// The first host address (the Go provider's default gateway).
    pub fn first_host(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network()) + 1)
    }
    /// Whether `ip` is inside the network.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.network())
    }
}

/// Validates the `cidr` value and the addresses that must lie inside it.
pub fn check_cidr(config: &Value, diags: &mut Diagnostics) {
    let Some(text) = config.get_str("cidr") else {
        return;
    };
    let Some(cidr) = Cidr::parse(text) else {
        diags.attribute_error(
            "cidr",
            format!("Invalid CIDR {text:?}"),
            "Write an IPv4 network as address/prefix, e.g. \"10.0.0.0/24\" (prefix 0-32).",
        );
        return;
    };
    if cidr.prefix > 30 {
        diags.attribute_error(
            "cidr",
            format!("CIDR {text:?} is too small"),
            "A guest network needs room for a gateway and VMs: use a prefix of 30 or less, e.g. /24.",
        );
    }
    for attr in ["gateway", "startip", "endip"] {
        if let Some(ip) = config.get_str(attr) {
            match ip.parse::<Ipv4Addr>() {
                Ok(a) if cidr.contains(a) => {}
                Ok(_) => diags.attribute_error(
                    attr,
                    format!("{attr} {ip} is outside cidr {text}"),
                    format!("Use an address inside {}/{}.", cidr.network(), cidr.prefix),
                ),
                Err(_) => diags.attribute_error(
                    attr,
                    format!("Invalid {attr} {ip:?}"),
                    "Write an IPv4 address, e.g. \"10.0.0.1\".",
                ),
            }
        }
    }
}

/// One network by id; `None` when gone.
async fn find(c: &Client, id: &str, in_project: bool) -> Result<Option<CsNetwork>, OpError> {
    let mut p = Params::new().with("id", id).with("listall", "true");
    if in_project {
        p.set("projectid", "-1");
    }
    let mut found = match bounded(c, c.timeout, c.api.list_networks(&p)).await {
        Ok(v) => v.into_iter().find(|n| n.id == id),
        Err(OpError::Api(e)) if e.is_param_error() || e.is_not_found() => None,
        Err(e) => return Err(e),
    };
    if found.is_none() && in_project {
        p.remove("projectid");
        found = match bounded(c, c.timeout, c.api.list_networks(&p)).await {
            Ok(v) => v.into_iter().find(|n| n.id == id),
            Err(OpError::Api(e)) if e.is_param_error() || e.is_not_found() => None,
            Err(e) => return Err(e),
        };
    }
    Ok(found)
}

fn fill_state(base: &Value, n: &CsNetwork) -> Value {
    let mut s = base.clone();
    s.set_attr("id", n.id.as_str());
    s.set_attr("name", Value::from(n.name.clone()));
    s.set_attr("display_text", Value::from(n.displaytext.clone()));
    // keep the user's spelling of the same network (e.g. host bits set)
    let same_net = match (
        base.get_str("cidr").and_then(Cidr::parse),
        n.cidr.as_deref().and_then(Cidr::parse),
    ) {
        (Some(a), Some(b)) => a.network() == b.network() && a.prefix == b.prefix,
        _ => false,
    };
    if !same_net {
        s.set_attr("cidr", Value::from(n.cidr.clone()));
    }
    s.set_attr("gateway", Value::from(n.gateway.clone()));
    s.set_attr("network_domain", Value::from(n.networkdomain.clone()));
    if let Some(id) = &n.networkofferingid {
        s.set_attr(
            "network_offering",
            keep_spelling(
                base.get_str("network_offering"),
                n.networkofferingname.as_deref(),
                id,
            ),
        );
    }
    if let Some(id) = &n.zoneid {
        s.set_attr(
            "zone",
            keep_spelling(base.get_str("zone"), n.zonename.as_deref(), id),
        );
    }
    if !base.get("vpc_id").is_null() || n.vpcid.as_deref().is_some_and(|v| !v.is_empty()) {
        s.set_attr(
            "vpc_id",
            Value::from(n.vpcid.clone().filter(|v| !v.is_empty())),
        );
    }
    // A tier's ACL list as CloudStack has it, so a list replaced outside
    // Terraform shows as drift. Left "none" when the configuration gives none:
    // CloudStack then puts the tier behind its default_deny list, whose id
    // differs per installation, and that is no drift. An import (no acl_id
    // yet) reads the list, as the Go provider does.
    let imported = base.get("acl_id").is_null();
    let managed_acl = base.get_str("acl_id").is_some_and(|a| a != NO_ACL);
    match (
        managed_acl || imported,
        n.aclid.as_deref().filter(|a| !a.is_empty()),
    ) {
        (true, Some(acl)) => s.set_attr("acl_id", acl),
        (true, None) if imported => s.set_attr("acl_id", NO_ACL),
        (true, None) => {}
        (false, _) => s.set_attr("acl_id", NO_ACL),
    }
    s.set_attr("tags", tags_value(&n.tags));
    if let Value::Object(m) = &mut s {
        for v in m.values_mut() {
            if v.is_unknown() {
                *v = Value::Null;
            }
        }
    }
    s
}

impl Network {
    async fn create_inner(&self, c: &Client, planned: &Value, diags: &mut Diagnostics) -> Value {
        let limit = op_timeout(c, planned, "create", diags);
        let name = get_str(planned, "name").unwrap_or_default().to_string();
        let zone = get_str(planned, "zone").unwrap_or_default();
        let zone_id = resolve(c, Kind::Zone, "zone", zone, &Params::new(), diags).await;
        let offering = resolve(
            c,
            Kind::NetworkOffering,
            "network_offering",
            get_str(planned, "network_offering").unwrap_or_default(),
            &Params::new(),
            diags,
        )
        .await;
        let mut extra = Params::new();
        if let Some(p) = get_str(planned, "project") {
            if let Some(id) = resolve_project(c, "project", p, diags).await {
                extra.set("projectid", id);
            }
        }
        let (Some(zone_id), Some(offering)) = (zone_id, offering) else {
            return Value::Null;
        };
        if diags.has_errors() {
            return Value::Null;
        }
        if let Some(cidr) = get_str(planned, "cidr").and_then(Cidr::parse) {
            let gw = get_str(planned, "gateway")
                .map(str::to_string)
                .unwrap_or_else(|| cidr.first_host().to_string());
            extra
                .set("gateway", gw)
                .set("netmask", cidr.netmask().to_string());
            extra.set_opt("startip", get_str(planned, "startip"));
            extra.set_opt("endip", get_str(planned, "endip"));
        }
        for (attr, param) in [
            ("ip6cidr", "ip6cidr"),
            ("ip6gateway", "ip6gateway"),
            ("startipv6", "startipv6"),
            ("endipv6", "endipv6"),
            ("network_domain", "networkdomain"),
            ("vpc_id", "vpcid"),
        ] {
            extra.set_opt(param, get_str(planned, attr));
        }
        if let Some(v) = planned.get_i64("vlan") {
            extra.set("vlan", v.to_string());
        }
        if let Some(acl) = get_str(planned, "acl_id").filter(|a| *a != NO_ACL) {
            extra.set("aclid", acl);
        }
        if planned.get_bool("bypass_vlan_overlap_check") == Some(true) {
            extra.set("bypassvlanoverlapcheck", "true");
        }
        let req = CreateNetwork {
            name: name.clone(),
            display_text: get_str(planned, "display_text").map(str::to_string),
            network_offering_id: offering,
            zone_id,
            extra,
        };
        let accepted = AcceptedLog::new();
        let api = c.api_with_timeout(limit).recording_accepted(&accepted);
        let net = match bounded(c, limit, api.create_network(&req)).await {
            Ok(n) => n,
            Err(e) => {
                diags.push(e.diagnostic(
                    &format!("creating network {name}"),
                    Some("cidr"),
                    "create",
                ));
                return accepted_state(planned, &accepted, "createNetwork", diags);
            }
        };
        let mut state = fill_state(planned, &net);
        let tags = tags_of(planned);
        if !tags.is_empty() {
            if let Err(e) =
                update_tags(c, limit, TAG_TYPE, &net.id, &Default::default(), &tags).await
            {
                diags.push(e.diagnostic("tagging the network", Some("tags"), "create"));
                state.set_attr("tags", Value::Map(Default::default()));
                return state;
            }
            state.set_attr("tags", planned.get("tags").clone());
        }
        if planned.get_bool("source_nat_ip") == Some(true) {
            let p = Params::new().with("networkid", &net.id);
            match bounded(c, limit, api.associate_ip_address(&p)).await {
                Ok(ip) => {
                    state.set_attr("source_nat_ip_address", Value::from(ip.ipaddress.clone()));
                    state.set_attr("source_nat_ip_id", ip.id.as_str());
                }
                Err(e) => {
                    diags.push(e.diagnostic(
                        "associating the source NAT IP",
                        Some("source_nat_ip"),
                        "create",
                    ));
                    // accepted before the failure: kept so destroy releases it
                    if let Some(id) = accepted.last_id("associateIpAddress") {
                        state.set_attr("source_nat_ip_id", id.as_str());
                    }
                }
            }
        }
        state
    }
}

#[async_trait]
impl Resource<Client> for Network {
    fn type_name(&self) -> &'static str {
        "cloudstack_network"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        check_cidr(config, diags);
        for attr in ["gateway", "startip", "endip"] {
            if !config.get(attr).is_null() && config.get("cidr").is_null() {
                diags.attribute_error(attr, format!("{attr} needs cidr"), "Set cidr as well.");
            }
        }
    }

    async fn modify_plan(&self, req: PlanRequest<'_>, diags: &mut Diagnostics) {
        let Some(c) = self.handle.get() else { return };
        let creating = req.prior.is_null() || !req.requires_replace.is_empty();
        if creating {
            if let Some(z) = known_str(req.config, "zone") {
                resolve(c, Kind::Zone, "zone", z, &Params::new(), diags).await;
            }
        }
        if creating || changed(req.prior, req.planned, "network_offering") {
            if let Some(o) = known_str(req.config, "network_offering") {
                resolve(
                    c,
                    Kind::NetworkOffering,
                    "network_offering",
                    o,
                    &Params::new(),
                    diags,
                )
                .await;
            }
        }
        // display_text follows a renamed network only when the user set it
        if !creating && req.config.get("display_text").is_null() {
            let prior_dt = req.prior.get("display_text").clone();
            req.planned.set_attr("display_text", prior_dt);
        }
    }

    async fn create(&self, c: &Client, planned: &Value, diags: &mut Diagnostics) -> Value {
        let state = self.create_inner(c, planned, diags).await;
        planned_unless_failed(planned, state, diags)
    }

    async fn read(&self, c: &Client, state: &Value, diags: &mut Diagnostics) -> Value {
        let in_project = !state.get("project").is_null();
        let lookup = |id| find(c, id, in_project);
        read_by_id(state, "network", diags, lookup, |n| fill_state(state, n)).await
    }

    async fn update(
        &self,
        c: &Client,
        prior: &Value,
        planned: &Value,
        diags: &mut Diagnostics,
    ) -> Value {
        let Some(id) = prior.get_str("id") else {
            return Value::Null;
        };
        let limit = op_timeout(c, planned, "update", diags);
        let api = c.api_with_timeout(limit);
        let ch = |n: &str| changed(prior, planned, n);
        let mut p = Params::new().with("id", id);
        if ch("name") {
            p.set_opt("name", get_str(planned, "name"));
        }
        if ch("display_text") {
            p.set_opt("displaytext", get_str(planned, "display_text"));
        }
        if ch("network_domain") {
            p.set_opt("networkdomain", get_str(planned, "network_domain"));
        }
        if ch("network_offering") {
            if let Some(o) = resolve(
                c,
                Kind::NetworkOffering,
                "network_offering",
                get_str(planned, "network_offering").unwrap_or_default(),
                &Params::new(),
                diags,
            )
            .await
            {
                p.set("networkofferingid", o);
            } else {
                return Value::Null;
            }
        }
        if p.iter().count() > 1 {
            if let Err(e) = bounded(c, limit, api.request_async("updateNetwork", &p)).await {
                diags.push(e.diagnostic(&format!("updating network {id}"), None, "update"));
                return Value::Null;
            }
        }
        if ch("acl_id") {
            let acl = get_str(planned, "acl_id").unwrap_or(NO_ACL);
            if acl != NO_ACL {
                let p = Params::new().with("networkid", id).with("aclid", acl);
                if let Err(e) =
                    bounded(c, limit, api.request_async("replaceNetworkACLList", &p)).await
                {
                    diags.push(e.diagnostic("replacing the network ACL", Some("acl_id"), "update"));
                    return Value::Null;
                }
            }
        }
        if !update_planned_tags(c, limit, TAG_TYPE, id, prior, planned, diags).await {
            return Value::Null;
        }
        let n = find(c, id, !prior.get("project").is_null()).await;
        found(n, "network", id, "update", diags).map_or(Value::Null, |n| {
            honor_plan(planned, fill_state(planned, &n))
        })
    }

    async fn delete(&self, c: &Client, prior: &Value, diags: &mut Diagnostics) {
        let Some(id) = prior.get_str("id") else {
            return;
        };
        let limit = op_timeout(c, prior, "delete", diags);
        let api = c.api_with_timeout(limit);
        match bounded(c, limit, api.delete_network(id)).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => diags.push(e.diagnostic(&format!("deleting network {id}"), None, "delete")),
        }
    }

    /// `terraform import cloudstack_network.x <id>` or `<project>/<id>`.
    async fn import(&self, _c: &Client, id: &str, _diags: &mut Diagnostics) -> Vec<Value> {
        // acl_id stays unset, so the first read takes the tier's list
        import_state(id, &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_math() {
        let c = Cidr::parse("10.1.1.0/24").unwrap();
        assert_eq!(c.netmask().to_string(), "255.255.255.0");
        assert_eq!(c.first_host().to_string(), "10.1.1.1");
        assert!(c.contains("10.1.1.200".parse().unwrap()));
        assert!(!c.contains("10.1.2.1".parse().unwrap()));
        for bad in [
            "10.1.1.0",
            "10.1.1.0/33",
            "10.1.1/24",
            "x/24",
            "10.1.1.0/+8",
        ] {
            assert!(Cidr::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn bad_cidr_names_the_attribute() {
        let mut d = Diagnostics::default();
        check_cidr(&Value::object([("cidr", "10.1.1.0/33")]), &mut d);
        assert_eq!(d.0[0].attribute.as_ref().unwrap().to_string(), "cidr");
        assert!(d.0[0].detail.contains("10.0.0.0/24"));
        let mut d = Diagnostics::default();
        check_cidr(
            &Value::object([("cidr", "10.1.1.0/24"), ("gateway", "10.9.9.1")]),
            &mut d,
        );
        assert_eq!(d.0[0].attribute.as_ref().unwrap().to_string(), "gateway");
        let mut ok = Diagnostics::default();
        check_cidr(&Value::object([("cidr", "172.16.0.0/16")]), &mut ok);
        assert!(ok.is_empty());
    }

    use crate::common::testenv;

    #[tokio::test]
    async fn create_rename_import_delete() {
        let env = testenv::start(Default::default()).await;
        let c = &env.client;
        let r = Network::new(Handle::default());
        let mut planned = Value::object([
            ("name", Value::from("net1")),
            ("cidr", "172.16.0.0/24".into()),
            (
                "network_offering",
                "DefaultIsolatedNetworkOfferingWithSourceNatService".into(),
            ),
            ("zone", "zone001".into()),
            ("acl_id", "none".into()),
        ]);
        for a in [
            "id",
            "display_text",
            "gateway",
            "startip",
            "endip",
            "network_domain",
            "project",
            "source_nat_ip_address",
            "source_nat_ip_id",
            "tags",
            "ip6gateway",
            "startipv6",
            "endipv6",
        ] {
            planned.set_attr(a, Value::Unknown);
        }
        let mut d = Diagnostics::default();
        let state = r.create(c, &planned, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert!(state.is_fully_known(), "{state:?}");
        assert_eq!(state.get_str("gateway"), Some("172.16.0.1"));
        assert_eq!(state.get_str("display_text"), Some("net1"));
        assert_eq!(state.get_str("zone"), Some("zone001"));
        let id = state.get_str("id").unwrap().to_string();
        assert_eq!(r.read(c, &state, &mut d).await, state);

        let mut next = state.clone();
        next.set_attr("name", "net2");
        next.set_attr("display_text", "second");
        let updated = r.update(c, &state, &next, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert_eq!(updated.get_str("id"), Some(id.as_str()));
        assert_eq!(updated.get_str("name"), Some("net2"));

        // import by id reads everything back; names come back as names
        let imported = r.import(c, &id, &mut d).await.remove(0);
        let read = r.read(c, &imported, &mut d).await;
        assert_eq!(
            read.get_str("network_offering"),
            Some("DefaultIsolatedNetworkOfferingWithSourceNatService")
        );
        assert_eq!(read.get_str("cidr"), Some("172.16.0.0/24"));
        assert_eq!(read.get_str("acl_id"), Some("none"));

        r.delete(c, &updated, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert!(r.read(c, &updated, &mut d).await.is_null());
    }
}
