//! The builder's configuration: every field of hashicorp/packer-plugin-cloudstack plus the
//! legacy schubergphilis/packer-cloudstack spellings (the seed's `mesostack.json` uses
//! those), read from the maps Packer passes to `Builder.Prepare`.
//!
//! Rules, matching the Go builders where they agree and the friendlier one where not:
//! - every problem is collected and reported at once, each line naming its field;
//! - unknown keys are rejected, naming the key;
//! - values are weakly typed like Go's mapstructure (`"22"` works for a port, `241` for an id);
//! - strings are rendered with Packer's template functions (`{{timestamp}}`, `{{user ...}}`),
//!   except `user_data`, which is rendered at build time like the Go builder does;
//! - credentials come from the template or `CLOUDSTACK_API_URL` / `CLOUDSTACK_API_KEY` /
//!   `CLOUDSTACK_SECRET_KEY`.
//!
//! Alias table (modern ← legacy): `service_offering` ← `service_offering_id`,
//! `source_template` ← `template_id`, `zone` ← `zone_id`, `network` ← `network_ids` (list),
//! `template_os` ← `template_os_id`, `disk_offering` ← `disk_offering_id`, `ssl_no_verify` ←
//! `insecure_skip_verify`, `eject_iso_delay` ← `detach_iso_wait`, `ssh_private_key_file` ←
//! `ssh_key_path`, `ssh_keypair_name` ← `keypair` (documented but absent in the Go builder),
//! `template_tags` (legacy, tags the template) kept apart from `tags` (tags the VM).
//! `state_timeout` (legacy: timeout of every async job) sets `async_timeout` when that is not
//! given, and also bounds waiting for the VM to be `Running`.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Duration,
};

use packer_sdk::{
    config::{Fields, PrepareConfigs},
    hcl_spec::{CtyType, Spec},
    interpolate::Context,
    steps::OnError,
};
use serde_json::{Map, Value};

/// Where the build VM boots from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A template, by name or id (`source_template` / `template_id`).
    Template(String),
    /// An ISO, by name or id (`source_iso`).
    Iso(String),
}

/// How Packer reaches the VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshConfig {
    /// `ssh_host`: overrides the address found by the builder.
    pub host: Option<String>,
    /// `ssh_port` (default 22).
    pub port: u16,
    /// `ssh_username` (default `root`, the legacy builder's default).
    pub username: String,
    /// `ssh_password`.
    pub password: Option<String>,
    /// `ssh_private_key_file` / `ssh_key_path`.
    pub private_key_file: Option<PathBuf>,
    /// `ssh_keypair_name` / `keypair`: an existing CloudStack key pair to deploy with.
    pub keypair_name: Option<String>,
    /// `ssh_agent_auth`.
    pub agent_auth: bool,
    /// `ssh_timeout` / `ssh_wait_timeout` (default 5m): how long to retry connecting.
    pub timeout: Duration,
    /// `ssh_handshake_attempts` (default 10).
    pub handshake_attempts: u32,
    /// `ssh_pty`.
    pub pty: bool,
    /// `pause_before_connecting`.
    pub pause_before_connecting: Duration,
    /// `ssh_clear_authorized_keys`: remove the temporary key from `authorized_keys` before
    /// the VM stops.
    pub clear_authorized_keys: bool,
    /// `ssh_keep_alive_interval` (default 5s; negative disables: `None`).
    pub keep_alive_interval: Option<Duration>,
    /// `ssh_certificate_file`: an OpenSSH certificate for `ssh_private_key_file`.
    pub certificate_file: Option<PathBuf>,
    /// `ssh_read_write_timeout`: drop the connection when the VM sends nothing this long.
    pub read_write_timeout: Option<Duration>,
    /// `ssh_file_transfer_method`: `scp` (default) or `sftp`.
    pub file_transfer: ssh_communicator::Transfer,
    /// `ssh_bastion_*`: reach the VM through this jump host.
    pub bastion: Option<BastionConfig>,
}

/// `ssh_bastion_*`: the jump host the SSH connection to the VM goes through. `Debug` hides
/// the password.
#[derive(Clone, PartialEq, Eq)]
pub struct BastionConfig {
    /// `ssh_bastion_host`.
    pub host: String,
    /// `ssh_bastion_port` (default 22).
    pub port: u16,
    /// `ssh_bastion_username` (default: `ssh_username`).
    pub username: String,
    /// `ssh_bastion_password`.
    pub password: Option<String>,
    /// `ssh_bastion_private_key_file` (default: `ssh_private_key_file`).
    pub private_key_file: Option<PathBuf>,
    /// `ssh_bastion_agent_auth`: the keys of the agent at `SSH_AUTH_SOCK`.
    pub agent_auth: bool,
    /// `ssh_bastion_certificate_file` (default: `ssh_certificate_file` when the key is
    /// `ssh_private_key_file`'s).
    pub certificate_file: Option<PathBuf>,
}

/// Options of the template created from the VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateConfig {
    /// `template_name` (default `packer-{{timestamp}}`, rendered).
    pub name: String,
    /// `template_display_text` (default: the name).
    pub display_text: String,
    /// `template_os` / `template_os_id`: OS type description or id; `None` = the VM's own.
    pub os: Option<String>,
    /// `template_featured`.
    pub featured: bool,
    /// `template_public`.
    pub public: bool,
    /// `template_password_enabled`.
    pub password_enabled: bool,
    /// `template_requires_hvm`.
    pub requires_hvm: bool,
    /// `template_scalable`.
    pub scalable: bool,
    /// `template_extractable` (legacy only).
    pub extractable: bool,
    /// `template_tag` (createTemplate `templatetag`).
    pub tag: Option<String>,
    /// `template_tags` (legacy): resource tags put on the template.
    pub tags: BTreeMap<String, String>,
}

/// The local HTTP server options (for `user_data` `{{.HTTPIP}}`/`{{.HTTPPort}}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// `http_directory`.
    pub directory: Option<PathBuf>,
    /// `http_port_min` (default 8000).
    pub port_min: u16,
    /// `http_port_max` (default 9000).
    pub port_max: u16,
    /// `http_bind_address` (default 0.0.0.0).
    pub bind_address: String,
}

