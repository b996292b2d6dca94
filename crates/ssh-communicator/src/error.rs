//! The communicator's errors: each says what failed and, where it can, what to check.

use std::time::Duration;

/// Errors of connecting, running commands and moving files.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The TCP connection, the SSH handshake or a channel failed.
    #[error("SSH: {0}")]
    Ssh(String),
    /// The server refused every configured credential.
    #[error("SSH: {0}")]
    AuthRefused(String),
    /// A private key could not be read.
    #[error("SSH key: {0}")]
    Key(String),
    /// The SSH agent (`SSH_AUTH_SOCK`) could not be reached or used.
    #[error("SSH agent: {0}")]
    Agent(String),
    /// [`crate::Session::connect_with_retry`] ran out of time.
    #[error(
        "could not connect to {target} within {within:?} ({attempts} attempts); last error: {last}"
    )]
    GaveUp {
        /// `user@host:port`.
        target: String,
        /// The retry budget.
        within: Duration,
        /// Attempts made.
        attempts: u32,
        /// What the last attempt said.
        last: Box<Error>,
    },
    /// The server refused the login too many times in a row (wrong credentials do not get
    /// better by waiting).
    #[error("{target} refused the login {times} times; last error: {last}")]
    Refused {
        /// `user@host:port`.
        target: String,
        /// Refusals counted.
        times: u32,
        /// What the last attempt said.
        last: Box<Error>,
    },
    /// The caller cancelled while waiting.
    #[error("cancelled while waiting for SSH")]
    Cancelled,
    /// The server sent nothing for longer than the read/write timeout and the connection
    /// was dropped.
    #[error(
        "no data from {target} for {timeout:?} (read/write timeout): the connection was dropped"
    )]
    Stalled {
        /// `user@host:port`.
        target: String,
        /// The configured timeout.
        timeout: Duration,
    },
    /// A file transfer (scp or sftp) failed.
    #[error("file transfer: {0}")]
    Transfer(String),
    /// Local file I/O.
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
    /// Wraps an I/O error with the file operation.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let context = context.into();
        move |source| Error::Io { context, source }
    }

    /// Says which transfer failed, once (a nested message keeps a single prefix).
    pub(crate) fn during(what: String) -> impl FnOnce(Error) -> Error {
        move |e| match e {
            Error::Transfer(m) => Error::Transfer(format!("{what}: {m}")),
            Error::Ssh(m) => Error::Ssh(format!("{what}: {m}")),
            Error::Io { context, source } => Error::Io {
                context: format!("{what}: {context}"),
                source,
            },
            other => other,
        }
    }

    /// Whether the server refused the credentials (as opposed to not answering).
    pub fn is_auth_refused(&self) -> bool {
        matches!(self, Error::AuthRefused(_) | Error::Refused { .. })
    }
}

/// Result with the communicator's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Maps a russh error, naming what was being done.
pub(crate) fn ssh_err(what: &str) -> impl FnOnce(russh::Error) -> Error + '_ {
    move |e| Error::Ssh(format!("{what}: {e}"))
}
