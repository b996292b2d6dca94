//! The CloudStack builder for Packer, on top of `packer-sdk` (which owns the protocol).
//!
//! # Layout
//! - [`config`]: every builder field (modern and legacy spellings), validated at
//!   `packer validate`, all problems at once.
//! - [`builder`]: the `packer_sdk::Builder` implementation; `run` runs [`steps`] and returns
//!   the [`artifact`].
//! - [`steps`]: one file per build step, in the Go builder's order (prepare_config,
//!   http_server, keypair, security_group, create_instance, setup_networking, detach_iso, connect,
//!   provision, shutdown, create_template, tags), with reverse cleanup on success, failure
//!   and cancel.
//! - [`communicator`]: Packer's `Communicator` served from an `ssh-communicator` session
//!   (the SSH client itself lives in that crate).
//! - [`preflight`]: what only the cloud can tell (security groups), checked at validate.
//! - [`artifact`]: the template (BuilderId `packer.cloudstack`, destroy = deleteTemplate).
//! - [`error`]: the crate's error type.
//!
//! One program, two names: `packer-builder-cloudstack` for Packer 1.6 (started with no
//! arguments, JSON templates) and `packer-plugin-cloudstack` for Packer 1.7+ (`describe`,
//! `start builder ...`). `packer-sdk` picks the protocol from the arguments.

pub mod artifact;
pub mod builder;
pub mod communicator;
pub mod config;
pub mod error;
pub mod preflight;
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
