//! `packer_sdk::Builder` for CloudStack.

use std::sync::Arc;

use packer_sdk::{
    async_trait, Artifact, BoxError, Builder, CancellationToken, Hook, PrepareError, PrepareOutput,
    Ui,
};

use crate::config::Config;

/// Environment lookup, injected so tests control `CLOUDSTACK_*`.
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Message `run` fails with until the CloudStack steps exist.
pub const RUN_NOT_IMPLEMENTED: &str =
    "the Rust cloudstack builder cannot build yet: configuration checks work (packer validate), \
     the CloudStack build steps are not implemented yet";

/// The CloudStack builder: validated config from `prepare`, used by `run`.
pub struct CloudStackBuilder {
    env: EnvLookup,
    /// The configuration accepted by the last successful `prepare`.
    pub config: Option<Config>,
}

impl std::fmt::Debug for CloudStackBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The config holds the API secret: show only whether it is there.
        f.debug_struct("CloudStackBuilder")
            .field("prepared", &self.config.is_some())
            .finish_non_exhaustive()
    }
}

impl CloudStackBuilder {
    /// A builder reading `CLOUDSTACK_*` from the process environment.
    pub fn from_process_env() -> Self {
        Self::with_env(Arc::new(|k: &str| std::env::var(k).ok()))
    }

    /// A builder with an injected environment.
    pub fn with_env(env: EnvLookup) -> Self {
        Self { env, config: None }
    }
}

#[async_trait]
impl Builder for CloudStackBuilder {
    async fn prepare(
        &mut self,
        configs: Vec<serde_json::Value>,
    ) -> Result<PrepareOutput, PrepareError> {
        let env = self.env.clone();
        match Config::parse(&configs, &move |k| env(k)) {
            Ok((config, warnings)) => {
                self.config = Some(config);
                Ok(PrepareOutput {
                    generated_vars: Vec::new(),
                    warnings,
                })
            }
            Err((errors, warnings)) => Err(PrepareError { errors, warnings }),
        }
    }

    fn hcl_spec(&self) -> Option<packer_sdk::hcl_spec::Spec> {
        Some(crate::config::hcl_spec())
    }

    async fn run(
        &self,
        ui: Ui,
        _hook: Hook,
        _cancel: CancellationToken,
    ) -> Result<Option<Arc<dyn Artifact>>, BoxError> {
        ui.error(RUN_NOT_IMPLEMENTED).await;
        Err(RUN_NOT_IMPLEMENTED.into())
    }
}
