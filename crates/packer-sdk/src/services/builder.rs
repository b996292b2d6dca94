//! The `Builder` endpoint we serve on the main stream, over the [`Builder`] trait.
//!
//! `Builder.Prepare({"Configs": [builder map, packer map, ...]})` → `{"GeneratedVars",
//! "Warnings", "Error": nil | {"Message"}}`. `Builder.Run(id u32)`: Packer serves Ui and
//! Hook on broker id `id`; we dial it, run the build, and reply with the broker id of an
//! Artifact server we registered (0 = no artifact), or an RPC error. `Builder.Cancel`
//! (sent on SIGINT while Run is pending) cancels the build's token. `Builder.ConfigSpec`
//! is only asked for HCL2 templates: protobuf under `--protobuf`, gob otherwise.

use std::sync::Arc;

use async_trait::async_trait;
use rmpv::Value;
use tokio::sync::RwLock;
use tokio_util::sync::CancellationToken;

use super::{
    artifact::{Artifact, ArtifactHandler},
    hook::Hook,
    ui::Ui,
    RpcClient,
};
use crate::{
    codec::map_get,
    mux_broker::MuxBroker,
    rpc::{self, Handler, HandlerResult},
    value::to_json,
    BoxError,
};

/// What a successful `prepare` tells Packer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrepareOutput {
    /// Names of variables the builder will generate (for `{{ build ... }}`).
    pub generated_vars: Vec<String>,
    /// Printed as warnings; the build still proceeds.
    pub warnings: Vec<String>,
}

/// A failed `prepare`: every problem found, so a person can fix them all at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrepareError {
    /// One line per problem, each naming the field it is about.
    pub errors: Vec<String>,
    /// Warnings still worth showing.
    pub warnings: Vec<String>,
}

