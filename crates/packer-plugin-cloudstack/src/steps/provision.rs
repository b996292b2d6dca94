//! Step 6: run the template's provisioners through Packer's `packer_provision` hook with
//! our SSH communicator. After a failed or cancelled build its cleanup runs the template's
//! `error-cleanup-provisioner` (hook `packer_cleanup_provision`), also under
//! `-on-error=run-cleanup-provisioner`, as the Go SDK's `StepProvision` does.

use packer_sdk::{
    async_trait,
    steps::{Step, StepContext},
    BoxError, CancellationToken, Communicator, HOOK_CLEANUP_PROVISION,
};
use serde_json::json;

use super::BuildState;

/// See the module docs.
#[derive(Debug)]
pub struct Provision;

#[async_trait]
impl Step<BuildState> for Provision {
    fn name(&self) -> &str {
        "provision"
    }

    fn runs_cleanup_provisioner(&self) -> bool {
        true
    }

    async fn run(&self, state: &mut BuildState, ctx: &StepContext) -> Result<(), BoxError> {
        let Some(comm) = state.communicator.clone() else {
            ctx.ui
                .say("No communicator (communicator = none): skipping provisioners")
                .await;
            return Ok(());
        };
        let data = hook_data(state);
        ctx.ui
            .say("Provisioning with the template's provisioners...")
            .await;
        let comm: std::sync::Arc<dyn Communicator> = comm;
        ctx.hook
            .run_provision(comm, data, &ctx.cancel)
            .await
            .map_err(|e| format!("provisioning failed: {e}"))?;
        Ok(())
    }

    async fn cleanup(&self, state: &mut BuildState, ctx: &StepContext) {
        let Some(comm) = state.communicator.clone() else {
            return;
        };
        if !ctx.halted {
            return;
        }
        let comm: std::sync::Arc<dyn Communicator> = comm;
        // Runs even after a cancel (Packer only has a provisioner here if the template
        // declares one).
        let not_cancelled = CancellationToken::new();
        if let Err(e) = ctx
            .hook
            .run(
                HOOK_CLEANUP_PROVISION,
                Some(comm),
                hook_data(state),
                &not_cancelled,
            )
            .await
        {
            ctx.ui
                .error(format!("error-cleanup-provisioner failed: {e}"))
                .await;
        }
    }
}

/// What provisioners can read as `{{ build `Host` }}` etc. Secrets are left out.
fn hook_data(state: &BuildState) -> serde_json::Value {
    let (host, port) = state.ssh_address.clone().unwrap_or_default();
    json!({
        "ID": state.vm_id.clone().unwrap_or_default(),
        "Host": host,
        "Port": port,
        "User": state.config.ssh.username,
        "ConnType": "ssh",
        "PackerHTTPAddr": "",
    })
}
