//! The tfplugin5 gRPC service over a [`Provider`]: decodes requests with the
//! right schema types, runs the generic plan rules, calls the resource,
//! normalises and encodes the result, and turns every failure into
//! diagnostics (never a gRPC error, which Terraform would show as a crash).

use std::{collections::HashMap, fmt, sync::Arc, sync::OnceLock};

use go_plugin::CancellationToken;
use tonic::{Request, Response, Status};

use crate::{
    json, msgpack,
    plan::{self, normalize, plan_change},
    proto::{self, provider_server::Provider as GrpcProviderService},
    provider::{ConfigureRequest, DataSource, PlanRequest, Provider, Resource},
    stored_hash, AttributePath, Diagnostic, Diagnostics, Error, Schema, Type, Value,
};

struct Registered<T: ?Sized> {
    imp: Arc<T>,
    schema: Schema,
    ty: Type,
}

/// Serves a [`Provider`] as the `tfplugin5.Provider` gRPC service.
pub struct GrpcProvider<P: Provider> {
    provider: Arc<P>,
    provider_schema: Schema,
    provider_type: Type,
    resources: HashMap<&'static str, Registered<dyn Resource<P::Client>>>,
    data_sources: HashMap<&'static str, Registered<dyn DataSource<P::Client>>>,
    client: OnceLock<Arc<P::Client>>,
    stop: CancellationToken,
}

impl<P: Provider> fmt::Debug for GrpcProvider<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcProvider")
            .field("resources", &self.resources.keys().collect::<Vec<_>>())
            .field(
                "data_sources",
                &self.data_sources.keys().collect::<Vec<_>>(),
            )
            .field("configured", &self.client.get().is_some())
            .finish()
    }
}

impl<P: Provider> GrpcProvider<P> {
    /// Collects schemas once; they never change during a run.
    pub fn new(provider: P) -> GrpcProvider<P> {
        let provider_schema = provider.schema();
        let resources = provider
            .resources()
            .into_iter()
            .map(|imp| {
                let schema = imp.schema();
                let ty = schema.value_type();
                (imp.type_name(), Registered { imp, schema, ty })
            })
            .collect();
        let data_sources = provider
            .data_sources()
            .into_iter()
            .map(|imp| {
                let schema = imp.schema();
                let ty = schema.value_type();
                (imp.type_name(), Registered { imp, schema, ty })
            })
            .collect();
        GrpcProvider {
            provider_type: provider_schema.value_type(),
            provider_schema,
            provider: Arc::new(provider),
            resources,
            data_sources,
            client: OnceLock::new(),
            stop: CancellationToken::new(),
        }
    }

    fn resource(
        &self,
        name: &str,
        diags: &mut Diagnostics,
    ) -> Option<&Registered<dyn Resource<P::Client>>> {
        let r = self.resources.get(name);
        if r.is_none() {
            diags.error(
                format!("Unknown resource type {name}"),
                "This provider does not implement it.",
            );
        }
        r
    }

    fn data_source(
        &self,
        name: &str,
        diags: &mut Diagnostics,
    ) -> Option<&Registered<dyn DataSource<P::Client>>> {
        let r = self.data_sources.get(name);
        if r.is_none() {
            diags.error(
                format!("Unknown data source {name}"),
                "This provider does not implement it.",
            );
        }
        r
    }

    fn client(&self, diags: &mut Diagnostics) -> Option<Arc<P::Client>> {
        let c = self.client.get().cloned();
        if c.is_none() {
            diags.error(
                "Provider not configured",
                "Terraform called the provider before Configure succeeded.",
            );
        }
        c
    }
}

/// Decodes a `DynamicValue` (msgpack, else JSON; absent = null).
fn decode(dv: Option<&proto::DynamicValue>, ty: &Type) -> Result<Value, Error> {
    match dv {
        Some(d) if !d.msgpack.is_empty() => msgpack::decode(&d.msgpack, ty),
        Some(d) if !d.json.is_empty() => json::decode(&d.json, ty),
        _ => Ok(Value::Null),
    }
}

/// Encodes a value as a msgpack `DynamicValue`, reporting failures.
fn encode(v: &Value, ty: &Type, diags: &mut Diagnostics) -> Option<proto::DynamicValue> {
    match msgpack::encode(v, ty) {
        Ok(bytes) => Some(proto::DynamicValue {
            msgpack: bytes,
            json: vec![],
        }),
        Err(e) => {
            diags.push(Diagnostic::from(e));
            None
        }
    }
}

