//! The `provider "cloudstack" { ... }` block: schema (same attribute names,
//! types and environment variables as apache/cloudstack-terraform-provider),
//! resolution of the settings and the configured [`Client`] every resource
//! and data source receives.
//!
//! Differences from the Go provider: TLS certificates of the API endpoint
//! are verified (the Go provider always turns verification off; set
//! `CLOUDSTACK_SSL_NO_VERIFY=true` in the environment, or
//! `verifysslcert = false` in a CloudMonkey profile, for a self-signed lab
//! server; there is no schema attribute, so configurations stay compatible;
//! a private CA is trusted with the optional `ca_file` attribute or
//! `CLOUDSTACK_CA_FILE`, verification kept on),
//! and Configure checks the credentials with one `listZones` call, so a
//! wrong key fails before any change is made.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use tfplugin5::{
    async_trait, Attribute, AttributePath, Block, CancellationToken, ConfigureRequest, DataSource,
    Diagnostic, Diagnostics, Provider, Resource, Schema, Type, Value,
};

/// Default API timeout in seconds, as in the Go provider.
const DEFAULT_TIMEOUT_SECS: i64 = 900;

/// The provider. `handle` is shared with the resources, so plan-time checks
/// (unknown zone or template names) can use the client that Configure built.
#[derive(Debug, Default)]
pub struct CloudStackProvider {
    handle: Handle,
}

/// The configured client, once Configure has run (shared by the provider and
/// every resource; the gRPC layer keeps its own copy for the CRUD calls).
pub type Handle = Arc<OnceLock<Client>>;

/// What every resource and data source receives: the CloudStack API client,
/// Terraform's stop signal and the provider-level job timeout.
#[derive(Clone)]
pub struct Client {
    /// API client whose async-job timeout is the provider's `timeout`.
    pub api: cloudstack::Client,
    /// Cancelled when Terraform calls Stop (Ctrl-C): long waits end early.
    pub stop: CancellationToken,
    /// The provider's `timeout` (default for every operation without a
    /// `timeouts` block).
    pub timeout: Duration,
    /// Clients with other job timeouts (for `timeouts { ... }` blocks), sharing the
    /// connection pool and async-job watcher of `api`.
    by_timeout: Arc<Mutex<HashMap<u64, cloudstack::Client>>>,
    /// Listings shared by the reads of a refresh (VMs, rules of an IP, ...),
    /// and facts kept for the process (name → object resolutions, owners).
    pub(crate) refresh: Arc<crate::refresh::RefreshCache>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("api", &self.api)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Client {
    /// Wraps an API client (its configured `async_timeout` is the default
    /// operation timeout).
    pub fn new(api: cloudstack::Client, stop: CancellationToken) -> Client {
        Client {
            timeout: api.config().async_timeout,
            api,
            stop,
            by_timeout: Arc::default(),
            refresh: Arc::default(),
        }
    }

    /// This client, recording in `log` every create CloudStack accepts (see
    /// [`cloudstack::AcceptedLog`]); clients for other timeouts derive from it.
    pub fn recording_accepted(&self, log: &cloudstack::AcceptedLog) -> Client {
        Client {
            api: self.api.recording_accepted(log),
            by_timeout: Arc::default(),
            ..self.clone()
        }
    }

    /// An API client whose async jobs may take `limit` (the resource's
    /// `timeouts` value); the provider's own client when `limit` is the default.
    pub fn api_with_timeout(&self, limit: Duration) -> cloudstack::Client {
        if limit == self.timeout {
            return self.api.clone();
        }
        let key = limit.as_millis() as u64;
        let mut map = match self.by_timeout.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(c) = map.get(&key) {
            return c.clone();
        }
        // the same connection pool and async-job watcher, with its own job timeout
        let c = self.api.with_async_timeout(limit);
        map.insert(key, c.clone());
        c
    }
}

/// Resolved provider settings (configuration, then environment, then
/// defaults). The CloudStack client will be built from this.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderConfig {
    /// CloudStack API endpoint, e.g. `https://cloud.example/client/api`.
    pub api_url: Option<String>,
    /// API key.
    pub api_key: Option<String>,
    /// Secret key used to sign requests.
    pub secret_key: Option<String>,
    /// Path of a CloudMonkey config file holding credentials.
    pub config: Option<String>,
    /// Profile of that file to use.
    pub profile: Option<String>,
    /// Send every request as GET (some proxies refuse POST).
    pub http_get_only: bool,
    /// Timeout of asynchronous jobs, seconds.
    pub timeout_secs: i64,
    /// Accept any TLS certificate (env `CLOUDSTACK_SSL_NO_VERIFY` only).
    pub ssl_no_verify: bool,
    /// PEM file of CA certificates to trust besides the system's.
    pub ca_file: Option<String>,
}

