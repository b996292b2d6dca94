//! Step 4b: with `eject_iso` on an ISO boot, wait `eject_iso_delay`, then `detachIso`, so
//! the template does not boot the installer again.

use cloudstack::Params;
use packer_sdk::{
    async_trait,
    steps::{Step, StepContext},
    BoxError, BUILD_CANCELLED,
};

use super::BuildState;
use crate::error::Error;

/// See the module docs.
#[derive(Debug)]
pub struct DetachIso;

#[async_trait]
impl Step<BuildState> for DetachIso {
    fn name(&self) -> &str {
        "detach_iso"
    }

    async fn run(&self, state: &mut BuildState, ctx: &StepContext) -> Result<(), BoxError> {
        if !(state.config.eject_iso && state.resolved.source_is_iso) {
            return Ok(());
        }
        let id = state
            .vm_id
            .clone()
            .ok_or("no instance to detach the ISO from")?;
        let delay = state.config.eject_iso_delay;
        if !delay.is_zero() {
            ctx.ui
                .say(format!("Waiting {delay:?} before detaching the ISO..."))
                .await;
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = ctx.cancel.cancelled() => return Err(BUILD_CANCELLED.into()),
            }
        }
        ctx.ui
            .say(format!("Detaching ISO from instance {id}..."))
            .await;
        let params = Params::new().with("virtualmachineid", &id);
        if let Err(e) = state.client.request_async("detachIso", &params).await {
            // A lost answer to a detach that happened makes the retry fail; the VM says.
            let vm = state
                .client
                .list_all_values(
                    "listVirtualMachines",
                    "virtualmachine",
                    &Params::new().with("id", &id).with("listall", "true"),
                )
                .await
                .map_err(Error::api(format!(
                    "checking instance {id} after detachIso"
                )))?;
            let detached = vm.first().is_some_and(|v| v.get("isoid").is_none());
            if !detached {
                return Err(Error::api(format!("detaching the ISO from instance {id}"))(e).into());
            }
        }
        Ok(())
    }
}
