//! The crate's error type.

use std::io;

/// Everything that can stop a plugin from serving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The magic cookie is missing or wrong: a person started the binary by
    /// hand instead of the host program. The message is meant for that person.
    #[error(
        "{program} is a plugin for {host}: {host} starts it and talks to it over gRPC, \
         it is not meant to be run by hand.\n{install_hint}"
    )]
    NotLaunchedByHost {
        /// File name of this binary.
        program: String,
        /// Name of the host program (e.g. "Terraform").
        host: String,
        /// How to install the plugin so the host finds it.
        install_hint: String,
    },
    /// The host offered no application protocol version we speak.
    #[error(
        "the host offers plugin protocol versions [{offered}], this plugin speaks [{supported}]"
    )]
    UnsupportedProtocol {
        /// Value of PLUGIN_PROTOCOL_VERSIONS.
        offered: String,
        /// Versions we speak.
        supported: String,
    },
    /// PLUGIN_CLIENT_CERT held no usable certificate.
    #[error("PLUGIN_CLIENT_CERT holds no PEM certificate: {0}")]
    ClientCert(String),
    /// Generating the ephemeral server certificate failed.
    #[error("generating the plugin's TLS certificate: {0}")]
    CertGen(#[from] rcgen::Error),
    /// Building the TLS configuration failed.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// Socket or temp-dir I/O failed.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The gRPC server failed.
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
}

impl Error {
    /// Wraps an I/O error with what we were doing.
    pub(crate) fn io(context: &'static str) -> impl FnOnce(io::Error) -> Error {
        move |source| Error::Io { context, source }
    }
}
