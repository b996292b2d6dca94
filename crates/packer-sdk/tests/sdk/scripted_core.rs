//! A scripted Packer core (yamux client, its own broker, net/rpc client and Ui/Hook servers)
//! talking to a builder served by `serve_connection` over an in-memory pipe.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use packer_sdk::{
    async_trait,
    codec::{map_get, value_as_string},
    mux_broker::MuxBroker,
    rpc::{self, Handler, HandlerResult},
    transport, Artifact, BoxError, Builder, CancellationToken, Communicator, ExitFuture, FileInfo,
    Hook, PrepareError, PrepareOutput, RemoteCommand, Ui, BUILD_CANCELLED,
};
use rmpv::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// One `Communicator.Upload` as the fake saw it: path, bytes, file info.
type Upload = (String, Vec<u8>, Option<FileInfo>);

#[derive(Default)]
struct Recorded {
    uploads: Mutex<Vec<Upload>>,
}

struct FakeComm {
    rec: Arc<Recorded>,
}

#[async_trait]
impl Communicator for FakeComm {
    async fn start(&self, mut cmd: RemoteCommand) -> Result<ExitFuture, BoxError> {
        let mut out = cmd.stdout.take().ok_or("no stdout")?;
        let line = format!("ran: {}\n", cmd.command);
        Ok(Box::pin(async move {
            out.write_all(line.as_bytes()).await?;
            drop(out);
            Ok(7)
        }))
    }
    async fn upload(
        &self,
        path: &str,
        data: &mut (dyn AsyncRead + Send + Unpin),
        info: Option<FileInfo>,
    ) -> Result<(), BoxError> {
        let mut buf = Vec::new();
        data.read_to_end(&mut buf).await?;
        self.rec
            .uploads
            .lock()
            .unwrap()
            .push((path.into(), buf, info));
        Ok(())
    }
    async fn upload_dir(&self, _: &str, _: &str, _: &[String]) -> Result<(), BoxError> {
        Err("upload_dir not supported by the fake".into())
    }
    async fn download(
        &self,
        path: &str,
        out: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<(), BoxError> {
        out.write_all(format!("contents of {path}").as_bytes())
            .await?;
        Ok(())
    }
    async fn download_dir(&self, _: &str, _: &str, _: &[String]) -> Result<(), BoxError> {
        Ok(())
    }
}

struct TestArtifact;

#[async_trait]
impl Artifact for TestArtifact {
    fn builder_id(&self) -> String {
        "test.builder".into()
    }
    fn id(&self) -> String {
        "artifact-9".into()
    }
    fn string(&self) -> String {
        "a test artifact".into()
    }
    async fn destroy(&self) -> Result<(), BoxError> {
        Err("cannot destroy".into())
    }
}

struct TestBuilder {
    rec: Arc<Recorded>,
    prepared: Option<serde_json::Value>,
    wait_for_cancel: bool,
}

#[async_trait]
impl Builder for TestBuilder {
    async fn prepare(
        &mut self,
        configs: Vec<serde_json::Value>,
    ) -> Result<PrepareOutput, PrepareError> {
        let cfg = configs.first().cloned().unwrap_or_default();
        if cfg.get("bad").is_some() {
            return Err(PrepareError {
                errors: vec!["bad: not allowed".into(), "other: missing".into()],
                warnings: vec![],
            });
        }
        self.prepared = Some(cfg);
        Ok(PrepareOutput {
            generated_vars: vec!["Gen".into()],
            warnings: vec!["careful".into()],
        })
    }

    async fn run(
        &self,
        ui: Ui,
        hook: Hook,
        cancel: CancellationToken,
    ) -> Result<Option<Arc<dyn Artifact>>, BoxError> {
        ui.say(format!("prepared with {}", self.prepared.as_ref().unwrap()))
            .await;
        if self.wait_for_cancel {
            cancel.cancelled().await;
            ui.say("cleaning up").await;
            return Err(BUILD_CANCELLED.into());
        }
        let comm = Arc::new(FakeComm {
            rec: self.rec.clone(),
        });
        hook.run_provision(comm, serde_json::json!({"Host": "h"}), &cancel)
            .await?;
        Ok(Some(Arc::new(TestArtifact)))
    }

