//! CloudStack API client shared by the mesostack Packer builder and Terraform provider.
//!
//! # Layout
//!
//! No-I/O core (pure functions and types, testable without a network):
//! - [`sign`]: CloudStack's request signing (Java `URLEncoder` rules, HMAC-SHA1, version 3
//!   `expires`); the time is a parameter.
//! - [`params`]: [`Params`], the name → value map a command takes.
//! - [`response`]: the `<command>response` envelope and error answers.
//! - [`model`]: typed, lenient CloudStack objects (VMs, templates, networks, rules, ...).
//! - [`error`]: [`Error`], with `is_retryable()` / `may_have_applied()`.
//! - [`config`]: [`Config`] from code, `CLOUDSTACK_*` variables or a cloudmonkey INI profile.
//!
//! Client (async, over the [`transport::Transport`] seam; reqwest + rustls by default):
//! - [`client`]: [`Client`], one command with retries for transient failures only.
//! - [`job`]: one async-job watcher per client: every pending job asked at once with
//!   `listAsyncJobs`, per-job `queryAsyncJobResult` only as a fallback.
//! - [`list`]: paging through list calls.
//! - [`resolve`]: name-or-id resolution with candidate lists in errors.
//! - [`recovery`]: creates that are never duplicated when the network fails, and whose ids
//!   are never lost once CloudStack accepted them ([`AcceptedLog`]).
//! - [`api`]: typed calls used by the builder and the provider, one module per command family
//!   (VMs, templates, addresses and their rules, key pairs, networks, catalogue, tags, and the
//!   public [`affinity`], [`project`], [`security_group`], [`user_data`], [`volume`]).
//!
//! Nothing here knows about Packer or Terraform, and nothing is shared with `cloudstack-sim`
//! (sharing would let both be wrong in the same way).
//!
//! Secrets: the secret key, signatures and signed queries are never logged or printed
//! (`Debug` impls redact them).

pub mod api;
pub mod client;
pub mod config;
pub mod error;
pub mod job;
pub mod list;
pub mod model;
pub mod params;
pub mod recovery;
pub mod resolve;
pub mod response;
pub mod sign;
pub mod transport;

pub use api::{affinity, project, security_group, user_data, volume};
pub use client::{Client, CommandKind};
pub use config::{Config, RetryPolicy};
pub use error::{Error, Result};
pub use params::Params;
pub use recovery::{Accepted, AcceptedLog};
pub use resolve::Resource;
