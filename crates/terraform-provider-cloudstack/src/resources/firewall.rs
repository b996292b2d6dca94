//! `cloudstack_firewall` (ingress rules on a public IP) and
//! `cloudstack_egress_firewall` (egress rules of a guest network): one rule
//! set logic for both, which differ in scope, commands and protocols only.
//!
//! Schemas and IDs as in apache/cloudstack-terraform-provider (ID =
//! `ip_address_id` or `network_id`; `rule` {cidr_list, protocol, icmp_type,
//! icmp_code, ports, uuids} plus `dest_cidr_list` for egress; `managed`;
//! `parallelism`; `project`), plus import by IP address or network ID. Every
//! `ports` entry (and an icmp or `all` rule as a whole) is one CloudStack
//! rule; `uuids` maps the entry (`"80"`, `"80-90"`, `"icmp"`, `"all"`) to its
//! rule ID.
//!
//! Rules of an IP or network in a project are listed with its `projectid`
//! (from `project`, else inherited from the IP or network as the Go provider
//! does): CloudStack hides a project's rules from lists without it.
//!
//! Partial failures leave the state holding exactly the rules that exist.
//! On update Terraform keeps that state, so the next apply creates only the
//! missing rules. On create Terraform itself marks the resource tainted when
//! an error comes with a state, so the next apply deletes the rules that
//! exist and creates them all again (nothing leaks, nothing is duplicated).

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    marker::PhantomData,
    sync::Arc,
};

use cloudstack::{
    api::{CreateEgressFirewallRule, CreateFirewallRule},
    AcceptedLog, Params,
};
use serde::{Deserialize, Serialize};
use tfplugin5::{
    async_trait, model, model::Field, Attribute, AttributePath, Block, Diagnostic, Diagnostics,
    NestedBlock, Schema, Type, Value,
};

use crate::{
    attr,
    common::{bounded, split_import_id, OpError},
    kit::{Ctx, Planning, TypedResource},
    provider::Client,
    rule_set::{
        check_cidrs, check_protocol, in_parallel, parse_port_range, project_value, sorted,
        split_list, Owner, Scope, MAX_IN_FLIGHT,
    },
};

/// The block every diagnostic about a rule points at.
const RULE: &str = attr!(FirewallModel, rule);

/// Which of the two firewall resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `cloudstack_firewall`.
    Ingress,
    /// `cloudstack_egress_firewall`.
    Egress,
}

impl Kind {
    fn type_name(self) -> &'static str {
        match self {
            Kind::Ingress => "cloudstack_firewall",
            Kind::Egress => "cloudstack_egress_firewall",
        }
    }
    /// The attribute the resource ID equals (schema and diagnostics).
    fn scope_attr(self) -> &'static str {
        match self {
            Kind::Ingress => attr!(FirewallModel, ip_address_id),
            Kind::Egress => attr!(EgressModel, network_id),
        }
    }
    /// The command creating one rule.
    fn create_command(self) -> &'static str {
        match self {
            Kind::Ingress => "createFirewallRule",
            Kind::Egress => "createEgressFirewallRule",
        }
    }
    fn scope(self) -> Scope {
        match self {
            Kind::Ingress => Scope::IpAddress,
            Kind::Egress => Scope::Network,
        }
    }
    fn protocols(self) -> &'static [&'static str] {
        match self {
            Kind::Ingress => &["tcp", "udp", "icmp"],
            Kind::Egress => &["all", "tcp", "udp", "icmp"],
        }
    }
}

/// The Go provider's default `parallelism`.
const DEFAULT_PARALLELISM: i64 = 2;

/// One `rule` block of `cloudstack_firewall`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IngressRule {
    cidr_list: Field<Vec<String>>,
    protocol: Field<String>,
    icmp_type: Field<i64>,
    icmp_code: Field<i64>,
    ports: Field<Vec<String>>,
    uuids: Field<BTreeMap<String, String>>,
}

/// One `rule` block of `cloudstack_egress_firewall`; also the shape the
/// shared logic works on (an ingress rule has no `dest_cidr_list`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Rule {
    cidr_list: Field<Vec<String>>,
    protocol: Field<String>,
    icmp_type: Field<i64>,
    icmp_code: Field<i64>,
    ports: Field<Vec<String>>,
    uuids: Field<BTreeMap<String, String>>,
    dest_cidr_list: Field<Vec<String>>,
}

impl From<IngressRule> for Rule {
    fn from(r: IngressRule) -> Rule {
        Rule {
            cidr_list: r.cidr_list,
            protocol: r.protocol,
            icmp_type: r.icmp_type,
            icmp_code: r.icmp_code,
            ports: r.ports,
            uuids: r.uuids,
            dest_cidr_list: Field::Null,
        }
    }
}

impl From<Rule> for IngressRule {
    fn from(r: Rule) -> IngressRule {
        IngressRule {
            cidr_list: r.cidr_list,
            protocol: r.protocol,
            icmp_type: r.icmp_type,
            icmp_code: r.icmp_code,
            ports: r.ports,
            uuids: r.uuids,
        }
    }
}

/// `cloudstack_firewall`'s value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FirewallModel {
    id: Field<String>,
    ip_address_id: Field<String>,
    project: Field<String>,
    managed: Field<bool>,
    parallelism: Field<i64>,
    rule: Field<Vec<IngressRule>>,
}

/// `cloudstack_egress_firewall`'s value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EgressModel {
    id: Field<String>,
    network_id: Field<String>,
    project: Field<String>,
    managed: Field<bool>,
    parallelism: Field<i64>,
    rule: Field<Vec<Rule>>,
}

/// Either model as the shared logic sees it (`scope`: the IP or network).
#[derive(Debug, Clone, Default)]
pub(crate) struct RuleSet {
    id: Field<String>,
    scope: Field<String>,
    project: Field<String>,
    managed: Field<bool>,
    parallelism: Field<i64>,
    rule: Field<Vec<Rule>>,
}

impl RuleSet {
    fn rules(&self) -> &[Rule] {
        self.rule.known().map_or(&[], Vec::as_slice)
    }
    fn managed(&self) -> bool {
        self.managed.known() == Some(&true)
    }
}

/// The model of one of the two resources.
pub(crate) trait Side: crate::kit::View {
    /// Which resource.
    const KIND: Kind;
    /// Into the shared shape.
    fn into_set(self) -> RuleSet;
    /// Back from it.
    fn from_set(s: RuleSet) -> Self;
}

