//! CloudStack's JSON envelope: `{"<command>response": {...}}` for answers and the same shape
//! carrying `errorcode`/`cserrorcode`/`errortext` for errors (often `errorresponse`).
//! Never panics on input: malformed or truncated JSON is an [`Error::Decode`].

use serde_json::Value;

use crate::error::{Error, Result};

/// Unwraps the envelope of one answer. `status` is the HTTP status, `body` the raw bytes.
/// Returns the inner object (an empty object for e.g. `{"listzonesresponse": {}}`).
pub fn unwrap_envelope(command: &str, status: u16, body: &[u8]) -> Result<Value> {
    let success = (200..300).contains(&status);
    let parsed: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        // A JSON answer cut short is garbled whatever its status (CloudStack sends its
        // 431/530 errors as JSON too): the answer is lost, not an HTTP error of its own.
        Err(e) if success || body.trim_ascii_start().starts_with(b"{") => {
            return Err(Error::Decode {
                command: command.to_string(),
                message: format!("{e} (HTTP {status}, body starts {:?})", snippet(body)),
            })
        }
        Err(_) => return Err(http_error(command, status, body)),
    };
    let Value::Object(map) = parsed else {
        return Err(if success {
            Error::Decode {
                command: command.to_string(),
                message: "answer is not a JSON object".into(),
            }
        } else {
            http_error(command, status, body)
        });
    };
    let expected = format!("{}response", command.to_ascii_lowercase());
    let mut candidates = map
        .iter()
        .filter(|(k, _)| k.to_ascii_lowercase().ends_with("response"));
    let first = candidates.next();
    let chosen = match map.iter().find(|(k, _)| k.eq_ignore_ascii_case(&expected)) {
        Some(kv) => Some(kv),
        None => first,
    };
    let Some((key, inner)) = chosen else {
        return Err(if success {
            Error::Decode {
                command: command.to_string(),
                message: format!(
                    "no '*response' key in answer (body starts {:?})",
                    snippet(body)
                ),
            }
        } else {
            http_error(command, status, body)
        });
    };
    if let Some(err) = api_error(command, status, key, inner) {
        return Err(err);
    }
    if !success {
        return Err(http_error(command, status, body));
    }
    match inner {
        Value::Object(_) => Ok(inner.clone()),
        // Some 4.x answers wrap an empty list/array or null; treat as empty.
        Value::Null | Value::Array(_) => Ok(Value::Object(Default::default())),
        other => Err(Error::Decode {
            command: command.to_string(),
            message: format!("'{key}' is not an object: {other}"),
        }),
    }
}

/// Extracts CloudStack's error triple if `inner` carries one.
fn api_error(command: &str, status: u16, key: &str, inner: &Value) -> Option<Error> {
    let code = inner.get("errorcode").and_then(as_u64);
    if code.is_none() && !key.eq_ignore_ascii_case("errorresponse") {
        return None;
    }
    let text = inner
        .get("errortext")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    Some(Error::Api {
        command: command.to_string(),
        http_status: status,
        error_code: code.and_then(|c| u16::try_from(c).ok()).unwrap_or(status),
        cs_error_code: inner
            .get("cserrorcode")
            .and_then(as_u64)
            .and_then(|c| u32::try_from(c).ok())
            .unwrap_or(0),
        text,
    })
}

/// Numbers that CloudStack sometimes sends as strings.
pub(crate) fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn http_error(command: &str, status: u16, body: &[u8]) -> Error {
    Error::Http {
        command: command.to_string(),
        status,
        body: snippet(body),
    }
}

fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    s.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_envelope_and_unknown_fields() {
        let v = unwrap_envelope(
            "listZones",
            200,
            br#"{"listzonesresponse":{"count":1,"zone":[{"id":"z","name":"zone001","x":1}]}}"#,
        )
        .unwrap();
        assert_eq!(v["zone"][0]["name"], "zone001");
        let v = unwrap_envelope("listZones", 200, br#"{"listzonesresponse":{}}"#).unwrap();
        assert!(v.as_object().unwrap().is_empty());
        // The envelope name is not trusted to match the command: any single `*response` key.
        let v = unwrap_envelope(
            "registerSSHKeyPair",
            200,
            br#"{"otherkeyresponse":{"keypair":{}}}"#,
        )
        .unwrap();
        assert!(v.get("keypair").is_some());
    }

    #[test]
    fn error_envelope_is_typed() {
        let e = unwrap_envelope(
            "deployVirtualMachine",
            431,
            br#"{"deployvirtualmachineresponse":{"uuidList":[],"errorcode":431,"cserrorcode":9999,"errortext":"Unable to find zone"}}"#,
        )
        .unwrap_err();
        match e {
            Error::Api {
                command,
                http_status,
                error_code,
                cs_error_code,
                text,
            } => {
                assert_eq!(command, "deployVirtualMachine");
                assert_eq!((http_status, error_code, cs_error_code), (431, 431, 9999));
                assert_eq!(text, "Unable to find zone");
            }
            other => panic!("unexpected {other:?}"),
        }
        let e = unwrap_envelope(
            "listZones",
            401,
            br#"{"errorresponse":{"errorcode":"401","errortext":"unable to verify user credentials and/or request signature"}}"#,
        )
        .unwrap_err();
        assert!(e.is_auth());
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let body = br#"{"listvirtualmachinesresponse":{"count":1,"virtualmachine":[{"id":"v","nic":[{"ipaddress":"10.0.0.1"}],"state":"Running"}]}}"#;
        for cut in 0..body.len() {
            let r = unwrap_envelope("listVirtualMachines", 200, &body[..cut]);
            assert!(r.is_err(), "truncated at {cut} parsed");
        }
        assert!(unwrap_envelope("listVirtualMachines", 200, body).is_ok());
    }

    #[test]
    fn garbage_never_panics() {
        let bodies: [&[u8]; 7] = [
            b"",
            b"{",
            br#"{"listzonesresponse":{"count":1,"zone":[{"id""#,
            b"[]",
            b"\"x\"",
            b"{\"nothing\":1}",
            b"\xff\xfe",
        ];
        for body in bodies {
            let e = unwrap_envelope("listZones", 200, body).unwrap_err();
            assert!(matches!(e, Error::Decode { .. }), "{e:?}");
        }
        let e = unwrap_envelope("listZones", 503, b"<html>Service Unavailable</html>").unwrap_err();
        assert!(matches!(e, Error::Http { status: 503, .. }));
        assert!(e.is_retryable());
        // A proxy's own 4xx page is final; CloudStack's JSON error cut short is a lost answer.
        let e = unwrap_envelope("listZones", 404, b"<html>Not Found</html>").unwrap_err();
        assert!(matches!(e, Error::Http { status: 404, .. }) && !e.is_retryable());
        let e = unwrap_envelope(
            "deleteNetwork",
            431,
            br#" {"deletenetworkresponse":{"cserrorcode":9999,"errorcode":431,"errortext":"Unable"#,
        )
        .unwrap_err();
        assert!(matches!(e, Error::Decode { .. }), "{e:?}");
        assert!(e.is_retryable() && e.to_string().contains("HTTP 431"));
    }
}
