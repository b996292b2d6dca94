//! Public IP addresses and the rules on them: port forwarding, ingress and egress firewall.

use std::collections::HashSet;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{
    client::Client,
    error::{Error, Result},
    model::{EgressFirewallRule, FirewallRule, PortForwardingRule, PublicIpAddress},
    params::Params,
};

/// Arguments of `createPortForwardingRule`.
#[derive(Debug, Clone, Default)]
pub struct CreatePortForwardingRule {
    /// `ipaddressid`.
    pub ip_address_id: String,
    /// `protocol` (`tcp`/`udp`).
    pub protocol: String,
    /// `privateport`.
    pub private_port: u16,
    /// `publicport`.
    pub public_port: u16,
    /// `virtualmachineid`.
    pub virtual_machine_id: String,
    /// `openfirewall` (CloudStack defaults it to true).
    pub open_firewall: Option<bool>,
    /// `cidrlist`.
    pub cidr_list: Vec<String>,
    /// Any other parameter (`privateendport`, `publicendport`, `networkid`, `vmguestip`).
    pub extra: Params,
}

/// Arguments of `createFirewallRule` (ingress, on a public IP).
#[derive(Debug, Clone, Default)]
pub struct CreateFirewallRule {
    /// `ipaddressid`.
    pub ip_address_id: String,
    /// `protocol` (`tcp`/`udp`/`icmp`).
    pub protocol: String,
    /// `startport`.
    pub start_port: Option<u16>,
    /// `endport`.
    pub end_port: Option<u16>,
    /// `cidrlist`.
    pub cidr_list: Vec<String>,
    /// Any other parameter (`icmptype`, `icmpcode`).
    pub extra: Params,
}

/// Arguments of `createEgressFirewallRule` (on a guest network).
#[derive(Debug, Clone, Default)]
pub struct CreateEgressFirewallRule {
    /// `networkid`.
    pub network_id: String,
    /// `protocol`.
    pub protocol: String,
    /// `startport`.
    pub start_port: Option<u16>,
    /// `endport`.
    pub end_port: Option<u16>,
    /// `cidrlist`.
    pub cidr_list: Vec<String>,
    /// Any other parameter (`destcidrlist`, `icmptype`, `icmpcode`).
    pub extra: Params,
}