impl Side for FirewallModel {
    const KIND: Kind = Kind::Ingress;
    fn into_set(self) -> RuleSet {
        RuleSet {
            id: self.id,
            scope: self.ip_address_id,
            project: self.project,
            managed: self.managed,
            parallelism: self.parallelism,
            rule: match self.rule {
                Field::Known(r) => Field::Known(r.into_iter().map(Rule::from).collect()),
                Field::Unknown => Field::Unknown,
                Field::Null => Field::Null,
            },
        }
    }
    fn from_set(s: RuleSet) -> Self {
        FirewallModel {
            id: s.id,
            ip_address_id: s.scope,
            project: s.project,
            managed: s.managed,
            parallelism: s.parallelism,
            rule: match s.rule {
                Field::Known(r) => Field::Known(r.into_iter().map(IngressRule::from).collect()),
                Field::Unknown => Field::Unknown,
                Field::Null => Field::Null,
            },
        }
    }
}

impl Side for EgressModel {
    const KIND: Kind = Kind::Egress;
    fn into_set(self) -> RuleSet {
        RuleSet {
            id: self.id,
            scope: self.network_id,
            project: self.project,
            managed: self.managed,
            parallelism: self.parallelism,
            rule: self.rule,
        }
    }
    fn from_set(s: RuleSet) -> Self {
        EgressModel {
            id: s.id,
            network_id: s.scope,
            project: s.project,
            managed: s.managed,
            parallelism: s.parallelism,
            rule: s.rule,
        }
    }
}

fn rule_set_schema(kind: Kind) -> Schema {
    let cidr_list = match kind {
        Kind::Ingress => Attribute::required("cidr_list", Type::set(Type::String)),
        // CloudStack fills in the network's CIDR when none is given.
        Kind::Egress => Attribute::optional_computed("cidr_list", Type::set(Type::String)),
    };
    let mut rule = Block::new()
        .attribute(cidr_list.description("Source CIDRs the rule applies to."))
        .attribute(
            Attribute::required("protocol", Type::String)
                .description(format!("One of {}.", kind.protocols().join(", "))),
        )
        .attribute(
            Attribute::optional_computed("icmp_type", Type::Number)
                .description("ICMP type (required for icmp; -1 = all)."),
        )
        .attribute(
            Attribute::optional_computed("icmp_code", Type::Number)
                .description("ICMP code (required for icmp; -1 = all)."),
        )
        .attribute(
            Attribute::optional("ports", Type::set(Type::String))
                .description("Ports \"80\" or ranges \"8000-8080\" (tcp/udp)."),
        )
        .attribute(
            Attribute::computed("uuids", Type::map(Type::String))
                .description("CloudStack rule ID per ports entry (or \"icmp\" / \"all\")."),
        );
    if kind == Kind::Egress {
        rule = rule.attribute(
            Attribute::optional("dest_cidr_list", Type::set(Type::String))
                .description("Destination CIDRs."),
        );
    }
    let scope_desc = match kind {
        Kind::Ingress => "ID of the public IP address the rules apply to.",
        Kind::Egress => "ID of the guest network the rules apply to.",
    };
    Schema::new(
        Block::new()
            .attribute(Attribute::computed("id", Type::String))
            .attribute(
                Attribute::required(kind.scope_attr(), Type::String)
                    .force_new()
                    .description(scope_desc),
            )
            .attribute(
                Attribute::optional_computed("project", Type::String)
                    .force_new()
                    .description(
                        "Project of the IP address or network (inherited from it when unset).",
                    ),
            )
            .attribute(
                Attribute::optional("managed", Type::Bool)
                    .default(false)
                    .description("Delete rules not in this configuration."),
            )
            .attribute(
                Attribute::optional("parallelism", Type::Number)
                    .default(DEFAULT_PARALLELISM)
                    .description("Rule jobs run at the same time."),
            )
            .block(NestedBlock::set(RULE, rule)),
    )
}

/// Checks a configuration without API calls (unknown values are not judged).
fn validate_rule_set(kind: Kind, config: &RuleSet, diags: &mut Diagnostics) {
    if config.rule.known().is_some_and(Vec::is_empty)
        && matches!(config.managed, Field::Null | Field::Known(false))
    {
        diags.push(
            Diagnostic::error(
                "At least one rule block is required",
                "Add a rule { ... } block, or set managed = true to let this resource \
                 delete every rule it does not know.",
            )
            .at(AttributePath::attr(RULE)),
        );
    }
    if let Some(p) = config.parallelism.known() {
        if *p < 1 {
            diags.push(
                Diagnostic::error(
                    format!("Invalid parallelism: {p}"),
                    "parallelism is the number of rule jobs run at the same time; use 1 or more.",
                )
                .at(AttributePath::attr(attr!(FirewallModel, parallelism))),
            );
        }
    }
    for rule in config.rules() {
        let protocol = rule.protocol.known().map(String::as_str);
        check_protocol(protocol, kind.protocols(), RULE, diags);
        if let Some(c) = rule.cidr_list.known() {
            check_cidrs(c, attr!(Rule, cidr_list), RULE, diags);
        }
        if let Some(c) = rule.dest_cidr_list.known() {
            check_cidrs(c, attr!(Rule, dest_cidr_list), RULE, diags);
        }
        for p in rule.ports.known().map_or(&[][..], Vec::as_slice) {
            if parse_port_range(p).is_none() {
                diags.push(
                    Diagnostic::error(
                        format!("Invalid rule.ports entry {p:?}"),
                        "Ports are numbers from 1 to 65535, written \"80\" or as a range \
                         \"8000-8080\" with the start not above the end.",
                    )
                    .at(AttributePath::attr(RULE)),
                );
            }
        }
        match protocol {
            Some("icmp") => {
                for (what, v) in [
                    (attr!(Rule, icmp_type), &rule.icmp_type),
                    (attr!(Rule, icmp_code), &rule.icmp_code),
                ] {
                    match v {
                        Field::Null => diags.push(
                            Diagnostic::error(
                                format!("Missing rule.{what} for protocol \"icmp\""),
                                format!("Set {what} for icmp rules; -1 means every {what}."),
                            )
                            .at(AttributePath::attr(RULE)),
                        ),
                        Field::Known(n) if !(-1..=255).contains(n) => diags.push(
                            Diagnostic::error(
                                format!("Invalid rule.{what}: {n}"),
                                format!("{what} is -1 (all) or 0 to 255."),
                            )
                            .at(AttributePath::attr(RULE)),
                        ),
                        _ => {}
                    }
                }
            }
            Some("tcp") | Some("udp")
                if rule.ports.is_null() || rule.ports.known().is_some_and(Vec::is_empty) =>
            {
                diags.push(
                    Diagnostic::error(
                        "Missing rule.ports for a tcp/udp rule",
                        "Give the ports the rule opens, e.g. ports = [\"22\", \"8000-8080\"].",
                    )
                    .at(AttributePath::attr(RULE)),
                );
            }
            _ => {}
        }
    }
}

