//! The traits a provider implements. Resource code receives plain
//! [`Value`]s and a [`Diagnostics`] collector; the wire, msgpack, plan
//! bookkeeping and private data are handled by the server.
//!
//! `C` is the provider's configured client (e.g. a CloudStack API client),
//! created once by [`Provider::configure`] and lent to every call.

use std::sync::Arc;

use async_trait::async_trait;
use go_plugin::CancellationToken;

use crate::{AttributePath, Diagnostics, Schema, Value};

/// A Terraform provider: its configuration schema, how to turn that
/// configuration into a client, and its resource and data source types.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// What `configure` produces and resources use.
    type Client: Send + Sync + 'static;

    /// Schema of the `provider "x" { ... }` block.
    fn schema(&self) -> Schema;

    /// Managed resource types, each knowing its own type name.
    fn resources(&self) -> Vec<Arc<dyn Resource<Self::Client>>>;

    /// Data source types.
    fn data_sources(&self) -> Vec<Arc<dyn DataSource<Self::Client>>> {
        Vec::new()
    }

    /// Checks the provider configuration without side effects.
    async fn validate(&self, _config: &Value, _diags: &mut Diagnostics) {}

    /// Builds the client from the provider configuration (values may be
    /// null: fall back to environment variables here). Return `None` after
    /// pushing an error when that is impossible. Keep `req.stop` in the
    /// client so long waits (async jobs) can end early on Ctrl-C.
    async fn configure(
        &self,
        req: ConfigureRequest<'_>,
        diags: &mut Diagnostics,
    ) -> Option<Self::Client>;

    /// Terraform asks to cancel in-flight work (Ctrl-C). The stop token
    /// given to `configure` is already cancelled when this runs.
    async fn stop(&self) {}
}

/// What `Provider::configure` receives.
#[derive(Debug)]
pub struct ConfigureRequest<'a> {
    /// The provider block (null attributes when unset).
    pub config: &'a Value,
    /// Version of the calling Terraform, e.g. "1.0.3".
    pub terraform_version: &'a str,
    /// Cancelled when Terraform calls Stop (the user pressed Ctrl-C).
    pub stop: CancellationToken,
}

/// Everything a resource's plan customisation may look at and change.
#[derive(Debug)]
pub struct PlanRequest<'a> {
    /// State before the change; null on create.
    pub prior: &'a Value,
    /// The configuration as written (unknowns where it references
    /// not-yet-created objects).
    pub config: &'a Value,
    /// The plan so far (generic rules applied); edit it in place.
    pub planned: &'a mut Value,
    /// Paths forcing replacement; push more if needed.
    pub requires_replace: &'a mut Vec<AttributePath>,
}

/// A managed resource type (`resource "cloudstack_instance" ...`).
#[async_trait]
pub trait Resource<C>: Send + Sync + 'static {
    /// Type name, e.g. `cloudstack_instance`.
    fn type_name(&self) -> &'static str;

    /// Schema, including `force_new` and defaults used by the generic plan.
    fn schema(&self) -> Schema;

    /// Checks configuration without side effects (unknowns are possible).
    async fn validate(&self, _config: &Value, _diags: &mut Diagnostics) {}

    /// Adjusts the generic plan (e.g. mark attributes unknown that an
    /// in-place update will change). Not called on destroy.
    async fn modify_plan(&self, _req: PlanRequest<'_>, _diags: &mut Diagnostics) {}

    /// Creates the object and returns its full state (no unknowns). If it
    /// fails after the object exists, return the state anyway together with
    /// an error: Terraform records it as tainted instead of forgetting it.
    async fn create(&self, client: &C, planned: &Value, diags: &mut Diagnostics) -> Value;

    /// Reads the object's current state; `Value::Null` when it is gone
    /// (Terraform then plans to create it again).
    async fn read(&self, client: &C, state: &Value, diags: &mut Diagnostics) -> Value;

    /// Updates in place and returns the new state. On error return the
    /// state as it is now (null means "unchanged from prior").
    async fn update(
        &self,
        _client: &C,
        _prior: &Value,
        _planned: &Value,
        diags: &mut Diagnostics,
    ) -> Value {
        diags.error(
            format!("{} cannot be updated in place", self.type_name()),
            "This is a provider bug: the schema should mark the changed attribute force_new.",
        );
        Value::Null
    }

    /// Deletes the object. An object already gone is not an error.
    async fn delete(&self, client: &C, prior: &Value, diags: &mut Diagnostics);

    /// `terraform import`: states for `id` (usually one, with only `id`
    /// set; Terraform calls `read` next). Push an error if unsupported.
    async fn import(&self, _client: &C, id: &str, _diags: &mut Diagnostics) -> Vec<Value> {
        vec![Value::object([("id", id)])]
    }

    /// Migrates stored state JSON written with schema `version` to the
    /// current schema's shape. The default keeps it as is (attributes no
    /// longer in the schema are dropped afterwards).
    fn upgrade_state(
        &self,
        _version: i64,
        state: serde_json::Value,
        _diags: &mut Diagnostics,
    ) -> serde_json::Value {
        state
    }
}

/// A data source type (`data "cloudstack_zone" ...`).
#[async_trait]
pub trait DataSource<C>: Send + Sync + 'static {
    /// Type name, e.g. `cloudstack_zone`.
    fn type_name(&self) -> &'static str;

    /// Schema: arguments plus computed results.
    fn schema(&self) -> Schema;

    /// Checks configuration without side effects.
    async fn validate(&self, _config: &Value, _diags: &mut Diagnostics) {}

    /// Looks the object up; returns config with computed attributes filled.
    async fn read(&self, client: &C, config: &Value, diags: &mut Diagnostics) -> Value;
}
