//! Packer's plugin protocol in Rust, with nothing CloudStack-specific in it.
//!
//! Packer does not speak gRPC to builders: after a one-line handshake it runs yamux over the
//! plugin's socket, brokers sub-streams by numeric id, and speaks Go `net/rpc` with a msgpack
//! codec on each stream. This crate implements that stack and exposes a small API: implement
//! [`Builder`] (and [`Communicator`] / [`Artifact`]) and call [`main_builder`].
//!
//! # Layout (one module per protocol layer, names follow the Go source)
//! - [`handshake`]: arguments (`describe`, `start builder`), magic cookie, handshake line.
//! - [`transport`]: yamux (rust-yamux, server mode) driven by one task.
//! - [`mux_broker`]: stream ids over yamux (u32 LE id, echoed as ack; id 0 = main stream).
//! - [`codec`]: net/rpc header+body framing in msgpack; incomplete vs invalid input.
//! - [`rpc`]: the net/rpc server (dispatch by `ServiceMethod`) and client (match by `Seq`).
//! - `gob`: the gob values Packer expects (a command's exit status, Packer 1.6.6's HCL2 spec).
//! - [`services`]: Builder (served), Ui and Hook (called), Communicator and Artifact (served
//!   back to Packer).
//! - [`hcl_spec`]: the HCL2 object spec, as hcl_spec.proto bytes (`--protobuf`) or gob
//!   (Packer 1.6.6).
//! - [`config`]: reading a builder's `Prepare` maps like Go's mapstructure, with the HCL2
//!   spec derived from the same reads.
//! - [`interpolate`]: Packer's template functions for builder configs (`{{timestamp}}`, ...).
//! - [`server`]: [`serve_builder`] / [`main_builder`] tie it together.
//! - [`steps`]: Go-`multistep`-style steps with reverse cleanup on success, error and cancel.
//! - [`testing`]: an in-memory Packer core (`CoreStub`) to unit-test builder code.
//!
//! # Packer versions
//! Packer 1.6.6 (JSON and HCL2 templates, the latter through a gob ConfigSpec): tested end
//! to end against the real binary. Modern Packer (`describe`, `start builder`, 4-field
//! handshake, protobuf ConfigSpec, HCL2 configs as go-cty JSON): implemented from the SDK
//! source and tested with a scripted core only.
//!
//! # What is not here
//! Post-processors, provisioners and data sources.
//!
//! # Example
//! ```no_run
//! use std::sync::Arc;
//! use packer_sdk::{async_trait, Artifact, BoxError, Builder, CancellationToken, Hook,
//!     PluginInfo, PrepareError, PrepareOutput, Ui};
//!
//! struct Noop;
//!
//! #[async_trait]
//! impl Builder for Noop {
//!     async fn prepare(&mut self, _c: Vec<serde_json::Value>)
//!         -> Result<PrepareOutput, PrepareError> { Ok(PrepareOutput::default()) }
//!     async fn run(&self, ui: Ui, _h: Hook, _c: CancellationToken)
//!         -> Result<Option<Arc<dyn Artifact>>, BoxError> {
//!         ui.say("nothing to do").await;
//!         Ok(None)
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     packer_sdk::main_builder(Noop, PluginInfo::single_builder("0.1.0"))
//! }
//! ```

pub mod codec;
pub mod config;
mod error;
mod gob;
pub mod handshake;
pub mod hcl_spec;
pub mod interpolate;
pub mod mux_broker;
pub mod rpc;
pub mod server;
pub mod services;
pub mod steps;
pub mod testing;
pub mod transport;
mod value;

pub use async_trait::async_trait;
pub use error::{Error, Result};
pub use handshake::PluginInfo;
pub use server::{main_builder, serve_builder, serve_connection};
pub use services::{
    artifact::Artifact,
    builder::{Builder, PrepareError, PrepareOutput, BUILD_CANCELLED},
    communicator::{
        ByteReader, ByteWriter, Communicator, ExitFuture, FileInfo, RemoteCommand, CMD_DISCONNECT,
    },
    hook::{Hook, HOOK_CLEANUP_PROVISION, HOOK_PROVISION},
    ui::Ui,
};
pub use tokio_util::sync::CancellationToken;
pub use value::{from_json as json_to_msgpack, to_json as msgpack_to_json};

/// Errors returned by builder, communicator and artifact implementations.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
