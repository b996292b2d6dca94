//! The mesostack Packer templates and their provisioning script:
//!
//! * `packer-templates/mesostack.json` passes real `packer validate` (Packer 1.6.6) with our
//!   builder installed, uses every variable it declares, keeps the seed's legacy field names
//!   and carries no credentials;
//! * `packer-templates/mesostack.pkr.hcl` parses as HCL and mirrors the JSON (same variables
//!   and defaults, same provisioners), its `required_plugins` sits apart in `plugins.pkr.hcl`,
//!   and real `packer validate` (Packer 1.6.6, HCL2 through our gob ConfigSpec) accepts it;
//! * `packer-templates/scripts/provision-mesos.sh` is valid `sh`, and run twice against
//!   recording stand-ins for sudo/apt-get/apt-key/... under a scratch root it succeeds both
//!   times, retries a failing apt-get, and the second run adds no repository again.

use std::{
    collections::BTreeMap,
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use mesostack_e2e::{install_packer_plugin, packer_command, which, workspace_root};
use serde_json::{json, Value};

fn templates_dir() -> PathBuf {
    workspace_root().join("packer-templates")
}

fn json_template() -> Value {
    let text = fs::read_to_string(templates_dir().join("mesostack.json")).expect("read");
    serde_json::from_str(&text).expect("mesostack.json is well-formed JSON")
}

fn hcl_template() -> hcl::Body {
    let text = fs::read_to_string(templates_dir().join("mesostack.pkr.hcl")).expect("read");
    hcl::parse(&text).expect("mesostack.pkr.hcl parses as HCL")
}

/// All string values anywhere in a JSON document.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

fn json_variables() -> BTreeMap<String, String> {
    json_template()["variables"]
        .as_object()
        .expect("variables object")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("string default").to_string()))
        .collect()
}

#[test]
fn json_template_keeps_legacy_fields_uses_every_variable_and_has_no_credentials() {
    let template = json_template();
    let builders = template["builders"].as_array().expect("builders");
    assert_eq!(builders.len(), 1);
    let builder = builders[0].as_object().expect("builder object");
    assert_eq!(builder["type"], "cloudstack");
    for legacy in [
        "service_offering_id",
        "template_id",
        "zone_id",
        "network_ids",
        "template_os_id",
        "state_timeout",
        "ssh_username",
        "ssh_timeout",
        "template_name",
        "template_display_text",
        "hypervisor",
    ] {
        assert!(
            builder.contains_key(legacy),
            "legacy field {legacy} missing"
        );
    }
    for secret in ["api_url", "api_key", "secret_key"] {
        assert!(
            !builder.contains_key(secret),
            "{secret} must come from the environment"
        );
    }

    // Every declared variable is referenced outside the variables section.
    let mut used = Vec::new();
    strings(&template["builders"], &mut used);
    strings(&template["provisioners"], &mut used);
    let used = used.join("\n");
    let variables = json_variables();
    for name in variables.keys() {
        assert!(
            used.contains(&format!("{{{{user `{name}`}}}}")),
            "variable {name} is never used"
        );
    }
    // ... and every reference is declared.
    for piece in used.split("{{user `").skip(1) {
        let name = piece.split('`').next().expect("closing backtick");
        assert!(variables.contains_key(name), "undeclared variable {name}");
    }
}

#[test]
fn defaults_point_at_the_simulators_seeded_world() {
    let vars = json_variables();
    assert_eq!(vars["zone"], cloudstack_sim::seed::ZONE_ID);
    assert_eq!(vars["service_offering"], cloudstack_sim::seed::T1_SMALL_ID);
    assert_eq!(vars["source_template"], cloudstack_sim::seed::TEMPLATE_ID);
    assert_eq!(vars["network"], cloudstack_sim::seed::NETWORK_ID);
    assert_eq!(vars["template_os"], cloudstack_sim::seed::OS_UBUNTU_1404_ID);
    // The name the Terraform module's `cs_image` default expects.
    assert_eq!(vars["template_name"], "Ubuntu1404_mesos");
}

