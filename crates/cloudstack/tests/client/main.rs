//! Integration tests of the `cloudstack` client, one binary, modules by behaviour.

// Test helpers outside #[test] functions panic on broken invariants by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod http;
mod jobs;
mod lists;
mod logging;
mod parsing;
mod retries;
mod signing;
