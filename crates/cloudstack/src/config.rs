//! Client configuration: from code, from `CLOUDSTACK_*` environment variables, or from a
//! cloudmonkey-style INI file with named profiles (keys `url`, `apikey`, `secretkey`), the way
//! apache/cloudstack-terraform-provider reads `config` + `profile`.

use std::{fmt, path::Path, time::Duration};

use crate::error::{Error, Result};

/// How transient failures are retried (exponential backoff with full jitter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts per request, including the first (1 = no retries).
    pub max_attempts: u32,
    /// Backoff before the first retry; doubles each time.
    pub initial_backoff: Duration,
    /// Upper bound for one backoff.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }
}

/// Everything a [`crate::Client`] needs. Build with [`Config::new`], [`Config::from_env`] or
/// [`Config::from_ini_file`], then adjust the public fields.
#[derive(Clone)]
pub struct Config {
    /// API endpoint, e.g. `http://127.0.0.1:8080/client/api`.
    pub api_url: String,
    /// The user's API key.
    pub api_key: String,
    /// The user's secret key; never logged or printed.
    pub secret_key: String,
    /// Never use POST, even for long requests (some proxies only pass GET).
    pub http_get_only: bool,
    /// Accept any TLS certificate (opt-in, for self-signed lab servers).
    pub ssl_no_verify: bool,
    /// PEM file of CA certificates to trust besides the system's (a private CA), with
    /// verification kept on.
    pub ca_file: Option<std::path::PathBuf>,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
    /// Overall time to wait for one async job.
    pub async_timeout: Duration,
    /// First delay between `queryAsyncJobResult` polls (doubles up to `poll_cap`).
    pub poll_initial: Duration,
    /// Longest delay between polls.
    pub poll_cap: Duration,
    /// Retry policy for transient failures.
    pub retry: RetryPolicy,
    /// Validity of a signed request (`expires` = now + this); `None` signs version 1 requests.
    pub expires_after: Option<Duration>,
    /// Page size for list calls.
    pub page_size: u32,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("api_url", &self.api_url)
            .field("api_key", &self.api_key)
            .field("secret_key", &"<redacted>")
            .field("http_get_only", &self.http_get_only)
            .field("ssl_no_verify", &self.ssl_no_verify)
            .field("ca_file", &self.ca_file)
            .field("request_timeout", &self.request_timeout)
            .field("async_timeout", &self.async_timeout)
            .field("poll_initial", &self.poll_initial)
            .field("poll_cap", &self.poll_cap)
            .field("retry", &self.retry)
            .field("expires_after", &self.expires_after)
            .field("page_size", &self.page_size)
            .finish()
    }
}

impl Config {
    /// A configuration with defaults: TLS verified, GET/POST as needed, 60 s request timeout,
    /// 300 s job timeout, polls from 100 ms doubling to 5 s, retries per [`RetryPolicy`],
    /// signature version 3 valid 15 minutes, pages of 500.
    pub fn new(
        api_url: impl Into<String>,
        api_key: impl Into<String>,
        secret_key: impl Into<String>,
    ) -> Self {
        Self {
            api_url: api_url.into(),
            api_key: api_key.into(),
            secret_key: secret_key.into(),
            http_get_only: false,
            ssl_no_verify: false,
            ca_file: None,
            request_timeout: Duration::from_secs(60),
            async_timeout: Duration::from_secs(300),
            poll_initial: Duration::from_millis(100),
            poll_cap: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            expires_after: Some(Duration::from_secs(15 * 60)),
            page_size: 500,
        }
    }