/// `packer validate` with Packer 1.6.6 and our builder as `packer-builder-cloudstack` on
/// PACKER_PLUGIN_PATH; returns None (skipped) without packer.
fn packer_validate(template: &Path, extra_args: &[&str]) -> Option<Output> {
    let packer = mesostack_e2e::require_packer()?;
    let dir = tempfile::tempdir().expect("tempdir");
    install_packer_plugin(dir.path());
    // Run from elsewhere, so relative paths in the template would break: they must not.
    let output = packer_command(&packer, dir.path())
        .arg("validate")
        .args(extra_args)
        .arg(template)
        .env("CLOUDSTACK_API_URL", "http://127.0.0.1:9/client/api")
        .env("CLOUDSTACK_API_KEY", "dummy-key")
        .env("CLOUDSTACK_SECRET_KEY", "dummy-secret")
        .output()
        .expect("packer runs");
    Some(output)
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn packer_1_6_6_validates_the_json_template_with_our_builder() {
    let template = templates_dir().join("mesostack.json");
    let Some(out) = packer_validate(&template, &[]) else {
        return;
    };
    assert!(
        out.status.success(),
        "packer validate failed:\n{}",
        text(&out)
    );

    // Our builder did the checking (the built-in Go builder words it differently), and an
    // emptied variable is caught.
    assert_our_prepare_catches_an_emptied_zone(&template);
}

// ---- HCL2 ---------------------------------------------------------------------------------

/// The expression as a string: literal strings and templates by their raw text, anything else
/// (e.g. `var.zone`) as HCL.
fn expr_text(expr: &hcl::Expression) -> String {
    match expr {
        hcl::Expression::String(s) => s.clone(),
        hcl::Expression::TemplateExpr(t) => match t.as_ref() {
            hcl::TemplateExpr::QuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        other => other.to_string(),
    }
}

fn attrs(body: &hcl::Body) -> BTreeMap<String, hcl::Expression> {
    body.attributes()
        .map(|a| (a.key().to_string(), a.expr().clone()))
        .collect()
}

fn labels(block: &hcl::Block) -> Vec<String> {
    block
        .labels()
        .iter()
        .map(|l| l.as_str().to_string())
        .collect()
}

/// JSON template syntax → HCL2 syntax, for comparing the two files' provisioners.
fn json_to_hcl_syntax(s: &str) -> String {
    let mut out = s.replace("{{template_dir}}", "${path.root}");
    while let Some(start) = out.find("{{user `") {
        let rest = &out[start + 8..];
        let end = rest.find("`}}").expect("closed user call");
        let name = rest[..end].to_string();
        out = format!("{}${{var.{name}}}{}", &out[..start], &rest[end + 3..]);
    }
    out
}

#[test]
fn hcl_template_parses_and_mirrors_the_json_template() {
    let body = hcl_template();

    // Packer 1.6.6 rejects required_plugins: it lives in plugins.pkr.hcl.
    assert!(body.blocks().all(|b| b.identifier() != "packer"));
    let text = fs::read_to_string(templates_dir().join("plugins.pkr.hcl")).expect("read");
    let plugins = hcl::parse(&text).expect("plugins.pkr.hcl parses as HCL");
    let packer = plugins
        .blocks()
        .find(|b| b.identifier() == "packer")
        .expect("packer block");
    let required = packer
        .body()
        .blocks()
        .find(|b| b.identifier() == "required_plugins")
        .expect("required_plugins");
    let cloudstack = attrs(required.body())
        .remove("cloudstack")
        .expect("cloudstack plugin");
    let hcl::Expression::Object(plugin) = cloudstack else {
        panic!("cloudstack = {{...}} expected");
    };
    let plugin: BTreeMap<String, String> = plugin
        .iter()
        .map(|(k, v)| (k.to_string(), expr_text(v)))
        .collect();
    assert_eq!(plugin["version"], ">= 0.1.0");
    assert_eq!(plugin["source"], "github.com/mesostack/cloudstack");

    // Same variables with the same defaults.
    let hcl_vars: BTreeMap<String, String> = body
        .blocks()
        .filter(|b| b.identifier() == "variable")
        .map(|b| {
            let name = labels(b).remove(0);
            let default = attrs(b.body())
                .remove("default")
                .unwrap_or_else(|| panic!("variable {name} has no default"));
            (name, expr_text(&default))
        })
        .collect();
    assert_eq!(hcl_vars, json_variables());

    // The source uses modern names and every variable is used somewhere.
    let source = body
        .blocks()
        .find(|b| b.identifier() == "source")
        .expect("source block");
    assert_eq!(labels(source), ["cloudstack", "mesos"]);
    let fields = attrs(source.body());
    for modern in [
        "zone",
        "service_offering",
        "source_template",
        "network",
        "template_os",
        "ssh_username",
        "template_name",
        "async_timeout",
    ] {
        assert!(fields.contains_key(modern), "source lacks {modern}");
    }
    let text = fs::read_to_string(templates_dir().join("mesostack.pkr.hcl")).expect("read");
    for name in hcl_vars.keys() {
        assert!(
            text.contains(&format!("var.{name}")),
            "variable {name} unused"
        );
    }

    // Same provisioners, in the same order, with the same arguments.
    let build = body
        .blocks()
        .find(|b| b.identifier() == "build")
        .expect("build block");
    let hcl::Expression::Array(sources) = &attrs(build.body())["sources"] else {
        panic!("build.sources must be a list");
    };
    assert_eq!(
        sources.iter().map(expr_text).collect::<Vec<_>>(),
        ["source.cloudstack.mesos"]
    );
    let hcl_provisioners: Vec<(String, BTreeMap<String, String>)> = build
        .body()
        .blocks()
        .filter(|b| b.identifier() == "provisioner")
        .map(|b| {
            let attrs = attrs(b.body())
                .into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        hcl::Expression::Array(items) => {
                            items.iter().map(expr_text).collect::<Vec<_>>().join("\n")
                        }
                        other => expr_text(&other),
                    };
                    (k, v)
                })
                .collect();
            (labels(b).remove(0), attrs)
        })
        .collect();
    let json_provisioners: Vec<(String, BTreeMap<String, String>)> = json_template()
        ["provisioners"]
        .as_array()
        .expect("provisioners")
        .iter()
        .map(|p| {
            let map = p.as_object().expect("provisioner object");
            let attrs = map
                .iter()
                .filter(|(k, _)| *k != "type")
                .map(|(k, v)| {
                    let v = match v {
                        Value::Array(items) => items
                            .iter()
                            .map(|i| json_to_hcl_syntax(i.as_str().expect("string")))
                            .collect::<Vec<_>>()
                            .join("\n"),
                        other => json_to_hcl_syntax(other.as_str().expect("string")),
                    };
                    (k.clone(), v)
                })
                .collect();
            (map["type"].as_str().expect("type").to_string(), attrs)
        })
        .collect();
    assert_eq!(hcl_provisioners, json_provisioners);
    assert_eq!(hcl_provisioners.len(), 2);
    assert_eq!(hcl_provisioners[0].0, "file");
    assert_eq!(hcl_provisioners[1].0, "shell");
}