/// Everything the CloudStack steps need, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `packer_build_name`.
    pub build_name: String,
    /// `packer_debug` (`-debug`): pause between steps.
    pub packer_debug: bool,
    /// `packer_on_error` (`-on-error`): what a failed build does with what it made.
    pub on_error: OnError,
    /// `api_url` / `CLOUDSTACK_API_URL`.
    pub api_url: String,
    /// `api_key` / `CLOUDSTACK_API_KEY`.
    pub api_key: String,
    /// `secret_key` / `CLOUDSTACK_SECRET_KEY`.
    pub secret_key: String,
    /// `http_get_only`.
    pub http_get_only: bool,
    /// `ssl_no_verify` / `insecure_skip_verify`.
    pub ssl_no_verify: bool,
    /// `ca_file` / `CLOUDSTACK_CA_FILE`: PEM file of CA certificates to trust besides the
    /// system's (a private CA), verification kept on.
    pub ca_file: Option<String>,
    /// `async_timeout` (default 30m, or `state_timeout` when only that is set).
    pub async_timeout: Duration,
    /// `state_timeout`: how long to wait for the VM to be Running (default: async_timeout).
    pub state_timeout: Duration,
    /// `zone` / `zone_id`: name or id.
    pub zone: String,
    /// `service_offering` / `service_offering_id`: name or id.
    pub service_offering: String,
    /// `source_template` / `template_id` or `source_iso`.
    pub source: Source,
    /// `network` (one) / `network_ids` (list): names or ids; empty in Basic zones.
    pub networks: Vec<String>,
    /// `project`: name or id.
    pub project: Option<String>,
    /// `disk_offering` / `disk_offering_id`.
    pub disk_offering: Option<String>,
    /// `disk_size` in GB.
    pub disk_size: Option<u64>,
    /// `hypervisor`.
    pub hypervisor: Option<String>,
    /// `instance_name` (default `packer-<uuid>`).
    pub instance_name: String,
    /// `instance_display_name` (default `Created by Packer`).
    pub instance_display_name: String,
    /// `user_data`, or the contents of `user_data_file`; not yet rendered.
    pub user_data: Option<String>,
    /// `temporary_keypair_name` (default `packer_<uuid>`).
    pub temporary_keypair_name: String,
    /// `use_local_ip_address`: connect to the VM's private IP, create no IP/rules.
    pub use_local_ip_address: bool,
    /// `public_ip_address`: an existing IP (address or id) instead of a temporary one.
    pub public_ip_address: Option<String>,
    /// `public_port`: port-forward public port (default: random 50000–59999).
    pub public_port: Option<u16>,
    /// `cidr_list` (default `0.0.0.0/0`).
    pub cidr_list: Vec<String>,
    /// `prevent_firewall_changes`.
    pub prevent_firewall_changes: bool,
    /// `create_security_group` (requires `expunge`).
    pub create_security_group: bool,
    /// `security_groups`: names or ids.
    pub security_groups: Vec<String>,
    /// Name of the group `create_security_group` makes: `packer-<build uuid>`.
    pub temporary_security_group_name: String,
    /// `expunge`: expunge the VM on cleanup.
    pub expunge: bool,
    /// `eject_iso`.
    pub eject_iso: bool,
    /// `eject_iso_delay` / `detach_iso_wait`.
    pub eject_iso_delay: Duration,
    /// `tags`: resource tags on the build VM.
    pub tags: BTreeMap<String, String>,
    /// The template to create.
    pub template: TemplateConfig,
    /// SSH communicator settings.
    pub ssh: SshConfig,
    /// `communicator` = `none`: no SSH, provisioners cannot run.
    pub communicator_none: bool,
    /// Local HTTP server settings.
    pub http: HttpConfig,
}

/// The outcome of reading the configuration: a config and warnings, or every error.
pub type ParseResult = packer_sdk::config::Outcome<Config>;

/// Communicator options of the Go SDK that are accepted (so templates validate) but not
/// acted on; each use produces a warning naming it.
const ACCEPTED_IGNORED: &[(&str, Ty)] = &[
    ("ssh_bastion_interactive", Ty::Bool),
    ("ssh_bastion_private_key_file", Ty::Str),
    ("ssh_proxy_host", Ty::Str),
    ("ssh_proxy_port", Ty::Num),
    ("ssh_proxy_username", Ty::Str),
    ("ssh_proxy_password", Ty::Str),
    ("ssh_disable_agent_forwarding", Ty::Bool),
    ("ssh_local_tunnels", Ty::List),
    ("ssh_remote_tunnels", Ty::List),
    ("ssh_ciphers", Ty::List),
    ("ssh_key_exchange_algorithms", Ty::List),
    ("ssh_interface", Ty::Str),
    ("ssh_ip_version", Ty::Str),
    ("temporary_key_pair_type", Ty::Str),
    ("temporary_key_pair_bits", Ty::Num),
    ("http_content", Ty::Map),
    ("http_network_protocol", Ty::Str),
];

/// The HCL2 types of [`ACCEPTED_IGNORED`] (a `const` table cannot hold a boxed `CtyType`).
#[derive(Clone, Copy)]
enum Ty {
    Str,
    Num,
    Bool,
    List,
    Map,
}

impl Ty {
    fn cty(self) -> CtyType {
        match self {
            Ty::Str => CtyType::String,
            Ty::Num => CtyType::Number,
            Ty::Bool => CtyType::Bool,
            Ty::List => CtyType::List(Box::new(CtyType::String)),
            Ty::Map => CtyType::Map(Box::new(CtyType::String)),
        }
    }
}

/// Every attribute this builder accepts, with its HCL2 type, for `Builder.ConfigSpec`: the
/// fields [`Config::parse`] reads, recorded while it reads an empty configuration.
pub fn hcl_spec() -> Spec {
    let ctx = Context::default();
    let mut f = Fields::new(Map::new(), &ctx);
    let _ = Config::read(&mut f, &PrepareConfigs::default(), &|_| None);
    f.spec()
}