    /// Reads the process environment; see [`Config::from_lookup`].
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Builds a configuration from variables found by `lookup` (the environment in
    /// [`Config::from_env`]; a map in tests).
    ///
    /// If `CLOUDSTACK_CONFIG` names an INI file, its profile (`CLOUDSTACK_PROFILE`, else the
    /// `[core] profile` entry, else `cloudstack`) gives `url`, `apikey`, `secretkey`.
    /// `CLOUDSTACK_API_URL`, `CLOUDSTACK_API_KEY`, `CLOUDSTACK_SECRET_KEY` override the file.
    /// `CLOUDSTACK_CA_FILE` (a PEM file of CA certificates to trust),
    /// `CLOUDSTACK_HTTP_GET_ONLY` (true/false), `CLOUDSTACK_SSL_NO_VERIFY` and
    /// `CLOUDSTACK_TIMEOUT` (seconds, the async-job timeout like the terraform provider's
    /// `timeout`) are optional.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let mut cfg = match get("CLOUDSTACK_CONFIG") {
            Some(path) => {
                let profile = get("CLOUDSTACK_PROFILE");
                Self::from_ini_file(path, profile.as_deref())?
            }
            None => Self::new("", "", ""),
        };
        if let Some(v) = get("CLOUDSTACK_API_URL") {
            cfg.api_url = v;
        }
        if let Some(v) = get("CLOUDSTACK_API_KEY") {
            cfg.api_key = v;
        }
        if let Some(v) = get("CLOUDSTACK_SECRET_KEY") {
            cfg.secret_key = v;
        }
        if let Some(v) = get("CLOUDSTACK_HTTP_GET_ONLY") {
            cfg.http_get_only = parse_bool("CLOUDSTACK_HTTP_GET_ONLY", &v)?;
        }
        if let Some(v) = get("CLOUDSTACK_SSL_NO_VERIFY") {
            cfg.ssl_no_verify = parse_bool("CLOUDSTACK_SSL_NO_VERIFY", &v)?;
        }
        if let Some(v) = get("CLOUDSTACK_CA_FILE") {
            cfg.ca_file = Some(v.into());
        }
        if let Some(v) = get("CLOUDSTACK_TIMEOUT") {
            cfg.async_timeout = parse_secs("CLOUDSTACK_TIMEOUT", &v)?;
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads profile `profile` (default: `[core] profile`, else `cloudstack`) from a
    /// cloudmonkey-style INI file.
    pub fn from_ini_file(path: impl AsRef<Path>, profile: Option<&str>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
        Self::from_ini_str(&text, profile)
    }

    /// Parses INI text; see [`Config::from_ini_file`]. Keys: `url`, `apikey`, `secretkey`,
    /// optional `timeout` (seconds), `verifysslcert` (false → `ssl_no_verify`).
    pub fn from_ini_str(text: &str, profile: Option<&str>) -> Result<Self> {
        let ini = ini::Ini::load_from_str(text)
            .map_err(|e| Error::Config(format!("invalid config file: {e}")))?;
        let default_profile = ini
            .section(Some("core"))
            .and_then(|s| s.get("profile"))
            .unwrap_or("cloudstack")
            .to_string();
        let name = profile.unwrap_or(&default_profile);
        let section = ini.section(Some(name)).ok_or_else(|| {
            let names: Vec<&str> = ini.sections().flatten().filter(|s| *s != "core").collect();
            Error::Config(format!(
                "profile {name:?} not found in config file (profiles: {})",
                names.join(", ")
            ))
        })?;
        let field = |k: &str| section.get(k).map(str::trim).unwrap_or("").to_string();
        let mut cfg = Self::new(field("url"), field("apikey"), field("secretkey"));
        if let Some(t) = section.get("timeout").filter(|t| !t.trim().is_empty()) {
            cfg.request_timeout = parse_secs("timeout", t)?;
        }
        if let Some(v) = section.get("verifysslcert") {
            cfg.ssl_no_verify = !parse_bool("verifysslcert", v)?;
        }
        Ok(cfg)
    }

    /// Checks that the URL and both keys are present and the URL parses.
    pub fn validate(&self) -> Result<()> {
        let mut missing = Vec::new();
        if self.api_url.is_empty() {
            missing.push("api_url (CLOUDSTACK_API_URL)");
        }
        if self.api_key.is_empty() {
            missing.push("api_key (CLOUDSTACK_API_KEY)");
        }
        if self.secret_key.is_empty() {
            missing.push("secret_key (CLOUDSTACK_SECRET_KEY)");
        }
        if !missing.is_empty() {
            return Err(Error::Config(format!("missing {}", missing.join(", "))));
        }
        url::Url::parse(&self.api_url)
            .map_err(|e| Error::Config(format!("invalid api_url {:?}: {e}", self.api_url)))?;
        Ok(())
    }
}

fn parse_bool(what: &str, v: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        other => Err(Error::Config(format!(
            "{what}: expected true/false, got {other:?}"
        ))),
    }
}

