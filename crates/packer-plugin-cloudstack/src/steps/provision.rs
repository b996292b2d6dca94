//! Step 6: run the template's provisioners through Packer's `packer_provision` hook with
//! our SSH communicator.

use packer_sdk::{
    async_trait,
    steps::{Step, StepContext},
    BoxError, Communicator,
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

    async fn run(&self, state: &mut BuildState, ctx: &StepContext) -> Result<(), BoxError> {
        let Some(comm) = state.communicator.clone() else {
            ctx.ui
                .say("No communicator (communicator = none): skipping provisioners")
                .await;
            return Ok(());
        };
        let (host, port) = state.ssh_address.clone().unwrap_or_default();
        // What provisioners can read as `{{ build `Host` }}` etc. Secrets are left out.
        let data = json!({
            "ID": state.vm_id.clone().unwrap_or_default(),
            "Host": host,
            "Port": port,
            "User": state.config.ssh.username,
            "ConnType": "ssh",
            "PackerHTTPAddr": "",
        });
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
}
