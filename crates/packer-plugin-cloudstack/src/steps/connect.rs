//! Step 5: connect over SSH, retrying until `ssh_timeout`. Host: `ssh_host`, else the
//! public IP (or the VM's private IP with `use_local_ip_address`); port: the public port of
//! the port forward (or `ssh_port`).

use std::sync::Arc;

use packer_sdk::{
    async_trait,
    steps::{Step, StepContext},
    BoxError,
};

use ssh_communicator::{Auth, Endpoint, Error as SshError, Retry, Session, Target};

use super::BuildState;
use crate::{communicator::SshCommunicator, config::BastionConfig};

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
        match (&c.ssh.certificate_file, &c.ssh.private_key_file) {
            (Some(cert), Some(key)) => auth.push(
                Auth::from_key_and_certificate_files(key, cert)
                    .map_err(|e| format!("ssh_certificate_file: {e}"))?,
            ),
            _ => {
                if let Some(pem) = &state.private_key_pem {
                    auth.push(Auth::from_pem(pem).map_err(crate::Error::from)?);
                }
            }
        }
        if c.ssh.agent_auth {
            auth.push(Auth::Agent);
        }
        if let Some(p) = &state.ssh_password {
            auth.push(Auth::Password(p.clone()));
        }
        if auth.is_empty() {
            return Err(format!(
                "no SSH credentials: the key pair {:?} has no private key here; set \
                 ssh_private_key_file, ssh_agent_auth or ssh_password",
                state.keypair.as_deref().unwrap_or_default()
            )
            .into());
        }
        let bastion = c.ssh.bastion.as_ref().map(bastion_endpoint).transpose()?;
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
        let through = bastion
            .as_ref()
            .map(|b| format!(" through the bastion host {}:{}", b.host, b.port))
            .unwrap_or_default();
        ctx.ui
            .say(format!(
                "Waiting for SSH to become available on {host}:{port}{through}..."
            ))
            .await;
        let target = Target {
            bastion,
            keep_alive_interval: c.ssh.keep_alive_interval,
            read_write_timeout: c.ssh.read_write_timeout,
            transfer: c.ssh.file_transfer,
            ..Target::new(Endpoint {
                host: host.clone(),
                port,
                username: c.ssh.username.clone(),
                auth,
            })
        };
        let retry = Retry {
            timeout: c.ssh.timeout,
            max_auth_refusals: c.ssh.handshake_attempts,
        };
        let ui = ctx.ui.clone();
        let session = Session::connect_with_retry(&target, retry, &ctx.cancel, |attempt, e| {
            let ui = ui.clone();
            let note =
                (attempt % 5 == 1).then(|| format!("Waiting for SSH to become available... ({e})"));
            async move {
                if let Some(note) = note {
                    ui.message(note).await;
                }
            }
        })
        .await
        .map_err(with_fix)?;
        ctx.ui.say("Connected to SSH!").await;
        state.ssh_address = Some((host, port));
        state.communicator = Some(Arc::new(SshCommunicator::new(session)));
        Ok(())
    }

    async fn cleanup(&self, state: &mut BuildState, _ctx: &StepContext) {
        if let Some(comm) = state.communicator.take() {
            comm.session().close().await;
        }
    }
}

/// The bastion's login: password, key file, agent, in the Go SDK's order.
fn bastion_endpoint(b: &BastionConfig) -> Result<Endpoint, BoxError> {
    let mut auth = Vec::new();
    if let Some(p) = &b.password {
        auth.push(Auth::Password(p.clone()));
    }
    if let Some(path) = &b.private_key_file {
        let key = match &b.certificate_file {
            Some(cert) => Auth::from_key_and_certificate_files(path, cert)
                .map_err(|e| format!("ssh_bastion_certificate_file: {e}"))?,
            None => Auth::from_key_file(path)
                .map_err(|e| format!("ssh_bastion_private_key_file: {e}"))?,
        };
        auth.push(key);
    }
    if b.agent_auth {
        auth.push(Auth::Agent);
    }
    Ok(Endpoint {
        host: b.host.clone(),
        port: b.port,
        username: b.username.clone(),
        auth,
    })
}

/// Names the template fields that decide a connection failure, and what to check.
fn with_fix(e: SshError) -> BoxError {
    match e {
        SshError::Cancelled => packer_sdk::BUILD_CANCELLED.into(),
        SshError::GaveUp { .. } => format!(
            "{e} (ssh_timeout). Check that the VM boots, that the address is reachable from \
             here, and the credentials"
        )
        .into(),
        SshError::Refused { .. } => {
            format!("{e} (ssh_handshake_attempts). Check ssh_username and the key or password")
                .into()
        }
        other => Box::new(other),
    }
}