/// Keys never appear in logs, whatever the level.
impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |o: &Option<String>| o.as_ref().map(|_| "<redacted>");
        f.debug_struct("ProviderConfig")
            .field("api_url", &self.api_url)
            .field("api_key", &redacted(&self.api_key))
            .field("secret_key", &redacted(&self.secret_key))
            .field("config", &self.config)
            .field("profile", &self.profile)
            .field("http_get_only", &self.http_get_only)
            .field("timeout_secs", &self.timeout_secs)
            .field("ssl_no_verify", &self.ssl_no_verify)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// Attributes that conflict with `config` / `profile` (Go provider rules).
const KEY_ATTRS: [&str; 3] = ["api_url", "api_key", "secret_key"];
const FILE_ATTRS: [&str; 2] = ["config", "profile"];

fn schema() -> Schema {
    Schema::new(
        Block::new()
            .attribute(
                Attribute::optional("api_url", Type::String)
                    .description("CloudStack API URL. Env: CLOUDSTACK_API_URL."),
            )
            .attribute(
                Attribute::optional("api_key", Type::String)
                    .sensitive()
                    .description("CloudStack API key. Env: CLOUDSTACK_API_KEY."),
            )
            .attribute(
                Attribute::optional("secret_key", Type::String)
                    .sensitive()
                    .description("CloudStack secret key. Env: CLOUDSTACK_SECRET_KEY."),
            )
            .attribute(
                Attribute::optional("config", Type::String)
                    .description("Path of a CloudMonkey config file with the credentials."),
            )
            .attribute(
                Attribute::optional("profile", Type::String)
                    .description("Profile of the CloudMonkey config file to use."),
            )
            .attribute(
                Attribute::optional("http_get_only", Type::Bool).description(
                    "Send all API calls as GET. Env: CLOUDSTACK_HTTP_GET_ONLY. Default false.",
                ),
            )
            .attribute(Attribute::optional("ca_file", Type::String).description(
                "PEM file of CA certificates to trust (a private CA) besides the system's; \
                 verification stays on. Env: CLOUDSTACK_CA_FILE.",
            ))
            .attribute(Attribute::optional("timeout", Type::Number).description(
                "Timeout of asynchronous jobs in seconds. Env: CLOUDSTACK_TIMEOUT. Default 900.",
            )),
    )
}

/// Checks what can be checked before values are known: `config`/`profile`
/// exclude the key attributes.
fn validate(config: &Value, diags: &mut Diagnostics) {
    let set = |name: &str| !config.get(name).is_null();
    if let Some(file_attr) = FILE_ATTRS.iter().find(|a| set(a)) {
        for key in KEY_ATTRS.iter().filter(|a| set(a)) {
            diags.push(
                Diagnostic::error(
                    format!("\"{key}\" conflicts with \"{file_attr}\""),
                    format!(
                        "Either give api_url, api_key and secret_key, or take them from a \
                         CloudMonkey file with config/profile; remove \"{key}\" or \"{file_attr}\"."
                    ),
                )
                .at(AttributePath::attr(*key)),
            );
        }
    }
    if let Some(t) = config.get_i64("timeout") {
        if t <= 0 {
            diags.attribute_error(
                "timeout",
                "timeout must be positive",
                format!("got {t} seconds"),
            );
        }
    }
}

