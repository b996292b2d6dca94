//! Request signing exactly as CloudStack's management server verifies it. No I/O, no clock.
//!
//! The server (`ApiServer.verifyRequest`) takes every parameter except `signature`, sorts the
//! names with Java's `Collections.sort` (exact, case-sensitive UTF-16 order), encodes each value
//! with `URLEncoder.encode(value, "UTF-8").replaceAll("\\+", "%20")`, joins `name=value` pairs
//! with `&`, lower-cases the whole string, computes HMAC-SHA1 with the user's secret key and
//! compares the standard base64 of the digest with the `signature` parameter. Names are not
//! encoded in the signed string. Version 3 adds `signatureversion=3` and an `expires` timestamp
//! (`yyyy-MM-dd'T'HH:mm:ssZ`, e.g. `2026-11-25T15:00:00+0000`) after which the server rejects
//! the request. The time for `expires` is an argument here so signing stays pure and testable.

use std::time::SystemTime;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::params::Params;

/// Percent-encodes `s` the way Java's `java.net.URLEncoder.encode(s, "UTF-8")` does, then
/// replaces `+` (an encoded space) by `%20`, as CloudStack does before signing.
///
/// Written by hand because no RFC 3986 encoder matches: `URLEncoder` keeps only
/// `A-Z a-z 0-9 . - * _` unescaped (RFC 3986 escapes `*` but keeps `~`; URLEncoder escapes
/// `~` as `%7E`; `'` is `%27` here while some encoders keep it). Everything else becomes `%XX`
/// (upper-case hex) of its UTF-8 bytes.
pub fn java_url_encode(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len() * 3);
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                out.push(b as char)
            }
            b' ' => out.push_str("%20"),
            _ => {
                out.push('%');
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 0x0f) as usize] as char);
            }
        }
    }
    out
}

