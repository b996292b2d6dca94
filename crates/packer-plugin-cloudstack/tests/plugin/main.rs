//! Integration tests of the plugin binaries: process behaviour (cookie, `describe`, both
//! handshakes) and the real Packer 1.6.6 validating templates with our builder.

// Test code may unwrap (common.md); helpers outside #[test] fns need the allow explicitly.
#![allow(clippy::unwrap_used)]

mod process;
mod real_packer;
