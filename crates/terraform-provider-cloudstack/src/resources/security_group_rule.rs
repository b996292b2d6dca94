//! `cloudstack_security_group_rule`: the ingress and egress rules of one
//! security group (Go provider schema; ID = `security_group_id`). CloudStack
//! keeps one rule per source and port range, so each `rule` block stands for
//! one CloudStack rule per source (each of `cidr_list` and
//! `user_security_group_list`) and per port entry (`ports`, tcp/udp), or per
//! source for `icmp`, `all` or a protocol number. `uuids` maps
//! `<source><entry>` (`"0.0.0.0/022"`, `"web80-90"`, `"10.0.0.0/8icmp"`,
//! `"weball"`) to the rule id, the keys the Go provider writes.
//!
//! Apply converges the group: rules no longer wanted (or changed behind
//! Terraform's back) are revoked first, missing ones authorized, at most
//! `parallelism` jobs at a time; after a partial failure the state holds
//! exactly the rules that exist. Import by `<security_group_id>` (or
//! `<project>/<id>`) reads every rule of the group into rule blocks.

use std::collections::{BTreeMap, HashMap, HashSet};

use cloudstack::security_group::{
    AuthorizeSecurityGroupRule, SecurityGroup as CsGroup, SecurityGroupRule as CsRule,
};
use serde::{Deserialize, Serialize};
use tfplugin5::{
    async_trait, model::Field, Attribute, Block, Diagnostics, NestedBlock, Schema, Type, Value,
};

use crate::{
    attr,
    common::{bounded, import_state, split_import_id, OpError},
    kit::{known_strings, Ctx, PlanStrings, Planning, TypedResource},
    provider::Client,
    rule_set::{
        check_cidr_entries, check_port_entries, in_parallel, jobs_in_flight, lower, match_prior,
        missing, parse_port_range, DEFAULT_PARALLELISM,
    },
};

const TRAFFIC: [&str; 2] = ["ingress", "egress"];

/// The `cloudstack_security_group_rule` resource.
#[derive(Debug)]
pub struct SecurityGroupRule;

/// One `rule` block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    cidr_list: Option<Vec<String>>,
    protocol: Option<String>,
    icmp_type: Option<i64>,
    icmp_code: Option<i64>,
    ports: Option<Vec<String>>,
    traffic_type: Option<String>,
    user_security_group_list: Option<Vec<String>>,
    uuids: Option<BTreeMap<String, String>>,
}

/// The resource's value. Only a state just imported has no `parallelism`
/// (Terraform fills its default in every plan).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Model {
    id: Option<String>,
    security_group_id: Option<String>,
    rule: Option<Vec<Rule>>,
    project: Option<String>,
    parallelism: Option<i64>,
}

/// A `rule` block as the plan-time checks read it (see [`crate::kit`]):
/// every attribute, since a rule carries its `uuids` only when it is the
/// prior one exactly.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuleView {
    cidr_list: PlanStrings,
    protocol: Field<String>,
    icmp_type: Field<i64>,
    icmp_code: Field<i64>,
    ports: PlanStrings,
    traffic_type: Field<String>,
    user_security_group_list: PlanStrings,
    uuids: Field<BTreeMap<String, String>>,
}

/// What the plan-time checks read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct View {
    id: Field<String>,
    security_group_id: Field<String>,
    rule: Field<Vec<RuleView>>,
}

