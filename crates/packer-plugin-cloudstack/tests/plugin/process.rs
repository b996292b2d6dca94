//! The binaries as processes, without Packer.

use std::{
    io::{BufRead, BufReader},
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
    let out = Command::new(LEGACY).env_remove(COOKIE.0).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
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

/// Starts a binary as Packer would and returns its first stdout line.
fn handshake(bin: &str, args: &[&str]) -> String {
    let mut child = Command::new(bin)
        .args(args)
        .env(COOKIE.0, COOKIE.1)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
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
