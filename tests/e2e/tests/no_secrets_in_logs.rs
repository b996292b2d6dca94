//! No secret in the logs: the real Terraform with `TF_LOG=trace` and the real Packer with
//! `PACKER_LOG=1` run a whole apply and a whole build through our plugins against a
//! simulator whose template is password-enabled (every VM gets a known password) with a
//! generated SSH key pair, and their complete logs hold none of: the API secret key, the VM
//! password, any private key, the secret inside `user_data`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use mesostack_e2e::{workspace_bin, SimProcess, SshdBuild, SIM_SECRET_KEY};
use tfplugin5::testing::{find_terraform_binaries, Workspace};

const VM_PASSWORD: &str = "Vm-Pa55-4f9c2e";
const USER_DATA_SECRET: &str = "ud-secret-81b7d0";

/// Asserts that `text` (named `what`) holds none of the secrets.
#[track_caller]
fn assert_no_secret(what: &str, text: &str) {
    assert_no_secret_but(&[], what, text);
}

/// [`assert_no_secret`] except `allowed`.
#[track_caller]
fn assert_no_secret_but(allowed: &[&str], what: &str, text: &str) {
    assert!(!text.is_empty(), "{what} is empty: nothing was checked");
    for secret in [SIM_SECRET_KEY, VM_PASSWORD, "PRIVATE KEY", USER_DATA_SECRET] {
        if allowed.contains(&secret) {
            continue;
        }
        if let Some(at) = text.find(secret) {
            let start = text[..at].rfind('\n').map_or(0, |n| n + 1);
            let end = text[at..].find('\n').map_or(text.len(), |n| at + n);
            panic!("{what} holds {secret:?}: {}", &text[start..end]);
        }
    }
}

#[test]
fn terraform_trace_log_of_a_whole_apply_holds_no_secret() {
    let terraforms = mesostack_e2e::require_terraforms(find_terraform_binaries());
    if terraforms.is_empty() {
        return;
    }
    let provider = workspace_bin(
        "terraform-provider-cloudstack",
        "terraform-provider-cloudstack",
    );
    for tf in &terraforms {
        println!("terraform {} at {}", tf.version, tf.path.display());
        let sim = SimProcess::start(&["--vm-password", VM_PASSWORD]);
        let ws = Workspace::new(
            tf,
            &provider,
            "registry.terraform.io/cloudstack/cloudstack",
            "0.1.0",
        )
        .unwrap();
        ws.write(
            "main.tf",
            &format!(
                r##"{provider}
resource "cloudstack_ssh_keypair" "generated" {{
  name = "logs-key"
}}
resource "cloudstack_instance" "vm" {{
  name             = "logs-0"
  template         = "Ubuntu 14.04"
  service_offering = "t1.small"
  zone             = "zone001"
  network_id       = "5fed5b81-ea49-4e5a-bc36-ee52bd782d54"
  keypair          = cloudstack_ssh_keypair.generated.name
  user_data        = "#cloud-config\npassword: {USER_DATA_SECRET}\n"
  expunge          = true
}}
"##,
                provider = mesostack_e2e::provider_tf(&sim.api_url, ""),
            ),
        )
        .unwrap();
        let log = ws.work_dir().join("trace.log");
        let log_path = log.to_str().unwrap();
        let env = [("TF_LOG", "trace"), ("TF_LOG_PATH", log_path)];
        for args in [
            &["init", "-no-color"][..],
            &["apply", "-no-color", "-auto-approve"],
            &["plan", "-no-color", "-detailed-exitcode"],
            &["destroy", "-no-color", "-auto-approve"],
        ] {
            let out = ws.run_env(args, &env).unwrap();
            assert_eq!(out.code, 0, "{args:?}\n{}\n{}", out.stdout, out.stderr);
            assert_no_secret(
                "terraform's output",
                &format!("{}{}", out.stdout, out.stderr),
            );
        }
        let trace = std::fs::read_to_string(&log).unwrap();
        // The log really holds the provider's own lines, at trace level.
        assert!(trace.contains("CloudStack answered"), "no provider lines");
        assert!(trace.contains("<redacted>"), "no provider config line");
        // Terraform core itself logs configuration values when it tolerates a legacy-SDK
        // plan (`user_data` planned as its SHA1), as it does for the Go provider: the
        // user_data text is the user's own configuration, kept out of state and plan output.
        assert_no_secret_but(&[USER_DATA_SECRET], "TF_LOG=trace", &trace);
        // The VM got the password: the secret was there to leak.
        let stats = sim.stats();
        assert_eq!(stats["requests"]["deployVirtualMachine"], 1, "{stats}");
    }
}

#[test]
fn packer_log_of_a_whole_build_holds_no_secret() {
    let Some(run) = SshdBuild::start() else {
        return;
    };
    let mut args = run.sshd.sim_args();
    args.extend(["--vm-password".to_string(), VM_PASSWORD.to_string()]);
    let sim = SimProcess::start(&args);
    // The e2e build template plus user data carrying a secret.
    let (ok, text) = run.build(&sim, "packer-no-secrets", |t| {
        t["builders"][0]["user_data"] =
            format!("#cloud-config\npassword: {USER_DATA_SECRET}\n").into();
    });
    let packer_log = run.log();
    assert!(ok, "{text}\n--- log ---\n{packer_log}");
    // The build used a generated key pair and a VM whose deploy answer carried the password.
    assert!(
        text.contains("Creating temporary SSH key pair..."),
        "{text}"
    );
    assert_eq!(sim.stats()["requests"]["createSSHKeyPair"], 1);
    assert!(
        packer_log.contains("Discovered plugin: cloudstack"),
        "{packer_log}"
    );
    assert!(packer_log.contains("Deploying instance..."), "{packer_log}");
    assert_no_secret("packer's output", &text);
    assert_no_secret("PACKER_LOG=1", &packer_log);
}
