//! Typed calls for what the Packer builder and the Terraform provider need. Creates recover
//! from unclear failures by looking the object up by its natural key (name, or the rule's
//! ports), so they never duplicate; deletes treat "already gone" on a retry as done.
//! Anything else: [`Client::request`] / [`Client::request_async`] with [`Params`].

use std::{collections::HashSet, time::Instant};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{
    client::Client,
    error::{Error, Result},
    list::decode,
    model::{
        AsyncJob, DiskOffering, EgressFirewallRule, FirewallRule, Network, NetworkOffering, OsType,
        PortForwardingRule, PublicIpAddress, ServiceOffering, SshKeyPair, Tag, Template,
        VirtualMachine, Volume, Zone,
    },
    params::Params,
};

/// VM states that are on their way somewhere else.
const TRANSITIONAL_VM_STATES: [&str; 4] = ["Creating", "Starting", "Stopping", "Migrating"];

/// Arguments of `deployVirtualMachine`. Give a `name` so a failed deploy can be recovered
/// without a duplicate VM (CloudStack names unnamed VMs itself, which leaves nothing to look up).
#[derive(Debug, Clone, Default)]
pub struct DeployVirtualMachine {
    /// `zoneid`.
    pub zone_id: String,
    /// `serviceofferingid`.
    pub service_offering_id: String,
    /// `templateid`.
    pub template_id: String,
    /// `name` (host name; unique per network).
    pub name: Option<String>,
    /// `displayname`.
    pub display_name: Option<String>,
    /// `networkids`.
    pub network_ids: Vec<String>,
    /// `keypair`.
    pub keypair: Option<String>,
    /// `userdata`, already base64-encoded. Large values are sent by POST.
    pub user_data: Option<String>,
    /// `diskofferingid`.
    pub disk_offering_id: Option<String>,
    /// `rootdisksize` (GB).
    pub root_disk_size: Option<u64>,
    /// `hypervisor`.
    pub hypervisor: Option<String>,
    /// `ipaddress` on the default network.
    pub ip_address: Option<String>,
    /// `group`.
    pub group: Option<String>,
    /// `startvm`.
    pub start_vm: Option<bool>,
    /// Any other parameter.
    pub extra: Params,
}

impl DeployVirtualMachine {
    /// The command's parameters.
    pub fn params(&self) -> Params {
        let mut p = self.extra.clone();
        p.set("zoneid", &self.zone_id)
            .set("serviceofferingid", &self.service_offering_id)
            .set("templateid", &self.template_id)
            .set_opt("name", self.name.as_deref())
            .set_opt("displayname", self.display_name.as_deref())
            .set_list("networkids", &self.network_ids)
            .set_opt("keypair", self.keypair.as_deref())
            .set_opt("userdata", self.user_data.as_deref())
            .set_opt("diskofferingid", self.disk_offering_id.as_deref())
            .set_opt("rootdisksize", self.root_disk_size.map(|s| s.to_string()))
            .set_opt("hypervisor", self.hypervisor.as_deref())
            .set_opt("ipaddress", self.ip_address.as_deref())
            .set_opt("group", self.group.as_deref())
            .set_opt("startvm", self.start_vm.map(|b| b.to_string()));
        p
    }
}

/// Arguments of `createTemplate` (from a volume, e.g. a stopped VM's ROOT volume).
#[derive(Debug, Clone, Default)]
pub struct CreateTemplate {
    /// `name` (used to recover from unclear failures).
    pub name: String,
    /// `displaytext`.
    pub display_text: String,
    /// `ostypeid`.
    pub os_type_id: String,
    /// `volumeid`.
    pub volume_id: String,
    /// Any other parameter (`ispublic`, `isfeatured`, `passwordenabled`, ...).
    pub extra: Params,
}

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

/// Arguments of `createNetwork`.
#[derive(Debug, Clone, Default)]
pub struct CreateNetwork {
    /// `name` (used to recover from unclear failures).
    pub name: String,
    /// `displaytext` (defaults to the name).
    pub display_text: Option<String>,
    /// `networkofferingid`.
    pub network_offering_id: String,
    /// `zoneid`.
    pub zone_id: String,
    /// Any other parameter (`gateway`, `netmask`, `vpcid`, ...).
    pub extra: Params,
}

