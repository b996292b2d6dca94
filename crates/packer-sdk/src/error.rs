//! The crate's one error type.

use std::io;

/// Everything that can go wrong in the plugin protocol layer.
///
/// Builder authors mostly see [`Error::Rpc`] (a call into Packer failed) and
/// [`Error::NotLaunchedByPacker`] (the binary was started by a person).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `PACKER_PLUGIN_MAGIC_COOKIE` is missing or wrong: a person started the binary.
    #[error("this binary is a Packer plugin and must be started by Packer")]
    NotLaunchedByPacker,
    /// Command-line arguments this plugin does not understand.
    #[error("usage: {0}")]
    Usage(String),
    /// Socket or stream I/O failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The yamux session failed or is closed.
    #[error("yamux session: {0}")]
    Yamux(String),
    /// A mux-broker stream was not connected in time, or was acknowledged with the wrong id.
    #[error("mux broker: {0}")]
    Broker(String),
    /// Bytes from the peer are not valid msgpack / net/rpc.
    #[error("codec: {0}")]
    Codec(#[from] crate::codec::CodecError),
    /// The remote side answered a call with an error string (net/rpc `Error` header).
    #[error("remote error from {method}: {message}")]
    Remote {
        /// `Service.Method` that failed.
        method: String,
        /// The error text the peer sent.
        message: String,
    },
    /// The RPC stream closed while a call was outstanding.
    #[error("RPC connection closed")]
    Closed,
    /// A reply body did not have the shape the Go side uses.
    #[error("unexpected reply shape for {method}: {detail}")]
    Shape {
        /// `Service.Method` whose reply was wrong.
        method: String,
        /// What was wrong.
        detail: String,
    },
}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
