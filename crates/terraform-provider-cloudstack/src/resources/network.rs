//! `cloudstack_network`: a guest network, with the Go provider's schema, on
//! the typed kit.
//!
//! `cidr` is checked at validation (a clear message instead of CloudStack's
//! 431); `gateway` defaults to the first host and `netmask` follows the
//! prefix, like the Go provider; zone and network offering names are
//! checked at plan time. IPv6 attributes, `vlan`, `vpc_id`, `acl_id` and
//! `bypass_vlan_overlap_check` are passed through to CloudStack as given.
//! A VPC tier's `acl_id` is read back (drift in it shows; an import takes
//! it). `timeouts { create, update, delete }` bound the jobs (an addition;
//! Go configurations have no such block).

use std::{collections::BTreeMap, net::Ipv4Addr};

use cloudstack::{api::CreateNetwork, model::Network as CsNetwork, Params, Resource as Kind};
use serde::{Deserialize, Serialize};
use tfplugin5::{
    async_trait,
    model::{Field, Timeouts},
    Attribute, AttributePath, Block, Diagnostic, Diagnostics, Schema, Type,
};

use crate::{
    attr,
    common::{bounded, find_by_id, resolve, resolve_project, spelling, tags_map, update_tags},
    kit::{Ctx, Planning, TypedResource},
    provider::Handle,
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

/// The resource's value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Model {
    id: Field<String>,
    name: Field<String>,
    display_text: Field<String>,
    cidr: Field<String>,
    ip6cidr: Field<String>,
    gateway: Field<String>,
    ip6gateway: Field<String>,
    startip: Field<String>,
    endip: Field<String>,
    startipv6: Field<String>,
    endipv6: Field<String>,
    network_domain: Field<String>,
    network_offering: Field<String>,
    vlan: Field<i64>,
    vpc_id: Field<String>,
    acl_id: Field<String>,
    project: Field<String>,
    source_nat_ip: Field<bool>,
    source_nat_ip_address: Field<String>,
    source_nat_ip_id: Field<String>,
    zone: Field<String>,
    bypass_vlan_overlap_check: Field<bool>,
    tags: Field<BTreeMap<String, String>>,
    timeouts: Option<Timeouts>,
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

/// Validates the `cidr` value and the addresses that must lie inside it.
fn check_cidr(config: &Model, diags: &mut Diagnostics) {
    let Some(text) = config.cidr.known() else {
        return;
    };
    let Some(cidr) = Cidr::parse(text) else {
        diags.attribute_error(
            attr!(Model, cidr),
            format!("Invalid CIDR {text:?}"),
            "Write an IPv4 network as address/prefix, e.g. \"10.0.0.0/24\" (prefix 0-32).",
        );
        return;
    };
    if cidr.prefix > 30 {
        diags.attribute_error(
            attr!(Model, cidr),
            format!("CIDR {text:?} is too small"),
            "A guest network needs room for a gateway and VMs: use a prefix of 30 or less, e.g. /24.",
        );
    }
    for (attr, v) in inside_cidr(config) {
        if let Some(ip) = v.known() {
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

/// The attributes whose addresses must lie inside `cidr`.
fn inside_cidr(m: &Model) -> [(&'static str, &Field<String>); 3] {
    [
        (attr!(Model, gateway), &m.gateway),
        (attr!(Model, startip), &m.startip),
        (attr!(Model, endip), &m.endip),
    ]
}

/// `base` with what CloudStack says of network `n`.
fn fill_state(base: &Model, n: &CsNetwork) -> Model {
    let mut s = base.clone();
    s.id = Field::Known(n.id.clone());
    s.name = n.name.clone().into();
    s.display_text = n.displaytext.clone().into();
    // keep the user's spelling of the same network (e.g. host bits set)
    let same_net = match (
        base.cidr.known().and_then(|c| Cidr::parse(c)),
        n.cidr.as_deref().and_then(Cidr::parse),
    ) {
        (Some(a), Some(b)) => a.network() == b.network() && a.prefix == b.prefix,
        _ => false,
    };
    if !same_net {
        s.cidr = n.cidr.clone().into();
    }
    s.gateway = n.gateway.clone().into();
    s.network_domain = n.networkdomain.clone().into();
    if let Some(id) = &n.networkofferingid {
        let prior = base.network_offering.known().map(String::as_str);
        s.network_offering = Field::Known(spelling(prior, n.networkofferingname.as_deref(), id));
    }
    if let Some(id) = &n.zoneid {
        let prior = base.zone.known().map(String::as_str);
        s.zone = Field::Known(spelling(prior, n.zonename.as_deref(), id));
    }
    let vpc = n.vpcid.clone().filter(|v| !v.is_empty());
    if !base.vpc_id.is_null() || vpc.is_some() {
        s.vpc_id = vpc.into();
    }
    // A tier's ACL list as CloudStack has it, so a list replaced outside
    // Terraform shows as drift. Left "none" when the configuration gives none:
    // CloudStack then puts the tier behind its default_deny list, whose id
    // differs per installation, and that is no drift. An import (no acl_id
    // yet) reads the list, as the Go provider does.
    let imported = base.acl_id.is_null();
    let managed_acl = base.acl_id.known().is_some_and(|a| a != NO_ACL);
    match (
        managed_acl || imported,
        n.aclid.as_deref().filter(|a| !a.is_empty()),
    ) {
        (true, Some(acl)) => s.acl_id = Field::Known(acl.to_string()),
        (true, None) if imported => s.acl_id = Field::Known(NO_ACL.into()),
        (true, None) => {}
        (false, _) => s.acl_id = Field::Known(NO_ACL.into()),
    }
    if !matches!(s.project, Field::Known(_)) {
        s.project = n.project.clone().into();
    }
    s.tags = Field::Known(tags_map(&n.tags));
    s
}

/// The network by id (in the account or any project); `None` when gone,
/// or after pushing a "reading network" error for `op`.
async fn find(
    c: &crate::provider::Client,
    id: &str,
    op: &str,
    diags: &mut Diagnostics,
) -> Option<CsNetwork> {
    match find_by_id(c, "listNetworks", "network", id).await {
        Ok(n) => n,
        Err(e) => {
            diags.push(e.diagnostic(&format!("reading network {id}"), None, op));
            None
        }
    }
}

#[async_trait]
impl TypedResource for Network {
    type Model = Model;
    type View = Model;

    fn type_name(&self) -> &'static str {
        "cloudstack_network"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn create_command(&self) -> Option<&'static str> {
        Some("createNetwork")
    }

    async fn validate(&self, config: Model, diags: &mut Diagnostics) {
        check_cidr(&config, diags);
        for (attr, v) in inside_cidr(&config) {
            if !v.is_null() && config.cidr.is_null() {
                diags.push(
                    Diagnostic::error(format!("{attr} needs cidr"), "Set cidr as well.")
                        .at(AttributePath::attr(attr)),
                );
            }
        }
    }

    async fn modify_plan(&self, plan: &mut Planning<'_, Model>, diags: &mut Diagnostics) {
        let Some(c) = self.handle.get() else { return };
        let creating = plan.creating();
        let prior = plan.prior.clone().unwrap_or_default();
        let (config, planned) = (&plan.config, &mut plan.planned);
        if creating {
            if let Some(z) = config.zone.non_empty() {
                resolve(c, Kind::Zone, attr!(Model, zone), z, &Params::new(), diags).await;
            }
        }
        if creating || prior.network_offering != planned.network_offering {
            if let Some(o) = config.network_offering.non_empty() {
                let (kind, attr) = (Kind::NetworkOffering, attr!(Model, network_offering));
                resolve(c, kind, attr, o, &Params::new(), diags).await;
            }
        }
        // display_text follows a renamed network only when the user set it
        if !creating && config.display_text.is_null() && planned.display_text != prior.display_text
        {
            planned.display_text = prior.display_text;
        }
    }

    async fn create(&self, cx: Ctx<'_>, plan: Model, diags: &mut Diagnostics) -> Option<Model> {
        let c = cx.c;
        let limit = cx.limit("create", diags);
        let name = plan.name.known().cloned().unwrap_or_default();
        let zone = plan.zone.non_empty().unwrap_or_default();
        let zone_id = resolve(
            c,
            Kind::Zone,
            attr!(Model, zone),
            zone,
            &Params::new(),
            diags,
        )
        .await;
        let offering = plan.network_offering.non_empty().unwrap_or_default();
        let kind = Kind::NetworkOffering;
        let offering = resolve(
            c,
            kind,
            attr!(Model, network_offering),
            offering,
            &Params::new(),
            diags,
        )
        .await;
        let mut extra = Params::new();
        if let Some(p) = plan.project.non_empty() {
            if let Some(id) = resolve_project(c, attr!(Model, project), p, diags).await {
                extra.set("projectid", id);
            }
        }
        let (Some(zone_id), Some(offering)) = (zone_id, offering) else {
            return None;
        };
        if diags.has_errors() {
            return None;
        }
        if let Some(cidr) = plan.cidr.known().and_then(|c| Cidr::parse(c)) {
            let gw = plan
                .gateway
                .non_empty()
                .map(str::to_string)
                .unwrap_or_else(|| cidr.first_host().to_string());
            extra
                .set("gateway", gw)
                .set("netmask", cidr.netmask().to_string());
            extra.set_opt("startip", plan.startip.non_empty());
            extra.set_opt("endip", plan.endip.non_empty());
        }
        for (v, param) in [
            (&plan.ip6cidr, "ip6cidr"),
            (&plan.ip6gateway, "ip6gateway"),
            (&plan.startipv6, "startipv6"),
            (&plan.endipv6, "endipv6"),
            (&plan.network_domain, "networkdomain"),
            (&plan.vpc_id, "vpcid"),
        ] {
            extra.set_opt(param, v.non_empty());
        }
        if let Some(v) = plan.vlan.known() {
            extra.set("vlan", v.to_string());
        }
        if let Some(acl) = plan.acl_id.non_empty().filter(|a| *a != NO_ACL) {
            extra.set("aclid", acl);
        }
        if plan.bypass_vlan_overlap_check.known() == Some(&true) {
            extra.set("bypassvlanoverlapcheck", "true");
        }
        let req = CreateNetwork {
            name: name.clone(),
            display_text: plan.display_text.non_empty().map(str::to_string),
            network_offering_id: offering,
            zone_id,
            extra,
        };
        let api = c.api_with_timeout(limit);
        let net = match bounded(c, limit, api.create_network(&req)).await {
            Ok(n) => n,
            Err(e) => {
                let action = format!("creating network {name}");
                diags.push(e.diagnostic(&action, Some(attr!(Model, cidr)), "create"));
                // the kit keeps a network CloudStack accepted, tainted
                return None;
            }
        };
        let mut state = fill_state(&plan, &net);
        let tags = plan.tags.known().cloned().unwrap_or_default();
        if !tags.is_empty() {
            let none = BTreeMap::new();
            if let Err(e) = update_tags(c, limit, TAG_TYPE, &net.id, &none, &tags).await {
                diags.push(e.diagnostic("tagging the network", Some(attr!(Model, tags)), "create"));
                state.tags = Field::Known(none);
                return Some(state);
            }
            state.tags = plan.tags.clone();
        }
        if plan.source_nat_ip.known() == Some(&true) {
            // an address CloudStack accepted is kept even if its job's answer is lost
            let accepted = cloudstack::AcceptedLog::new();
            let ip_api = api.recording_accepted(&accepted);
            let p = Params::new().with("networkid", &net.id);
            match bounded(c, limit, ip_api.associate_ip_address(&p)).await {
                Ok(ip) => {
                    state.source_nat_ip_address = ip.ipaddress.clone().into();
                    state.source_nat_ip_id = Field::Known(ip.id.clone());
                }
                Err(e) => {
                    diags.push(e.diagnostic(
                        "associating the source NAT IP",
                        Some(attr!(Model, source_nat_ip)),
                        "create",
                    ));
                    // accepted before the failure: kept so destroy releases it
                    state.source_nat_ip_id = accepted.last_id("associateIpAddress").into();
                }
            }
        }
        Some(state)
    }

    async fn read(&self, cx: Ctx<'_>, state: Model, diags: &mut Diagnostics) -> Option<Model> {
        let id = state.id.known()?.clone();
        find(cx.c, &id, "read", diags)
            .await
            .map(|n| fill_state(&state, &n))
    }

    async fn update(
        &self,
        cx: Ctx<'_>,
        prior: Model,
        plan: Model,
        diags: &mut Diagnostics,
    ) -> Option<Model> {
        let c = cx.c;
        let id = prior.id.known()?.clone();
        let limit = cx.limit("update", diags);
        let api = c.api_with_timeout(limit);
        let mut p = Params::new().with("id", &id);
        if prior.name != plan.name {
            p.set_opt("name", plan.name.non_empty());
        }
        if prior.display_text != plan.display_text {
            p.set_opt("displaytext", plan.display_text.non_empty());
        }
        if prior.network_domain != plan.network_domain {
            p.set_opt("networkdomain", plan.network_domain.non_empty());
        }
        if prior.network_offering != plan.network_offering {
            let o = plan.network_offering.non_empty().unwrap_or_default();
            let kind = Kind::NetworkOffering;
            let o = resolve(
                c,
                kind,
                attr!(Model, network_offering),
                o,
                &Params::new(),
                diags,
            )
            .await?;
            p.set("networkofferingid", o);
        }
        if p.iter().count() > 1 {
            if let Err(e) = bounded(c, limit, api.request_async("updateNetwork", &p)).await {
                diags.push(e.diagnostic(&format!("updating network {id}"), None, "update"));
                return None;
            }
        }
        if prior.acl_id != plan.acl_id {
            let acl = plan.acl_id.non_empty().unwrap_or(NO_ACL);
            if acl != NO_ACL {
                let p = Params::new().with("networkid", &id).with("aclid", acl);
                if let Err(e) =
                    bounded(c, limit, api.request_async("replaceNetworkACLList", &p)).await
                {
                    diags.push(e.diagnostic(
                        "replacing the network ACL",
                        Some(attr!(Model, acl_id)),
                        "update",
                    ));
                    return None;
                }
            }
        }
        if prior.tags != plan.tags {
            let old = prior.tags.known().cloned().unwrap_or_default();
            let new = plan.tags.known().cloned().unwrap_or_default();
            if let Err(e) = update_tags(c, limit, TAG_TYPE, &id, &old, &new).await {
                diags.push(e.diagnostic("updating tags", Some(attr!(Model, tags)), "update"));
                return None;
            }
        }
        find(c, &id, "update", diags)
            .await
            .map(|n| fill_state(&plan, &n))
    }

    async fn delete(&self, cx: Ctx<'_>, prior: Model, diags: &mut Diagnostics) {
        let Some(id) = prior.id.known() else { return };
        let p = Params::new().with("id", id);
        cx.delete("deleteNetwork", &p, &format!("network {id}"), diags)
            .await;
    }

    // import: `<id>` or `<project>/<id>` (the kit's); acl_id stays unset,
    // so the first read takes the tier's list
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

#[cfg(test)]
mod tests {
    use super::*;
    use tfplugin5::{model, Value};

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

    fn check_cidr(config: &Value, diags: &mut Diagnostics) {
        super::check_cidr(&model::from_value(config).unwrap(), diags);
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
    use tfplugin5::Resource;

    #[tokio::test]
    async fn create_rename_import_delete() {
        let env = testenv::start(Default::default()).await;
        let c = &env.client;
        let r = crate::kit::Typed(Network::new(Handle::default()));
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
