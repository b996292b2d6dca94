//! Go `net/rpc` framing with the ugorji msgpack `GoRpc` codec, as Packer uses it.
//!
//! Each message is `msgpack(header)` immediately followed by `msgpack(body)`; there is no
//! length prefix, so the decoder must find value boundaries itself. Request headers are
//! `{"ServiceMethod": str, "Seq": uint}`, response headers add `"Error": str` (`""` = ok, and the
//! body is then nil).
//!
//! The decoder separates "not enough bytes yet" ([`CodecError::Incomplete`]) from "these bytes
//! can never be valid" ([`CodecError::Invalid`]) and never panics on peer input (rmpv caps
//! preallocation and nesting depth).

use rmpv::Value;

/// Deepest nesting accepted. rmpv's default (1024) recursion can overflow a 2 MiB thread
/// stack in debug builds; Packer's configs nest a few levels at most.
pub const MAX_DEPTH: usize = 128;

/// Upper bound on bytes buffered for one message; beyond this the peer is misbehaving.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Why bytes could not be turned into a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// More bytes are needed before a whole value is present.
    #[error("incomplete msgpack value")]
    Incomplete,
    /// The bytes are not valid msgpack, or not a valid net/rpc header.
    #[error("invalid message: {0}")]
    Invalid(String),
}

/// Decodes one msgpack value from the front of `buf`, returning it and the bytes it used.
pub fn decode_value(buf: &[u8]) -> Result<(Value, usize), CodecError> {
    let mut cursor = std::io::Cursor::new(buf);
    match rmpv::decode::read_value_with_max_depth(&mut cursor, MAX_DEPTH) {
        Ok(v) => Ok((v, cursor.position() as usize)),
        Err(
            rmpv::decode::Error::InvalidMarkerRead(e) | rmpv::decode::Error::InvalidDataRead(e),
        ) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(CodecError::Incomplete),
        Err(e) => Err(CodecError::Invalid(e.to_string())),
    }
}

/// A net/rpc header, request or response (requests have an empty `error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// `Service.Method`, e.g. `Builder.Prepare`.
    pub service_method: String,
    /// Sequence number chosen by the caller; responses echo it.
    pub seq: u64,
    /// Error text of a response; empty for success and for requests.
    pub error: String,
}

impl Header {
    fn from_value(v: &Value) -> Result<Self, CodecError> {
        let map = v
            .as_map()
            .ok_or_else(|| CodecError::Invalid(format!("header is not a map: {v}")))?;
        let mut h = Header {
            service_method: String::new(),
            seq: 0,
            error: String::new(),
        };
        let mut have_seq = false;
        for (k, val) in map {
            match key_str(k) {
                Some("ServiceMethod") => {
                    h.service_method = value_as_string(val).unwrap_or_default()
                }
                Some("Seq") => {
                    h.seq = val
                        .as_u64()
                        .ok_or_else(|| CodecError::Invalid(format!("Seq is not a uint: {val}")))?;
                    have_seq = true;
                }
                Some("Error") => h.error = value_as_string(val).unwrap_or_default(),
                _ => {}
            }
        }
        if !have_seq {
            return Err(CodecError::Invalid("header without Seq".into()));
        }
        Ok(h)
    }

    fn request_value(&self) -> Value {
        Value::Map(vec![
            ("ServiceMethod".into(), self.service_method.as_str().into()),
            ("Seq".into(), self.seq.into()),
        ])
    }

    fn response_value(&self) -> Value {
        Value::Map(vec![
            ("ServiceMethod".into(), self.service_method.as_str().into()),
            ("Seq".into(), self.seq.into()),
            ("Error".into(), self.error.as_str().into()),
        ])
    }
}

/// Map keys arrive as msgpack str (RawToString) but accept bin too.
fn key_str(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => s.as_str(),
        Value::Binary(b) => std::str::from_utf8(b).ok(),
        _ => None,
    }
}

/// Reads a Go string that may have been sent as msgpack str or bin.
pub fn value_as_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        Value::Binary(b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

/// Looks up a string key in a msgpack map (Go struct encoded by field name).
pub fn map_get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_map()?
        .iter()
        .find(|(k, _)| key_str(k) == Some(key))
        .map(|(_, val)| val)
}

/// Tries to take one header+body message off the front of `buf`.
///
/// Returns the header, the body and how many bytes they used. `Incomplete` means "read more".
pub fn decode_message(buf: &[u8]) -> Result<(Header, Value, usize), CodecError> {
    if buf.is_empty() {
        return Err(CodecError::Incomplete);
    }
    let (hv, n1) = decode_value(buf)?;
    // Validate the header as soon as it is whole, so garbage fails fast even without a body.
    let header = Header::from_value(&hv)?;
    let (body, n2) = decode_value(&buf[n1..])?;
    Ok((header, body, n1 + n2))
}

