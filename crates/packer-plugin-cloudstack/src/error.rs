//! The builder's error type: every message says what failed and what to check.

/// Errors of the CloudStack build steps.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A CloudStack call failed; `context` says what the build was doing.
    #[error("{context}: {source}")]
    CloudStack {
        /// What the step was doing, e.g. "deploying the instance".
        context: String,
        /// The client's error (never contains keys or signatures).
        #[source]
        source: cloudstack::Error,
    },
    /// SSH: connecting, a remote command or a file transfer.
    #[error(transparent)]
    Ssh(#[from] ssh_communicator::Error),
    /// Anything else that stops the build, with its explanation.
    #[error("{0}")]
    Build(String),
    /// Local file I/O (key files).
    #[error("{context}: {source}")]
    Io {
        /// The file operation.
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Wraps a CloudStack error with what the build was doing.
    pub fn api(context: impl Into<String>) -> impl FnOnce(cloudstack::Error) -> Error {
        let context = context.into();
        move |source| Error::CloudStack { context, source }
    }

    /// Wraps an I/O error with the file operation.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let context = context.into();
        move |source| Error::Io { context, source }
    }
}

/// Result with the builder's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
