//! Step 8b: with `ssh_clear_authorized_keys`, remove the temporary key pair's public key
//! from the login user's and root's `authorized_keys` before the VM stops, so the new
//! template does not let that key in (the Go SDK's `StepCleanupTempKeys`, same commands).
//! Only the build's own temporary key is removed; failures are reported, not fatal.

use packer_sdk::{
    async_trait,
    steps::{Step, StepContext},
    BoxError,
};

use super::BuildState;
use ssh_communicator::public_key_blob;

/// See the module docs.
#[derive(Debug)]
pub struct ClearAuthorizedKeys;

#[async_trait]
impl Step<BuildState> for ClearAuthorizedKeys {
    fn name(&self) -> &str {
        "clear_authorized_keys"
    }

    async fn run(&self, state: &mut BuildState, ctx: &StepContext) -> Result<(), BoxError> {
        if !state.config.ssh.clear_authorized_keys || state.temporary_keypair.is_none() {
            return Ok(());
        }
        let (Some(comm), Some(pem)) = (state.communicator.clone(), &state.private_key_pem) else {
            return Ok(());
        };
        let blob = public_key_blob(pem).map_err(crate::Error::from)?;
        ctx.ui
            .say("Trying to remove ephemeral keys from authorized_keys files")
            .await;
        // The base64 blob has no sed metacharacters but '/' and '+': escape the delimiter.
        let pattern = blob.replace('/', "\\/");
        for command in [
            format!(
                "sed -i.bak '/ {pattern}/d' ~/.ssh/authorized_keys; rm -f ~/.ssh/authorized_keys.bak"
            ),
            format!(
                "sudo sed -i.bak '/ {pattern}/d' /root/.ssh/authorized_keys; sudo rm -f \
                 /root/.ssh/authorized_keys.bak"
            ),
        ] {
            match comm.session().run(&command).await {
                Ok((0, _)) => {}
                Ok((code, output)) => {
                    ctx.ui
                        .message(format!(
                            "Removing the key exited with {code}: {}",
                            output.trim()
                        ))
                        .await
                }
                Err(e) => {
                    ctx.ui
                        .error(format!("Error removing the temporary key: {e}"))
                        .await
                }
            }
        }
        Ok(())
    }
}