/// Packer 1.6.6 reads `mesostack.pkr.hcl` itself: it asks our builder for its HCL2 spec
/// (gob), decodes the source block with it and passes the values to our prepare.
#[test]
fn packer_1_6_6_validates_the_hcl2_template_with_our_builder() {
    let template = templates_dir().join("mesostack.pkr.hcl");
    let Some(out) = packer_validate(&template, &[]) else {
        return;
    };
    assert!(
        out.status.success(),
        "packer validate failed:\n{}",
        text(&out)
    );
    // Our prepare saw the values: an emptied variable is caught by it, naming the field.
    assert_our_prepare_catches_an_emptied_zone(&template);
}

/// `-var zone=` fails in our builder's prepare, naming the field (the built-in Go builder
/// words it differently, so this also shows our builder did the checking).
fn assert_our_prepare_catches_an_emptied_zone(template: &Path) {
    let out = packer_validate(template, &["-var", "zone="]).expect("packer was found");
    assert!(!out.status.success());
    assert!(
        text(&out).contains("zone: must be set"),
        "unexpected:\n{}",
        text(&out)
    );
}

/// A minimal HCL2 template with `fields` in its cloudstack source block.
fn hcl2_template(dir: &Path, fields: &str) -> PathBuf {
    let path = dir.join("t.pkr.hcl");
    let text = format!(
        "source \"cloudstack\" \"t\" {{\n  zone = \"zone001\"\n  service_offering = \"t1.small\"\n  \
         source_template = \"Ubuntu 14.04\"\n{fields}\n}}\n\
         build {{\n  sources = [\"source.cloudstack.t\"]\n}}\n"
    );
    fs::write(&path, text).expect("write template");
    path
}

