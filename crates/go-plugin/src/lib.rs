//! Server side of HashiCorp's go-plugin protocol (gRPC flavour), as spoken
//! by Terraform to its providers. Nothing here knows Terraform's resource
//! protocol or CloudStack: an application hands us `tonic` routes and we
//! do everything around them.
//!
//! # Layout
//! - [`handshake`]: magic cookie, protocol negotiation, handshake line.
//! - [`tls`]: AutoMTLS (ephemeral server cert, exact client-cert verifier,
//!   rustls with aws-lc-rs so Terraform's P-521 certificate verifies).
//! - [`server`]: unix socket, gRPC server, go-plugin's health / controller /
//!   stdio / broker services, graceful shutdown.
//! - [`logging`]: hclog-style JSON lines on stderr.
//! - [`proto`]: generated code for go-plugin's own services.
//!
//! # Example
//! ```no_run
//! # async fn run(routes: tonic::service::Routes) -> Result<(), go_plugin::Error> {
//! go_plugin::logging::init(go_plugin::logging::level_from_env(&[
//!     std::env::var("TF_LOG_PROVIDER").ok(),
//!     std::env::var("TF_LOG").ok(),
//! ]));
//! go_plugin::serve_from_env(&go_plugin::TERRAFORM_PROTOCOL5, routes).await
//! # }
//! ```

mod error;
pub mod handshake;
pub mod logging;
pub mod server;
mod services;
pub mod tls;

pub use error::Error;
pub use handshake::{HandshakeConfig, TERRAFORM_PROTOCOL5};
pub use server::{serve, serve_from_env, ServeOptions, HEALTH_SERVICE_NAME};
pub use tokio_util::sync::CancellationToken;

/// Generated code for go-plugin's `plugin` package (controller, broker, stdio).
pub mod proto {
    #![allow(
        missing_docs,
        missing_debug_implementations,
        unreachable_pub,
        clippy::all,
        clippy::unwrap_used
    )]
    tonic::include_proto!("plugin");
}
