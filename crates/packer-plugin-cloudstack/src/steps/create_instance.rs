//! Step 3: deploy the build VM (`deployVirtualMachine`) and wait until it runs. Networks
//! are passed in Advanced zones only; an ISO boot adds disk offering, hypervisor and size.
//! Cleanup destroys the VM, then expunges it when `expunge` is set (two calls, so destroy
//! works for users without expunge rights); "does not exist" counts as done.

use cloudstack::api::DeployVirtualMachine;
use packer_sdk::{
    async_trait,
    steps::{Step, StepContext},
    BoxError,
};

use super::BuildState;
use crate::error::Error;

/// See the module docs.
#[derive(Debug)]
pub struct CreateInstance;

/// The VM's state, `None` when it is gone.
async fn vm_state(state: &BuildState, id: &str) -> Result<Option<String>, cloudstack::Error> {
    Ok(state
        .client
        .get_virtual_machine_in(id, state.project_id())
        .await?
        .map(|vm| vm.state.unwrap_or_default()))
}

#[async_trait]
impl Step<BuildState> for CreateInstance {
    fn name(&self) -> &str {
        "create_instance"
    }

    fn left_behind(&self, state: &BuildState) -> Vec<String> {
        state
            .vm_id
            .iter()
            .map(|id| {
                format!(
                    "instance {} ({id}): cs destroyVirtualMachine id={id} expunge=true",
                    state.config.instance_name
                )
            })
            .collect()
    }

    async fn run(&self, state: &mut BuildState, ctx: &StepContext) -> Result<(), BoxError> {
        let c = state.config.clone();
        let r = &state.resolved;
        ctx.ui.say("Deploying instance...").await;
        let mut req = DeployVirtualMachine {
            zone_id: r.zone_id.clone(),
            service_offering_id: r.service_offering_id.clone(),
            template_id: r.source_id.clone(),
            name: Some(c.instance_name.clone()),
            display_name: Some(c.instance_display_name.clone()),
            keypair: state.keypair.clone(),
            user_data: r.user_data.clone(),
            ..Default::default()
        };
        if r.zone_advanced {
            req.network_ids = r.network_ids.clone();
        }
        if !r.security_group_ids.is_empty() {
            req.extra
                .set_list("securitygroupids", &r.security_group_ids);
        }
        req.extra.set_opt("projectid", r.project_id.as_deref());
        if r.source_is_iso {
            req.disk_offering_id = r.disk_offering_id.clone();
            req.hypervisor = c.hypervisor.clone();
            if let Some(size) = c.disk_size {
                req.extra.set("size", size.to_string());
            }
        } else {
            req.disk_offering_id = r.disk_offering_id.clone();
            req.hypervisor = c.hypervisor.clone();
            req.root_disk_size = c.disk_size.filter(|s| *s > 0);
        }
        // While the deploy job runs (and the VM starts), show the VM's state once its id is
        // known, else the time waited.
        let st: &BuildState = state;
        let probe = |elapsed: std::time::Duration| {
            let id = st.accepted.last_id("deployVirtualMachine");
            let name = c.instance_name.clone();
            async move {
                let vm_state = match &id {
                    Some(id) => vm_state(st, id).await.ok().flatten(),
                    None => None,
                };
                format!(
                    "Instance {name}: {} ({} elapsed)",
                    vm_state.unwrap_or_else(|| "deploying".into()),
                    super::elapsed_text(elapsed)
                )
            }
        };
        let deploying =
            super::with_progress(&ctx.ui, st.client.deploy_virtual_machine(&req), probe);
        let vm = match deploying.await {
            Ok(vm) => vm,
            Err(e) => {
                // The VM may exist even though the answer was lost or its job failed late:
                // take the id CloudStack gave, else find it by its (per-build) name, so
                // cleanup removes it.
                state.vm_id = match state.accepted.last_id("deployVirtualMachine") {
                    Some(id) => Some(id),
                    None => state
                        .client
                        .find_virtual_machine_by_name(
                            &req.zone_id,
                            &c.instance_name,
                            state.project_id(),
                        )
                        .await
                        .ok()
                        .flatten()
                        .map(|vm| vm.id),
                };
                if let Some(id) = &state.vm_id {
                    ctx.ui
                        .message(format!(
                            "Instance {} was created (id {id}) before the failure; cleanup \
                             destroys it",
                            c.instance_name
                        ))
                        .await;
                }
                return Err(Error::api(format!(
                    "deploying instance {} (check the zone, offering, template and network, \
                     and the account's limits)",
                    c.instance_name
                ))(e)
                .into());
            }
        };
        state.vm_id = Some(vm.id.clone());
        ctx.ui
            .message(format!("Instance {} has id {}", c.instance_name, vm.id))
            .await;
        let password = vm.password.clone().filter(|p| !p.is_empty());
        let vm = if vm.state.as_deref() == Some("Running") {
            vm
        } else {
            ctx.ui
                .say("Waiting for the instance to be Running...")
                .await;
            let id = vm.id.clone();
            let st: &BuildState = state;
            let probe = |elapsed: std::time::Duration| {
                let id = id.clone();
                async move {
                    let now = vm_state(st, &id).await.ok().flatten();
                    format!(
                        "Instance {id}: {} ({} elapsed)",
                        now.unwrap_or_else(|| "unknown".into()),
                        super::elapsed_text(elapsed)
                    )
                }
            };
            let waiting = super::with_progress(
                &ctx.ui,
                st.client
                    .wait_virtual_machine_settled_in(&vm.id, st.project_id()),
                probe,
            );
            let settled = super::unless_cancelled(ctx, async {
                waiting
                    .await
                    .map_err(Error::api(format!("waiting for instance {}", vm.id)))
            })
            .await?;
            if settled.state.as_deref() != Some("Running") {
                return Err(format!(
                    "instance {} is {} instead of Running; see its events in CloudStack",
                    vm.id,
                    settled.state.unwrap_or_default()
                )
                .into());
            }
            settled
        };
        if state.ssh_password.is_none() {
            if let Some(p) = password {
                ctx.ui
                    .message("Using the password CloudStack set on the instance for SSH")
                    .await;
                state.ssh_password = Some(p);
            }
        }
        state.vm_ip = vm.ip_address().map(str::to_string);
        state.vm_os_type_id = vm.guestosid.clone().or(vm.ostypeid.clone());
        if !c.tags.is_empty() {
            let tags: Vec<(String, String)> =
                c.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            state
                .client
                .create_tags("UserVm", std::slice::from_ref(&vm.id), &tags)
                .await
                .map_err(Error::api(format!("tagging instance {}", vm.id)))?;
        }
        ctx.ui
            .message(format!(
                "Instance {} is Running (IP {})",
                vm.id,
                state.vm_ip.as_deref().unwrap_or("unknown")
            ))
            .await;
        Ok(())
    }

