//! The release archives of `./dev dist` and the install paths users take with them:
//! real Terraform (1.0.3 and every newer release found) installing the provider from a
//! packed filesystem mirror and from a provider network mirror served over HTTPS on
//! loopback (trusted through a test CA), with the lock file's `h1:`/`zh:` hashes checked on
//! the next `init`; and Packer 1.6.6 running the builder copied out of its archive.
//!
//! The archives are built once per test process by `./dev dist --profile dev` (the debug
//! binaries the other tests use, so nothing is compiled twice).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::OnceLock,
};

use base64::Engine as _;
use mesostack_e2e::{
    assert_nothing_left, packer_command, require_tool, which, workspace_root, SimProcess,
    SIM_API_KEY, SIM_SECRET_KEY,
};
use sha2::{Digest, Sha256};
use tfplugin5::testing::{find_terraform_binaries, CommandOutput, TerraformBinary, Workspace};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const ADDRESS: &str = "registry.terraform.io/cloudstack/cloudstack";
const MIRROR: &str = "terraform-mirror";

fn tf_zip() -> String {
    format!("terraform-provider-cloudstack_{VERSION}_linux_amd64.zip")
}
fn tf_bin_name() -> String {
    format!("terraform-provider-cloudstack_v{VERSION}")
}
fn pk_bin_name() -> String {
    format!("packer-plugin-cloudstack_v{VERSION}_x5.0_linux_amd64")
}

/// Runs `./dev dist --profile dev --out DIR` and returns DIR's holder.
fn run_dist() -> tempfile::TempDir {
    let out = tempfile::Builder::new().prefix("dist").tempdir().unwrap();
    let status = Command::new("bash")
        .arg(workspace_root().join("dev"))
        .args(["dist", "--profile", "dev", "--out"])
        .arg(out.path())
        .status()
        .expect("./dev dist runs");
    assert!(status.success(), "./dev dist failed");
    out
}

/// A binary as `./dev dist --profile dev` packages it: the debug build, whichever profile
/// the other end-to-end tests drive (`MESOSTACK_E2E_PROFILE`).
fn packaged_bin(name: &str) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
        .join("debug")
        .join(name)
}

/// The archives, built once for all tests of this file.
fn dist() -> &'static Path {
    static DIST: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIST.get_or_init(run_dist).path()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Terraform's `h1:` of a zip: sha256 over the sorted "<sha256 hex>  <name>\n" lines of its
/// files (golang.org/x/mod/sumdb/dirhash Hash1), base64.
fn h1(files: &[(&str, &[u8])]) -> String {
    let mut lines: Vec<String> = files
        .iter()
        .map(|(name, data)| format!("{}  {name}\n", sha256_hex(data)))
        .collect();
    lines.sort();
    let sum = Sha256::digest(lines.concat().as_bytes());
    format!(
        "h1:{}",
        base64::engine::general_purpose::STANDARD.encode(sum)
    )
}

/// `name -> hex` from a `SHA256SUMS` file, checking its "<hex>  <name>" shape.
fn read_sums(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let (hex, name) = line.split_once("  ").expect("<hex>  <name>");
            assert_eq!(hex.len(), 64, "{line}");
            (name.to_string(), hex.to_string())
        })
        .collect()
}

fn unzip(args: &[&str], zip: &Path) -> Output {
    let unzip = require_tool("unzip", which("unzip")).expect("unzip is installed");
    let out = Command::new(unzip).args(args).arg(zip).output().unwrap();
    assert!(out.status.success(), "unzip {args:?} {}", zip.display());
    out
}

/// The one file in `zip`: its name and bytes.
fn only_entry(zip: &Path) -> (String, Vec<u8>) {
    let names = String::from_utf8(unzip(&["-Z1"], zip).stdout).unwrap();
    let names: Vec<&str> = names.lines().collect();
    assert_eq!(names.len(), 1, "{names:?}");
    let data = unzip(&["-p"], zip).stdout;
    (names[0].to_string(), data)
}

