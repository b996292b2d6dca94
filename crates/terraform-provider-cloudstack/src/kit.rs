//! The frame every new resource and data source shares: it declares a typed
//! model (a serde struct checked against its schema by
//! [`tfplugin5::model::check`]) and writes only CloudStack logic on it;
//! [`Typed`] does the rest once: decoding and encoding values, keeping the
//! planned values after apply ([`planned_unless_failed`]), nulls for what
//! stayed unknown, "gone" on read, import ids `<id>` and `<project>/<id>`
//! ([`import_state`]). Diagnostics from CloudStack errors, timeouts and
//! project/name resolution are the helpers of [`crate::common`], reached
//! through [`Ctx`].
//!
//! ## Attribute names are checked by the compiler
//! Outside schemas (the declarations, tied to the models by
//! [`tfplugin5::model::check`]) no resource spells an attribute name as a
//! string: [`attr!`](crate::attr) turns a model field into its name, so a
//! misspelt one fails to compile.
//!
//! ## Plan-time views
//! `validate` and `modify_plan` see configuration and plans, where values
//! may be unknown ("known after apply"). The models use `Option<T>` for
//! what may be unset after apply, which cannot say "unknown", and a model
//! with a required `String` does not even decode from a configuration that
//! references an object not yet created. So these hooks receive a *view*
//! ([`TypedResource::View`]): a struct whose fields are
//! [`Field<T>`](tfplugin5::model::Field) (null, unknown or known), nested
//! blocks as `Field<Vec<...>>` of such structs, naming only what the checks
//! read. A resource whose model already is made of `Field`s uses the model
//! itself. A view that names an attribute of no schema would read as null
//! forever, so one unit test (`tests::every_registered_view_names_schema_attributes`)
//! runs [`tfplugin5::model::check_view`] on every registered resource and
//! data source. Edits in `modify_plan` are field assignments on
//! [`Planning::planned`] (`plan.planned.uuid = Field::Unknown`), which the
//! kit writes back over the attributes the view names
//! ([`tfplugin5::model::merge_into`]); the plan is untouched when the view is.
//! Views rather than one model with `Field` everywhere: create, read and
//! update then keep their plain types (`String`, `Option<i64>`), where
//! nothing can be unknown. A view that does not decode (only a value of the
//! wrong type does, e.g. `1.5` for a whole number, which Terraform reports
//! itself) skips the hooks, as the raw reads skipped what they could not
//! read.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use cloudstack::{AcceptedLog, Params};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use tfplugin5::{
    async_trait, model, AttributePath, DataSource, Diagnostics, PlanRequest, Resource, Schema,
    Value,
};

use crate::{
    common::{
        accepted_state, bounded, deleted, import_state, op_timeout, planned_unless_failed,
        project_id, update_tags,
    },
    provider::Client,
};

/// What a typed resource's operations get besides its model: the client
/// and the raw value (for the `timeouts` block).
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// The configured client.
    pub c: &'a Client,
    /// The value the model was decoded from.
    pub raw: &'a Value,
}

impl<'a> Ctx<'a> {
    /// The limit of operation `op` ("create", "update", "delete"): the
    /// resource's `timeouts` block, else the provider's `timeout`.
    pub fn limit(&self, op: &str, diags: &mut Diagnostics) -> Duration {
        op_timeout(self.c, self.raw, op, diags)
    }

    /// Runs the delete `command` with `params` (waiting for its job, within
    /// the resource's delete timeout); an object already gone is not an
    /// error, anything else is "Error deleting <what>".
    pub async fn delete(
        &self,
        command: &str,
        params: &Params,
        what: &str,
        diags: &mut Diagnostics,
    ) {
        let limit = self.limit("delete", diags);
        let api = self.c.api_with_timeout(limit);
        deleted(
            bounded(self.c, limit, api.request_async(command, params)).await,
            &format!("deleting {what}"),
            diags,
        );
    }

    /// Brings the tags of the `kind` object `id` (CloudStack's resource type,
    /// e.g. `UserVm`) from `prior` to `plan` within `limit`; nothing when the
    /// plan leaves them unknown or unchanged. False after an error at `tags`.
    pub async fn update_tags(
        &self,
        kind: &str,
        id: &str,
        limit: Duration,
        prior: &Option<BTreeMap<String, String>>,
        plan: &Option<BTreeMap<String, String>>,
        diags: &mut Diagnostics,
    ) -> bool {
        let (Some(new), old) = (plan, prior.clone().unwrap_or_default()) else {
            return true;
        };
        if &old == new {
            return true;
        }
        match update_tags(self.c, limit, kind, id, &old, new).await {
            Ok(()) => true,
            Err(e) => {
                // generic over resources: `tags` is the attribute of every
                // resource that calls this (the Go SDK's convention)
                diags.push(e.diagnostic("updating tags", Some("tags"), "update"));
                false
            }
        }
    }

