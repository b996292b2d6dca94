//! Serving: unix socket in a private temp dir, optional AutoMTLS, the
//! go-plugin services added to the caller's routes, handshake line, and a
//! graceful exit on the controller's `Shutdown`.

use std::{io::Write as _, path::PathBuf, time::Duration};

use tokio::net::UnixListener;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::{ReceiverStream, UnixListenerStream};
use tokio_util::sync::CancellationToken;
use tonic::{service::Routes, transport::Server};
use tonic_health::ServingStatus;

use crate::{
    handshake::{handshake_line, negotiate, HandshakeConfig},
    proto::{
        grpc_broker_server::GrpcBrokerServer, grpc_controller_server::GrpcControllerServer,
        grpc_stdio_server::GrpcStdioServer,
    },
    services::{Broker, Controller, Stdio},
    tls, Error,
};

/// go-plugin's health service name; the host pings it.
pub const HEALTH_SERVICE_NAME: &str = "plugin";

/// How long in-flight calls may run after `Shutdown` before we exit anyway
/// (the host kills us after 2 s).
const SHUTDOWN_GRACE: Duration = Duration::from_millis(1500);

/// Everything `serve` needs, normally read from the environment by
/// [`ServeOptions::from_env`]; tests build it directly.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Negotiated application protocol version (goes into the handshake line).
    pub app_protocol_version: u32,
    /// PEM of the host's client certificate; `None` serves plaintext h2c.
    pub client_cert_pem: Option<String>,
    /// Parent dir for the socket's temp dir (default: the system temp dir).
    pub socket_parent_dir: Option<PathBuf>,
    /// Cancelled by the controller's `Shutdown`; callers may cancel it too.
    pub shutdown: CancellationToken,
}

