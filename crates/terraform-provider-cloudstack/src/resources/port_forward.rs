//! `cloudstack_port_forward`: port forwarding rules of one public IP, as in
//! apache/cloudstack-terraform-provider: ID = `ip_address_id`, a set of
//! `forward` blocks {protocol, private_port, private_end_port, public_port,
//! public_end_port, virtual_machine_id, vm_guest_ip, uuid}, `managed`,
//! `project` (inherited from the IP when unset, and sent on reads: CloudStack
//! hides a project's rules from lists without it), import by IP address ID
//! (sets `managed = true`, like the Go provider).
//!
//! Rules are created concurrently (at most [`MAX_IN_FLIGHT`] jobs, no pauses)
//! with `openfirewall=false` (firewall rules are their own resource). A
//! partial failure returns exactly the rules that exist plus an error: on
//! update the next apply creates only the missing ones; on create Terraform
//! marks the resource tainted and replaces it.

use std::collections::{HashMap, HashSet};

use cloudstack::{api::CreatePortForwardingRule, model::PortForwardingRule, AcceptedLog, Params};
use serde::{Deserialize, Serialize};
use tfplugin5::{
    async_trait, model, model::Field, Attribute, AttributePath, Block, Diagnostic, Diagnostics,
    NestedBlock, Schema, Type, Value,
};

use crate::{
    attr,
    common::{bounded, default_network, split_import_id},
    kit::{Ctx, Planning, TypedResource},
    provider::Client,
    rule_set::{
        check_port_number, check_protocol, in_parallel, project_value, Scope, MAX_IN_FLIGHT,
    },
};

const PROTOCOLS: [&str; 2] = ["tcp", "udp"];

/// The block every diagnostic about a forward points at.
const FORWARD: &str = attr!(Model, forward);

/// `cloudstack_port_forward`.
#[derive(Debug, Default)]
pub(crate) struct PortForward;

/// One `forward` block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Forward {
    protocol: Field<String>,
    private_port: Field<i64>,
    private_end_port: Field<i64>,
    public_port: Field<i64>,
    public_end_port: Field<i64>,
    virtual_machine_id: Field<String>,
    vm_guest_ip: Field<String>,
    uuid: Field<String>,
}

/// The resource's value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Model {
    id: Field<String>,
    ip_address_id: Field<String>,
    managed: Field<bool>,
    project: Field<String>,
    forward: Field<Vec<Forward>>,
}

impl Model {
    fn forwards(&self) -> &[Forward] {
        self.forward.known().map_or(&[], Vec::as_slice)
    }
}

fn schema() -> Schema {
    let forward = Block::new()
        .attribute(Attribute::required("protocol", Type::String).description("tcp or udp."))
        .attribute(Attribute::required("private_port", Type::Number))
        .attribute(
            Attribute::optional_computed("private_end_port", Type::Number)
                .description("End of the private port range (defaults to private_port)."),
        )
        .attribute(Attribute::required("public_port", Type::Number))
        .attribute(
            Attribute::optional_computed("public_end_port", Type::Number)
                .description("End of the public port range (defaults to public_port)."),
        )
        .attribute(Attribute::required("virtual_machine_id", Type::String))
        .attribute(
            Attribute::optional("vm_guest_ip", Type::String)
                .description("Guest IP (NIC or secondary IP) to forward to."),
        )
        .attribute(Attribute::computed("uuid", Type::String).description("Rule ID."));
    Schema::new(
        Block::new()
            .attribute(Attribute::computed("id", Type::String))
            .attribute(
                Attribute::required("ip_address_id", Type::String)
                    .force_new()
                    .description("ID of the public IP address to forward from."),
            )
            .attribute(
                Attribute::optional("managed", Type::Bool)
                    .default(false)
                    .description("Delete forwards not in this configuration."),
            )
            .attribute(
                Attribute::optional_computed("project", Type::String)
                    .force_new()
                    .description("Project of the IP address (inherited from it when unset)."),
            )
            .block(NestedBlock::set(FORWARD, forward).min_items(1)),
    )
}

