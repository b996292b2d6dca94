//! Property tests of CloudStack answer parsing: the envelope (`response::unwrap_envelope`) and
//! the lenient typed models, against generated answers, truncations and garbage.

use cloudstack::{model, response::unwrap_envelope, Error};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Any JSON value of a few levels.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,10}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An answer's inner object: anything but an error (no `errorcode`).
fn inner_object() -> impl Strategy<Value = Value> {
    prop::collection::btree_map("[a-z]{1,10}", any_json(), 0..5).prop_map(|mut m| {
        m.remove("errorcode");
        Value::Object(m.into_iter().collect())
    })
}

fn command() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "listZones",
        "deployVirtualMachine",
        "queryAsyncJobResult",
        "listVirtualMachines",
        "createSSHKeyPair",
    ])
}

proptest! {
    /// A success answer gives back its inner object, whatever it holds.
    #[test]
    fn success_round_trip(cmd in command(), inner in inner_object()) {
        let key = format!("{}response", cmd.to_ascii_lowercase());
        let body = serde_json::to_vec(&json!({ key: inner.clone() })).expect("JSON");
        prop_assert_eq!(unwrap_envelope(cmd, 200, &body).expect("a success answer"), inner);
    }

    /// An error answer is a typed API error with CloudStack's codes and text unchanged,
    /// under the command's key or `errorresponse`, with codes as numbers or strings.
    #[test]
    fn error_round_trip(
        cmd in command(),
        code in 400u16..600,
        cs in 0u32..10_000,
        text in "\\PC{0,40}",
        as_strings in any::<bool>(),
        generic_key in any::<bool>(),
    ) {
        let key = if generic_key { "errorresponse".to_string() } else { format!("{}response", cmd.to_ascii_lowercase()) };
        let (c, s) = if as_strings {
            (json!(code.to_string()), json!(cs.to_string()))
        } else {
            (json!(code), json!(cs))
        };
        let body = serde_json::to_vec(&json!({ key: {"errorcode": c, "cserrorcode": s, "errortext": text} })).expect("JSON");
        match unwrap_envelope(cmd, code, &body) {
            Err(Error::Api { command, http_status, error_code, cs_error_code, text: t }) => {
                prop_assert_eq!(command, cmd);
                prop_assert_eq!((http_status, error_code, cs_error_code), (code, code, cs));
                prop_assert_eq!(t, text);
            }
            other => prop_assert!(false, "not an API error: {:?}", other),
        }
    }

    /// Every truncation of a success answer is a decode error (retried or recovered by the
    /// caller), never a value and never a panic.
    #[test]
    fn truncations_are_decode_errors(cmd in command(), inner in inner_object(), cut in any::<prop::sample::Index>()) {
        let key = format!("{}response", cmd.to_ascii_lowercase());
        let body = serde_json::to_vec(&json!({ key: inner })).expect("JSON");
        let cut = cut.index(body.len());
        let r = unwrap_envelope(cmd, 200, &body[..cut]);
        prop_assert!(matches!(r, Err(Error::Decode { .. })), "{:?}", r);
    }

    /// Any bytes with any status: an answer object or an error, never a panic.
    #[test]
    fn garbage_never_panics(status in 100u16..600, body in prop::collection::vec(any::<u8>(), 0..128)) {
        if let Ok(v) = unwrap_envelope("listZones", status, &body) {
            prop_assert!(v.is_object());
        }
    }

    /// JSON of any shape as an answer: same guarantee.
    #[test]
    fn any_json_answer_never_panics(status in prop::sample::select(vec![200u16, 431, 503]), answer in any_json()) {
        let body = serde_json::to_vec(&answer).expect("JSON");
        if let Ok(v) = unwrap_envelope("listZones", status, &body) {
            prop_assert!(v.is_object());
        }
    }

    /// The typed models take CloudStack's numbers-as-strings and strings-as-numbers, and
    /// reject (never panic on) anything else.
    #[test]
    fn models_are_lenient_and_total(
        id in prop_oneof!["[0-9a-f-]{1,36}".prop_map(Value::from), any::<u32>().prop_map(Value::from)],
        cpus in prop_oneof![any::<u16>().prop_map(Value::from), any::<u16>().prop_map(|n| Value::from(n.to_string()))],
        extra in any_json(),
    ) {
        let vm: model::VirtualMachine = serde_json::from_value(json!({
            "id": id.clone(), "cpunumber": cpus.clone(), "name": "vm", "zzunknown": extra.clone()
        }))
        .expect("a lenient VM");
        let id_text = match &id { Value::String(s) => s.clone(), other => other.to_string() };
        prop_assert_eq!(vm.id, id_text);
        let n = match &cpus { Value::String(s) => s.parse::<i64>().ok(), v => v.as_i64() };
        prop_assert_eq!(vm.cpunumber, n);
        let _ = serde_json::from_value::<model::VirtualMachine>(extra);
    }
}