impl ServeOptions {
    /// Checks the magic cookie, negotiates the protocol and picks up
    /// `PLUGIN_CLIENT_CERT` and `PLUGIN_UNIX_SOCKET_DIR`.
    pub fn from_env(cfg: &HandshakeConfig) -> Result<Self, Error> {
        let program = std::env::args()
            .next()
            .and_then(|p| {
                std::path::Path::new(&p)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| "this program".to_string());
        let env = |k: &str| std::env::var(k).ok();
        let version = negotiate(cfg, &program, env)?;
        Ok(ServeOptions {
            app_protocol_version: version,
            client_cert_pem: env("PLUGIN_CLIENT_CERT").filter(|s| !s.trim().is_empty()),
            socket_parent_dir: env("PLUGIN_UNIX_SOCKET_DIR")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
            shutdown: CancellationToken::new(),
        })
    }
}

/// The usual entry point of a plugin binary: reads the environment, ignores
/// SIGINT (the host forwards Ctrl-C as an RPC), prints the handshake line on
/// stdout and serves `routes` until the host shuts us down.
pub async fn serve_from_env(cfg: &HandshakeConfig, routes: Routes) -> Result<(), Error> {
    serve_stdout(ServeOptions::from_env(cfg)?, routes).await
}

/// Like [`serve_from_env`] with options already read (so the caller can
/// set up logging in between).
pub async fn serve_stdout(opts: ServeOptions, routes: Routes) -> Result<(), Error> {
    ignore_sigint()?;
    serve(opts, routes, |line| {
        let mut out = std::io::stdout().lock();
        // If stdout is gone the host is gone too; nothing useful to do.
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    })
    .await
}

/// Serves `routes` plus go-plugin's health, controller, stdio and broker
/// services on a fresh unix socket. `on_ready` receives the handshake line
/// once the socket listens. Returns after `opts.shutdown` is cancelled; the
/// socket and its directory are removed on return.
pub async fn serve(
    opts: ServeOptions,
    routes: Routes,
    on_ready: impl FnOnce(String),
) -> Result<(), Error> {
    let dir = match &opts.socket_parent_dir {
        Some(parent) => tempfile::Builder::new().prefix("plugin").tempdir_in(parent),
        None => tempfile::Builder::new().prefix("plugin").tempdir(),
    }
    .map_err(Error::io("creating the socket directory"))?;
    let socket = dir.path().join("plugin.sock");
    let listener = UnixListener::bind(&socket).map_err(Error::io("binding the unix socket"))?;

    let shutdown = opts.shutdown.clone();
    let routes = with_plugin_services(routes, &shutdown).await;
    let socket_str = socket.to_string_lossy().into_owned();

    let served = match &opts.client_cert_pem {
        Some(pem) => {
            let identity = tls::generate_server_identity()?;
            let config = tls::server_config(&identity, tls::parse_client_certs(pem)?)?;
            on_ready(handshake_line(
                opts.app_protocol_version,
                &socket_str,
                Some(identity.cert_der.as_ref()),
            ));
            let incoming = tls_incoming(listener, TlsAcceptor::from(config), shutdown.clone());
            run_until_shutdown(
                Server::builder()
                    .add_routes(routes)
                    .serve_with_incoming_shutdown(incoming, shutdown.clone().cancelled_owned()),
                &shutdown,
            )
            .await
        }
        None => {
            on_ready(handshake_line(opts.app_protocol_version, &socket_str, None));
            let incoming = UnixListenerStream::new(listener);
            run_until_shutdown(
                Server::builder()
                    .add_routes(routes)
                    .serve_with_incoming_shutdown(incoming, shutdown.clone().cancelled_owned()),
                &shutdown,
            )
            .await
        }
    };
    drop(dir);
    served
}

/// Runs the server until it stops by itself or `SHUTDOWN_GRACE` after the
/// shutdown signal (open streams would otherwise hold it up forever).
async fn run_until_shutdown(
    server: impl std::future::Future<Output = Result<(), tonic::transport::Error>>,
    shutdown: &CancellationToken,
) -> Result<(), Error> {
    tokio::select! {
        r = server => r.map_err(Error::from),
        () = async { shutdown.cancelled().await; tokio::time::sleep(SHUTDOWN_GRACE).await } => Ok(()),
    }
}

async fn with_plugin_services(routes: Routes, shutdown: &CancellationToken) -> Routes {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status(HEALTH_SERVICE_NAME, ServingStatus::Serving)
        .await;
    routes
        .add_service(health)
        .add_service(GrpcControllerServer::new(Controller {
            shutdown: shutdown.clone(),
        }))
        .add_service(GrpcStdioServer::new(Stdio {
            shutdown: shutdown.clone(),
        }))
        .add_service(GrpcBrokerServer::new(Broker {
            shutdown: shutdown.clone(),
        }))
}

type TlsConn = tokio_rustls::server::TlsStream<tokio::net::UnixStream>;

/// Accepts connections and runs each TLS handshake in its own task, so a
/// slow or refused client never blocks the others; only completed
/// handshakes reach the gRPC server.
fn tls_incoming(
    listener: UnixListener,
    acceptor: TlsAcceptor,
    shutdown: CancellationToken,
) -> ReceiverStream<Result<TlsConn, std::io::Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let conn = tokio::select! {
                () = shutdown.cancelled() => break,
                c = listener.accept() => c,
            };
            let (stream, _) = match conn {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    continue;
                }
            };
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let handshake =
                    tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await;
                match handshake {
                    Ok(Ok(tls)) => {
                        let _ = tx.send(Ok(tls)).await;
                    }
                    Ok(Err(e)) => tracing::warn!(error = %e, "refused a TLS client"),
                    Err(_) => tracing::warn!("TLS handshake timed out"),
                }
            });
        }
    });
    ReceiverStream::new(rx)
}

/// The host handles Ctrl-C itself (it calls Stop on the provider); the
/// terminal still delivers SIGINT to us, which must not kill us mid-apply.
fn ignore_sigint() -> Result<(), Error> {
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(Error::io("installing the SIGINT handler"))?;
    tokio::spawn(async move {
        while sigint.recv().await.is_some() {
            tracing::debug!("ignoring SIGINT; the host stops us through the protocol");
        }
    });
    Ok(())
}