/// One CloudStack firewall rule as a rule block describes it.
#[derive(Debug, Clone, PartialEq)]
struct Unit {
    /// Key in `uuids`: the ports entry, or `"icmp"` / `"all"`.
    key: String,
    protocol: String,
    cidrs: Vec<String>,
    dest_cidrs: Vec<String>,
    ports: Option<(u16, u16)>,
    icmp: Option<(i64, i64)>,
}

impl Unit {
    /// Whether an existing rule `prior` serves as this wanted rule. Unknown
    /// or unset optional-computed fields (cidrs of egress) match anything.
    fn served_by(&self, prior: &Unit) -> bool {
        self.key == prior.key
            && self.protocol == prior.protocol
            && (self.cidrs.is_empty() || self.cidrs == prior.cidrs)
            && self.dest_cidrs == prior.dest_cidrs
            && (self.icmp.is_none() || self.icmp == prior.icmp)
    }
}

fn strings(f: &Field<Vec<String>>) -> Vec<String> {
    f.known().map(|v| sorted(v)).unwrap_or_default()
}

/// The CloudStack rules one `rule` element stands for (none if unknowns
/// keep it from being complete, which cannot happen at apply time).
fn units_of(rule: &Rule) -> Vec<Unit> {
    let protocol = rule.protocol.known().cloned().unwrap_or_default();
    let base = Unit {
        key: String::new(),
        protocol: protocol.clone(),
        cidrs: strings(&rule.cidr_list),
        dest_cidrs: strings(&rule.dest_cidr_list),
        ports: None,
        icmp: None,
    };
    match protocol.as_str() {
        "icmp" => vec![Unit {
            key: "icmp".into(),
            icmp: match (rule.icmp_type.known(), rule.icmp_code.known()) {
                (Some(t), Some(c)) => Some((*t, *c)),
                _ => None,
            },
            ..base
        }],
        "all" => vec![Unit {
            key: "all".into(),
            ..base
        }],
        _ => rule
            .ports
            .known()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| {
                parse_port_range(&p).map(|r| Unit {
                    key: p,
                    ports: Some(r),
                    ..base.clone()
                })
            })
            .collect(),
    }
}

/// Units of a state rule element with their rule IDs.
fn units_with_ids(rule: &Rule) -> Vec<(Unit, String)> {
    let Some(uuids) = rule.uuids.known() else {
        return Vec::new();
    };
    units_of(rule)
        .into_iter()
        .filter_map(|u| uuids.get(&u.key).map(|id| (u.clone(), id.clone())))
        .collect()
}

/// What CloudStack answered for one rule.
#[derive(Debug, Clone, PartialEq, Default)]
struct ApiRule {
    id: String,
    protocol: String,
    cidrs: Vec<String>,
    dest_cidrs: Vec<String>,
    start: Option<i64>,
    end: Option<i64>,
    icmp_type: Option<i64>,
    icmp_code: Option<i64>,
}

impl ApiRule {
    /// The rule CloudStack holds (or accepted to create) as `id` for unit `u`.
    fn of_unit(u: &Unit, id: String) -> ApiRule {
        ApiRule {
            id,
            protocol: u.protocol.clone(),
            cidrs: u.cidrs.clone(),
            dest_cidrs: u.dest_cidrs.clone(),
            icmp_type: u.icmp.map(|x| x.0),
            icmp_code: u.icmp.map(|x| x.1),
            ..ApiRule::default()
        }
    }

    /// The `uuids` key this rule would have in a rule block.
    fn key(&self) -> String {
        match self.protocol.as_str() {
            "icmp" | "all" => self.protocol.clone(),
            _ => match (self.start, self.end) {
                (Some(s), Some(e)) if s != e => format!("{s}-{e}"),
                (Some(s), _) => s.to_string(),
                _ => self.protocol.clone(),
            },
        }
    }
}

impl From<cloudstack::model::FirewallRule> for ApiRule {
    fn from(r: cloudstack::model::FirewallRule) -> ApiRule {
        ApiRule {
            id: r.id,
            protocol: r.protocol.unwrap_or_default().to_ascii_lowercase(),
            cidrs: split_list(r.cidrlist.as_deref()),
            dest_cidrs: Vec::new(),
            start: r.startport,
            end: r.endport,
            icmp_type: r.icmptype,
            icmp_code: r.icmpcode,
        }
    }
}

impl From<cloudstack::model::EgressFirewallRule> for ApiRule {
    fn from(r: cloudstack::model::EgressFirewallRule) -> ApiRule {
        ApiRule {
            id: r.id,
            protocol: r.protocol.unwrap_or_default().to_ascii_lowercase(),
            cidrs: split_list(r.cidrlist.as_deref()),
            dest_cidrs: split_list(r.destcidrlist.as_deref()),
            start: r.startport,
            end: r.endport,
            icmp_type: r.icmptype,
            icmp_code: r.icmpcode,
        }
    }
}

/// The rules of `scope_id` (listed with the owning project's id), shared
/// by the reads of a refresh.
async fn list_rules(
    c: &Client,
    kind: Kind,
    scope_id: &str,
    owner: Option<&Owner>,
) -> Result<Arc<Vec<ApiRule>>, OpError> {
    let mut params = Params::new()
        .with(kind.scope().param(), scope_id)
        .with("listall", "true");
    params.set_opt("projectid", owner.map(|o| o.id.as_str()));
    let scope = format!("{kind:?} {params:?}");
    c.refresh
        .listing(&scope, || async {
            Ok(match kind {
                Kind::Ingress => bounded(c, c.timeout, c.api.list_firewall_rules(&params))
                    .await?
                    .into_iter()
                    .map(ApiRule::from)
                    .collect(),
                Kind::Egress => bounded(c, c.timeout, c.api.list_egress_firewall_rules(&params))
                    .await?
                    .into_iter()
                    .map(ApiRule::from)
                    .collect(),
            })
        })
        .await
}

