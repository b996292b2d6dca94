//! `cloudstack_network_acl_rule`: the rules of one network ACL list (Go
//! provider schema; ID = `acl_id`). Each `rule` block stands for one
//! CloudStack ACL item per port entry (`port`, or each of the deprecated
//! `ports`), or one item for `icmp`, `all`, or tcp/udp without ports;
//! `uuids` maps the entry (`"80"`, `"80-90"`, `"icmp"`, `"all"`,
//! `"all_ports"`) to its item id.
//!
//! Apply converges like the firewall resources: items no longer wanted (or
//! changed, even behind Terraform's back) are deleted first, missing ones
//! created, at most `parallelism` jobs at a time. Partial failures leave
//! the state holding exactly the items that exist. `managed = true` also
//! deletes items of the list this configuration does not name, and read
//! shows them.

use std::collections::{BTreeMap, HashMap, HashSet};

use cloudstack::{
    model::{NetworkAclItem, NetworkAclList},
    Params,
};
use serde::{Deserialize, Serialize};
use tfplugin5::{
    async_trait, model::Field, Attribute, Block, Diagnostics, NestedBlock, Schema, Type, Value,
};

use crate::{
    attr,
    common::{bounded, find_by_id, import_state, split_import_id, OpError},
    kit::{known_elements, Ctx, PlanStrings, Planning, TypedResource},
    provider::Client,
    rule_set::{
        check_cidr_entries, check_port_entries, in_parallel, jobs_in_flight, lower, match_prior,
        missing, parse_port_range, DEFAULT_PARALLELISM,
    },
};

const PROTOCOLS: [&str; 4] = ["tcp", "udp", "icmp", "all"];
/// The `cloudstack_network_acl_rule` resource.
#[derive(Debug)]
pub struct NetworkAclRule;

/// One `rule` block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    rule_number: Option<i64>,
    action: Option<String>,
    cidr_list: Vec<String>,
    protocol: Option<String>,
    icmp_type: Option<i64>,
    icmp_code: Option<i64>,
    ports: Option<Vec<String>>,
    port: Option<String>,
    traffic_type: Option<String>,
    description: Option<String>,
    uuids: Option<BTreeMap<String, String>>,
}

/// A `rule` block as the plan-time checks read it (see [`crate::kit`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuleView {
    rule_number: Field<i64>,
    action: Field<String>,
    cidr_list: PlanStrings,
    protocol: Field<String>,
    icmp_type: Field<i64>,
    icmp_code: Field<i64>,
    ports: PlanStrings,
    port: Field<String>,
    traffic_type: Field<String>,
    description: Field<String>,
    uuids: Field<BTreeMap<String, String>>,
}

/// What the plan-time checks read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct View {
    rule: Field<Vec<RuleView>>,
}

/// The resource's value.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Model {
    id: Option<String>,
    acl_id: Option<String>,
    managed: Option<bool>,
    rule: Vec<Rule>,
    project: Option<String>,
    parallelism: Option<i64>,
}

fn schema() -> Schema {
    let rule = Block::new()
        .attribute(Attribute::optional_computed("rule_number", Type::Number))
        .attribute(Attribute::optional("action", Type::String).default("allow"))
        .attribute(Attribute::required("cidr_list", Type::list(Type::String)))
        .attribute(Attribute::required("protocol", Type::String))
        .attribute(Attribute::optional_computed("icmp_type", Type::Number))
        .attribute(Attribute::optional_computed("icmp_code", Type::Number))
        .attribute(
            Attribute::optional("ports", Type::set(Type::String))
                .deprecated()
                .description("Deprecated: use `port`, one rule block per port or range."),
        )
        .attribute(Attribute::optional("port", Type::String))
        .attribute(Attribute::optional("traffic_type", Type::String).default("ingress"))
        .attribute(Attribute::optional("description", Type::String))
        .attribute(Attribute::computed("uuids", Type::map(Type::String)));
    Schema::new(
        Block::new()
            .attribute(Attribute::computed("id", Type::String))
            .attribute(Attribute::required("acl_id", Type::String).force_new())
            .attribute(Attribute::optional("managed", Type::Bool).default(false))
            .attribute(Attribute::optional("project", Type::String).force_new())
            .attribute(
                Attribute::optional("parallelism", Type::Number).default(DEFAULT_PARALLELISM),
            )
            .block(NestedBlock::list("rule", rule)),
    )
}