fn encode_pair(header: Value, body: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    // Writing into a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut out, &header);
    let _ = rmpv::encode::write_value(&mut out, body);
    out
}

/// Bytes of a request (`{"ServiceMethod","Seq"}` then the argument).
pub fn encode_request(service_method: &str, seq: u64, body: &Value) -> Vec<u8> {
    let h = Header {
        service_method: service_method.to_owned(),
        seq,
        error: String::new(),
    };
    encode_pair(h.request_value(), body)
}

/// Bytes of a response; when `error` is non-empty the body is sent as nil like Go does.
pub fn encode_response(service_method: &str, seq: u64, error: &str, body: &Value) -> Vec<u8> {
    let h = Header {
        service_method: service_method.to_owned(),
        seq,
        error: error.to_owned(),
    };
    let body = if error.is_empty() { body } else { &Value::Nil };
    encode_pair(h.response_value(), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The start of a real Builder.Prepare request captured from Packer 1.6.6
    /// (`protocols.md` A4), completed with a two-element Configs array.
    fn prepare_fixture() -> Vec<u8> {
        let mut b = vec![0x82, 0xad];
        b.extend_from_slice(b"ServiceMethod");
        b.push(0xaf);
        b.extend_from_slice(b"Builder.Prepare");
        b.push(0xa3);
        b.extend_from_slice(b"Seq");
        b.push(0x00);
        b.extend_from_slice(&[0x81, 0xa7]);
        b.extend_from_slice(b"Configs");
        b.push(0x92);
        // {"api_url": "http://x"}
        b.push(0x81);
        b.push(0xa7);
        b.extend_from_slice(b"api_url");
        b.push(0xa8);
        b.extend_from_slice(b"http://x");
        // {"packer_debug": false}
        b.push(0x81);
        b.push(0xac);
        b.extend_from_slice(b"packer_debug");
        b.push(0xc2);
        b
    }

    #[test]
    fn decodes_real_prepare_request() {
        let bytes = prepare_fixture();
        let (h, body, used) = decode_message(&bytes).unwrap();
        assert_eq!(h.service_method, "Builder.Prepare");
        assert_eq!(h.seq, 0);
        assert_eq!(used, bytes.len());
        let configs = map_get(&body, "Configs").unwrap().as_array().unwrap();
        assert_eq!(configs.len(), 2);
        assert_eq!(
            map_get(&configs[0], "api_url").and_then(value_as_string),
            Some("http://x".to_string())
        );
    }

    #[test]
    fn every_strict_prefix_is_incomplete() {
        let bytes = prepare_fixture();
        for n in 0..bytes.len() {
            assert_eq!(
                decode_message(&bytes[..n]).unwrap_err(),
                CodecError::Incomplete,
                "prefix of {n} bytes"
            );
        }
    }

    #[test]
    fn two_messages_back_to_back() {
        let mut bytes = encode_request("Ui.Say", 3, &"hello".into());
        bytes.extend(encode_request("Ui.Message", 4, &"there".into()));
        let (h1, b1, n1) = decode_message(&bytes).unwrap();
        let (h2, b2, n2) = decode_message(&bytes[n1..]).unwrap();
        assert_eq!((h1.service_method.as_str(), h1.seq), ("Ui.Say", 3));
        assert_eq!(b1.as_str(), Some("hello"));
        assert_eq!((h2.service_method.as_str(), h2.seq), ("Ui.Message", 4));
        assert_eq!(b2.as_str(), Some("there"));
        assert_eq!(n1 + n2, bytes.len());
    }

    #[test]
    fn response_bytes_match_go_layout() {
        let bytes = encode_response("Builder.Run", 1, "", &Value::from(7u32));
        // fixmap(3) "ServiceMethod" ... "Seq" 1 "Error" "" then positive fixint 7
        assert_eq!(bytes[0], 0x83);
        assert_eq!(*bytes.last().unwrap(), 0x07);
        let (h, body, _) = decode_message(&bytes).unwrap();
        assert_eq!(h.error, "");
        assert_eq!(body.as_u64(), Some(7));
        let err = encode_response("Builder.Run", 2, "boom", &Value::from(7u32));
        let (h, body, _) = decode_message(&err).unwrap();
        assert_eq!(h.error, "boom");
        assert!(body.is_nil(), "error responses carry a nil body");
    }

    #[test]
    fn garbage_is_invalid_not_incomplete() {
        // 0xc1 is the one msgpack marker that is never used.
        assert!(matches!(
            decode_message(&[0xc1, 0x00]),
            Err(CodecError::Invalid(_))
        ));
        // A header that is an int, not a map.
        assert!(matches!(
            decode_message(&[0x05, 0xc0]),
            Err(CodecError::Invalid(_))
        ));
        // A map header without Seq.
        let mut b = vec![0x81, 0xa1, b'x', 0x01];
        b.push(0xc0);
        assert!(matches!(decode_message(&b), Err(CodecError::Invalid(_))));
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        /// Any msgpack value Go's codec could send (NaN aside: it never equals itself).
        fn mp_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Nil),
                any::<bool>().prop_map(Value::Boolean),
                any::<i64>().prop_map(Value::from),
                any::<u64>().prop_map(Value::from),
                any::<f64>()
                    .prop_filter("NaN", |f| !f.is_nan())
                    .prop_map(Value::F64),
                "\\PC{0,16}".prop_map(Value::from),
                prop::collection::vec(any::<u8>(), 0..16).prop_map(Value::Binary),
            ];
            leaf.prop_recursive(4, 32, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    prop::collection::vec(("[A-Za-z]{1,8}".prop_map(Value::from), inner), 0..4)
                        .prop_map(Value::Map),
                ]
            })
        }

        fn method() -> impl Strategy<Value = String> {
            "[A-Z][a-z]{0,8}\\.[A-Z][a-z]{0,8}"
        }

        proptest! {
            /// A request comes back as sent, using exactly its bytes.
            #[test]
            fn request_round_trip(m in method(), seq in any::<u64>(), body in mp_value()) {
                let bytes = encode_request(&m, seq, &body);
                let (h, b, used) = decode_message(&bytes).expect("decodes");
                prop_assert_eq!((h.service_method, h.seq, h.error.as_str()), (m, seq, ""));
                prop_assert_eq!(b, body);
                prop_assert_eq!(used, bytes.len());
            }

            /// A response comes back as sent; an error response carries a nil body.
            #[test]
            fn response_round_trip(m in method(), seq in any::<u64>(), error in "\\PC{0,20}", body in mp_value()) {
                let bytes = encode_response(&m, seq, &error, &body);
                let (h, b, used) = decode_message(&bytes).expect("decodes");
                prop_assert_eq!((&h.service_method, h.seq, &h.error), (&m, seq, &error));
                prop_assert_eq!(b, if error.is_empty() { body } else { Value::Nil });
                prop_assert_eq!(used, bytes.len());
            }

            /// Messages back to back split at their boundaries; every strict prefix of a
            /// message is `Incomplete` (read more), never `Invalid`.
            #[test]
            fn framing(a in mp_value(), b in mp_value(), cut in any::<prop::sample::Index>()) {
                let first = encode_request("Ui.Say", 1, &a);
                let mut both = first.clone();
                both.extend(encode_request("Ui.Message", 2, &b));
                let (_, got_a, n) = decode_message(&both).expect("first");
                let (_, got_b, m) = decode_message(&both[n..]).expect("second");
                prop_assert_eq!((got_a, got_b, n, n + m), (a, b, first.len(), both.len()));
                let cut = cut.index(first.len());
                prop_assert_eq!(decode_message(&first[..cut]).unwrap_err(), CodecError::Incomplete);
            }

            /// Random bytes: a message, `Incomplete` or `Invalid`, never a panic, and a message
            /// never claims more bytes than there are.
            #[test]
            fn garbage_never_panics(buf in prop::collection::vec(any::<u8>(), 0..96)) {
                if let Ok((_, _, used)) = decode_message(&buf) {
                    prop_assert!(used <= buf.len());
                }
            }

            /// A real request with bytes changed: same guarantee.
            #[test]
            fn mutations_never_panic(
                flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..5),
            ) {
                let mut buf = super::prepare_fixture();
                for (at, byte) in flips {
                    let i = at.index(buf.len());
                    buf[i] = byte;
                }
                if let Ok((_, _, used)) = decode_message(&buf) {
                    prop_assert!(used <= buf.len());
                }
            }
        }
    }

    #[test]
    fn huge_declared_lengths_do_not_allocate_or_panic() {
        // A header map, then a bin32 claiming 4 GiB but carrying 3 bytes.
        let mut b = encode_request("X.Y", 0, &Value::Nil);
        b.pop();
        b.extend_from_slice(&[0xc6, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
        assert_eq!(decode_message(&b).unwrap_err(), CodecError::Incomplete);
        // Deep nesting hits rmpv's depth limit instead of the stack.
        let deep = vec![0x91u8; 100_000];
        assert!(decode_value(&deep).is_err());
    }
}