async fn create_unit(
    client: &cloudstack::Client,
    kind: Kind,
    scope_id: &str,
    u: &Unit,
) -> Result<ApiRule, cloudstack::Error> {
    let mut extra = Params::new();
    if let Some((t, c)) = u.icmp {
        extra
            .set("icmptype", t.to_string())
            .set("icmpcode", c.to_string());
    }
    let (start_port, end_port) = match u.ports {
        Some((s, e)) => (Some(s), Some(e)),
        None => (None, None),
    };
    match kind {
        Kind::Ingress => client
            .create_firewall_rule(&CreateFirewallRule {
                ip_address_id: scope_id.to_string(),
                protocol: u.protocol.clone(),
                start_port,
                end_port,
                cidr_list: u.cidrs.clone(),
                extra,
            })
            .await
            .map(ApiRule::from),
        Kind::Egress => {
            if !u.dest_cidrs.is_empty() {
                extra.set_list("destcidrlist", &u.dest_cidrs);
            }
            client
                .create_egress_firewall_rule(&CreateEgressFirewallRule {
                    network_id: scope_id.to_string(),
                    protocol: u.protocol.clone(),
                    start_port,
                    end_port,
                    cidr_list: u.cidrs.clone(),
                    extra,
                })
                .await
                .map(ApiRule::from)
        }
    }
}