/// Decodes or records the error; `None` means "give up on this call".
fn decode_or(
    dv: Option<&proto::DynamicValue>,
    ty: &Type,
    diags: &mut Diagnostics,
) -> Option<Value> {
    match decode(dv, ty) {
        Ok(v) => Some(v),
        Err(e) => {
            diags.push(e.into());
            None
        }
    }
}

/// A state going back to Terraform after apply/read must be fully known.
fn check_known(type_name: &str, v: &Value, diags: &mut Diagnostics) {
    for p in plan::unknown_paths(v) {
        diags.push(
            Diagnostic::error(
                format!("Provider left {type_name}.{p} unknown"),
                "This is a provider bug: every attribute must be known after apply or read.",
            )
            .at(p),
        );
    }
}

#[tonic::async_trait]
impl<P: Provider> GrpcProviderService for GrpcProvider<P> {
    async fn get_schema(
        &self,
        _req: Request<proto::get_provider_schema::Request>,
    ) -> Result<Response<proto::get_provider_schema::Response>, Status> {
        tracing::debug!("GetSchema");
        Ok(Response::new(proto::get_provider_schema::Response {
            provider: Some(self.provider_schema.to_proto()),
            resource_schemas: self
                .resources
                .iter()
                .map(|(k, r)| (k.to_string(), r.schema.to_proto()))
                .collect(),
            data_source_schemas: self
                .data_sources
                .iter()
                .map(|(k, r)| (k.to_string(), r.schema.to_proto()))
                .collect(),
            diagnostics: vec![],
            provider_meta: Some(Schema::default().to_proto()),
        }))
    }

    async fn prepare_provider_config(
        &self,
        req: Request<proto::prepare_provider_config::Request>,
    ) -> Result<Response<proto::prepare_provider_config::Response>, Status> {
        let req = req.into_inner();
        let mut diags = Diagnostics::default();
        if let Some(config) = decode_or(req.config.as_ref(), &self.provider_type, &mut diags) {
            self.provider.validate(&config, &mut diags).await;
        }
        Ok(Response::new(proto::prepare_provider_config::Response {
            prepared_config: req.config,
            diagnostics: diags.to_proto(),
        }))
    }

    async fn validate_resource_type_config(
        &self,
        req: Request<proto::validate_resource_type_config::Request>,
    ) -> Result<Response<proto::validate_resource_type_config::Response>, Status> {
        let req = req.into_inner();
        tracing::debug!(type_name = %req.type_name, "ValidateResourceTypeConfig");
        let mut diags = Diagnostics::default();
        if let Some(r) = self.resource(&req.type_name, &mut diags) {
            if let Some(config) = decode_or(req.config.as_ref(), &r.ty, &mut diags) {
                crate::timeouts::validate(&config, &mut diags);
                r.imp.validate(&config, &mut diags).await;
            }
        }
        Ok(Response::new(
            proto::validate_resource_type_config::Response {
                diagnostics: diags.to_proto(),
            },
        ))
    }

    async fn validate_data_source_config(
        &self,
        req: Request<proto::validate_data_source_config::Request>,
    ) -> Result<Response<proto::validate_data_source_config::Response>, Status> {
        let req = req.into_inner();
        tracing::debug!(type_name = %req.type_name, "ValidateDataSourceConfig");
        let mut diags = Diagnostics::default();
        if let Some(d) = self.data_source(&req.type_name, &mut diags) {
            if let Some(config) = decode_or(req.config.as_ref(), &d.ty, &mut diags) {
                d.imp.validate(&config, &mut diags).await;
            }
        }
        Ok(Response::new(
            proto::validate_data_source_config::Response {
                diagnostics: diags.to_proto(),
            },
        ))
    }