pub(super) fn s(v: &Value, k: &str) -> Option<String> {
    match v.get(k)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// Compares a list parameter with what CloudStack echoes (order and spaces ignored).
fn same_list(want: &[String], got: Option<String>) -> bool {
    let mut a: Vec<String> = want.iter().map(|x| x.trim().to_string()).collect();
    let mut b: Vec<String> = got
        .unwrap_or_default()
        .split(',')
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect();
    if a.is_empty() {
        // CloudStack fills in 0.0.0.0/0 when no CIDR is given.
        return b.is_empty() || b == ["0.0.0.0/0"];
    }
    a.sort();
    b.sort();
    a == b
}
impl Client {
    /// Creates a rule (async job) whose answer and listing both name it `key`. An unclear
    /// failure is recovered by listing the rules of `scope` (parameter, id) with `list_command`
    /// and taking the first one `same` accepts.
    async fn create_rule<T: DeserializeOwned>(
        &self,
        command: &str,
        params: &Params,
        (list_command, key): (&str, &str),
        (scope_key, scope_id): (&str, &str),
        same: impl Fn(&Value) -> bool,
    ) -> Result<T> {
        let scope = Params::new()
            .with(scope_key, scope_id)
            .with("listall", "true");
        let lookup = || async {
            let rules = self.list_all_values(list_command, key, &scope).await?;
            Ok(rules.into_iter().find(|r| same(r)))
        };
        let v = self
            .create_with_recovery(command, params, Some(key), lookup)
            .await?;
        Self::typed(command, v)
    }

    /// Ingress and egress firewall rules differ only in their commands and in what they hang
    /// off (`ipaddressid` or `networkid`); both are created here and recovered by
    /// (scope, protocol, ports, CIDRs).
    async fn create_port_range_rule<T: DeserializeOwned>(
        &self,
        (command, list_command): (&str, &str),
        scope: (&str, &str),
        protocol: &str,
        (start_port, end_port): (Option<u16>, Option<u16>),
        cidr_list: &[String],
        extra: &Params,
    ) -> Result<T> {
        let mut params = extra.clone();
        params
            .set(scope.0, scope.1)
            .set("protocol", protocol)
            .set_opt("startport", start_port.map(|p| p.to_string()))
            .set_opt("endport", end_port.map(|p| p.to_string()))
            .set_list("cidrlist", cidr_list);
        let same = |r: &Value| rule_matches(r, protocol, start_port, end_port, cidr_list);
        self.create_rule(
            command,
            &params,
            (list_command, "firewallrule"),
            scope,
            same,
        )
        .await
    }

    /// `associateIpAddress` (`networkid`, `vpcid` or `zoneid` in `params`), waiting for the
    /// job. An IP has no name to look up, so with a network or VPC the addresses already
    /// associated are noted first; after an unclear failure the one new address is ours (none:
    /// re-send; several, e.g. a concurrent caller: [`Error::Unconfirmed`]). With only a zone,
    /// an unclear failure is reported as [`Error::Unconfirmed`].
    pub async fn associate_ip_address(&self, params: &Params) -> Result<PublicIpAddress> {
        const CMD: &str = "associateIpAddress";
        const LIST: &str = "listPublicIpAddresses";
        let scope = match (params.get("networkid"), params.get("vpcid")) {
            (Some(n), _) => Params::new().with("associatednetworkid", n),
            (None, Some(v)) => Params::new().with("vpcid", v),
            (None, None) => {
                let v = self.mutate_async(CMD, params, "ipaddress").await?;
                return Self::typed(CMD, v);
            }
        }
        .with("listall", "true");
        // A project's addresses are listed only with its id.
        let scope = match params.get("projectid") {
            Some(project) => scope.with("projectid", project),
            None => scope,
        };
        let before: HashSet<String> = self
            .list_all_values(LIST, "publicipaddress", &scope)
            .await?
            .iter()
            .filter_map(|v| s(v, "id"))
            .collect();
        let lookup = || async {
            let mut new: Vec<Value> = self
                .list_all_values(LIST, "publicipaddress", &scope)
                .await?
                .into_iter()
                .filter(|v| s(v, "id").is_some_and(|id| !before.contains(&id)))
                .collect();
            match new.len() {
                0 => Ok(None),
                1 => Ok(new.pop()),
                _ => Err(Error::Ambiguous {
                    kind: "new public IP address",
                    name: format!("{scope:?}"),
                    matches: new
                        .iter()
                        .map(|v| {
                            (
                                s(v, "ipaddress").unwrap_or_default(),
                                s(v, "id").unwrap_or_default(),
                            )
                        })
                        .collect(),
                }),
            }
        };
        let v = self
            .create_with_recovery(CMD, params, Some("ipaddress"), lookup)
            .await?;
        Self::typed(CMD, v)
    }

    /// `disassociateIpAddress`, waiting for the job.
    pub async fn disassociate_ip_address(&self, id: &str) -> Result<()> {
        self.delete_async("disassociateIpAddress", &Params::new().with("id", id))
            .await
    }

    /// `listPublicIpAddresses`, all pages.
    pub async fn list_public_ip_addresses(&self, params: &Params) -> Result<Vec<PublicIpAddress>> {
        self.list_all("listPublicIpAddresses", "publicipaddress", params)
            .await
    }

    /// `createPortForwardingRule`, waiting for the job; recovered by (IP, protocol, ports, VM).
    pub async fn create_port_forwarding_rule(
        &self,
        req: &CreatePortForwardingRule,
    ) -> Result<PortForwardingRule> {
        let mut params = req.extra.clone();
        params
            .set("ipaddressid", &req.ip_address_id)
            .set("protocol", &req.protocol)
            .set("privateport", req.private_port.to_string())
            .set("publicport", req.public_port.to_string())
            .set("virtualmachineid", &req.virtual_machine_id)
            .set_opt("openfirewall", req.open_firewall.map(|b| b.to_string()))
            .set_list("cidrlist", &req.cidr_list);
        let same = |r: &Value| {
            s(r, "protocol").is_some_and(|p| p.eq_ignore_ascii_case(&req.protocol))
                && s(r, "publicport") == Some(req.public_port.to_string())
                && s(r, "privateport") == Some(req.private_port.to_string())
                && s(r, "virtualmachineid").as_deref() == Some(req.virtual_machine_id.as_str())
        };
        self.create_rule(
            "createPortForwardingRule",
            &params,
            ("listPortForwardingRules", "portforwardingrule"),
            ("ipaddressid", &req.ip_address_id),
            same,
        )
        .await
    }

    /// `deletePortForwardingRule`, waiting for the job.
    pub async fn delete_port_forwarding_rule(&self, id: &str) -> Result<()> {
        self.delete_async("deletePortForwardingRule", &Params::new().with("id", id))
            .await
    }

    /// `listPortForwardingRules`, all pages.
    pub async fn list_port_forwarding_rules(
        &self,
        params: &Params,
    ) -> Result<Vec<PortForwardingRule>> {
        self.list_all("listPortForwardingRules", "portforwardingrule", params)
            .await
    }

    /// `createFirewallRule`, waiting for the job; recovered by (IP, protocol, ports, CIDRs).
    pub async fn create_firewall_rule(&self, req: &CreateFirewallRule) -> Result<FirewallRule> {
        self.create_port_range_rule(
            ("createFirewallRule", "listFirewallRules"),
            ("ipaddressid", &req.ip_address_id),
            &req.protocol,
            (req.start_port, req.end_port),
            &req.cidr_list,
            &req.extra,
        )
        .await
    }

    /// `deleteFirewallRule`, waiting for the job.
    pub async fn delete_firewall_rule(&self, id: &str) -> Result<()> {
        self.delete_async("deleteFirewallRule", &Params::new().with("id", id))
            .await
    }

    /// `listFirewallRules`, all pages.
    pub async fn list_firewall_rules(&self, params: &Params) -> Result<Vec<FirewallRule>> {
        self.list_all("listFirewallRules", "firewallrule", params)
            .await
    }

    /// `createEgressFirewallRule`, waiting for the job; recovered like ingress rules.
    pub async fn create_egress_firewall_rule(
        &self,
        req: &CreateEgressFirewallRule,
    ) -> Result<EgressFirewallRule> {
        self.create_port_range_rule(
            ("createEgressFirewallRule", "listEgressFirewallRules"),
            ("networkid", &req.network_id),
            &req.protocol,
            (req.start_port, req.end_port),
            &req.cidr_list,
            &req.extra,
        )
        .await
    }

    /// `deleteEgressFirewallRule`, waiting for the job.
    pub async fn delete_egress_firewall_rule(&self, id: &str) -> Result<()> {
        self.delete_async("deleteEgressFirewallRule", &Params::new().with("id", id))
            .await
    }

    /// `listEgressFirewallRules`, all pages.
    pub async fn list_egress_firewall_rules(
        &self,
        params: &Params,
    ) -> Result<Vec<EgressFirewallRule>> {
        self.list_all("listEgressFirewallRules", "firewallrule", params)
            .await
    }
}

/// Whether a listed rule `r` has this protocol, port range and CIDRs.
pub(super) fn rule_matches(
    r: &Value,
    protocol: &str,
    start: Option<u16>,
    end: Option<u16>,
    cidrs: &[String],
) -> bool {
    let port = |k: &str| s(r, k).and_then(|p| p.parse::<u16>().ok());
    s(r, "protocol").is_some_and(|p| p.eq_ignore_ascii_case(protocol))
        && port("startport") == start
        && port("endport") == end.or(start)
        && same_list(cidrs, s(r, "cidrlist"))
}

impl Client {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rule_matching() {
        let r = json!({"protocol": "TCP", "startport": 22, "endport": "22", "cidrlist": "10.0.0.0/8, 0.0.0.0/0"});
        assert!(rule_matches(
            &r,
            "tcp",
            Some(22),
            None,
            &["0.0.0.0/0".into(), "10.0.0.0/8".into()]
        ));
        assert!(!rule_matches(&r, "tcp", Some(23), None, &[]));
        let open =
            json!({"protocol": "tcp", "startport": 80, "endport": 80, "cidrlist": "0.0.0.0/0"});
        assert!(rule_matches(&open, "tcp", Some(80), Some(80), &[]));
    }
}
