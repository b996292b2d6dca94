//! `cloudstack_loadbalancer_rule`: a load balancer rule on a public IP and
//! its member VMs (Go provider schema: name, description, algorithm and
//! members change in place; ports, IP, network, protocol and CIDRs replace
//! it).

use std::collections::BTreeSet;

use cloudstack::{model::LoadBalancerRule, Params};
use serde::{Deserialize, Serialize};
use tfplugin5::{async_trait, model::Field, Attribute, Block, Diagnostics, Schema, Type};

use crate::{
    attr,
    common::{attr_in_text, bounded, find_by_id, keep_spelling, OpError},
    kit::{Ctx, TypedResource},
    provider::Client,
};

const ALGORITHMS: [&str; 3] = ["roundrobin", "leastconn", "source"];

/// The `cloudstack_loadbalancer_rule` resource.
#[derive(Debug)]
pub struct LoadBalancerRuleResource;

/// The resource's value.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Model {
    id: Option<String>,
    name: Option<String>,
    description: Option<String>,
    ip_address_id: Option<String>,
    network_id: Option<String>,
    algorithm: Option<String>,
    certificate_id: Option<String>,
    private_port: Option<i64>,
    public_port: Option<i64>,
    protocol: Option<String>,
    member_ids: Vec<String>,
    cidrlist: Option<Vec<String>>,
    project: Option<String>,
}

/// What the plan-time checks read (see [`crate::kit`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct View {
    algorithm: Field<String>,
    private_port: Field<i64>,
    public_port: Field<i64>,
}

fn schema() -> Schema {
    Schema::new(
        Block::new()
            .attribute(Attribute::computed("id", Type::String))
            .attribute(Attribute::required("name", Type::String))
            .attribute(Attribute::optional_computed("description", Type::String))
            .attribute(Attribute::required("ip_address_id", Type::String).force_new())
            .attribute(Attribute::optional("network_id", Type::String).force_new())
            .attribute(Attribute::required("algorithm", Type::String))
            .attribute(Attribute::optional("certificate_id", Type::String))
            .attribute(Attribute::required("private_port", Type::Number).force_new())
            .attribute(Attribute::required("public_port", Type::Number).force_new())
            .attribute(Attribute::optional_computed("protocol", Type::String).force_new())
            .attribute(Attribute::required("member_ids", Type::set(Type::String)))
            .attribute(Attribute::optional("cidrlist", Type::set(Type::String)).force_new())
            .attribute(Attribute::optional_computed("project", Type::String).force_new()),
    )
}

/// The rule by id in the account or any project; `None` when gone.
async fn find_rule(c: &Client, id: &str) -> Result<Option<LoadBalancerRule>, OpError> {
    find_by_id(c, "listLoadBalancerRules", "loadbalancerrule", id).await
}

async fn members(c: &Client, id: &str) -> Result<Vec<String>, OpError> {
    let p = Params::new().with("id", id);
    let listed = c.api.list_all_values(
        "listLoadBalancerRuleInstances",
        "loadbalancerruleinstance",
        &p,
    );
    let vms = bounded(c, c.timeout, listed).await?;
    Ok(vms
        .iter()
        .filter_map(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_string))
        .collect())
}

/// Adds (`assignToLoadBalancerRule`) or removes members.
async fn change_members(c: &Client, id: &str, vms: &[String], add: bool) -> Result<(), OpError> {
    if vms.is_empty() {
        return Ok(());
    }
    let mut p = Params::new().with("id", id);
    p.set_list("virtualmachineids", vms);
    let command = if add {
        "assignToLoadBalancerRule"
    } else {
        "removeFromLoadBalancerRule"
    };
    bounded(c, c.timeout, c.api.request_async(command, &p))
        .await
        .map(|_| ())
}

fn port(s: &Option<String>) -> Option<i64> {
    s.as_deref().and_then(|p| p.trim().parse().ok())
}