    async fn upgrade_resource_state(
        &self,
        req: Request<proto::upgrade_resource_state::Request>,
    ) -> Result<Response<proto::upgrade_resource_state::Response>, Status> {
        let req = req.into_inner();
        tracing::debug!(type_name = %req.type_name, version = req.version, "UpgradeResourceState");
        let mut diags = Diagnostics::default();
        let mut upgraded = None;
        if let Some(r) = self.resource(&req.type_name, &mut diags) {
            let raw = req.raw_state.unwrap_or_default();
            if req.version > r.schema.version || req.version < 0 {
                diags.error(
                    format!(
                        "Unknown schema version {} of {}",
                        req.version, req.type_name
                    ),
                    format!(
                        "This provider knows {} schema versions 0 to {}; the state was written \
                         by another (probably newer) provider release. Use that release, or \
                         upgrade this provider.",
                        req.type_name, r.schema.version
                    ),
                );
            } else if raw.json.is_empty() {
                if raw.flatmap.is_empty() {
                    upgraded = encode(&Value::Null, &r.ty, &mut diags);
                } else {
                    diags.error(
                        "Legacy state format",
                        "This state was written by Terraform 0.11 or older (flatmap); \
                         upgrade it with a 0.12-era provider first.",
                    );
                }
            } else {
                match serde_json::from_slice::<serde_json::Value>(&raw.json) {
                    Ok(j) => {
                        let j = r.imp.upgrade_state(req.version, j, &mut diags);
                        match json::from_json(&j, &r.ty) {
                            Ok(v) => {
                                // A state of an older release may hold hashed attributes'
                                // text: hash it now, so it leaves the state at the next write.
                                let v = stored_hash::conceal(
                                    &r.schema.block,
                                    &v,
                                    &Value::Null,
                                    &Value::Null,
                                );
                                upgraded =
                                    encode(&normalize(&r.schema.block, &v), &r.ty, &mut diags)
                            }
                            Err(e) => diags.push(e.into()),
                        }
                    }
                    Err(e) => diags.error("Stored state is not JSON", e.to_string()),
                }
            }
        }
        Ok(Response::new(proto::upgrade_resource_state::Response {
            upgraded_state: upgraded,
            diagnostics: diags.to_proto(),
        }))
    }

    async fn configure(
        &self,
        req: Request<proto::configure::Request>,
    ) -> Result<Response<proto::configure::Response>, Status> {
        let req = req.into_inner();
        tracing::debug!(terraform_version = %req.terraform_version, "Configure");
        let mut diags = Diagnostics::default();
        if let Some(config) = decode_or(req.config.as_ref(), &self.provider_type, &mut diags) {
            if let Some(client) = self
                .provider
                .configure(
                    ConfigureRequest {
                        config: &config,
                        terraform_version: &req.terraform_version,
                        stop: self.stop.clone(),
                    },
                    &mut diags,
                )
                .await
            {
                // A second Configure on the same process keeps the first client.
                let _ = self.client.set(Arc::new(client));
            }
        }
        Ok(Response::new(proto::configure::Response {
            diagnostics: diags.to_proto(),
        }))
    }

    async fn read_resource(
        &self,
        req: Request<proto::read_resource::Request>,
    ) -> Result<Response<proto::read_resource::Response>, Status> {
        let req = req.into_inner();
        tracing::debug!(type_name = %req.type_name, "ReadResource");
        let mut diags = Diagnostics::default();
        let mut new_state = req.current_state.clone();
        if let (Some(r), Some(client)) = (
            self.resource(&req.type_name, &mut diags),
            self.client(&mut diags),
        ) {
            if let Some(current) = decode_or(req.current_state.as_ref(), &r.ty, &mut diags) {
                let read = r.imp.read(&client, &current, &mut diags).await;
                let read = if read.is_null() && diags.has_errors() {
                    current // failed read: keep what we had
                } else {
                    normalize(&r.schema.block, &read)
                };
                check_known(&req.type_name, &read, &mut diags);
                new_state = encode(&read, &r.ty, &mut diags);
            }
        }
        Ok(Response::new(proto::read_resource::Response {
            new_state,
            diagnostics: diags.to_proto(),
            private: req.private,
        }))
    }

