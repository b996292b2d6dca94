//! Both plugins against the simulator over HTTPS (`cloudstack-sim --tls-dir`, a private CA),
//! certificate verification on: without the CA the error says the certificate is not
//! trusted and names `ca_file` / `CLOUDSTACK_CA_FILE`; with the CA (the provider block's
//! `ca_file`, the environment, the builder's `ca_file`) everything works.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use mesostack_e2e::{workspace_bin, SimProcess, SshdBuild};
use tfplugin5::testing::{find_terraform_binaries, Workspace};

/// A simulator serving HTTPS with a fresh CA written to `dir/ca.pem`.
fn https_sim(dir: &Path, extra: &[String]) -> SimProcess {
    let mut args = vec!["--tls-dir".to_string(), dir.display().to_string()];
    args.extend_from_slice(extra);
    let sim = SimProcess::start(&args);
    assert!(sim.api_url.starts_with("https://"), "{}", sim.api_url);
    assert!(dir.join("ca.pem").is_file());
    sim
}

fn main_tf(url: &str, ca_file: Option<&Path>) -> String {
    let ca = ca_file
        .map(|p| format!("  ca_file    = \"{}\"\n", p.display()))
        .unwrap_or_default();
    let resource = "resource \"cloudstack_ssh_keypair\" \"k\" {\n  name = \"tls-key\"\n}\n";
    format!("{}{resource}", mesostack_e2e::provider_tf(url, &ca))
}

#[test]
fn terraform_provider_over_https_with_verification() {
    let terraforms = mesostack_e2e::require_terraforms(find_terraform_binaries());
    let provider = workspace_bin(
        "terraform-provider-cloudstack",
        "terraform-provider-cloudstack",
    );
    for tf in &terraforms {
        println!("terraform {} at {}", tf.version, tf.path.display());
        let certs = tempfile::tempdir().unwrap();
        let sim = https_sim(certs.path(), &[]);
        let ca = certs.path().join("ca.pem");
        let ws = Workspace::new(
            tf,
            &provider,
            "registry.terraform.io/cloudstack/cloudstack",
            "0.1.0",
        )
        .unwrap();
        let run = |args: &[&str], env: &[(&str, &str)]| {
            let mut env = env.to_vec();
            // Fail fast: a TLS failure is retried like any connection failure.
            env.push(("CLOUDSTACK_SSL_NO_VERIFY", "false"));
            ws.run_env(args, &env).unwrap()
        };
        ws.write("main.tf", &main_tf(&sim.api_url, None)).unwrap();
        let init = run(&["init", "-no-color"], &[]);
        assert_eq!(init.code, 0, "{}", init.stderr);

        // Untrusted: a clear error naming the way out, and nothing created.
        let out = run(&["apply", "-no-color", "-auto-approve"], &[]);
        assert_ne!(out.code, 0);
        let err = out.stderr.replace('\n', " ");
        assert!(err.contains("certificate is not trusted"), "{}", out.stderr);
        assert!(err.contains("ca_file"), "{}", out.stderr);
        assert!(err.contains("CLOUDSTACK_CA_FILE"), "{}", out.stderr);

        // Trusted through the environment.
        let ca_text = ca.to_str().unwrap();
        let out = run(&["plan", "-no-color"], &[("CLOUDSTACK_CA_FILE", ca_text)]);
        assert_eq!(out.code, 0, "{}", out.stderr);

        // Trusted through the provider block: a whole apply and destroy.
        ws.write("main.tf", &main_tf(&sim.api_url, Some(&ca)))
            .unwrap();
        for args in [
            &["apply", "-no-color", "-auto-approve"][..],
            &["destroy", "-no-color", "-auto-approve"],
        ] {
            let out = run(args, &[]);
            assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        }

        // A ca_file that is not a certificate is named.
        let bogus = certs.path().join("key.pem");
        ws.write("main.tf", &main_tf(&sim.api_url, Some(&bogus)))
            .unwrap();
        let out = run(&["plan", "-no-color"], &[]);
        assert_ne!(out.code, 0);
        assert!(out.stderr.contains("ca_file"), "{}", out.stderr);
    }
}

#[test]
fn packer_builder_over_https_with_verification() {
    let Some(run) = SshdBuild::start() else {
        return;
    };
    let certs = run.dir.path().join("certs");
    let sim = https_sim(&certs, &run.sshd.sim_args());

    let (ok, text) = run.build(&sim, "tls-untrusted", |_| {});
    assert!(!ok, "{text}");
    let flat = text.replace('\n', " ");
    assert!(flat.contains("certificate is not trusted"), "{text}");
    assert!(flat.contains("ca_file"), "{text}");

    let ca = certs.join("ca.pem").display().to_string();
    let (ok, text) = run.build(&sim, "tls-trusted", |t| {
        t["builders"][0]["ca_file"] = ca.into();
    });
    assert!(ok, "{text}\n--- log ---\n{}", run.log());
    assert!(
        text.contains("A template was created: tls-trusted"),
        "{text}"
    );
}