    /// The id CloudStack's answer to `command` named during this create, if
    /// it accepted one: what a create that failed later must keep (tainted)
    /// or clean up, rather than look for again.
    pub fn accepted_id(&self, command: &str) -> Option<String> {
        self.c.api.accepted_log()?.last_id(command)
    }

    /// The project id for the `project` attribute (name or id), or `None`
    /// when unset; `Err(())` after pushing an error naming `project`.
    pub async fn project_id(
        &self,
        project: Option<&str>,
        diags: &mut Diagnostics,
    ) -> Result<Option<String>, ()> {
        project_id(self.c, project, diags).await
    }
}

/// The Terraform name of field `field` of the model (or view) `Model`, as
/// `&'static str`: compiles only if the struct has that field (model fields
/// are named as the schema's attributes; [`tfplugin5::model::check`] holds
/// them to it). Usable in constants.
#[macro_export]
macro_rules! attr {
    ($model:ty, $field:ident) => {{
        #[allow(dead_code)]
        fn field_exists(m: &$model) {
            let _ = &m.$field;
        }
        $crate::kit::field_name(stringify!($field))
    }};
}

/// `stringify!` of a raw identifier (`r#type`) without its `r#`: the
/// attribute's name.
pub const fn field_name(field: &'static str) -> &'static str {
    match field.as_bytes() {
        [b'r', b'#', rest @ ..] => match std::str::from_utf8(rest) {
            Ok(name) => name,
            Err(_) => field,
        },
        _ => field,
    }
}

/// The view of a resource whose plan-time hooks read nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NoView {}

/// What [`TypedResource::modify_plan`] works on: the prior state, the
/// configuration and the plan so far, each decoded as the resource's view.
/// Assign to `planned`'s fields to change the plan.
#[derive(Debug)]
pub struct Planning<'a, V> {
    /// State before the change; `None` on create.
    pub prior: Option<V>,
    /// The configuration as written.
    pub config: V,
    /// The plan so far (generic rules applied).
    pub planned: V,
    /// Paths forcing replacement; remove or add.
    pub requires_replace: &'a mut Vec<AttributePath>,
    /// The raw plan, for edits over every attribute whatever its name
    /// (e.g. "unknown becomes the prior value"); named edits go through
    /// `planned`.
    pub raw_planned: &'a mut Value,
    /// The raw prior state, for the same generic edits.
    pub raw_prior: &'a Value,
}

impl<V> Planning<'_, V> {
    /// True when a new object will be created (no prior state, or a
    /// replacement).
    pub fn creating(&self) -> bool {
        self.prior.is_none() || !self.requires_replace.is_empty()
    }
}

/// A set or list of strings in a plan-time view: the collection and each
/// element may be unknown.
pub type PlanStrings = model::Field<Vec<model::Field<String>>>;

/// The strings of `f` (none when null); `None` when it or an element is
/// unknown.
pub fn known_strings(f: &PlanStrings) -> Option<Vec<&str>> {
    match f {
        model::Field::Null => Some(Vec::new()),
        model::Field::Unknown => None,
        model::Field::Known(items) => items
            .iter()
            .map(|i| i.known().map(String::as_str))
            .collect(),
    }
}

/// The known elements of `f` (none when it is null or unknown).
pub fn known_elements(f: &PlanStrings) -> Vec<&str> {
    f.known()
        .into_iter()
        .flatten()
        .filter_map(|i| i.known().map(String::as_str))
        .collect()
}

/// The bounds a plan-time view needs.
pub trait View: Serialize + DeserializeOwned + Clone + PartialEq + Send + Sync + 'static {}
impl<T: Serialize + DeserializeOwned + Clone + PartialEq + Send + Sync + 'static> View for T {}

/// Decodes a plan-time view. Views are made of `Field`s, so this fails only
/// on a value of the wrong type (e.g. 1.5 for a whole number), which
/// Terraform reports itself: the checks are then skipped.
fn view<V: View>(v: &Value) -> Option<V> {
    match model::from_value(v) {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::debug!(%e, "plan-time view does not decode; checks skipped");
            None
        }
    }
}