fn schema() -> Schema {
    let strings = || Type::set(Type::String);
    let rule = Block::new()
        .attribute(Attribute::optional("cidr_list", strings()))
        .attribute(Attribute::required("protocol", Type::String))
        .attribute(Attribute::optional_computed("icmp_type", Type::Number))
        .attribute(Attribute::optional_computed("icmp_code", Type::Number))
        .attribute(Attribute::optional("ports", strings()))
        .attribute(Attribute::optional("traffic_type", Type::String).default("ingress"))
        .attribute(Attribute::optional("user_security_group_list", strings()))
        .attribute(Attribute::computed("uuids", Type::map(Type::String)));
    Schema::new(
        Block::new()
            .attribute(Attribute::computed("id", Type::String))
            .attribute(Attribute::required("security_group_id", Type::String).force_new())
            .attribute(Attribute::optional("project", Type::String).force_new())
            .attribute(
                Attribute::optional("parallelism", Type::Number).default(DEFAULT_PARALLELISM),
            )
            .block(NestedBlock::set("rule", rule).min_items(1)),
    )
}

/// One CloudStack rule as a rule block describes it.
#[derive(Debug, Clone, PartialEq)]
struct Unit {
    /// Key in `uuids`: the source, then the port entry, `icmp`, `all` or the protocol.
    key: String,
    egress: bool,
    protocol: String,
    cidr: Option<String>,
    group: Option<String>,
    ports: Option<(u16, u16)>,
    icmp: Option<(i64, i64)>,
}

impl Unit {
    fn source(&self) -> &str {
        self.cidr.as_deref().or(self.group.as_deref()).unwrap_or("")
    }
}

/// The CloudStack rules one rule block stands for.
fn units_of(r: &Rule) -> Vec<Unit> {
    let protocol = lower(&r.protocol, "");
    let egress = lower(&r.traffic_type, "ingress") == "egress";
    let sources: Vec<(Option<String>, Option<String>)> = r
        .cidr_list
        .iter()
        .flatten()
        .map(|c| (Some(c.clone()), None))
        .chain(
            r.user_security_group_list
                .iter()
                .flatten()
                .map(|g| (None, Some(g.clone()))),
        )
        .collect();
    let mut out = Vec::new();
    for (cidr, group) in sources {
        let source = cidr.clone().or(group.clone()).unwrap_or_default();
        let base = Unit {
            key: String::new(),
            egress,
            protocol: protocol.clone(),
            cidr,
            group,
            ports: None,
            icmp: None,
        };
        match protocol.as_str() {
            "tcp" | "udp" => out.extend(r.ports.iter().flatten().filter_map(|p| {
                parse_port_range(p).map(|range| Unit {
                    key: format!("{source}{p}"),
                    ports: Some(range),
                    ..base.clone()
                })
            })),
            "icmp" => out.push(Unit {
                key: format!("{source}icmp"),
                icmp: Some((r.icmp_type.unwrap_or(-1), r.icmp_code.unwrap_or(-1))),
                ..base
            }),
            other => out.push(Unit {
                key: format!("{source}{other}"),
                ..base
            }),
        }
    }
    out
}

/// What CloudStack lists, as a unit.
fn unit_of(r: &CsRule, egress: bool) -> Unit {
    let protocol = lower(&r.protocol, "all");
    let port = |v: Option<i64>| v.and_then(|x| u16::try_from(x).ok());
    let ports = match (protocol.as_str(), port(r.startport), port(r.endport)) {
        ("tcp" | "udp", Some(s), Some(e)) => Some((s, e)),
        _ => None,
    };
    let icmp = (protocol == "icmp").then(|| (r.icmptype.unwrap_or(-1), r.icmpcode.unwrap_or(-1)));
    let cidr = r.cidr.clone().filter(|c| !c.is_empty());
    let group = r.securitygroupname.clone().filter(|_| cidr.is_none());
    let source = cidr.clone().or(group.clone()).unwrap_or_default();
    let entry = match (ports, protocol.as_str()) {
        (Some((s, e)), _) if s == e => s.to_string(),
        (Some((s, e)), _) => format!("{s}-{e}"),
        (None, p) => p.to_string(),
    };
    Unit {
        key: format!("{source}{entry}"),
        egress,
        protocol,
        cidr,
        group,
        ports,
        icmp,
    }
}

