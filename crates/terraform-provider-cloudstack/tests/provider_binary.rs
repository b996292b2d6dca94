//! The product binary as Terraform and people see it: the go-plugin start-up
//! contract, and real Terraform (every release found) installing it
//! offline as a drop-in for `registry.terraform.io/cloudstack/cloudstack`
//! and reading its schema.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::{path::Path, process::Command};

use tfplugin5::testing::{find_terraform_binaries, CommandOutput, Workspace};

const BIN: &str = env!("CARGO_BIN_EXE_terraform-provider-cloudstack");
const COOKIE: (&str, &str) = (
    "TF_PLUGIN_MAGIC_COOKIE",
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2",
);

#[test]
fn run_by_hand_explains_itself() {
    let err = mesostack_e2e::run_without_magic_cookie(Path::new(BIN), COOKIE.0);
    assert!(
        err.contains("terraform-provider-cloudstack is a plugin for Terraform"),
        "{err}"
    );
    assert!(err.contains("terraform init"), "{err}");
}

#[test]
fn version_flag_prints_the_version_without_terraform() {
    for flag in ["--version", "-version", "version"] {
        let out = Command::new(BIN)
            .arg(flag)
            .env_remove(COOKIE.0)
            .output()
            .unwrap();
        assert!(out.status.success(), "{flag}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!(
                "terraform-provider-cloudstack v{} (Terraform plugin protocol 5)\n",
                env!("CARGO_PKG_VERSION")
            )
        );
    }
}

#[test]
fn first_log_line_names_the_version() {
    use std::io::{BufRead as _, BufReader};
    let mut child = Command::new(BIN)
        .env(COOKIE.0, COOKIE.1)
        .env("PLUGIN_PROTOCOL_VERSIONS", "5")
        .env("TF_LOG", "info")
        .env_remove("TF_LOG_PROVIDER")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let entry: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        entry["@message"],
        format!(
            "terraform-provider-cloudstack v{} starting",
            env!("CARGO_PKG_VERSION")
        ),
        "{line}"
    );
    assert_eq!(entry["@level"], "info", "{line}");
}

#[test]
fn refuses_when_protocol_5_not_offered() {
    let out = Command::new(BIN)
        .env(COOKIE.0, COOKIE.1)
        .env("PLUGIN_PROTOCOL_VERSIONS", "6")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[6]") && err.contains("[5]"), "{err}");
}

#[test]
fn prints_handshake_line_first() {
    let mut command = Command::new(BIN);
    command
        .env(COOKIE.0, COOKIE.1)
        .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
        .env_remove("PLUGIN_CLIENT_CERT");
    let (mut child, line) = mesostack_e2e::start_plugin(command);
    child.kill().unwrap();
    child.wait().unwrap();
    let parts: Vec<&str> = line.trim_end().split('|').collect();
    assert_eq!(parts.len(), 6, "{line}");
    assert_eq!(&parts[..3], &["1", "5", "unix"]);
    assert!(parts[3].ends_with("plugin.sock"), "{line}");
    assert_eq!(parts[4], "grpc");
}

#[test]
fn survives_sigint() {
    // Ctrl-C in the terminal reaches the plugin too; Terraform then stops
    // it through the protocol, so the signal itself must not kill it.
    let mut command = Command::new(BIN);
    command
        .env(COOKIE.0, COOKIE.1)
        .env("PLUGIN_PROTOCOL_VERSIONS", "5");
    // Wait for the handshake: the signal handlers are installed by then.
    let (mut child, _handshake) = mesostack_e2e::start_plugin(command);
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    std::thread::sleep(std::time::Duration::from_millis(300));
    let still_running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(still_running, "SIGINT killed the plugin");
}

#[track_caller]
fn expect(out: &CommandOutput, code: i32, what: &str) {
    assert_eq!(
        out.code, code,
        "{what}: exit {}\n--- stdout\n{}\n--- stderr\n{}",
        out.code, out.stdout, out.stderr
    );
}

const PROVIDER_ONLY: &str = r#"
terraform {
  required_providers {
    cloudstack = { source = "cloudstack/cloudstack" }
  }
}
provider "cloudstack" {
  api_url    = "http://127.0.0.1:1/client/api"
  api_key    = "key"
  secret_key = "secret"
  timeout    = 300
}
"#;

#[test]
fn terraform_installs_and_reads_schema() {
    let binaries = mesostack_e2e::require_terraforms(find_terraform_binaries());
    for tf in &binaries {
        println!("terraform {} at {}", tf.version, tf.path.display());
        let ws = Workspace::new(
            tf,
            Path::new(BIN),
            "registry.terraform.io/cloudstack/cloudstack",
            env!("CARGO_PKG_VERSION"),
        )
        .unwrap();
        ws.write("main.tf", PROVIDER_ONLY).unwrap();
        expect(&ws.run(&["init", "-no-color"]).unwrap(), 0, "init");

        let out = ws.run(&["providers", "schema", "-json"]).unwrap();
        expect(&out, 0, "providers schema");
        let schema: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let attrs = &schema["provider_schemas"]["registry.terraform.io/cloudstack/cloudstack"]
            ["provider"]["block"]["attributes"];
        assert_eq!(attrs["api_key"]["sensitive"], true, "{attrs}");
        assert_eq!(attrs["secret_key"]["sensitive"], true);
        assert_eq!(attrs["timeout"]["type"], "number");
        assert_eq!(attrs["http_get_only"]["type"], "bool");
        for name in ["api_url", "config", "profile"] {
            assert_eq!(attrs[name]["optional"], true, "{name}");
        }

        let out = ws.run(&["validate", "-no-color"]).unwrap();
        expect(&out, 0, "validate");

        // With no resources yet Terraform does not configure the provider;
        // the provider-level checks are unit-tested in src/provider.rs.
        let out = ws
            .run(&["plan", "-no-color", "-detailed-exitcode"])
            .unwrap();
        expect(&out, 0, "plan");

        // dev_overrides: no init, no lock file
        let dev = Workspace::with_dev_override(
            tf,
            Path::new(BIN),
            "registry.terraform.io/cloudstack/cloudstack",
        )
        .unwrap();
        dev.write("main.tf", PROVIDER_ONLY).unwrap();
        let out = dev
            .run(&["plan", "-no-color", "-detailed-exitcode"])
            .unwrap();
        expect(&out, 0, "plan with dev_overrides");
        let all = format!("{}{}", out.stdout, out.stderr);
        assert!(
            all.contains("Provider development overrides are in effect"),
            "{all}"
        );
    }
}