fn s(v: &Value, k: &str) -> Option<String> {
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
    /// Makes a create call without a recovery lookup: an unclear failure is reported as
    /// [`Error::Unconfirmed`] instead of being retried. The id is recorded once accepted.
    async fn mutate_async(&self, command: &str, params: &Params, key: &str) -> Result<Value> {
        let done = match self.request(command, params).await {
            Ok(answer) => {
                self.note_accepted(command, Some(key), &answer);
                self.finish_job(command, answer).await
            }
            Err(e) => Err(e),
        };
        match done {
            Ok(v) => {
                let v = v.get(key).cloned().unwrap_or(v);
                self.note_accepted(command, None, &v);
                Ok(v)
            }
            Err(e) if e.may_have_applied() && !matches!(e, Error::JobFailed { .. }) => {
                Err(Error::Unconfirmed {
                    command: command.to_string(),
                    source: Box::new(e),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Runs a delete-like command and waits for its job. If the command had to be re-sent
    /// after a failure that may have been applied, a job failing with "does not exist" means
    /// the first attempt did the work.
    pub(crate) async fn delete_async(&self, command: &str, params: &Params) -> Result<()> {
        let (answer, resent) = self.request_tracked(command, params, false).await?;
        match self.finish_job(command, answer).await {
            Ok(_) => Ok(()),
            Err(e) if resent && e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Lists with `params` and returns the object whose `name` is exactly `name`.
    pub(crate) async fn find_by_name(
        &self,
        command: &str,
        key: &str,
        params: &Params,
        name: &str,
    ) -> Result<Option<Value>> {
        let items = self.list_all_values(command, key, params).await?;
        let matches: Vec<Value> = items
            .into_iter()
            .filter(|v| v.get("name").and_then(Value::as_str) == Some(name))
            .collect();
        match matches.len() {
            0 => Ok(None),
            1 => Ok(matches.into_iter().next()),
            _ => Err(Error::Ambiguous {
                kind: "object",
                name: name.to_string(),
                matches: matches
                    .iter()
                    .map(|v| (name.to_string(), s(v, "id").unwrap_or_default()))
                    .collect(),
            }),
        }
    }

    pub(crate) fn typed<T: DeserializeOwned>(command: &str, v: Value) -> Result<T> {
        decode(command, v)
    }

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

    // ----- virtual machines -------------------------------------------------------------

    /// `deployVirtualMachine`, waiting for the job. With a `name`, an unclear failure is
    /// recovered by finding the VM of that name in the zone (no duplicate VM); a recovered VM
    /// still starting is waited for. The `password` is only known from the deploy job itself.
    pub async fn deploy_virtual_machine(
        &self,
        req: &DeployVirtualMachine,
    ) -> Result<VirtualMachine> {
        const CMD: &str = "deployVirtualMachine";
        let params = req.params();
        let post = req.user_data.is_some();
        let Some(name) = req.name.clone() else {
            let v = self.mutate_async(CMD, &params, "virtualmachine").await?;
            return Self::typed(CMD, v);
        };
        let scope = Params::new()
            .with("zoneid", &req.zone_id)
            .with("name", &name)
            .with("listall", "true");
        let lookup = || self.find_by_name("listVirtualMachines", "virtualmachine", &scope, &name);
        let v = if post {
            self.create_with_recovery_post(CMD, &params, Some("virtualmachine"), lookup)
                .await?
        } else {
            self.create_with_recovery(CMD, &params, Some("virtualmachine"), lookup)
                .await?
        };
        let vm: VirtualMachine = Self::typed(CMD, v)?;
        if vm
            .state
            .as_deref()
            .is_some_and(|s| TRANSITIONAL_VM_STATES.contains(&s))
        {
            let password = vm.password.clone();
            let mut settled = self.wait_virtual_machine_settled(&vm.id).await?;
            settled.password = settled.password.or(password);
            return Ok(settled);
        }
        Ok(vm)
    }

    /// Polls a VM (with the job backoff and `async_timeout`) until it leaves a transitional
    /// state (Creating, Starting, Stopping, Migrating).
    pub async fn wait_virtual_machine_settled(&self, id: &str) -> Result<VirtualMachine> {
        let cfg = &self.inner.config;
        let started = Instant::now();
        let mut delay = cfg.poll_initial;
        loop {
            let vm = self
                .get_virtual_machine(id)
                .await?
                .ok_or_else(|| Error::NotFound {
                    kind: "virtual machine",
                    name: id.to_string(),
                    candidates: Vec::new(),
                })?;
            let state = vm.state.clone().unwrap_or_default();
            if !TRANSITIONAL_VM_STATES.contains(&state.as_str()) {
                return Ok(vm);
            }
            if started.elapsed() >= cfg.async_timeout {
                return Err(Error::JobTimeout {
                    command: format!("wait for VM {id} (state {state})"),
                    job_id: String::new(),
                    waited: started.elapsed(),
                });
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(cfg.poll_cap.max(cfg.poll_initial));
        }
    }

    /// `listVirtualMachines`, all pages.
    pub async fn list_virtual_machines(&self, params: &Params) -> Result<Vec<VirtualMachine>> {
        self.list_all("listVirtualMachines", "virtualmachine", params)
            .await
    }

    /// One VM by id (`listall=true`), `None` if it does not exist (or is expunged).
    pub async fn get_virtual_machine(&self, id: &str) -> Result<Option<VirtualMachine>> {
        let p = Params::new().with("id", id).with("listall", "true");
        match self.list_virtual_machines(&p).await {
            Ok(vms) => Ok(vms.into_iter().find(|v| v.id == id)),
            Err(e) if e.is_param_error() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `startVirtualMachine`; an unclear failure is resolved by reading the VM's state.
    pub async fn start_virtual_machine(&self, id: &str) -> Result<VirtualMachine> {
        self.vm_transition(
            "startVirtualMachine",
            id,
            &["Running", "Starting"],
            Params::new(),
        )
        .await
    }

    /// `stopVirtualMachine` (`forced` → `forced=true`); recovers like
    /// [`Client::start_virtual_machine`].
    pub async fn stop_virtual_machine(&self, id: &str, forced: bool) -> Result<VirtualMachine> {
        let mut extra = Params::new();
        if forced {
            extra.set("forced", "true");
        }
        self.vm_transition("stopVirtualMachine", id, &["Stopped", "Stopping"], extra)
            .await
    }

    async fn vm_transition(
        &self,
        command: &str,
        id: &str,
        reached: &[&str],
        extra: Params,
    ) -> Result<VirtualMachine> {
        let params = extra.with("id", id);
        let lookup = || async {
            Ok(self.get_virtual_machine(id).await?.and_then(|vm| {
                let hit = vm.state.as_deref().is_some_and(|s| reached.contains(&s));
                hit.then(|| serde_json::to_value(vm).unwrap_or_default())
            }))
        };
        let v = self
            .create_with_recovery(command, &params, Some("virtualmachine"), lookup)
            .await?;
        let vm: VirtualMachine = Self::typed(command, v)?;
        if vm
            .state
            .as_deref()
            .is_some_and(|s| TRANSITIONAL_VM_STATES.contains(&s))
        {
            return self.wait_virtual_machine_settled(&vm.id).await;
        }
        Ok(vm)
    }

    /// `destroyVirtualMachine` (with `expunge=true` if asked), waiting for the job.
    pub async fn destroy_virtual_machine(&self, id: &str, expunge: bool) -> Result<()> {
        let mut p = Params::new().with("id", id);
        if expunge {
            p.set("expunge", "true");
        }
        self.delete_async("destroyVirtualMachine", &p).await
    }

    /// `expungeVirtualMachine` (a destroyed VM), waiting for the job.
    pub async fn expunge_virtual_machine(&self, id: &str) -> Result<()> {
        self.delete_async("expungeVirtualMachine", &Params::new().with("id", id))
            .await
    }

    // ----- templates and volumes ----------------------------------------------------------

    /// `listTemplates` with `templatefilter` (`executable`, `self`, `featured`, ...).
    pub async fn list_templates(&self, filter: &str, params: &Params) -> Result<Vec<Template>> {
        let p = params.clone().with("templatefilter", filter);
        self.list_all("listTemplates", "template", &p).await
    }

    /// `createTemplate` from a volume, waiting for the job; recovered by name (templates the
    /// caller owns, `templatefilter=self`).
    pub async fn create_template(&self, req: &CreateTemplate) -> Result<Template> {
        const CMD: &str = "createTemplate";
        let mut params = req.extra.clone();
        params
            .set("name", &req.name)
            .set("displaytext", &req.display_text)
            .set("ostypeid", &req.os_type_id)
            .set("volumeid", &req.volume_id);
        let scope = Params::new()
            .with("templatefilter", "self")
            .with("name", &req.name);
        let lookup = || self.find_by_name("listTemplates", "template", &scope, &req.name);
        let v = self
            .create_with_recovery(CMD, &params, Some("template"), lookup)
            .await?;
        Self::typed(CMD, v)
    }

    /// `deleteTemplate` (optionally in one zone), waiting for the job.
    pub async fn delete_template(&self, id: &str, zone_id: Option<&str>) -> Result<()> {
        let mut p = Params::new().with("id", id);
        p.set_opt("zoneid", zone_id);
        self.delete_async("deleteTemplate", &p).await
    }

    /// `listVolumes`, all pages (e.g. `virtualmachineid` + `type=ROOT`).
    pub async fn list_volumes(&self, params: &Params) -> Result<Vec<Volume>> {
        self.list_all("listVolumes", "volume", params).await
    }

    // ----- public IPs and rules -------------------------------------------------------------

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

    // ----- SSH key pairs ------------------------------------------------------------------

    /// `createSSHKeyPair`; the answer carries the private key. The private key exists only in
    /// that answer, so if an unclear failure left a key pair of this name behind, it is
    /// deleted and created again (the new answer has the key).
    pub async fn create_ssh_key_pair(&self, name: &str) -> Result<SshKeyPair> {
        self.create_ssh_key_pair_in(name, None).await
    }

    /// [`Client::create_ssh_key_pair`] owned by a project (`projectid`), as a VM deployed in
    /// that project needs: CloudStack looks its key pair up in the VM's owner.
    pub async fn create_ssh_key_pair_in(
        &self,
        name: &str,
        project_id: Option<&str>,
    ) -> Result<SshKeyPair> {
        const CMD: &str = "createSSHKeyPair";
        let mut params = Params::new().with("name", name);
        params.set_opt("projectid", project_id);
        let scope = params.clone();
        let lookup = || self.find_by_name("listSSHKeyPairs", "sshkeypair", &scope, name);
        // A recovered key pair has no private key: delete it and create it again (bounded).
        for _ in 0..3 {
            let v = self
                .create_with_recovery(CMD, &params, Some("keypair"), lookup)
                .await?;
            let kp: SshKeyPair = Self::typed(CMD, v)?;
            if kp.privatekey.is_some() {
                return Ok(kp);
            }
            self.delete_ssh_key_pair_in(name, project_id).await?;
        }
        Err(Error::Unconfirmed {
            command: CMD.to_string(),
            source: Box::new(Error::Decode {
                command: CMD.to_string(),
                message: "the key pair kept being recovered without its private key".into(),
            }),
        })
    }

    /// `registerSSHKeyPair` of an OpenSSH public key; recovered by name.
    pub async fn register_ssh_key_pair(&self, name: &str, public_key: &str) -> Result<SshKeyPair> {
        self.register_ssh_key_pair_in(name, public_key, None).await
    }

    /// [`Client::register_ssh_key_pair`] owned by a project (`projectid`).
    pub async fn register_ssh_key_pair_in(
        &self,
        name: &str,
        public_key: &str,
        project_id: Option<&str>,
    ) -> Result<SshKeyPair> {
        const CMD: &str = "registerSSHKeyPair";
        let mut params = Params::new()
            .with("name", name)
            .with("publickey", public_key);
        params.set_opt("projectid", project_id);
        let mut scope = Params::new().with("name", name);
        scope.set_opt("projectid", project_id);
        let lookup = || self.find_by_name("listSSHKeyPairs", "sshkeypair", &scope, name);
        let v = self
            .create_with_recovery_post(CMD, &params, Some("keypair"), lookup)
            .await?;
        Self::typed(CMD, v)
    }

    /// `deleteSSHKeyPair` by name.
    pub async fn delete_ssh_key_pair(&self, name: &str) -> Result<()> {
        self.delete_ssh_key_pair_in(name, None).await
    }

    /// [`Client::delete_ssh_key_pair`] of a project's key pair (`projectid`).
    pub async fn delete_ssh_key_pair_in(&self, name: &str, project_id: Option<&str>) -> Result<()> {
        let mut params = Params::new().with("name", name);
        params.set_opt("projectid", project_id);
        self.request("deleteSSHKeyPair", &params).await.map(|_| ())
    }

    /// `listSSHKeyPairs`, all pages.
    pub async fn list_ssh_key_pairs(&self, params: &Params) -> Result<Vec<SshKeyPair>> {
        self.list_all("listSSHKeyPairs", "sshkeypair", params).await
    }

    // ----- networks -------------------------------------------------------------------------

    /// `createNetwork`; recovered by name within the zone.
    pub async fn create_network(&self, req: &CreateNetwork) -> Result<Network> {
        const CMD: &str = "createNetwork";
        let mut params = req.extra.clone();
        params
            .set("name", &req.name)
            .set(
                "displaytext",
                req.display_text.clone().unwrap_or_else(|| req.name.clone()),
            )
            .set("networkofferingid", &req.network_offering_id)
            .set("zoneid", &req.zone_id);
        let scope = Params::new()
            .with("zoneid", &req.zone_id)
            .with("keyword", &req.name)
            .with("listall", "true");
        let lookup = || self.find_by_name("listNetworks", "network", &scope, &req.name);
        let v = self
            .create_with_recovery(CMD, &params, Some("network"), lookup)
            .await?;
        Self::typed(CMD, v)
    }

    /// `deleteNetwork`, waiting for the job.
    pub async fn delete_network(&self, id: &str) -> Result<()> {
        self.delete_async("deleteNetwork", &Params::new().with("id", id))
            .await
    }

    /// `listNetworks`, all pages.
    pub async fn list_networks(&self, params: &Params) -> Result<Vec<Network>> {
        self.list_all("listNetworks", "network", params).await
    }

    // ----- catalogue ------------------------------------------------------------------------

    /// `listZones`, all pages.
    pub async fn list_zones(&self, params: &Params) -> Result<Vec<Zone>> {
        self.list_all("listZones", "zone", params).await
    }

    /// `listServiceOfferings`, all pages.
    pub async fn list_service_offerings(&self, params: &Params) -> Result<Vec<ServiceOffering>> {
        self.list_all("listServiceOfferings", "serviceoffering", params)
            .await
    }

    /// `listDiskOfferings`, all pages.
    pub async fn list_disk_offerings(&self, params: &Params) -> Result<Vec<DiskOffering>> {
        self.list_all("listDiskOfferings", "diskoffering", params)
            .await
    }

    /// `listNetworkOfferings`, all pages.
    pub async fn list_network_offerings(&self, params: &Params) -> Result<Vec<NetworkOffering>> {
        self.list_all("listNetworkOfferings", "networkoffering", params)
            .await
    }

    /// `listOsTypes`, all pages.
    pub async fn list_os_types(&self, params: &Params) -> Result<Vec<OsType>> {
        self.list_all("listOsTypes", "ostype", params).await
    }

    // ----- tags and jobs --------------------------------------------------------------------

    /// `createTags` on `resource_ids` of `resource_type` (e.g. `UserVm`, `Template`), waiting
    /// for the job; recovered by checking that every tag is present.
    pub async fn create_tags(
        &self,
        resource_type: &str,
        resource_ids: &[String],
        tags: &[(String, String)],
    ) -> Result<()> {
        const CMD: &str = "createTags";
        let mut params = Params::new();
        params
            .set("resourcetype", resource_type)
            .set_list("resourceids", resource_ids);
        for (i, (k, v)) in tags.iter().enumerate() {
            params.set(format!("tags[{i}].key"), k);
            params.set(format!("tags[{i}].value"), v);
        }
        let lookup = || async {
            let p = Params::new()
                .with("resourcetype", resource_type)
                .with("listall", "true");
            let present: Vec<Tag> = self.list_all("listTags", "tag", &p).await?;
            let all = resource_ids.iter().all(|id| {
                tags.iter().all(|(k, v)| {
                    present.iter().any(|t| {
                        t.resourceid.as_deref() == Some(id.as_str())
                            && t.key.as_deref() == Some(k.as_str())
                            && t.value.as_deref() == Some(v.as_str())
                    })
                })
            });
            Ok(all.then(|| Value::Object(Default::default())))
        };
        self.create_with_recovery(CMD, &params, None, lookup)
            .await
            .map(|_| ())
    }

    /// `queryAsyncJobResult` once (no waiting; see [`Client::wait_job`] for that).
    pub async fn query_async_job_result(&self, job_id: &str) -> Result<AsyncJob> {
        const CMD: &str = "queryAsyncJobResult";
        let v = self
            .request(CMD, &Params::new().with("jobid", job_id))
            .await?;
        Self::typed(CMD, v)
    }
}

fn rule_matches(
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

    #[test]
    fn deploy_params() {
        let req = DeployVirtualMachine {
            zone_id: "z".into(),
            service_offering_id: "so".into(),
            template_id: "t".into(),
            name: Some("vm1".into()),
            network_ids: vec!["n1".into(), "n2".into()],
            start_vm: Some(false),
            ..Default::default()
        };
        let p = req.params();
        assert_eq!(p.get("networkids"), Some("n1,n2"));
        assert_eq!(p.get("startvm"), Some("false"));
        assert_eq!(p.get("userdata"), None);
    }
}