/// One CloudStack ACL item as a rule block describes it.
#[derive(Debug, Clone, PartialEq)]
struct Unit {
    /// Key in `uuids`.
    key: String,
    number: Option<i64>,
    action: String,
    protocol: String,
    cidrs: Vec<String>,
    ports: Option<(u16, u16)>,
    icmp: (Option<i64>, Option<i64>),
    traffic: String,
    reason: Option<String>,
}

impl Unit {
    /// Whether the existing item `have` serves as this wanted one (unset
    /// computed fields match anything).
    fn served_by(&self, have: &Unit) -> bool {
        self.key == have.key
            && self.action == have.action
            && self.protocol == have.protocol
            && self.cidrs == have.cidrs
            && self.traffic == have.traffic
            && self.reason == have.reason
            && self.number.is_none_or(|n| have.number == Some(n))
            && self.icmp.0.is_none_or(|t| have.icmp.0 == Some(t))
            && self.icmp.1.is_none_or(|c| have.icmp.1 == Some(c))
    }
}

/// The items one rule block stands for.
fn units_of(r: &Rule) -> Vec<Unit> {
    let protocol = lower(&r.protocol, "");
    let base = Unit {
        key: String::new(),
        number: r.rule_number,
        action: lower(&r.action, "allow"),
        protocol: protocol.clone(),
        cidrs: r.cidr_list.clone(),
        ports: None,
        icmp: (None, None),
        traffic: lower(&r.traffic_type, "ingress"),
        reason: r.description.clone().filter(|d| !d.is_empty()),
    };
    match protocol.as_str() {
        "icmp" => vec![Unit {
            key: "icmp".into(),
            icmp: (r.icmp_type, r.icmp_code),
            ..base
        }],
        "tcp" | "udp" => {
            let entries: Vec<String> = match (&r.port, &r.ports) {
                (Some(p), _) if !p.is_empty() => vec![p.clone()],
                (_, Some(ps)) if !ps.is_empty() => ps.clone(),
                _ => Vec::new(),
            };
            if entries.is_empty() {
                return vec![Unit {
                    key: "all_ports".into(),
                    ..base
                }];
            }
            entries
                .into_iter()
                .filter_map(|p| {
                    parse_port_range(&p).map(|range| Unit {
                        key: p,
                        ports: Some(range),
                        ..base.clone()
                    })
                })
                .collect()
        }
        _ => vec![Unit {
            key: protocol.clone(),
            ..base
        }],
    }
}

/// What CloudStack lists, as a unit.
fn unit_of_item(i: &NetworkAclItem) -> Unit {
    let protocol = lower(&i.protocol, "all");
    let port = |s: &Option<String>| s.as_deref().and_then(|p| p.parse::<u16>().ok());
    let ports = match (port(&i.startport), port(&i.endport)) {
        (Some(s), Some(e)) => Some((s, e)),
        (Some(s), None) => Some((s, s)),
        _ => None,
    };
    let key = match (protocol.as_str(), ports) {
        ("tcp" | "udp", Some((s, e))) if s == e => s.to_string(),
        ("tcp" | "udp", Some((s, e))) => format!("{s}-{e}"),
        ("tcp" | "udp", None) => "all_ports".into(),
        (p, _) => p.to_string(),
    };
    Unit {
        key,
        number: i.number,
        action: lower(&i.action, "allow"),
        protocol,
        cidrs: i
            .cidrlist
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect(),
        ports,
        icmp: (i.icmptype, i.icmpcode),
        traffic: lower(&i.traffictype, "ingress"),
        reason: i.reason.clone().filter(|r| !r.is_empty()),
    }
}

