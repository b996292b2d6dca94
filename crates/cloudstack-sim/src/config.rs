//! Simulator options (the library face of the binary's flags).

use crate::cidr::Ipv4Cidr;
use rand::Rng as _;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Default API key (`--api-key`).
pub const DEFAULT_API_KEY: &str = "mesostack-api-key";
/// Default secret key (`--secret-key`).
pub const DEFAULT_SECRET_KEY: &str = "mesostack-secret-key";
/// Default public IP range (`--public-ip-range`): inside loopback so rules can be real.
pub const DEFAULT_PUBLIC_IP_RANGE: Ipv4Cidr = Ipv4Cidr {
    base: Ipv4Addr::new(127, 100, 0, 0),
    prefix: 16,
};

/// How long async jobs stay pending, globally and per command.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobLatency {
    /// Latency of every job unless overridden.
    pub default: Duration,
    /// Overrides keyed by lower-cased command name (`deployvirtualmachine`).
    pub per_command: HashMap<String, Duration>,
    /// Spread of each job's latency (`--job-latency-jitter`): 0.2 draws it uniformly within
    /// ±20% of the configured value, as a real cloud's jobs vary.
    pub jitter: f64,
}

impl JobLatency {
    /// The latency for one command.
    pub fn for_command(&self, command: &str) -> Duration {
        self.per_command
            .get(&command.to_lowercase())
            .copied()
            .unwrap_or(self.default)
    }

    /// The latency of one new job of `command`, with the jitter applied.
    pub fn sample(&self, command: &str) -> Duration {
        let base = self.for_command(command);
        let jitter = if self.jitter.is_finite() {
            self.jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        if base.is_zero() || jitter == 0.0 {
            return base;
        }
        let factor = 1.0 + rand::thread_rng().gen_range(-jitter..=jitter);
        base.mul_f64(factor)
    }

    /// Parses `--job-latency-jitter`: a fraction in 0..=1.
    pub fn set_jitter(&mut self, spec: &str) -> Result<(), String> {
        match spec.trim().parse::<f64>() {
            Ok(f) if (0.0..=1.0).contains(&f) => {
                self.jitter = f;
                Ok(())
            }
            _ => Err(format!(
                "invalid jitter {spec:?}: expected a fraction from 0 to 1 (0.2 = ±20%)"
            )),
        }
    }

    /// Parses one `--job-latency-ms` value: `N` or `command=N`.
    pub fn apply(&mut self, spec: &str) -> Result<(), String> {
        match spec.split_once('=') {
            Some((cmd, ms)) => {
                let ms: u64 = ms.trim().parse().map_err(|_| {
                    format!("invalid latency {spec:?}: expected COMMAND=MILLISECONDS")
                })?;
                self.per_command
                    .insert(cmd.trim().to_lowercase(), Duration::from_millis(ms));
            }
            None => {
                let ms: u64 = spec
                    .trim()
                    .parse()
                    .map_err(|_| format!("invalid latency {spec:?}: expected MILLISECONDS"))?;
                self.default = Duration::from_millis(ms);
            }
        }
        Ok(())
    }
}

/// Everything that configures a simulator; [`Options::default`] is what tests usually want.
#[derive(Debug, Clone)]
pub struct Options {
    /// API key clients must send.
    pub api_key: String,
    /// Secret key signatures are checked with.
    pub secret_key: String,
    /// Where state is kept across restarts (loaded if present, rewritten after each change).
    pub state_file: Option<PathBuf>,
    /// A world to start from instead of the built-in seed (ignored if the state file exists).
    pub seed_file: Option<PathBuf>,
    /// Async job latency.
    pub job_latency: JobLatency,
    /// Probability (0..=1) that a request is faulted.
    pub fault_rate: f64,
    /// Seed of the fault RNG (same seed + same request order = same faults).
    pub fault_seed: u64,
    /// Which faults are drawn (`--fault-kinds`); empty means [`crate::faults::Fault::DEFAULT`].
    pub fault_kinds: Vec<crate::faults::Fault>,
    /// Lost answers after a command is accepted (`--lose-answers-after`; see
    /// [`crate::faults::LostAnswers`]).
    pub lose_answers_after: Vec<crate::faults::Outage>,
    /// Where forwarded connections go (a VM's SSH endpoint).
    pub ssh_target: Option<SocketAddr>,
    /// File rewritten with the public keys of running VMs' key pairs (an `AuthorizedKeysFile`).
    pub ssh_authorized_keys: Option<PathBuf>,
    /// Range public IPs are allocated from.
    pub public_ip_range: Ipv4Cidr,
    /// Password deployVirtualMachine returns for password-enabled templates (random when
    /// `None`); lets a test give the `--ssh-target` user the same password, as the
    /// CloudStack password server would have set it inside the VM.
    pub vm_password: Option<String>,
    /// Requests per second per API key (`--api-rate-limit`); beyond it requests are answered
    /// 429 like CloudStack's API throttling (`api.throttling.*`). `None`: unlimited.
    pub api_rate_limit: Option<u32>,
    /// VM sandbox directory (`--vm-sandbox`): forwarded port 22 reaches an embedded SSH
    /// server running commands in per-VM namespaces under this directory (see
    /// [`crate::sandbox`]); exclusive with `ssh_target`.
    pub vm_sandbox: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            api_key: DEFAULT_API_KEY.into(),
            secret_key: DEFAULT_SECRET_KEY.into(),
            state_file: None,
            seed_file: None,
            job_latency: JobLatency::default(),
            fault_rate: 0.0,
            fault_seed: 0,
            fault_kinds: Vec::new(),
            lose_answers_after: Vec::new(),
            ssh_target: None,
            ssh_authorized_keys: None,
            public_ip_range: DEFAULT_PUBLIC_IP_RANGE,
            vm_password: None,
            api_rate_limit: None,
            vm_sandbox: None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn latency_specs() {
        let mut l = JobLatency::default();
        l.apply("250").unwrap();
        l.apply("deployVirtualMachine=2000").unwrap();
        assert_eq!(l.for_command("listZones"), Duration::from_millis(250));
        assert_eq!(
            l.for_command("DEPLOYVIRTUALMACHINE"),
            Duration::from_millis(2000)
        );
        assert!(l.apply("x=y").is_err());
    }

    #[test]
    fn jitter_stays_within_its_spread() {
        let mut l = JobLatency::default();
        l.apply("1000").unwrap();
        assert_eq!(l.sample("x"), Duration::from_millis(1000));
        l.set_jitter("0.2").unwrap();
        let samples: Vec<Duration> = (0..200).map(|_| l.sample("x")).collect();
        assert!(samples
            .iter()
            .all(|d| (Duration::from_millis(800)..=Duration::from_millis(1200)).contains(d)));
        assert!(samples.iter().any(|d| *d != samples[0]), "no spread at all");
        assert!(l.set_jitter("1.5").is_err() && l.set_jitter("x").is_err());
        l.per_command.insert("quick".into(), Duration::ZERO);
        assert_eq!(l.sample("quick"), Duration::ZERO);
    }
}