/// Every rule of a group with its direction.
fn rules_of(g: &CsGroup) -> Vec<(&CsRule, bool)> {
    g.ingressrule
        .iter()
        .map(|r| (r, false))
        .chain(g.egressrule.iter().map(|r| (r, true)))
        .collect()
}

/// The port entry of a unit as a `ports` element.
fn port_entry(u: &Unit) -> Option<String> {
    u.ports.map(|(s, e)| {
        if s == e {
            s.to_string()
        } else {
            format!("{s}-{e}")
        }
    })
}

/// Rule blocks for existing CloudStack rules (import, or a rule that could
/// not be revoked): rules alike but for their port are one block, and blocks
/// alike but for their source are merged.
fn blocks_of(units: Vec<(Unit, String)>) -> Vec<Rule> {
    /// Direction, protocol, ICMP type and code.
    type Shape = (bool, String, Option<(i64, i64)>);
    /// Port entries and `uuids` of one source.
    type Found = (Vec<String>, BTreeMap<String, String>);
    let mut by_source: BTreeMap<(Shape, String, bool), Found> = BTreeMap::new();
    for (u, id) in units {
        let shape = (u.egress, u.protocol.clone(), u.icmp);
        let entry = by_source
            .entry((shape, u.source().to_string(), u.cidr.is_some()))
            .or_default();
        entry.0.extend(port_entry(&u));
        entry.1.insert(u.key.clone(), id);
    }
    let mut merged: Vec<(Shape, Vec<String>, Rule)> = Vec::new();
    for ((shape, source, is_cidr), (mut ports, uuids)) in by_source {
        ports.sort();
        if let Some((_, _, r)) = merged
            .iter_mut()
            .find(|(s, p, _)| *s == shape && *p == ports)
        {
            let list = if is_cidr {
                r.cidr_list.get_or_insert_with(Vec::new)
            } else {
                r.user_security_group_list.get_or_insert_with(Vec::new)
            };
            list.push(source);
            r.uuids.get_or_insert_with(BTreeMap::new).extend(uuids);
            continue;
        }
        let (egress, protocol, icmp) = shape.clone();
        let (cidrs, groups) = if is_cidr {
            (Some(vec![source]), None)
        } else {
            (None, Some(vec![source]))
        };
        let rule = Rule {
            cidr_list: cidrs,
            user_security_group_list: groups,
            protocol: Some(protocol),
            icmp_type: icmp.map(|i| i.0),
            icmp_code: icmp.map(|i| i.1),
            ports: (!ports.is_empty()).then(|| ports.clone()),
            traffic_type: Some(TRAFFIC[usize::from(egress)].to_string()),
            uuids: Some(uuids),
        };
        merged.push((shape, ports, rule));
    }
    merged.into_iter().map(|(_, _, r)| r).collect()
}

/// The group, or `None` when it is gone.
async fn find_group(c: &Client, id: &str, in_project: bool) -> Result<Option<CsGroup>, OpError> {
    bounded(c, c.timeout, c.api.get_security_group(id, in_project)).await
}

/// The account of each group named in `user_security_group_list` (CloudStack
/// wants `account` with the group's name); an unknown name is an error on `rule`.
async fn group_accounts(
    c: &Client,
    plan: &Model,
    diags: &mut Diagnostics,
) -> Option<HashMap<String, String>> {
    let names: HashSet<&String> = plan
        .rule
        .iter()
        .flatten()
        .flat_map(|r| r.user_security_group_list.iter().flatten())
        .collect();
    let mut out = HashMap::new();
    if names.is_empty() {
        return Some(out);
    }
    let project = crate::common::project_id(c, plan.project.as_deref(), diags)
        .await
        .ok()?;
    let mut p = cloudstack::Params::new();
    match &project {
        Some(pid) => p.set("projectid", pid),
        None => p.set("listall", "true"),
    };
    let groups = match bounded(c, c.timeout, c.api.list_security_groups(&p)).await {
        Ok(g) => g,
        Err(e) => {
            diags.push(e.diagnostic(
                "listing security groups",
                Some(attr!(Model, rule)),
                "create",
            ));
            return None;
        }
    };
    for name in names {
        match groups.iter().find(|g| g.name.as_ref() == Some(name)) {
            Some(g) => {
                let account = g.account.clone().unwrap_or_default();
                out.insert(name.clone(), account);
            }
            None => {
                diags.attribute_error(
                    attr!(Model, rule),
                    format!("Unknown security group {name:?} in user_security_group_list"),
                    "Name an existing security group (of the same project, if any).",
                );
                return None;
            }
        }
    }
    Some(out)
}