/// `ssh_keep_alive_interval`: a Go duration, negative to disable (Go's convention).
fn keep_alive_interval(f: &mut Fields<'_>) -> Option<Duration> {
    const DEFAULT: Duration = Duration::from_secs(5);
    let raw = f.string(&["ssh_keep_alive_interval"]);
    match raw.as_deref().map(str::trim) {
        None => Some(DEFAULT),
        Some(s) if s.starts_with('-') => None,
        Some(s) => match go_duration::parse(s).ok() {
            Some(d) if d.is_zero() => None,
            Some(d) => Some(d),
            None => {
                f.error(format!(
                    "ssh_keep_alive_interval: {s:?} is not a duration (like \"5s\"; negative \
                     disables keepalives)"
                ));
                None
            }
        },
    }
}

impl std::fmt::Debug for BastionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BastionConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("private_key_file", &self.private_key_file)
            .field("agent_auth", &self.agent_auth)
            .field("certificate_file", &self.certificate_file)
            .finish()
    }
}

/// A private key file option: it must exist and hold a key we can read (checked at
/// validate, as the Go SDK does).
fn check_key_file(f: &mut Fields<'_>, field: &str, path: &Path) {
    if !path.is_file() {
        f.error(format!(
            "{field}: {} does not exist or is not a file",
            path.display()
        ));
    } else if let Err(e) = ssh_communicator::Auth::from_key_file(path) {
        f.error(format!("{field}: {e}"));
    }
}

/// A certificate option: it needs its key option and must certify that key.
fn check_certificate_file(
    f: &mut Fields<'_>,
    field: &str,
    key_field: &str,
    key: Option<&PathBuf>,
    certificate: &Path,
) {
    match key {
        None => f.error(format!(
            "{key_field} must be specified if {field} is specified"
        )),
        Some(key) if key.is_file() => {
            if let Err(e) = ssh_communicator::Auth::from_key_and_certificate_files(key, certificate)
            {
                f.error(format!("{field}: {e}"));
            }
        }
        // The key's own check reports it.
        Some(_) => {}
    }
}

/// `ssh_bastion_*` (Packer SDK semantics: port 22 and `ssh_private_key_file` (with
/// `ssh_certificate_file`) by default; a password, key file or the agent is required).
fn bastion(
    f: &mut Fields<'_>,
    username: &str,
    key_file: Option<&PathBuf>,
    certificate_file: Option<&PathBuf>,
) -> Option<BastionConfig> {
    let host = f.string(&["ssh_bastion_host"]);
    let port = f.uint(&["ssh_bastion_port"], 65_535).map(|p| p as u16);
    let bastion_username = f.string(&["ssh_bastion_username"]);
    let password = f
        .string_raw(&["ssh_bastion_password"])
        .filter(|s| !s.is_empty());
    let own_key = f
        .string(&["ssh_bastion_private_key_file"])
        .map(PathBuf::from);
    let agent_auth = f.bool(&["ssh_bastion_agent_auth"]);
    let own_certificate = f
        .string(&["ssh_bastion_certificate_file"])
        .map(PathBuf::from);
    let host = host.filter(|h| !h.trim().is_empty())?;
    if let Some(p) = &own_key {
        check_key_file(f, "ssh_bastion_private_key_file", p);
    }
    if let Some(c) = &own_certificate {
        check_certificate_file(
            f,
            "ssh_bastion_certificate_file",
            "ssh_bastion_private_key_file",
            own_key.as_ref(),
            c,
        );
    }
    let (private_key_file, certificate_file) = match own_key {
        Some(k) => (Some(k), own_certificate),
        None => (key_file.cloned(), certificate_file.cloned()),
    };
    if password.is_none() && private_key_file.is_none() && !agent_auth {
        f.error(
            "ssh_bastion_host: set ssh_bastion_password, ssh_bastion_private_key_file or \
             ssh_bastion_agent_auth to log in to the bastion",
        );
    }
    if port == Some(0) {
        f.error("ssh_bastion_port: must be from 1 to 65535");
    }
    Some(BastionConfig {
        host,
        port: port.unwrap_or(22),
        username: bastion_username.unwrap_or_else(|| username.to_owned()),
        password,
        private_key_file,
        agent_auth,
        certificate_file,
    })
}

/// `ssh_file_transfer_method`: `scp` (default) or `sftp`.
fn file_transfer(f: &mut Fields<'_>) -> ssh_communicator::Transfer {
    use ssh_communicator::Transfer;
    match f.string(&["ssh_file_transfer_method"]).as_deref() {
        None | Some("") | Some("scp") => Transfer::Scp,
        Some("sftp") => Transfer::Sftp,
        Some(other) => {
            f.error(format!(
                "ssh_file_transfer_method: {other:?} is invalid; use \"scp\" or \"sftp\""
            ));
            Transfer::Scp
        }
    }
}

impl Config {
    /// Reads `configs` as Packer passes them to `Builder.Prepare` (the builder block and
    /// Packer's own `packer_*` settings, in either order). `env` looks up environment
    /// variables (injected so tests do not depend on the process environment).
    pub fn parse(configs: &[Value], env: &dyn Fn(&str) -> Option<String>) -> ParseResult {
        let configs = PrepareConfigs::split(configs);
        let ctx = configs.context();
        let mut f = Fields::new(configs.builder.clone(), &ctx);
        let config = Config::read(&mut f, &configs, env);
        f.finish(config)
    }

