//! `terraform-provider-cloudstack`: the CloudStack provider for Terraform.
//! Terraform starts this binary; the protocol lives in the `tfplugin5` and
//! `go-plugin` crates, the CloudStack logic in this crate's modules.

mod common;
mod data_sources;
mod kit;
mod provider;
mod refresh;
mod resources;
mod rule_set;

use std::process::ExitCode;

/// This binary's name and version (`--version`, first log line).
const RELEASE: tfplugin5::Release = tfplugin5::Release {
    name: env!("CARGO_PKG_NAME"),
    version: env!("CARGO_PKG_VERSION"),
};

#[tokio::main]
async fn main() -> ExitCode {
    tfplugin5::run(provider::CloudStackProvider::default(), RELEASE).await
}
