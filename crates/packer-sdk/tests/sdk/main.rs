//! Integration tests for packer-sdk: a scripted Packer core over in-memory pipes, and the
//! real Packer 1.6.6 driving the fixture builder (skipped with a message if `packer` is
//! not installed).

// Test code may unwrap (common.md); helpers outside #[test] fns need the allow explicitly.
#![allow(clippy::unwrap_used)]

mod real_packer;
mod scripted_core;
