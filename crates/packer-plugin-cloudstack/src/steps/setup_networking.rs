//! Step 4: make the VM reachable, unless `use_local_ip_address`: a public IP (the given
//! `public_ip_address`, else a temporary one from `associateIpAddress`), a TCP port forward
//! public port → `ssh_port` (`openfirewall=false`), and a firewall rule for `cidr_list` on
//! the public port unless `prevent_firewall_changes`. Cleanup undoes them in reverse.

use cloudstack::{
    api::{CreateFirewallRule, CreatePortForwardingRule},
    Params,
};
use packer_sdk::{
    async_trait,
    steps::{Step, StepContext},
    BoxError,
};
use rand::Rng as _;

use super::BuildState;
use crate::error::Error;

/// See the module docs.
#[derive(Debug)]
pub struct SetupNetworking;

#[async_trait]
impl Step<BuildState> for SetupNetworking {
    fn name(&self) -> &str {
        "setup_networking"
    }

    fn left_behind(&self, state: &BuildState) -> Vec<String> {
        let mut left = Vec::new();
        if let Some(id) = &state.firewall_rule_id {
            left.push(format!("firewall rule {id}: cs deleteFirewallRule id={id}"));
        }
        if let Some(id) = &state.port_forward_id {
            left.push(format!(
                "port forward {id}: cs deletePortForwardingRule id={id}"
            ));
        }
        if let (true, Some((id, ip))) = (state.ip_associated, &state.public_ip) {
            left.push(format!("public IP {ip}: cs disassociateIpAddress id={id}"));
        }
        left
    }

    async fn run(&self, state: &mut BuildState, ctx: &StepContext) -> Result<(), BoxError> {
        let c = state.config.clone();
        if c.use_local_ip_address {
            return Ok(());
        }
        let vm_id = state
            .vm_id
            .clone()
            .ok_or("no instance to set up networking for")?;
        ctx.ui.say("Setting up networking...").await;
        let network_id = state.resolved.network_ids.first().cloned();
        let network = match &network_id {
            Some(id) => state
                .client
                .list_networks(
                    &state.in_project(Params::new().with("id", id).with("listall", "true")),
                )
                .await
                .map_err(Error::api(format!("looking up network {id}")))?
                .into_iter()
                .find(|n| &n.id == id),
            None => None,
        };
        if network.as_ref().and_then(|n| n.vpcid.as_ref()).is_some() && !c.prevent_firewall_changes
        {
            return Err(
                "the network is in a VPC, which needs a network ACL rule; this builder \
                        does not create ACL rules yet: set prevent_firewall_changes and allow the \
                        SSH port in the VPC's ACL yourself"
                    .into(),
            );
        }

        let (ip_id, ip) = match state.resolved.public_ip.clone() {
            Some(existing) => {
                ctx.ui
                    .message(format!(
                        "Using public IP address {} ({})",
                        existing.1, existing.0
                    ))
                    .await;
                existing
            }
            None => {
                ctx.ui.message("Associating public IP address...").await;
                let mut p = state.in_project(Params::new());
                match network.as_ref().and_then(|n| n.vpcid.clone()) {
                    Some(vpc) => p.set("vpcid", vpc),
                    None => match &network_id {
                        Some(n) => p.set("networkid", n),
                        None => p.set("zoneid", &state.resolved.zone_id),
                    },
                };
                let addr = match state.client.associate_ip_address(&p).await {
                    Ok(addr) => addr,
                    Err(e) => {
                        // Accepted before the failure: released in cleanup.
                        if let Some(id) = state.accepted.last_id("associateIpAddress") {
                            state.ip_associated = true;
                            state.public_ip = Some((id, String::new()));
                        }
                        return Err(Error::api(
                            "associating a public IP address (check the account's IP limit, \
                             or set public_ip_address or use_local_ip_address)",
                        )(e)
                        .into());
                    }
                };
                state.ip_associated = true;
                let pair = (addr.id.clone(), addr.ipaddress.clone().unwrap_or_default());
                state.public_ip = Some(pair.clone());
                ctx.ui
                    .message(format!(
                        "Associated public IP address {} ({})",
                        pair.1, pair.0
                    ))
                    .await;
                pair
            }
        };
        state.public_ip = Some((ip_id.clone(), ip.clone()));

        let public_port = c
            .public_port
            .unwrap_or_else(|| rand::thread_rng().gen_range(50_000..=59_999));
        state.public_port = Some(public_port);
        ctx.ui
            .message(format!(
                "Creating port forward {ip}:{public_port} -> instance port {}...",
                c.ssh.port
            ))
            .await;
        let mut pf = CreatePortForwardingRule {
            ip_address_id: ip_id.clone(),
            protocol: "tcp".into(),
            private_port: c.ssh.port,
            public_port,
            virtual_machine_id: vm_id,
            open_firewall: Some(false),
            ..Default::default()
        };
        if let Some(n) = &network_id {
            pf.extra.set("networkid", n);
        }
        let rule = state.client.create_port_forwarding_rule(&pf).await;
        state.port_forward_id = match &rule {
            Ok(rule) => Some(rule.id.clone()),
            Err(_) => state.accepted.last_id("createPortForwardingRule"),
        };
        rule.map_err(Error::api(format!(
            "creating port forward {ip}:{public_port} (choose another public_port if it is \
             taken)"
        )))?;

        if !c.prevent_firewall_changes {
            ctx.ui
                .message(format!(
                    "Creating firewall rule for TCP {public_port} from {}...",
                    c.cidr_list.join(",")
                ))
                .await;
            let fw = CreateFirewallRule {
                ip_address_id: ip_id,
                protocol: "tcp".into(),
                start_port: Some(public_port),
                end_port: Some(public_port),
                cidr_list: c.cidr_list.clone(),
                ..Default::default()
            };
            let rule = state.client.create_firewall_rule(&fw).await;
            state.firewall_rule_id = match &rule {
                Ok(rule) => Some(rule.id.clone()),
                Err(_) => state.accepted.last_id("createFirewallRule"),
            };
            rule.map_err(Error::api(format!(
                "creating firewall rule for port {public_port}"
            )))?;
        }
        Ok(())
    }

    async fn cleanup(&self, state: &mut BuildState, ctx: &StepContext) {
        let client = state.client.clone();
        if let Some(id) = state.firewall_rule_id.take() {
            ctx.ui.say(format!("Deleting firewall rule {id}...")).await;
            super::clean_up(
                state,
                ctx,
                &format!("deleting firewall rule {id}"),
                &format!("delete it yourself (deleteFirewallRule id={id})"),
                || client.delete_firewall_rule(&id),
            )
            .await;
        }
        if let Some(id) = state.port_forward_id.take() {
            ctx.ui.say(format!("Deleting port forward {id}...")).await;
            super::clean_up(
                state,
                ctx,
                &format!("deleting port forward {id}"),
                &format!("delete it yourself (deletePortForwardingRule id={id})"),
                || client.delete_port_forwarding_rule(&id),
            )
            .await;
        }
        if !std::mem::take(&mut state.ip_associated) {
            return;
        }
        if let Some((id, ip)) = state.public_ip.take() {
            let shown = if ip.is_empty() {
                id.clone()
            } else {
                format!("{ip} ({id})")
            };
            ctx.ui
                .say(format!("Releasing public IP address {shown}..."))
                .await;
            super::clean_up(
                state,
                ctx,
                &format!("releasing public IP address {shown}"),
                &format!("release it yourself (disassociateIpAddress id={id})"),
                || client.disassociate_ip_address(&id),
            )
            .await;
        }
    }
}