#[test]
fn dist_makes_the_registries_archives_and_checksums_reproducibly() {
    let d = dist();
    let tf_sums = read_sums(&d.join(format!(
        "terraform-provider-cloudstack_{VERSION}_SHA256SUMS"
    )));
    let manifest_name = format!("terraform-provider-cloudstack_{VERSION}_manifest.json");
    assert_eq!(
        tf_sums.keys().cloned().collect::<Vec<_>>(),
        vec![tf_zip(), manifest_name.clone()]
    );
    for (name, hex) in &tf_sums {
        assert_eq!(
            &sha256_hex(&std::fs::read(d.join(name)).unwrap()),
            hex,
            "{name}"
        );
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("terraform-registry-manifest.json")).unwrap())
            .unwrap();
    assert_eq!(
        manifest,
        serde_json::json!({"version": 1, "metadata": {"protocol_versions": ["5.0"]}})
    );
    assert_eq!(
        std::fs::read(d.join(&manifest_name)).unwrap(),
        std::fs::read(d.join("terraform-registry-manifest.json")).unwrap()
    );

    // The provider zip holds exactly the binary Terraform looks for, executable.
    let (name, data) = only_entry(&d.join(tf_zip()));
    assert_eq!(name, tf_bin_name());
    let provider = packaged_bin("terraform-provider-cloudstack");
    assert!(
        data == std::fs::read(&provider).unwrap(),
        "zip holds another build"
    );
    let listing = String::from_utf8(unzip(&["-Z"], &d.join(tf_zip())).stdout).unwrap();
    assert!(listing.contains("-rwxr-xr-x"), "{listing}");

    // Packer: the zip `packer init` fetches, its release SHA256SUMS, and the _SHA256SUM file
    // Packer keeps beside an installed binary (bare hex of the binary).
    let pk_zip = format!("{}.zip", pk_bin_name());
    let pk_sums = read_sums(&d.join(format!("packer-plugin-cloudstack_v{VERSION}_SHA256SUMS")));
    assert_eq!(
        pk_sums.keys().cloned().collect::<Vec<_>>(),
        vec![pk_zip.clone()]
    );
    assert_eq!(
        pk_sums[&pk_zip],
        sha256_hex(&std::fs::read(d.join(&pk_zip)).unwrap())
    );
    let (name, pk_data) = only_entry(&d.join(&pk_zip));
    assert_eq!(name, pk_bin_name());
    let sum = std::fs::read_to_string(d.join(format!("{}_SHA256SUM", pk_bin_name()))).unwrap();
    assert_eq!(sum, sha256_hex(&pk_data));

    // The mirror: the zip in the packed layout plus the network mirror's documents.
    let mirror = d.join(MIRROR).join(ADDRESS);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(mirror.join("index.json")).unwrap()).unwrap();
    assert_eq!(index, serde_json::json!({"versions": {VERSION: {}}}));
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(mirror.join(format!("{VERSION}.json"))).unwrap())
            .unwrap();
    let archive = &doc["archives"]["linux_amd64"];
    assert_eq!(archive["url"], tf_zip());
    assert_eq!(
        archive["hashes"],
        serde_json::json!([
            h1(&[(tf_bin_name().as_str(), data.as_slice())]),
            format!("zh:{}", tf_sums[&tf_zip()])
        ])
    );
    assert_eq!(
        std::fs::read(mirror.join(tf_zip())).unwrap(),
        std::fs::read(d.join(tf_zip())).unwrap()
    );

    // The binaries say what they are, straight out of the archives.
    let tmp = tempfile::tempdir().unwrap();
    for (bin, bytes, expected) in [
        (
            tf_bin_name(),
            &data,
            format!("terraform-provider-cloudstack v{VERSION}"),
        ),
        (
            pk_bin_name(),
            &pk_data,
            format!("packer-plugin-cloudstack v{VERSION}"),
        ),
    ] {
        let path = tmp.path().join(&bin);
        std::fs::write(&path, bytes).unwrap();
        make_executable(&path);
        let out = Command::new(&path).arg("--version").output().unwrap();
        assert!(out.status.success());
        let line = String::from_utf8_lossy(&out.stdout);
        assert!(line.starts_with(&expected), "{bin} --version: {line}");
    }

    // Reproducible: a second run, with the binaries' mtimes changed, gives the same bytes.
    for bin in [&provider, &packaged_bin("packer-plugin-cloudstack")] {
        let status = Command::new("touch").arg(bin).status().unwrap();
        assert!(status.success());
    }
    let again = run_dist();
    for entry in walk(d) {
        let rel = entry.strip_prefix(d).unwrap();
        assert!(
            std::fs::read(&entry).unwrap() == std::fs::read(again.path().join(rel)).unwrap(),
            "{} differs between two runs",
            rel.display()
        );
    }
    assert_eq!(walk(d).len(), walk(again.path()).len());
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Every Terraform found, or none after saying why the test is skipped (a failure under CI).
fn terraforms() -> Vec<TerraformBinary> {
    let found = find_terraform_binaries();
    if found.is_empty() {
        require_tool("terraform", None);
    }
    found
}

