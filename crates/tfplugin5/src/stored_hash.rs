//! Attributes kept in plan and state as the SHA1 hex of their configured text
//! ([`crate::Attribute::stored_as_sha1`]), as the Go SDK's `StateFunc` keeps `user_data`: the
//! secret never reaches the plan, the state or Terraform's output, and a state written by the
//! Go provider (already hashed) plans no change.
//!
//! The server hashes the proposed value at plan time, hands the resource the configured text
//! at apply time ([`reveal`]), and hashes what the resource returns ([`conceal`]). Terraform
//! accepts a planned value that differs from the configuration only from the legacy SDK, so
//! responses for such resources carry `legacy_type_system` ([`any`]).

use sha1::{Digest as _, Sha1};

use crate::{Block, Value};

/// The SHA1 of `text` as 40 lowercase hex digits (Go's `hex.EncodeToString(sha1.Sum(..))`).
pub fn sha1_hex(text: &str) -> String {
    Sha1::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn is_sha1_hex(text: &str) -> bool {
    text.len() == 40
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn hashed(block: &Block) -> impl Iterator<Item = &str> {
    block
        .attributes
        .iter()
        .filter(|a| a.stored_as_sha1)
        .map(|a| a.name.as_str())
}

/// Whether `block` has any hashed attribute (its responses need `legacy_type_system`).
pub fn any(block: &Block) -> bool {
    hashed(block).next().is_some()
}

/// Replaces each hashed attribute's text by its SHA1 (plan time: `value` is the proposed new
/// state, which holds the configured text).
pub fn hash_config(block: &Block, value: &Value) -> Value {
    let mut out = value.clone();
    for name in hashed(block) {
        if let Some(text) = value.get_str(name) {
            out.set_attr(name, sha1_hex(text));
        }
    }
    out
}

/// The planned value with each hashed attribute's SHA1 replaced by the configured text it
/// stands for (apply time), so the resource sends what the user wrote.
pub fn reveal(block: &Block, planned: &Value, config: &Value) -> Value {
    let mut out = planned.clone();
    for name in hashed(block) {
        if let (Some(hash), Some(text)) = (planned.get_str(name), config.get_str(name)) {
            if sha1_hex(text) == hash {
                out.set_attr(name, text);
            }
        }
    }
    out
}

/// The resource's new state with each hashed attribute as its SHA1. `revealed` is what the
/// resource was given: text it echoes back becomes the planned hash; any other text is
/// hashed unless it already is a SHA1 (a state written by the Go provider, or upgraded).
pub fn conceal(block: &Block, state: &Value, revealed: &Value, planned: &Value) -> Value {
    let mut out = state.clone();
    for name in hashed(block) {
        let Some(text) = state.get_str(name) else {
            continue;
        };
        if revealed.get_str(name) == Some(text) {
            if let Some(hash) = planned.get_str(name) {
                out.set_attr(name, hash);
                continue;
            }
        }
        if !is_sha1_hex(text) {
            out.set_attr(name, sha1_hex(text));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Attribute, Type};

    fn block() -> Block {
        Block::new()
            .attribute(Attribute::computed("id", Type::String))
            .attribute(Attribute::optional("user_data", Type::String).stored_as_sha1())
            .attribute(Attribute::optional("name", Type::String))
    }

    #[test]
    fn sha1_matches_go() {
        assert_eq!(sha1_hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    }

    #[test]
    fn plan_hashes_apply_reveals_state_conceals() {
        let b = block();
        assert!(any(&b));
        let config = Value::object([
            ("id", Value::Null),
            ("user_data", Value::from("password: hunter2")),
            ("name", Value::from("vm")),
        ]);
        let planned = hash_config(&b, &config);
        let hash = sha1_hex("password: hunter2");
        assert_eq!(planned.get_str("user_data"), Some(hash.as_str()));
        assert_eq!(planned.get_str("name"), Some("vm"));
        let given = reveal(&b, &planned, &config);
        assert_eq!(given.get_str("user_data"), Some("password: hunter2"));
        let mut state = given.clone();
        state.set_attr("id", "vm-1");
        let stored = conceal(&b, &state, &given, &planned);
        assert_eq!(stored.get_str("user_data"), Some(hash.as_str()));
        assert_eq!(stored.get_str("id"), Some("vm-1"));
    }

    #[test]
    fn old_plaintext_states_are_hashed_and_go_hashes_kept() {
        let b = block();
        let old = Value::object([("user_data", "secret")]);
        let upgraded = conceal(&b, &old, &Value::Null, &Value::Null);
        assert_eq!(
            upgraded.get_str("user_data"),
            Some(sha1_hex("secret").as_str())
        );
        let go = Value::object([("user_data", sha1_hex("secret"))]);
        assert_eq!(conceal(&b, &go, &Value::Null, &Value::Null), go);
        assert!(!any(
            &Block::new().attribute(Attribute::optional("x", Type::String))
        ));
    }

    #[test]
    fn reveal_keeps_a_hash_it_cannot_explain() {
        let b = block();
        let planned = Value::object([("user_data", sha1_hex("a"))]);
        let config = Value::object([("user_data", "b")]);
        assert_eq!(reveal(&b, &planned, &config), planned);
    }
}
