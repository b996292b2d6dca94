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
    hcl_spec::{CtyType, Spec},
    interpolate::{self, Context},
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
    /// `ssh_clear_authorized_keys`.
    pub clear_authorized_keys: bool,
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
    /// `packer_debug`.
    pub packer_debug: bool,
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
pub type ParseResult = Result<(Config, Vec<String>), (Vec<String>, Vec<String>)>;

/// Communicator options of the Go SDK that are accepted (so templates validate) but not
/// acted on yet; each use produces a warning naming it.
const ACCEPTED_IGNORED: &[&str] = &[
    "ssh_bastion_host",
    "ssh_bastion_port",
    "ssh_bastion_agent_auth",
    "ssh_bastion_username",
    "ssh_bastion_password",
    "ssh_bastion_interactive",
    "ssh_bastion_private_key_file",
    "ssh_bastion_certificate_file",
    "ssh_proxy_host",
    "ssh_proxy_port",
    "ssh_proxy_username",
    "ssh_proxy_password",
    "ssh_file_transfer_method",
    "ssh_keep_alive_interval",
    "ssh_read_write_timeout",
    "ssh_disable_agent_forwarding",
    "ssh_local_tunnels",
    "ssh_remote_tunnels",
    "ssh_ciphers",
    "ssh_key_exchange_algorithms",
    "ssh_certificate_file",
    "ssh_interface",
    "ssh_ip_version",
    "temporary_key_pair_type",
    "temporary_key_pair_bits",
    "temporary_key_pair_name",
    "http_content",
    "http_network_protocol",
];

/// Every attribute this builder accepts, with its HCL2 type, for modern Packer's
/// `ConfigSpec` (HCL2 templates). Keep in step with [`Config::parse`]; a unit test checks
/// that parse knows every name listed here.
pub fn hcl_spec() -> Spec {
    use CtyType::{Bool, Number, String as Str};
    let list = || CtyType::List(Box::new(Str));
    let map = || CtyType::Map(Box::new(Str));
    let strings = [
        "api_url",
        "api_key",
        "secret_key",
        "ca_file",
        "async_timeout",
        "state_timeout",
        "zone",
        "zone_id",
        "service_offering",
        "service_offering_id",
        "source_template",
        "template_id",
        "source_iso",
        "network",
        "project",
        "disk_offering",
        "disk_offering_id",
        "hypervisor",
        "instance_name",
        "instance_display_name",
        "user_data",
        "user_data_file",
        "temporary_keypair_name",
        "public_ip_address",
        "eject_iso_delay",
        "detach_iso_wait",
        "template_name",
        "template_display_text",
        "template_os",
        "template_os_id",
        "template_tag",
        "communicator",
        "ssh_host",
        "ssh_username",
        "ssh_password",
        "ssh_private_key_file",
        "ssh_key_path",
        "ssh_keypair_name",
        "keypair",
        "ssh_timeout",
        "ssh_wait_timeout",
        "pause_before_connecting",
        "http_directory",
        "http_bind_address",
        // accepted but unused (see ACCEPTED_IGNORED)
        "ssh_bastion_host",
        "ssh_bastion_username",
        "ssh_bastion_password",
        "ssh_bastion_private_key_file",
        "ssh_bastion_certificate_file",
        "ssh_proxy_host",
        "ssh_proxy_username",
        "ssh_proxy_password",
        "ssh_file_transfer_method",
        "ssh_keep_alive_interval",
        "ssh_read_write_timeout",
        "ssh_certificate_file",
        "ssh_interface",
        "ssh_ip_version",
        "temporary_key_pair_type",
        "temporary_key_pair_name",
        "http_network_protocol",
        // Packer's own settings
        "packer_build_name",
        "packer_builder_type",
        "packer_core_version",
        "packer_on_error",
        "packer_template_path",
    ];
    let bools = [
        "http_get_only",
        "ssl_no_verify",
        "insecure_skip_verify",
        "use_local_ip_address",
        "prevent_firewall_changes",
        "create_security_group",
        "expunge",
        "eject_iso",
        "template_featured",
        "template_public",
        "template_password_enabled",
        "template_requires_hvm",
        "template_scalable",
        "template_extractable",
        "ssh_agent_auth",
        "ssh_pty",
        "ssh_clear_authorized_keys",
        "ssh_bastion_agent_auth",
        "ssh_bastion_interactive",
        "ssh_disable_agent_forwarding",
        "packer_debug",
        "packer_force",
    ];
    let numbers = [
        "disk_size",
        "public_port",
        "ssh_port",
        "ssh_handshake_attempts",
        "http_port_min",
        "http_port_max",
        "ssh_bastion_port",
        "ssh_proxy_port",
        "temporary_key_pair_bits",
    ];
    let lists = [
        "network_ids",
        "cidr_list",
        "security_groups",
        "ssh_local_tunnels",
        "ssh_remote_tunnels",
        "ssh_ciphers",
        "ssh_key_exchange_algorithms",
        "packer_sensitive_variables",
    ];
    let maps = [
        "tags",
        "template_tags",
        "http_content",
        "packer_user_variables",
    ];
    Spec::object_of_attrs(
        strings
            .into_iter()
            .map(|n| (n, Str))
            .chain(bools.into_iter().map(|n| (n, Bool)))
            .chain(numbers.into_iter().map(|n| (n, Number)))
            .chain(lists.into_iter().map(|n| (n, list())))
            .chain(maps.into_iter().map(|n| (n, map()))),
    )
}

