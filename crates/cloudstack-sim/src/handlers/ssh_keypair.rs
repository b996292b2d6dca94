//! SSH key pairs: createSSHKeyPair returns a real RSA private key (PKCS#1 PEM), generated
//! before the state lock is taken; registerSSHKeyPair takes an OpenSSH public key.

use super::{keyword_matches, list_answer, name_matches, Ctx, GeneratedKey};
use crate::error::ApiError;
use crate::params::Params;
use crate::render;
use crate::state::{new_id, SshKeyPair};
use md5::{Digest, Md5};
use serde_json::{json, Value};

/// Generates an RSA 2048 key pair: PKCS#1 PEM private key + OpenSSH public key line.
pub fn generate_key(comment: &str) -> Result<GeneratedKey, ApiError> {
    use rsa::pkcs1::{EncodeRsaPrivateKey, LineEnding};
    let mut rng = rand::thread_rng();
    let private = rsa::RsaPrivateKey::new(&mut rng, 2048)
        .map_err(|e| ApiError::with_code(530, format!("key generation failed: {e}")))?;
    let pem = private
        .to_pkcs1_pem(LineEnding::LF)
        .map_err(|e| ApiError::with_code(530, format!("key encoding failed: {e}")))?;
    let public = ssh_key::public::RsaPublicKey::try_from(private.to_public_key())
        .map_err(|e| ApiError::with_code(530, format!("key encoding failed: {e}")))?;
    let public = ssh_key::PublicKey::new(ssh_key::public::KeyData::Rsa(public), comment);
    let line = public
        .to_openssh()
        .map_err(|e| ApiError::with_code(530, format!("key encoding failed: {e}")))?;
    Ok(GeneratedKey {
        private_pem: pem.to_string(),
        public_openssh: line,
    })
}

/// CloudStack's fingerprint: MD5 of the key blob, colon separated lower-case hex.
fn fingerprint(public: &ssh_key::PublicKey) -> Result<String, ApiError> {
    let blob = public
        .to_bytes()
        .map_err(|e| ApiError::param(format!("Public key is invalid: {e}")))?;
    let digest = Md5::digest(&blob);
    Ok(digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":"))
}

/// A key pair is named within its owner: the account, or the project of `projectid`.
fn owned_by<'a>(k: &'a SshKeyPair, name: &str, project: Option<&str>) -> Option<&'a SshKeyPair> {
    (k.name == name && k.projectid.as_deref() == project).then_some(k)
}

fn check_new_name(ctx: &Ctx<'_>, name: &str, project: Option<&str>) -> Result<(), ApiError> {
    if ctx
        .world
        .ssh_keypairs
        .iter()
        .any(|k| owned_by(k, name, project).is_some())
    {
        return Err(ApiError::param(format!(
            "A key pair with name '{name}' already exists."
        )));
    }
    Ok(())
}

/// createSSHKeyPair (sync): answers `{"keypair": {..., "privatekey": PEM}}`.
pub fn create(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let name = p.req("name")?.to_string();
    let project =
        super::optional_id(p, "projectid", &ctx.world.projects, |x| &x.id)?.map(|x| x.id.clone());
    check_new_name(ctx, &name, project.as_deref())?;
    let key = match ctx.generated_key.take() {
        Some(k) => k,
        None => generate_key(&name)?,
    };
    let public = ssh_key::PublicKey::from_openssh(&key.public_openssh)
        .map_err(|e| ApiError::with_code(530, format!("generated key unreadable: {e}")))?;
    let kp = SshKeyPair {
        id: new_id(),
        name,
        fingerprint: fingerprint(&public)?,
        publickey: key.public_openssh.clone(),
        projectid: project,
    };
    let mut v = render::ssh_keypair(&kp);
    if let Some(m) = v.as_object_mut() {
        m.insert("privatekey".into(), json!(key.private_pem));
    }
    ctx.world.ssh_keypairs.push(kp);
    ctx.changed = true;
    Ok(json!({"keypair": v}))
}

/// registerSSHKeyPair (sync): name + OpenSSH public key.
pub fn register(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let name = p.req("name")?.to_string();
    let text = p.req("publickey")?.trim().to_string();
    let project =
        super::optional_id(p, "projectid", &ctx.world.projects, |x| &x.id)?.map(|x| x.id.clone());
    check_new_name(ctx, &name, project.as_deref())?;
    let public = ssh_key::PublicKey::from_openssh(&text)
        .map_err(|_| ApiError::param("Public key is invalid"))?;
    let kp = SshKeyPair {
        id: new_id(),
        name,
        fingerprint: fingerprint(&public)?,
        publickey: text,
        projectid: project,
    };
    let v = render::ssh_keypair(&kp);
    ctx.world.ssh_keypairs.push(kp);
    ctx.changed = true;
    Ok(json!({"keypair": v}))
}

/// deleteSSHKeyPair (sync).
pub fn delete(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let name = p.req("name")?.to_string();
    let project = p.opt("projectid");
    let Some(id) = ctx
        .world
        .ssh_keypairs
        .iter()
        .find_map(|k| owned_by(k, &name, project))
        .map(|k| k.id.clone())
    else {
        return Err(ApiError::param(format!(
            "A key pair with name '{name}' does not exist for account admin in specified domain id"
        )));
    };
    ctx.world.ssh_keypairs.retain(|k| k.id != id);
    ctx.world.retire(&id);
    ctx.changed = true;
    Ok(super::success())
}

/// listSSHKeyPairs (name, fingerprint, keyword).
pub fn list(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let items = ctx
        .world
        .ssh_keypairs
        .iter()
        .filter(|k| name_matches(p, &k.name))
        .filter(|k| super::project::visible(p, k.projectid.as_deref()))
        .filter(|k| {
            p.opt("fingerprint")
                .map(|f| f == k.fingerprint)
                .unwrap_or(true)
        })
        .filter(|k| keyword_matches(p, &[&k.name]))
        .map(render::ssh_keypair)
        .collect();
    list_answer(p, "sshkeypair", items)
}
