//! How a plugin process starts: arguments, the magic cookie, `describe`, and the handshake
//! line Packer reads from the plugin's stdout.
//!
//! Packer 1.6.6 starts `packer-builder-NAME` with no arguments and wants `5|unix|PATH`;
//! Packer ≥ 1.7 starts `packer-plugin-NAME start builder [--protobuf] COMPONENT` and wants
//! `5|0|unix|PATH`. Each reads exactly one line and rejects the other's format.

use std::path::Path;

use crate::error::{Error, Result};

/// Environment variable Packer sets for its plugins.
pub const MAGIC_COOKIE_KEY: &str = "PACKER_PLUGIN_MAGIC_COOKIE";
/// The value Packer sets it to.
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// Plugin API major version both Packer generations require.
pub const API_VERSION_MAJOR: &str = "5";
/// Plugin API minor version (modern Packer only); must be ≤ core's.
pub const API_VERSION_MINOR: &str = "0";
/// The component name modern Packer maps to the bare plugin name (`"type": "cloudstack"`).
pub const DEFAULT_COMPONENT_NAME: &str = "-packer-default-plugin-name-";

/// What the command line asks the binary to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// No arguments: Packer 1.6.6 single-component plugin.
    Legacy,
    /// `start builder [--protobuf] NAME`: modern Packer.
    Start {
        /// Component name requested.
        component: String,
        /// Whether Packer asked for protobuf-encoded HCL specs.
        protobuf: bool,
    },
    /// `describe`: print the plugin set as JSON and exit.
    Describe,
    /// `--version` (also `-version`, `version`): print the name and version and exit, for a
    /// person checking what is installed; needs no magic cookie.
    Version,
}

/// Reads the arguments after the program name.
pub fn parse_args(args: &[String]) -> Result<Invocation> {
    let protobuf = args.iter().any(|a| a == "--protobuf");
    let rest: Vec<&str> = args
        .iter()
        .filter(|a| *a != "--protobuf")
        .map(String::as_str)
        .collect();
    match rest.as_slice() {
        [] => Ok(Invocation::Legacy),
        ["describe"] => Ok(Invocation::Describe),
        ["--version" | "-version" | "version"] => Ok(Invocation::Version),
        ["start", "builder", name] => Ok(Invocation::Start {
            component: (*name).to_owned(),
            protobuf,
        }),
        ["start", kind, ..] => Err(Error::Usage(format!(
            "this plugin has only a builder, not a {kind}"
        ))),
        _ => Err(Error::Usage(
            "describe | --version | start builder [--protobuf] NAME (or no arguments for Packer 1.6)"
                .into(),
        )),
    }
}

/// Refuses to run unless Packer started us.
pub fn check_cookie(value: Option<&str>) -> Result<()> {
    if value == Some(MAGIC_COOKIE_VALUE) {
        Ok(())
    } else {
        Err(Error::NotLaunchedByPacker)
    }
}

/// Text for a person who ran the binary by hand.
pub fn not_launched_help(program: &str) -> String {
    format!(
        "{program} is a Packer plugin. Packer runs it for you; do not run it directly.\n\
         \n\
         Install it where Packer looks for plugins, for example:\n\
         \x20 Packer 1.6:  copy it as packer-builder-<name> into PACKER_PLUGIN_PATH,\n\
         \x20              ~/.packer.d/plugins or the template's directory\n\
         \x20 Packer 1.7+: packer plugins install --path ./packer-plugin-<name> <source>\n\
         then use \"type\": \"<name>\" in a template's builders.\n\
         `{program} --version` prints its version.\n"
    )
}

/// The line to print on stdout once the socket listens.
pub fn handshake_line(invocation: &Invocation, socket: &Path) -> String {
    let addr = socket.display();
    match invocation {
        Invocation::Start { .. } => {
            format!("{API_VERSION_MAJOR}|{API_VERSION_MINOR}|unix|{addr}")
        }
        _ => format!("{API_VERSION_MAJOR}|unix|{addr}"),
    }
}

/// What `describe` reports about this plugin binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfo {
    /// Semantic version of the plugin (Packer's installer requires plain semver).
    pub version: String,
    /// Builder component names; [`DEFAULT_COMPONENT_NAME`] stands for the plugin's own name.
    pub builders: Vec<String>,
}

impl PluginInfo {
    /// A plugin with one builder named after the binary.
    pub fn single_builder(version: &str) -> Self {
        Self {
            version: version.to_owned(),
            builders: vec![DEFAULT_COMPONENT_NAME.to_owned()],
        }
    }

