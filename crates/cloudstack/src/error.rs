//! The crate's error type: CloudStack's own error answers kept intact, plus transport, decode,
//! async-job and name-resolution failures, each saying whether a retry could help.

use std::time::Duration;

/// CloudStack's numeric API error codes (`errorcode` in an error answer), from
/// `org.apache.cloudstack.api.ApiErrorCode`.
pub mod codes {
    /// Authentication failed (bad key or signature, expired request).
    pub const UNAUTHORIZED: u16 = 401;
    /// The caller lacks permission for the command (4.x newer servers).
    pub const UNAUTHORIZED2: u16 = 402;
    /// Method not allowed.
    pub const METHOD_NOT_ALLOWED: u16 = 405;
    /// Malformed or missing parameter, unknown id, wrong state, ...
    pub const PARAM_ERROR: u16 = 431;
    /// Unsupported action / unknown command.
    pub const UNSUPPORTED_ACTION: u16 = 432;
    /// API request limit exceeded.
    pub const API_LIMIT_EXCEED: u16 = 429;
    /// Internal server error.
    pub const INTERNAL_ERROR: u16 = 530;
    /// Account's resource limit reached.
    pub const ACCOUNT_RESOURCE_LIMIT: u16 = 532;
    /// Insufficient capacity.
    pub const INSUFFICIENT_CAPACITY: u16 = 533;
    /// Resource unavailable.
    pub const RESOURCE_UNAVAILABLE: u16 = 534;
    /// Resource allocation error.
    pub const RESOURCE_ALLOCATION: u16 = 535;
    /// Resource in use.
    pub const RESOURCE_IN_USE: u16 = 536;
    /// Network rule conflict.
    pub const NETWORK_RULE_CONFLICT: u16 = 537;
}