/// Resolves settings: configuration first, then the Go provider's
/// environment variables, then defaults. `env` is injected for tests.
fn resolve(
    config: &Value,
    env: impl Fn(&str) -> Option<String>,
    diags: &mut Diagnostics,
) -> Option<ProviderConfig> {
    let text = |attr: &str, var: Option<&str>| {
        config
            .get_str(attr)
            .map(str::to_string)
            .or_else(|| var.and_then(&env))
            .filter(|s| !s.is_empty())
    };
    let http_get_only = match config.get_bool("http_get_only") {
        Some(b) => b,
        None => match env("CLOUDSTACK_HTTP_GET_ONLY").as_deref().map(str::trim) {
            None | Some("") => false,
            Some(v) if v.eq_ignore_ascii_case("true") || v == "1" => true,
            Some(v) if v.eq_ignore_ascii_case("false") || v == "0" => false,
            Some(v) => {
                diags.attribute_error(
                    "http_get_only",
                    "CLOUDSTACK_HTTP_GET_ONLY is not a boolean",
                    format!("got {v:?}; use true or false"),
                );
                return None;
            }
        },
    };
    let timeout_secs = match config.get_i64("timeout") {
        Some(t) => t,
        None => match env("CLOUDSTACK_TIMEOUT").as_deref().map(str::trim) {
            None | Some("") => DEFAULT_TIMEOUT_SECS,
            Some(v) => match v.parse::<i64>() {
                Ok(t) if t > 0 => t,
                _ => {
                    diags.attribute_error(
                        "timeout",
                        "CLOUDSTACK_TIMEOUT is not a positive number of seconds",
                        format!("got {v:?}"),
                    );
                    return None;
                }
            },
        },
    };
    let ssl_no_verify = match env("CLOUDSTACK_SSL_NO_VERIFY").as_deref().map(str::trim) {
        None | Some("") => false,
        Some(v) if v.eq_ignore_ascii_case("true") || v == "1" => true,
        Some(v) if v.eq_ignore_ascii_case("false") || v == "0" => false,
        Some(v) => {
            diags.error(
                "CLOUDSTACK_SSL_NO_VERIFY is not a boolean",
                format!("got {v:?}; use true or false"),
            );
            return None;
        }
    };
    let resolved = ProviderConfig {
        api_url: text("api_url", Some("CLOUDSTACK_API_URL")),
        api_key: text("api_key", Some("CLOUDSTACK_API_KEY")),
        secret_key: text("secret_key", Some("CLOUDSTACK_SECRET_KEY")),
        config: text("config", None),
        profile: text("profile", None),
        http_get_only,
        timeout_secs,
        ssl_no_verify,
        ca_file: text("ca_file", Some("CLOUDSTACK_CA_FILE")),
    };
    if resolved.profile.is_some() && resolved.config.is_none() {
        diags.attribute_error(
            "config",
            "profile needs config",
            "Give the path of the CloudMonkey config file in config (e.g. \"~/.cmk/config\") \
             together with profile.",
        );
        return None;
    }
    let from_file = resolved.config.is_some();
    if !from_file {
        let missing: Vec<&str> = [
            ("api_url", &resolved.api_url),
            ("api_key", &resolved.api_key),
            ("secret_key", &resolved.secret_key),
        ]
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(n, _)| *n)
        .collect();
        for name in &missing {
            diags.attribute_error(
                *name,
                format!("Missing CloudStack {name}"),
                format!(
                    "Set {name} in the provider block or CLOUDSTACK_{} in the environment, \
                     or use config and profile to read a CloudMonkey config file.",
                    name.to_ascii_uppercase()
                ),
            );
        }
        if !missing.is_empty() {
            return None;
        }
    }
    Some(resolved)
}