    /// Reads every field through `f` (which records each name and type: see [`hcl_spec`]).
    /// `None` when something required is missing (`f` then holds the errors).
    fn read(
        f: &mut Fields<'_>,
        configs: &PrepareConfigs,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Option<Config> {
        let cred = |f: &mut Fields<'_>, name: &'static str, var: &str| -> String {
            match f.string(&[name]).or_else(|| env(var)) {
                Some(v) if !v.is_empty() => v,
                _ => {
                    f.error(format!("{name}: must be set (in the template or {var})"));
                    String::new()
                }
            }
        };
        let api_url = cred(f, "api_url", "CLOUDSTACK_API_URL");
        let api_key = cred(f, "api_key", "CLOUDSTACK_API_KEY");
        let secret_key = cred(f, "secret_key", "CLOUDSTACK_SECRET_KEY");
        let http_get_only = f.bool(&["http_get_only"]);
        let ssl_no_verify = f.bool(&["ssl_no_verify", "insecure_skip_verify"]);
        let ca_file = f
            .string(&["ca_file"])
            .or_else(|| env("CLOUDSTACK_CA_FILE"))
            .filter(|p| !p.trim().is_empty());
        if let Some(path) = &ca_file {
            if !Path::new(path).is_file() {
                f.error(format!(
                    "ca_file: {path:?} is not a file (a PEM file of the CA certificates to trust)"
                ));
            }
        }
        let async_timeout = f.duration(&["async_timeout"]);
        let state_timeout = f.duration(&["state_timeout"]);
        let async_timeout = async_timeout
            .or(state_timeout)
            .unwrap_or(Duration::from_secs(30 * 60));
        let state_timeout = state_timeout.unwrap_or(async_timeout);

        let zone = f.string(&["zone", "zone_id"]);
        if zone.is_none() {
            f.error("zone: must be set (or zone_id)");
        }
        let service_offering = f.string(&["service_offering", "service_offering_id"]);
        if service_offering.is_none() {
            f.error("service_offering: must be set (or service_offering_id)");
        }
        let template = f.string(&["source_template", "template_id"]);
        let iso = f.string(&["source_iso"]);
        let source = match (template, iso) {
            (Some(t), None) => Some(Source::Template(t)),
            (None, Some(i)) => Some(Source::Iso(i)),
            (Some(_), Some(_)) => {
                f.error("source_template and source_iso: set only one of them");
                None
            }
            (None, None) => {
                f.error("source_template: must be set (or template_id, or source_iso)");
                None
            }
        };
        let mut networks = f.string_list(&["network_ids"]).unwrap_or_default();
        if let Some(n) = f.string(&["network"]) {
            if !networks.is_empty() && networks != [n.clone()] {
                f.error("network and network_ids: set only one of them");
            }
            networks = vec![n];
        }
        let project = f.string(&["project"]);
        let disk_offering = f.string(&["disk_offering", "disk_offering_id"]);
        let disk_size = f.uint(&["disk_size"], u64::from(u32::MAX));
        let hypervisor = f.string(&["hypervisor"]);
        if matches!(source, Some(Source::Iso(_))) {
            if disk_offering.is_none() {
                f.error("disk_offering: must be set when booting from source_iso");
            }
            if hypervisor.is_none() {
                f.error("hypervisor: must be set when booting from source_iso");
            }
        }
        let instance_name = f
            .string(&["instance_name"])
            .unwrap_or_else(|| format!("packer-{}", f.context().uuid));
        let instance_display_name = f
            .string(&["instance_display_name"])
            .unwrap_or_else(|| "Created by Packer".into());
        // user_data is rendered at build time ({{.HTTPIP}} etc.), so it is kept raw here.
        let user_data_inline = f.string_raw(&["user_data"]).filter(|s| !s.is_empty());
        let user_data_file = f.string(&["user_data_file"]);
        let user_data = match (user_data_inline, user_data_file) {
            (Some(_), Some(_)) => {
                f.error("user_data and user_data_file: set only one of them");
                None
            }
            (Some(u), None) => Some(u),
            (None, Some(path)) => match std::fs::read_to_string(&path) {
                Ok(s) => Some(s),
                Err(e) => {
                    f.error(format!("user_data_file: cannot read {path:?}: {e}"));
                    None
                }
            },
            (None, None) => None,
        };
        let temporary_keypair_name = f
            .string(&["temporary_key_pair_name", "temporary_keypair_name"])
            .unwrap_or_else(|| format!("packer_{}", f.context().uuid));
        let use_local_ip_address = f.bool(&["use_local_ip_address"]);
        let public_ip_address = f.string(&["public_ip_address"]);
        let public_port = f.uint(&["public_port"], 65_535).map(|p| p as u16);
        if public_port == Some(0) {
            f.error("public_port: must be from 1 to 65535");
        }
        let cidr_list = f
            .string_list(&["cidr_list"])
            .unwrap_or_else(|| vec!["0.0.0.0/0".into()]);
        let prevent_firewall_changes = f.bool(&["prevent_firewall_changes"]);
        let create_security_group = f.bool(&["create_security_group"]);
        let security_groups = f.string_list(&["security_groups"]).unwrap_or_default();
        let expunge = f.bool(&["expunge"]);
        if create_security_group && !security_groups.is_empty() {
            f.warn(
                "create_security_group: ignored because security_groups is set (the build \
                 uses those groups, as the Go builder does)",
            );
        }
        let temporary_security_group_name = format!("packer-{}", f.context().uuid);
        if create_security_group && security_groups.is_empty() && !expunge {
            f.error(
                "create_security_group: requires expunge to be true (a security group in use \
                 by a destroyed but not expunged VM cannot be deleted)",
            );
        }
        let eject_iso = f.bool(&["eject_iso"]);
        let eject_iso_delay = f
            .duration(&["eject_iso_delay", "detach_iso_wait"])
            .unwrap_or(Duration::ZERO);
        let tags = f.string_map(&["tags"]);

        let template_name = match f.string(&["template_name"]) {
            Some(n) => n,
            None => f
                .render("template_name", "packer-{{timestamp}}".into())
                .unwrap_or_default(),
        };
        let template = TemplateConfig {
            display_text: f
                .string(&["template_display_text"])
                .unwrap_or_else(|| template_name.clone()),
            name: template_name,
            os: f.string(&["template_os", "template_os_id"]),
            featured: f.bool(&["template_featured"]),
            public: f.bool(&["template_public"]),
            password_enabled: f.bool(&["template_password_enabled"]),
            requires_hvm: f.bool(&["template_requires_hvm"]),
            scalable: f.bool(&["template_scalable"]),
            extractable: f.bool(&["template_extractable"]),
            tag: f.string(&["template_tag"]),
            tags: f.string_map(&["template_tags"]),
        };

        let communicator = f.string(&["communicator"]).unwrap_or_else(|| "ssh".into());
        let communicator_none = match communicator.as_str() {
            "ssh" => false,
            "none" => true,
            other => {
                f.error(format!(
                    "communicator: {other:?} is not supported by this builder (use \"ssh\" or \"none\")"
                ));
                false
            }
        };
        let ssh = SshConfig {
            host: f.string(&["ssh_host"]),
            port: f
                .uint(&["ssh_port"], 65_535)
                .map(|p| p as u16)
                .unwrap_or(22),
            username: f.string(&["ssh_username"]).unwrap_or_else(|| "root".into()),
            password: f.string_raw(&["ssh_password"]).filter(|s| !s.is_empty()),
            private_key_file: f
                .string(&["ssh_private_key_file", "ssh_key_path"])
                .map(PathBuf::from),
            keypair_name: f.string(&["ssh_keypair_name", "keypair"]),
            agent_auth: f.bool(&["ssh_agent_auth"]),
            timeout: f
                .duration(&["ssh_timeout", "ssh_wait_timeout"])
                .unwrap_or(Duration::from_secs(5 * 60)),
            handshake_attempts: f
                .uint(&["ssh_handshake_attempts"], u64::from(u32::MAX))
                .map(|n| n as u32)
                .unwrap_or(10),
            pty: f.bool(&["ssh_pty"]),
            pause_before_connecting: f
                .duration(&["pause_before_connecting"])
                .unwrap_or(Duration::ZERO),
            clear_authorized_keys: f.bool(&["ssh_clear_authorized_keys"]),
            keep_alive_interval: keep_alive_interval(f),
            certificate_file: f.string(&["ssh_certificate_file"]).map(PathBuf::from),
            read_write_timeout: f
                .duration(&["ssh_read_write_timeout"])
                .filter(|d| !d.is_zero()),
            file_transfer: file_transfer(f),
            bastion: None,
        };
        let ssh = SshConfig {
            bastion: bastion(
                f,
                &ssh.username,
                ssh.private_key_file.as_ref(),
                ssh.certificate_file.as_ref(),
            ),
            ..ssh
        };
        if ssh.bastion.is_some() && f.is_set("ssh_proxy_host") {
            f.error("ssh_bastion_host: use either ssh_bastion_host or ssh_proxy_host, not both");
        }
        let uses_agent = ssh.agent_auth || ssh.bastion.as_ref().is_some_and(|b| b.agent_auth);
        if uses_agent && env("SSH_AUTH_SOCK").is_none_or(|s| s.is_empty()) {
            f.warn(
                "ssh_agent_auth: SSH_AUTH_SOCK is not set here, so the build cannot reach an SSH \
                 agent; start ssh-agent and ssh-add a key in the shell that runs Packer",
            );
        }
        // Accepted so Go-builder templates validate, but not acted on: say so.
        if ssh.pty {
            f.warn("ssh_pty: accepted but not honoured (commands run without a pty)");
        }
        if let Some(p) = &ssh.private_key_file {
            check_key_file(f, "ssh_private_key_file", p);
        }
        if let Some(c) = &ssh.certificate_file {
            check_certificate_file(
                f,
                "ssh_certificate_file",
                "ssh_private_key_file",
                ssh.private_key_file.as_ref(),
                c,
            );
        }
        if ssh.port == 0 {
            f.error("ssh_port: must be from 1 to 65535");
        }
        let http = HttpConfig {
            directory: f.string(&["http_directory"]).map(PathBuf::from),
            port_min: f
                .uint(&["http_port_min"], 65_535)
                .map(|p| p as u16)
                .unwrap_or(8000),
            port_max: f
                .uint(&["http_port_max"], 65_535)
                .map(|p| p as u16)
                .unwrap_or(9000),
            bind_address: f
                .string(&["http_bind_address"])
                .unwrap_or_else(|| "0.0.0.0".into()),
        };
        if http.port_min > http.port_max {
            f.error("http_port_min: must be less than or equal to http_port_max");
        }
        for (key, ty) in ACCEPTED_IGNORED {
            f.accepted_but_ignored(key, ty.cty());
        }
        let on_error_setting = configs.packer_str("packer_on_error");
        let on_error = OnError::from_setting(on_error_setting).unwrap_or_else(|| {
            f.error(format!(
                "packer_on_error: {on_error_setting:?} is not one of cleanup, abort, ask, \
                 run-cleanup-provisioner"
            ));
            OnError::Cleanup
        });
        let (Some(zone), Some(service_offering), Some(source)) = (zone, service_offering, source)
        else {
            // Each None above recorded an error.
            return None;
        };
        Some(Config {
            build_name: configs.packer_str("packer_build_name").to_owned(),
            packer_debug: configs.packer_bool("packer_debug"),
            on_error,
            api_url,
            api_key,
            secret_key,
            http_get_only,
            ssl_no_verify,
            ca_file,
            async_timeout,
            state_timeout,
            zone,
            service_offering,
            source,
            networks,
            project,
            disk_offering,
            disk_size,
            hypervisor,
            instance_name,
            instance_display_name,
            user_data,
            temporary_keypair_name,
            use_local_ip_address,
            public_ip_address,
            public_port,
            cidr_list,
            prevent_firewall_changes,
            create_security_group,
            security_groups,
            temporary_security_group_name,
            expunge,
            eject_iso,
            eject_iso_delay,
            tags,
            template,
            ssh,
            communicator_none,
            http,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const MESOSTACK: &str = include_str!("../tests/fixtures/mesostack.json");

    fn env_with_creds(k: &str) -> Option<String> {
        match k {
            "CLOUDSTACK_API_URL" => Some("http://sim/client/api".into()),
            "CLOUDSTACK_API_KEY" => Some("key".into()),
            "CLOUDSTACK_SECRET_KEY" => Some("secret".into()),
            _ => None,
        }
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn packer_settings() -> Value {
        json!({"packer_build_name": "cloudstack", "packer_builder_type": "cloudstack",
               "packer_core_version": "1.6.6", "packer_debug": false,
               "packer_user_variables": {"os": "ubuntu"}})
    }

    fn mesostack_builder() -> Value {
        let t: Value = serde_json::from_str(MESOSTACK).unwrap();
        let mut b = t["builders"][0].clone();
        // Packer removes "type" (and "name") before Prepare.
        b.as_object_mut().unwrap().remove("type");
        b
    }

    fn parse(builder: Value, env: &dyn Fn(&str) -> Option<String>) -> ParseResult {
        Config::parse(&[builder, packer_settings()], env)
    }

    fn errors(builder: Value) -> Vec<String> {
        parse(builder, &env_with_creds).unwrap_err().0
    }

    #[test]
    fn seed_template_parses_with_legacy_names() {
        let (c, warnings) = parse(mesostack_builder(), &env_with_creds).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(c.api_url, "http://sim/client/api");
        assert_eq!(c.service_offering, "03f15d3e-57cd-41de-afb0-8714c3a3f05a");
        assert_eq!(
            c.source,
            Source::Template("936ddbeb-a04a-4fb4-bf5a-e1de49fa3af5".into())
        );
        assert_eq!(c.zone, "5ea72245-fbe5-4646-9a88-277b81facfbe");
        assert_eq!(c.networks, vec!["5fed5b81-ea49-4e5a-bc36-ee52bd782d54"]);
        assert_eq!(c.hypervisor.as_deref(), Some("xenserver"));
        assert_eq!(c.ssh.username, "ubuntu");
        assert_eq!(c.ssh.timeout, Duration::from_secs(15 * 60));
        // Legacy state_timeout drives the async-job timeout when async_timeout is absent.
        assert_eq!(c.async_timeout, Duration::from_secs(30 * 60));
        assert_eq!(c.state_timeout, Duration::from_secs(30 * 60));
        assert_eq!(c.template.name, "ubuntu1404_mesos");
        assert_eq!(c.template.display_text, "ubuntu1404_mesos");
        assert_eq!(c.template.os.as_deref(), Some("241"));
        assert_eq!(c.build_name, "cloudstack");
        assert!(c.instance_name.starts_with("packer-"));
        assert!(c.temporary_keypair_name.starts_with("packer_"));
    }

    #[test]
    fn modern_names_with_credentials_in_the_template() {
        let (c, _) = parse(
            json!({
                "api_url": "https://cs/client/api", "api_key": "k", "secret_key": "s",
                "service_offering": "small", "source_template": "ubuntu", "zone": "z1",
                "network": "net", "template_os": "Ubuntu 20.04", "expunge": true,
                "use_local_ip_address": "true", "public_port": "2222", "ssh_port": 2200,
                "async_timeout": "1h30m", "template_name": "tpl-{{user `os`}}-{{timestamp}}",
                "user_data": "#cloud-config {{.HTTPIP}}", "tags": {"a": "b", "n": 1},
                "keypair": "mykey", "cidr_list": "10.0.0.0/8", "ssh_bastion_host": "b",
                "ssh_bastion_agent_auth": true
            }),
            &no_env,
        )
        .map_err(|e| e.0)
        .unwrap();
        assert_eq!(c.api_url, "https://cs/client/api");
        assert_eq!(c.networks, vec!["net"]);
        assert!(c.expunge && c.use_local_ip_address);
        assert_eq!(c.public_port, Some(2222));
        assert_eq!(c.ssh.port, 2200);
        assert_eq!(c.ssh.keypair_name.as_deref(), Some("mykey"));
        assert_eq!(c.async_timeout, Duration::from_secs(5400));
        assert!(
            c.template.name.starts_with("tpl-ubuntu-1"),
            "{}",
            c.template.name
        );
        assert_eq!(c.user_data.as_deref(), Some("#cloud-config {{.HTTPIP}}"));
        assert_eq!(c.tags.get("n").map(String::as_str), Some("1"));
        assert_eq!(c.cidr_list, vec!["10.0.0.0/8"]);
        assert_eq!(c.template.os.as_deref(), Some("Ubuntu 20.04"));
        assert_eq!(c.ssh.bastion.map(|b| b.host), Some("b".into()));
    }

    #[test]
    fn ignored_sdk_options_warn_by_name() {
        let mut b = mesostack_builder();
        b["ssh_proxy_host"] = json!("proxy");
        let (_, warnings) = parse(b, &env_with_creds).unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].starts_with("ssh_proxy_host:"), "{warnings:?}");
    }

    #[test]
    fn bastion_options_follow_the_packer_sdk() {
        let dir = tempfile::tempdir().unwrap();
        // A throwaway key made for these tests.
        let key = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/test_ed25519");
        // Without a bastion there is none.
        let (c, _) = parse(mesostack_builder(), &env_with_creds).unwrap();
        assert_eq!(c.ssh.bastion, None);
        assert_eq!(c.ssh.file_transfer, ssh_communicator::Transfer::Scp);
        assert_eq!(c.ssh.read_write_timeout, None);
        // Defaults: port 22, the login's user name, ssh_private_key_file.
        let mut b = mesostack_builder();
        b["ssh_bastion_host"] = json!("jump.example.org");
        b["ssh_private_key_file"] = json!(key);
        let (c, warnings) = parse(b, &env_with_creds).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            c.ssh.bastion,
            Some(BastionConfig {
                host: "jump.example.org".into(),
                port: 22,
                username: "ubuntu".into(),
                password: None,
                private_key_file: Some(key.clone()),
                agent_auth: false,
                certificate_file: None,
            })
        );
        // Its own settings, and the other SSH options honoured now.
        let mut b = mesostack_builder();
        b["ssh_bastion_host"] = json!("jump");
        b["ssh_bastion_port"] = json!("2222");
        b["ssh_bastion_username"] = json!("jumper");
        b["ssh_bastion_password"] = json!("s3cret");
        b["ssh_bastion_agent_auth"] = json!(true);
        b["ssh_file_transfer_method"] = json!("sftp");
        b["ssh_read_write_timeout"] = json!("90s");
        let (c, warnings) = parse(b, &env_with_creds).unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("SSH_AUTH_SOCK"), "{warnings:?}");
        let bastion = c.ssh.bastion.unwrap();
        assert_eq!((bastion.port, bastion.username.as_str()), (2222, "jumper"));
        assert_eq!(bastion.password.as_deref(), Some("s3cret"));
        assert!(!format!("{bastion:?}").contains("s3cret"));
        assert!(bastion.agent_auth && bastion.private_key_file.is_none());
        assert_eq!(c.ssh.file_transfer, ssh_communicator::Transfer::Sftp);
        assert_eq!(c.ssh.read_write_timeout, Some(Duration::from_secs(90)));
        // Refused at validate, naming the field and the fix.
        let mut b = mesostack_builder();
        b["ssh_bastion_host"] = json!("jump");
        b["ssh_proxy_host"] = json!("proxy");
        b["ssh_file_transfer_method"] = json!("rsync");
        let errs = errors(b);
        for want in [
            "ssh_bastion_host: set ssh_bastion_password, ssh_bastion_private_key_file or \
             ssh_bastion_agent_auth",
            "ssh_bastion_host: use either ssh_bastion_host or ssh_proxy_host",
            "ssh_file_transfer_method: \"rsync\" is invalid",
        ] {
            assert!(errs.iter().any(|e| e.starts_with(want)), "{want}: {errs:?}");
        }
        let mut b = mesostack_builder();
        b["ssh_bastion_host"] = json!("jump");
        b["ssh_bastion_private_key_file"] = json!("/nonexistent/key");
        let errs = errors(b);
        assert!(
            errs.iter()
                .any(|e| e.starts_with("ssh_bastion_private_key_file: /nonexistent/key")),
            "{errs:?}"
        );
        let mut b = mesostack_builder();
        b["ssh_bastion_host"] = json!("jump");
        b["ssh_bastion_private_key_file"] = json!(dir.path().join("../"));
        b["ssh_private_key_file"] = json!(dir.path());
        let errs = errors(b);
        assert!(
            errs.iter()
                .any(|e| e.starts_with("ssh_bastion_private_key_file:"))
                && errs.iter().any(|e| e.starts_with("ssh_private_key_file:")),
            "{errs:?}"
        );
        // Certificates need their key, and must certify it.
        let mut b = mesostack_builder();
        b["ssh_certificate_file"] = json!(key);
        b["ssh_bastion_host"] = json!("jump");
        b["ssh_bastion_password"] = json!("p");
        b["ssh_bastion_certificate_file"] = json!(key);
        let errs = errors(b);
        for want in [
            "ssh_private_key_file must be specified if ssh_certificate_file is specified",
            "ssh_bastion_private_key_file must be specified if ssh_bastion_certificate_file",
        ] {
            assert!(errs.iter().any(|e| e.starts_with(want)), "{want}: {errs:?}");
        }
        let mut b = mesostack_builder();
        b["ssh_private_key_file"] = json!(key);
        b["ssh_certificate_file"] = json!(key);
        let errs = errors(b);
        assert!(
            errs.iter()
                .any(|e| e.starts_with("ssh_certificate_file: SSH key:")
                    && e.contains("not an OpenSSH certificate")),
            "{errs:?}"
        );
        std::fs::write(dir.path().join("not-a-key"), "hello").unwrap();
        let mut b = mesostack_builder();
        b["ssh_private_key_file"] = json!(dir.path().join("not-a-key"));
        let errs = errors(b);
        assert!(
            errs.iter()
                .any(|e| e.starts_with("ssh_private_key_file: SSH key:")),
            "{errs:?}"
        );
    }

    #[test]
    fn ssh_options_keep_alive_key_pair_name_and_unhonoured_warnings() {
        let (c, warnings) = parse(mesostack_builder(), &env_with_creds).unwrap();
        assert_eq!(c.ssh.keep_alive_interval, Some(Duration::from_secs(5)));
        assert!(warnings.is_empty(), "{warnings:?}");
        let mut b = mesostack_builder();
        b["ssh_keep_alive_interval"] = json!("-1s");
        b["ssh_read_write_timeout"] = json!("5m");
        b["ssh_agent_auth"] = json!(true);
        b["temporary_key_pair_name"] = json!("my-temp");
        b["ssh_clear_authorized_keys"] = json!(true);
        b["ssh_pty"] = json!(true);
        let (c, warnings) = parse(b, &env_with_creds).unwrap();
        assert_eq!(c.ssh.keep_alive_interval, None);
        assert_eq!(c.temporary_keypair_name, "my-temp");
        assert!(c.ssh.clear_authorized_keys);
        assert!(c.ssh.agent_auth);
        assert_eq!(c.ssh.read_write_timeout, Some(Duration::from_secs(300)));
        // Only what is still not honoured warns, and the agent nobody started.
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].starts_with("ssh_agent_auth: SSH_AUTH_SOCK is not set"));
        assert!(warnings[1].starts_with("ssh_pty:"), "{warnings:?}");
        let with_agent = |k: &str| match k {
            "SSH_AUTH_SOCK" => Some("/run/agent.sock".into()),
            other => env_with_creds(other),
        };
        let mut b = mesostack_builder();
        b["ssh_agent_auth"] = json!(true);
        let (_, warnings) = parse(b, &with_agent).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let mut b = mesostack_builder();
        b["ssh_keep_alive_interval"] = json!("often");
        assert!(errors(b)
            .iter()
            .any(|e| e.starts_with("ssh_keep_alive_interval:")));
    }

    #[test]
    fn every_problem_is_reported_at_once_and_named() {
        let errs = errors(json!({
            "zone_idd": "x", "ssh_port": "abc", "expunge": "maybe",
            "create_security_group": true, "source_iso": "iso", "user_data": "a",
            "user_data_file": "/nonexistent/ud", "http_port_min": 9000, "http_port_max": 8000,
            "communicator": "winrm", "tags": ["not", "a", "map"]
        }));
        let joined = errors_text(&errs);
        for needle in [
            "unknown configuration key: \"zone_idd\"",
            "zone: must be set",
            "service_offering: must be set",
            "ssh_port: must be a whole number",
            "expunge: \"maybe\" is not a boolean",
            "create_security_group: requires expunge",
            "disk_offering: must be set when booting from source_iso",
            "hypervisor: must be set when booting from source_iso",
            "user_data and user_data_file",
            "http_port_min",
            "communicator: \"winrm\" is not supported",
            "tags: must be a map",
        ] {
            assert!(joined.contains(needle), "missing {needle:?} in:\n{joined}");
        }
    }

    fn errors_text(errs: &[String]) -> String {
        errs.join("\n")
    }

    #[test]
    fn missing_credentials_name_the_env_vars() {
        let errs = parse(mesostack_builder(), &no_env).unwrap_err().0;
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs[0].contains("api_url") && errs[0].contains("CLOUDSTACK_API_URL"));
        assert!(errs[1].contains("CLOUDSTACK_API_KEY"));
        assert!(errs[2].contains("CLOUDSTACK_SECRET_KEY"));
    }

    #[test]
    fn conflicting_spellings_and_sources() {
        let mut b = mesostack_builder();
        b["zone"] = json!("other-zone");
        b["source_iso"] = json!("an-iso");
        let joined = errors_text(&errors(b));
        assert!(joined.contains("two spellings"), "{joined}");
        assert!(joined.contains("zone"), "{joined}");
        assert!(
            joined.contains("source_template and source_iso"),
            "{joined}"
        );
        // Same value under both spellings is fine.
        let mut b = mesostack_builder();
        b["zone"] = b["zone_id"].clone();
        assert!(parse(b, &env_with_creds).is_ok());
    }

    #[test]
    fn the_hcl_spec_is_every_field_parse_reads() {
        let Spec::Object(attrs) = hcl_spec() else {
            panic!("root spec is not an object")
        };
        // Both spellings, typed as parse reads them; ignored fields too.
        let ty = |name: &str| match &attrs[name] {
            Spec::Attr { ty, required, .. } => {
                assert!(!required, "{name}");
                ty.clone()
            }
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(ty("zone"), CtyType::String);
        assert_eq!(ty("zone_id"), CtyType::String);
        assert_eq!(ty("ssh_port"), CtyType::Number);
        assert_eq!(ty("expunge"), CtyType::Bool);
        assert_eq!(ty("network_ids"), CtyType::List(Box::new(CtyType::String)));
        assert_eq!(ty("tags"), CtyType::Map(Box::new(CtyType::String)));
        assert_eq!(ty("ssh_bastion_host"), CtyType::String);
        assert_eq!(ty("temporary_key_pair_name"), CtyType::String);
        assert!(!attrs.contains_key("packer_debug"));
        // Every attribute, given a value of its type, is accepted by parse.
        let mut b = serde_json::Map::new();
        for (name, spec) in &attrs {
            let Spec::Attr { ty, .. } = spec else {
                panic!("{name} is not an attribute")
            };
            let v = match ty {
                CtyType::String => json!("1s"),
                CtyType::Bool => json!(false),
                CtyType::Number => json!(1),
                CtyType::List(_) => json!(["x"]),
                CtyType::Map(_) => json!({"k": "v"}),
            };
            b.insert(name.clone(), v);
        }
        let errs = match parse(Value::Object(b), &env_with_creds) {
            Ok(_) => Vec::new(),
            Err((errs, _)) => errs,
        };
        let unknown: Vec<&String> = errs.iter().filter(|e| e.contains("unknown")).collect();
        assert!(unknown.is_empty(), "{unknown:?}");
    }

    /// Packer 1.6.6's HCL2 path: its settings first (as strings), then the decoded source
    /// block with every unset attribute null.
    #[test]
    fn durations_use_gos_syntax_and_bad_ones_are_named() {
        let mut b = mesostack_builder();
        b["ssh_timeout"] = json!("1.5h");
        b["async_timeout"] = json!("2h45m");
        let (c, _) = parse(b, &env_with_creds).unwrap();
        assert_eq!(c.ssh.timeout, Duration::from_secs(5400));
        assert_eq!(c.async_timeout, Duration::from_secs(9900));
        let mut b = mesostack_builder();
        b["ssh_timeout"] = json!("99999999999999999999h");
        b["async_timeout"] = json!("15");
        b["state_timeout"] = json!("-1s");
        let joined = errors_text(&errors(b));
        for needle in [
            "ssh_timeout: \"99999999999999999999h\" is not a duration: it is longer",
            "async_timeout: \"15\" is not a duration: a number has no unit",
            "state_timeout: \"-1s\" is not a duration: it is negative",
        ] {
            assert!(joined.contains(needle), "missing {needle:?} in:\n{joined}");
        }
    }

    #[test]
    fn hcl2_configs_settings_first_and_nulls() {
        let settings = json!({"packer_build_name": "mesos", "packer_builder_type": "cloudstack",
                              "packer_debug": "true", "packer_force": "false",
                              "packer_on_error": "abort"});
        let source = json!({"zone": "z", "service_offering": "s", "source_template": "t",
                            "ssh_port": 2222, "expunge": null, "template_tags": null,
                            "network_ids": null});
        let (c, warnings) = Config::parse(&[settings, source], &env_with_creds)
            .map_err(|e| e.0)
            .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(c.build_name, "mesos");
        assert!(c.packer_debug);
        assert_eq!(c.on_error, OnError::Abort);
        assert_eq!(c.ssh.port, 2222);
        assert!(!c.expunge);
    }
}

#[cfg(test)]
mod docs_page {
    use super::*;

    const PAGE: &str = include_str!("../../../docs/packer/builders/cloudstack.mdx");

    /// The docs page names every attribute the builder accepts (each as `` `name` ``), so a
    /// new field cannot ship undocumented.
    #[test]
    fn every_field_is_on_the_docs_page() {
        let Spec::Object(attrs) = hcl_spec() else {
            panic!("root spec is not an object")
        };
        let missing: Vec<&String> = attrs
            .keys()
            .filter(|name| !PAGE.contains(&format!("`{name}`")))
            .collect();
        assert!(missing.is_empty(), "not on the docs page: {missing:?}");
    }
}