async fn delete_rule(
    client: &cloudstack::Client,
    kind: Kind,
    id: &str,
) -> Result<(), cloudstack::Error> {
    let r = match kind {
        Kind::Ingress => client.delete_firewall_rule(id).await,
        Kind::Egress => client.delete_egress_firewall_rule(id).await,
    };
    match r {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

fn parallelism(s: &RuleSet) -> usize {
    let p = s
        .parallelism
        .known()
        .copied()
        .unwrap_or(DEFAULT_PARALLELISM);
    usize::try_from(p).unwrap_or(1).clamp(1, MAX_IN_FLIGHT)
}

/// Brings `planned` about from the rules of `prior` (none on create):
/// deletes rules no longer wanted, creates missing ones, and returns the
/// state of what exists afterwards.
async fn converge(
    c: &Client,
    kind: Kind,
    prior: &[Rule],
    planned: RuleSet,
    diags: &mut Diagnostics,
) -> RuleSet {
    let Some(scope_id) = planned.scope.known().cloned() else {
        diags.push(
            Diagnostic::error(
                format!("{} is unknown at apply time", kind.scope_attr()),
                "This is a provider or Terraform bug.",
            )
            .at(AttributePath::attr(kind.scope_attr())),
        );
        return RuleSet::default();
    };
    let client = &c.api;
    let limit = parallelism(&planned);
    c.refresh.clear();
    // rules that exist now, with their IDs
    let mut existing: Vec<(Unit, String)> = prior.iter().flat_map(units_with_ids).collect();
    // match wanted units to existing ones
    let planned_rules: Vec<Rule> = planned.rules().to_vec();
    let mut wanted: Vec<(usize, Unit, Option<ApiRule>)> = Vec::new();
    let mut used: HashSet<String> = HashSet::new();
    for (i, rule) in planned_rules.iter().enumerate() {
        for u in units_of(rule) {
            let found = existing
                .iter()
                .find(|(p, id)| !used.contains(id) && u.served_by(p))
                .map(|(p, id)| (p.clone(), id.clone()));
            let reuse = found.map(|(p, id)| {
                used.insert(id.clone());
                ApiRule::of_unit(&p, id)
            });
            wanted.push((i, u, reuse));
        }
    }
    // delete first: a changed rule may need its port free again
    let doomed: Vec<(Unit, String)> = existing
        .drain(..)
        .filter(|(_, id)| !used.contains(id))
        .collect();
    let deleted = in_parallel(doomed, limit, |(u, id)| async move {
        let r = bounded(c, c.timeout, delete_rule(client, kind, &id)).await;
        (u, id, r)
    })
    .await;
    let mut leftovers: Vec<(Unit, String)> = Vec::new();
    for (u, id, r) in deleted {
        if let Err(e) = r {
            diags.push(
                e.diagnostic(
                    &format!("deleting firewall rule {id} ({})", u.key),
                    None,
                    "update",
                )
                .at(AttributePath::attr(RULE)),
            );
            leftovers.push((u, id));
        }
    }
    let todo: Vec<(usize, Unit)> = wanted
        .iter()
        .enumerate()
        .filter(|(_, (_, _, reuse))| reuse.is_none())
        .map(|(n, (_, u, _))| (n, u.clone()))
        .collect();
    let scope_ref = scope_id.as_str();
    let created = in_parallel(todo, limit, |(n, u)| async move {
        // a rule CloudStack accepted is kept in state even if its job's answer is lost
        let accepted = AcceptedLog::new();
        let recording = client.recording_accepted(&accepted);
        let r = bounded(c, c.timeout, create_unit(&recording, kind, scope_ref, &u)).await;
        (n, r, accepted.last_id(kind.create_command()))
    })
    .await;
    for (n, r, accepted) in created {
        let e = match r {
            Ok(rule) => {
                wanted[n].2 = Some(rule);
                continue;
            }
            Err(e) => e,
        };
        let kept = match accepted {
            Some(id) => {
                let note = format!(
                    " CloudStack accepted this rule as {id}; it is kept in the state too, and \
                     the next refresh drops it if it does not exist."
                );
                wanted[n].2 = Some(ApiRule::of_unit(&wanted[n].1, id));
                note
            }
            None => String::new(),
        };
        let u = &wanted[n].1;
        let what = if u.ports.is_some() {
            "port"
        } else {
            "protocol"
        };
        let mut d = e
            .diagnostic(
                &format!("creating the {} rule for {what} {}", u.protocol, u.key),
                None,
                "create",
            )
            .at(AttributePath::attr(RULE));
        d.detail.push_str(&format!(
            "\n\nThe rules that were created are kept in the state; apply again to create \
             the missing ones.{kept}"
        ));
        diags.push(d);
    }
    c.refresh.clear();
    // rebuild the rule elements from what exists
    let mut rules: Vec<Rule> = Vec::new();
    for (i, rule) in planned_rules.iter().enumerate() {
        let done: Vec<&(usize, Unit, Option<ApiRule>)> = wanted
            .iter()
            .filter(|(j, _, r)| *j == i && r.is_some())
            .collect();
        if done.is_empty() {
            continue;
        }
        rules.push(rule_state(rule, &done));
    }
    // rules we failed to delete still exist: keep them so a later apply retries
    for (u, id) in leftovers {
        rules.push(orphan_rule(&u, &id));
    }
    RuleSet {
        id: Field::Known(scope_id),
        rule: Field::Known(rules),
        ..planned
    }
}

/// A state rule element for `rule` holding only the units that exist.
fn rule_state(rule: &Rule, done: &[&(usize, Unit, Option<ApiRule>)]) -> Rule {
    let mut out = rule.clone();
    let mut uuids = BTreeMap::new();
    let mut ports = Vec::new();
    let mut api: Option<&ApiRule> = None;
    for (_, u, r) in done {
        if let Some(r) = r {
            uuids.insert(u.key.clone(), r.id.clone());
            if u.ports.is_some() {
                ports.push(u.key.clone());
            }
            api.get_or_insert(r);
        }
    }
    out.uuids = Field::Known(uuids);
    if !rule.ports.is_null() {
        out.ports = Field::Known(ports);
    }
    if !matches!(rule.cidr_list, Field::Known(_)) {
        out.cidr_list = api.map_or(Field::Null, |a| Field::Known(a.cidrs.clone()));
    }
    if rule.icmp_type.is_unknown() {
        out.icmp_type = api.and_then(|a| a.icmp_type).into();
    }
    if rule.icmp_code.is_unknown() {
        out.icmp_code = api.and_then(|a| a.icmp_code).into();
    }
    out
}

/// A rule element for a CloudStack rule this configuration does not have
/// (managed mode, or a rule that could not be deleted).
fn orphan_rule(u: &Unit, id: &str) -> Rule {
    Rule {
        protocol: Field::Known(u.protocol.clone()),
        cidr_list: Field::Known(u.cidrs.clone()),
        icmp_type: u.icmp.map(|x| x.0).into(),
        icmp_code: u.icmp.map(|x| x.1).into(),
        ports: if u.ports.is_some() {
            Field::Known(vec![u.key.clone()])
        } else {
            Field::Null
        },
        uuids: Field::Known(BTreeMap::from([(u.key.clone(), id.to_string())])),
        dest_cidr_list: if u.dest_cidrs.is_empty() {
            Field::Null
        } else {
            Field::Known(u.dest_cidrs.clone())
        },
    }
}

fn unit_of_api(r: &ApiRule) -> Unit {
    let key = r.key();
    Unit {
        ports: parse_port_range(&key),
        icmp: match (r.icmp_type, r.icmp_code) {
            (Some(t), Some(c)) if r.protocol == "icmp" => Some((t, c)),
            _ => None,
        },
        key,
        protocol: r.protocol.clone(),
        cidrs: r.cidrs.clone(),
        dest_cidrs: r.dest_cidrs.clone(),
    }
}

/// Reads the rules of the state back: drops entries whose rule vanished,
/// refreshes what CloudStack reports, adds unknown rules when managed.
/// `None` when the IP/network is gone, or nothing is left and not managed
/// (or after an error, which the kit turns into keeping the state).
async fn read_rule_set(
    c: &Client,
    kind: Kind,
    state: RuleSet,
    diags: &mut Diagnostics,
) -> Option<RuleSet> {
    let scope_id = state
        .scope
        .non_empty()
        .or(state.id.non_empty())
        .map(str::to_string)?;
    let owner = kind
        .scope()
        .owner(c, &scope_id, state.project.non_empty(), false, diags)
        .await
        .ok()?;
    let listed = match list_rules(c, kind, &scope_id, owner.as_ref()).await {
        Ok(l) => l,
        Err(e) if e.is_not_found() => return None,
        Err(e) => {
            diags.push(e.diagnostic(
                &format!("listing the rules of {} {scope_id}", kind.scope_attr()),
                None,
                "read",
            ));
            return None;
        }
    };
    let by_id: HashMap<&str, &ApiRule> = listed.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut rules = Vec::new();
    for rule in state.rules() {
        let mut uuids = BTreeMap::new();
        let mut ports = Vec::new();
        let mut first: Option<&ApiRule> = None;
        for (key, id) in rule.uuids.known().into_iter().flatten() {
            if let Some(api) = by_id.get(id.as_str()) {
                seen.insert(api.id.as_str());
                uuids.insert(key.clone(), id.clone());
                if parse_port_range(key).is_some() {
                    ports.push(key.clone());
                }
                first.get_or_insert(api);
            }
        }
        let Some(api) = first else { continue };
        let mut r = rule.clone();
        r.uuids = Field::Known(uuids);
        if !rule.ports.is_null() || !ports.is_empty() {
            r.ports = Field::Known(ports);
        }
        r.protocol = Field::Known(api.protocol.clone());
        r.cidr_list = Field::Known(api.cidrs.clone());
        if kind == Kind::Egress && !(api.dest_cidrs.is_empty() && rule.dest_cidr_list.is_null()) {
            r.dest_cidr_list = Field::Known(api.dest_cidrs.clone());
        }
        if api.protocol == "icmp" {
            r.icmp_type = api.icmp_type.into();
            r.icmp_code = api.icmp_code.into();
        }
        rules.push(r);
    }
    let managed = state.managed();
    if managed {
        for api in listed.iter().filter(|r| !seen.contains(r.id.as_str())) {
            rules.push(orphan_rule(&unit_of_api(api), &api.id));
        }
    }
    let owner_id = owner.as_ref().map(|o| o.id.as_str());
    if rules.is_empty() && (!managed || !kind.scope().exists(c, &scope_id, owner_id).await) {
        return None;
    }
    Some(RuleSet {
        id: Field::Known(scope_id.clone()),
        scope: Field::Known(scope_id),
        project: project_value(&state.project, owner.as_ref()),
        managed: Field::Known(managed),
        parallelism: Field::Known(
            state
                .parallelism
                .known()
                .copied()
                .unwrap_or(DEFAULT_PARALLELISM),
        ),
        rule: Field::Known(rules),
    })
}

/// Marks `uuids` unknown in planned rule elements that no prior element
/// provides exactly, so new rule IDs after apply match the plan.
fn plan_rule_ids(prior: &RuleSet, planned: &mut RuleSet) -> bool {
    let prior_units: Vec<(Unit, String)> = prior.rules().iter().flat_map(units_with_ids).collect();
    let Field::Known(rules) = &mut planned.rule else {
        return false;
    };
    let mut changed = false;
    for rule in rules.iter_mut() {
        let complete = !rule.protocol.is_unknown()
            && !rule.cidr_list.is_unknown()
            && !rule.ports.is_unknown()
            && !rule.icmp_type.is_unknown()
            && !rule.icmp_code.is_unknown()
            && !rule.dest_cidr_list.is_unknown()
            && !rule.uuids.is_unknown();
        if !complete {
            continue;
        }
        let units = units_of(rule);
        let ids = rule.uuids.known();
        let all_served = !units.is_empty()
            && units.iter().all(|u| {
                ids.and_then(|m| m.get(&u.key)).is_some_and(|id| {
                    prior_units
                        .iter()
                        .any(|(p, pid)| pid == id && u.served_by(p) && p.cidrs == u.cidrs)
                })
            })
            && ids.is_some_and(|m| m.len() == units.len());
        if !all_served {
            rule.uuids = Field::Unknown;
            changed = true;
        }
    }
    changed
}

/// `cloudstack_firewall` (with [`FirewallModel`]) or
/// `cloudstack_egress_firewall` (with [`EgressModel`]).
pub(crate) struct Firewall<M>(PhantomData<fn() -> M>);

impl<M> std::fmt::Debug for Firewall<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Firewall")
    }
}