/// Reads fields out of the builder map, collecting errors; what is left at the end is unknown.
struct Fields<'a> {
    map: Map<String, Value>,
    errors: Vec<String>,
    warnings: Vec<String>,
    ctx: &'a Context,
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

impl Fields<'_> {
    /// Takes the value of the first present name; a second spelling with a different value is
    /// an error naming both.
    fn take(&mut self, names: &[&'static str]) -> Option<(&'static str, Value)> {
        let mut found: Option<(&'static str, Value)> = None;
        for name in names {
            if let Some(v) = self.map.remove(*name) {
                if v.is_null() {
                    continue;
                }
                match &found {
                    Some((first, fv)) if *fv != v => self.errors.push(format!(
                        "{first} and {name} are two spellings of one setting and disagree; set one"
                    )),
                    Some(_) => {}
                    None => found = Some((name, v)),
                }
            }
        }
        found
    }

    fn string_raw(&mut self, names: &[&'static str]) -> Option<String> {
        let (name, v) = self.take(names)?;
        match v {
            Value::String(s) => Some(s),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            other => {
                self.errors.push(format!(
                    "{name}: must be a string, not {}",
                    describe(&other)
                ));
                None
            }
        }
    }

    fn render(&mut self, name: &str, s: String) -> Option<String> {
        match interpolate::render(&s, self.ctx) {
            Ok(r) => Some(r),
            Err(e) => {
                self.errors.push(format!("{name}: {e}"));
                None
            }
        }
    }

    /// A rendered, non-empty string.
    fn string(&mut self, names: &[&'static str]) -> Option<String> {
        let s = self.string_raw(names)?;
        let s = self.render(names[0], s)?;
        (!s.is_empty()).then_some(s)
    }

    fn bool(&mut self, names: &[&'static str]) -> bool {
        let Some((name, v)) = self.take(names) else {
            return false;
        };
        match &v {
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
            Value::String(s) => match s.to_ascii_lowercase().as_str() {
                "1" | "t" | "true" => true,
                "" | "0" | "f" | "false" => false,
                _ => {
                    self.errors
                        .push(format!("{name}: {s:?} is not a boolean (true/false)"));
                    false
                }
            },
            other => {
                self.errors.push(format!(
                    "{name}: must be a boolean, not {}",
                    describe(other)
                ));
                false
            }
        }
    }

    fn uint(&mut self, names: &[&'static str], max: u64) -> Option<u64> {
        let (name, v) = self.take(names)?;
        let n = match &v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        match n {
            Some(n) if n <= max => Some(n),
            _ => {
                self.errors.push(format!(
                    "{name}: must be a whole number from 0 to {max}, not {v}"
                ));
                None
            }
        }
    }

    fn duration(&mut self, names: &[&'static str]) -> Option<Duration> {
        let s = self.string_raw(names)?;
        let s = self.render(names[0], s)?;
        match go_duration::parse(&s) {
            Ok(d) => Some(d),
            Err(e) => {
                self.errors.push(format!(
                    "{}: {s:?} is not a duration: {e} (like \"30s\", \"15m\", \"1h30m\")",
                    names[0]
                ));
                None
            }
        }
    }

    /// A list of strings; a single string counts as a one-element list.
    fn string_list(&mut self, names: &[&'static str]) -> Option<Vec<String>> {
        let (name, v) = self.take(names)?;
        let items = match v {
            Value::Array(a) => a,
            Value::String(s) => vec![Value::String(s)],
            other => {
                self.errors.push(format!(
                    "{name}: must be a list of strings, not {}",
                    describe(&other)
                ));
                return None;
            }
        };
        let mut out = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            match item {
                Value::String(s) => {
                    if let Some(r) = self.render(name, s) {
                        out.push(r);
                    }
                }
                Value::Number(n) => out.push(n.to_string()),
                other => self.errors.push(format!(
                    "{name}[{i}]: must be a string, not {}",
                    describe(&other)
                )),
            }
        }
        Some(out)
    }

    fn string_map(&mut self, names: &[&'static str]) -> BTreeMap<String, String> {
        let Some((name, v)) = self.take(names) else {
            return BTreeMap::new();
        };
        let Value::Object(m) = v else {
            self.errors.push(format!(
                "{name}: must be a map of strings, not {}",
                describe(&v)
            ));
            return BTreeMap::new();
        };
        let mut out = BTreeMap::new();
        for (k, v) in m {
            let s = match v {
                Value::String(s) => self.render(name, s),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                other => {
                    self.errors.push(format!(
                        "{name}.{k}: must be a string, not {}",
                        describe(&other)
                    ));
                    None
                }
            };
            if let Some(s) = s {
                out.insert(k, s);
            }
        }
        out
    }
}

impl Config {
    /// Reads `configs` as Packer passes them to `Builder.Prepare`: the builder block first,
    /// Packer's own settings after. `env` looks up environment variables (injected so tests
    /// do not depend on the process environment).
    pub fn parse(configs: &[Value], env: &dyn Fn(&str) -> Option<String>) -> ParseResult {
        let empty = Map::new();
        let builder = configs
            .first()
            .and_then(Value::as_object)
            .unwrap_or(&empty)
            .clone();
        // Later maps hold packer_* settings (Packer 1.6.6 sends one).
        let mut packer = Map::new();
        for c in configs.iter().skip(1) {
            if let Some(m) = c.as_object() {
                packer.extend(m.clone());
            }
        }
        let packer = Value::Object(packer);
        let ctx = Context::from_packer_config(&packer);
        let mut f = Fields {
            map: builder,
            errors: Vec::new(),
            warnings: Vec::new(),
            ctx: &ctx,
        };
        // packer_* keys may also appear in the builder map (HCL2 path); they are Packer's.
        f.map.retain(|k, _| !k.starts_with("packer_"));

        let cred = |f: &mut Fields<'_>, name: &'static str, var: &str| -> String {
            match f.string(&[name]).or_else(|| env(var)) {
                Some(v) if !v.is_empty() => v,
                _ => {
                    f.errors
                        .push(format!("{name}: must be set (in the template or {var})"));
                    String::new()
                }
            }
        };
        let api_url = cred(&mut f, "api_url", "CLOUDSTACK_API_URL");
        let api_key = cred(&mut f, "api_key", "CLOUDSTACK_API_KEY");
        let secret_key = cred(&mut f, "secret_key", "CLOUDSTACK_SECRET_KEY");
        let http_get_only = f.bool(&["http_get_only"]);
        let ssl_no_verify = f.bool(&["ssl_no_verify", "insecure_skip_verify"]);
        let ca_file = f
            .string(&["ca_file"])
            .or_else(|| env("CLOUDSTACK_CA_FILE"))
            .filter(|p| !p.trim().is_empty());
        if let Some(path) = &ca_file {
            if !Path::new(path).is_file() {
                f.errors.push(format!(
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
            f.errors.push("zone: must be set (or zone_id)".into());
        }
        let service_offering = f.string(&["service_offering", "service_offering_id"]);
        if service_offering.is_none() {
            f.errors
                .push("service_offering: must be set (or service_offering_id)".into());
        }
        let template = f.string(&["source_template", "template_id"]);
        let iso = f.string(&["source_iso"]);
        let source = match (template, iso) {
            (Some(t), None) => Some(Source::Template(t)),
            (None, Some(i)) => Some(Source::Iso(i)),
            (Some(_), Some(_)) => {
                f.errors
                    .push("source_template and source_iso: set only one of them".into());
                None
            }
            (None, None) => {
                f.errors
                    .push("source_template: must be set (or template_id, or source_iso)".into());
                None
            }
        };
        let mut networks = f.string_list(&["network_ids"]).unwrap_or_default();
        if let Some(n) = f.string(&["network"]) {
            if !networks.is_empty() && networks != [n.clone()] {
                f.errors
                    .push("network and network_ids: set only one of them".into());
            }
            networks = vec![n];
        }
        let project = f.string(&["project"]);
        let disk_offering = f.string(&["disk_offering", "disk_offering_id"]);
        let disk_size = f.uint(&["disk_size"], u64::from(u32::MAX));
        let hypervisor = f.string(&["hypervisor"]);
        if matches!(source, Some(Source::Iso(_))) {
            if disk_offering.is_none() {
                f.errors
                    .push("disk_offering: must be set when booting from source_iso".into());
            }
            if hypervisor.is_none() {
                f.errors
                    .push("hypervisor: must be set when booting from source_iso".into());
            }
        }
        let instance_name = f
            .string(&["instance_name"])
            .unwrap_or_else(|| format!("packer-{}", ctx.uuid));
        let instance_display_name = f
            .string(&["instance_display_name"])
            .unwrap_or_else(|| "Created by Packer".into());
        // user_data is rendered at build time ({{.HTTPIP}} etc.), so it is kept raw here.
        let user_data_inline = f.string_raw(&["user_data"]).filter(|s| !s.is_empty());
        let user_data_file = f.string(&["user_data_file"]);
        let user_data = match (user_data_inline, user_data_file) {
            (Some(_), Some(_)) => {
                f.errors
                    .push("user_data and user_data_file: set only one of them".into());
                None
            }
            (Some(u), None) => Some(u),
            (None, Some(path)) => match std::fs::read_to_string(&path) {
                Ok(s) => Some(s),
                Err(e) => {
                    f.errors
                        .push(format!("user_data_file: cannot read {path:?}: {e}"));
                    None
                }
            },
            (None, None) => None,
        };
        let temporary_keypair_name = f
            .string(&["temporary_keypair_name"])
            .unwrap_or_else(|| format!("packer_{}", ctx.uuid));
        let use_local_ip_address = f.bool(&["use_local_ip_address"]);
        let public_ip_address = f.string(&["public_ip_address"]);
        let public_port = f.uint(&["public_port"], 65_535).map(|p| p as u16);
        if public_port == Some(0) {
            f.errors.push("public_port: must be from 1 to 65535".into());
        }
        let cidr_list = f
            .string_list(&["cidr_list"])
            .unwrap_or_else(|| vec!["0.0.0.0/0".into()]);
        let prevent_firewall_changes = f.bool(&["prevent_firewall_changes"]);
        let create_security_group = f.bool(&["create_security_group"]);
        let security_groups = f.string_list(&["security_groups"]).unwrap_or_default();
        let expunge = f.bool(&["expunge"]);
        if create_security_group && !expunge {
            f.errors.push(
                "create_security_group: requires expunge to be true (a security group in use \
                 by a destroyed but not expunged VM cannot be deleted)"
                    .into(),
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
                f.errors.push(format!(
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
        };
        if let Some(p) = &ssh.private_key_file {
            if !p.is_file() {
                f.errors.push(format!(
                    "ssh_private_key_file: {} does not exist or is not a file",
                    p.display()
                ));
            }
        }
        if ssh.port == 0 {
            f.errors.push("ssh_port: must be from 1 to 65535".into());
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
            f.errors
                .push("http_port_min: must be less than or equal to http_port_max".into());
        }
        for key in ACCEPTED_IGNORED {
            if f.map.remove(*key).is_some() {
                f.warnings.push(format!(
                    "{key}: accepted for compatibility but not used by this builder yet"
                ));
            }
        }
        let mut unknown: Vec<String> = f.map.keys().cloned().collect();
        unknown.sort();
        for key in unknown {
            f.errors.push(format!("unknown configuration key: {key:?}"));
        }

        if !f.errors.is_empty() {
            return Err((f.errors, f.warnings));
        }
        let (Some(zone), Some(service_offering), Some(source)) = (zone, service_offering, source)
        else {
            // Unreachable: each None above pushed an error.
            return Err((vec!["incomplete configuration".into()], f.warnings));
        };
        let build_name = packer
            .get("packer_build_name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let packer_debug = packer
            .get("packer_debug")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Ok((
            Config {
                build_name,
                packer_debug,
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
                expunge,
                eject_iso,
                eject_iso_delay,
                tags,
                template,
                ssh,
                communicator_none,
                http,
            },
            f.warnings,
        ))
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
                "keypair": "mykey", "cidr_list": "10.0.0.0/8", "ssh_bastion_host": "b"
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
    }

    #[test]
    fn ignored_sdk_options_warn_by_name() {
        let mut b = mesostack_builder();
        b["ssh_bastion_host"] = json!("bastion");
        let (_, warnings) = parse(b, &env_with_creds).unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].starts_with("ssh_bastion_host:"), "{warnings:?}");
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
    fn every_hcl_spec_attribute_is_a_known_key() {
        let Spec::Object(attrs) = hcl_spec() else {
            panic!("root spec is not an object")
        };
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
        assert!(attrs.len() > 90, "{}", attrs.len());
        let errs = match parse(Value::Object(b), &env_with_creds) {
            Ok(_) => Vec::new(),
            Err((errs, _)) => errs,
        };
        let unknown: Vec<&String> = errs.iter().filter(|e| e.contains("unknown")).collect();
        assert!(unknown.is_empty(), "{unknown:?}");
    }

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
}
