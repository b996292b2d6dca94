//! Credentials: private keys, passwords and the SSH agent, tried in the order given.

use std::{path::Path, sync::Arc};

use russh::{
    client::{self, AuthResult, KeyboardInteractiveAuthResponse},
    keys::{
        agent::client::AgentClient, decode_secret_key, load_openssh_certificate, Certificate,
        HashAlg, PrivateKey, PrivateKeyWithHashAlg,
    },
    MethodKind,
};

use crate::error::{ssh_err, Error, Result};

/// One way to log in. `Debug` never shows the secret.
#[derive(Clone)]
pub enum Auth {
    /// A private key (e.g. the PKCS#1 PEM CloudStack's `createSSHKeyPair` returns).
    Key(Arc<PrivateKey>),
    /// A private key with an OpenSSH certificate for it (a server trusting the CA accepts it).
    Certificate(Arc<PrivateKey>, Arc<Certificate>),
    /// A password.
    Password(String),
    /// Every identity of the SSH agent at `SSH_AUTH_SOCK`.
    Agent,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Key(k) => write!(f, "Key({})", k.algorithm()),
            Auth::Certificate(k, c) => {
                write!(f, "Certificate({}, {:?})", k.algorithm(), c.key_id())
            }
            Auth::Password(_) => f.write_str("Password(<redacted>)"),
            Auth::Agent => f.write_str("Agent"),
        }
    }
}

impl Auth {
    /// Reads a private key in PEM/OpenSSH form (RSA PKCS#1, PKCS#8, OpenSSH, unencrypted).
    pub fn from_pem(pem: &str) -> Result<Self> {
        decode_secret_key(pem, None)
            .map(|k| Auth::Key(Arc::new(k)))
            .map_err(|e| Error::Key(format!("cannot read the private key: {e}")))
    }

    /// Reads a private key file; the error names the file.
    pub fn from_key_file(path: &Path) -> Result<Self> {
        let pem = std::fs::read_to_string(path)
            .map_err(Error::io(format!("reading {}", path.display())))?;
        Self::from_pem(&pem).map_err(|e| Error::Key(format!("{}: {e}", path.display())))
    }

    /// Reads a private key file and the OpenSSH certificate file issued for it (`ssh-keygen
    /// -s`, usually `<key>-cert.pub`); the errors name the file.
    pub fn from_key_and_certificate_files(key: &Path, certificate: &Path) -> Result<Self> {
        let Auth::Key(key) = Self::from_key_file(key)? else {
            return Err(Error::Key(format!(
                "{} is not a private key",
                key.display()
            )));
        };
        let cert = load_openssh_certificate(certificate).map_err(|e| {
            Error::Key(format!(
                "{}: not an OpenSSH certificate: {e}",
                certificate.display()
            ))
        })?;
        if cert.public_key() != key.public_key().key_data() {
            return Err(Error::Key(format!(
                "{} certifies another key than the private key",
                certificate.display()
            )));
        }
        Ok(Auth::Certificate(key, Arc::new(cert)))
    }

    /// What the refusal message lists as tried.
    fn label(&self) -> &'static str {
        match self {
            Auth::Key(_) => "public key",
            Auth::Certificate(..) => "certificate",
            Auth::Password(_) => "password",
            Auth::Agent => "SSH agent keys",
        }
    }
}

/// The base64 public-key blob (the second field of an `authorized_keys` line) of a
/// private key.
pub fn public_key_blob(pem: &str) -> Result<String> {
    let key = decode_secret_key(pem, None)
        .map_err(|e| Error::Key(format!("cannot read the private key: {e}")))?;
    let line = key
        .public_key()
        .to_openssh()
        .map_err(|e| Error::Key(format!("cannot encode the public key: {e}")))?;
    line.split_whitespace()
        .nth(1)
        .map(str::to_owned)
        .ok_or_else(|| Error::Key("the public key has no base64 part".into()))
}