/// HCL2 type errors come from Packer itself, through our spec's types, naming the attribute.
#[test]
fn hcl2_type_errors_name_the_attribute() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ok = hcl2_template(dir.path(), "  ssh_port = \"2222\"\n  expunge = true");
    let Some(out) = packer_validate(&ok, &[]) else {
        return;
    };
    assert!(out.status.success(), "{}", text(&out));

    for (field, needle) in [
        ("  ssh_port = \"twenty-two\"", "ssh_port"),
        ("  expunge = \"maybe\"", "expunge"),
        ("  cidr_list = { a = \"b\" }", "cidr_list"),
    ] {
        let t = hcl2_template(dir.path(), field);
        let out = packer_validate(&t, &[]).expect("packer was found");
        let all = text(&out);
        assert!(!out.status.success(), "{field}: {all}");
        assert!(
            all.contains("Inappropriate value for attribute") && all.contains(needle),
            "{field}: {all}"
        );
    }
    let t = hcl2_template(dir.path(), "  zone_idd = \"x\"");
    let out = packer_validate(&t, &[]).expect("packer was found");
    let all = text(&out);
    assert!(!out.status.success(), "{all}");
    assert!(
        all.contains("Unsupported argument") && all.contains("zone_idd"),
        "{all}"
    );
}

// ---- provision-mesos.sh -------------------------------------------------------------------

fn provision_script() -> PathBuf {
    templates_dir().join("scripts/provision-mesos.sh")
}