fn validate(config: &Model, diags: &mut Diagnostics) {
    for f in config.forwards() {
        check_protocol(
            f.protocol.known().map(String::as_str),
            &PROTOCOLS,
            FORWARD,
            diags,
        );
        let mut range = |start: (&str, &Field<i64>), end: (&str, &Field<i64>)| {
            let s = check_port_number(start.1.known().copied(), start.0, FORWARD, diags);
            let e = check_port_number(end.1.known().copied(), end.0, FORWARD, diags);
            if let (Some(s), Some(e)) = (s, e) {
                if e < s {
                    let (start, end) = (start.0, end.0);
                    diags.push(
                        Diagnostic::error(
                            format!("Invalid forward.{end}: {e} is below {start} {s}"),
                            format!(
                                "{end} ends the range that starts at {start}; make it {s} or more."
                            ),
                        )
                        .at(AttributePath::attr(FORWARD)),
                    );
                }
            }
        };
        range(
            (attr!(Forward, private_port), &f.private_port),
            (attr!(Forward, private_end_port), &f.private_end_port),
        );
        range(
            (attr!(Forward, public_port), &f.public_port),
            (attr!(Forward, public_end_port), &f.public_end_port),
        );
    }
}

/// One forwarding rule as a `forward` element describes it.
#[derive(Debug, Clone, PartialEq)]
struct Fwd {
    protocol: String,
    private: u16,
    private_end: Option<u16>,
    public: u16,
    public_end: Option<u16>,
    vm: String,
    guest_ip: Option<String>,
}

fn port_of(v: &Field<i64>) -> Option<u16> {
    v.known().and_then(|n| u16::try_from(*n).ok())
}

impl Fwd {
    fn of(v: &Forward) -> Option<Fwd> {
        Some(Fwd {
            protocol: v.protocol.known()?.clone(),
            private: port_of(&v.private_port)?,
            private_end: port_of(&v.private_end_port),
            public: port_of(&v.public_port)?,
            public_end: port_of(&v.public_end_port),
            vm: v.virtual_machine_id.known()?.clone(),
            guest_ip: v.vm_guest_ip.known().cloned(),
        })
    }

    /// Whether the existing rule `p` is this wanted one (unset end ports and
    /// guest IP match anything).
    fn served_by(&self, p: &Fwd) -> bool {
        self.protocol == p.protocol
            && self.private == p.private
            && self.public == p.public
            && self.vm == p.vm
            && (self.private_end.is_none() || self.private_end == p.private_end)
            && (self.public_end.is_none() || self.public_end == p.public_end)
            && (self.guest_ip.is_none() || self.guest_ip == p.guest_ip)
    }
}

fn api_port(s: &Option<String>) -> Option<i64> {
    s.as_deref().and_then(|x| x.trim().parse().ok())
}

/// Writes what CloudStack reports into a forward element.
fn refresh(elem: &mut Forward, r: &PortForwardingRule) {
    elem.uuid = Field::Known(r.id.clone());
    if let Some(p) = &r.protocol {
        elem.protocol = Field::Known(p.to_ascii_lowercase());
    }
    for (field, v) in [
        (&mut elem.private_port, &r.privateport),
        (&mut elem.private_end_port, &r.privateendport),
        (&mut elem.public_port, &r.publicport),
        (&mut elem.public_end_port, &r.publicendport),
    ] {
        if let Some(n) = api_port(v) {
            *field = Field::Known(n);
        }
    }
    if let Some(vm) = &r.virtualmachineid {
        elem.virtual_machine_id = Field::Known(vm.clone());
    }
    // optional only: reported back only when configured, else it would diff
    if !elem.vm_guest_ip.is_null() {
        if let Some(ip) = &r.vmguestip {
            elem.vm_guest_ip = Field::Known(ip.clone());
        }
    }
}

/// A forward element for a rule this configuration does not know.
fn orphan(r: &PortForwardingRule) -> Forward {
    let mut v = Forward::default();
    refresh(&mut v, r);
    v
}

/// Nothing unknown left in an element (what a state must hold).
fn settled(mut f: Forward) -> Forward {
    for n in [
        &mut f.private_port,
        &mut f.private_end_port,
        &mut f.public_port,
        &mut f.public_end_port,
    ] {
        if n.is_unknown() {
            *n = Field::Null;
        }
    }
    for s in [
        &mut f.protocol,
        &mut f.virtual_machine_id,
        &mut f.vm_guest_ip,
        &mut f.uuid,
    ] {
        if s.is_unknown() {
            *s = Field::Null;
        }
    }
    f
}

