//! `packer validate` / `packer build` (Packer 1.6.6) with our `packer-builder-cloudstack`
//! overriding the built-in builder.

use std::{
    path::{Path, PathBuf},
    process::Output,
};

const BIN: &str = env!("CARGO_BIN_EXE_packer-builder-cloudstack");
const SEED: &str = include_str!("../fixtures/mesostack.json");

struct Scratch {
    packer: PathBuf,
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Option<Self> {
        let packer = mesostack_e2e::require_packer()?;
        let dir = tempfile::tempdir().unwrap();
        mesostack_e2e::link_packer_plugin(dir.path(), Path::new(BIN), "packer-builder-cloudstack");
        Some(Self { packer, dir })
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn packer(&self, args: &[&str], template: &Path, creds: bool) -> (Output, String) {
        let mut c = mesostack_e2e::packer_command(&self.packer, self.dir.path());
        c.args(args)
            .arg(template)
            .env("HOME", self.dir.path().join("home"))
            .env("PACKER_LOG", "1")
            .env("PACKER_LOG_PATH", self.dir.path().join("packer.log"))
            .env_remove("PACKER_CONFIG")
            .env_remove("CLOUDSTACK_API_URL")
            .env_remove("CLOUDSTACK_API_KEY")
            .env_remove("CLOUDSTACK_SECRET_KEY");
        if creds {
            c.env("CLOUDSTACK_API_URL", "http://127.0.0.1:1/client/api")
                .env("CLOUDSTACK_API_KEY", "test-key")
                .env("CLOUDSTACK_SECRET_KEY", "test-secret");
        }
        let out = c.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out, text)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("packer.log")).unwrap_or_default()
    }
}

#[test]
fn seed_template_validates_unchanged() {
    let Some(s) = Scratch::new() else { return };
    // The fixture is the seed's file byte for byte.
    if let Some(seed) = mesostack_e2e::require_shared_file("seed/original/packer/mesostack.json") {
        let seed = std::fs::read_to_string(seed).unwrap();
        assert_eq!(seed, SEED, "fixture drifted from the seed template");
    }
    let t = s.write("mesostack.json", SEED);
    let (out, text) = s.packer(&["validate"], &t, true);
    assert!(out.status.success(), "{text}\n{}", s.log());
    assert!(
        s.log().contains("Discovered plugin: cloudstack"),
        "the Rust plugin did not replace the built-in builder"
    );
}

#[test]
fn misspelled_required_field_fails_naming_it() {
    let Some(s) = Scratch::new() else { return };
    let t = s.write("bad.json", &SEED.replace("\"zone_id\"", "\"zone_idd\""));
    let (out, text) = s.packer(&["validate"], &t, true);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("Failed to prepare build: \"cloudstack\""),
        "{text}"
    );
    assert!(
        text.contains("unknown configuration key: \"zone_idd\""),
        "{text}"
    );
    assert!(text.contains("zone: must be set (or zone_id)"), "{text}");
}

#[test]
fn missing_required_field_and_credentials_fail_together() {
    let Some(s) = Scratch::new() else { return };
    let mut t: serde_json::Value = serde_json::from_str(SEED).unwrap();
    t["builders"][0]
        .as_object_mut()
        .unwrap()
        .remove("service_offering_id");
    let t = s.write("missing.json", &t.to_string());
    let (out, text) = s.packer(&["validate"], &t, false);
    assert_eq!(out.status.code(), Some(1), "{text}");
    for needle in [
        "service_offering: must be set",
        "api_url: must be set (in the template or CLOUDSTACK_API_URL)",
        "secret_key: must be set",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in {text}");
    }
}

#[test]
fn modern_field_names_validate_too() {
    let Some(s) = Scratch::new() else { return };
    let t = serde_json::json!({"builders": [{
        "type": "cloudstack", "api_url": "https://cs.example/client/api",
        "api_key": "k", "secret_key": "s", "service_offering": "Small Instance",
        "source_template": "Ubuntu 20.04", "zone": "zone1", "network": "net1",
        "template_os": "Ubuntu 20.04 (64-bit)", "ssh_username": "ubuntu",
        "template_name": "mesos-{{timestamp}}", "expunge": true
    }]});
    let t = s.write("modern.json", &t.to_string());
    let (out, text) = s.packer(&["validate"], &t, false);
    assert!(out.status.success(), "{text}");
}

#[test]
fn build_against_an_unreachable_api_fails_naming_what_it_was_doing() {
    let Some(s) = Scratch::new() else { return };
    let t = s.write("mesostack.json", SEED);
    let (out, text) = s.packer(&["build", "-color=false"], &t, true);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("Build 'cloudstack' errored"), "{text}");
    assert!(text.contains("zone: resolving zone"), "{text}");
    assert!(
        text.contains("127.0.0.1:1") || text.contains("transport error"),
        "{text}"
    );
    assert!(!text.contains("test-secret"), "{text}");
}