/// Builds the API configuration: a CloudMonkey profile when `config` is
/// given, else the three key attributes.
fn api_config(r: &ProviderConfig, diags: &mut Diagnostics) -> Option<cloudstack::Config> {
    let mut cfg = match &r.config {
        Some(path) => {
            let expanded = match (path.strip_prefix("~/"), std::env::var("HOME")) {
                (Some(rest), Ok(home)) => format!("{home}/{rest}"),
                _ => path.clone(),
            };
            match cloudstack::Config::from_ini_file(&expanded, r.profile.as_deref()) {
                Ok(c) => c,
                Err(e) => {
                    diags.attribute_error(
                        if matches!(&e, cloudstack::Error::Config(m) if m.contains("profile")) {
                            "profile"
                        } else {
                            "config"
                        },
                        "Cannot use the CloudMonkey config file",
                        format!("{e}. The file needs a [profile] section with url, apikey and secretkey."),
                    );
                    return None;
                }
            }
        }
        None => cloudstack::Config::new(
            r.api_url.clone().unwrap_or_default(),
            r.api_key.clone().unwrap_or_default(),
            r.secret_key.clone().unwrap_or_default(),
        ),
    };
    cfg.http_get_only = r.http_get_only;
    cfg.ssl_no_verify = cfg.ssl_no_verify || r.ssl_no_verify;
    if let Some(ca) = &r.ca_file {
        cfg.ca_file = Some(ca.into());
    }
    cfg.async_timeout = Duration::from_secs(r.timeout_secs.max(1) as u64);
    if let Err(e) = cfg.validate() {
        diags.attribute_error(
            if r.config.is_some() {
                "config"
            } else {
                "api_url"
            },
            "Invalid CloudStack settings",
            e.to_string(),
        );
        return None;
    }
    Some(cfg)
}

/// One cheap read (`listZones`) proving the endpoint answers and accepts
/// the keys, so a wrong secret fails at Configure, before any change.
async fn check_credentials(client: &Client, from_file: bool, diags: &mut Diagnostics) {
    let params = cloudstack::Params::new();
    let probe = client.api.list_zones(&params);
    let result = tokio::select! {
        _ = client.stop.cancelled() => return,
        r = tokio::time::timeout(Duration::from_secs(120), probe) => r,
    };
    let (key_attr, where_) = if from_file {
        ("config", "the apikey/secretkey of the CloudMonkey profile")
    } else {
        (
            "secret_key",
            "api_key and secret_key (or CLOUDSTACK_API_KEY / CLOUDSTACK_SECRET_KEY)",
        )
    };
    match result {
        Ok(Ok(_)) => {}
        Ok(Err(e)) if e.is_auth() || e.api_error_code() == Some(402) => diags.push(
            Diagnostic::error(
                "CloudStack rejected the API credentials",
                format!(
                    "{e}\n\nCheck {where_}: the secret key must belong to the API key, both \
                     from the CloudStack UI (Accounts > user > Keys). Nothing was changed."
                ),
            )
            .at(AttributePath::attr(key_attr)),
        ),
        Ok(Err(e)) => diags.push(
            Diagnostic::error(
                "Cannot reach the CloudStack API",
                format!(
                    "{e}\n\nCheck api_url (it usually ends in /client/api) and that the \
                     management server is reachable. Nothing was changed."
                ),
            )
            .at(AttributePath::attr(if from_file {
                "config"
            } else {
                "api_url"
            })),
        ),
        Err(_) => diags.push(
            Diagnostic::error(
                "The CloudStack API does not answer",
                "listZones got no answer within 120 s; check api_url and the network.",
            )
            .at(AttributePath::attr(if from_file {
                "config"
            } else {
                "api_url"
            })),
        ),
    }
}

