//! Putting it together: start as a plugin, handshake, and serve a [`Builder`].

use std::{process::ExitCode, sync::Arc, time::Duration};

use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::UnixListener,
    sync::RwLock,
};
use tokio_util::sync::CancellationToken;

use crate::{
    error::{Error, Result},
    handshake::{self, Invocation, PluginInfo},
    mux_broker::MuxBroker,
    rpc,
    services::builder::{Builder, BuilderHandler},
    transport,
};

/// How long Packer has to connect after the handshake line (Packer's own start timeout).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// Keeps the plugin alive on Ctrl-C: the terminal signals the whole process group, and
/// Packer forwards the interrupt as `Builder.Cancel`, after which we still must clean up.
fn ignore_signals() -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    for (kind, name) in [
        (SignalKind::interrupt(), "SIGINT"),
        (SignalKind::terminate(), "SIGTERM"),
    ] {
        let mut s = signal(kind)?;
        tokio::spawn(async move {
            while s.recv().await.is_some() {
                tracing::info!("received {name}; ignoring it (Packer sends Builder.Cancel)");
            }
        });
    }
    Ok(())
}

/// Serves `builder` as a Packer plugin process: handles `describe`, checks the magic cookie,
/// listens on a unix socket in a private temp dir, prints the handshake line for the calling
/// Packer, then serves the one connection until Packer closes it.
pub async fn serve_builder<B: Builder>(builder: B, info: &PluginInfo) -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let invocation = handshake::parse_args(&args)?;
    match invocation {
        Invocation::Describe => {
            println!("{}", info.describe_json());
            return Ok(());
        }
        Invocation::Version => {
            println!("{}", info.version_line(&program_name()));
            return Ok(());
        }
        _ => {}
    }
    handshake::check_cookie(std::env::var(handshake::MAGIC_COOKIE_KEY).ok().as_deref())?;
    ignore_signals()?;
    let protobuf = matches!(invocation, Invocation::Start { protobuf: true, .. });
    if let Invocation::Start { component, .. } = &invocation {
        tracing::info!("starting builder component {component:?} (protobuf: {protobuf})");
    }

    let dir = tempfile::Builder::new()
        .prefix("packer-plugin-")
        .tempdir()?;
    let path = dir.path().join("plugin.sock");
    let listener = UnixListener::bind(&path)?;
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", handshake::handshake_line(&invocation, &path))?;
        out.flush()?;
    }
    let (stream, _) = tokio::time::timeout(CONNECT_TIMEOUT, listener.accept())
        .await
        .map_err(|_| Error::Io(std::io::Error::other("Packer did not connect")))??;
    // Packer connects once; remove the socket now so nothing is left if we get killed.
    drop(listener);
    drop(dir);
    serve_connection(stream, builder, protobuf).await
}

/// Serves `builder` over an already-connected Packer connection (yamux server side).
/// Returns when Packer closes the main RPC stream or the connection.
pub async fn serve_connection<T, B>(io: T, builder: B, protobuf: bool) -> Result<()>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    B: Builder,
{
    let (session, inbound, driver) = transport::spawn_server(io);
    let broker = MuxBroker::new(session, inbound);
    let handler = Arc::new(BuilderHandler {
        builder: RwLock::new(builder),
        broker: broker.clone(),
        cancel: CancellationToken::new(),
        protobuf,
    });
    let main = broker.accept(0).await?;
    tokio::select! {
        r = rpc::serve(main, handler) => r,
        r = driver => r.map_err(|e| Error::Yamux(e.to_string()))?,
    }
}

/// The binary's file name, for messages to a person ("this program" when unknown).
fn program_name() -> String {
    std::env::args()
        .next()
        .and_then(|p| {
            std::path::Path::new(&p)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "this program".into())
}

/// A whole `main` for a builder binary: logs to stderr (Packer copies it into its log),
/// runs [`serve_builder`] and maps errors to an exit code, explaining itself to a person
/// who runs the binary by hand.
pub fn main_builder<B: Builder>(builder: B, info: PluginInfo) -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PACKER_PLUGIN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
    let program = program_name();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{program}: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve_builder(builder, &info)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::NotLaunchedByPacker) => {
            eprint!("{}", handshake::not_launched_help(&program));
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("{program}: {e}");
            ExitCode::FAILURE
        }
    }
}
