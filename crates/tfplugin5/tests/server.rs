//! The tfplugin5 service driven directly (no socket): every RPC a resource
//! goes through, with msgpack on the wire as Terraform sends it.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::sync::{Arc, Mutex};

use tfplugin5::{
    async_trait, msgpack,
    proto::{self, provider_server::Provider as _},
    Attribute, Block, CancellationToken, ConfigureRequest, Diagnostics, GrpcProvider, Provider,
    Resource, Schema, Type, Value,
};
use tonic::Request;

#[derive(Default)]
struct Calls(Mutex<Vec<String>>, Mutex<Option<CancellationToken>>);

struct TestProvider(Arc<Calls>);
struct Vm(Arc<Calls>);

#[async_trait]
impl Provider for TestProvider {
    type Client = String;
    fn schema(&self) -> Schema {
        Schema::new(Block::new().attribute(Attribute::optional("endpoint", Type::String)))
    }
    fn resources(&self) -> Vec<Arc<dyn Resource<String>>> {
        vec![Arc::new(Vm(self.0.clone()))]
    }
    async fn configure(&self, req: ConfigureRequest<'_>, _d: &mut Diagnostics) -> Option<String> {
        assert_eq!(req.terraform_version, "1.0.3");
        assert!(!req.stop.is_cancelled());
        *self.0 .1.lock().unwrap() = Some(req.stop.clone());
        Some(req.config.get_str("endpoint").unwrap_or("none").to_string())
    }
}

fn vm_schema() -> Schema {
    Schema::new(
        Block::new()
            .attribute(Attribute::computed("id", Type::String))
            .attribute(Attribute::required("name", Type::String).force_new())
            .attribute(Attribute::optional("size", Type::Number))
            .attribute(Attribute::computed("ip", Type::String)),
    )
    .version(1)
}

#[async_trait]
impl Resource<String> for Vm {
    fn type_name(&self) -> &'static str {
        "test_vm"
    }
    fn schema(&self) -> Schema {
        vm_schema()
    }
    async fn create(&self, client: &String, planned: &Value, diags: &mut Diagnostics) -> Value {
        self.0
             .0
            .lock()
            .unwrap()
            .push(format!("create via {client}"));
        let mut s = planned.clone();
        s.set_attr("id", "vm-1");
        match planned.get_str("name") {
            // job timed out after the VM existed: keep it, report the error
            Some("slow") => {
                s.set_attr("ip", Value::Null);
                diags.error("Timed out waiting for the VM", "It exists as vm-1.");
            }
            // buggy resource leaving an unknown behind
            Some("buggy") => {}
            _ => s.set_attr("ip", "10.0.0.9"),
        }
        s
    }
    async fn read(&self, _c: &String, state: &Value, diags: &mut Diagnostics) -> Value {
        match state.get_str("id") {
            Some("gone") => Value::Null,
            Some("broken") => {
                diags.error("API down", "");
                Value::Null
            }
            _ => state.clone(),
        }
    }
    async fn update(
        &self,
        _c: &String,
        _p: &Value,
        planned: &Value,
        _d: &mut Diagnostics,
    ) -> Value {
        self.0 .0.lock().unwrap().push("update".into());
        planned.clone()
    }
    async fn delete(&self, _c: &String, prior: &Value, _d: &mut Diagnostics) {
        self.0
             .0
            .lock()
            .unwrap()
            .push(format!("delete {}", prior.get_str("id").unwrap_or("?")));
    }
    fn upgrade_state(
        &self,
        version: i64,
        mut state: serde_json::Value,
        _d: &mut Diagnostics,
    ) -> serde_json::Value {
        if version == 0 {
            // v0 called it "vm_name"
            let old = state["vm_name"].take();
            state["name"] = old;
        }
        state
    }
}

fn dv(v: &Value) -> Option<proto::DynamicValue> {
    Some(proto::DynamicValue {
        msgpack: msgpack::encode(v, &vm_schema().value_type()).unwrap(),
        json: vec![],
    })
}

fn val(d: &Option<proto::DynamicValue>) -> Value {
    msgpack::decode(&d.as_ref().unwrap().msgpack, &vm_schema().value_type()).unwrap()
}

fn vm(id: Value, name: &str, size: i64, ip: Value) -> Value {
    Value::object([
        ("id", id),
        ("name", name.into()),
        ("size", size.into()),
        ("ip", ip),
    ])
}

