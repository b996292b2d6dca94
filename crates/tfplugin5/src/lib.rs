//! Terraform plugin protocol 5 (tfplugin5.2) for providers written in
//! Rust, plus the small framework that lets a resource read as plain code.
//! Nothing here knows CloudStack.
//!
//! # Layout
//! - [`Type`], [`Value`]: the cty type system and values, incl. unknowns.
//! - [`msgpack`], [`json`]: cty's wire encodings (type-directed).
//! - [`schema`]: [`Schema`] / [`Block`] / [`Attribute`] / [`NestedBlock`]
//!   builders, with our `force_new` and `default`.
//! - [`Diagnostics`], [`AttributePath`]: errors and warnings for Terraform.
//! - [`plan`]: the generic planning rules (unknown computed attributes,
//!   defaults, requires-replace), pure functions.
//! - [`Provider`], [`Resource`], [`DataSource`]: what a provider implements.
//! - [`GrpcProvider`], [`routes`], [`serve`]: the gRPC service and the
//!   go-plugin wiring (handshake, AutoMTLS, logging) from the `go-plugin` crate.
//! - [`model`]: typed models, plain structs converted to and from
//!   [`Value`] with serde, checked against their schema in tests.
//! - [`timeouts`]: the Go SDK's `timeouts` block, Go duration syntax.
//! - [`testing`]: real-Terraform test harness (find binaries, offline mirror).
//! - [`proto`]: code generated from `proto/tfplugin5.proto` at build time
//!   (protox, no `protoc` needed).
//!
//! # A resource
//! ```
//! use tfplugin5::{async_trait, Attribute, Block, Diagnostics, Resource, Schema, Type, Value};
//!
//! struct SshKeypair;
//! # struct Client;
//!
//! #[async_trait]
//! impl Resource<Client> for SshKeypair {
//!     fn type_name(&self) -> &'static str { "cloudstack_ssh_keypair" }
//!     fn schema(&self) -> Schema {
//!         Schema::new(Block::new()
//!             .attribute(Attribute::computed("id", Type::String))
//!             .attribute(Attribute::required("name", Type::String).force_new())
//!             .attribute(Attribute::optional("public_key", Type::String).force_new())
//!             .attribute(Attribute::optional_computed("project", Type::String).force_new())
//!             .attribute(Attribute::computed("fingerprint", Type::String))
//!             .attribute(Attribute::computed("private_key", Type::String).sensitive()))
//!     }
//!     async fn create(&self, _c: &Client, planned: &Value, _d: &mut Diagnostics) -> Value {
//!         let mut state = planned.clone();
//!         // ... call CloudStack with planned.get_str("name") ...
//!         state.set_attr("id", planned.get_str("name"));
//!         state.set_attr("fingerprint", "aa:bb");
//!         state.set_attr("private_key", Value::Null);
//!         state.set_attr("project", Value::Null);
//!         state
//!     }
//!     async fn read(&self, _c: &Client, state: &Value, _d: &mut Diagnostics) -> Value {
//!         state.clone() // or Value::Null when CloudStack no longer has it
//!     }
//!     async fn delete(&self, _c: &Client, _prior: &Value, _d: &mut Diagnostics) {}
//! }
//! ```
#[cfg(test)]
mod arbitrary;
mod diagnostics;
mod error;
pub mod json;
pub mod model;
pub mod msgpack;
pub mod plan;
mod provider;
pub mod schema;
mod server;
pub mod stored_hash;
pub mod testing;
pub mod timeouts;
mod types;
mod value;

pub use async_trait::async_trait;
pub use diagnostics::{AttributePath, Diagnostic, Diagnostics, PathStep, Severity};
pub use error::Error;
pub use go_plugin::CancellationToken;
pub use provider::{ConfigureRequest, DataSource, PlanRequest, Provider, Resource};
pub use schema::{Attribute, Block, NestedBlock, Nesting, Schema};
pub use server::{routes, run, serve, GrpcProvider, Release, MAX_MESSAGE_BYTES};
pub use types::Type;
pub use value::{Number, Value};

/// Code generated from `proto/tfplugin5.proto` (package `tfplugin5`).
pub mod proto {
    #![allow(
        missing_docs,
        missing_debug_implementations,
        unreachable_pub,
        clippy::all,
        clippy::unwrap_used
    )]
    tonic::include_proto!("tfplugin5");
}