#[test]
fn provision_script_is_valid_sh() {
    let out = Command::new("sh")
        .arg("-n")
        .arg(provision_script())
        .output()
        .expect("sh runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Stand-ins that append `name args` to LOG. `sudo` runs the rest of its command line
/// (`VAR=value` prefixes included) as the current user; `add-apt-repository` writes the list
/// file the real one writes; `apt-get` fails as many times as the file `apt-fail` says.
const STAND_INS: &[(&str, &str)] = &[
    (
        "sudo",
        r#"while :; do case $1 in *=*) export "$1"; shift ;; *) break ;; esac; done
exec "$@""#,
    ),
    (
        "apt-get",
        r#"n=$(cat "$STANDIN_DIR/apt-fail" 2>/dev/null || echo 0)
if [ "$n" -gt 0 ]; then echo $((n - 1)) > "$STANDIN_DIR/apt-fail"; echo "E: Could not get lock" >&2; exit 100; fi
[ "$DEBIAN_FRONTEND" = noninteractive ] || { echo "apt-get: not noninteractive" >&2; exit 1; }"#,
    ),
    ("apt-key", ""),
    (
        "add-apt-repository",
        r#"spec=${2#ppa:}
mkdir -p "$MESOSTACK_ROOT/etc/apt/sources.list.d"
echo "deb http://ppa.launchpad.net/$spec/ubuntu trusty main" > "$MESOSTACK_ROOT/etc/apt/sources.list.d/$(echo "$spec" | tr / -)-trusty.list""#,
    ),
    ("debconf-set-selections", r#"cat >> "$STANDIN_DIR/debconf""#),
    (
        "lsb_release",
        r#"case $1 in -is) echo Ubuntu ;; -cs) echo trusty ;; *) exit 1 ;; esac"#,
    ),
];

/// The POSIX utilities the script (and the stand-ins) may use, linked from the host.
const UTILITIES: &[&str] = &[
    "sh", "cat", "echo", "tee", "mkdir", "cp", "mv", "rm", "chmod", "grep", "sed", "tr", "sleep",
    "id", "test", "printf", "install",
];

struct ProvisionSandbox {
    dir: tempfile::TempDir,
}

impl ProvisionSandbox {
    fn new() -> ProvisionSandbox {
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = dir.path().join("bin");
        fs::create_dir_all(&bin).expect("bin");
        fs::create_dir_all(dir.path().join("root")).expect("root");
        for tool in UTILITIES {
            let real = which(tool).unwrap_or_else(|| panic!("{tool} on PATH"));
            std::os::unix::fs::symlink(real, bin.join(tool)).expect("symlink");
        }
        for (name, body) in STAND_INS {
            let path = bin.join(name);
            let script = format!(
                "#!/bin/sh\nprintf '%s\\n' \"{name} $*\" >> \"$STANDIN_DIR/calls.log\"\n{body}\n"
            );
            fs::write(&path, script).expect("write stand-in");
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        // What the file provisioner uploaded.
        fs::copy(
            workspace_root().join("terraform-examples/mesostack/scripts/configure-node"),
            dir.path().join("configure-node"),
        )
        .expect("copy configure-node");
        ProvisionSandbox { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn run(&self, env: &[(&str, &str)]) -> Output {
        let mut command = Command::new(self.dir.path().join("bin/sh"));
        command
            .arg(provision_script())
            .env_clear()
            .env("PATH", self.dir.path().join("bin"))
            .env("STANDIN_DIR", self.dir.path())
            .env("MESOSTACK_ROOT", self.root())
            .env("CONFIGURE_NODE_SRC", self.dir.path().join("configure-node"))
            .env("APT_RETRY_DELAY", "0");
        for (k, v) in env {
            command.env(k, v);
        }
        command.output().expect("sh runs")
    }

    /// The stand-in calls recorded since the last call of this method.
    fn take_calls(&self) -> Vec<String> {
        let log = self.dir.path().join("calls.log");
        let calls = fs::read_to_string(&log).unwrap_or_default();
        let _ = fs::remove_file(&log);
        calls.lines().map(str::to_string).collect()
    }

    fn set_apt_failures(&self, n: u32) {
        fs::write(self.dir.path().join("apt-fail"), n.to_string()).expect("write");
    }
}

fn count(calls: &[String], prefix: &str) -> usize {
    calls.iter().filter(|c| c.starts_with(prefix)).count()
}

#[test]
fn provision_script_runs_twice_and_the_second_run_adds_no_repository() {
    let sb = ProvisionSandbox::new();
    sb.set_apt_failures(2);
    let out = sb.run(&[]);
    assert!(out.status.success(), "first run failed:\n{}", text(&out));
    let calls = sb.take_calls();

    // The two failing apt-get calls were retried.
    assert!(
        text(&out).contains("attempt 1 failed, retrying"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("attempt 2 failed, retrying"),
        "{}",
        text(&out)
    );
    assert_eq!(count(&calls, "apt-get -y -q update"), 4, "{calls:#?}");

    assert_eq!(
        count(
            &calls,
            "apt-key adv --keyserver hkp://keyserver.ubuntu.com:80 --recv E56151BF"
        ),
        1
    );
    assert_eq!(count(&calls, "add-apt-repository -y ppa:openjdk-r/ppa"), 1);
    assert!(calls.contains(&"apt-get -y -q install openjdk-8-jre-headless".to_string()));
    assert!(calls.contains(&"apt-get -y -q install mesos marathon zookeeperd curl jq".to_string()));
    assert_eq!(count(&calls, "debconf-set-selections"), 0);
    // Privileged steps go through sudo.
    assert!(calls
        .iter()
        .any(|c| c.starts_with("sudo DEBIAN_FRONTEND=noninteractive apt-get")));
    assert!(calls.iter().any(|c| c.starts_with("sudo tee ")));
    assert!(calls.iter().any(|c| c.starts_with("sudo install -m 0755 ")));

    let root = sb.root();
    let list = root.join("etc/apt/sources.list.d/mesosphere.list");
    assert_eq!(
        fs::read_to_string(&list).expect("mesosphere.list"),
        "deb http://repos.mesosphere.io/ubuntu trusty main\n"
    );
    let installed = root.join("usr/local/sbin/configure-node");
    assert_eq!(
        fs::read(&installed).expect("installed tool"),
        fs::read(sb.dir.path().join("configure-node")).expect("uploaded tool")
    );
    assert_eq!(
        fs::metadata(&installed).expect("meta").permissions().mode() & 0o777,
        0o755
    );
    let files_after_first = snapshot(&root);

    // Second run: nothing is added again, no second apt-get update for new sources.
    let out = sb.run(&[]);
    assert!(out.status.success(), "second run failed:\n{}", text(&out));
    let calls = sb.take_calls();
    assert_eq!(count(&calls, "apt-key"), 0, "{calls:#?}");
    assert_eq!(count(&calls, "add-apt-repository"), 0, "{calls:#?}");
    assert!(
        !calls.iter().any(|c| c.starts_with("sudo tee")),
        "{calls:#?}"
    );
    assert_eq!(count(&calls, "apt-get -y -q update"), 1, "{calls:#?}");
    assert!(text(&out).contains("Mesosphere repository already configured"));
    assert!(text(&out).contains("Java PPA ppa:openjdk-r/ppa already configured"));
    assert_eq!(snapshot(&root), files_after_first);
}

#[test]
fn provision_script_takes_package_names_from_the_environment() {
    let sb = ProvisionSandbox::new();
    let out = sb.run(&[
        ("JAVA_PPA", ""),
        (
            "JAVA_PACKAGES",
            "oracle-java8-installer oracle-java8-set-default",
        ),
        ("MESOS_PACKAGES", "mesos=1.4.0-2.0.1"),
        ("MARATHON_PACKAGES", "marathon=1.4.8-1.0.660.ubuntu1404"),
        ("ZOOKEEPER_PACKAGES", "zookeeper zookeeperd"),
        ("EXTRA_PACKAGES", ""),
        ("MESOS_REPO_URL", "http://mirror.example.com/mesosphere"),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let calls = sb.take_calls();
    assert_eq!(count(&calls, "add-apt-repository"), 0, "{calls:#?}");
    assert!(calls.contains(
        &"apt-get -y -q install oracle-java8-installer oracle-java8-set-default".to_string()
    ));
    assert!(calls.contains(
        &"apt-get -y -q install mesos=1.4.0-2.0.1 marathon=1.4.8-1.0.660.ubuntu1404 zookeeper zookeeperd"
            .to_string()
    ));
    // Oracle's licence is accepted in advance.
    assert_eq!(
        fs::read_to_string(sb.dir.path().join("debconf")).expect("debconf answers"),
        "debconf shared/accepted-oracle-license-v1-1 select true\n\
         debconf shared/accepted-oracle-license-v1-1 seen true\n"
    );
    assert_eq!(
        fs::read_to_string(sb.root().join("etc/apt/sources.list.d/mesosphere.list")).expect("list"),
        "deb http://mirror.example.com/mesosphere/ubuntu trusty main\n"
    );
}

#[test]
fn provision_script_gives_up_after_the_retries_and_fails() {
    let sb = ProvisionSandbox::new();
    sb.set_apt_failures(100);
    let out = sb.run(&[("APT_RETRIES", "3")]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains(
            "giving up after 3 attempts: sudo DEBIAN_FRONTEND=noninteractive apt-get -y -q update"
        ),
        "{}",
        text(&out)
    );
    let calls = sb.take_calls();
    assert_eq!(count(&calls, "apt-get"), 3);
    // Fails fast: nothing after the failed update ran.
    assert_eq!(count(&calls, "apt-key"), 0);
    assert!(!sb.root().join("usr/local/sbin/configure-node").exists());
}

#[test]
fn provision_script_fails_clearly_without_the_uploaded_tool() {
    let sb = ProvisionSandbox::new();
    let out = sb.run(&[("CONFIGURE_NODE_SRC", "/nonexistent/configure-node")]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("/nonexistent/configure-node is missing"),
        "{}",
        text(&out)
    );
    assert!(sb.take_calls().is_empty(), "nothing runs before the check");
}

#[test]
fn provision_script_passes_shellcheck() {
    mesostack_e2e::assert_shellcheck_passes(&provision_script());
}

/// Every file under `root` with its content.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(path.clone(), fs::read(&path).expect("read"));
            }
        }
    }
    out
}

// ---- a real build -------------------------------------------------------------------------

/// `packer build` (Packer 1.6.6, our builder) of `template` against a simulator with VM
/// sandboxes. Returns packer's output and the build VM's root (`.../upper`; the VM is
/// destroyed after the build, its root stays for inspection), or `None` (skipped) without
/// root, `unshare` or packer.
fn build_in_sandbox(template: &Path) -> Option<(Output, PathBuf, tempfile::TempDir)> {
    if !mesostack_e2e::require_vm_sandboxes() {
        return None;
    }
    let packer = mesostack_e2e::require_packer()?;
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox = dir.path().join("sandbox");
    let sim = mesostack_e2e::SimProcess::start(&["--vm-sandbox".as_ref(), sandbox.as_os_str()]);
    install_packer_plugin(dir.path());
    let out = packer_command(&packer, dir.path())
        .args(["build", "-color=false"])
        .arg(template)
        .env("CLOUDSTACK_API_URL", &sim.api_url)
        .env("CLOUDSTACK_API_KEY", mesostack_e2e::SIM_API_KEY)
        .env("CLOUDSTACK_SECRET_KEY", mesostack_e2e::SIM_SECRET_KEY)
        .output()
        .expect("packer runs");
    let vms: Vec<PathBuf> = fs::read_dir(sandbox.join("vms"))
        .map(|entries| entries.map(|e| e.expect("entry").path()).collect())
        .unwrap_or_default();
    assert_eq!(
        vms.len(),
        1,
        "one build VM expected: {vms:?}\n{}",
        text(&out)
    );
    Some((out, vms[0].join("upper"), dir))
}

/// The unchanged mesostack.json: the build VM takes the upload and the provisioning script
/// over real SSH, and its root holds what a real image would.
#[test]
fn packer_build_of_the_json_template_provisions_a_simulated_vm() {
    let Some((out, upper, _dir)) = build_in_sandbox(&templates_dir().join("mesostack.json")) else {
        return;
    };
    let log = text(&out);
    assert!(out.status.success(), "packer build failed:\n{log}");
    assert!(
        log.contains("A template was created: Ubuntu1404_mesos"),
        "{log}"
    );
    assert!(log.contains("provision-mesos: done"), "{log}");

    assert_eq!(
        fs::read(upper.join("usr/local/sbin/configure-node")).expect("installed tool"),
        fs::read(workspace_root().join("terraform-examples/mesostack/scripts/configure-node"))
            .expect("source tool")
    );
    assert_eq!(
        fs::read_to_string(upper.join("etc/apt/sources.list.d/mesosphere.list"))
            .expect("mesosphere.list"),
        "deb http://repos.mesosphere.io/ubuntu trusty main\n"
    );
    let installed =
        fs::read_to_string(upper.join("var/lib/mesostack-sim/installed")).expect("installed");
    for package in ["openjdk-8-jre-headless", "mesos", "marathon", "zookeeperd"] {
        assert!(
            installed.lines().any(|l| l == package),
            "{package} not installed: {installed}"
        );
    }
}

/// The image's configure-node run on the build VM itself (as the Terraform module runs it on
/// each node: through sudo, with --restart-services): its files land in the VM's root and the
/// services are restarted through the VM's init tools.
#[test]
fn configure_node_runs_on_a_simulated_vm_after_the_provisioning() {
    let mut template = json_template();
    let absolute = templates_dir().display().to_string();
    for provisioner in template["provisioners"]
        .as_array_mut()
        .expect("provisioners")
    {
        for (_, value) in provisioner.as_object_mut().expect("object").iter_mut() {
            if let Value::String(s) = value {
                *s = s.replace("{{template_dir}}", &absolute);
            }
        }
    }
    template["provisioners"]
        .as_array_mut()
        .expect("provisioners")
        .push(json!({
            "type": "shell",
            "inline": [
                "sudo configure-node master --masters 10.1.1.10,10.1.1.11,10.1.1.12 --id 2 --ip 10.1.1.11 --restart-services",
                "sudo configure-node master --masters 10.1.1.10,10.1.1.11,10.1.1.12 --id 2 --ip 10.1.1.11"
            ]
        }));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("mesostack-and-configure.json");
    fs::write(&path, template.to_string()).expect("write template");
    let Some((out, upper, _build_dir)) = build_in_sandbox(&path) else {
        return;
    };
    assert!(out.status.success(), "packer build failed:\n{}", text(&out));
    let read = |p: &str| fs::read_to_string(upper.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    let zk = "zk://10.1.1.10:2181,10.1.1.11:2181,10.1.1.12:2181";
    assert_eq!(read("etc/mesos/zk"), format!("{zk}/mesos\n"));
    assert_eq!(read("etc/zookeeper/conf/myid"), "2\n");
    let zoo = read("etc/zookeeper/conf/zoo.cfg");
    assert_eq!(zoo.matches("server.").count(), 3, "{zoo}");
    assert!(zoo.ends_with(
        "server.1=10.1.1.10:2888:3888\nserver.2=10.1.1.11:2888:3888\nserver.3=10.1.1.12:2888:3888\n"
    ));
    assert_eq!(read("etc/mesos-master/quorum"), "2\n");
    assert_eq!(read("etc/marathon/conf/zk"), format!("{zk}/marathon\n"));
    assert_eq!(read("etc/init/mesos-slave.override"), "manual\n");
    let commands = read("var/log/mesostack-sim/commands.log");
    for call in [
        "initctl stop mesos-slave",
        "initctl restart zookeeper",
        "initctl restart mesos-master",
        "initctl restart marathon",
    ] {
        assert!(
            commands.lines().any(|l| l == call),
            "{call} missing:\n{commands}"
        );
    }
}
