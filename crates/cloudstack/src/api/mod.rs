//! Typed calls, one module per command family (as the simulator's `handlers/`), for what the Packer builder and the Terraform provider need. Creates recover
//! from unclear failures by looking the object up by its natural key (name, or the rule's
//! ports), so they never duplicate; deletes treat "already gone" on a retry as done.
//! Anything else: [`Client::request`] / [`Client::request_async`] with [`Params`].

mod address;
pub mod affinity;
mod catalog;
mod network;
mod network_acl;
mod nic;
pub mod project;
pub mod security_group;
mod ssh_key;
mod tag;
mod template;
pub mod user_data;
mod vm;
pub mod volume;

pub use address::{CreateEgressFirewallRule, CreateFirewallRule, CreatePortForwardingRule};
pub use network::CreateNetwork;
pub use network_acl::CreateNetworkAcl;
pub use template::{CreateTemplate, RegisterTemplate};
pub use vm::DeployVirtualMachine;

use address::s;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{
    client::Client,
    error::{Error, Result},
    list::decode,
    params::Params,
};

impl Client {
    /// Makes a create call without a recovery lookup: an unclear failure is reported as
    /// [`Error::Unconfirmed`] instead of being retried. The id is recorded once accepted.
    async fn mutate_async(&self, command: &str, params: &Params, key: &str) -> Result<Value> {
        let done = match self.request(command, params).await {
            Ok(answer) => {
                self.note_accepted(command, Some(key), &answer);
                self.finish_job(command, answer).await
            }
            Err(e) => Err(e),
        };
        match done {
            Ok(v) => {
                let v = v.get(key).cloned().unwrap_or(v);
                self.note_accepted(command, None, &v);
                Ok(v)
            }
            Err(e) if e.may_have_applied() && !matches!(e, Error::JobFailed { .. }) => {
                Err(Error::Unconfirmed {
                    command: command.to_string(),
                    source: Box::new(e),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Runs a delete-like command and waits for its job. If the command had to be re-sent
    /// after a failure that may have been applied, a job failing with "does not exist" means
    /// the first attempt did the work.
    pub(crate) async fn delete_async(&self, command: &str, params: &Params) -> Result<()> {
        let (answer, resent) = self.request_tracked(command, params, false).await?;
        match self.finish_job(command, answer).await {
            Ok(_) => Ok(()),
            Err(e) if resent && e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Lists with `params` and returns the object whose `name` is exactly `name`.
    pub(crate) async fn find_by_name(
        &self,
        command: &str,
        key: &str,
        params: &Params,
        name: &str,
    ) -> Result<Option<Value>> {
        let items = self.list_all_values(command, key, params).await?;
        let matches: Vec<Value> = items
            .into_iter()
            .filter(|v| v.get("name").and_then(Value::as_str) == Some(name))
            .collect();
        match matches.len() {
            0 => Ok(None),
            1 => Ok(matches.into_iter().next()),
            _ => Err(Error::Ambiguous {
                kind: "object",
                name: name.to_string(),
                matches: matches
                    .iter()
                    .map(|v| (name.to_string(), s(v, "id").unwrap_or_default()))
                    .collect(),
            }),
        }
    }

    pub(crate) fn typed<T: DeserializeOwned>(command: &str, v: Value) -> Result<T> {
        decode(command, v)
    }
}