/// The string CloudStack signs: all parameters but `signature`, sorted by exact name, values
/// Java-URL-encoded, joined with `&`, lower-cased.
pub fn canonical_string<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut pairs: Vec<(&str, &str)> = params
        .into_iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("signature"))
        .collect();
    // Java's String.compareTo orders by UTF-16 code units; for the ASCII names CloudStack uses
    // that equals byte order. Sort stably by name only, like Collections.sort on the names.
    pairs.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
    let joined = pairs
        .iter()
        .map(|(n, v)| format!("{n}={}", java_url_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    // Java's toLowerCase() lower-cases non-ASCII letters too, but after encoding only ASCII is
    // left (names are ASCII in practice), so ASCII lower-casing is exact.
    joined.to_ascii_lowercase()
}

/// HMAC-SHA1 of [`canonical_string`] with `secret_key`, standard base64 (not yet URL-encoded).
pub fn signature<'a>(
    secret_key: &str,
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> String {
    let canonical = canonical_string(params);
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha1>::new_from_slice(secret_key.as_bytes()) {
        Ok(m) => m,
        Err(_) => unreachable_hmac(),
    };
    mac.update(canonical.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cold]
fn unreachable_hmac() -> ! {
    // `Hmac::new_from_slice` only errors for fixed-size-key MACs; HMAC takes any key length.
    panic!("HMAC-SHA1 rejected a key, which HMAC never does")
}

/// Formats `t` as CloudStack's `expires` value, `yyyy-MM-dd'T'HH:mm:ss+0000` (UTC).
pub fn format_expires(t: SystemTime) -> String {
    let dt = time::OffsetDateTime::from(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+0000",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

/// What to sign: the credentials and, for signature version 3, the expiry time.
#[derive(Clone, Copy)]
pub struct SigningParams<'a> {
    /// The user's API key, sent as `apikey`.
    pub api_key: &'a str,
    /// The user's secret key (never sent).
    pub secret_key: &'a str,
    /// When set, adds `signatureversion=3` and `expires=<this time>`.
    pub expires: Option<SystemTime>,
}

impl std::fmt::Debug for SigningParams<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningParams")
            .field("api_key", &self.api_key)
            .field("secret_key", &"<redacted>")
            .field("expires", &self.expires)
            .finish()
    }
}

/// Builds the full, signed, URL-encoded query string for `command` with `params`:
/// `command`, `response=json`, `apikey`, optional `signatureversion`/`expires`, the caller's
/// parameters, then `signature`. Names and values are encoded with [`java_url_encode`], which
/// every server-side decoder accepts.
pub fn signed_query(command: &str, params: &Params, signing: &SigningParams<'_>) -> String {
    let mut all = Params::new();
    all.set("command", command);
    for (n, v) in params.iter() {
        all.set(n, v);
    }
    // The command argument wins over a stray `command` parameter.
    all.set("command", command);
    all.set("response", "json");
    all.set("apikey", signing.api_key);
    if let Some(t) = signing.expires {
        all.set("signatureversion", "3");
        all.set("expires", format_expires(t));
    }
    all.remove("signature");
    let sig = signature(signing.secret_key, all.iter());
    let mut parts: Vec<String> = all
        .iter()
        .map(|(n, v)| format!("{}={}", java_url_encode(n), java_url_encode(v)))
        .collect();
    parts.push(format!("signature={}", java_url_encode(&sig)));
    parts.join("&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn java_encoder_differs_from_rfc3986_where_urlencoder_does() {
        // Expected values follow the JDK's java.net.URLEncoder documentation: only
        // alphanumerics and ". - * _" stay; space would be "+", CloudStack rewrites to %20.
        assert_eq!(java_url_encode("a b"), "a%20b");
        assert_eq!(java_url_encode("*"), "*");
        assert_eq!(java_url_encode("~"), "%7E");
        assert_eq!(java_url_encode("'"), "%27");
        assert_eq!(java_url_encode("+/="), "%2B%2F%3D");
        assert_eq!(java_url_encode("é"), "%C3%A9");
        assert_eq!(java_url_encode("Az09.-_"), "Az09.-_");
    }

    /// Source: Apache CloudStack 4.0 API Developer's Guide, "Signing API Requests"
    /// (docs.huihoo.com/apache/cloudstack/4.0.0/.../signing-api-requests.html): the sorted,
    /// lower-cased command string for its deployVirtualMachine example. The guide does not
    /// publish that example's secret key, so only the canonical string is checked here.
    #[test]
    fn developer_guide_canonical_string() {
        let params = [
            ("command", "deployVirtualMachine"),
            ("serviceOfferingId", "1"),
            ("diskOfferingId", "1"),
            ("templateId", "2"),
            ("zoneId", "4"),
            (
                "apiKey",
                "miVr6X7u6bN_sdahOBpjNejPgEsT35eXq-jB8CG20YI3yaxXcgpyuaIRmFI_EJTVwZ0nUkkJbPmY3y2bciKwFQ",
            ),
        ];
        assert_eq!(
            canonical_string(params),
            "apikey=mivr6x7u6bn_sdahobpjnejpgest35exq-jb8cg20yi3yaxxcgpyuairmfi_ejtvwz0nukkjbpmy3y2bcikwfq&command=deployvirtualmachine&diskofferingid=1&serviceofferingid=1&templateid=2&zoneid=4"
        );
    }

    /// Source: Apache CloudStack docs, "How to sign an API call with Python"
    /// (docs/en-US/signing-api-calls-python.xml in apache/cloudstack): listUsers with the
    /// published keys yields signature `TTpdDq/7j/J58XCRHomKoQXEQds=`.
    #[test]
    fn developer_guide_python_signature() {
        let secret =
            "VDaACYb0LV9eNjTetIOElcVQkvJck_J_QljX_FcHRj87ZKiy0z0ty0ZsYBkoXkY9b7eq1EhwJaw7FF3akA3KBQ";
        let params = [
            ("command", "listUsers"),
            ("response", "json"),
            (
                "apikey",
                "plgWJfZK4gyS3mOMTVmjUVg-X-jlWlnfaUJ9GAbBbf9EdM-kAYMmAiLqzzq1ElZLYq_u38zCm0bewzGUdP66mg",
            ),
        ];
        assert_eq!(signature(secret, params), "TTpdDq/7j/J58XCRHomKoQXEQds=");
    }

    #[test]
    fn expires_format_is_java_tz_pattern() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_618_800); // 2026-11-25T15:00:00Z
        assert_eq!(format_expires(t), "2026-11-25T15:00:00+0000");
    }

    #[test]
    fn signed_query_contains_v3_fields_and_encoded_signature() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_618_800);
        let params = Params::new().with("name", "my vm");
        let q = signed_query(
            "listZones",
            &params,
            &SigningParams {
                api_key: "k",
                secret_key: "s",
                expires: Some(t),
            },
        );
        assert!(q.starts_with("command=listZones&name=my%20vm&response=json&apikey=k"));
        assert!(q.contains("&signatureversion=3&expires=2026-11-25T15%3A00%3A00%2B0000&"));
        let sig = q.rsplit_once("signature=").unwrap().1;
        assert!(!sig.contains('/') && !sig.contains('+') && !sig.contains('='));
        // The signature covers everything but itself.
        let expected = signature(
            "s",
            [
                ("command", "listZones"),
                ("name", "my vm"),
                ("response", "json"),
                ("apikey", "k"),
                ("signatureversion", "3"),
                ("expires", "2026-11-25T15:00:00+0000"),
            ],
        );
        assert_eq!(sig, java_url_encode(&expected));
    }
}