    async fn plan_resource_change(
        &self,
        req: Request<proto::plan_resource_change::Request>,
    ) -> Result<Response<proto::plan_resource_change::Response>, Status> {
        let req = req.into_inner();
        tracing::debug!(type_name = %req.type_name, "PlanResourceChange");
        let mut diags = Diagnostics::default();
        let mut planned_state = None;
        let mut requires_replace = vec![];
        let mut legacy_type_system = false;
        if let Some(r) = self.resource(&req.type_name, &mut diags) {
            legacy_type_system = stored_hash::any(&r.schema.block);
            let prior = decode_or(req.prior_state.as_ref(), &r.ty, &mut diags);
            let proposed = decode_or(req.proposed_new_state.as_ref(), &r.ty, &mut diags)
                .map(|p| stored_hash::hash_config(&r.schema.block, &p));
            let config = decode_or(req.config.as_ref(), &r.ty, &mut diags);
            if let (Some(prior), Some(proposed), Some(config)) = (prior, proposed, config) {
                // Values unknown at validate time (e.g. from another resource) are known here.
                crate::timeouts::validate(&config, &mut diags);
                let mut plan = plan_change(&r.schema.block, &prior, &proposed, &config);
                if !plan.planned.is_null() {
                    r.imp
                        .modify_plan(
                            PlanRequest {
                                prior: &prior,
                                config: &config,
                                planned: &mut plan.planned,
                                requires_replace: &mut plan.requires_replace,
                            },
                            &mut diags,
                        )
                        .await;
                    plan.planned = normalize(&r.schema.block, &plan.planned);
                }
                planned_state = encode(&plan.planned, &r.ty, &mut diags);
                requires_replace = plan
                    .requires_replace
                    .iter()
                    .map(AttributePath::to_proto)
                    .collect();
            }
        }
        Ok(Response::new(proto::plan_resource_change::Response {
            planned_state,
            requires_replace,
            planned_private: req.prior_private,
            diagnostics: diags.to_proto(),
            legacy_type_system,
        }))
    }

    async fn apply_resource_change(
        &self,
        req: Request<proto::apply_resource_change::Request>,
    ) -> Result<Response<proto::apply_resource_change::Response>, Status> {
        let req = req.into_inner();
        let mut diags = Diagnostics::default();
        let mut new_state = None;
        let mut legacy_type_system = false;
        if let (Some(r), Some(client)) = (
            self.resource(&req.type_name, &mut diags),
            self.client(&mut diags),
        ) {
            legacy_type_system = stored_hash::any(&r.schema.block);
            let prior = decode_or(req.prior_state.as_ref(), &r.ty, &mut diags);
            let planned_hashed = decode_or(req.planned_state.as_ref(), &r.ty, &mut diags);
            let config = decode_or(req.config.as_ref(), &r.ty, &mut diags);
            if let (Some(prior), Some(planned_hashed), Some(config)) =
                (prior, planned_hashed, config)
            {
                // The resource works with the configured text of hashed attributes.
                let planned = stored_hash::reveal(&r.schema.block, &planned_hashed, &config);
                let result = if planned.is_null() {
                    tracing::debug!(type_name = %req.type_name, "ApplyResourceChange: delete");
                    r.imp.delete(&client, &prior, &mut diags).await;
                    // a failed delete leaves the object in state
                    if diags.has_errors() {
                        prior
                    } else {
                        Value::Null
                    }
                } else if prior.is_null() {
                    tracing::debug!(type_name = %req.type_name, "ApplyResourceChange: create");
                    let created = r.imp.create(&client, &planned, &mut diags).await;
                    if created.is_null() && !diags.has_errors() {
                        diags.error(
                            format!("{} create returned no state", req.type_name),
                            "This is a provider bug.",
                        );
                    }
                    normalize(&r.schema.block, &created)
                } else {
                    tracing::debug!(type_name = %req.type_name, "ApplyResourceChange: update");
                    let updated = r.imp.update(&client, &prior, &planned, &mut diags).await;
                    if updated.is_null() {
                        prior
                    } else {
                        normalize(&r.schema.block, &updated)
                    }
                };
                let result =
                    stored_hash::conceal(&r.schema.block, &result, &planned, &planned_hashed);
                check_known(&req.type_name, &result, &mut diags);
                new_state = encode(&result, &r.ty, &mut diags);
            }
        }
        Ok(Response::new(proto::apply_resource_change::Response {
            new_state,
            private: req.planned_private,
            diagnostics: diags.to_proto(),
            legacy_type_system,
        }))
    }

    async fn import_resource_state(
        &self,
        req: Request<proto::import_resource_state::Request>,
    ) -> Result<Response<proto::import_resource_state::Response>, Status> {
        let req = req.into_inner();
        tracing::debug!(type_name = %req.type_name, "ImportResourceState");
        let mut diags = Diagnostics::default();
        let mut imported = vec![];
        if let (Some(r), Some(client)) = (
            self.resource(&req.type_name, &mut diags),
            self.client(&mut diags),
        ) {
            for state in r.imp.import(&client, &req.id, &mut diags).await {
                let state = normalize(&r.schema.block, &state);
                if let Some(dv) = encode(&state, &r.ty, &mut diags) {
                    imported.push(proto::import_resource_state::ImportedResource {
                        type_name: req.type_name.clone(),
                        state: Some(dv),
                        private: vec![],
                    });
                }
            }
        }
        Ok(Response::new(proto::import_resource_state::Response {
            imported_resources: imported,
            diagnostics: diags.to_proto(),
        }))
    }