    fn hcl_spec(&self) -> Option<packer_sdk::hcl_spec::Spec> {
        Some(packer_sdk::hcl_spec::Spec::object_of_attrs([(
            "x",
            packer_sdk::hcl_spec::CtyType::Number,
        )]))
    }
}

/// Packer core's side of Run: serves Ui and Hook on the id it passes to Builder.Run.
struct CoreUiHook {
    broker: MuxBroker,
    lines: Arc<Mutex<Vec<String>>>,
}

impl CoreUiHook {
    /// Plays a provisioner: Start + Upload + Download + a Ui call through the hook stream.
    async fn provision(&self, args: Value) -> HandlerResult {
        assert_eq!(
            value_as_string(map_get(&args, "Name").unwrap()).unwrap(),
            "packer_provision"
        );
        assert_eq!(
            value_as_string(map_get(map_get(&args, "Data").unwrap(), "Host").unwrap()).unwrap(),
            "h"
        );
        let sid = map_get(&args, "StreamId").unwrap().as_u64().unwrap() as u32;
        let comm = rpc::Client::new(self.broker.dial(sid).await.unwrap());

        // Communicator.Start: we accept stdout and the response stream.
        let (out_id, resp_id) = (self.broker.next_id(), self.broker.next_id());
        let b = self.broker.clone();
        let stdout = tokio::spawn(async move {
            let mut s = b.accept(out_id).await.unwrap();
            let mut text = String::new();
            s.read_to_string(&mut text).await.unwrap();
            text
        });
        let b = self.broker.clone();
        let response = tokio::spawn(async move {
            let mut s = b.accept(resp_id).await.unwrap();
            let mut bytes = Vec::new();
            s.read_to_end(&mut bytes).await.unwrap();
            bytes
        });
        comm.call(
            "Communicator.Start",
            Value::Map(vec![
                ("Command".into(), "echo hi".into()),
                ("StdinStreamId".into(), 0u32.into()),
                ("StdoutStreamId".into(), out_id.into()),
                ("StderrStreamId".into(), 0u32.into()),
                ("ResponseStreamId".into(), resp_id.into()),
            ]),
        )
        .await
        .unwrap();
        let text = stdout.await.unwrap();
        let gob = response.await.unwrap();
        // gob CommandFinished{ExitStatus: 7}: value message is ff 82 01 0e 00.
        assert_eq!(
            &gob[gob.len() - 5..],
            &[0xff, 0x82, 0x01, 0x0e, 0x00],
            "{gob:x?}"
        );
        self.lines.lock().unwrap().push(format!("stdout={text}"));

        // Communicator.Upload: we accept the reader stream and write the file into it.
        let rid = self.broker.next_id();
        let b = self.broker.clone();
        tokio::spawn(async move {
            let mut s = b.accept(rid).await.unwrap();
            s.write_all(b"file-bytes").await.unwrap();
            s.shutdown().await.unwrap();
        });
        comm.call(
            "Communicator.Upload",
            Value::Map(vec![
                ("Path".into(), "/remote/f".into()),
                ("ReaderStreamId".into(), rid.into()),
                (
                    "FileInfo".into(),
                    Value::Map(vec![
                        ("N".into(), "f".into()),
                        ("S".into(), 10.into()),
                        ("M".into(), 0o644.into()),
                        ("T".into(), Value::Ext(-1, vec![0; 12])),
                    ]),
                ),
            ]),
        )
        .await
        .unwrap();

        // Communicator.Download: we accept the writer stream and read what comes.
        let wid = self.broker.next_id();
        let b = self.broker.clone();
        let dl = tokio::spawn(async move {
            let mut s = b.accept(wid).await.unwrap();
            let mut text = String::new();
            s.read_to_string(&mut text).await.unwrap();
            text
        });
        comm.call(
            "Communicator.Download",
            Value::Map(vec![
                ("Path".into(), "/etc/x".into()),
                ("WriterStreamId".into(), wid.into()),
            ]),
        )
        .await
        .unwrap();
        assert_eq!(dl.await.unwrap(), "contents of /etc/x");

        // UploadDir errors come back as RPC errors.
        let err = comm
            .call(
                "Communicator.UploadDir",
                Value::Map(vec![
                    ("Dst".into(), "/d".into()),
                    ("Src".into(), "/s".into()),
                ]),
            )
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("upload_dir not supported"),
            "{err}"
        );

        // Provisioners' Ui calls on the hook stream reach the core's Ui.
        comm.call("Ui.Say", "from provisioner".into())
            .await
            .unwrap();
        Ok(Value::Nil)
    }
}