impl std::fmt::Display for PrepareError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Same shape as Packer's MultiError, so output reads like the Go builders'.
        let n = self.errors.len();
        writeln!(f, "{n} error(s) occurred:")?;
        writeln!(f)?;
        for e in &self.errors {
            writeln!(f, "* {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PrepareError {}

/// Reason string Go builders use when a build is cancelled; Packer prints it as-is.
pub const BUILD_CANCELLED: &str = "build was cancelled";

/// A Packer builder. The SDK turns Packer's RPC calls into these methods.
#[async_trait]
pub trait Builder: Send + Sync + 'static {
    /// Validates and stores the configuration. `configs[0]` is the template's builder block
    /// (without `type`/`name`); later entries hold Packer's own settings
    /// (`packer_build_name`, `packer_debug`, `packer_user_variables`, ...).
    async fn prepare(
        &mut self,
        configs: Vec<serde_json::Value>,
    ) -> Result<PrepareOutput, PrepareError>;

    /// Runs the build. Show progress on `ui`, run provisioners with `hook`, stop promptly
    /// (cleaning up) when `cancel` fires and then return an error such as
    /// [`BUILD_CANCELLED`].
    async fn run(
        &self,
        ui: Ui,
        hook: Hook,
        cancel: CancellationToken,
    ) -> Result<Option<Arc<dyn Artifact>>, BoxError>;

    /// The HCL2 object spec of the configuration, for `Builder.ConfigSpec` (asked for HCL2
    /// templates; sent as hcl_spec.proto under `--protobuf`, as gob to Packer 1.6.6).
    /// `None` means "JSON templates only".
    fn hcl_spec(&self) -> Option<crate::hcl_spec::Spec> {
        None
    }
}

/// One `Configs` entry as JSON. HCL2 configs arrive as bytes holding go-cty's JSON of a
/// dynamic value, `{"value": ..., "type": ...}` (packer-plugin-sdk `rpc/cty_encode.go`):
/// unwrap to the value. Unset HCL2 attributes are null, which builders treat as absent.
fn config_entry(v: &Value) -> serde_json::Value {
    if let Value::Binary(bytes) = v {
        if let Ok(serde_json::Value::Object(mut m)) = serde_json::from_slice(bytes) {
            if m.len() == 2 && m.contains_key("type") {
                if let Some(value) = m.remove("value") {
                    return value;
                }
            }
            return serde_json::Value::Object(m);
        }
    }
    to_json(v)
}

/// RPC server for a [`Builder`] on the main stream.
pub(crate) struct BuilderHandler<B> {
    pub(crate) builder: RwLock<B>,
    pub(crate) broker: MuxBroker,
    pub(crate) cancel: CancellationToken,
    pub(crate) protobuf: bool,
}

impl<B: Builder> BuilderHandler<B> {
    async fn prepare(&self, body: Value) -> HandlerResult {
        let configs: Vec<serde_json::Value> = map_get(&body, "Configs")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(config_entry).collect())
            .unwrap_or_default();
        let list = |v: Vec<String>| {
            if v.is_empty() {
                Value::Nil
            } else {
                Value::Array(v.into_iter().map(Value::from).collect())
            }
        };
        let reply = match self.builder.write().await.prepare(configs).await {
            Ok(out) => vec![
                ("GeneratedVars".into(), list(out.generated_vars)),
                ("Warnings".into(), list(out.warnings)),
                ("Error".into(), Value::Nil),
            ],
            Err(err) => vec![
                ("GeneratedVars".into(), Value::Nil),
                ("Warnings".into(), list(err.warnings.clone())),
                (
                    "Error".into(),
                    Value::Map(vec![("Message".into(), err.to_string().into())]),
                ),
            ],
        };
        Ok(Value::Map(reply))
    }

    async fn run(&self, body: Value) -> HandlerResult {
        let id = body
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| format!("Builder.Run wants a broker id, got {body}"))?;
        let stream = self.broker.dial(id).await.map_err(|e| e.to_string())?;
        let client: RpcClient = rpc::Client::new(stream);
        let ui = Ui::new(client.clone());
        let hook = Hook::new(client.clone(), self.broker.clone(), ui.clone());
        let result = self
            .builder
            .read()
            .await
            .run(ui, hook, self.cancel.clone())
            .await;
        client.close().await;
        let artifact = result.map_err(|e| e.to_string())?;
        let Some(artifact) = artifact else {
            return Ok(Value::from(0u32));
        };
        let aid = self.broker.next_id();
        let broker = self.broker.clone();
        tokio::spawn(async move {
            match broker.accept(aid).await {
                Ok(stream) => {
                    let _ = rpc::serve(stream, Arc::new(ArtifactHandler { artifact })).await;
                }
                Err(e) => tracing::warn!("Packer never connected to the artifact: {e}"),
            }
        });
        Ok(Value::from(aid))
    }
}

#[async_trait]
impl<B: Builder> Handler for BuilderHandler<B> {
    async fn call(&self, method: &str, body: Value) -> HandlerResult {
        match method {
            "Builder.Prepare" => self.prepare(body).await,
            "Builder.Run" => self.run(body).await,
            "Builder.Cancel" => {
                tracing::info!("Packer asked to cancel the build");
                self.cancel.cancel();
                Ok(Value::Nil)
            }
            "Builder.ConfigSpec" => {
                let spec = self.builder.read().await.hcl_spec();
                let Some(spec) = spec else {
                    return Err("this builder supports JSON templates only (no HCL2 spec)".into());
                };
                // Packer reads protobuf only when it started us with --protobuf; otherwise
                // (Packer 1.6.6, or PACKER_FORCE_GOB) it decodes gob.
                let bytes = if self.protobuf {
                    spec.to_protobuf()
                } else {
                    spec.to_gob()
                };
                Ok(Value::Map(vec![(
                    "ConfigSpec".into(),
                    Value::Binary(bytes),
                )]))
            }
            other => Err(format!("rpc: can't find method {other}")),
        }
    }
}