/// `m` brought up to date from CloudStack (`network_id` and `cidrlist` only
/// when the configuration has them, like the Go provider).
fn fill(mut m: Model, r: &LoadBalancerRule, member_ids: Vec<String>) -> Model {
    // an imported state has no name yet: take the network (VPC rules need it)
    let imported = m.name.is_none();
    m.id = Some(r.id.clone());
    m.name = r.name.clone();
    m.description = r.description.clone();
    m.ip_address_id = r.publicipid.clone().or(m.ip_address_id);
    m.algorithm = r.algorithm.clone();
    m.private_port = port(&r.privateport).or(m.private_port);
    m.public_port = port(&r.publicport).or(m.public_port);
    m.protocol = r.protocol.clone();
    if m.network_id.is_some() || imported {
        m.network_id = r.networkid.clone();
    }
    if m.cidrlist.is_some() {
        m.cidrlist = r.cidrlist.as_deref().map(|l| {
            l.split(|c: char| c == ',' || c.is_whitespace())
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        });
    }
    if let Some(pid) = &r.projectid {
        m.project = keep_spelling(m.project.as_deref(), r.project.as_deref(), pid)
            .as_str()
            .map(str::to_string);
    }
    m.member_ids = member_ids;
    m
}

#[async_trait]
impl TypedResource for LoadBalancerRuleResource {
    fn create_command(&self) -> Option<&'static str> {
        Some("createLoadBalancerRule")
    }

    type Model = Model;

    type View = View;

    fn type_name(&self) -> &'static str {
        "cloudstack_loadbalancer_rule"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, config: View, diags: &mut Diagnostics) {
        if let Some(a) = config.algorithm.known() {
            if !ALGORITHMS.contains(&a.as_str()) {
                diags.attribute_error(
                    attr!(Model, algorithm),
                    format!("{a:?} is not a load balancing algorithm"),
                    "Use roundrobin, leastconn or source.",
                );
            }
        }
        for (attr, port) in [
            (attr!(Model, private_port), &config.private_port),
            (attr!(Model, public_port), &config.public_port),
        ] {
            if let Some(p) = port.known() {
                if !(1..=65535).contains(p) {
                    diags.attribute_error(
                        attr,
                        format!("{attr} {p} is not a port"),
                        "Use 1-65535.",
                    );
                }
            }
        }
    }

    async fn create(&self, cx: Ctx<'_>, plan: Model, diags: &mut Diagnostics) -> Option<Model> {
        let c = cx.c;
        let name = plan.name.clone().unwrap_or_default();
        let ip = plan.ip_address_id.clone().unwrap_or_default();
        let public_port = plan.public_port.unwrap_or_default().to_string();
        let mut p = Params::new()
            .with("name", &name)
            .with("algorithm", plan.algorithm.as_deref().unwrap_or_default())
            .with(
                "privateport",
                plan.private_port.unwrap_or_default().to_string(),
            )
            .with("publicport", &public_port)
            .with("publicipid", &ip)
            .with("openfirewall", "false")
            .with(
                "description",
                plan.description
                    .as_deref()
                    .filter(|d| !d.is_empty())
                    .unwrap_or(&name),
            );
        p.set_opt("networkid", plan.network_id.as_deref());
        p.set_opt(
            "protocol",
            plan.protocol.as_deref().filter(|d| !d.is_empty()),
        );
        if let Some(cidrs) = plan.cidrlist.as_ref().filter(|l| !l.is_empty()) {
            p.set_list("cidrlist", cidrs);
        }
        // a lost answer is recovered by finding the rule on this IP and port
        let lookup = || {
            let q = Params::new()
                .with("publicipid", &ip)
                .with("listall", "true");
            let (api, port) = (c.api.clone(), public_port.clone());
            async move {
                let all = api
                    .list_all_values("listLoadBalancerRules", "loadbalancerrule", &q)
                    .await?;
                Ok(all
                    .into_iter()
                    .find(|r| r.get("publicport").and_then(|v| v.as_str()) == Some(port.as_str())))
            }
        };
        let created =
            c.api
                .create_with_recovery("createLoadBalancerRule", &p, Some("loadbalancer"), lookup);
        let rule: LoadBalancerRule = match bounded(c, c.timeout, created).await.and_then(|v| {
            serde_json::from_value(v).map_err(|e| {
                OpError::Api(cloudstack::Error::Decode {
                    command: "createLoadBalancerRule".into(),
                    message: e.to_string(),
                })
            })
        }) {
            Ok(r) => r,
            Err(e) => {
                let attr = attr_in_text(
                    &e,
                    &[
                        ("algorithm", attr!(Model, algorithm)),
                        ("conflicts", attr!(Model, public_port)),
                        ("networkid", attr!(Model, network_id)),
                        ("network", attr!(Model, network_id)),
                    ],
                )
                .or(Some(attr!(Model, ip_address_id)));
                diags.push(e.diagnostic(
                    &format!("creating load balancer rule {name}"),
                    attr,
                    "create",
                ));
                return None;
            }
        };
        let wanted = plan.member_ids.clone();
        let mut state = fill(plan.clone(), &rule, Vec::new());
        if let Some(cert) = plan.certificate_id.as_deref().filter(|c| !c.is_empty()) {
            let cp = Params::new()
                .with("certid", cert)
                .with("lbruleid", &rule.id);
            if let Err(e) = bounded(
                c,
                c.timeout,
                c.api.request_async("assignCertToLoadBalancer", &cp),
            )
            .await
            {
                state.certificate_id = None;
                diags.push(e.diagnostic(
                    "assigning the certificate",
                    Some(attr!(Model, certificate_id)),
                    "create",
                ));
                return Some(state);
            }
        }
        if let Err(e) = change_members(c, &rule.id, &wanted, true).await {
            diags.push(e.diagnostic(
                "assigning the members",
                Some(attr!(Model, member_ids)),
                "create",
            ));
            return Some(state);
        }
        state.member_ids = wanted;
        Some(state)
    }

    async fn read(&self, cx: Ctx<'_>, state: Model, diags: &mut Diagnostics) -> Option<Model> {
        let id = state.id.clone()?;
        let looked_up = match find_rule(cx.c, &id).await {
            Ok(Some(r)) => members(cx.c, &id).await.map(|m| (r, m)),
            Ok(None) => return None,
            Err(e) => Err(e),
        };
        match looked_up {
            Ok((r, m)) => Some(fill(state, &r, m)),
            Err(e) => {
                diags.push(e.diagnostic(&format!("reading load balancer rule {id}"), None, "read"));
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
        if plan.name != prior.name
            || plan.description != prior.description
            || plan.algorithm != prior.algorithm
        {
            let mut p = Params::new().with("id", &id);
            p.set_opt("name", plan.name.as_deref());
            p.set_opt(
                "description",
                plan.description.as_deref().or(plan.name.as_deref()),
            );
            p.set_opt("algorithm", plan.algorithm.as_deref());
            if let Err(e) = bounded(
                c,
                c.timeout,
                c.api.request_async("updateLoadBalancerRule", &p),
            )
            .await
            {
                diags.push(e.diagnostic(
                    &format!("updating load balancer rule {id}"),
                    Some(attr!(Model, algorithm)),
                    "update",
                ));
                return None;
            }
        }
        if plan.certificate_id != prior.certificate_id {
            let result = match plan.certificate_id.as_deref().filter(|c| !c.is_empty()) {
                Some(cert) => {
                    let p = Params::new().with("certid", cert).with("lbruleid", &id);
                    c.api.request_async("assignCertToLoadBalancer", &p).await
                }
                None => {
                    let p = Params::new().with("lbruleid", &id);
                    c.api.request_async("removeCertFromLoadBalancer", &p).await
                }
            };
            if let Err(e) = result {
                diags.push(OpError::Api(e).diagnostic(
                    "changing the certificate",
                    Some(attr!(Model, certificate_id)),
                    "update",
                ));
                return None;
            }
        }
        let old: BTreeSet<&String> = prior.member_ids.iter().collect();
        let new: BTreeSet<&String> = plan.member_ids.iter().collect();
        let gone: Vec<String> = old.difference(&new).map(|s| s.to_string()).collect();
        let added: Vec<String> = new.difference(&old).map(|s| s.to_string()).collect();
        for (vms, add) in [(gone, false), (added, true)] {
            if let Err(e) = change_members(c, &id, &vms, add).await {
                diags.push(e.diagnostic(
                    "changing the members",
                    Some(attr!(Model, member_ids)),
                    "update",
                ));
                return None;
            }
        }
        Some(plan)
    }

    async fn delete(&self, cx: Ctx<'_>, prior: Model, diags: &mut Diagnostics) {
        let Some(id) = prior.id else { return };
        let p = Params::new().with("id", &id);
        let what = format!("load balancer rule {id}");
        cx.delete("deleteLoadBalancerRule", &p, &what, diags).await
    }
}
