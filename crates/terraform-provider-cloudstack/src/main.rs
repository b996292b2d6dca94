//! `terraform-provider-cloudstack`: the CloudStack provider for Terraform.
//! Terraform starts this binary; the protocol lives in the `tfplugin5` and
//! `go-plugin` crates, the CloudStack logic in this crate's modules.

mod common;
mod data_sources;
// the first typed resources (VPC family) follow in the next commits
#[allow(dead_code)]
mod kit;
mod provider;
mod resources;

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match tfplugin5::serve(provider::CloudStackProvider::default()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Either a person ran us by hand (the message explains what we
            // are) or start-up failed; both go to stderr for Terraform's log.
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
