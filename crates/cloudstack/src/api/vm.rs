//! Virtual machines: deploy (recovered by name in the zone), start, stop, destroy.

use std::time::Instant;

use crate::{
    client::Client,
    error::{Error, Result},
    model::VirtualMachine,
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

impl Client {
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
        let project = req.extra.get("projectid").map(str::to_string);
        let lookup = || async {
            let vm = self
                .find_virtual_machine_by_name(&req.zone_id, &name, project.as_deref())
                .await?;
            Ok(vm.map(|vm| serde_json::to_value(vm).unwrap_or_default()))
        };
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
            let mut settled = self
                .wait_virtual_machine_settled_in(&vm.id, project.as_deref())
                .await?;
            settled.password = settled.password.or(password);
            return Ok(settled);
        }
        Ok(vm)
    }

    /// Polls a VM (with the job backoff and `async_timeout`) until it leaves a transitional
    /// state (Creating, Starting, Stopping, Migrating).
    pub async fn wait_virtual_machine_settled(&self, id: &str) -> Result<VirtualMachine> {
        self.wait_virtual_machine_settled_in(id, None).await
    }

    /// [`Client::wait_virtual_machine_settled`] for a VM of a project (`projectid`: CloudStack
    /// lists a project's VMs only with it).
    pub async fn wait_virtual_machine_settled_in(
        &self,
        id: &str,
        project_id: Option<&str>,
    ) -> Result<VirtualMachine> {
        let cfg = &self.inner.config;
        let started = Instant::now();
        let mut delay = cfg.poll_initial;
        loop {
            let vm = self
                .get_virtual_machine_in(id, project_id)
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

    /// The VM named `name` in zone `zone_id` (in project `project_id` when given), ignoring
    /// destroyed ones: how a deploy whose answer was lost is found again (VM names are unique
    /// among the live VMs of a zone's network, so two live matches are an error).
    pub async fn find_virtual_machine_by_name(
        &self,
        zone_id: &str,
        name: &str,
        project_id: Option<&str>,
    ) -> Result<Option<VirtualMachine>> {
        let mut p = Params::new()
            .with("zoneid", zone_id)
            .with("name", name)
            .with("listall", "true");
        p.set_opt("projectid", project_id);
        let mut live: Vec<VirtualMachine> = self
            .list_virtual_machines(&p)
            .await?
            .into_iter()
            .filter(|v| v.name.as_deref() == Some(name) && !v.is_gone())
            .collect();
        match live.len() {
            0 | 1 => Ok(live.pop()),
            _ => Err(Error::Ambiguous {
                kind: "virtual machine",
                name: name.to_string(),
                matches: live.into_iter().map(|v| (name.to_string(), v.id)).collect(),
            }),
        }
    }

    /// `listVirtualMachines`, all pages.
    pub async fn list_virtual_machines(&self, params: &Params) -> Result<Vec<VirtualMachine>> {
        self.list_all("listVirtualMachines", "virtualmachine", params)
            .await
    }

    /// One VM by id (`listall=true`), `None` if it does not exist (or is expunged).
    pub async fn get_virtual_machine(&self, id: &str) -> Result<Option<VirtualMachine>> {
        self.get_virtual_machine_in(id, None).await
    }

    /// [`Client::get_virtual_machine`] of a project's VM (`projectid`).
    pub async fn get_virtual_machine_in(
        &self,
        id: &str,
        project_id: Option<&str>,
    ) -> Result<Option<VirtualMachine>> {
        let mut p = Params::new().with("id", id).with("listall", "true");
        p.set_opt("projectid", project_id);
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
            (id, None),
            &["Running", "Starting"],
            Params::new(),
        )
        .await
    }

    /// `stopVirtualMachine` (`forced` → `forced=true`); recovers like
    /// [`Client::start_virtual_machine`].
    pub async fn stop_virtual_machine(&self, id: &str, forced: bool) -> Result<VirtualMachine> {
        self.stop_virtual_machine_in(id, forced, None).await
    }

    /// [`Client::stop_virtual_machine`] of a project's VM (read back with `projectid`).
    pub async fn stop_virtual_machine_in(
        &self,
        id: &str,
        forced: bool,
        project_id: Option<&str>,
    ) -> Result<VirtualMachine> {
        let mut extra = Params::new();
        if forced {
            extra.set("forced", "true");
        }
        self.vm_transition(
            "stopVirtualMachine",
            (id, project_id),
            &["Stopped", "Stopping"],
            extra,
        )
        .await
    }

    async fn vm_transition(
        &self,
        command: &str,
        (id, project_id): (&str, Option<&str>),
        reached: &[&str],
        extra: Params,
    ) -> Result<VirtualMachine> {
        let params = extra.with("id", id);
        let lookup = || async {
            Ok(self
                .get_virtual_machine_in(id, project_id)
                .await?
                .and_then(|vm| {
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
            return self
                .wait_virtual_machine_settled_in(&vm.id, project_id)
                .await;
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