/// A Terraform working directory using `cli_config`, with the fixture configuration.
fn workspace(tf: &TerraformBinary, cli_config: &str) -> Workspace {
    let ws = Workspace::with_cli_config(tf, cli_config).unwrap();
    let main = std::fs::read_to_string(workspace_root().join("tests/e2e/fixtures/dist/main.tf"))
        .unwrap()
        .replace("VERSION", VERSION);
    ws.write("main.tf", &main).unwrap();
    ws
}

#[track_caller]
fn expect_ok(tf: &TerraformBinary, out: &CommandOutput, what: &str) {
    assert_eq!(
        out.code, 0,
        "terraform {} {what}: exit {}\n--- stdout\n{}\n--- stderr\n{}",
        tf.version, out.code, out.stdout, out.stderr
    );
}

/// The `hashes` of our provider in the working directory's lock file.
fn locked_hashes(ws: &Workspace) -> Vec<String> {
    let text = std::fs::read_to_string(ws.work_dir().join(".terraform.lock.hcl")).unwrap();
    let lock: serde_json::Value = hcl::from_str(&text).unwrap();
    lock["provider"][ADDRESS]["hashes"]
        .as_array()
        .unwrap_or_else(|| panic!("no hashes for {ADDRESS}:\n{text}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// `terraform version` in the working directory lists our provider at the release version.
#[track_caller]
fn assert_version_lists_provider(tf: &TerraformBinary, ws: &Workspace) {
    let out = ws.run(&["version"]).unwrap();
    expect_ok(tf, &out, "version");
    assert!(
        out.stdout
            .contains(&format!("+ provider {ADDRESS} v{VERSION}")),
        "{}",
        out.stdout
    );
}

fn write_lock(ws: &Workspace, hashes: &[String]) {
    let list: String = hashes.iter().map(|h| format!("    \"{h}\",\n")).collect();
    std::fs::write(
        ws.work_dir().join(".terraform.lock.hcl"),
        format!(
            "provider \"{ADDRESS}\" {{\n  version     = \"{VERSION}\"\n  constraints = \"{VERSION}\"\n  hashes = [\n{list}  ]\n}}\n"
        ),
    )
    .unwrap();
}

fn remove_installed(ws: &Workspace) {
    let _ = std::fs::remove_dir_all(ws.work_dir().join(".terraform"));
}

/// The hashes a user takes from the release: `h1:` (the mirror document) and `zh:` (SHA256SUMS).
fn release_hashes() -> (String, String) {
    let (_, data) = only_entry(&dist().join(tf_zip()));
    let sums = read_sums(&dist().join(format!(
        "terraform-provider-cloudstack_{VERSION}_SHA256SUMS"
    )));
    (
        h1(&[(tf_bin_name().as_str(), data.as_slice())]),
        format!("zh:{}", sums[&tf_zip()]),
    )
}

/// stdout and stderr with Terraform's line wrapping undone (runs of whitespace become one space).
fn combined(out: &CommandOutput) -> String {
    format!("{} {}", out.stdout, out.stderr)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn terraform_installs_from_the_packed_filesystem_mirror_and_verifies_the_lock() {
    let tfs = terraforms();
    let (h1, zh) = release_hashes();
    let mirror = dist().join(MIRROR);
    let config = format!(
        "provider_installation {{\n  filesystem_mirror {{\n    path    = \"{}\"\n    include = [\"{ADDRESS}\"]\n  }}\n  direct {{ exclude = [\"{ADDRESS}\"] }}\n}}\n",
        mirror.display()
    );
    for tf in &tfs {
        let ws = workspace(tf, &config);
        let out = ws.run(&["init", "-no-color"]).unwrap();
        expect_ok(tf, &out, "init");
        assert!(
            out.stdout
                .contains(&format!("Installed cloudstack/cloudstack v{VERSION}")),
            "{}",
            out.stdout
        );
        assert_eq!(
            locked_hashes(&ws),
            vec![h1.clone()],
            "terraform {}",
            tf.version
        );

        assert_version_lists_provider(tf, &ws);
        // The installed binary runs: Terraform reads its schema.
        let out = ws.run(&["providers", "schema", "-json"]).unwrap();
        expect_ok(tf, &out, "providers schema");
        assert!(out.stdout.contains("\"api_url\""), "{}", out.stdout);

        // Pin the release's zh: (SHA256SUMS) next to h1:, as a lock file committed from a
        // registry install would: a fresh init checks the archive against both, keeps both.
        write_lock(&ws, &[h1.clone(), zh.clone()]);
        remove_installed(&ws);
        let out = ws.run(&["init", "-no-color"]).unwrap();
        expect_ok(tf, &out, "init with the lock file");
        assert_eq!(locked_hashes(&ws), vec![h1.clone(), zh.clone()]);

        // Only the zh: pinned: still verified (Terraform adds the h1: it computed).
        write_lock(&ws, std::slice::from_ref(&zh));
        remove_installed(&ws);
        let out = ws.run(&["init", "-no-color"]).unwrap();
        expect_ok(tf, &out, "init with only zh: locked");
        assert_eq!(locked_hashes(&ws), vec![h1.clone(), zh.clone()]);

        // Another archive than the locked one is refused.
        let wrong = format!("zh:{}", "0".repeat(64));
        write_lock(&ws, std::slice::from_ref(&wrong));
        remove_installed(&ws);
        let out = ws.run(&["init", "-no-color"]).unwrap();
        assert_ne!(
            out.code, 0,
            "init accepted a package the lock file does not list"
        );
        assert!(
            combined(&out).contains("doesn't match any of the checksums"),
            "{}",
            combined(&out)
        );
    }
}

#[test]
fn terraform_installs_from_a_network_mirror_over_https() {
    let tfs = terraforms();
    if tfs.is_empty() {
        return;
    }
    let (h1, _) = release_hashes();
    let server = https::StaticServer::start(dist().join(MIRROR));
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), &server.ca_pem).unwrap();
    let config = format!(
        "provider_installation {{\n  network_mirror {{\n    url     = \"https://127.0.0.1:{}/\"\n    include = [\"{ADDRESS}\"]\n  }}\n  direct {{ exclude = [\"{ADDRESS}\"] }}\n}}\n",
        server.port
    );
    let trusted = [("SSL_CERT_FILE", ca.path().to_str().unwrap())];
    for tf in &tfs {
        // Without the test CA the mirror is not trusted: TLS is really verified.
        let ws = workspace(tf, &config);
        let out = ws
            .run_env(&["init", "-no-color"], &[("SSL_CERT_FILE", "/dev/null")])
            .unwrap();
        assert_ne!(out.code, 0, "init trusted an unknown CA");
        assert!(combined(&out).contains("x509"), "{}", combined(&out));

        server.take_requests();
        let out = ws.run_env(&["init", "-no-color"], &trusted).unwrap();
        expect_ok(tf, &out, "init from the network mirror");
        assert!(
            out.stdout.contains(&format!(
                "Installed cloudstack/cloudstack v{VERSION} (verified checksum)"
            )),
            "{}",
            out.stdout
        );
        let requests = server.take_requests();
        for path in [
            format!("/{ADDRESS}/index.json"),
            format!("/{ADDRESS}/{VERSION}.json"),
            format!("/{ADDRESS}/{}", tf_zip()),
        ] {
            assert!(
                requests.contains(&path),
                "{path} not requested: {requests:?}"
            );
        }
        assert_eq!(locked_hashes(&ws), vec![h1.clone()]);

        // A fresh install with the lock file: the same package, verified against it.
        remove_installed(&ws);
        let out = ws.run_env(&["init", "-no-color"], &trusted).unwrap();
        expect_ok(tf, &out, "second init from the network mirror");
        assert!(
            out.stdout
                .contains("Reusing previous version of cloudstack/cloudstack")
                && out.stdout.contains("(verified checksum)"),
            "{}",
            out.stdout
        );
        assert_eq!(locked_hashes(&ws), vec![h1.clone()]);
        assert_version_lists_provider(tf, &ws);
    }
}

#[test]
fn packer_1_6_runs_the_builder_copied_from_the_archive() {
    let Some(packer) = require_tool("packer", which("packer")) else {
        return;
    };
    // The documented install for Packer 1.6: the binary from the zip, named
    // packer-builder-cloudstack, in a plugin directory.
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::create_dir_all(dir.path().join("packer-config")).unwrap();
    let (_, data) = only_entry(&dist().join(format!("{}.zip", pk_bin_name())));
    let installed = plugins.join("packer-builder-cloudstack");
    std::fs::write(&installed, data).unwrap();
    make_executable(&installed);

    let sim = SimProcess::start::<&str>(&[]);
    let log = dir.path().join("packer.log");
    let out = packer_command(&packer, dir.path())
        .args(["build", "-color=false"])
        .arg(workspace_root().join("tests/e2e/fixtures/dist/packer-none.json"))
        .env("PACKER_LOG", "1")
        .env("PACKER_LOG_PATH", &log)
        .env("CLOUDSTACK_API_URL", &sim.api_url)
        .env("CLOUDSTACK_API_KEY", SIM_API_KEY)
        .env("CLOUDSTACK_SECRET_KEY", SIM_SECRET_KEY)
        .output()
        .unwrap();
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    let text = format!(
        "{}{}\n--- log\n{log}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        log.contains(&format!(
            "Discovered plugin: cloudstack = {}",
            installed.display()
        )),
        "Packer did not pick up the installed plugin:\n{log}"
    );
    assert!(text.contains("dist-e2e"), "{text}");

    let client = cloudstack::Client::new(cloudstack::Config::new(
        sim.api_url.clone(),
        SIM_API_KEY,
        SIM_SECRET_KEY,
    ))
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let templates = client
            .list_templates("self", &cloudstack::Params::new().with("name", "dist-e2e"))
            .await
            .unwrap();
        assert_eq!(templates.len(), 1, "{templates:?}");
        assert_nothing_left(&client).await;
    });
}

