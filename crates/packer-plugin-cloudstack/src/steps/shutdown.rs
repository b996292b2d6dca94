//! Step 7: stop the VM (`stopVirtualMachine`) so its ROOT volume can become a template.

use packer_sdk::{
    async_trait,
    steps::{Step, StepContext},
    BoxError,
};

use super::BuildState;
use crate::error::Error;

/// See the module docs.
#[derive(Debug)]
pub struct Shutdown;

#[async_trait]
impl Step<BuildState> for Shutdown {
    fn name(&self) -> &str {
        "shutdown"
    }

    async fn run(&self, state: &mut BuildState, ctx: &StepContext) -> Result<(), BoxError> {
        // The SSH session ends first: the machine is going away.
        if let Some(comm) = state.communicator.take() {
            comm.session().close().await;
        }
        let id = state.vm_id.clone().ok_or("no instance to stop")?;
        ctx.ui.say(format!("Stopping instance {id}...")).await;
        let vm = state
            .client
            .stop_virtual_machine_in(&id, false, state.project_id())
            .await
            .map_err(Error::api(format!("stopping instance {id}")))?;
        if vm.state.as_deref() != Some("Stopped") {
            return Err(format!(
                "instance {id} is {} after stopVirtualMachine, not Stopped",
                vm.state.unwrap_or_default()
            )
            .into());
        }
        ctx.ui.message(format!("Instance {id} is Stopped")).await;
        Ok(())
    }
}
