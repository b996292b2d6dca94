//! SSH key pairs, in the caller's account or a project.

use crate::{
    client::Client,
    error::{Error, Result},
    model::SshKeyPair,
    params::Params,
};

impl Client {
    /// `createSSHKeyPair`; the answer carries the private key. The private key exists only in
    /// that answer, so if an unclear failure left a key pair of this name behind, it is
    /// deleted and created again (the new answer has the key).
    pub async fn create_ssh_key_pair(&self, name: &str) -> Result<SshKeyPair> {
        self.create_ssh_key_pair_in(name, None).await
    }

    /// [`Client::create_ssh_key_pair`] owned by a project (`projectid`), as a VM deployed in
    /// that project needs: CloudStack looks its key pair up in the VM's owner.
    pub async fn create_ssh_key_pair_in(
        &self,
        name: &str,
        project_id: Option<&str>,
    ) -> Result<SshKeyPair> {
        const CMD: &str = "createSSHKeyPair";
        let mut params = Params::new().with("name", name);
        params.set_opt("projectid", project_id);
        let scope = params.clone();
        let lookup = || self.find_by_name("listSSHKeyPairs", "sshkeypair", &scope, name);
        // A recovered key pair has no private key: delete it and create it again (bounded).
        for _ in 0..3 {
            let v = self
                .create_with_recovery(CMD, &params, Some("keypair"), lookup)
                .await?;
            let kp: SshKeyPair = Self::typed(CMD, v)?;
            if kp.privatekey.is_some() {
                return Ok(kp);
            }
            self.delete_ssh_key_pair_in(name, project_id).await?;
        }
        Err(Error::Unconfirmed {
            command: CMD.to_string(),
            source: Box::new(Error::Decode {
                command: CMD.to_string(),
                message: "the key pair kept being recovered without its private key".into(),
            }),
        })
    }

    /// `registerSSHKeyPair` of an OpenSSH public key; recovered by name.
    pub async fn register_ssh_key_pair(&self, name: &str, public_key: &str) -> Result<SshKeyPair> {
        self.register_ssh_key_pair_in(name, public_key, None).await
    }

    /// [`Client::register_ssh_key_pair`] owned by a project (`projectid`).
    pub async fn register_ssh_key_pair_in(
        &self,
        name: &str,
        public_key: &str,
        project_id: Option<&str>,
    ) -> Result<SshKeyPair> {
        const CMD: &str = "registerSSHKeyPair";
        let mut params = Params::new()
            .with("name", name)
            .with("publickey", public_key);
        params.set_opt("projectid", project_id);
        let mut scope = Params::new().with("name", name);
        scope.set_opt("projectid", project_id);
        let lookup = || self.find_by_name("listSSHKeyPairs", "sshkeypair", &scope, name);
        let v = self
            .create_with_recovery_post(CMD, &params, Some("keypair"), lookup)
            .await?;
        Self::typed(CMD, v)
    }

    /// `deleteSSHKeyPair` by name.
    pub async fn delete_ssh_key_pair(&self, name: &str) -> Result<()> {
        self.delete_ssh_key_pair_in(name, None).await
    }

    /// [`Client::delete_ssh_key_pair`] of a project's key pair (`projectid`).
    pub async fn delete_ssh_key_pair_in(&self, name: &str, project_id: Option<&str>) -> Result<()> {
        let mut params = Params::new().with("name", name);
        params.set_opt("projectid", project_id);
        self.request("deleteSSHKeyPair", &params).await.map(|_| ())
    }

    /// `listSSHKeyPairs`, all pages.
    pub async fn list_ssh_key_pairs(&self, params: &Params) -> Result<Vec<SshKeyPair>> {
        self.list_all("listSSHKeyPairs", "sshkeypair", params).await
    }
}
