//! PROTOCOL FIXTURE — not part of any product.
//!
//! `terraform-provider-tffixture`: a provider whose "cloud" is a directory
//! of JSON files (`store_dir` in the provider block, or `TFFIXTURE_DIR`).
//! It exists so tests can run the whole tfplugin5 lifecycle (schema,
//! configure, plan, apply create/update/delete, read with drift, import,
//! data source, state upgrade) through real Terraform binaries without any
//! cloud. It exercises: force_new, defaults, sensitive, computed attributes
//! inside a set block, list blocks, maps, and a data source.

use std::{path::PathBuf, process::ExitCode, sync::Arc};

use tfplugin5::{
    async_trait, json, Attribute, Block, ConfigureRequest, DataSource, Diagnostics, NestedBlock,
    Provider, Resource, Schema, Type, Value,
};

struct Fixture;

/// The "client": where objects live.
struct Store {
    dir: PathBuf,
}

impl Store {
    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }
}

#[async_trait]
impl Provider for Fixture {
    type Client = Store;

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new().attribute(
                Attribute::optional("store_dir", Type::String)
                    .description("Directory holding the fixture's objects."),
            ),
        )
    }

    fn resources(&self) -> Vec<Arc<dyn Resource<Store>>> {
        vec![Arc::new(Thing)]
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource<Store>>> {
        vec![Arc::new(Echo)]
    }

    async fn configure(&self, req: ConfigureRequest<'_>, diags: &mut Diagnostics) -> Option<Store> {
        let dir = req
            .config
            .get_str("store_dir")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("TFFIXTURE_DIR").map(PathBuf::from));
        let Some(dir) = dir else {
            diags.attribute_error(
                "store_dir",
                "store_dir is required",
                "Set it or TFFIXTURE_DIR.",
            );
            return None;
        };
        if let Err(e) = std::fs::create_dir_all(&dir) {
            diags.attribute_error("store_dir", "Cannot create store_dir", e.to_string());
            return None;
        }
        Some(Store { dir })
    }
}

/// `tffixture_thing`.
struct Thing;

fn rule_block() -> Block {
    Block::new()
        .attribute(Attribute::required("port", Type::Number))
        .attribute(Attribute::computed("uuid", Type::String))
}

#[async_trait]
impl Resource<Store> for Thing {
    fn type_name(&self) -> &'static str {
        "tffixture_thing"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new()
                .attribute(Attribute::computed("id", Type::String))
                .attribute(Attribute::required("name", Type::String).force_new())
                .attribute(Attribute::optional("size", Type::Number))
                .attribute(Attribute::optional("mode", Type::String).default("standard"))
                .attribute(Attribute::optional("secret", Type::String).sensitive())
                .attribute(Attribute::optional("tags", Type::map(Type::String)))
                .attribute(Attribute::computed("created_serial", Type::Number))
                .block(NestedBlock::set("rule", rule_block()))
                .block(NestedBlock::list(
                    "disk",
                    Block::new().attribute(Attribute::required("size", Type::Number).force_new()),
                ))
                .timeouts(&["create", "delete"]),
        )
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if let Some(size) = config.get_i64("size") {
            if size < 0 {
                diags.attribute_error("size", "size must not be negative", format!("got {size}"));
            }
        }
    }

    async fn create(&self, store: &Store, planned: &Value, diags: &mut Diagnostics) -> Value {
        if planned.get_str("name") == Some("panic") {
            panic!("fixture asked to panic");
        }
        let serial = std::fs::read_dir(&store.dir)
            .map(|d| d.count())
            .unwrap_or(0) as i64
            + 1;
        let id = format!("thing-{}-{serial}", std::process::id());
        let mut state = planned.clone();
        state.set_attr("id", id.as_str());
        state.set_attr("created_serial", serial);
        let rules: Vec<Value> = planned
            .get_slice("rule")
            .iter()
            .map(|r| {
                let mut r = r.clone();
                let port = r.get_i64("port").unwrap_or(0);
                r.set_attr("uuid", format!("{id}-rule-{port}"));
                r
            })
            .collect();
        state.set_attr("rule", Value::Set(rules));
        save(store, &id, &state, diags);
        if planned.get_str("name") == Some("fail-after-create") {
            // like a CloudStack job that outlived its timeout: the object
            // exists, so return it along with the error
            diags.error("Simulated timeout after create", format!("{id} exists"));
        }
        state
    }

    async fn read(&self, store: &Store, state: &Value, diags: &mut Diagnostics) -> Value {
        let Some(id) = state.get_str("id") else {
            return Value::Null;
        };
        let text = match std::fs::read(store.path(id)) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Value::Null,
            Err(e) => {
                diags.error("Cannot read object", e.to_string());
                return Value::Null;
            }
        };
        match json::decode(&text, &self.schema().value_type()) {
            Ok(v) => v,
            Err(e) => {
                diags.error("Corrupt object", e.to_string());
                Value::Null
            }
        }
    }

    async fn update(
        &self,
        store: &Store,
        prior: &Value,
        planned: &Value,
        diags: &mut Diagnostics,
    ) -> Value {
        let Some(id) = prior.get_str("id") else {
            diags.error("No id in prior state", "");
            return Value::Null;
        };
        let mut state = planned.clone();
        let rules: Vec<Value> = planned
            .get_slice("rule")
            .iter()
            .map(|r| {
                let mut r = r.clone();
                if r.get("uuid").is_unknown() {
                    let port = r.get_i64("port").unwrap_or(0);
                    r.set_attr("uuid", format!("{id}-rule-{port}"));
                }
                r
            })
            .collect();
        state.set_attr("rule", Value::Set(rules));
        save(store, id, &state, diags);
        state
    }

    async fn delete(&self, store: &Store, prior: &Value, diags: &mut Diagnostics) {
        if let Some(id) = prior.get_str("id") {
            match std::fs::remove_file(store.path(id)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => diags.error("Cannot delete object", e.to_string()),
            }
        }
    }
}

fn save(store: &Store, id: &str, state: &Value, diags: &mut Diagnostics) {
    let written = json::to_json(state)
        .map_err(|e| e.to_string())
        .and_then(|j| std::fs::write(store.path(id), j.to_string()).map_err(|e| e.to_string()));
    if let Err(e) = written {
        diags.error("Cannot store object", e);
    }
}

/// `tffixture_echo`: `output` is `input` upper-cased.
struct Echo;

#[async_trait]
impl DataSource<Store> for Echo {
    fn type_name(&self) -> &'static str {
        "tffixture_echo"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new()
                .attribute(Attribute::required("input", Type::String))
                .attribute(Attribute::computed("output", Type::String)),
        )
    }

    async fn read(&self, _store: &Store, config: &Value, _diags: &mut Diagnostics) -> Value {
        let mut v = config.clone();
        v.set_attr("output", config.get_str("input").map(str::to_uppercase));
        v
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match tfplugin5::serve(Fixture).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