/// A managed resource written against its typed model. Wrap it in
/// [`Typed`] to register it.
#[async_trait]
pub trait TypedResource: Send + Sync + 'static {
    /// The model: one field per schema attribute and block.
    type Model: Serialize + DeserializeOwned + Send + Sync + 'static;

    /// What `validate` and `modify_plan` read (see the module docs): the
    /// model when it is made of `Field`s, a smaller struct of `Field`s, or
    /// [`NoView`].
    type View: View;

    /// Type name, e.g. `cloudstack_vpc`.
    fn type_name(&self) -> &'static str;

    /// The schema (the Go provider's).
    fn schema(&self) -> Schema;

    /// Checks configuration (unknowns possible).
    async fn validate(&self, _config: Self::View, _diags: &mut Diagnostics) {}

    /// Adjusts the plan by assigning to `plan.planned`.
    async fn modify_plan(&self, _plan: &mut Planning<'_, Self::View>, _diags: &mut Diagnostics) {}

    /// The command whose accepted answer names the new object's id (e.g.
    /// `createVPC`). When a create fails after CloudStack accepted that command
    /// (a lost job answer, a timeout, Ctrl-C), the object is kept in state as
    /// tainted instead of being orphaned; `None` for resources that are not one
    /// object (rule sets, static NAT).
    fn create_command(&self) -> Option<&'static str> {
        None
    }

    /// Creates the object; the model comes back with computed fields set.
    /// Return the model together with an error if the object exists but a
    /// later step failed (Terraform records it tainted).
    async fn create(
        &self,
        cx: Ctx<'_>,
        plan: Self::Model,
        diags: &mut Diagnostics,
    ) -> Option<Self::Model>;

    /// Reads the object into the model; `None` when it is gone.
    async fn read(
        &self,
        cx: Ctx<'_>,
        state: Self::Model,
        diags: &mut Diagnostics,
    ) -> Option<Self::Model>;

    /// Updates in place; `None` after an error leaves the prior state.
    async fn update(
        &self,
        _cx: Ctx<'_>,
        _prior: Self::Model,
        _plan: Self::Model,
        diags: &mut Diagnostics,
    ) -> Option<Self::Model> {
        diags.error(
            format!("{} cannot be updated in place", self.type_name()),
            "This is a provider bug: the schema should mark the changed attribute force_new.",
        );
        None
    }

    /// Deletes the object; already gone is not an error.
    async fn delete(&self, cx: Ctx<'_>, prior: Self::Model, diags: &mut Diagnostics);

    /// `terraform import`: the state a read starts from, by default `id`
    /// (and `project` for `<project>/<id>`).
    fn import(&self, import_id: &str) -> Vec<Value> {
        import_state(import_id, &[])
    }
}

/// What [`TypedResource::import`] returns for the model `m` (the id and whatever the
/// import id names; every other attribute null until the first read).
pub fn imported<M: Serialize>(m: &M, schema: &Schema) -> Vec<Value> {
    let mut diags = Diagnostics::default();
    let v = encode(m, schema, &mut diags);
    if diags.has_errors() {
        tracing::error!(?diags, "cannot write an imported state");
        return Vec::new();
    }
    vec![v]
}

/// Registers a [`TypedResource`] (or [`TypedDataSource`]) with the provider.
#[derive(Debug)]
pub struct Typed<R>(pub R);

fn decode<T: DeserializeOwned>(v: &Value, what: &str, diags: &mut Diagnostics) -> Option<T> {
    match model::from_value(v) {
        Ok(m) => Some(m),
        Err(e) => {
            diags.error(
                format!("Cannot read the {what}"),
                format!("{e}. This is a provider bug; please report it."),
            );
            None
        }
    }
}

fn encode<T: Serialize>(m: &T, schema: &Schema, diags: &mut Diagnostics) -> Value {
    match model::to_value(m, &schema.value_type()) {
        Ok(mut v) => {
            null_unknowns(&mut v);
            v
        }
        Err(e) => {
            diags.error(
                "Cannot write the state",
                format!("{e}. This is a provider bug; please report it."),
            );
            Value::Null
        }
    }
}

/// After apply nothing may stay unknown: what CloudStack did not say is null.
fn null_unknowns(v: &mut Value) {
    match v {
        Value::Unknown => *v = Value::Null,
        Value::List(items) | Value::Set(items) | Value::Tuple(items) => {
            items.iter_mut().for_each(null_unknowns)
        }
        Value::Map(m) | Value::Object(m) => m.values_mut().for_each(null_unknowns),
        _ => {}
    }
}

