//! The CloudStack builder for Packer, on top of `packer-sdk` (which owns the protocol).
//!
//! # Layout
//! - [`config`]: every builder field (modern and legacy spellings), validated at
//!   `packer validate`, all problems at once.
//! - [`builder`]: the `packer_sdk::Builder` implementation. `prepare` is complete; `run` is
//!   not implemented yet and says so: the CloudStack steps (key pair, deploy, networking,
//!   SSH, provisioning hook, stop, template, cleanup) come next, using the `cloudstack`
//!   client crate.
//!
//! One program, two names: `packer-builder-cloudstack` for Packer 1.6 (started with no
//! arguments, JSON templates) and `packer-plugin-cloudstack` for Packer 1.7+ (`describe`,
//! `start builder ...`). `packer-sdk` picks the protocol from the arguments.

pub mod artifact;
pub mod builder;
pub mod config;
pub mod error;
pub mod ssh;
pub mod steps;

pub use error::{Error, Result};

/// Version reported by `describe`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The whole program: serve the builder to whichever Packer started us.
pub fn main() -> std::process::ExitCode {
    packer_sdk::main_builder(
        builder::CloudStackBuilder::from_process_env(),
        packer_sdk::PluginInfo::single_builder(VERSION),
    )
}
