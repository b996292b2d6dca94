//! The binaries as processes, without Packer.

use std::{
    path::Path,
    process::{Command, Stdio},
};

const LEGACY: &str = env!("CARGO_BIN_EXE_packer-builder-cloudstack");
const MODERN: &str = env!("CARGO_BIN_EXE_packer-plugin-cloudstack");
const COOKIE: (&str, &str) = (
    "PACKER_PLUGIN_MAGIC_COOKIE",
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2",
);

#[test]
fn refuses_to_run_without_packer_and_explains_itself() {
    let err = mesostack_e2e::run_without_magic_cookie(Path::new(LEGACY), COOKIE.0);
    assert!(
        err.contains("packer-builder-cloudstack is a Packer plugin"),
        "{err}"
    );
    assert!(err.contains("do not run it directly"), "{err}");
}

#[test]
fn describe_prints_the_plugin_set() {
    let out = Command::new(MODERN).arg("describe").output().unwrap();
    assert!(out.status.success());
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["api_version"], "x5.0");
    assert_eq!(j["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        j["builders"],
        serde_json::json!(["-packer-default-plugin-name-"])
    );
    assert_eq!(j["protocol_version"], "v2");
}

#[test]
fn version_flag_prints_the_version_without_packer() {
    for (bin, name) in [
        (LEGACY, "packer-builder-cloudstack"),
        (MODERN, "packer-plugin-cloudstack"),
    ] {
        let out = Command::new(bin)
            .arg("--version")
            .env_remove(COOKIE.0)
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!(
                "{name} v{} (Packer plugin API x5.0)\n",
                env!("CARGO_PKG_VERSION")
            )
        );
    }
}

/// Starts a binary as Packer would and returns its first stdout line.
fn handshake(bin: &str, args: &[&str]) -> String {
    let mut command = Command::new(bin);
    command.args(args).env(COOKIE.0, COOKIE.1);
    let (mut child, line) = mesostack_e2e::start_plugin(command);
    // The plugin ignores SIGINT/SIGTERM by design; SIGKILL our own child.
    child.kill().unwrap();
    child.wait().unwrap();
    line
}

#[test]
fn handshake_line_matches_the_calling_packer() {
    let legacy = handshake(LEGACY, &[]);
    let parts: Vec<&str> = legacy.trim_end().split('|').collect();
    assert_eq!(parts.len(), 3, "{legacy:?}");
    assert_eq!(&parts[..2], &["5", "unix"]);
    assert!(parts[2].ends_with("plugin.sock"));

    let modern = handshake(
        MODERN,
        &[
            "start",
            "builder",
            "--protobuf",
            "-packer-default-plugin-name-",
        ],
    );
    let parts: Vec<&str> = modern.trim_end().split('|').collect();
    assert_eq!(parts.len(), 4, "{modern:?}");
    assert_eq!(&parts[..3], &["5", "0", "unix"]);
}

/// Plays modern Packer (>= 1.7) against the real binary: `start builder --protobuf`, the
/// 4-field handshake, then yamux + broker + net/rpc over the unix socket: ConfigSpec must be
/// hcl_spec.proto bytes and an HCL2 config (go-cty JSON bytes) must pass Prepare.
#[tokio::test]
async fn modern_packer_session_over_the_real_socket() {
    use packer_sdk::{
        codec::{map_get, value_as_string},
        mux_broker::MuxBroker,
        rpc, transport,
    };
    use rmpv::Value;

    let mut child = tokio::process::Command::new(MODERN)
        .args([
            "start",
            "builder",
            "--protobuf",
            "-packer-default-plugin-name-",
        ])
        .env(COOKIE.0, COOKIE.1)
        .env_remove("CLOUDSTACK_API_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut line = String::new();
    {
        use tokio::io::AsyncBufReadExt;
        let mut out = tokio::io::BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut line).await.unwrap();
    }
    let path = line.trim_end().split('|').nth(3).unwrap().to_owned();
    let sock = tokio::net::UnixStream::connect(&path).await.unwrap();
    let (session, inbound, _driver) = transport::spawn_client(sock);
    let broker = MuxBroker::new(session, inbound);
    let main = rpc::Client::new(broker.dial(0).await.unwrap());

    let spec = main.call("Builder.ConfigSpec", Value::Nil).await.unwrap();
    let Some(Value::Binary(bytes)) = map_get(&spec, "ConfigSpec") else {
        panic!("no ConfigSpec bytes: {spec}")
    };
    for attr in ["service_offering", "template_id", "ssh_username", "tags"] {
        assert!(
            bytes.windows(attr.len()).any(|w| w == attr.as_bytes()),
            "{attr} missing from the spec"
        );
    }

    let cty = serde_json::json!({
        "value": {"api_url": "http://cs/client/api", "api_key": "k", "secret_key": "s",
                  "zone": "z", "service_offering": "small", "source_template": "tpl",
                  "network": null, "expunge": true},
        "type": ["object", {"api_url": "string", "api_key": "string", "secret_key": "string",
                 "zone": "string", "service_offering": "string", "source_template": "string",
                 "network": "string", "expunge": "bool"}]
    });
    let prepare = |cfg: Vec<u8>| {
        Value::Map(vec![(
            "Configs".into(),
            Value::Array(vec![
                Value::Binary(cfg),
                packer_sdk::json_to_msgpack(&serde_json::json!({"packer_build_name": "b"})),
            ]),
        )])
    };
    let ok = main
        .call(
            "Builder.Prepare",
            prepare(serde_json::to_vec(&cty).unwrap()),
        )
        .await
        .unwrap();
    assert!(map_get(&ok, "Error").unwrap().is_nil(), "{ok}");

    let mut bad = cty.clone();
    bad["value"]["zone"] = serde_json::Value::Null;
    let reply = main
        .call(
            "Builder.Prepare",
            prepare(serde_json::to_vec(&bad).unwrap()),
        )
        .await
        .unwrap();
    let msg =
        value_as_string(map_get(map_get(&reply, "Error").unwrap(), "Message").unwrap()).unwrap();
    assert!(msg.contains("zone: must be set"), "{msg}");
    child.kill().await.unwrap();
}