/// Brings `plan` about from `prior` (rules that exist, with ids): revokes
/// rules no longer wanted, authorizes missing ones, returns what exists.
async fn converge(
    c: &Client,
    prior: Vec<(Unit, String)>,
    plan: Model,
    diags: &mut Diagnostics,
) -> Model {
    let group_id = plan.security_group_id.clone().unwrap_or_default();
    let limit = jobs_in_flight(plan.parallelism);
    let wanted_rules = plan.rule.clone().unwrap_or_default();
    // (rule index, unit, existing rule id)
    let (mut wanted, doomed) = match_prior(
        &wanted_rules,
        units_of,
        prior,
        |want, have| have == want,
        |_, id| id.to_string(),
    );
    let revoked = in_parallel(doomed, limit, |(u, id)| async move {
        let r = bounded(
            c,
            c.timeout,
            c.api.revoke_security_group_rule(&id, u.egress),
        )
        .await;
        (u, id, r)
    })
    .await;
    let mut leftovers: Vec<(Unit, String)> = Vec::new();
    for (u, id, r) in revoked {
        match r {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                diags.push(e.diagnostic(
                    &format!("revoking security group rule {id} ({})", u.key),
                    Some(attr!(Model, rule)),
                    "update",
                ));
                leftovers.push((u, id));
            }
        }
    }
    let todo = missing(&wanted);
    let accounts = if todo.iter().any(|(_, u)| u.group.is_some()) {
        group_accounts(c, &plan, diags).await
    } else {
        Some(HashMap::new())
    };
    if let Some(accounts) = accounts {
        let (gid, accounts) = (group_id.as_str(), &accounts);
        let created = in_parallel(todo, limit, |(n, u)| async move {
            let req = AuthorizeSecurityGroupRule {
                group_id: gid.to_string(),
                egress: u.egress,
                protocol: u.protocol.clone(),
                cidr: u.cidr.clone(),
                user_group: u.group.clone().map(|g| {
                    let account = accounts.get(&g).cloned().unwrap_or_default();
                    (account, g)
                }),
                ports: u.ports,
                icmp: u.icmp,
            };
            let r = bounded(c, c.timeout, c.api.authorize_security_group_rule(&req)).await;
            (n, r)
        })
        .await;
        for (n, r) in created {
            match r {
                Ok(id) => wanted[n].2 = Some(id),
                Err(e) => {
                    let u = &wanted[n].1;
                    diags.push(e.diagnostic(
                        &format!(
                            "authorizing the {} {} rule for {} (the rules that were authorized \
                             are kept in the state; apply again to authorize the missing ones)",
                            TRAFFIC[usize::from(u.egress)],
                            u.protocol,
                            u.key
                        ),
                        Some(attr!(Model, rule)),
                        "create",
                    ));
                }
            }
        }
    }
    let mut rules: Vec<Rule> = Vec::new();
    for (i, r) in wanted_rules.iter().enumerate() {
        let uuids: BTreeMap<String, String> = wanted
            .iter()
            .filter(|(j, _, _)| *j == i)
            .filter_map(|(_, u, id)| id.clone().map(|id| (u.key.clone(), id)))
            .collect();
        if uuids.is_empty() {
            continue;
        }
        let mut out = r.clone();
        out.uuids = Some(uuids);
        rules.push(out);
    }
    rules.extend(blocks_of(leftovers));
    Model {
        id: Some(group_id),
        rule: Some(rules),
        ..plan
    }
}