/// A rule block for an item the configuration does not have (managed
/// mode, import, or an item that could not be deleted).
fn rule_of_item(i: &NetworkAclItem) -> Rule {
    let u = unit_of_item(i);
    let icmp = u.protocol == "icmp";
    Rule {
        rule_number: u.number,
        action: Some(u.action.clone()),
        cidr_list: u.cidrs.clone(),
        protocol: Some(u.protocol.clone()),
        icmp_type: if icmp { u.icmp.0 } else { None },
        icmp_code: if icmp { u.icmp.1 } else { None },
        ports: None,
        port: u.ports.map(|_| u.key.clone()),
        traffic_type: Some(u.traffic.clone()),
        description: u.reason.clone(),
        uuids: Some(BTreeMap::from([(u.key, i.id.clone())])),
    }
}

/// Every item of ACL list `acl_id`; `None` when the list is gone.
async fn list_items(c: &Client, acl_id: &str) -> Result<Option<Vec<NetworkAclItem>>, OpError> {
    let list = find_by_id::<NetworkAclList>(c, "listNetworkACLLists", "networkacllist", acl_id);
    if list.await?.is_none() {
        return Ok(None);
    }
    let p = Params::new().with("aclid", acl_id).with("listall", "true");
    let listed = c
        .api
        .list_all::<NetworkAclItem>("listNetworkACLs", "networkacl", &p);
    bounded(c, c.timeout, listed).await.map(Some)
}

async fn create_item(c: &Client, acl_id: &str, u: &Unit) -> Result<NetworkAclItem, OpError> {
    let mut p = Params::new()
        .with("aclid", acl_id)
        .with("protocol", &u.protocol)
        .with("action", &u.action)
        .with("traffictype", &u.traffic);
    p.set_list("cidrlist", &u.cidrs);
    if let Some((s, e)) = u.ports {
        p.set("startport", s.to_string())
            .set("endport", e.to_string());
    }
    if u.protocol == "icmp" {
        p.set("icmptype", u.icmp.0.unwrap_or(-1).to_string())
            .set("icmpcode", u.icmp.1.unwrap_or(-1).to_string());
    }
    if let Some(n) = u.number {
        p.set("number", n.to_string());
    }
    p.set_opt("reason", u.reason.as_deref());
    let answer = bounded(c, c.timeout, c.api.request_async("createNetworkACL", &p)).await?;
    let item = answer.get("networkacl").cloned().unwrap_or(answer);
    serde_json::from_value(item).map_err(|e| {
        OpError::Api(cloudstack::Error::Decode {
            command: "createNetworkACL".into(),
            message: e.to_string(),
        })
    })
}

async fn delete_item(c: &Client, id: &str) -> Result<(), OpError> {
    let p = Params::new().with("id", id);
    match bounded(c, c.timeout, c.api.request_async("deleteNetworkACL", &p)).await {
        Err(e) if e.is_not_found() => Ok(()),
        other => other.map(|_| ()),
    }
}

/// The units of a state rule block with their item ids.
fn units_with_ids(r: &Rule) -> Vec<(Unit, String)> {
    let uuids = r.uuids.clone().unwrap_or_default();
    units_of(r)
        .into_iter()
        .filter_map(|u| uuids.get(&u.key).map(|id| (u.clone(), id.clone())))
        .collect()
}