    /// The JSON `describe` prints (packer-plugin-sdk `plugin/set.go` field names).
    ///
    /// It announces API `x5.0` and `protocol_version` `v2`: current Packer then starts us
    /// with `--protobuf` and reads the HCL2 spec as hcl_spec.proto, the encoding it keeps
    /// for the future. Packer 1.6.6 never asks `describe` (it predates it) and gets the gob
    /// spec; so does current Packer when some other plugin lacks v2 or `PACKER_FORCE_GOB`
    /// is set. Both encodings come from one spec, so either way HCL2 templates work.
    pub fn describe_json(&self) -> String {
        serde_json::json!({
            "version": self.version,
            "sdk_version": "0.6.0",
            "api_version": format!("x{API_VERSION_MAJOR}.{API_VERSION_MINOR}"),
            "builders": self.builders,
            "post_processors": [],
            "provisioners": [],
            "datasources": [],
            "protocol_version": "v2",
        })
        .to_string()
    }

    /// The line `--version` prints: `NAME vVERSION (Packer plugin API x5.0)`. `program` is
    /// the binary's file name; an installed name such as
    /// `packer-plugin-cloudstack_v0.2.0_x5.0_linux_amd64` is cut at its first `_`.
    pub fn version_line(&self, program: &str) -> String {
        let name = program.split('_').next().unwrap_or(program);
        format!(
            "{name} v{} (Packer plugin API x{API_VERSION_MAJOR}.{API_VERSION_MINOR})",
            self.version
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn invocations() {
        assert_eq!(parse_args(&[]).unwrap(), Invocation::Legacy);
        assert_eq!(
            parse_args(&args(&["describe"])).unwrap(),
            Invocation::Describe
        );
        assert_eq!(
            parse_args(&args(&["start", "builder", "--protobuf", "cloudstack"])).unwrap(),
            Invocation::Start {
                component: "cloudstack".into(),
                protobuf: true
            }
        );
        assert_eq!(
            parse_args(&args(&["--protobuf", "start", "builder", "x"])).unwrap(),
            Invocation::Start {
                component: "x".into(),
                protobuf: true
            }
        );
        for flag in ["--version", "-version", "version"] {
            assert_eq!(parse_args(&args(&[flag])).unwrap(), Invocation::Version);
        }
        assert!(parse_args(&args(&["start", "provisioner", "x"])).is_err());
        assert!(parse_args(&args(&["bogus"])).is_err());
    }

    #[test]
    fn handshake_lines_per_packer_generation() {
        let p = Path::new("/tmp/x/plugin.sock");
        assert_eq!(
            handshake_line(&Invocation::Legacy, p),
            "5|unix|/tmp/x/plugin.sock"
        );
        let modern = Invocation::Start {
            component: "cloudstack".into(),
            protobuf: false,
        };
        assert_eq!(handshake_line(&modern, p), "5|0|unix|/tmp/x/plugin.sock");
    }

    #[test]
    fn cookie() {
        assert!(check_cookie(Some(MAGIC_COOKIE_VALUE)).is_ok());
        assert!(matches!(
            check_cookie(None),
            Err(Error::NotLaunchedByPacker)
        ));
        assert!(matches!(
            check_cookie(Some("nope")),
            Err(Error::NotLaunchedByPacker)
        ));
        assert!(not_launched_help("packer-builder-x").contains("Packer plugin"));
    }

    #[test]
    fn version_line_names_the_plugin_not_its_installed_file() {
        let info = PluginInfo::single_builder("0.2.0");
        assert_eq!(
            info.version_line("packer-plugin-cloudstack_v0.2.0_x5.0_linux_amd64"),
            "packer-plugin-cloudstack v0.2.0 (Packer plugin API x5.0)"
        );
        assert_eq!(
            info.version_line("packer-builder-cloudstack"),
            "packer-builder-cloudstack v0.2.0 (Packer plugin API x5.0)"
        );
    }

    #[test]
    fn describe_matches_sdk_shape() {
        let j: serde_json::Value =
            serde_json::from_str(&PluginInfo::single_builder("0.1.0").describe_json()).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"version":"0.1.0","sdk_version":"0.6.0","api_version":"x5.0",
                "builders":["-packer-default-plugin-name-"],"post_processors":[],
                "provisioners":[],"datasources":[],"protocol_version":"v2"})
        );
    }
}
