//! The start-up contract between a go-plugin host and its plugin: magic
//! cookie, application protocol negotiation and the handshake line.

use base64::{engine::general_purpose::STANDARD_NO_PAD, Engine as _};

use crate::Error;

/// Identifies the host program a plugin belongs to and the protocol
/// versions the plugin speaks. Mirrors go-plugin's `HandshakeConfig`.
#[derive(Debug, Clone, Copy)]
pub struct HandshakeConfig {
    /// Environment variable holding the cookie (e.g. `TF_PLUGIN_MAGIC_COOKIE`).
    pub magic_cookie_key: &'static str,
    /// Expected cookie value; proves the host started us.
    pub magic_cookie_value: &'static str,
    /// Application protocol versions we speak, in order of preference (best last).
    pub protocol_versions: &'static [u32],
    /// Human name of the host, used in the message shown to a person.
    pub host_name: &'static str,
    /// Told to a person who runs the binary by hand: how to install it.
    pub install_hint: &'static str,
}

/// Terraform provider plugins: cookie from Terraform, protocol 5 (tfplugin5).
pub const TERRAFORM_PROTOCOL5: HandshakeConfig = HandshakeConfig {
    magic_cookie_key: "TF_PLUGIN_MAGIC_COOKIE",
    magic_cookie_value: "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2",
    protocol_versions: &[5],
    host_name: "Terraform",
    install_hint: "Install it where Terraform looks for providers (a filesystem_mirror or \
                   dev_overrides entry in your CLI configuration, or \
                   ~/.terraform.d/plugins/<host>/<namespace>/<type>/<version>/<os_arch>/), \
                   require it in a `required_providers` block, then run `terraform init` \
                   and `terraform apply`.",
};

/// go-plugin's core protocol version; the host refuses anything else.
pub const CORE_PROTOCOL_VERSION: u32 = 1;

/// Checks the cookie and negotiates the application protocol from the
/// environment as the host set it. `env` is injected so tests need not
/// touch the process environment.
pub fn negotiate(
    cfg: &HandshakeConfig,
    program: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<u32, Error> {
    if env(cfg.magic_cookie_key).as_deref() != Some(cfg.magic_cookie_value) {
        return Err(Error::NotLaunchedByHost {
            program: program.to_string(),
            host: cfg.host_name.to_string(),
            install_hint: cfg.install_hint.to_string(),
        });
    }
    let ours = cfg.protocol_versions;
    let Some(offered) = env("PLUGIN_PROTOCOL_VERSIONS") else {
        // Old hosts do not announce versions; they expect our default.
        return ours.last().copied().ok_or_else(|| unsupported("", ours));
    };
    let theirs: Vec<u32> = offered
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    ours.iter()
        .rev()
        .find(|v| theirs.contains(v))
        .copied()
        .ok_or_else(|| unsupported(&offered, ours))
}

fn unsupported(offered: &str, ours: &[u32]) -> Error {
    Error::UnsupportedProtocol {
        offered: offered.to_string(),
        supported: ours
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(","),
    }
}

/// Formats the line the host reads from our stdout:
/// `CORE|APP|unix|PATH|grpc|CERT`, where CERT is the server certificate's
/// DER in unpadded standard base64 (empty without TLS).
pub fn handshake_line(
    app_version: u32,
    socket_path: &str,
    server_cert_der: Option<&[u8]>,
) -> String {
    let cert = server_cert_der
        .map(|der| STANDARD_NO_PAD.encode(der))
        .unwrap_or_default();
    format!("{CORE_PROTOCOL_VERSION}|{app_version}|unix|{socket_path}|grpc|{cert}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const COOKIE: (&str, &str) = (
        "TF_PLUGIN_MAGIC_COOKIE",
        "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2",
    );

    #[test]
    fn missing_cookie_explains_itself_to_a_person() {
        let err = negotiate(&TERRAFORM_PROTOCOL5, "terraform-provider-x", env(&[])).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("terraform-provider-x is a plugin for Terraform"),
            "{text}"
        );
        assert!(text.contains("terraform init"), "{text}");
        let wrong = env(&[("TF_PLUGIN_MAGIC_COOKIE", "nope")]);
        assert!(matches!(
            negotiate(&TERRAFORM_PROTOCOL5, "x", wrong),
            Err(Error::NotLaunchedByHost { .. })
        ));
    }

    #[test]
    fn negotiates_five_from_offer() {
        let e = env(&[COOKIE, ("PLUGIN_PROTOCOL_VERSIONS", "5,6")]);
        assert_eq!(negotiate(&TERRAFORM_PROTOCOL5, "x", e).unwrap(), 5);
        let e = env(&[COOKIE]);
        assert_eq!(negotiate(&TERRAFORM_PROTOCOL5, "x", e).unwrap(), 5);
    }

    #[test]
    fn refuses_when_five_not_offered() {
        let e = env(&[COOKIE, ("PLUGIN_PROTOCOL_VERSIONS", "4,6")]);
        let err = negotiate(&TERRAFORM_PROTOCOL5, "x", e).unwrap_err();
        assert!(err.to_string().contains("[4,6]"), "{err}");
    }

    #[test]
    fn handshake_line_shape() {
        assert_eq!(
            handshake_line(5, "/tmp/p/s", None),
            "1|5|unix|/tmp/p/s|grpc|"
        );
        // 2 bytes -> 3 base64 chars, no '=' padding
        assert_eq!(
            handshake_line(5, "/s", Some(&[0xff, 0xee])),
            "1|5|unix|/s|grpc|/+4"
        );
    }
}
