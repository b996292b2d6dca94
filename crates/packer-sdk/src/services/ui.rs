//! Client for Packer's `Ui` endpoint: progress lines shown to the person running Packer.

use rmpv::Value;

use super::RpcClient;
use crate::{codec::value_as_string, error::Result};

/// Prints to Packer's output. Cheap to clone; every method is one RPC call.
///
/// Failures are logged and otherwise ignored (a lost Ui line must not fail a build), except
/// for [`Ui::ask`] which needs the answer.
#[derive(Debug, Clone)]
pub struct Ui {
    client: RpcClient,
}

impl Ui {
    pub(crate) fn new(client: RpcClient) -> Self {
        Self { client }
    }

    pub(crate) fn client(&self) -> &RpcClient {
        &self.client
    }

    async fn send(&self, method: &str, arg: Value) {
        if let Err(e) = self.client.call(method, arg).await {
            tracing::warn!("{method} failed: {e}");
        }
    }

    /// A step heading: printed as `==> name: message`.
    pub async fn say(&self, message: impl Into<String>) {
        self.send("Ui.Say", Value::from(message.into())).await;
    }

    /// Detail under a step: printed as `    name: message`.
    pub async fn message(&self, message: impl Into<String>) {
        self.send("Ui.Message", Value::from(message.into())).await;
    }

    /// An error line (red in a terminal); does not by itself fail the build.
    pub async fn error(&self, message: impl Into<String>) {
        self.send("Ui.Error", Value::from(message.into())).await;
    }

    /// A `-machine-readable` record.
    pub async fn machine(&self, category: &str, args: &[&str]) {
        let args: Vec<Value> = args.iter().map(|a| Value::from(*a)).collect();
        let body = Value::Map(vec![
            ("Category".into(), category.into()),
            ("Args".into(), Value::Array(args)),
        ]);
        self.send("Ui.Machine", body).await;
    }

    /// Asks the person a question and returns the line they typed.
    pub async fn ask(&self, query: &str) -> Result<String> {
        let v = self.client.call("Ui.Ask", Value::from(query)).await?;
        Ok(value_as_string(&v).unwrap_or_default())
    }
}