fn parse_secs(what: &str, v: &str) -> Result<Duration> {
    v.trim()
        .parse::<u64>()
        .map(Duration::from_secs)
        .map_err(|_| Error::Config(format!("{what}: expected seconds, got {v:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const INI: &str = "[core]\nprofile = lab\n\n[lab]\nurl = http://lab:8080/client/api\napikey = LABKEY\nsecretkey = LABSECRET\ntimeout = 30\nverifysslcert = false\n\n[prod]\nurl = https://prod/client/api\napikey = PK\nsecretkey = PS\n";

    fn lookup(map: HashMap<&'static str, String>) -> impl Fn(&str) -> Option<String> {
        move |k| map.get(k).cloned()
    }

    #[test]
    fn env_only() {
        let cfg = Config::from_lookup(lookup(HashMap::from([
            (
                "CLOUDSTACK_API_URL",
                "http://127.0.0.1:8080/client/api".to_string(),
            ),
            ("CLOUDSTACK_API_KEY", "k".to_string()),
            ("CLOUDSTACK_SECRET_KEY", "s".to_string()),
            ("CLOUDSTACK_HTTP_GET_ONLY", "true".to_string()),
            ("CLOUDSTACK_TIMEOUT", "42".to_string()),
        ])))
        .unwrap();
        assert_eq!(cfg.api_key, "k");
        assert!(cfg.http_get_only);
        assert!(!cfg.ssl_no_verify);
        assert_eq!(cfg.async_timeout, Duration::from_secs(42));
    }

    #[test]
    fn missing_values_are_named() {
        let err = Config::from_lookup(|_| None).unwrap_err().to_string();
        assert!(err.contains("CLOUDSTACK_API_URL") && err.contains("CLOUDSTACK_SECRET_KEY"));
    }

    #[test]
    fn ini_profiles_and_env_override() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, INI).unwrap();
        let p = path.to_string_lossy().to_string();

        let cfg =
            Config::from_lookup(lookup(HashMap::from([("CLOUDSTACK_CONFIG", p.clone())]))).unwrap();
        assert_eq!(cfg.api_url, "http://lab:8080/client/api");
        assert_eq!(cfg.secret_key, "LABSECRET");
        assert!(cfg.ssl_no_verify);
        assert_eq!(cfg.request_timeout, Duration::from_secs(30));

        let cfg = Config::from_lookup(lookup(HashMap::from([
            ("CLOUDSTACK_CONFIG", p.clone()),
            ("CLOUDSTACK_PROFILE", "prod".to_string()),
            ("CLOUDSTACK_API_KEY", "OVERRIDE".to_string()),
        ])))
        .unwrap();
        assert_eq!(cfg.api_url, "https://prod/client/api");
        assert_eq!(cfg.api_key, "OVERRIDE");
        assert_eq!(cfg.secret_key, "PS");

        let err = Config::from_lookup(lookup(HashMap::from([
            ("CLOUDSTACK_CONFIG", p),
            ("CLOUDSTACK_PROFILE", "nope".to_string()),
        ])))
        .unwrap_err()
        .to_string();
        assert!(err.contains("lab") && err.contains("prod"), "{err}");
    }

    #[test]
    fn debug_redacts_secret() {
        let cfg = Config::new("http://x/client/api", "key", "TOPSECRET");
        let dbg = format!("{cfg:?}");
        assert!(!dbg.contains("TOPSECRET"));
        assert!(dbg.contains("<redacted>"));
    }
}
