//! Errors: [`Error`] for the library's own failures (I/O, state files, seeds) and
//! [`ApiError`] for what the simulated management server answers to a client.

use serde_json::{json, Value};

/// Failures of the simulator itself (not of an API call).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing the state file, binding, serving.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A state or seed file is not valid JSON of the expected shape.
    #[error("{context}: {source}")]
    Json {
        /// Which file or object.
        context: String,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
    /// A seed or option is inconsistent (e.g. a template pointing at an unknown zone).
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
    pub(crate) fn json(context: impl Into<String>, source: serde_json::Error) -> Self {
        Error::Json {
            context: context.into(),
            source,
        }
    }
}

/// CloudStack's `ApiErrorCode` values that the simulator answers with (HTTP status = errorcode).
pub mod code {
    /// Signature or credentials rejected.
    pub const UNAUTHORIZED: u16 = 401;
    /// Bad or missing parameter, unknown id, wrong state.
    pub const PARAM_ERROR: u16 = 431;
    /// Unknown command.
    pub const UNSUPPORTED_ACTION_ERROR: u16 = 432;
    /// API limit exceeded (`--api-rate-limit`), `ApiErrorCode.API_LIMIT_EXCEED`.
    pub const API_LIMIT_EXCEED: u16 = 429;
    /// Internal error (also used by fault injection).
    pub const INTERNAL_ERROR: u16 = 530;
    /// Resource unavailable.
    pub const RESOURCE_UNAVAILABLE_ERROR: u16 = 534;
    /// Resource allocation failed (e.g. public IP range exhausted).
    pub const RESOURCE_ALLOCATION_ERROR: u16 = 535;
    /// Conflicting network rule (e.g. public port already forwarded).
    pub const NETWORK_RULE_CONFLICT_ERROR: u16 = 537;
}

/// CloudStack's `CSExceptionErrorCode` values (the Java exception class behind an error).
pub mod cs_code {
    /// `ServerApiException` (generic).
    pub const SERVER_API: u32 = 9999;
    /// `CloudRuntimeException`.
    pub const CLOUD_RUNTIME: u32 = 4250;
    /// `InvalidParameterValueException`.
    pub const INVALID_PARAMETER_VALUE: u32 = 4350;
    /// `NetworkRuleConflictException`.
    pub const NETWORK_RULE_CONFLICT: u32 = 4390;
}

/// An error answer of the API: HTTP status = `errorcode`, body in the command's envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// CloudStack `errorcode` (also the HTTP status).
    pub errorcode: u16,
    /// CloudStack `cserrorcode`; `None` for authentication failures, as CloudStack does.
    pub cserrorcode: Option<u32>,
    /// Human readable text, worded like CloudStack's.
    pub errortext: String,
}

impl ApiError {
    /// A 431 `InvalidParameterValueException`.
    pub fn param(text: impl Into<String>) -> Self {
        ApiError {
            errorcode: code::PARAM_ERROR,
            cserrorcode: Some(cs_code::INVALID_PARAMETER_VALUE),
            errortext: text.into(),
        }
    }
    /// A 431 raised by the API layer itself (missing parameter, bad format).
    pub fn server_param(text: impl Into<String>) -> Self {
        ApiError {
            errorcode: code::PARAM_ERROR,
            cserrorcode: Some(cs_code::SERVER_API),
            errortext: text.into(),
        }
    }
    /// Any other code with `ServerApiException`'s cserrorcode.
    pub fn with_code(errorcode: u16, text: impl Into<String>) -> Self {
        ApiError {
            errorcode,
            cserrorcode: Some(cs_code::SERVER_API),
            errortext: text.into(),
        }
    }
    /// The 401 CloudStack answers for any signature or key problem (no detail, on purpose).
    pub fn unauthorized() -> Self {
        ApiError {
            errorcode: code::UNAUTHORIZED,
            cserrorcode: None,
            errortext: "unable to verify user credentials and/or request signature".into(),
        }
    }
    /// Unknown command.
    pub fn unknown_command() -> Self {
        ApiError::with_code(
            code::UNSUPPORTED_ACTION_ERROR,
            "The given command does not exist or it is not available for user",
        )
    }

    /// The object inside the envelope (also a failed job's `jobresult`).
    pub fn body(&self) -> Value {
        let mut v = json!({
            "uuidList": [],
            "errorcode": self.errorcode,
            "errortext": self.errortext,
        });
        if let (Some(cs), Some(map)) = (self.cserrorcode, v.as_object_mut()) {
            map.insert("cserrorcode".into(), json!(cs));
        }
        v
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.errorcode, self.errortext)
    }
}
