//! The embedded SSH server (russh) that answers a VM's forwarded port 22.
//!
//! Login: any user name with the VM's key pair (public key) or its deploy password.
//! Channels: `exec`, `shell` (a pty request is accepted and ignored: no terminal), `env`,
//! and the `sftp` subsystem; each request runs through [`super::exec::run`].

use super::exec::{self, Request};
use super::{Sandbox, VmInfo};
use crate::error::Error;
use russh::keys::{ssh_key, PrivateKey, PublicKey};
use russh::server::{Auth, Msg, Session};
use russh::{Channel, ChannelId, MethodKind, MethodSet};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Loads the simulator's host key from `path`, creating it (Ed25519) on first use, so
/// clients see the same key across restarts.
pub fn host_key(path: &Path) -> Result<PrivateKey, Error> {
    if path.exists() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        return PrivateKey::from_openssh(text.as_bytes())
            .map_err(|e| Error::Config(format!("host key {}: {e}", path.display())));
    }
    use rand::RngCore as _;
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let pair = ssh_key::private::Ed25519Keypair::from_seed(&seed);
    let key = PrivateKey::from(pair);
    let text = key
        .to_openssh(ssh_key::LineEnding::LF)
        .map_err(|e| Error::Config(format!("encoding host key: {e}")))?;
    {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
        f.write_all(text.as_bytes())
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    }
    Ok(key)
}

/// Server configuration: our host key, public key and password logins, no idle timeout
/// (a long provisioning step may send nothing for minutes).
pub fn config(key: PrivateKey) -> russh::server::Config {
    russh::server::Config {
        server_id: russh::SshId::Standard("SSH-2.0-OpenSSH_6.6.1p1 cloudstack-sim".into()),
        methods: MethodSet::from(&[MethodKind::PublicKey, MethodKind::Password][..]),
        auth_rejection_time: Duration::from_millis(200),
        auth_rejection_time_initial: Some(Duration::ZERO),
        keys: vec![key],
        inactivity_timeout: None,
        ..Default::default()
    }
}

/// Runs the SSH protocol on one accepted connection, in the background.
pub fn serve(sandbox: Arc<Sandbox>, stream: tokio::net::TcpStream, vm: VmInfo) {
    let keys = vm
        .public_keys
        .iter()
        .filter_map(|line| PublicKey::from_openssh(line.trim()).ok())
        .collect();
    let handler = Connection {
        sandbox: sandbox.clone(),
        vm,
        keys,
        user: None,
        channels: HashMap::new(),
        env: HashMap::new(),
    };
    let config = sandbox.ssh_config.clone();
    tokio::spawn(async move {
        let _ = stream.set_nodelay(true);
        match russh::server::run_stream(config, stream, handler).await {
            Ok(session) => {
                if let Err(e) = session.await {
                    tracing::debug!(error = %e, "VM SSH session ended with an error");
                }
            }
            Err(e) => tracing::debug!(error = %e, "VM SSH handshake failed"),
        }
    });
}

/// One SSH connection to one VM.
struct Connection {
    sandbox: Arc<Sandbox>,
    vm: VmInfo,
    keys: Vec<PublicKey>,
    user: Option<String>,
    channels: HashMap<ChannelId, Channel<Msg>>,
    env: HashMap<ChannelId, Vec<(String, String)>>,
}

/// A user name safe to use as a home directory name (`ubuntu` otherwise).
fn login_name(user: &str) -> String {
    let ok = !user.is_empty()
        && user.len() <= 32
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && !user.starts_with('.');
    if ok {
        user.to_string()
    } else {
        "ubuntu".to_string()
    }
}

impl Connection {
    fn accepts(&self, key: &PublicKey) -> bool {
        self.keys.iter().any(|k| k.key_data() == key.key_data())
    }

    fn start(
        &mut self,
        id: ChannelId,
        request: Request,
        session: &mut Session,
    ) -> Result<(), russh::Error> {
        let Some(channel) = self.channels.remove(&id) else {
            session.channel_failure(id)?;
            return Ok(());
        };
        session.channel_success(id)?;
        let env = self.env.remove(&id).unwrap_or_default();
        let user = self.user.clone().unwrap_or_else(|| "ubuntu".into());
        tokio::spawn(exec::run(
            self.sandbox.clone(),
            self.vm.clone(),
            user,
            env,
            channel,
            request,
        ));
        Ok(())
    }
}

impl russh::server::Handler for Connection {
    type Error = russh::Error;

    async fn auth_publickey_offered(
        &mut self,
        _user: &str,
        offer: russh::server::PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(if self.accepts(offer.public_key) {
            Auth::Accept
        } else {
            Auth::reject()
        })
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: russh::server::VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        if self.accepts(key.public_key) {
            self.user = Some(login_name(user));
            tracing::info!(vm = %self.vm.name, %user, "VM SSH login (public key)");
            Ok(Auth::Accept)
        } else {
            Ok(Auth::reject())
        }
    }

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        match &self.vm.password {
            Some(p) if !p.is_empty() && p == password => {
                self.user = Some(login_name(user));
                tracing::info!(vm = %self.vm.name, %user, "VM SSH login (password)");
                Ok(Auth::Accept)
            }
            _ => Ok(Auth::reject()),
        }
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.insert(channel.id(), channel);
        reply.accept().await;
        Ok(())
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        value: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let ok = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !matches!(name, "PATH" | "HOME" | "USER" | "LOGNAME" | "SHELL");
        if ok {
            self.env
                .entry(channel)
                .or_default()
                .push((name.to_string(), value.to_string()));
            session.channel_success(channel)?;
        } else {
            session.channel_failure(channel)?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)?;
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let command = String::from_utf8_lossy(data).into_owned();
        self.start(channel, Request::Exec(command), session)
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.start(channel, Request::Shell, session)
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if name == "sftp" && self.sandbox.sftp_server.is_some() {
            self.start(channel, Request::Sftp, session)
        } else {
            session.channel_failure(channel)?;
            Ok(())
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn login_names_are_safe_directory_names() {
        assert_eq!(login_name("ubuntu"), "ubuntu");
        assert_eq!(login_name("root"), "root");
        assert_eq!(login_name("../etc"), "ubuntu");
        assert_eq!(login_name(".."), "ubuntu");
        assert_eq!(login_name(""), "ubuntu");
    }
}