async fn create_one(
    c: &Client,
    client: &cloudstack::Client,
    ip_id: &str,
    f: &Fwd,
) -> Result<PortForwardingRule, cloudstack::Error> {
    let mut extra = Params::new();
    if let Some(e) = f.private_end {
        extra.set("privateendport", e.to_string());
    }
    if let Some(e) = f.public_end {
        extra.set("publicendport", e.to_string());
    }
    if let Some(ip) = &f.guest_ip {
        extra.set("vmguestip", ip.as_str());
    }
    // the VM's network, as the Go provider sends it: a VPC address is on no
    // network until its first rule names the tier
    match &f.guest_ip {
        Some(g) => {
            if let Ok(Some(vm)) = client.get_virtual_machine(&f.vm).await {
                let nic = vm
                    .nic
                    .iter()
                    .find(|n| n.ipaddress.as_deref() == Some(g.as_str()));
                extra.set_opt("networkid", nic.and_then(|n| n.networkid.as_deref()));
            }
        }
        None => {
            extra.set_opt("networkid", default_network(c, client, &f.vm).await);
        }
    }
    client
        .create_port_forwarding_rule(&CreatePortForwardingRule {
            ip_address_id: ip_id.to_string(),
            protocol: f.protocol.clone(),
            private_port: f.private,
            public_port: f.public,
            virtual_machine_id: f.vm.clone(),
            open_firewall: Some(false),
            cidr_list: Vec::new(),
            extra,
        })
        .await
}

