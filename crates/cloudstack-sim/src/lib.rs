//! An in-memory Apache CloudStack management server for demos and tests.
//!
//! It answers `/client/api` like a CloudStack 4.x management server for the calls the
//! Packer builder and Terraform provider make: same envelopes, HTTP statuses, error codes
//! and texts, signature checks (both versions), async jobs, lifecycles. It shares no code
//! with the `cloudstack` client crate on purpose, so it catches the client's mistakes.
//!
//! # Layout
//! - [`server`]: HTTP (axum over our own hyper accept loop), [`Simulator`], [`run`].
//! - [`auth`]: signature verification (CloudStack's `ApiServer.verifyRequest` rules).
//! - [`state`]: the world (typed objects, atomic persistence); [`seed`]: the default world.
//! - `handlers/*`: one file per command family, dispatched from a table.
//! - [`jobs`]: finishing async jobs; [`faults`]: seeded fault injection;
//!   [`throttle`]: `--api-rate-limit`, CloudStack's API throttling;
//!   [`forward`]: real TCP port forwarding gated by firewall rules; [`stats`]: `/sim/stats`.
//! - [`sandbox`]: `--vm-sandbox`, VMs that take real SSH provisioning in per-VM namespaces.
//!
//! # Use from tests
//! ```no_run
//! # async fn demo() -> Result<(), cloudstack_sim::Error> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| cloudstack_sim::Error::Io { context: "bind".into(), source: e })?;
//! let url = format!("http://{}/client/api", listener.local_addr().map_err(|e| cloudstack_sim::Error::Io { context: "addr".into(), source: e })?);
//! let sim = cloudstack_sim::Simulator::new(cloudstack_sim::Options::default())?;
//! let (tx, rx) = tokio::sync::oneshot::channel::<()>();
//! tokio::spawn(cloudstack_sim::run(listener, sim, async { let _ = rx.await; }));
//! // ... talk to `url` with key "mesostack-api-key" / secret "mesostack-secret-key" ...
//! let _ = tx.send(());
//! # let _ = url; Ok(()) }
//! ```

pub mod auth;
pub mod cidr;
pub mod config;
pub mod error;
pub mod faults;
pub mod forward;
mod handlers;
pub mod jobs;
pub mod params;
pub mod placement;
pub mod render;
pub mod sandbox;
pub mod seed;
pub mod server;
pub mod state;
pub mod stats;
pub mod throttle;
pub mod tls;

pub use config::{JobLatency, Options, DEFAULT_API_KEY, DEFAULT_SECRET_KEY};
pub use error::{ApiError, Error};
pub use server::{run, run_with_tls, Simulator};
pub use state::World;
