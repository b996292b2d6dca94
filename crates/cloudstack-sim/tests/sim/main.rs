//! Integration tests of the simulator, driven over HTTP like a real client.
#![allow(clippy::unwrap_used)] // tests may panic on unexpected errors

mod support;

mod api;
mod binary;
mod concurrency;
mod faults;
mod forwarding;
mod jobs;
mod lifecycle;
mod nics;
mod persistence;
mod projects;
mod vpc;
