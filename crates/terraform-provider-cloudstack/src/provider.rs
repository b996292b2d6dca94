//! The `provider "cloudstack" { ... }` block: schema (same attribute names,
//! types and environment variables as apache/cloudstack-terraform-provider)
//! and resolution of the settings. Resources and data sources are added by
//! the modules that implement them.

use std::{fmt, sync::Arc};

use tfplugin5::{
    async_trait, Attribute, AttributePath, Block, ConfigureRequest, DataSource, Diagnostic,
    Diagnostics, Provider, Resource, Schema, Type, Value,
};

/// Default API timeout in seconds, as in the Go provider.
const DEFAULT_TIMEOUT_SECS: i64 = 900;

/// The provider: a unit value; everything configurable lives in
/// [`ProviderConfig`].
#[derive(Debug, Default)]
pub struct CloudStackProvider;

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
    let resolved = ProviderConfig {
        api_url: text("api_url", Some("CLOUDSTACK_API_URL")),
        api_key: text("api_key", Some("CLOUDSTACK_API_KEY")),
        secret_key: text("secret_key", Some("CLOUDSTACK_SECRET_KEY")),
        config: text("config", None),
        profile: text("profile", None),
        http_get_only,
        timeout_secs,
    };
    let from_file = resolved.config.is_some() || resolved.profile.is_some();
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

#[async_trait]
impl Provider for CloudStackProvider {
    /// For now the resolved settings; the CloudStack API client later.
    type Client = ProviderConfig;

    fn schema(&self) -> Schema {
        schema()
    }

    fn resources(&self) -> Vec<Arc<dyn Resource<ProviderConfig>>> {
        Vec::new()
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource<ProviderConfig>>> {
        Vec::new()
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        validate(config, diags);
    }

    async fn configure(
        &self,
        req: ConfigureRequest<'_>,
        diags: &mut Diagnostics,
    ) -> Option<ProviderConfig> {
        let resolved = resolve(req.config, |k| std::env::var(k).ok(), diags)?;
        tracing::debug!(terraform_version = req.terraform_version, config = ?resolved, "configured");
        Some(resolved)
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
        let r = resolve(&Value::object([("profile", "lab")]), env(&[]), &mut d).unwrap();
        assert_eq!(r.timeout_secs, DEFAULT_TIMEOUT_SECS);
        assert!(!r.http_get_only);
    }

    #[test]
    fn bad_env_values_are_reported() {
        let mut d = Diagnostics::default();
        let r = resolve(
            &Value::object([("profile", "lab")]),
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
}