#[async_trait]
impl Provider for CloudStackProvider {
    type Client = Client;

    fn schema(&self) -> Schema {
        schema()
    }

    fn resources(&self) -> Vec<Arc<dyn Resource<Client>>> {
        crate::resources::resources(&self.handle)
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource<Client>>> {
        crate::data_sources::data_sources(&self.handle)
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        validate(config, diags);
    }

    async fn configure(
        &self,
        req: ConfigureRequest<'_>,
        diags: &mut Diagnostics,
    ) -> Option<Client> {
        if !req.config.is_fully_known() {
            diags.error(
                "Provider configuration depends on values not known yet",
                "Set api_url, api_key and secret_key (or config and profile) from variables or \
                 the environment, not from resources created in the same run.",
            );
            return None;
        }
        let resolved = resolve(req.config, |k| std::env::var(k).ok(), diags)?;
        tracing::debug!(terraform_version = req.terraform_version, config = ?resolved, "configuring");
        let cfg = api_config(&resolved, diags)?;
        let api = match cloudstack::Client::new(cfg) {
            Ok(c) => c,
            Err(e) => {
                let attr = if e.to_string().contains("ca_file") {
                    "ca_file"
                } else {
                    "api_url"
                };
                diags.attribute_error(attr, "Cannot build the CloudStack client", e.to_string());
                return None;
            }
        };
        let client = Client::new(api, req.stop.clone());
        check_credentials(&client, resolved.config.is_some(), diags).await;
        if diags.has_errors() {
            return None;
        }
        let _ = self.handle.set(client.clone());
        Some(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn config_wins_over_env_and_defaults_apply() {
        let cfg = Value::object([
            ("api_url", Value::from("http://a/client/api")),
            ("timeout", 60i64.into()),
        ]);
        let mut d = Diagnostics::default();
        let r = resolve(
            &cfg,
            env(&[
                ("CLOUDSTACK_API_URL", "http://env/client/api"),
                ("CLOUDSTACK_API_KEY", "k"),
                ("CLOUDSTACK_SECRET_KEY", "s"),
                ("CLOUDSTACK_HTTP_GET_ONLY", "true"),
            ]),
            &mut d,
        )
        .unwrap();
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(r.api_url.as_deref(), Some("http://a/client/api"));
        assert_eq!(r.api_key.as_deref(), Some("k"));
        assert!(r.http_get_only);
        assert_eq!(r.timeout_secs, 60);
        let printed = format!("{r:?}");
        assert!(
            !printed.contains("\"s\"") && printed.contains("<redacted>"),
            "{printed}"
        );
    }

    #[test]
    fn missing_credentials_name_each_attribute() {
        let mut d = Diagnostics::default();
        let r = resolve(&Value::object([("api_url", "http://a")]), env(&[]), &mut d);
        assert!(r.is_none());
        let attrs: Vec<String> =
            d.0.iter()
                .filter_map(|x| x.attribute.as_ref())
                .map(|p| p.to_string())
                .collect();
        assert_eq!(attrs, vec!["api_key", "secret_key"]);
        assert!(d.0[0].detail.contains("CLOUDSTACK_API_KEY"));
    }

    #[test]
    fn profile_needs_no_keys_and_default_timeout() {
        let mut d = Diagnostics::default();
        let r = resolve(
            &Value::object([("profile", "lab"), ("config", "/x/config")]),
            env(&[]),
            &mut d,
        )
        .unwrap();
        assert_eq!(r.timeout_secs, DEFAULT_TIMEOUT_SECS);
        assert!(!r.http_get_only);
        let mut d = Diagnostics::default();
        assert!(resolve(&Value::object([("profile", "lab")]), env(&[]), &mut d).is_none());
        assert_eq!(d.0[0].attribute, Some(AttributePath::attr("config")));
    }

    #[test]
    fn bad_env_values_are_reported() {
        let mut d = Diagnostics::default();
        let r = resolve(
            &Value::object([("profile", "lab"), ("config", "/x")]),
            env(&[("CLOUDSTACK_TIMEOUT", "soon")]),
            &mut d,
        );
        assert!(r.is_none());
        assert_eq!(d.0[0].attribute, Some(AttributePath::attr("timeout")));
    }

    #[test]
    fn config_conflicts_with_keys() {
        let mut d = Diagnostics::default();
        validate(
            &Value::object([("config", "~/.cmk/config"), ("api_key", "k")]),
            &mut d,
        );
        assert!(d.has_errors());
        assert_eq!(d.0[0].attribute, Some(AttributePath::attr("api_key")));
        let mut ok = Diagnostics::default();
        validate(
            &Value::object([("api_url", "u"), ("api_key", "k")]),
            &mut ok,
        );
        assert!(ok.is_empty());
    }

    #[test]
    fn schema_marks_keys_sensitive() {
        let s = schema();
        assert!(s.block.find_attribute("api_key").unwrap().sensitive);
        assert!(s.block.find_attribute("secret_key").unwrap().sensitive);
        assert!(!s.block.find_attribute("api_url").unwrap().sensitive);
        assert_eq!(s.block.find_attribute("timeout").unwrap().ty, Type::Number);
    }

    #[test]
    fn cloudmonkey_profile_and_tls_settings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(
            &path,
            "[core]\nprofile = lab\n\n[lab]\nurl = https://lab/client/api\napikey = K\nsecretkey = S\n",
        )
        .unwrap();
        let p = path.to_string_lossy().to_string();
        let mut d = Diagnostics::default();
        let cfg_value = Value::object([
            ("config", Value::from(p.as_str())),
            ("profile", "lab".into()),
        ]);
        let r = resolve(
            &cfg_value,
            env(&[("CLOUDSTACK_SSL_NO_VERIFY", "true")]),
            &mut d,
        )
        .unwrap();
        let cfg = api_config(&r, &mut d).unwrap();
        assert_eq!(cfg.api_url, "https://lab/client/api");
        assert_eq!(cfg.api_key, "K");
        assert!(cfg.ssl_no_verify);
        assert_eq!(cfg.async_timeout, Duration::from_secs(900));

        // verification stays on unless asked
        let r = resolve(&cfg_value, env(&[]), &mut d).unwrap();
        assert!(!api_config(&r, &mut d).unwrap().ssl_no_verify);

        let bad = Value::object([
            ("config", Value::from(p.as_str())),
            ("profile", "prod".into()),
        ]);
        let r = resolve(&bad, env(&[]), &mut d).unwrap();
        assert!(api_config(&r, &mut d).is_none());
        let last = d.0.last().unwrap();
        assert_eq!(last.attribute, Some(AttributePath::attr("profile")));
        assert!(
            last.summary.contains("CloudMonkey") && last.detail.contains("lab"),
            "{last:?}"
        );
    }

    #[tokio::test]
    async fn wrong_secret_is_reported_at_configure() {
        let env = crate::common::testenv::start(Default::default()).await;
        let mut cfg = env.client.api.config().clone();
        cfg.secret_key = "wrong".into();
        cfg.retry = cloudstack::RetryPolicy::none();
        let c = Client::new(
            cloudstack::Client::new(cfg).unwrap(),
            CancellationToken::new(),
        );
        let mut d = Diagnostics::default();
        check_credentials(&c, false, &mut d).await;
        assert_eq!(d.0.len(), 1, "{d:?}");
        assert_eq!(d.0[0].attribute, Some(AttributePath::attr("secret_key")));
        assert!(
            d.0[0].detail.contains("api_key and secret_key"),
            "{}",
            d.0[0].detail
        );
        let mut ok = Diagnostics::default();
        check_credentials(&env.client, false, &mut ok).await;
        assert!(ok.is_empty(), "{ok:?}");
    }
}