#[async_trait]
impl<R: TypedResource> Resource<Client> for Typed<R> {
    fn type_name(&self) -> &'static str {
        self.0.type_name()
    }

    fn schema(&self) -> Schema {
        self.0.schema()
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if let Some(v) = view(config) {
            self.0.validate(v, diags).await
        }
    }

    async fn modify_plan(&self, req: PlanRequest<'_>, diags: &mut Diagnostics) {
        let (Some(config), Some(planned)) = (view(req.config), view::<R::View>(req.planned)) else {
            return;
        };
        let prior = if req.prior.is_null() {
            None
        } else {
            view(req.prior)
        };
        let mut plan = Planning {
            prior,
            config,
            planned: planned.clone(),
            requires_replace: req.requires_replace,
            raw_planned: req.planned,
            raw_prior: req.prior,
        };
        self.0.modify_plan(&mut plan, diags).await;
        if plan.planned != planned {
            if let Err(e) = model::merge_into(&plan.planned, plan.raw_planned) {
                diags.error(
                    "Cannot write the plan",
                    format!("{e}. This is a provider bug; please report it."),
                );
            }
        }
    }

    async fn create(&self, c: &Client, planned: &Value, diags: &mut Diagnostics) -> Value {
        let Some(plan) = decode(planned, "plan", diags) else {
            return Value::Null;
        };
        let accepted = AcceptedLog::new();
        let recording = c.recording_accepted(&accepted);
        let cx = Ctx {
            c: &recording,
            raw: planned,
        };
        match self.0.create(cx, plan, diags).await {
            Some(m) => {
                let state = encode(&m, &self.0.schema(), diags);
                planned_unless_failed(planned, state, diags)
            }
            None => match self.0.create_command() {
                Some(command) if diags.has_errors() => {
                    accepted_state(planned, &accepted, command, diags)
                }
                _ => Value::Null,
            },
        }
    }

    async fn read(&self, c: &Client, state: &Value, diags: &mut Diagnostics) -> Value {
        // `id` is in every schema (Terraform's own convention)
        if state.get_str("id").is_none() {
            return Value::Null;
        }
        let Some(prior) = decode(state, "state", diags) else {
            return state.clone();
        };
        let cx = Ctx { c, raw: state };
        match self.0.read(cx, prior, diags).await {
            Some(m) => encode(&m, &self.0.schema(), diags),
            // a failed lookup keeps the state; only "gone" drops it
            None if diags.has_errors() => state.clone(),
            None => Value::Null,
        }
    }

    async fn update(
        &self,
        c: &Client,
        prior: &Value,
        planned: &Value,
        diags: &mut Diagnostics,
    ) -> Value {
        let (Some(old), Some(new)) = (
            decode(prior, "state", diags),
            decode(planned, "plan", diags),
        ) else {
            return Value::Null;
        };
        let cx = Ctx { c, raw: planned };
        match self.0.update(cx, old, new, diags).await {
            Some(m) => {
                let state = encode(&m, &self.0.schema(), diags);
                planned_unless_failed(planned, state, diags)
            }
            None => Value::Null,
        }
    }

    async fn delete(&self, c: &Client, prior: &Value, diags: &mut Diagnostics) {
        if prior.get_str("id").is_none() {
            return;
        }
        if let Some(m) = decode(prior, "state", diags) {
            self.0.delete(Ctx { c, raw: prior }, m, diags).await
        }
    }

    /// `terraform import <type>.x <id>` or `<project>/<id>`.
    async fn import(&self, _c: &Client, id: &str, _diags: &mut Diagnostics) -> Vec<Value> {
        self.0.import(id)
    }
}

/// A data source written against its typed model.
#[async_trait]
pub trait TypedDataSource: Send + Sync + 'static {
    /// The model: arguments and results.
    type Model: Serialize + DeserializeOwned + Send + Sync + 'static;

    /// What `validate` reads, as [`TypedResource::View`].
    type View: View;

    /// Type name, e.g. `cloudstack_vpc`.
    fn type_name(&self) -> &'static str;

    /// The schema (the Go provider's).
    fn schema(&self) -> Schema;

    /// Checks configuration (unknowns possible).
    async fn validate(&self, _config: Self::View, _diags: &mut Diagnostics) {}

    /// Looks the object up and fills the results; `None` after an error.
    async fn read(
        &self,
        cx: Ctx<'_>,
        config: Self::Model,
        diags: &mut Diagnostics,
    ) -> Option<Self::Model>;
}