async fn delete_one(client: &cloudstack::Client, id: &str) -> Result<(), cloudstack::Error> {
    match client.delete_port_forwarding_rule(id).await {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

fn describe(f: &Fwd) -> String {
    format!("{} {} -> {}:{}", f.protocol, f.public, f.vm, f.private)
}

/// Deletes unwanted forwards, creates missing ones, returns what exists.
async fn converge(c: &Client, prior: &[Forward], planned: Model, diags: &mut Diagnostics) -> Model {
    let Some(ip_id) = planned.ip_address_id.known().cloned() else {
        diags.push(
            Diagnostic::error(
                "ip_address_id is unknown at apply time",
                "This is a provider or Terraform bug.",
            )
            .at(AttributePath::attr(attr!(Model, ip_address_id))),
        );
        return Model::default();
    };
    let client = &c.api;
    c.refresh.clear();
    let existing: Vec<(Fwd, String, Forward)> = prior
        .iter()
        .filter_map(|e| Some((Fwd::of(e)?, e.uuid.known()?.clone(), e.clone())))
        .collect();
    let mut used: HashSet<String> = HashSet::new();
    // (planned element, wanted rule, state element once it exists)
    let mut wanted: Vec<(Forward, Option<Fwd>, Option<Forward>)> = Vec::new();
    for elem in planned.forwards() {
        let Some(f) = Fwd::of(elem) else {
            diags.push(
                Diagnostic::error(
                    "A forward block is incomplete at apply time",
                    "protocol, private_port, public_port and virtual_machine_id must be known.",
                )
                .at(AttributePath::attr(FORWARD)),
            );
            wanted.push((elem.clone(), None, None));
            continue;
        };
        let reuse = existing
            .iter()
            .find(|(p, id, _)| !used.contains(id) && f.served_by(p))
            .map(|(_, id, state)| {
                used.insert(id.clone());
                Forward {
                    uuid: state.uuid.clone(),
                    private_end_port: state.private_end_port.clone(),
                    public_end_port: state.public_end_port.clone(),
                    ..elem.clone()
                }
            });
        wanted.push((elem.clone(), Some(f), reuse));
    }
    let doomed: Vec<(Fwd, String, Forward)> = existing
        .into_iter()
        .filter(|(_, id, _)| !used.contains(id))
        .collect();
    let deleted = in_parallel(doomed, MAX_IN_FLIGHT, |(f, id, state)| async move {
        let r = bounded(c, c.timeout, delete_one(client, &id)).await;
        (f, id, state, r)
    })
    .await;
    let mut leftovers = Vec::new();
    for (f, id, state, r) in deleted {
        if let Err(e) = r {
            diags.push(
                e.diagnostic(
                    &format!("deleting port forward {} ({id})", describe(&f)),
                    None,
                    "update",
                )
                .at(AttributePath::attr(FORWARD)),
            );
            leftovers.push(state);
        }
    }
    let todo: Vec<(usize, Fwd)> = wanted
        .iter()
        .enumerate()
        .filter_map(|(n, (_, f, done))| match (f, done) {
            (Some(f), None) => Some((n, f.clone())),
            _ => None,
        })
        .collect();
    let ip_ref = ip_id.as_str();
    let created = in_parallel(todo, MAX_IN_FLIGHT, |(n, f)| async move {
        // a forward CloudStack accepted is kept in state even if its job's answer is lost
        let accepted = AcceptedLog::new();
        let recording = client.recording_accepted(&accepted);
        let r = bounded(c, c.timeout, create_one(c, &recording, ip_ref, &f)).await;
        (n, f, r, accepted.last_id("createPortForwardingRule"))
    })
    .await;
    for (n, f, r, accepted) in created {
        let e = match r {
            Ok(rule) => {
                let mut s = wanted[n].0.clone();
                refresh(&mut s, &rule);
                wanted[n].2 = Some(s);
                continue;
            }
            Err(e) => e,
        };
        let kept = match accepted {
            Some(id) => {
                let mut s = wanted[n].0.clone();
                s.uuid = Field::Known(id.clone());
                wanted[n].2 = Some(s);
                format!(
                    " CloudStack accepted this forward as {id}; it is kept in the state too, \
                     and the next refresh drops it if it does not exist."
                )
            }
            None => String::new(),
        };
        let mut d = e
            .diagnostic(
                &format!("creating port forward {}", describe(&f)),
                None,
                "create",
            )
            .at(AttributePath::attr(FORWARD));
        d.detail.push_str(&format!(
            "\n\nThe forwards that were created are kept in the state; apply again to create \
             the missing ones.{kept}"
        ));
        diags.push(d);
    }
    c.refresh.clear();
    let mut forwards: Vec<Forward> = wanted
        .into_iter()
        .filter_map(|(_, _, s)| s.map(settled))
        .collect();
    forwards.extend(leftovers);
    Model {
        id: Field::Known(ip_id),
        forward: Field::Known(forwards),
        ..planned
    }
}

/// Reads the forwards of the state back (see the module docs); `None` when
/// gone, or after an error (the kit keeps the state then).
async fn read(c: &Client, state: Model, diags: &mut Diagnostics) -> Option<Model> {
    let ip_id = state
        .ip_address_id
        .non_empty()
        .or(state.id.non_empty())?
        .to_string();
    let owner = Scope::IpAddress
        .owner(c, &ip_id, state.project.non_empty(), false, diags)
        .await
        .ok()?;
    let mut params = Params::new()
        .with("ipaddressid", ip_id.as_str())
        .with("listall", "true");
    params.set_opt("projectid", owner.as_ref().map(|o| o.id.as_str()));
    let listed = c
        .refresh
        .listing(&format!("{params:?}"), || {
            bounded(c, c.timeout, c.api.list_port_forwarding_rules(&params))
        })
        .await;
    let listed = match listed {
        Ok(l) => l,
        Err(e) if e.is_not_found() => return None,
        Err(e) => {
            diags.push(e.diagnostic(
                &format!("listing the port forwards of IP {ip_id}"),
                None,
                "read",
            ));
            return None;
        }
    };
    let by_id: HashMap<&str, &PortForwardingRule> =
        listed.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut forwards = Vec::new();
    for e in state.forwards() {
        let Some(r) = e.uuid.known().and_then(|id| by_id.get(id.as_str())) else {
            continue; // deleted behind our back: plan creates it again
        };
        seen.insert(r.id.as_str());
        let mut e = e.clone();
        refresh(&mut e, r);
        forwards.push(e);
    }
    let managed = state.managed.known() == Some(&true);
    if managed {
        forwards.extend(
            listed
                .iter()
                .filter(|r| !seen.contains(r.id.as_str()))
                .map(orphan),
        );
    }
    let owner_id = owner.as_ref().map(|o| o.id.as_str());
    if forwards.is_empty() && (!managed || !Scope::IpAddress.exists(c, &ip_id, owner_id).await) {
        return None;
    }
    Some(Model {
        id: Field::Known(ip_id.clone()),
        ip_address_id: Field::Known(ip_id),
        managed: Field::Known(managed),
        project: project_value(&state.project, owner.as_ref()),
        forward: Field::Known(forwards),
    })
}

#[async_trait]
impl TypedResource for PortForward {
    type Model = Model;
    type View = Model;

    fn type_name(&self) -> &'static str {
        "cloudstack_port_forward"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, config: Model, diags: &mut Diagnostics) {
        validate(&config, diags);
    }

    async fn modify_plan(&self, plan: &mut Planning<'_, Model>, _diags: &mut Diagnostics) {
        let creating = plan.prior.is_none();
        let prior = plan.prior.clone().unwrap_or_default();
        let planned = &mut plan.planned;
        if creating {
            planned.id = planned.ip_address_id.clone();
        }
        // a planned element keeps a uuid only when a prior element with that
        // uuid serves it exactly; otherwise the rule is (re)created
        let prior: Vec<(Fwd, String)> = prior
            .forwards()
            .iter()
            .filter_map(|e| Some((Fwd::of(e)?, e.uuid.known()?.clone())))
            .collect();
        if let Field::Known(items) = &mut planned.forward {
            for e in items.iter_mut() {
                if let (Some(f), Some(id)) = (Fwd::of(e), e.uuid.known()) {
                    if prior.iter().any(|(p, pid)| pid == id && f.served_by(p)) {
                        continue;
                    }
                }
                e.uuid = Field::Unknown;
            }
        }
    }

    async fn create(&self, cx: Ctx<'_>, mut plan: Model, diags: &mut Diagnostics) -> Option<Model> {
        // like the Go provider: the project is inherited from the IP address
        let ip_id = plan.ip_address_id.known().cloned().unwrap_or_default();
        let owner = Scope::IpAddress
            .owner(cx.c, &ip_id, plan.project.non_empty(), true, diags)
            .await
            .ok()?;
        plan.project = project_value(&plan.project, owner.as_ref());
        let state = converge(cx.c, &[], plan, diags).await;
        if diags.has_errors() && state.forwards().is_empty() {
            return None;
        }
        Some(state)
    }

    async fn read(&self, cx: Ctx<'_>, state: Model, diags: &mut Diagnostics) -> Option<Model> {
        read(cx.c, state, diags).await
    }

    async fn update(
        &self,
        cx: Ctx<'_>,
        prior: Model,
        mut plan: Model,
        diags: &mut Diagnostics,
    ) -> Option<Model> {
        if !matches!(plan.project, Field::Known(_)) {
            plan.project = prior.project.clone();
        }
        Some(converge(cx.c, prior.forwards(), plan, diags).await)
    }

    async fn delete(&self, cx: Ctx<'_>, prior: Model, diags: &mut Diagnostics) {
        let c = cx.c;
        let ids: Vec<String> = prior
            .forwards()
            .iter()
            .filter_map(|e| e.uuid.known().cloned())
            .collect();
        c.refresh.clear();
        let results = in_parallel(ids, MAX_IN_FLIGHT, |id| async move {
            let r = bounded(c, c.timeout, delete_one(&c.api, &id)).await;
            (id, r)
        })
        .await;
        c.refresh.clear();
        for (id, r) in results {
            if let Err(e) = r {
                diags.push(e.diagnostic(&format!("deleting port forward {id}"), None, "delete"));
            }
        }
    }

    /// `<ip id>` or `<project>/<ip id>`; sets `managed` like the Go provider.
    fn import(&self, import_id: &str) -> Vec<Value> {
        let (project, id) = split_import_id(import_id);
        let m = Model {
            id: Field::Known(id.to_string()),
            ip_address_id: Field::Known(id.to_string()),
            managed: Field::Known(true),
            project: project.map(str::to_string).into(),
            forward: Field::Null,
        };
        model::to_value(&m, &schema().value_type())
            .map(|v| vec![v])
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        common::testenv::{calls, with_vm_and_ip},
        kit::Typed,
    };
    use tfplugin5::PlanRequest;
    use tfplugin5::Resource;

    fn validate(config: &Value, diags: &mut Diagnostics) {
        super::validate(&model::from_value(config).unwrap(), diags);
    }

    fn fwd(public: i64, private: i64, vm: &str) -> Value {
        Value::object([
            ("protocol", Value::from("tcp")),
            ("private_port", Value::from(private)),
            ("private_end_port", Value::Unknown),
            ("public_port", Value::from(public)),
            ("public_end_port", Value::Unknown),
            ("virtual_machine_id", Value::from(vm)),
            ("vm_guest_ip", Value::Null),
            ("uuid", Value::Unknown),
        ])
    }

    fn planned(ip: &str, forwards: Vec<Value>) -> Value {
        Value::object([
            ("id", Value::from(ip)),
            ("ip_address_id", Value::from(ip)),
            ("managed", Value::from(false)),
            ("project", Value::Unknown),
            ("forward", Value::Set(forwards)),
        ])
    }

    #[test]
    fn validation() {
        let mut bad = fwd(70000, 22, "vm");
        bad.set_attr("protocol", "icmp");
        bad.set_attr("private_end_port", 20i64);
        let mut d = Diagnostics::default();
        validate(&planned("ip", vec![bad, fwd(0, 22, "vm")]), &mut d);
        let summaries: Vec<&str> = d.0.iter().map(|x| x.summary.as_str()).collect();
        assert_eq!(
            summaries,
            vec![
                "Invalid forward.protocol: \"icmp\" is not a valid protocol",
                "Invalid forward.private_end_port: 20 is below private_port 22",
                "Invalid forward.public_port: 70000 is out of range",
                "Invalid forward.public_port: 0 is out of range",
            ]
        );
        assert!(d.0[2].detail.contains("1 to 65535"));
        assert_eq!(d.0[0].attribute, Some(AttributePath::attr("forward")));
        let mut d = Diagnostics::default();
        validate(&planned("ip", vec![fwd(2222, 22, "vm")]), &mut d);
        assert!(d.is_empty());
    }

    #[tokio::test]
    async fn lifecycle_partial_failure_and_drift() {
        let (env, vm, ip) = with_vm_and_ip(Default::default()).await;
        let r = Typed(PortForward);
        // the second forward names a VM that does not exist: it fails alone
        let plan = planned(
            &ip,
            vec![
                fwd(1222, 22, &vm),
                fwd(1223, 22, "0b3c7a3e-0000-4000-8000-00000000dead"),
                fwd(8080, 8080, &vm),
            ],
        );
        let mut d = Diagnostics::default();
        let state = Resource::create(&r, &env.client, &plan, &mut d).await;
        assert!(d.has_errors());
        assert!(d.0[0].summary.contains("tcp 1223"), "{d:?}");
        assert_eq!(state.get_slice("forward").len(), 2);
        assert!(
            tfplugin5::plan::unknown_paths(&state).is_empty(),
            "{state:?}"
        );
        let e = &state.get_slice("forward")[0];
        assert_eq!(e.get_i64("private_end_port"), Some(22));
        // openfirewall=false: no firewall rule was made for us
        assert_eq!(calls(&env.sim, "createFirewallRule"), 0);
        assert!(env
            .client
            .api
            .list_firewall_rules(&Params::new().with("ipaddressid", &ip))
            .await
            .unwrap()
            .is_empty());

        // read is stable, then drift: one rule deleted behind our back
        let mut d = Diagnostics::default();
        assert_eq!(Resource::read(&r, &env.client, &state, &mut d).await, state);
        let gone = state
            .get_slice("forward")
            .iter()
            .find(|e| e.get_i64("public_port") == Some(8080))
            .unwrap()
            .get_str("uuid")
            .unwrap()
            .to_string();
        env.client
            .api
            .delete_port_forwarding_rule(&gone)
            .await
            .unwrap();
        env.client.refresh.clear(); // a new Terraform walk
        let read = Resource::read(&r, &env.client, &state, &mut d).await;
        assert_eq!(read.get_slice("forward").len(), 1);

        // update: back to 8080, plus 1224; 1222 is kept as is
        let next = planned(
            &ip,
            vec![fwd(1222, 22, &vm), fwd(1224, 22, &vm), fwd(8080, 8080, &vm)],
        );
        let mut planned_v = next.clone();
        // what the generic plan does for the kept element: prior values back
        if let Value::Set(items) = planned_v.get("forward").clone() {
            let kept = read.get_slice("forward")[0].clone();
            let items: Vec<Value> = items
                .into_iter()
                .map(|e| {
                    if e.get_i64("public_port") == Some(1222) {
                        kept.clone()
                    } else {
                        e
                    }
                })
                .collect();
            planned_v.set_attr("forward", Value::Set(items));
        }
        let mut rr = Vec::new();
        Resource::<Client>::modify_plan(
            &r,
            PlanRequest {
                prior: &read,
                config: &next,
                planned: &mut planned_v,
                requires_replace: &mut rr,
            },
            &mut d,
        )
        .await;
        let kept_uuid = read.get_slice("forward")[0]
            .get_str("uuid")
            .unwrap()
            .to_string();
        assert!(planned_v
            .get_slice("forward")
            .iter()
            .any(|e| e.get_str("uuid") == Some(kept_uuid.as_str())));
        let before = calls(&env.sim, "createPortForwardingRule");
        let updated = Resource::update(&r, &env.client, &read, &planned_v, &mut d).await;
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(calls(&env.sim, "createPortForwardingRule") - before, 2);
        assert_eq!(updated.get_slice("forward").len(), 3);

        // managed import sees all three; delete removes them
        let imported = Resource::import(&r, &env.client, &ip, &mut d).await;
        let all = Resource::read(&r, &env.client, &imported[0], &mut d).await;
        assert_eq!(all.get_slice("forward").len(), 3);
        Resource::delete(&r, &env.client, &updated, &mut d).await;
        assert!(d.is_empty(), "{d:?}");
        assert!(Resource::read(&r, &env.client, &updated, &mut d)
            .await
            .is_null());

        // the IP itself released behind our back: a managed resource is gone too
        env.client.api.disassociate_ip_address(&ip).await.unwrap();
        env.client.refresh.clear();
        let mut d = Diagnostics::default();
        assert!(Resource::read(&r, &env.client, &all, &mut d)
            .await
            .is_null());
        assert!(d.is_empty(), "{d:?}");
    }

    #[tokio::test]
    async fn forwards_are_created_concurrently() {
        let mut options = cloudstack_sim::Options::default();
        options
            .job_latency
            .apply("createPortForwardingRule=400")
            .unwrap();
        let (env, vm, ip) = with_vm_and_ip(options).await;
        let forwards: Vec<Value> = (0..10).map(|i| fwd(3000 + i, 22, &vm)).collect();
        let started = std::time::Instant::now();
        let mut d = Diagnostics::default();
        let state = Resource::create(
            &Typed(PortForward),
            &env.client,
            &planned(&ip, forwards),
            &mut d,
        )
        .await;
        let took = started.elapsed();
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(state.get_slice("forward").len(), 10);
        // one after the other would take 10 x 400 ms
        assert!(took < std::time::Duration::from_millis(2500), "{took:?}");
    }

    #[tokio::test]
    async fn stop_interrupts_waiting_jobs() {
        let mut options = cloudstack_sim::Options::default();
        options
            .job_latency
            .apply("createPortForwardingRule=5000")
            .unwrap();
        let (env, vm, ip) = with_vm_and_ip(options).await;
        let stop = env.client.stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            stop.cancel();
        });
        let started = std::time::Instant::now();
        let mut d = Diagnostics::default();
        let plan = planned(&ip, vec![fwd(1222, 22, &vm)]);
        let state = Resource::create(&Typed(PortForward), &env.client, &plan, &mut d).await;
        assert!(started.elapsed() < std::time::Duration::from_secs(3));
        assert!(d.0[0].summary.contains("Interrupted"), "{d:?}");
        // CloudStack had accepted the rule: it stays in state (Terraform taints the
        // resource), so neither a duplicate nor an orphan follows.
        let kept = state.get_slice("forward");
        assert_eq!(kept.len(), 1, "{state:?}");
        let rules = env.sim.world().port_forwarding_rules;
        assert_eq!(rules.len(), 1);
        assert_eq!(kept[0].get_str("uuid"), Some(rules[0].id.as_str()));
        assert!(d.0[0].detail.contains("accepted"), "{d:?}");
    }
}
