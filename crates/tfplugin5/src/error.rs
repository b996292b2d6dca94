//! The crate's error type.

/// Errors of the wire layer: values or types that do not decode or
/// encode, and server start-up failures. Resource logic reports problems as
/// [`crate::Diagnostics`] instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A cty type in JSON form was not understood.
    #[error("invalid cty type {0}")]
    Type(String),
    /// Bytes from the peer did not decode as a value of the expected type.
    #[error("decoding {path}: {message}")]
    Decode {
        /// Where in the value (`.attr[2]...`), empty at the root.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// A value did not fit the schema type it is encoded with.
    #[error("encoding {path}: {message}")]
    Encode {
        /// Where in the value.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// The go-plugin layer failed.
    #[error(transparent)]
    Plugin(#[from] go_plugin::Error),
}

impl Error {
    /// Prefixes the path of a decode/encode error with one more step, so the
    /// final message names the attribute (errors bubble up from the leaf).
    pub(crate) fn at(self, step: &str) -> Error {
        match self {
            Error::Decode { path, message } => Error::Decode {
                path: format!("{step}{path}"),
                message,
            },
            Error::Encode { path, message } => Error::Encode {
                path: format!("{step}{path}"),
                message,
            },
            other => other,
        }
    }

    pub(crate) fn decode(message: impl Into<String>) -> Error {
        Error::Decode {
            path: String::new(),
            message: message.into(),
        }
    }

    pub(crate) fn encode(message: impl Into<String>) -> Error {
        Error::Encode {
            path: String::new(),
            message: message.into(),
        }
    }
}