/// A static file server over HTTPS on loopback with a certificate from a throwaway CA: the
/// provider network mirror (Terraform speaks it only over HTTPS).
mod https {
    use std::{
        path::PathBuf,
        sync::{Arc, Mutex},
    };

    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    pub struct StaticServer {
        pub port: u16,
        /// PEM of the CA that signed the server's certificate.
        pub ca_pem: String,
        requests: Arc<Mutex<Vec<String>>>,
        _runtime: tokio::runtime::Runtime,
    }

    impl StaticServer {
        pub fn start(root: PathBuf) -> StaticServer {
            use rcgen::{
                BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType,
            };
            let ca_key = KeyPair::generate().unwrap();
            let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
            ca_params
                .distinguished_name
                .push(DnType::CommonName, "mesostack test CA");
            ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let ca_cert = ca_params.self_signed(&ca_key).unwrap();
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
            params
                .subject_alt_names
                .push(SanType::IpAddress([127, 0, 0, 1].into()));
            params
                .distinguished_name
                .push(DnType::CommonName, "127.0.0.1");
            let cert = params
                .signed_by(&key, &Issuer::from_params(&ca_params, &ca_key))
                .unwrap();

            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let config = rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(
                    vec![CertificateDer::from(cert.der().to_vec())],
                    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
                )
                .unwrap();
            let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            let listener = runtime
                .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
                .unwrap();
            let port = listener.local_addr().unwrap().port();
            let requests = Arc::new(Mutex::new(Vec::new()));
            let seen = requests.clone();
            runtime.spawn(async move {
                while let Ok((tcp, _)) = listener.accept().await {
                    let acceptor = acceptor.clone();
                    let root = root.clone();
                    let seen = seen.clone();
                    tokio::spawn(async move {
                        // Failed handshakes (an untrusting client) just end the connection.
                        if let Ok(tls) = acceptor.accept(tcp).await {
                            let _ = serve_one(tls, &root, &seen).await;
                        }
                    });
                }
            });
            StaticServer {
                port,
                ca_pem: ca_cert.pem(),
                requests,
                _runtime: runtime,
            }
        }

