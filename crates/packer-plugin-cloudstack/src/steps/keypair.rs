//! Step 2: the SSH key pair. A temporary `packer_<uuid>` key pair is created with
//! `createSSHKeyPair` unless the template brings its own key (`ssh_private_key_file`), an
//! existing key pair (`ssh_keypair_name`/`keypair`), a password or the SSH agent
//! (`ssh_agent_auth`); cleanup deletes it.

use packer_sdk::{
    async_trait,
    steps::{Step, StepContext},
    BoxError,
};

use super::BuildState;
use crate::error::Error;

/// See the module docs.
#[derive(Debug)]
pub struct Keypair;

/// Writes a private key readable by its owner only.
fn write_private(path: &str, pem: &str) -> std::io::Result<()> {
    use std::{io::Write as _, os::unix::fs::OpenOptionsExt as _};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(pem.as_bytes())
}

#[async_trait]
impl Step<BuildState> for Keypair {
    fn name(&self) -> &str {
        "keypair"
    }

    fn left_behind(&self, state: &BuildState) -> Vec<String> {
        state
            .temporary_keypair
            .iter()
            .map(|name| {
                format!(
                    "temporary SSH key pair {name}: cs deleteSSHKeyPair name={name}{}",
                    state.cs_project_arg()
                )
            })
            .collect()
    }

    async fn run(&self, state: &mut BuildState, ctx: &StepContext) -> Result<(), BoxError> {
        let c = state.config.clone();
        state.ssh_password = c.ssh.password.clone();
        if let Some(path) = &c.ssh.private_key_file {
            let pem = std::fs::read_to_string(path).map_err(Error::io(format!(
                "ssh_private_key_file: reading {}",
                path.display()
            )))?;
            ctx.ui
                .say(format!("Using SSH private key file {}", path.display()))
                .await;
            state.private_key_pem = Some(pem);
            state.keypair = c.ssh.keypair_name.clone();
            return Ok(());
        }
        if let Some(name) = &c.ssh.keypair_name {
            ctx.ui
                .say(format!("Using existing SSH key pair {name}"))
                .await;
            state.keypair = Some(name.clone());
            return Ok(());
        }
        if c.ssh.password.is_some() || c.communicator_none {
            return Ok(());
        }
        if c.ssh.agent_auth {
            // The Go builder's behaviour: the agent's key is already in the source image.
            ctx.ui
                .say("Using SSH Agent with key pair in source image")
                .await;
            return Ok(());
        }
        let name = c.temporary_keypair_name.clone();
        ctx.ui.say("Creating temporary SSH key pair...").await;
        // Recorded before the call: if the outcome is unknown, cleanup still deletes it.
        state.temporary_keypair = Some(name.clone());
        let kp = state
            .client
            .create_ssh_key_pair_in(&name, state.project_id())
            .await
            .map_err(Error::api(format!(
                "creating temporary SSH key pair {name}"
            )))?;
        let pem = kp.privatekey.ok_or_else(|| {
            Error::Build(format!(
                "createSSHKeyPair answered without a private key for {name}; set \
                 ssh_private_key_file or ssh_password instead"
            ))
        })?;
        ctx.ui
            .message(format!(
                "Created temporary SSH key pair {name} (fingerprint {})",
                kp.fingerprint.unwrap_or_default()
            ))
            .await;
        if c.packer_debug {
            // `packer build -debug`: keep the key so the user can log in between steps.
            let path = format!("cs_{}.pem", c.build_name);
            ctx.ui
                .message(format!("Saving key for debug purposes: {path}"))
                .await;
            write_private(&path, &pem)
                .map_err(Error::io(format!("saving the debug key to {path}")))?;
        }
        state.private_key_pem = Some(pem);
        state.keypair = Some(name);
        Ok(())
    }

    async fn cleanup(&self, state: &mut BuildState, ctx: &StepContext) {
        let Some(name) = state.temporary_keypair.take() else {
            return;
        };
        ctx.ui
            .say(format!("Deleting temporary SSH key pair {name}..."))
            .await;
        super::clean_up(
            state,
            ctx,
            &format!("deleting temporary SSH key pair {name}"),
            &format!(
                "delete it yourself (deleteSSHKeyPair name={name}{})",
                state.cs_project_arg()
            ),
            || {
                state
                    .client
                    .delete_ssh_key_pair_in(&name, state.project_id())
            },
        )
        .await;
    }
}