    async fn read_data_source(
        &self,
        req: Request<proto::read_data_source::Request>,
    ) -> Result<Response<proto::read_data_source::Response>, Status> {
        let req = req.into_inner();
        tracing::debug!(type_name = %req.type_name, "ReadDataSource");
        let mut diags = Diagnostics::default();
        let mut state = None;
        if let (Some(d), Some(client)) = (
            self.data_source(&req.type_name, &mut diags),
            self.client(&mut diags),
        ) {
            if let Some(config) = decode_or(req.config.as_ref(), &d.ty, &mut diags) {
                let read = d.imp.read(&client, &config, &mut diags).await;
                if !diags.has_errors() {
                    let read = normalize(&d.schema.block, &read);
                    check_known(&req.type_name, &read, &mut diags);
                    state = encode(&read, &d.ty, &mut diags);
                }
            }
        }
        Ok(Response::new(proto::read_data_source::Response {
            state,
            diagnostics: diags.to_proto(),
        }))
    }

    async fn stop(
        &self,
        _req: Request<proto::stop::Request>,
    ) -> Result<Response<proto::stop::Response>, Status> {
        tracing::debug!("Stop");
        self.stop.cancel();
        self.provider.stop().await;
        Ok(Response::new(proto::stop::Response {
            error: String::new(),
        }))
    }
}

/// The largest gRPC message sent or received: 256 MiB, as terraform-plugin-go's servers
/// allow, far above any real plan or state, yet bounded so a broken or hostile peer gets a
/// gRPC error for that call instead of exhausting memory.
pub const MAX_MESSAGE_BYTES: usize = 256 << 20;

/// The gRPC routes for `provider` (tfplugin5.Provider only; go-plugin adds
/// its own services), with message sizes capped at [`MAX_MESSAGE_BYTES`].
pub fn routes<P: Provider>(provider: P) -> tonic::service::Routes {
    let svc = proto::provider_server::ProviderServer::new(GrpcProvider::new(provider))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    tonic::service::Routes::new(svc)
}

/// Runs `provider` as a Terraform plugin: checks that Terraform started us
/// (the error explains it to a person otherwise), sets up hclog-style
/// logging from `TF_LOG_PROVIDER`/`TF_LOG` and Go-like crash reports on
/// panic, and serves until Terraform shuts us down.
pub async fn serve<P: Provider>(provider: P) -> Result<(), Error> {
    start(provider, None).await
}

/// Name and version of a provider binary: what `--version` prints and the
/// first log line says, so a user can tell which build Terraform runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release {
    /// The binary's name, e.g. `terraform-provider-cloudstack`.
    pub name: &'static str,
    /// Its version without the `v`, e.g. `0.2.0`.
    pub version: &'static str,
}

impl Release {
    /// `NAME vVERSION (Terraform plugin protocol 5)`.
    pub fn version_line(&self) -> String {
        format!(
            "{} v{} (Terraform plugin protocol 5)",
            self.name, self.version
        )
    }
}

/// A whole provider `main`: `--version` (or `-version`, `version`) prints
/// [`Release::version_line`] without needing Terraform; otherwise [`serve`],
/// with the release as the first log line. An error (including "run by
/// hand") goes to stderr, where Terraform's log or the person sees it.
pub async fn run<P: Provider>(provider: P, release: Release) -> std::process::ExitCode {
    let first = std::env::args().nth(1);
    if matches!(first.as_deref(), Some("--version" | "-version" | "version")) {
        println!("{}", release.version_line());
        return std::process::ExitCode::SUCCESS;
    }
    match start(provider, Some(release)).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn start<P: Provider>(provider: P, release: Option<Release>) -> Result<(), Error> {
    let opts = go_plugin::ServeOptions::from_env(&go_plugin::TERRAFORM_PROTOCOL5)?;
    go_plugin::logging::install_panic_hook();
    go_plugin::logging::init(go_plugin::logging::level_from_env(&[
        std::env::var("TF_LOG_PROVIDER").ok(),
        std::env::var("TF_LOG").ok(),
    ]));
    if let Some(r) = release {
        tracing::info!(version = r.version, "{} v{} starting", r.name, r.version);
    }
    go_plugin::server::serve_stdout(opts, routes(provider)).await?;
    Ok(())
}
