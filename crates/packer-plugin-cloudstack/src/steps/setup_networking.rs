//! Step 4: make the VM reachable, unless `use_local_ip_address`: a public IP (the given
//! `public_ip_address`, else a temporary one from `associateIpAddress`, in the VPC when the
//! network is a VPC tier), a TCP port forward public port → `ssh_port` (`openfirewall=false`),
//! and, unless `prevent_firewall_changes`, what lets `cidr_list` in: a firewall rule on the
//! public port, or on a VPC tier (whose addresses have no firewall) an ingress rule on the
//! tier's network ACL list for `ssh_port`, as the Go builder does. Cleanup undoes them in
//! reverse.

use cloudstack::{
    api::{CreateFirewallRule, CreateNetworkAcl, CreatePortForwardingRule},
    model::Network,
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

/// The id of VPC tier `n`'s network ACL list, refused (before anything is created) when
/// there is none or it is one of CloudStack's built-in lists (`default_allow`,
/// `default_deny`), which nobody can change ("Default ACL cannot be modified").
pub(crate) async fn tier_acl_list(state: &BuildState, n: &Network) -> Result<String, Error> {
    let fix = "give the tier an ACL list of its VPC (replaceNetworkACLList), or set \
               prevent_firewall_changes and allow SSH in the tier's ACL yourself";
    let Some(acl_id) = n.aclid.clone().filter(|a| !a.is_empty()) else {
        return Err(Error::Build(format!(
            "network: VPC tier {} has no network ACL list to allow SSH in: {fix}",
            n.name.as_deref().unwrap_or(&n.id)
        )));
    };
    let lists = state
        .client
        .list_network_acl_lists(&Params::new().with("id", &acl_id))
        .await
        .map_err(Error::api(format!(
            "network: looking up ACL list {acl_id} of VPC tier {}",
            n.id
        )))?;
    let list = lists.into_iter().find(|l| l.id == acl_id);
    // The built-in lists belong to no VPC.
    if let Some(l) = list.filter(|l| l.vpcid.is_none()) {
        return Err(Error::Build(format!(
            "network: VPC tier {} uses the default ACL list {} ({acl_id}), which CloudStack \
             does not let anyone change, so no rule for SSH can be added: {fix}",
            n.name.as_deref().unwrap_or(&n.id),
            l.name.as_deref().unwrap_or("default")
        )));
    }
    Ok(acl_id)
}

#[async_trait]
impl Step<BuildState> for SetupNetworking {
    fn name(&self) -> &str {
        "setup_networking"
    }

    fn left_behind(&self, state: &BuildState) -> Vec<String> {
        let mut left = Vec::new();
        if let Some(id) = &state.acl_rule_id {
            left.push(format!(
                "network ACL rule {id}: cs deleteNetworkACL id={id}"
            ));
        }
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
        if state.resolved.zone_security_groups {
            // Security groups filter traffic to the VM's own address (public in such zones):
            // no public IP, port forward or firewall rule.
            let ip = state
                .vm_ip
                .clone()
                .ok_or("the instance has no IP address on its NIC to connect to")?;
            ctx.ui
                .say(format!(
                    "Zone with security groups: connecting to the instance's address {ip}"
                ))
                .await;
            state.public_ip = Some((String::new(), ip));
            state.public_port = Some(c.ssh.port);
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
        // Checked in prepare_config, before anything was made.
        let vpc_acl = match network.as_ref().filter(|n| n.vpcid.is_some()) {
            Some(n) if !c.prevent_firewall_changes => Some(match &state.resolved.vpc_acl_id {
                Some(acl) => acl.clone(),
                None => tier_acl_list(state, n).await?,
            }),
            _ => None,
        };

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

        if c.prevent_firewall_changes {
            ctx.ui
                .message("Networking is set up (prevent_firewall_changes: no firewall or ACL rule)")
                .await;
            return Ok(());
        }
        if let Some(acl_id) = vpc_acl {
            ctx.ui
                .message(format!(
                    "Creating network ACL rule for TCP {} from {} on ACL list {acl_id}...",
                    c.ssh.port,
                    c.cidr_list.join(",")
                ))
                .await;
            let req = CreateNetworkAcl {
                acl_id: acl_id.clone(),
                protocol: "tcp".into(),
                start_port: Some(c.ssh.port),
                end_port: Some(c.ssh.port),
                cidr_list: c.cidr_list.clone(),
                traffic_type: Some("ingress".into()),
                action: Some("allow".into()),
                extra: Params::new().with("reason", "Packer build SSH (temporary)"),
            };
            let rule = state.client.create_network_acl(&req).await;
            state.acl_rule_id = match &rule {
                Ok(rule) => Some(rule.id.clone()),
                Err(_) => state.accepted.last_id("createNetworkACL"),
            };
            rule.map_err(Error::api(format!(
                "creating a network ACL rule for port {} on ACL list {acl_id} (or set \
                 prevent_firewall_changes and allow SSH in the tier's ACL yourself)",
                c.ssh.port
            )))?;
            return Ok(());
        }
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
        Ok(())
    }

    async fn cleanup(&self, state: &mut BuildState, ctx: &StepContext) {
        let client = state.client.clone();
        if let Some(id) = state.acl_rule_id.take() {
            ctx.ui
                .say(format!("Deleting network ACL rule {id}..."))
                .await;
            super::clean_up(
                state,
                ctx,
                &format!("deleting network ACL rule {id}"),
                &format!("delete it yourself (deleteNetworkACL id={id})"),
                || client.delete_network_acl(&id),
            )
            .await;
        }
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
