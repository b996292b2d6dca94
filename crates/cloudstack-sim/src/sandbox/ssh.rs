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
    use russh::keys::PrivateKeyWithHashAlg;

    struct TrustAll;
    impl russh::client::Handler for TrustAll {
        type Error = russh::Error;
        async fn check_server_key(
            &mut self,
            _key: &russh::keys::PublicKeyOrCertificate,
        ) -> Result<bool, Self::Error> {
            Ok(true)
        }
    }

    fn client_key(seed: u8) -> PrivateKey {
        PrivateKey::from(ssh_key::private::Ed25519Keypair::from_seed(&[seed; 32]))
    }

    /// Serves one VM on a loopback port with the given sandbox, like the forwarder does.
    async fn serve_vm(sandbox: Arc<Sandbox>, vm: VmInfo) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                serve(sandbox.clone(), stream, vm.clone());
            }
        });
        addr
    }

    /// Runs `command` as `user` with `key`; `None` when the login is refused.
    async fn exec(
        addr: std::net::SocketAddr,
        key: PrivateKey,
        command: &str,
    ) -> Option<(String, String, Option<u32>)> {
        let config = Arc::new(russh::client::Config::default());
        let mut session = russh::client::connect(config, addr, TrustAll)
            .await
            .unwrap();
        let auth = session
            .authenticate_publickey("ubuntu", PrivateKeyWithHashAlg::new(Arc::new(key), None))
            .await
            .unwrap();
        if !auth.success() {
            return None;
        }
        let mut channel = session.channel_open_session().await.unwrap();
        channel.exec(true, command).await.unwrap();
        let (mut out, mut err, mut code) = (Vec::new(), Vec::new(), None);
        while let Some(msg) = channel.wait().await {
            match msg {
                russh::ChannelMsg::Data { data } => out.extend_from_slice(&data),
                russh::ChannelMsg::ExtendedData { data, ext: 1 } => err.extend_from_slice(&data),
                russh::ChannelMsg::ExitStatus { exit_status } => code = Some(exit_status),
                _ => {}
            }
        }
        Some((
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
            code,
        ))
    }

    fn vm_with(key: &PrivateKey) -> VmInfo {
        VmInfo {
            id: "0123abcd-0000-4000-8000-000000000000".into(),
            name: "unit-vm".into(),
            public_keys: vec![key.public_key().to_openssh().unwrap()],
            password: None,
        }
    }

    #[tokio::test]
    async fn without_namespaces_commands_fail_with_a_clear_message() {
        let dir = tempfile::tempdir().unwrap();
        let mut sandbox = Sandbox::new(dir.path(), &[]).unwrap();
        sandbox.unavailable = Some("the simulator runs as uid 1000, not root".into());
        let key = client_key(7);
        let addr = serve_vm(Arc::new(sandbox), vm_with(&key)).await;
        let (out, err, code) = exec(addr, key, "echo hi").await.unwrap();
        assert_eq!(out, "");
        assert_eq!(
            err,
            "cloudstack-sim: VM sandboxes need root for mount namespaces: the simulator runs as uid 1000, not root\n"
        );
        assert_eq!(code, Some(1));
    }

    #[tokio::test]
    async fn streams_and_exit_status_and_only_the_vm_key_logs_in() {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = Sandbox::new(dir.path(), &[]).unwrap();
        let unavailable = sandbox.unavailable().map(|r| format!("VM sandboxes: {r}"));
        if mesostack_e2e::require(
            unavailable.is_none().then_some(()),
            &unavailable.unwrap_or_default(),
        )
        .is_none()
        {
            return;
        }
        let key = client_key(7);
        let vm = vm_with(&key);
        let root = sandbox.vm_root(&vm.id, &vm.name);
        let addr = serve_vm(Arc::new(sandbox), vm).await;
        assert!(exec(addr, client_key(8), "true").await.is_none());
        let (out, err, code) = exec(
            addr,
            key,
            "echo out; echo err >&2; mkdir -p /etc/unit && echo $USER > /etc/unit/who; exit 7",
        )
        .await
        .unwrap();
        assert_eq!(
            (out.as_str(), err.as_str(), code),
            ("out\n", "err\n", Some(7))
        );
        let who = super::super::vm_file(&root, "/etc/unit/who").unwrap();
        assert_eq!(std::fs::read_to_string(who).unwrap(), "ubuntu\n");
        assert!(!Path::new("/etc/unit").exists());
    }

    #[test]
    fn login_names_are_safe_directory_names() {
        assert_eq!(login_name("ubuntu"), "ubuntu");
        assert_eq!(login_name("root"), "root");
        assert_eq!(login_name("../etc"), "ubuntu");
        assert_eq!(login_name(".."), "ubuntu");
        assert_eq!(login_name(""), "ubuntu");
    }
}