async fn configured() -> (GrpcProvider<TestProvider>, Arc<Calls>) {
    let calls = Arc::new(Calls::default());
    let p = GrpcProvider::new(TestProvider(calls.clone()));
    let cfg = Value::object([("endpoint", "http://sim")]);
    let ty = Type::object([("endpoint", Type::String)]);
    let resp = p
        .configure(Request::new(proto::configure::Request {
            terraform_version: "1.0.3".into(),
            config: Some(proto::DynamicValue {
                msgpack: msgpack::encode(&cfg, &ty).unwrap(),
                json: vec![],
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(resp.diagnostics.is_empty());
    (p, calls)
}

#[tokio::test]
async fn schema_lists_resources_with_versions() {
    let (p, _) = configured().await;
    let s = p
        .get_schema(Request::new(proto::get_provider_schema::Request {}))
        .await
        .unwrap()
        .into_inner();
    let vm = &s.resource_schemas["test_vm"];
    assert_eq!(vm.version, 1);
    let block = vm.block.as_ref().unwrap();
    assert!(block
        .attributes
        .iter()
        .any(|a| a.name == "ip" && a.computed && !a.optional));
}

#[tokio::test]
async fn plan_create_then_replace() {
    let (p, _) = configured().await;
    let cfg = vm(Value::Null, "a", 1, Value::Null);
    let plan = p
        .plan_resource_change(Request::new(proto::plan_resource_change::Request {
            type_name: "test_vm".into(),
            prior_state: dv(&Value::Null),
            proposed_new_state: dv(&cfg),
            config: dv(&cfg),
            prior_private: b"keep".to_vec(),
            provider_meta: None,
        }))
        .await
        .unwrap()
        .into_inner();
    let planned = val(&plan.planned_state);
    assert!(planned.get("id").is_unknown() && planned.get("ip").is_unknown());
    assert_eq!(plan.planned_private, b"keep");

    let prior = vm("vm-1".into(), "a", 1, "10.0.0.9".into());
    let cfg = vm(Value::Null, "b", 1, Value::Null);
    let proposed = vm("vm-1".into(), "b", 1, "10.0.0.9".into());
    let plan = p
        .plan_resource_change(Request::new(proto::plan_resource_change::Request {
            type_name: "test_vm".into(),
            prior_state: dv(&prior),
            proposed_new_state: dv(&proposed),
            config: dv(&cfg),
            prior_private: vec![],
            provider_meta: None,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(plan.requires_replace.len(), 1);
    assert!(val(&plan.planned_state).get("id").is_unknown());
}

async fn apply(
    p: &GrpcProvider<TestProvider>,
    prior: &Value,
    planned: &Value,
) -> proto::apply_resource_change::Response {
    p.apply_resource_change(Request::new(proto::apply_resource_change::Request {
        type_name: "test_vm".into(),
        prior_state: dv(prior),
        planned_state: dv(planned),
        config: dv(planned),
        planned_private: b"priv".to_vec(),
        provider_meta: None,
    }))
    .await
    .unwrap()
    .into_inner()
}

#[tokio::test]
async fn apply_create_update_delete() {
    let (p, calls) = configured().await;
    let planned = vm(Value::Unknown, "a", 1, Value::Unknown);
    let r = apply(&p, &Value::Null, &planned).await;
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let created = val(&r.new_state);
    assert_eq!(created, vm("vm-1".into(), "a", 1, "10.0.0.9".into()));
    assert_eq!(r.private, b"priv");

    let r = apply(&p, &created, &vm("vm-1".into(), "a", 2, "10.0.0.9".into())).await;
    assert_eq!(val(&r.new_state).get_i64("size"), Some(2));

    let r = apply(&p, &created, &Value::Null).await;
    assert!(r.diagnostics.is_empty());
    assert_eq!(
        r.new_state.unwrap().msgpack,
        vec![0xc0],
        "delete answers a msgpack nil"
    );
    assert_eq!(
        *calls.0.lock().unwrap(),
        vec!["create via http://sim", "update", "delete vm-1"]
    );
}

#[tokio::test]
async fn failed_create_still_returns_the_object() {
    let (p, _) = configured().await;
    let r = apply(
        &p,
        &Value::Null,
        &vm(Value::Unknown, "slow", 1, Value::Unknown),
    )
    .await;
    assert_eq!(r.diagnostics.len(), 1);
    assert_eq!(r.diagnostics[0].summary, "Timed out waiting for the VM");
    assert_eq!(val(&r.new_state).get_str("id"), Some("vm-1"));
}

#[tokio::test]
async fn unknown_left_after_apply_is_reported_with_its_path() {
    let (p, _) = configured().await;
    let r = apply(
        &p,
        &Value::Null,
        &vm(Value::Unknown, "buggy", 1, Value::Unknown),
    )
    .await;
    let d = &r.diagnostics[0];
    assert!(d.summary.contains("test_vm.ip"), "{}", d.summary);
    let step = &d.attribute.as_ref().unwrap().steps[0];
    assert_eq!(
        step.selector,
        Some(proto::attribute_path::step::Selector::AttributeName(
            "ip".into()
        ))
    );
}

async fn read(p: &GrpcProvider<TestProvider>, state: &Value) -> proto::read_resource::Response {
    p.read_resource(Request::new(proto::read_resource::Request {
        type_name: "test_vm".into(),
        current_state: dv(state),
        private: b"p".to_vec(),
        provider_meta: None,
    }))
    .await
    .unwrap()
    .into_inner()
}

#[tokio::test]
async fn read_gone_and_failed() {
    let (p, _) = configured().await;
    let r = read(&p, &vm("gone".into(), "a", 1, "x".into())).await;
    assert!(val(&r.new_state).is_null());
    assert_eq!(r.private, b"p");
    let current = vm("broken".into(), "a", 1, "x".into());
    let r = read(&p, &current).await;
    assert_eq!(r.diagnostics.len(), 1);
    assert_eq!(val(&r.new_state), current, "a failed read keeps the state");
}

#[tokio::test]
async fn upgrade_old_state_json() {
    let (p, _) = configured().await;
    let r = p
        .upgrade_resource_state(Request::new(proto::upgrade_resource_state::Request {
            type_name: "test_vm".into(),
            version: 0,
            raw_state: Some(proto::RawState {
                json: br#"{"id":"vm-1","vm_name":"a","size":1,"ip":"x","obsolete":true}"#.to_vec(),
                flatmap: Default::default(),
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    assert_eq!(
        val(&r.upgraded_state),
        vm("vm-1".into(), "a", 1, "x".into())
    );
}

#[tokio::test]
async fn import_and_unknown_type() {
    let (p, _) = configured().await;
    let r = p
        .import_resource_state(Request::new(proto::import_resource_state::Request {
            type_name: "test_vm".into(),
            id: "vm-7".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    let imported = &r.imported_resources[0];
    assert_eq!(imported.type_name, "test_vm");
    let v = val(&imported.state);
    assert_eq!(v.get_str("id"), Some("vm-7"));
    assert!(v.get("name").is_null());

    let r = read_unknown_type(&p).await;
    assert!(r.diagnostics[0].summary.contains("test_nope"));
}

async fn read_unknown_type(p: &GrpcProvider<TestProvider>) -> proto::read_resource::Response {
    p.read_resource(Request::new(proto::read_resource::Request {
        type_name: "test_nope".into(),
        current_state: None,
        private: vec![],
        provider_meta: None,
    }))
    .await
    .unwrap()
    .into_inner()
}

#[tokio::test]
async fn calls_before_configure_are_diagnosed() {
    let p = GrpcProvider::new(TestProvider(Arc::new(Calls::default())));
    let r = read(&p, &vm("x".into(), "a", 1, "x".into())).await;
    assert_eq!(r.diagnostics[0].summary, "Provider not configured");
}

#[tokio::test]
async fn stop_cancels_the_token_given_to_configure() {
    let (p, calls) = configured().await;
    let token = calls.1.lock().unwrap().clone().unwrap();
    assert!(!token.is_cancelled());
    let r = p
        .stop(Request::new(proto::stop::Request {}))
        .await
        .unwrap()
        .into_inner();
    assert!(r.error.is_empty());
    assert!(token.is_cancelled());
}

/// A plan whose three values are `bad`, and whether the answer is diagnostics only.
async fn plan_with(
    p: &GrpcProvider<TestProvider>,
    bad: proto::DynamicValue,
) -> proto::plan_resource_change::Response {
    p.plan_resource_change(Request::new(proto::plan_resource_change::Request {
        type_name: "test_vm".into(),
        prior_state: Some(bad.clone()),
        proposed_new_state: Some(bad.clone()),
        config: Some(bad),
        prior_private: vec![],
        provider_meta: None,
    }))
    .await
    .expect("a bad value is a diagnostic, never a gRPC error")
    .into_inner()
}

fn msgpack_dv(bytes: Vec<u8>) -> proto::DynamicValue {
    proto::DynamicValue {
        msgpack: bytes,
        json: vec![],
    }
}

/// Malformed and truncated `DynamicValue`s (msgpack and JSON) are answered with error
/// diagnostics and no value, and the server goes on serving good calls.
#[tokio::test]
async fn malformed_and_truncated_values_are_diagnosed_and_serving_goes_on() {
    let (p, calls) = configured().await;
    let good = dv(&vm(Value::Null, "a", 1, Value::Null)).unwrap().msgpack;
    let mut bad: Vec<proto::DynamicValue> = (0..good.len())
        .map(|cut| msgpack_dv(good[..cut].to_vec()))
        .filter(|d| !d.msgpack.is_empty())
        .collect();
    bad.extend([
        // `true` where an object is wanted
        msgpack_dv(vec![0xc3]),
        msgpack_dv(vec![0xdd, 0xff, 0xff, 0xff, 0xff]),
        msgpack_dv(vec![0x91; 10_000]),
        // a string where an object is wanted
        msgpack_dv(msgpack::encode(&Value::from("vm"), &Type::String).unwrap()),
        proto::DynamicValue {
            msgpack: vec![],
            json: br#"{"name": ["not", "a", "string"]}"#.to_vec(),
        },
        proto::DynamicValue {
            msgpack: vec![],
            json: br#"{"name": "a""#.to_vec(),
        },
    ]);
    for d in bad {
        let shown = format!("{d:?}");
        let r = plan_with(&p, d.clone()).await;
        assert!(r.planned_state.is_none(), "{shown}");
        assert!(
            r.diagnostics
                .iter()
                .any(|g| g.severity == proto::diagnostic::Severity::Error as i32),
            "{shown}: {:?}",
            r.diagnostics
        );
        let a = p
            .apply_resource_change(Request::new(proto::apply_resource_change::Request {
                type_name: "test_vm".into(),
                prior_state: dv(&Value::Null),
                planned_state: Some(d.clone()),
                config: Some(d),
                planned_private: vec![],
                provider_meta: None,
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(
            a.new_state.is_none() && !a.diagnostics.is_empty(),
            "{shown}"
        );
    }
    assert!(
        calls.0.lock().unwrap().is_empty(),
        "a bad value reached the resource"
    );
    // Still serving: a good create goes through.
    let r = apply(
        &p,
        &Value::Null,
        &vm(Value::Unknown, "a", 1, Value::Unknown),
    )
    .await;
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    assert_eq!(val(&r.new_state).get_str("id"), Some("vm-1"));
}

/// A state from a schema version this provider does not know (a newer release wrote it) is a
/// diagnostic naming both versions, not a guess at its shape.
#[tokio::test]
async fn unknown_schema_versions_are_diagnosed() {
    let (p, _) = configured().await;
    for version in [2, 99, -1] {
        let r = p
            .upgrade_resource_state(Request::new(proto::upgrade_resource_state::Request {
                type_name: "test_vm".into(),
                version,
                raw_state: Some(proto::RawState {
                    json: br#"{"id":"vm-1","name":"a"}"#.to_vec(),
                    flatmap: Default::default(),
                }),
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(r.upgraded_state.is_none());
        let d = &r.diagnostics[0];
        assert_eq!(
            d.summary,
            format!("Unknown schema version {version} of test_vm")
        );
        assert!(d.detail.contains("0 to 1"), "{}", d.detail);
    }
    // State that is not JSON at all.
    let r = p
        .upgrade_resource_state(Request::new(proto::upgrade_resource_state::Request {
            type_name: "test_vm".into(),
            version: 1,
            raw_state: Some(proto::RawState {
                json: b"{\"id\": ".to_vec(),
                flatmap: Default::default(),
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.diagnostics[0].summary, "Stored state is not JSON");
}

/// Over a real gRPC connection: a message above `MAX_MESSAGE_BYTES` fails that call with a
/// gRPC error (Terraform shows it), and the same connection keeps serving.
#[tokio::test]
async fn oversized_messages_fail_that_call_only() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let routes = tfplugin5::routes(TestProvider(Arc::new(Calls::default())));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_routes(routes)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let mut client = proto::provider_client::ProviderClient::connect(format!("http://{addr}"))
        .await
        .unwrap()
        .max_decoding_message_size(usize::MAX)
        .max_encoding_message_size(usize::MAX);
    let huge = proto::validate_resource_type_config::Request {
        type_name: "test_vm".into(),
        config: Some(proto::DynamicValue {
            msgpack: vec![0xc0; tfplugin5::MAX_MESSAGE_BYTES + 1],
            json: vec![],
        }),
    };
    let status = client
        .validate_resource_type_config(huge)
        .await
        .expect_err("a message above the cap is refused");
    assert!(
        status.message().contains("too large") || status.message().contains("limit"),
        "{status:?}"
    );
    let schema = client
        .get_schema(proto::get_provider_schema::Request {})
        .await
        .expect("the connection keeps serving")
        .into_inner();
    assert!(schema.resource_schemas.contains_key("test_vm"));
}