/// Brings `plan` about from `prior` (the items that exist): deletes items
/// no longer wanted, creates missing ones, returns what exists afterwards.
async fn converge(
    c: &Client,
    prior: Vec<(Unit, String)>,
    plan: Model,
    diags: &mut Diagnostics,
) -> Model {
    let acl_id = plan.acl_id.clone().unwrap_or_default();
    let limit = jobs_in_flight(plan.parallelism);
    // (rule index, unit, existing item); delete first: a changed rule may
    // need its number free again
    let (mut wanted, doomed) = match_prior(
        &plan.rule,
        units_of,
        prior,
        |want, have| want.served_by(have),
        |have, id| NetworkAclItem {
            id: id.to_string(),
            number: have.number,
            icmptype: have.icmp.0,
            icmpcode: have.icmp.1,
            ..Default::default()
        },
    );
    let deleted = in_parallel(doomed, limit, |(u, id)| async move {
        let r = delete_item(c, &id).await;
        (u, id, r)
    })
    .await;
    let mut leftovers: Vec<Rule> = Vec::new();
    for (u, id, r) in deleted {
        if let Err(e) = r {
            diags.push(e.diagnostic(
                &format!("deleting ACL item {id} ({})", u.key),
                Some(attr!(Model, rule)),
                "update",
            ));
            leftovers.push(Rule {
                protocol: Some(u.protocol.clone()),
                action: Some(u.action.clone()),
                cidr_list: u.cidrs.clone(),
                traffic_type: Some(u.traffic.clone()),
                rule_number: u.number,
                port: u.ports.map(|_| u.key.clone()),
                description: u.reason.clone(),
                uuids: Some(BTreeMap::from([(u.key.clone(), id)])),
                ..Rule::default()
            });
        }
    }
    let todo = missing(&wanted);
    let acl = acl_id.as_str();
    let created = in_parallel(todo, limit, |(n, u)| async move {
        (n, create_item(c, acl, &u).await)
    })
    .await;
    for (n, r) in created {
        match r {
            Ok(item) => wanted[n].2 = Some(item),
            Err(e) => {
                let u = &wanted[n].1;
                diags.push(e.diagnostic(
                    &format!(
                        "creating the {} ACL item for {} (the items that were created are kept \
                         in the state; apply again to create the missing ones)",
                        u.protocol, u.key
                    ),
                    Some(attr!(Model, rule)),
                    "create",
                ));
            }
        }
    }
    let mut rules: Vec<Rule> = Vec::new();
    for (i, r) in plan.rule.iter().enumerate() {
        let done: Vec<&(usize, Unit, Option<NetworkAclItem>)> = wanted
            .iter()
            .filter(|(j, _, have)| *j == i && have.is_some())
            .collect();
        if done.is_empty() {
            continue;
        }
        let mut out = r.clone();
        let mut uuids = BTreeMap::new();
        for (_, u, have) in &done {
            if let Some(item) = have {
                uuids.insert(u.key.clone(), item.id.clone());
            }
        }
        let first = done.iter().find_map(|(_, _, h)| h.as_ref());
        if out.rule_number.is_none() {
            out.rule_number = first.and_then(|f| f.number);
        }
        if lower(&r.protocol, "") == "icmp" {
            out.icmp_type = out.icmp_type.or(first.and_then(|f| f.icmptype));
            out.icmp_code = out.icmp_code.or(first.and_then(|f| f.icmpcode));
        }
        out.uuids = Some(uuids);
        rules.push(out);
    }
    rules.extend(leftovers);
    Model {
        id: Some(acl_id),
        rule: rules,
        ..plan
    }
}

#[async_trait]
impl TypedResource for NetworkAclRule {
    type Model = Model;
    type View = View;

