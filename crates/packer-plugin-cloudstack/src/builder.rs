//! `packer_sdk::Builder` for CloudStack.

use std::sync::Arc;

use packer_sdk::{
    async_trait, Artifact, BoxError, Builder, CancellationToken, Hook, PrepareError, PrepareOutput,
    Ui,
};

use cloudstack::Client;
use packer_sdk::steps::{run_steps, StepContext};

use crate::{
    artifact::TemplateArtifact,
    config::Config,
    steps::{self, BuildState},
};

/// Environment lookup, injected so tests control `CLOUDSTACK_*`.
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The CloudStack client for a validated config: its timeouts become the client's.
pub fn client_for(config: &Config) -> Result<Client, cloudstack::Error> {
    let mut c = cloudstack::Config::new(&config.api_url, &config.api_key, &config.secret_key);
    c.http_get_only = config.http_get_only;
    c.ssl_no_verify = config.ssl_no_verify;
    c.ca_file = config.ca_file.as_ref().map(Into::into);
    c.async_timeout = config.async_timeout;
    Client::new(c)
}

/// Runs every step for `config` and returns the template artifact. Cleanup runs on success,
/// failure and cancel (see [`crate::steps`]).
pub async fn run_build(
    config: Arc<Config>,
    ctx: StepContext,
) -> Result<Option<Arc<dyn Artifact>>, BoxError> {
    let client = client_for(&config)
        .map_err(|e| format!("api_url / credentials: cannot set up the CloudStack client: {e}"))?;
    let mut state = BuildState::new(config, client.clone());
    let steps = steps::all();
    run_steps(&steps, &mut state, &ctx).await?;
    let Some(t) = state.template.take() else {
        return Ok(None);
    };
    let (host, port) = state.ssh_address.clone().unwrap_or_default();
    Ok(Some(Arc::new(TemplateArtifact {
        name: t
            .name
            .clone()
            .unwrap_or_else(|| state.config.template.name.clone()),
        id: t.id,
        zone_id: state.resolved.zone_id.clone(),
        zone_name: state.resolved.zone_name.clone(),
        generated_data: serde_json::json!({
            "Host": host, "Port": port, "User": state.config.ssh.username,
        }),
        client,
    })))
}

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
            Ok((config, mut warnings)) => {
                // What only the cloud can tell, refused here rather than mid-build.
                let (errors, more) = crate::preflight::check(&config).await;
                warnings.extend(more);
                if !errors.is_empty() {
                    return Err(PrepareError { errors, warnings });
                }
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
        hook: Hook,
        cancel: CancellationToken,
    ) -> Result<Option<Arc<dyn Artifact>>, BoxError> {
        let config = self
            .config
            .clone()
            .ok_or("Builder.Run called before a successful Prepare")?;
        let mut ctx = StepContext::new(ui, hook, cancel);
        ctx.on_error = config.on_error;
        ctx.debug = config.packer_debug;
        run_build(Arc::new(config), ctx).await
    }
}