/// A state rule block as CloudStack has it now; `None` when none of its
/// rules exists. A block stands for every source with every port, so when
/// some of those rules are gone (or changed) it keeps only the ports every
/// source still has and the sources that have every kept port: the block
/// then differs from the configuration and the next apply puts the missing
/// rules back. `uuids` keeps every rule that still exists.
fn refreshed(r: &Rule, existing: &HashMap<&str, Unit>) -> Option<Rule> {
    let ids = r.uuids.clone().unwrap_or_default();
    let alive: Vec<Unit> = units_of(r)
        .into_iter()
        .filter(|u| {
            ids.get(&u.key)
                .and_then(|id| existing.get(id.as_str()))
                .is_some_and(|have| have == u)
        })
        .collect();
    if alive.is_empty() {
        return None;
    }
    let has = |source: &str, entry: Option<&str>| {
        alive
            .iter()
            .any(|u| u.source() == source && port_entry(u).as_deref() == entry)
    };
    let sources: Vec<&String> = r
        .cidr_list
        .iter()
        .flatten()
        .chain(r.user_security_group_list.iter().flatten())
        .collect();
    let mut out = r.clone();
    let kept: Vec<&String> = match (&r.ports, alive[0].ports.is_some()) {
        (Some(ports), true) => {
            let ports: Vec<String> = ports
                .iter()
                .filter(|p| sources.iter().all(|s| has(s, Some(p))))
                .cloned()
                .collect();
            let kept = sources
                .iter()
                .filter(|s| ports.iter().all(|p| has(s, Some(p))))
                .copied()
                .collect();
            out.ports = Some(ports);
            kept
        }
        _ => sources
            .iter()
            .filter(|s| alive.iter().any(|u| u.source() == s.as_str()))
            .copied()
            .collect(),
    };
    let only_kept = |list: &Option<Vec<String>>| {
        list.as_ref()
            .map(|l| l.iter().filter(|s| kept.contains(s)).cloned().collect())
    };
    out.cidr_list = only_kept(&r.cidr_list);
    out.user_security_group_list = only_kept(&r.user_security_group_list);
    if let Some((t, c)) = alive[0].icmp {
        out.icmp_type = Some(t);
        out.icmp_code = Some(c);
    }
    out.uuids = Some(
        alive
            .iter()
            .filter_map(|u| ids.get(&u.key).map(|id| (u.key.clone(), id.clone())))
            .collect(),
    );
    Some(out)
}

/// Every rule of the group as units, by rule id.
fn listed_units(g: &CsGroup) -> Vec<(Unit, String)> {
    rules_of(g)
        .into_iter()
        .map(|(r, egress)| (unit_of(r, egress), r.ruleid.clone()))
        .collect()
}

#[async_trait]
impl TypedResource for SecurityGroupRule {
    type Model = Model;
    type View = View;

