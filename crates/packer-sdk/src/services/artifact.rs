//! The `Artifact` we serve to Packer once a build succeeds.
//!
//! Packer dials the broker id returned by `Builder.Run` and calls `Artifact.BuilderId`,
//! `Files`, `Id`, `String`, `State(name)` and `Destroy` on it (reply of Destroy: an error;
//! we report failure through the RPC error header).

use std::sync::Arc;

use async_trait::async_trait;
use rmpv::Value;

use crate::{
    codec::value_as_string,
    rpc::{Handler, HandlerResult},
    value::from_json,
    BoxError,
};

/// The result of a build, as Packer shows and post-processes it.
#[async_trait]
pub trait Artifact: Send + Sync + 'static {
    /// Identifies the builder that made it (e.g. `packer.cloudstack`); post-processors match on it.
    fn builder_id(&self) -> String;
    /// Local files that make up the artifact, if any.
    fn files(&self) -> Vec<String> {
        Vec::new()
    }
    /// Machine id of the artifact (e.g. the template UUID).
    fn id(&self) -> String;
    /// One line for people: printed after `--> name: `.
    fn string(&self) -> String;
    /// Named extra state for post-processors (`generated_data` etc); null when unknown.
    fn state(&self, _name: &str) -> serde_json::Value {
        serde_json::Value::Null
    }
    /// Deletes the artifact (Packer calls this e.g. on `-force` cleanup by post-processors).
    async fn destroy(&self) -> Result<(), BoxError>;
}

/// RPC server for one artifact.
pub(crate) struct ArtifactHandler {
    pub(crate) artifact: Arc<dyn Artifact>,
}

#[async_trait]
impl Handler for ArtifactHandler {
    async fn call(&self, method: &str, body: Value) -> HandlerResult {
        let a = &self.artifact;
        match method {
            "Artifact.BuilderId" => Ok(a.builder_id().into()),
            "Artifact.Files" => Ok(Value::Array(
                a.files().into_iter().map(Value::from).collect(),
            )),
            "Artifact.Id" => Ok(a.id().into()),
            "Artifact.String" => Ok(a.string().into()),
            "Artifact.State" => {
                let name = value_as_string(&body).unwrap_or_default();
                Ok(from_json(&a.state(&name)))
            }
            "Artifact.Destroy" => a
                .destroy()
                .await
                .map(|()| Value::Nil)
                .map_err(|e| e.to_string()),
            other => Err(format!("rpc: can't find method {other}")),
        }
    }
}