    async fn cleanup(&self, state: &mut BuildState, ctx: &StepContext) {
        let Some(id) = state.vm_id.take() else {
            return;
        };
        let (st, vm): (&BuildState, &str) = (state, &id);
        ctx.ui.say(format!("Destroying instance {id}...")).await;
        // An answer lost after the server acted makes the retried call fail ("already
        // destroyed"); the VM's state, read afterwards, is what counts.
        let destroyed = super::clean_up(
            st,
            ctx,
            &format!("destroying instance {id}"),
            &format!("destroy it yourself (destroyVirtualMachine id={id} expunge=true)"),
            || async move {
                let Err(e) = st.client.destroy_virtual_machine(vm, false).await else {
                    return Ok(());
                };
                match vm_state(st, vm).await? {
                    None => Ok(()),
                    Some(s) if s == "Destroyed" || s == "Expunging" => Ok(()),
                    Some(_) => Err(e),
                }
            },
        )
        .await;
        if destroyed && st.config.expunge {
            ctx.ui.say(format!("Expunging instance {id}...")).await;
            super::clean_up(
                st,
                ctx,
                &format!("expunging instance {id}"),
                &format!("it is destroyed but not expunged (expungeVirtualMachine id={id})"),
                || async move {
                    let Err(e) = st.client.expunge_virtual_machine(vm).await else {
                        return Ok(());
                    };
                    match vm_state(st, vm).await? {
                        None => Ok(()),
                        Some(_) => Err(e),
                    }
                },
            )
            .await;
        }
    }
}