    fn type_name(&self) -> &'static str {
        "cloudstack_network_acl_rule"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, config: View, diags: &mut Diagnostics) {
        const RULE: &str = attr!(Model, rule);
        for r in config.rule.known().into_iter().flatten() {
            let proto = r.protocol.known().map(String::as_str);
            if let Some(p) = proto {
                if !PROTOCOLS.contains(&p.to_ascii_lowercase().as_str()) && p.parse::<u8>().is_err()
                {
                    diags.attribute_error(
                        RULE,
                        format!("{p:?} is not a valid protocol"),
                        "Use tcp, udp, icmp, all or a protocol number 0-255.",
                    );
                }
            }
            check_cidr_entries(known_elements(&r.cidr_list), RULE, diags);
            let mut entries = known_elements(&r.ports);
            entries.extend(r.port.known().map(String::as_str));
            check_port_entries(entries.iter().copied(), RULE, diags);
            if !entries.is_empty() && !matches!(proto, Some("tcp" | "udp")) {
                diags.attribute_error(
                    RULE,
                    "Ports only apply to tcp and udp",
                    "Remove port/ports or use protocol tcp or udp.",
                );
            }
            if entries.len() > 1 && r.rule_number.known().is_some() {
                diags.attribute_error(
                    RULE,
                    "A rule_number can number one item only",
                    "Give each port its own rule block with its own rule_number.",
                );
            }
            if let Some(n) = r.rule_number.known() {
                if !(1..=65535).contains(n) {
                    diags.attribute_error(
                        RULE,
                        format!("rule_number must be between 1 and 65535, got {n}"),
                        "ACL items are evaluated by ascending number.",
                    );
                }
            }
            for (attr, value, allowed) in [
                (attr!(RuleView, action), &r.action, ["allow", "deny"]),
                (
                    attr!(RuleView, traffic_type),
                    &r.traffic_type,
                    ["ingress", "egress"],
                ),
            ] {
                if let Some(v) = value.known() {
                    if !allowed.contains(&v.to_ascii_lowercase().as_str()) {
                        diags.attribute_error(
                            RULE,
                            format!("{attr} {v:?} is not valid"),
                            format!("Use {} or {}.", allowed[0], allowed[1]),
                        );
                    }
                }
            }
        }
    }

    /// A rule block that changes (or is new) gets new items: its `uuids`,
    /// and the computed fields it leaves to CloudStack, are known only
    /// after apply.
    async fn modify_plan(&self, plan: &mut Planning<'_, View>, _diags: &mut Diagnostics) {
        let rules_of =
            |v: Option<&View>| v.and_then(|v| v.rule.known().cloned()).unwrap_or_default();
        let prior_rules = rules_of(plan.prior.as_ref());
        let config_rules = rules_of(Some(&plan.config));
        let Field::Known(rules) = &mut plan.planned.rule else {
            return;
        };
        // what decides a block's items: all but `uuids`
        let items_of = |r: &RuleView| RuleView {
            uuids: Field::Null,
            ..r.clone()
        };
        for (i, rule) in rules.iter_mut().enumerate() {
            let config = config_rules.get(i);
            let same = prior_rules
                .get(i)
                .is_some_and(|p| items_of(p) == items_of(rule));
            if same {
                continue;
            }
            rule.uuids = Field::Unknown;
            let unset = |f: fn(&RuleView) -> bool| config.is_none_or(f);
            if unset(|c| c.rule_number.is_null()) {
                rule.rule_number = Field::Unknown;
            }
            if unset(|c| c.icmp_type.is_null()) {
                rule.icmp_type = Field::Unknown;
            }
            if unset(|c| c.icmp_code.is_null()) {
                rule.icmp_code = Field::Unknown;
            }
        }
    }

    async fn create(&self, cx: Ctx<'_>, plan: Model, diags: &mut Diagnostics) -> Option<Model> {
        Some(converge(cx.c, Vec::new(), plan, diags).await)
    }

    async fn read(&self, cx: Ctx<'_>, state: Model, diags: &mut Diagnostics) -> Option<Model> {
        let acl_id = state.acl_id.clone().or(state.id.clone())?;
        let items = match list_items(cx.c, &acl_id).await {
            Ok(Some(items)) => items,
            Ok(None) => return None,
            Err(e) => {
                diags.push(e.diagnostic(
                    &format!("listing the items of ACL {acl_id}"),
                    None,
                    "read",
                ));
                return None;
            }
        };
        let by_id: HashMap<&str, &NetworkAclItem> =
            items.iter().map(|i| (i.id.as_str(), i)).collect();
        let mut seen: HashSet<&str> = HashSet::new();
        let mut rules = Vec::new();
        for r in &state.rule {
            let mut uuids = BTreeMap::new();
            let mut ports = Vec::new();
            let mut first: Option<&NetworkAclItem> = None;
            for (key, id) in r.uuids.iter().flatten() {
                if let Some(item) = by_id.get(id.as_str()) {
                    seen.insert(item.id.as_str());
                    uuids.insert(key.clone(), id.clone());
                    if parse_port_range(key).is_some() {
                        ports.push(key.clone());
                    }
                    first.get_or_insert(item);
                }
            }
            let Some(item) = first else { continue };
            // what CloudStack says now, so changes behind Terraform's back show
            let now = rule_of_item(item);
            let mut out = r.clone();
            out.rule_number = now.rule_number;
            out.action = now.action;
            out.cidr_list = now.cidr_list;
            out.protocol = now.protocol;
            out.traffic_type = now.traffic_type;
            out.description = now.description;
            if out.protocol.as_deref() == Some("icmp") {
                out.icmp_type = now.icmp_type;
                out.icmp_code = now.icmp_code;
            }
            if r.ports.is_some() {
                out.ports = Some(ports);
            } else if r.port.is_some() {
                out.port = now.port;
            }
            out.uuids = Some(uuids);
            rules.push(out);
        }
        if state.managed == Some(true) {
            let mut extra: Vec<&NetworkAclItem> = items
                .iter()
                .filter(|i| !seen.contains(i.id.as_str()))
                .collect();
            extra.sort_by_key(|i| i.number);
            rules.extend(extra.into_iter().map(rule_of_item));
        }
        Some(Model {
            id: Some(acl_id.clone()),
            acl_id: Some(acl_id),
            rule: rules,
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
        let mut existing: Vec<(Unit, String)> =
            prior.rule.iter().flat_map(units_with_ids).collect();
        if plan.managed == Some(true) {
            // items nobody configured go too
            if let Some(acl) = plan.acl_id.as_deref() {
                if let Ok(Some(items)) = list_items(cx.c, acl).await {
                    let known: HashSet<String> =
                        existing.iter().map(|(_, id)| id.clone()).collect();
                    existing.extend(
                        items
                            .iter()
                            .filter(|i| !known.contains(&i.id))
                            .map(|i| (unit_of_item(i), i.id.clone())),
                    );
                }
            }
        }
        Some(converge(cx.c, existing, plan, diags).await)
    }

    async fn delete(&self, cx: Ctx<'_>, prior: Model, diags: &mut Diagnostics) {
        let ids: Vec<String> = prior
            .rule
            .iter()
            .flat_map(|r| r.uuids.clone().unwrap_or_default().into_values())
            .collect();
        let limit = jobs_in_flight(prior.parallelism);
        let c = cx.c;
        let results = in_parallel(ids, limit, |id| async move {
            let r = delete_item(c, &id).await;
            (id, r)
        })
        .await;
        for (id, r) in results {
            if let Err(e) = r {
                diags.push(e.diagnostic(&format!("deleting ACL item {id}"), None, "delete"));
            }
        }
    }

    /// `terraform import cloudstack_network_acl_rule.x <acl_id>` (or
    /// `<project>/<acl_id>`): every item of the list, `managed = true`, as
    /// the Go provider imports it.
    fn import(&self, import_id: &str) -> Vec<Value> {
        let (_, acl_id) = split_import_id(import_id);
        import_state(
            import_id,
            &[
                (attr!(Model, acl_id), Value::from(acl_id)),
                (attr!(Model, managed), Value::from(true)),
                (attr!(Model, parallelism), Value::from(DEFAULT_PARALLELISM)),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_become_items() {
        let r = Rule {
            protocol: Some("tcp".into()),
            cidr_list: vec!["0.0.0.0/0".into()],
            ports: Some(vec!["80".into(), "8000-8080".into()]),
            ..Rule::default()
        };
        let units = units_of(&r);
        assert_eq!(units.len(), 2);
        assert_eq!(units[1].ports, Some((8000, 8080)));
        assert_eq!(units[0].action, "allow");
        assert_eq!(units[0].traffic, "ingress");
        let any = Rule {
            protocol: Some("udp".into()),
            ..Rule::default()
        };
        assert_eq!(units_of(&any)[0].key, "all_ports");
        let item = NetworkAclItem {
            id: "i".into(),
            protocol: Some("tcp".into()),
            startport: Some("8000".into()),
            endport: Some("8080".into()),
            action: Some("Allow".into()),
            traffictype: Some("Ingress".into()),
            cidrlist: Some("0.0.0.0/0".into()),
            number: Some(2),
            ..Default::default()
        };
        let back = unit_of_item(&item);
        assert!(units[1].served_by(&back), "{:?} vs {back:?}", units[1]);
        assert_eq!(rule_of_item(&item).port.as_deref(), Some("8000-8080"));
    }
}
