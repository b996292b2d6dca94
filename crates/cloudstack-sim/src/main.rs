//! `cloudstack-sim`: run the CloudStack simulator (flags documented in the crate README).

use anyhow::Context as _;
use clap::Parser;
use cloudstack_sim::{cidr::Ipv4Cidr, JobLatency, Options, Simulator};
use std::net::SocketAddr;
use std::path::PathBuf;

/// An in-memory Apache CloudStack management server for demos and tests.
#[derive(Debug, Parser)]
#[command(name = "cloudstack-sim", version)]
struct Cli {
    /// Address to listen on (port 0 picks a free port; the real one is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// API key clients must use.
    #[arg(long, env = "CLOUDSTACK_SIM_API_KEY", default_value = cloudstack_sim::DEFAULT_API_KEY)]
    api_key: String,
    /// Secret key signatures are verified with.
    #[arg(long, env = "CLOUDSTACK_SIM_SECRET_KEY", default_value = cloudstack_sim::DEFAULT_SECRET_KEY)]
    secret_key: String,
    /// State file: loaded at start if present, rewritten atomically after every change.
    #[arg(long)]
    state: Option<PathBuf>,
    /// World to start from (JSON, same format as the state file / --print-seed).
    #[arg(long)]
    seed: Option<PathBuf>,
    /// Async job latency: `N` (milliseconds, all commands) or `COMMAND=N`; repeatable.
    #[arg(long = "job-latency-ms", value_name = "N|COMMAND=N")]
    job_latency_ms: Vec<String>,
    /// Spread of job latencies: 0.2 makes each job take its latency ±20% (uniform).
    #[arg(long, value_name = "FRACTION")]
    job_latency_jitter: Option<String>,
    /// Requests per second per API key; more are answered 429 with CloudStack's
    /// "api limit" text, like its API throttling (default: unlimited).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    api_rate_limit: Option<u32>,
    /// Probability (0..1) that a request gets a transient fault.
    #[arg(long, default_value_t = 0.0)]
    fault_rate: f64,
    /// Seed of the fault generator.
    #[arg(long, default_value_t = 0)]
    fault_seed: u64,
    /// Which faults to draw: `all`, `default`, or kinds separated by commas
    /// (unavailable_before, internal_error_before, drop_before, unavailable_after,
    /// drop_after, truncated_after, html_after). Default: all but the garbled answers.
    #[arg(long, value_name = "KINDS", default_value = "default")]
    fault_kinds: String,
    /// Deterministic lost answers: once COMMAND is accepted (its first call only), the
    /// answers about its object (its job's, every listAsyncJobs, the list*s finding it) are
    /// garbled (truncated JSON, then an HTML page, status 200) for SECONDS, e.g.
    /// `deployVirtualMachine=20`. Repeatable or comma-separated.
    #[arg(long, value_name = "COMMAND=SECONDS")]
    lose_answers_after: Vec<String>,
    /// Where forwarded public ports lead (a VM's SSH endpoint), e.g. 127.0.0.1:2222.
    #[arg(long, conflicts_with = "vm_sandbox")]
    ssh_target: Option<SocketAddr>,
    /// File kept equal to the public keys of running VMs' key pairs (sshd AuthorizedKeysFile).
    #[arg(long)]
    ssh_authorized_keys: Option<PathBuf>,
    /// Range public IPs come from (keep it inside 127.0.0.0/8 for real forwarding).
    #[arg(long, default_value = "127.100.0.0/16")]
    public_ip_range: Ipv4Cidr,
    /// Password returned by deployVirtualMachine for password-enabled templates (default:
    /// random); give the --ssh-target user this password for password logins.
    #[arg(long, env = "CLOUDSTACK_SIM_VM_PASSWORD")]
    vm_password: Option<String>,
    /// VM sandboxes: forwarded port 22 reaches an embedded SSH server that runs commands
    /// in per-VM mount namespaces whose writes land under DIR/vms (needs root).
    #[arg(long, value_name = "DIR")]
    vm_sandbox: Option<PathBuf>,
    /// Serve HTTPS: writes a fresh CA (DIR/ca.pem, what clients trust with `ca_file` or
    /// CLOUDSTACK_CA_FILE) and the server's certificate and key signed by it.
    #[arg(long, value_name = "DIR")]
    tls_dir: Option<PathBuf>,
    /// Print the world it would start with (JSON) and exit.
    #[arg(long)]
    print_seed: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut job_latency = JobLatency::default();
    for spec in &cli.job_latency_ms {
        job_latency.apply(spec).map_err(anyhow::Error::msg)?;
    }
    if let Some(jitter) = &cli.job_latency_jitter {
        job_latency.set_jitter(jitter).map_err(anyhow::Error::msg)?;
    }
    let options = Options {
        api_key: cli.api_key,
        secret_key: cli.secret_key,
        state_file: if cli.print_seed { None } else { cli.state },
        seed_file: cli.seed,
        job_latency,
        fault_rate: cli.fault_rate,
        fault_seed: cli.fault_seed,
        fault_kinds: cloudstack_sim::faults::Fault::parse_list(&cli.fault_kinds)
            .map_err(anyhow::Error::msg)?,
        lose_answers_after: cli
            .lose_answers_after
            .iter()
            .map(|spec| cloudstack_sim::faults::Outage::parse_list(spec))
            .collect::<Result<Vec<_>, _>>()
            .map_err(anyhow::Error::msg)?
            .into_iter()
            .flatten()
            .collect(),
        ssh_target: cli.ssh_target,
        ssh_authorized_keys: cli.ssh_authorized_keys,
        public_ip_range: cli.public_ip_range,
        vm_password: cli.vm_password,
        api_rate_limit: cli.api_rate_limit,
        vm_sandbox: if cli.print_seed { None } else { cli.vm_sandbox },
    };
    let sim = Simulator::new(options).context("starting the simulator")?;
    if cli.print_seed {
        println!("{}", serde_json::to_string_pretty(&sim.world())?);
        return Ok(());
    }
    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .with_context(|| format!("binding {}", cli.listen))?;
    let addr = listener.local_addr()?;
    let tls = match &cli.tls_dir {
        Some(dir) => Some(cloudstack_sim::tls::self_signed(dir, addr.ip())?),
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("cloudstack-sim listening on {scheme}://{addr}/client/api");
    use std::io::Write as _;
    std::io::stdout().flush()?;
    let shutdown = async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down");
    };
    cloudstack_sim::run_with_tls(listener, sim, shutdown, tls).await?;
    Ok(())
}