/// Everything that can go wrong talking to CloudStack.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is incomplete or unreadable.
    #[error("configuration error: {0}")]
    Config(String),

    /// CloudStack answered with an error envelope (`errorcode`, `cserrorcode`, `errortext`).
    #[error("CloudStack API error {error_code} (CSExceptionErrorCode: {cs_error_code}) in {command}: {text}")]
    Api {
        /// The command that failed.
        command: String,
        /// The HTTP status of the answer.
        http_status: u16,
        /// CloudStack's `errorcode` (401, 431, 530, ...).
        error_code: u16,
        /// CloudStack's `cserrorcode` (Java exception code; 0 when absent).
        cs_error_code: u32,
        /// CloudStack's `errortext`, unchanged.
        text: String,
    },

    /// A non-success HTTP answer without a CloudStack error envelope (proxy page, 503, ...).
    #[error("HTTP {status} from CloudStack for {command}: {body}")]
    Http {
        /// The command that failed.
        command: String,
        /// The HTTP status.
        status: u16,
        /// The start of the body, for diagnosis.
        body: String,
    },

    /// The request failed below HTTP (connect, TLS, timeout, dropped connection).
    #[error("transport error for {command}{}: {message}", if *maybe_sent { " (the request may have reached the server)" } else { "" })]
    Transport {
        /// The command that failed.
        command: String,
        /// Whether the server may have received (and acted on) the request.
        maybe_sent: bool,
        /// Whether the failure was a timeout.
        timeout: bool,
        /// What the HTTP layer said.
        message: String,
    },

    /// The answer was not the JSON CloudStack sends (malformed, truncated, wrong shape).
    #[error("cannot decode CloudStack answer to {command}: {message}")]
    Decode {
        /// The command whose answer was bad.
        command: String,
        /// What was wrong.
        message: String,
    },

    /// The request is too long for a URL and `http_get_only` forbids POST.
    #[error(
        "{command}: request is {len} bytes, too long for a GET URL, and http_get_only forbids POST"
    )]
    RequestTooLarge {
        /// The command.
        command: String,
        /// The encoded query length.
        len: usize,
    },

    /// The answer is larger than this client reads
    /// ([`crate::transport::MAX_RESPONSE_BYTES`]): reading it all could exhaust memory.
    #[error(
        "the answer to {command} is larger than {} MiB, the most this client reads; \
         ask for less (`page`/`pagesize`, a narrower filter) or check what sits between you and \
         CloudStack (a proxy answering with something else)",
        limit / (1024 * 1024)
    )]
    ResponseTooLarge {
        /// The command.
        command: String,
        /// The limit in bytes.
        limit: usize,
    },

    /// An async job finished with `jobstatus` 2.
    #[error("async job {job_id} ({command}) failed with error {error_code}: {text}")]
    JobFailed {
        /// The command that started the job.
        command: String,
        /// The job id.
        job_id: String,
        /// `jobresult.errorcode`.
        error_code: u16,
        /// `jobresult.errortext`.
        text: String,
    },

    /// An async job did not finish in time.
    #[error("async job {job_id} ({command}) still pending after {waited:?}")]
    JobTimeout {
        /// The command that started the job.
        command: String,
        /// The job id.
        job_id: String,
        /// How long we waited.
        waited: Duration,
    },

    /// A name matched nothing.
    #[error("no {kind} named {name:?}; available: {}", if candidates.is_empty() { "none".to_string() } else { candidates.join(", ") })]
    NotFound {
        /// Resource kind ("zone", "template", ...).
        kind: &'static str,
        /// The name or id looked up.
        name: String,
        /// Names that do exist (possibly truncated).
        candidates: Vec<String>,
    },

    /// A name matched more than one object.
    #[error("{kind} name {name:?} is ambiguous: {}", matches.iter().map(|(n, i)| format!("{n} ({i})")).collect::<Vec<_>>().join(", "))]
    Ambiguous {
        /// Resource kind.
        kind: &'static str,
        /// The name looked up.
        name: String,
        /// `(name, id)` of every match.
        matches: Vec<(String, String)>,
    },

    /// CloudStack kept throttling the account (HTTP 429 or `errorcode` 429, "API limit
    /// exceeded") after every retry. Nothing was applied: CloudStack throttles before it runs
    /// a command.
    #[error("CloudStack kept throttling {command} (API limit exceeded, answered {attempts} times over {waited:?}): {text}; the account's API rate limit (api.throttling.max per api.throttling.interval) is too low for this many parallel requests: lower the parallelism (terraform -parallelism) or ask the cloud operator to raise the limit")]
    Throttled {
        /// The command.
        command: String,
        /// How many throttled answers it got in a row.
        attempts: u32,
        /// How long it kept trying.
        waited: Duration,
        /// The last answer.
        text: String,
    },

    /// A mutating request may or may not have been applied and recovery could not tell.
    #[error("{command} may have been applied but its result is unknown: {source}")]
    Unconfirmed {
        /// The command.
        command: String,
        /// The failure that left the outcome unknown.
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// Whether trying again later could succeed: connection failures, timeouts, HTTP 429/503,
    /// CloudStack 429/530, and answers that cannot be decoded (a proxy's truncated JSON or its
    /// HTML page with status 200 says nothing about CloudStack, just like a dropped connection).
    /// Parameter (431), authentication (401) and other answers are final.
    /// Whether a retry is *safe* for a mutating command is a separate question, see
    /// [`Error::may_have_applied`].
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport { .. } | Error::Decode { .. } => true,
            Error::Http { status, .. } => matches!(status, 429 | 502 | 503 | 504),
            Error::Api {
                error_code,
                http_status,
                ..
            } => {
                matches!(*error_code, codes::INTERNAL_ERROR | codes::API_LIMIT_EXCEED)
                    || matches!(http_status, 503)
            }
            Error::Unconfirmed { source, .. } => source.is_retryable(),
            Error::Throttled { .. } => true,
            _ => false,
        }
    }

    /// Throttled by CloudStack's API limit: HTTP 429 or `errorcode` 429. The request was not
    /// executed, so even a mutating one may be re-sent.
    pub fn is_throttled(&self) -> bool {
        match self {
            Error::Http { status, .. } => *status == 429,
            Error::Api {
                error_code,
                http_status,
                ..
            } => *error_code == codes::API_LIMIT_EXCEED || *http_status == 429,
            Error::Throttled { .. } => true,
            _ => false,
        }
    }

    /// The wait a throttled answer asks for: CloudStack's "please retry after [N] ms" (older
    /// servers write the number without brackets).
    pub fn retry_after(&self) -> Option<Duration> {
        let Error::Api { text, .. } = self else {
            return None;
        };
        let rest = &text[text.find("retry after")? + "retry after".len()..];
        let digits: String = rest
            .trim_start_matches([' ', '['])
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let ms: u64 = digits.parse().ok()?;
        // Never trust a server's number blindly: a window is seconds, not hours.
        Some(Duration::from_millis(ms.min(60_000)))
    }

    /// Whether the server may have acted on the request although we got an error: a timeout or
    /// connection drop after sending, a 5xx answer, or an answer that cannot be decoded (the
    /// request got through; only its answer was lost). Connection refused, 429 and 4xx answers
    /// mean it did not.
    pub fn may_have_applied(&self) -> bool {
        match self {
            Error::Transport { maybe_sent, .. } => *maybe_sent,
            Error::Decode { .. } => true,
            Error::Http { status, .. } => *status >= 500,
            Error::Api {
                error_code,
                http_status,
                ..
            } => {
                *error_code == codes::INTERNAL_ERROR
                    || *http_status >= 500 && *error_code != codes::API_LIMIT_EXCEED
            }
            Error::Unconfirmed { .. } => true,
            _ => false,
        }
    }

    /// CloudStack's `errorcode`, if this is an API error.
    pub fn api_error_code(&self) -> Option<u16> {
        match self {
            Error::Api { error_code, .. } => Some(*error_code),
            _ => None,
        }
    }

    /// Authentication failed (401): wrong keys, bad signature or expired request.
    pub fn is_auth(&self) -> bool {
        self.api_error_code() == Some(codes::UNAUTHORIZED)
    }

    /// A parameter error (431): missing/invalid parameter, unknown id, wrong state.
    pub fn is_param_error(&self) -> bool {
        self.api_error_code() == Some(codes::PARAM_ERROR)
    }

    /// An internal server error (530).
    pub fn is_internal(&self) -> bool {
        self.api_error_code() == Some(codes::INTERNAL_ERROR)
    }

    /// The command is unknown or unsupported (432).
    pub fn is_unsupported(&self) -> bool {
        self.api_error_code() == Some(codes::UNSUPPORTED_ACTION)
    }

    /// The error says the object does not exist (used to make retried deletes idempotent).
    /// CloudStack has no dedicated code for this, so it is read from the text of 431/530 errors.
    pub fn is_not_found(&self) -> bool {
        match self {
            Error::Api {
                error_code, text, ..
            }
            | Error::JobFailed {
                error_code, text, ..
            } if matches!(*error_code, codes::PARAM_ERROR | codes::INTERNAL_ERROR) => {
                let t = text.to_ascii_lowercase();
                [
                    "does not exist",
                    "unable to find",
                    "not found",
                    "invalid parameter id",
                    "no such",
                    "cannot find",
                    "doesn't exist",
                ]
                .iter()
                .any(|p| t.contains(p))
            }
            _ => false,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16, http: u16, text: &str) -> Error {
        Error::Api {
            command: "deployVirtualMachine".into(),
            http_status: http,
            error_code: code,
            cs_error_code: 4350,
            text: text.into(),
        }
    }

    #[test]
    fn classification() {
        assert!(!api(431, 431, "Unable to find zone").is_retryable());
        assert!(api(431, 431, "Unable to find zone").is_not_found());
        assert!(!api(401, 401, "unable to verify user credentials").is_retryable());
        assert!(api(401, 401, "x").is_auth());
        assert!(api(530, 530, "boom").is_retryable());
        assert!(api(530, 530, "boom").may_have_applied());
        assert!(api(429, 429, "slow down").is_retryable());
        assert!(!api(429, 429, "slow down").may_have_applied());
        assert!(api(429, 429, "slow down").is_throttled());
        assert!(api(429, 200, "slow down").is_throttled());
        assert!(!api(530, 530, "boom").is_throttled());
        let http429 = Error::Http {
            command: "listZones".into(),
            status: 429,
            body: "Too Many Requests".into(),
        };
        assert!(http429.is_throttled() && http429.is_retryable() && !http429.may_have_applied());
        let refused = Error::Transport {
            command: "x".into(),
            maybe_sent: false,
            timeout: false,
            message: "refused".into(),
        };
        assert!(refused.is_retryable() && !refused.may_have_applied());
        // A garbled answer (truncated JSON, a proxy's HTML page with status 200) is a lost
        // answer: a read is retried, a mutation may have been applied.
        let garbled = Error::Decode {
            command: "queryAsyncJobResult".into(),
            message: "EOF while parsing an object".into(),
        };
        assert!(garbled.is_retryable() && garbled.may_have_applied());
        assert!(!garbled.is_not_found() && !garbled.is_auth());
        let msg = api(431, 431, "Unable to find zone").to_string();
        assert!(msg.contains("CloudStack API error 431 (CSExceptionErrorCode: 4350)"));
        assert!(msg.contains("Unable to find zone"));
    }

    #[test]
    fn retry_after_is_read_from_cloudstacks_text() {
        let now = api(
            429,
            429,
            "The given user has reached his/her account api limit, please retry after [218] ms.",
        );
        assert_eq!(now.retry_after(), Some(Duration::from_millis(218)));
        let old = api(
            429,
            429,
            "The given user has reached his/her account api limit, please retry after 900 ms.",
        );
        assert_eq!(old.retry_after(), Some(Duration::from_millis(900)));
        assert_eq!(api(429, 429, "slow down").retry_after(), None);
        let persisted = Error::Throttled {
            command: "deployVirtualMachine".into(),
            attempts: 60,
            waited: Duration::from_secs(61),
            text: now.to_string(),
        };
        let msg = persisted.to_string();
        assert!(
            msg.contains("kept throttling deployVirtualMachine"),
            "{msg}"
        );
        assert!(
            msg.contains("-parallelism") && msg.contains("api.throttling.max"),
            "{msg}"
        );
        assert!(persisted.is_retryable() && !persisted.may_have_applied());
    }

    #[test]
    fn not_found_lists_candidates() {
        let e = Error::NotFound {
            kind: "zone",
            name: "zone9".into(),
            candidates: vec!["zone001".into(), "zone002".into()],
        };
        assert_eq!(
            e.to_string(),
            "no zone named \"zone9\"; available: zone001, zone002"
        );
    }
}