    fn type_name(&self) -> &'static str {
        "cloudstack_security_group_rule"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, config: View, diags: &mut Diagnostics) {
        const RULE: &str = attr!(Model, rule);
        for r in config.rule.known().into_iter().flatten() {
            let (Some(cidrs), Some(groups), Some(ports)) = (
                known_strings(&r.cidr_list),
                known_strings(&r.user_security_group_list),
                known_strings(&r.ports),
            ) else {
                continue;
            };
            if [&r.protocol, &r.traffic_type]
                .iter()
                .any(|f| f.is_unknown())
                || [&r.icmp_type, &r.icmp_code].iter().any(|f| f.is_unknown())
                || r.uuids.is_unknown()
            {
                continue;
            }
            if cidrs.is_empty() && groups.is_empty() {
                diags.attribute_error(
                    RULE,
                    "A rule needs a source",
                    "Give at least one cidr_list or user_security_group_list entry.",
                );
            }
            check_cidr_entries(cidrs.iter().copied(), RULE, diags);
            let protocol = r
                .protocol
                .known()
                .map(|p| p.to_ascii_lowercase())
                .unwrap_or_default();
            match protocol.as_str() {
                "tcp" | "udp" => {
                    if ports.is_empty() {
                        diags.attribute_error(
                            RULE,
                            format!(
                                "Parameter ports is a required parameter for protocol {protocol}"
                            ),
                            "Give ports, e.g. [\"22\", \"8000-8080\"].",
                        );
                    }
                    check_port_entries(ports.iter().copied(), RULE, diags);
                }
                "icmp" => {
                    for (attr, v) in [
                        (attr!(RuleView, icmp_type), &r.icmp_type),
                        (attr!(RuleView, icmp_code), &r.icmp_code),
                    ] {
                        if v.is_null() {
                            diags.attribute_error(
                                RULE,
                                format!("Parameter {attr} is a required parameter when using protocol 'icmp'"),
                                "Use -1 for every type or code.",
                            );
                        }
                    }
                }
                "all" => {}
                other if other.parse::<u8>().is_ok() => {}
                other => diags.attribute_error(
                    RULE,
                    format!("{other:?} is not a valid protocol"),
                    "Valid options are 'tcp', 'udp', 'icmp', 'all' or a protocol number.",
                ),
            }
            if !ports.is_empty() && !matches!(protocol.as_str(), "tcp" | "udp") {
                diags.attribute_error(
                    RULE,
                    "Ports only apply to tcp and udp",
                    "Remove ports or use protocol tcp or udp.",
                );
            }
            if let Some(t) = r.traffic_type.known() {
                if !TRAFFIC.contains(&t.as_str()) {
                    diags.attribute_error(
                        RULE,
                        "Parameter traffic_type only accepts 'ingress' or 'egress' as values",
                        format!("Got {t:?}."),
                    );
                }
            }
        }
    }

    /// New or changed rule blocks get new CloudStack rules: their `uuids`
    /// are known only after apply. The ID is the group's.
    async fn modify_plan(&self, plan: &mut Planning<'_, View>, _diags: &mut Diagnostics) {
        let prior_rules = plan
            .prior
            .as_ref()
            .and_then(|p| p.rule.known().cloned())
            .unwrap_or_default();
        let planned = &mut plan.planned;
        planned.id = planned.security_group_id.clone();
        let Field::Known(rules) = &mut planned.rule else {
            return;
        };
        for rule in rules.iter_mut() {
            let carried = rule.uuids.known().is_some() && prior_rules.contains(rule);
            if !carried {
                rule.uuids = Field::Unknown;
            }
        }
    }

    async fn create(&self, cx: Ctx<'_>, plan: Model, diags: &mut Diagnostics) -> Option<Model> {
        Some(converge(cx.c, Vec::new(), plan, diags).await)
    }

    async fn read(&self, cx: Ctx<'_>, state: Model, diags: &mut Diagnostics) -> Option<Model> {
        let group_id = state.security_group_id.clone().or(state.id.clone())?;
        let group = match find_group(cx.c, &group_id, state.project.is_some()).await {
            Ok(Some(g)) => g,
            Ok(None) => return None,
            Err(e) => {
                diags.push(e.diagnostic(
                    &format!("reading security group {group_id}"),
                    None,
                    "read",
                ));
                return None;
            }
        };
        let all = listed_units(&group);
        let imported = state.parallelism.is_none() && state.rule.iter().flatten().next().is_none();
        let rules = match &state.rule {
            // just imported: every rule of the group
            _ if imported => blocks_of(all),
            None => Vec::new(),
            Some(rules) => {
                let existing: HashMap<&str, Unit> =
                    all.iter().map(|(u, id)| (id.as_str(), u.clone())).collect();
                rules
                    .iter()
                    .filter_map(|r| refreshed(r, &existing))
                    .collect()
            }
        };
        Some(Model {
            id: Some(group_id.clone()),
            security_group_id: Some(group_id),
            rule: Some(rules),
            parallelism: state.parallelism.or(Some(DEFAULT_PARALLELISM)),
            ..state
        })
    }

    async fn update(
        &self,
        cx: Ctx<'_>,
        prior: Model,
        plan: Model,
        diags: &mut Diagnostics,
    ) -> Option<Model> {
        // what the prior rules are now: a rule changed behind Terraform's back is replaced
        let group_id = prior.security_group_id.clone().unwrap_or_default();
        let listed = match find_group(cx.c, &group_id, prior.project.is_some()).await {
            Ok(g) => g.as_ref().map(listed_units).unwrap_or_default(),
            Err(e) => {
                diags.push(e.diagnostic(
                    &format!("reading security group {group_id}"),
                    None,
                    "update",
                ));
                return None;
            }
        };
        let ours: HashSet<&String> = prior
            .rule
            .iter()
            .flatten()
            .flat_map(|r| r.uuids.iter().flat_map(|u| u.values()))
            .collect();
        let existing = listed
            .into_iter()
            .filter(|(_, id)| ours.contains(id))
            .collect();
        Some(converge(cx.c, existing, plan, diags).await)
    }

    async fn delete(&self, cx: Ctx<'_>, prior: Model, diags: &mut Diagnostics) {
        let rules: Vec<(bool, String)> = prior
            .rule
            .iter()
            .flatten()
            .flat_map(|r| {
                let egress = lower(&r.traffic_type, "ingress") == "egress";
                r.uuids
                    .iter()
                    .flat_map(move |u| u.values().map(move |id| (egress, id.clone())))
            })
            .collect();
        let limit = jobs_in_flight(prior.parallelism);
        let c = cx.c;
        let results = in_parallel(rules, limit, |(egress, id)| async move {
            let r = bounded(c, c.timeout, c.api.revoke_security_group_rule(&id, egress)).await;
            (id, r)
        })
        .await;
        for (id, r) in results {
            match r {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => diags.push(e.diagnostic(
                    &format!("revoking security group rule {id}"),
                    None,
                    "delete",
                )),
            }
        }
    }

    /// `terraform import cloudstack_security_group_rule.x <security_group_id>`
    /// (or `<project>/<security_group_id>`): every rule of the group.
    fn import(&self, import_id: &str) -> Vec<Value> {
        let (_, group_id) = split_import_id(import_id);
        // no `parallelism`: the mark of a state the first read fills from the group
        import_state(
            import_id,
            &[(attr!(Model, security_group_id), Value::from(group_id))],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cs_rule(id: &str, protocol: &str, ports: Option<(i64, i64)>, cidr: &str) -> CsRule {
        CsRule {
            ruleid: id.into(),
            protocol: Some(protocol.into()),
            startport: ports.map(|p| p.0),
            endport: ports.map(|p| p.1),
            cidr: Some(cidr.into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_block_is_one_rule_per_source_and_port() {
        let r = Rule {
            cidr_list: Some(vec!["10.0.0.0/8".into(), "0.0.0.0/0".into()]),
            user_security_group_list: Some(vec!["web".into()]),
            protocol: Some("tcp".into()),
            ports: Some(vec!["22".into(), "8000-8080".into()]),
            ..Rule::default()
        };
        let units = units_of(&r);
        assert_eq!(units.len(), 6);
        let keys: Vec<&str> = units.iter().map(|u| u.key.as_str()).collect();
        assert!(
            keys.contains(&"0.0.0.0/022") && keys.contains(&"web8000-8080"),
            "{keys:?}"
        );
        assert!(!units[0].egress);
        let back = unit_of(
            &cs_rule("x", "TCP", Some((8000, 8080)), "10.0.0.0/8"),
            false,
        );
        assert!(units.contains(&back), "{back:?}");
        let icmp = Rule {
            cidr_list: Some(vec!["0.0.0.0/0".into()]),
            protocol: Some("icmp".into()),
            icmp_type: Some(8),
            icmp_code: Some(0),
            traffic_type: Some("egress".into()),
            ..Rule::default()
        };
        let u = &units_of(&icmp)[0];
        assert_eq!(
            (u.key.as_str(), u.icmp, u.egress),
            ("0.0.0.0/0icmp", Some((8, 0)), true)
        );
    }

    #[test]
    fn existing_rules_become_blocks() {
        let rules = [
            cs_rule("a", "tcp", Some((22, 22)), "10.0.0.0/8"),
            cs_rule("b", "tcp", Some((80, 80)), "10.0.0.0/8"),
            cs_rule("c", "tcp", Some((22, 22)), "0.0.0.0/0"),
            cs_rule("d", "tcp", Some((80, 80)), "0.0.0.0/0"),
            cs_rule("e", "all", None, "0.0.0.0/0"),
        ];
        let units = rules
            .iter()
            .map(|r| (unit_of(r, false), r.ruleid.clone()))
            .collect();
        let blocks = blocks_of(units);
        assert_eq!(blocks.len(), 2, "{blocks:?}");
        let tcp = blocks
            .iter()
            .find(|b| b.protocol.as_deref() == Some("tcp"))
            .unwrap();
        assert_eq!(tcp.cidr_list.as_ref().unwrap().len(), 2);
        assert_eq!(
            tcp.ports.as_deref(),
            Some(&["22".to_string(), "80".to_string()][..])
        );
        assert_eq!(tcp.uuids.as_ref().unwrap().len(), 4);
        // what the block says is what exists
        let existing: Vec<Unit> = rules.iter().map(|r| unit_of(r, false)).collect();
        for b in &blocks {
            for u in units_of(b) {
                assert!(existing.contains(&u), "{u:?}");
            }
        }
    }

    #[test]
    fn a_rule_gone_outside_shows_as_a_changed_block() {
        let r = Rule {
            cidr_list: Some(vec!["10.0.0.0/8".into(), "0.0.0.0/0".into()]),
            protocol: Some("tcp".into()),
            ports: Some(vec!["22".into(), "80".into()]),
            uuids: Some(BTreeMap::from([
                ("10.0.0.0/822".into(), "a".into()),
                ("10.0.0.0/880".into(), "b".into()),
                ("0.0.0.0/022".into(), "c".into()),
                ("0.0.0.0/080".into(), "d".into()),
            ])),
            ..Rule::default()
        };
        let listed = [
            cs_rule("a", "tcp", Some((22, 22)), "10.0.0.0/8"),
            cs_rule("b", "tcp", Some((80, 80)), "10.0.0.0/8"),
            cs_rule("c", "tcp", Some((22, 22)), "0.0.0.0/0"),
        ];
        let units: Vec<(Unit, String)> = listed
            .iter()
            .map(|x| (unit_of(x, false), x.ruleid.clone()))
            .collect();
        let existing: HashMap<&str, Unit> = units
            .iter()
            .map(|(u, id)| (id.as_str(), u.clone()))
            .collect();
        let now = refreshed(&r, &existing).unwrap();
        assert_eq!(now.ports.as_deref(), Some(&["22".to_string()][..]));
        assert_eq!(now.cidr_list.as_ref().unwrap().len(), 2);
        assert_eq!(
            now.uuids.as_ref().unwrap().len(),
            3,
            "every rule alive is kept"
        );
        assert_ne!(now, r);
        let all: HashMap<&str, Unit> = HashMap::new();
        assert!(refreshed(&r, &all).is_none());
    }
}