#[async_trait]
impl<D: TypedDataSource> DataSource<Client> for Typed<D> {
    fn type_name(&self) -> &'static str {
        self.0.type_name()
    }

    fn schema(&self) -> Schema {
        self.0.schema()
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if let Some(v) = view(config) {
            self.0.validate(v, diags).await
        }
    }

    async fn read(&self, c: &Client, config: &Value, diags: &mut Diagnostics) -> Value {
        let Some(m) = decode(config, "configuration", diags) else {
            return Value::Null;
        };
        match self.0.read(Ctx { c, raw: config }, m, diags).await {
            Some(m) => encode(&m, &self.0.schema(), diags),
            None => Value::Null,
        }
    }
}

#[cfg_attr(not(test), allow(dead_code))] // the registry's unit test calls it
fn checked<M, V>(type_name: &str, schema: &Schema) -> Result<(), String>
where
    M: Serialize + DeserializeOwned,
    V: View,
{
    model::check::<M>(schema).map_err(|e| format!("{type_name} model: {e}"))?;
    model::check_view::<V>(schema).map_err(|e| format!("{type_name} view: {e}"))
}

/// A registered resource with the checks every one must pass (see
/// `tests::every_registered_view_names_schema_attributes`).
pub trait CheckedResource: Resource<Client> {
    /// As the provider registers it.
    fn into_resource(self: Arc<Self>) -> Arc<dyn Resource<Client>>;

    /// Its model matches its schema and its view names only attributes of
    /// it; the error names the type.
    #[cfg_attr(not(test), allow(dead_code))]
    fn check_models(&self) -> Result<(), String>;
}

impl<R: TypedResource> CheckedResource for Typed<R> {
    fn into_resource(self: Arc<Self>) -> Arc<dyn Resource<Client>> {
        self
    }

    fn check_models(&self) -> Result<(), String> {
        checked::<R::Model, R::View>(self.0.type_name(), &self.0.schema())
    }
}

/// A registered data source with the same checks.
pub trait CheckedDataSource: DataSource<Client> {
    /// As the provider registers it.
    fn into_data_source(self: Arc<Self>) -> Arc<dyn DataSource<Client>>;

    /// As [`CheckedResource::check_models`].
    #[cfg_attr(not(test), allow(dead_code))]
    fn check_models(&self) -> Result<(), String>;
}

impl<D: TypedDataSource> CheckedDataSource for Typed<D> {
    fn into_data_source(self: Arc<Self>) -> Arc<dyn DataSource<Client>> {
        self
    }

    fn check_models(&self) -> Result<(), String> {
        checked::<D::Model, D::View>(self.0.type_name(), &self.0.schema())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_stays_unknown_after_apply() {
        let mut v = Value::object([
            ("id", Value::from("x")),
            ("ip", Value::Unknown),
            (
                "rule",
                Value::Set(vec![Value::object([("uuid", Value::Unknown)])]),
            ),
        ]);
        null_unknowns(&mut v);
        assert!(v.get("ip").is_null());
        assert!(v.get_slice("rule")[0].get("uuid").is_null());
        assert!(v.is_fully_known());
    }

    #[test]
    fn every_registered_view_names_schema_attributes() {
        let handle = crate::provider::Handle::default();
        let mut failures: Vec<String> = crate::resources::checked(&handle)
            .iter()
            .filter_map(|r| r.check_models().err())
            .collect();
        failures.extend(
            crate::data_sources::checked(&handle)
                .iter()
                .filter_map(|d| d.check_models().err()),
        );
        assert!(failures.is_empty(), "{failures:#?}");
    }

    #[test]
    fn attr_names_a_field() {
        #[allow(dead_code)]
        struct M {
            boot_mode: Option<String>,
        }
        const BOOT: &str = attr!(M, boot_mode);
        assert_eq!(BOOT, "boot_mode");
        #[allow(dead_code)]
        struct K {
            r#type: String,
        }
        assert_eq!(attr!(K, r#type), "type");
    }

    #[test]
    fn decode_errors_are_diagnostics() {
        #[derive(serde::Deserialize)]
        struct M {
            #[allow(dead_code)]
            name: String,
        }
        let mut d = Diagnostics::default();
        assert!(decode::<M>(&Value::object([("name", Value::Unknown)]), "plan", &mut d).is_none());
        assert!(d.has_errors());
        assert!(d.0[0].detail.contains(".name"), "{:?}", d.0[0]);
    }
}