        /// The paths requested since the last call.
        pub fn take_requests(&self) -> Vec<String> {
            std::mem::take(&mut *self.requests.lock().unwrap())
        }
    }

    /// One request per connection (`Connection: close`): GET or HEAD of a file under `root`.
    async fn serve_one<S>(
        mut s: S,
        root: &std::path::Path,
        seen: &Mutex<Vec<String>>,
    ) -> std::io::Result<()>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut buf).await?;
            if n == 0 || head.len() > 16 * 1024 {
                return Ok(());
            }
            head.extend_from_slice(&buf[..n]);
        }
        let head = String::from_utf8_lossy(&head);
        let mut parts = head.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let path = parts.next().unwrap_or_default().to_string();
        seen.lock().unwrap().push(path.clone());
        let file = (!path.contains(".."))
            .then(|| root.join(path.trim_start_matches('/')))
            .and_then(|p| std::fs::read(p).ok());
        let (status, body) = match file {
            Some(body) => ("200 OK", body),
            None => ("404 Not Found", b"not found\n".to_vec()),
        };
        let kind = if path.ends_with(".json") {
            "application/json"
        } else {
            "application/zip"
        };
        let header = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(header.as_bytes()).await?;
        if method != "HEAD" {
            s.write_all(&body).await?;
        }
        s.shutdown().await
    }
}