/// Tries `methods` in order on a fresh connection until one is accepted.
pub(crate) async fn authenticate<H>(
    handle: &mut client::Handle<H>,
    username: &str,
    methods: &[Auth],
) -> Result<()>
where
    H: client::Handler<Error = russh::Error>,
{
    let mut tried = Vec::new();
    for method in methods {
        tried.push(method.label());
        let ok = match method {
            Auth::Key(key) => {
                let hash = rsa_hash(handle, key.algorithm().is_rsa()).await?;
                handle
                    .authenticate_publickey(username, PrivateKeyWithHashAlg::new(key.clone(), hash))
                    .await
                    .map_err(ssh_err("public key authentication"))?
                    .success()
            }
            Auth::Certificate(key, cert) => handle
                .authenticate_openssh_cert(username, key.clone(), Certificate::clone(cert))
                .await
                .map_err(ssh_err("certificate authentication"))?
                .success(),
            Auth::Password(p) => password_login(handle, username, p).await?,
            Auth::Agent => agent_login(handle, username).await?,
        };
        if ok {
            return Ok(());
        }
    }
    Err(Error::AuthRefused(format!(
        "authentication as {username:?} refused (tried: {})",
        if tried.is_empty() {
            "nothing: no key, password or agent configured".to_string()
        } else {
            tried.join(", ")
        }
    )))
}

/// The `password` method, then `keyboard-interactive` answering every prompt with the
/// password when the server offers it (as Packer's Go communicator does: PAM-only images
/// ask that way).
async fn password_login<H>(
    handle: &mut client::Handle<H>,
    username: &str,
    password: &str,
) -> Result<bool>
where
    H: client::Handler<Error = russh::Error>,
{
    let offers_kbd = match handle
        .authenticate_password(username, password)
        .await
        .map_err(ssh_err("password authentication"))?
    {
        AuthResult::Success => return Ok(true),
        AuthResult::Failure {
            remaining_methods, ..
        } => remaining_methods.contains(&MethodKind::KeyboardInteractive),
    };
    if !offers_kbd {
        return Ok(false);
    }
    let mut reply = handle
        .authenticate_keyboard_interactive_start(username, None)
        .await
        .map_err(ssh_err("keyboard-interactive authentication"))?;
    // A server asking more than a few rounds is not asking for a password.
    for _ in 0..4 {
        match reply {
            KeyboardInteractiveAuthResponse::Success => return Ok(true),
            KeyboardInteractiveAuthResponse::Failure { .. } => return Ok(false),
            KeyboardInteractiveAuthResponse::InfoRequest { prompts, .. } => {
                let answers = vec![password.to_owned(); prompts.len()];
                reply = handle
                    .authenticate_keyboard_interactive_respond(answers)
                    .await
                    .map_err(ssh_err("keyboard-interactive authentication"))?;
            }
        }
    }
    Ok(matches!(reply, KeyboardInteractiveAuthResponse::Success))
}

/// The RSA signature hash the server prefers (`rsa-sha2-512`/`-256`), for RSA keys only.
async fn rsa_hash<H>(handle: &client::Handle<H>, is_rsa: bool) -> Result<Option<HashAlg>>
where
    H: client::Handler<Error = russh::Error>,
{
    if !is_rsa {
        return Ok(None);
    }
    Ok(handle
        .best_supported_rsa_hash()
        .await
        .map_err(ssh_err("negotiating the RSA signature"))?
        .flatten())
}

/// Offers each identity of the agent at `SSH_AUTH_SOCK`, which signs; the private keys
/// never leave the agent.
async fn agent_login<H>(handle: &mut client::Handle<H>, username: &str) -> Result<bool>
where
    H: client::Handler<Error = russh::Error>,
{
    let mut agent = AgentClient::connect_env().await.map_err(|e| {
        Error::Agent(format!(
            "cannot reach the agent named by SSH_AUTH_SOCK ({e}); start ssh-agent and add a \
             key with ssh-add"
        ))
    })?;
    let identities = agent
        .request_identities()
        .await
        .map_err(|e| Error::Agent(format!("listing the agent's keys: {e}")))?;
    if identities.is_empty() {
        return Err(Error::Agent(
            "the agent holds no keys; add one with ssh-add".into(),
        ));
    }
    for identity in identities {
        let key = identity.public_key().into_owned();
        let hash = rsa_hash(handle, key.algorithm().is_rsa()).await?;
        let result = handle
            .authenticate_publickey_with(username, key, hash, &mut agent)
            .await
            .map_err(|e| Error::Agent(format!("signing with the agent: {e}")))?;
        if matches!(result, AuthResult::Success) {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secrets_and_bad_keys_are_named() {
        let p = Auth::Password("hunter2".into());
        assert!(!format!("{p:?}").contains("hunter2"));
        assert!(Auth::from_pem("not a key").is_err());
        let err = Auth::from_key_file(Path::new("/nonexistent/key"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("/nonexistent/key"), "{err}");
    }
}