#[async_trait]
impl Handler for CoreUiHook {
    async fn call(&self, method: &str, body: Value) -> HandlerResult {
        match method {
            "Ui.Say" | "Ui.Message" | "Ui.Error" => {
                self.lines
                    .lock()
                    .unwrap()
                    .push(format!("{method}: {}", value_as_string(&body).unwrap()));
                Ok(Value::Nil)
            }
            "Hook.Run" => self.provision(body).await,
            other => Err(format!("core: unexpected {other}")),
        }
    }
}

struct Core {
    broker: MuxBroker,
    main: rpc::Client<transport::MuxStream>,
    lines: Arc<Mutex<Vec<String>>>,
}

async fn start(builder: TestBuilder) -> Core {
    start_with(builder, false).await
}

async fn start_with(builder: TestBuilder, protobuf: bool) -> Core {
    let (plugin_io, core_io) = tokio::io::duplex(64 * 1024);
    tokio::spawn(packer_sdk::serve_connection(plugin_io, builder, protobuf));
    let (session, inbound, _driver) = transport::spawn_client(core_io);
    let broker = MuxBroker::new(session, inbound);
    let main = rpc::Client::new(broker.dial(0).await.unwrap());
    Core {
        broker,
        main,
        lines: Arc::default(),
    }
}

impl Core {
    async fn prepare(&self, cfg: serde_json::Value) -> Value {
        let configs = Value::Array(vec![
            packer_sdk::json_to_msgpack(&cfg),
            packer_sdk::json_to_msgpack(&serde_json::json!({"packer_build_name": "b"})),
        ]);
        self.main
            .call(
                "Builder.Prepare",
                Value::Map(vec![("Configs".into(), configs)]),
            )
            .await
            .unwrap()
    }

    fn serve_ui_hook(&self) -> u32 {
        let id = self.broker.next_id();
        let broker = self.broker.clone();
        let handler = Arc::new(CoreUiHook {
            broker: broker.clone(),
            lines: self.lines.clone(),
        });
        tokio::spawn(async move {
            let s = broker.accept(id).await.unwrap();
            rpc::serve(s, handler).await
        });
        id
    }
}

fn builder(wait_for_cancel: bool) -> (TestBuilder, Arc<Recorded>) {
    let rec = Arc::new(Recorded::default());
    (
        TestBuilder {
            rec: rec.clone(),
            prepared: None,
            wait_for_cancel,
        },
        rec,
    )
}

#[tokio::test]
async fn prepare_reports_warnings_or_every_error() {
    let (b, _) = builder(false);
    let core = start(b).await;
    let ok = core.prepare(serde_json::json!({"x": 1})).await;
    assert!(map_get(&ok, "Error").unwrap().is_nil());
    assert_eq!(
        map_get(&ok, "Warnings").unwrap(),
        &Value::Array(vec!["careful".into()])
    );
    assert_eq!(
        map_get(&ok, "GeneratedVars").unwrap(),
        &Value::Array(vec!["Gen".into()])
    );
    let bad = core.prepare(serde_json::json!({"bad": true})).await;
    let msg =
        value_as_string(map_get(map_get(&bad, "Error").unwrap(), "Message").unwrap()).unwrap();
    assert!(msg.contains("2 error(s) occurred"), "{msg}");
    assert!(
        msg.contains("* bad: not allowed") && msg.contains("* other: missing"),
        "{msg}"
    );
}

#[tokio::test]
async fn run_provisions_through_the_communicator_and_returns_an_artifact() {
    let (b, rec) = builder(false);
    let core = start(b).await;
    core.prepare(serde_json::json!({"x": 1})).await;
    let id = core.serve_ui_hook();
    let aid = core.main.call("Builder.Run", id.into()).await.unwrap();
    let aid = aid.as_u64().unwrap() as u32;
    assert_ne!(aid, 0);
    let lines = core.lines.lock().unwrap().clone();
    assert_eq!(lines[0], "Ui.Say: prepared with {\"x\":1}");
    assert!(
        lines.contains(&"stdout=ran: echo hi\n".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"Ui.Say: from provisioner".to_string()),
        "{lines:?}"
    );
    let uploads = rec.uploads.lock().unwrap().clone();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].0, "/remote/f");
    assert_eq!(uploads[0].1, b"file-bytes");
    assert_eq!(uploads[0].2.as_ref().unwrap().mode, 0o644);

    let art = rpc::Client::new(core.broker.dial(aid).await.unwrap());
    let s = |v: Value| value_as_string(&v).unwrap();
    assert_eq!(
        s(art.call("Artifact.Id", Value::Nil).await.unwrap()),
        "artifact-9"
    );
    assert_eq!(
        s(art.call("Artifact.BuilderId", Value::Nil).await.unwrap()),
        "test.builder"
    );
    assert_eq!(
        s(art.call("Artifact.String", Value::Nil).await.unwrap()),
        "a test artifact"
    );
    assert_eq!(
        art.call("Artifact.Files", Value::Nil).await.unwrap(),
        Value::Array(vec![])
    );
    assert!(art
        .call("Artifact.State", "x".into())
        .await
        .unwrap()
        .is_nil());
    let err = art.call("Artifact.Destroy", Value::Nil).await.unwrap_err();
    assert!(err.to_string().contains("cannot destroy"));
}