/// `cloudstack_firewall`, for the provider's registry.
pub(crate) fn ingress() -> Firewall<FirewallModel> {
    Firewall(PhantomData)
}

/// `cloudstack_egress_firewall`, for the provider's registry.
pub(crate) fn egress() -> Firewall<EgressModel> {
    Firewall(PhantomData)
}

#[async_trait]
impl<M: Side> TypedResource for Firewall<M> {
    type Model = M;
    type View = M;

    fn type_name(&self) -> &'static str {
        M::KIND.type_name()
    }

    fn schema(&self) -> Schema {
        rule_set_schema(M::KIND)
    }

    async fn validate(&self, config: M, diags: &mut Diagnostics) {
        validate_rule_set(M::KIND, &config.into_set(), diags);
    }

    async fn modify_plan(&self, plan: &mut Planning<'_, M>, _diags: &mut Diagnostics) {
        let mut planned = plan.planned.clone().into_set();
        let prior = plan.prior.clone().map(Side::into_set).unwrap_or_default();
        let mut changed = plan_rule_ids(&prior, &mut planned);
        if plan.prior.is_none() {
            // the ID is the scope ID, known as soon as that is
            planned.id = planned.scope.clone();
            changed = true;
        }
        if changed {
            plan.planned = M::from_set(planned);
        }
    }

    async fn create(&self, cx: Ctx<'_>, plan: M, diags: &mut Diagnostics) -> Option<M> {
        let kind = M::KIND;
        let mut plan = plan.into_set();
        // like the Go provider: the project is inherited from the IP or network
        let scope_id = plan.scope.known().cloned().unwrap_or_default();
        let owner = kind
            .scope()
            .owner(cx.c, &scope_id, plan.project.non_empty(), true, diags)
            .await
            .ok()?;
        plan.project = project_value(&plan.project, owner.as_ref());
        let state = converge(cx.c, kind, &[], plan, diags).await;
        if diags.has_errors() && state.rules().is_empty() {
            return None;
        }
        Some(M::from_set(state))
    }

    async fn read(&self, cx: Ctx<'_>, state: M, diags: &mut Diagnostics) -> Option<M> {
        read_rule_set(cx.c, M::KIND, state.into_set(), diags)
            .await
            .map(M::from_set)
    }

    async fn update(&self, cx: Ctx<'_>, prior: M, plan: M, diags: &mut Diagnostics) -> Option<M> {
        let prior = prior.into_set();
        let mut plan = plan.into_set();
        if !matches!(plan.project, Field::Known(_)) {
            plan.project = prior.project.clone();
        }
        Some(M::from_set(
            converge(cx.c, M::KIND, prior.rules(), plan, diags).await,
        ))
    }

    async fn delete(&self, cx: Ctx<'_>, prior: M, diags: &mut Diagnostics) {
        let prior = prior.into_set();
        let ids: Vec<String> = prior
            .rules()
            .iter()
            .flat_map(units_with_ids)
            .map(|(_, id)| id)
            .collect();
        let (c, kind) = (cx.c, M::KIND);
        c.refresh.clear();
        let results = in_parallel(ids, parallelism(&prior), |id| async move {
            let r = bounded(c, c.timeout, delete_rule(&c.api, kind, &id)).await;
            (id, r)
        })
        .await;
        c.refresh.clear();
        for (id, r) in results {
            if let Err(e) = r {
                diags.push(e.diagnostic(&format!("deleting firewall rule {id}"), None, "delete"));
            }
        }
    }

    /// `terraform import ADDR <id>` or `<project>/<id>` (the Go provider's
    /// syntax); every rule found is managed, as the Go port forward import does.
    fn import(&self, import_id: &str) -> Vec<Value> {
        let (project, id) = split_import_id(import_id);
        let set = RuleSet {
            id: Field::Known(id.to_string()),
            scope: Field::Known(id.to_string()),
            project: project.map(str::to_string).into(),
            managed: Field::Known(true),
            parallelism: Field::Known(DEFAULT_PARALLELISM),
            rule: Field::Null,
        };
        model::to_value(&M::from_set(set), &self.schema().value_type())
            .map(|v| vec![v])
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        common::testenv::{calls, with_vm_and_ip, NETWORK_ID as NETWORK},
        kit::Typed,
    };
    use tfplugin5::PlanRequest;
    use tfplugin5::Resource;

    #[test]
    fn models_match_schemas() {
        model::check::<FirewallModel>(&rule_set_schema(Kind::Ingress)).unwrap();
        model::check::<EgressModel>(&rule_set_schema(Kind::Egress)).unwrap();
    }

    fn decode<M: Side>(v: &Value) -> Option<RuleSet> {
        model::from_value::<M>(v).ok().map(Side::into_set)
    }

    fn validate_rule_set(kind: Kind, config: &Value, diags: &mut Diagnostics) {
        let set = match kind {
            Kind::Ingress => decode::<FirewallModel>(config),
            Kind::Egress => decode::<EgressModel>(config),
        };
        super::validate_rule_set(kind, &set.unwrap(), diags);
    }

    fn rule(proto: &str, ports: &[&str]) -> Value {
        Value::object([
            ("cidr_list", Value::set(["0.0.0.0/0"])),
            ("protocol", Value::from(proto)),
            ("icmp_type", Value::Unknown),
            ("icmp_code", Value::Unknown),
            ("ports", Value::set(ports.iter().copied())),
            ("uuids", Value::Unknown),
        ])
    }

    fn planned(ip: &str, rules: Vec<Value>) -> Value {
        Value::object([
            ("id", Value::from(ip)),
            ("ip_address_id", Value::from(ip)),
            ("project", Value::Unknown),
            ("managed", Value::from(false)),
            ("parallelism", Value::from(2i64)),
            ("rule", Value::Set(rules)),
        ])
    }

    fn errors(d: &Diagnostics) -> Vec<String> {
        d.0.iter().map(|x| x.summary.clone()).collect()
    }

    #[test]
    fn validation_names_the_field_and_the_fix() {
        let mut cfg = planned("ip", vec![rule("tcp", &["22", "70000", "90-80"])]);
        let mut d = Diagnostics::default();
        validate_rule_set(Kind::Ingress, &cfg, &mut d);
        assert_eq!(
            errors(&d),
            vec![
                "Invalid rule.ports entry \"70000\"",
                "Invalid rule.ports entry \"90-80\""
            ]
        );
        assert!(d.0[0].detail.contains("1 to 65535"));
        assert_eq!(d.0[0].attribute, Some(AttributePath::attr("rule")));

        let mut icmp = rule("icmp", &[]);
        icmp.set_attr("icmp_type", Value::Null);
        icmp.set_attr("icmp_code", 300i64);
        let mut bad_cidr = rule("TCP", &["22"]);
        bad_cidr.set_attr("cidr_list", Value::set(["0.0.0.0/40"]));
        cfg.set_attr("rule", Value::Set(vec![icmp, bad_cidr, rule("udp", &[])]));
        cfg.set_attr("parallelism", 0i64);
        let mut d = Diagnostics::default();
        validate_rule_set(Kind::Ingress, &cfg, &mut d);
        let e = errors(&d);
        assert!(e.contains(&"Invalid parallelism: 0".to_string()), "{e:?}");
        assert!(e.contains(&"Missing rule.icmp_type for protocol \"icmp\"".to_string()));
        assert!(e.contains(&"Invalid rule.icmp_code: 300".to_string()));
        assert!(e.contains(&"Invalid rule.protocol: \"TCP\" is not a valid protocol".to_string()));
        assert!(e.contains(&"Invalid rule.cidr_list entry \"0.0.0.0/40\": not a CIDR".to_string()));
        assert!(e.contains(&"Missing rule.ports for a tcp/udp rule".to_string()));

        // egress allows "all" without ports; no rules at all needs managed
        let mut d = Diagnostics::default();
        validate_rule_set(Kind::Egress, &planned("n", vec![rule("all", &[])]), &mut d);
        assert!(d.is_empty(), "{d:?}");
        let mut d = Diagnostics::default();
        validate_rule_set(Kind::Ingress, &planned("ip", vec![]), &mut d);
        assert_eq!(errors(&d), vec!["At least one rule block is required"]);

        // unknown values are not judged
        let mut unknown = rule("tcp", &[]);
        unknown.set_attr("ports", Value::Unknown);
        unknown.set_attr("protocol", Value::Unknown);
        let mut d = Diagnostics::default();
        validate_rule_set(Kind::Ingress, &planned("ip", vec![unknown]), &mut d);
        assert!(d.is_empty(), "{d:?}");
    }

    #[tokio::test]
    async fn create_update_read_delete_against_the_simulator() {
        let (env, _vm, ip) = with_vm_and_ip(Default::default()).await;
        let r = Typed(ingress());
        let mut icmp = rule("icmp", &[]);
        icmp.set_attr("icmp_type", 8i64);
        icmp.set_attr("icmp_code", 0i64);
        icmp.set_attr("ports", Value::Null);
        let plan = planned(&ip, vec![rule("tcp", &["22", "80-90"]), icmp]);
        let mut d = Diagnostics::default();
        let state = Resource::create(&r, &env.client, &plan, &mut d).await;
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(calls(&env.sim, "createFirewallRule"), 3);
        assert!(
            tfplugin5::plan::unknown_paths(&state).is_empty(),
            "{state:?}"
        );
        let tcp = state
            .get_slice("rule")
            .iter()
            .find(|x| x.get_str("protocol") == Some("tcp"))
            .unwrap()
            .clone();
        let id22 = tcp.get("uuids").get_str("22").unwrap().to_string();
        assert!(tcp.get("uuids").get_str("80-90").is_some());
        assert_eq!(state.get_str("id"), Some(ip.as_str()));

        // read of an unchanged world is the state itself
        let read = Resource::read(&r, &env.client, &state, &mut d).await;
        assert_eq!(read, state);

        // update: 80-90 goes, 443 comes, 22 stays (same rule id)
        let mut next = planned(&ip, vec![rule("tcp", &["22", "443"])]);
        let mut req_planned = next.clone();
        let mut rr = Vec::new();
        Resource::<Client>::modify_plan(
            &r,
            PlanRequest {
                prior: &state,
                config: &next,
                planned: &mut req_planned,
                requires_replace: &mut rr,
            },
            &mut d,
        )
        .await;
        assert!(req_planned.get_slice("rule")[0].get("uuids").is_unknown());
        next = req_planned;
        let updated = Resource::update(&r, &env.client, &state, &next, &mut d).await;
        assert!(d.is_empty(), "{d:?}");
        let uuids = updated.get_slice("rule")[0].get("uuids").clone();
        assert_eq!(uuids.get_str("22"), Some(id22.as_str()));
        assert!(uuids.get_str("443").is_some() && uuids.get_str("80-90").is_none());
        assert_eq!(calls(&env.sim, "createFirewallRule"), 4);
        assert_eq!(calls(&env.sim, "deleteFirewallRule"), 2);

        // drift: a rule deleted behind our back leaves the state
        env.client.api.delete_firewall_rule(&id22).await.unwrap();
        env.client.refresh.clear(); // a new Terraform walk
        let read = Resource::read(&r, &env.client, &updated, &mut d).await;
        let rules = read.get_slice("rule");
        assert_eq!(rules[0].get_strings("ports"), vec!["443"]);
        assert_eq!(rules[0].get("uuids").as_map().unwrap().len(), 1);

        // managed: a rule we do not know shows up, to be destroyed
        env.client
            .api
            .create_firewall_rule(&CreateFirewallRule {
                ip_address_id: ip.clone(),
                protocol: "udp".into(),
                start_port: Some(53),
                end_port: Some(53),
                cidr_list: vec!["10.0.0.0/8".into()],
                extra: Params::new(),
            })
            .await
            .unwrap();
        env.client.refresh.clear();
        let mut managed = read.clone();
        managed.set_attr("managed", true);
        let read = Resource::read(&r, &env.client, &managed, &mut d).await;
        let foreign = read
            .get_slice("rule")
            .iter()
            .find(|x| x.get_str("protocol") == Some("udp"))
            .unwrap();
        assert_eq!(foreign.get_strings("ports"), vec!["53"]);
        assert_eq!(foreign.get_strings("cidr_list"), vec!["10.0.0.0/8"]);

        // import reads everything (also with the Go provider's project/id)
        let imported = Resource::import(&r, &env.client, &ip, &mut d).await;
        let read = Resource::read(&r, &env.client, &imported[0], &mut d).await;
        assert_eq!(read.get_slice("rule").len(), 2);
        let with_project =
            Resource::import(&r, &env.client, &format!("admin/{}", ip), &mut d).await;
        assert_eq!(with_project[0].get_str("project"), Some("admin"));
        assert_eq!(with_project[0].get_str("ip_address_id"), Some(ip.as_str()));

        Resource::delete(&r, &env.client, &read, &mut d).await;
        assert!(d.is_empty(), "{d:?}");
        assert!(env
            .client
            .api
            .list_firewall_rules(&Params::new().with("ipaddressid", &ip))
            .await
            .unwrap()
            .is_empty());
        // all gone and not managed: the resource is gone
        assert!(Resource::read(&r, &env.client, &updated, &mut d)
            .await
            .is_null());
    }

    #[tokio::test]
    async fn partial_failure_keeps_exactly_what_exists() {
        let (env, _vm, ip) = with_vm_and_ip(Default::default()).await;
        // a rule on ports 79-81 already exists: CloudStack refuses an overlapping one
        env.client
            .api
            .create_firewall_rule(&CreateFirewallRule {
                ip_address_id: ip.clone(),
                protocol: "tcp".into(),
                start_port: Some(79),
                end_port: Some(81),
                cidr_list: vec!["0.0.0.0/0".into()],
                extra: Params::new(),
            })
            .await
            .unwrap();
        let r = Typed(ingress());
        let plan = planned(&ip, vec![rule("tcp", &["22", "80", "8080"])]);
        let mut d = Diagnostics::default();
        let state = Resource::create(&r, &env.client, &plan, &mut d).await;
        assert!(d.has_errors());
        assert!(errors(&d)[0].contains("port 80"), "{d:?}");
        let rules = state.get_slice("rule");
        assert_eq!(rules.len(), 1);
        let mut ports = rules[0].get_strings("ports");
        ports.sort();
        assert_eq!(ports, vec!["22", "8080"]);
        assert!(tfplugin5::plan::unknown_paths(&state).is_empty());

        // the next apply (an update from that state) creates only port 80
        env.client
            .api
            .delete_firewall_rule(
                &env.client
                    .api
                    .list_firewall_rules(&Params::new().with("ipaddressid", &ip))
                    .await
                    .unwrap()
                    .into_iter()
                    .find(|x| x.startport == Some(79))
                    .unwrap()
                    .id,
            )
            .await
            .unwrap();
        let before = calls(&env.sim, "createFirewallRule");
        let mut d = Diagnostics::default();
        let state = Resource::update(&r, &env.client, &state, &plan, &mut d).await;
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(calls(&env.sim, "createFirewallRule") - before, 1);
        assert_eq!(
            state.get_slice("rule")[0]
                .get("uuids")
                .as_map()
                .unwrap()
                .len(),
            3
        );
    }

    #[tokio::test]
    async fn egress_rules_on_a_network() {
        let (env, _vm, _ip) = with_vm_and_ip(Default::default()).await;
        let r = Typed(egress());
        let mut all = rule("all", &[]);
        all.set_attr("ports", Value::Null);
        all.set_attr("cidr_list", Value::Unknown);
        all.set_attr("dest_cidr_list", Value::Null);
        let mut plan = planned(NETWORK, vec![all, rule("tcp", &["1-65535"])]);
        plan.set_attr("network_id", NETWORK);
        if let Value::Object(m) = &mut plan {
            m.remove("ip_address_id"); // not an egress attribute
        }
        let mut d = Diagnostics::default();
        let state = Resource::create(&r, &env.client, &plan, &mut d).await;
        assert!(d.is_empty(), "{d:?}");
        assert!(
            tfplugin5::plan::unknown_paths(&state).is_empty(),
            "{state:?}"
        );
        let listed = env
            .client
            .api
            .list_egress_firewall_rules(&Params::new().with("networkid", NETWORK))
            .await
            .unwrap();
        assert_eq!(listed.len(), 2);
        let read = Resource::read(&r, &env.client, &state, &mut d).await;
        assert_eq!(read, state);
    }

    #[tokio::test]
    async fn one_listing_serves_a_refresh() {
        let (env, _vm, ip) = with_vm_and_ip(Default::default()).await;
        let r = Typed(ingress());
        let mut d = Diagnostics::default();
        let mut states = Vec::new();
        for port in ["22", "80", "443", "8080"] {
            let plan = planned(&ip, vec![rule("tcp", &[port])]);
            states.push(Resource::create(&r, &env.client, &plan, &mut d).await);
        }
        assert!(d.is_empty(), "{d:?}");
        let before = calls(&env.sim, "listFirewallRules");
        let reads = futures::future::join_all(states.iter().map(|s| {
            let r = &r;
            let client = &env.client;
            async move {
                let mut d = Diagnostics::default();
                Resource::read(r, client, s, &mut d).await
            }
        }))
        .await;
        assert_eq!(reads, states);
        assert_eq!(calls(&env.sim, "listFirewallRules") - before, 1);
    }
}
