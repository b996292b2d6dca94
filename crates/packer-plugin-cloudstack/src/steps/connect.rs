//! Step 5: connect over SSH, retrying until `ssh_timeout`. Host: `ssh_host`, else the
//! public IP (or the VM's private IP with `use_local_ip_address`); port: the public port of
//! the port forward (or `ssh_port`).

use std::sync::Arc;

use packer_sdk::{
    async_trait,
    steps::{Step, StepContext},
    BoxError,
};

use super::BuildState;
use crate::ssh::{SshAuth, SshCommunicator, SshTarget};

/// See the module docs.
#[derive(Debug)]
pub struct Connect;

#[async_trait]
impl Step<BuildState> for Connect {
    fn name(&self) -> &str {
        "connect"
    }

    async fn run(&self, state: &mut BuildState, ctx: &StepContext) -> Result<(), BoxError> {
        let c = state.config.clone();
        if c.communicator_none {
            return Ok(());
        }
        let (host, port) = if c.use_local_ip_address {
            let ip = state
                .vm_ip
                .clone()
                .ok_or("use_local_ip_address: the instance has no IP address on its NIC")?;
            (ip, c.ssh.port)
        } else {
            let ip = state
                .public_ip
                .as_ref()
                .map(|p| p.1.clone())
                .ok_or("no public IP address to connect to")?;
            (ip, state.public_port.unwrap_or(c.ssh.port))
        };
        let host = c.ssh.host.clone().unwrap_or(host);
        let mut auth = Vec::new();
        if let Some(pem) = &state.private_key_pem {
            auth.push(SshAuth::from_pem(pem)?);
        }
        if let Some(p) = &state.ssh_password {
            auth.push(SshAuth::Password(p.clone()));
        }
        if auth.is_empty() {
            return Err(format!(
                "no SSH credentials: the key pair {:?} has no private key here; set \
                 ssh_private_key_file or ssh_password",
                state.keypair.as_deref().unwrap_or_default()
            )
            .into());
        }
        if !c.ssh.pause_before_connecting.is_zero() {
            ctx.ui
                .say(format!(
                    "Waiting {:?} before connecting...",
                    c.ssh.pause_before_connecting
                ))
                .await;
            tokio::select! {
                () = tokio::time::sleep(c.ssh.pause_before_connecting) => {}
                () = ctx.cancel.cancelled() => return Err(packer_sdk::BUILD_CANCELLED.into()),
            }
        }
        ctx.ui
            .say(format!(
                "Waiting for SSH to become available on {host}:{port}..."
            ))
            .await;
        let target = SshTarget {
            host: host.clone(),
            port,
            username: c.ssh.username.clone(),
            auth,
            keep_alive_interval: c.ssh.keep_alive_interval,
        };
        let comm = SshCommunicator::connect_with_retry(
            &target,
            c.ssh.timeout,
            c.ssh.handshake_attempts,
            &ctx.cancel,
            Some(&ctx.ui),
        )
        .await?;
        ctx.ui.say("Connected to SSH!").await;
        state.ssh_address = Some((host, port));
        state.communicator = Some(Arc::new(comm));
        Ok(())
    }

    async fn cleanup(&self, state: &mut BuildState, _ctx: &StepContext) {
        if let Some(comm) = state.communicator.take() {
            comm.close().await;
        }
    }
}