#[tokio::test]
async fn cancel_arrives_while_run_is_pending() {
    let (b, _) = builder(true);
    let core = start(b).await;
    core.prepare(serde_json::json!({"x": 1})).await;
    let id = core.serve_ui_hook();
    let run = tokio::spawn({
        let main = core.main.clone();
        async move { main.call("Builder.Run", id.into()).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!run.is_finished());
    core.main.call("Builder.Cancel", Value::Nil).await.unwrap();
    let err = tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert!(err.to_string().contains(BUILD_CANCELLED), "{err}");
    assert!(core
        .lines
        .lock()
        .unwrap()
        .contains(&"Ui.Say: cleaning up".to_string()));
}

#[tokio::test]
async fn unknown_methods_get_net_rpc_style_errors() {
    let (b, _) = builder(false);
    let core = start(b).await;
    let err = core
        .main
        .call("Builder.Nope", Value::Nil)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("can't find method Builder.Nope"),
        "{err}"
    );
}

/// Without `--protobuf` (Packer 1.6.6) the spec is gob: an `hcldec.ObjectSpec` whose
/// attributes are `*hcldec.AttrSpec` values with go-cty types.
#[tokio::test]
async fn packer_1_6_6_gets_a_gob_spec() {
    let (b, _) = builder(false);
    let core = start(b).await;
    let reply = core
        .main
        .call("Builder.ConfigSpec", Value::Nil)
        .await
        .unwrap();
    let Some(Value::Binary(bytes)) = map_get(&reply, "ConfigSpec") else {
        panic!("no ConfigSpec bytes: {reply}")
    };
    let has = |s: &str| bytes.windows(s.len()).any(|w| w == s.as_bytes());
    assert!(has("*hcldec.AttrSpec"), "{bytes:x?}");
    assert!(
        has("github.com/zclconf/go-cty/cty.primitiveType"),
        "{bytes:x?}"
    );
    // The first message defines type 65 (a map): byte count, then -65 as ff 81.
    assert_eq!(&bytes[1..3], &[0xff, 0x81]);
}

#[tokio::test]
async fn modern_packer_gets_a_protobuf_spec_and_cty_json_configs() {
    let (b, _) = builder(false);
    let core = start_with(b, true).await;
    let reply = core
        .main
        .call("Builder.ConfigSpec", Value::Nil)
        .await
        .unwrap();
    let Some(Value::Binary(bytes)) = map_get(&reply, "ConfigSpec") else {
        panic!("no ConfigSpec bytes: {reply}")
    };
    // Spec{object{attributes{"x": Spec{attr{name "x", type cty.Number}}}}}
    assert!(bytes.windows(10).any(|w| w == b"cty.Number"), "{bytes:x?}");
    assert_eq!(bytes[0], 0x0a);

    // HCL2 configs arrive as go-cty JSON bytes of a dynamic value.
    let cty =
        br#"{"value":{"x":3,"unset":null},"type":["object",{"x":"number","unset":"string"}]}"#;
    let configs = Value::Array(vec![Value::Binary(cty.to_vec())]);
    let ok = core
        .main
        .call(
            "Builder.Prepare",
            Value::Map(vec![("Configs".into(), configs)]),
        )
        .await
        .unwrap();
    assert!(map_get(&ok, "Error").unwrap().is_nil());
    // The builder saw the unwrapped value: Run's first Ui line prints it.
    let id = core.serve_ui_hook();
    let _ = core.main.call("Builder.Run", id.into()).await;
    let first = core.lines.lock().unwrap()[0].clone();
    assert_eq!(first, "Ui.Say: prepared with {\"unset\":null,\"x\":3}");
}
