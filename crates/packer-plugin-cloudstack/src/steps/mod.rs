//! The build steps, in the order of the Go builder (`builder/cloudstack/builder.go`), one file
//! per step. They share a typed [`BuildState`] (Go's state bag) and run under
//! `packer_sdk::steps::run_steps`, which cleans up every step that ran, last first, on
//! success, failure and cancel.

use std::{
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use cloudstack::{model::Template, AcceptedLog, Client};
use packer_sdk::steps::Step;

use crate::{communicator::SshCommunicator, config::Config, error::Error};

pub mod clear_authorized_keys;
pub mod connect;
pub mod create_instance;
pub mod create_template;
pub mod detach_iso;
pub mod http_server;
pub mod keypair;
pub mod prepare_config;
pub mod provision;
pub mod security_group;
pub mod setup_networking;
pub mod shutdown;
pub mod tags;

/// Ids resolved from the names in the template (step `prepare_config`).
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    /// Project id (`project`): sent on every call that creates or lists the build's objects.
    pub project_id: Option<String>,
    /// Zone id.
    pub zone_id: String,
    /// Zone name (for the artifact).
    pub zone_name: String,
    /// Whether the zone is `Advanced` (networks are passed to deploy only then).
    pub zone_advanced: bool,
    /// Whether the zone has security groups (VMs are then reached at their own address).
    pub zone_security_groups: bool,
    /// Security groups to deploy into: `security_groups` resolved, or the temporary one.
    pub security_group_ids: Vec<String>,
    /// Service offering id.
    pub service_offering_id: String,
    /// Template or ISO id to boot from.
    pub source_id: String,
    /// Whether `source_id` is an ISO.
    pub source_is_iso: bool,
    /// Network ids.
    pub network_ids: Vec<String>,
    /// The ACL list of the network when it is a VPC tier that needs an ACL rule for SSH
    /// (checked before anything is created: a default list cannot change).
    pub vpc_acl_id: Option<String>,
    /// Disk offering id.
    pub disk_offering_id: Option<String>,
    /// OS type id for the new template (`None`: the VM's own).
    pub os_type_id: Option<String>,
    /// An existing public IP (`public_ip_address`): (id, address).
    pub public_ip: Option<(String, String)>,
    /// `user_data` ready for deploy (rendered, base64).
    pub user_data: Option<String>,
}

/// Everything the steps share. Secrets (private key, password) are redacted in `Debug`.
pub struct BuildState {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// The CloudStack client; it records every create CloudStack accepts in `accepted`.
    pub client: Client,
    /// Ids of the objects CloudStack accepted to create, known the moment the answer names
    /// them: a step that fails later still hands them to its cleanup.
    pub accepted: AcceptedLog,
    /// Step `prepare_config`.
    pub resolved: Resolved,
    /// Key pair to deploy with (temporary or `ssh_keypair_name`).
    pub keypair: Option<String>,
    /// The temporary key pair this build created (deleted in cleanup).
    pub temporary_keypair: Option<String>,
    /// Private key PEM for SSH (temporary key pair or `ssh_private_key_file`).
    pub private_key_pem: Option<String>,
    /// Password for SSH (`ssh_password`, or the one deploy returned).
    pub ssh_password: Option<String>,
    /// The temporary security group this build created (deleted in cleanup).
    pub temporary_security_group: Option<String>,
    /// The build VM's id.
    pub vm_id: Option<String>,
    /// The VM's private IP (NIC 0).
    pub vm_ip: Option<String>,
    /// The VM's guest OS type id (legacy default for the template's OS type).
    pub vm_os_type_id: Option<String>,
    /// Public IP used for SSH: (id, address).
    pub public_ip: Option<(String, String)>,
    /// Whether this build associated the public IP (and must release it).
    pub ip_associated: bool,
    /// Public port of the port forward.
    pub public_port: Option<u16>,
    /// Port forwarding rule id.
    pub port_forward_id: Option<String>,
    /// Firewall rule id.
    pub firewall_rule_id: Option<String>,
    /// Network ACL item (rule) id, on a VPC tier.
    pub acl_rule_id: Option<String>,
    /// Where SSH connects: (host, port).
    pub ssh_address: Option<(String, u16)>,
    /// The SSH session.
    pub communicator: Option<Arc<SshCommunicator>>,
    /// The new template.
    pub template: Option<Template>,
    /// Stops the local HTTP server (step `http_server`).
    pub http_stop: packer_sdk::CancellationToken,
}

impl std::fmt::Debug for BuildState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildState")
            .field("resolved", &self.resolved)
            .field("keypair", &self.keypair)
            .field(
                "private_key",
                &self.private_key_pem.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "ssh_password",
                &self.ssh_password.as_ref().map(|_| "<redacted>"),
            )
            .field("vm_id", &self.vm_id)
            .field("public_ip", &self.public_ip)
            .field("port_forward_id", &self.port_forward_id)
            .field("firewall_rule_id", &self.firewall_rule_id)
            .field("acl_rule_id", &self.acl_rule_id)
            .field("template", &self.template.as_ref().map(|t| &t.id))
            .finish_non_exhaustive()
    }
}

impl BuildState {
    /// The project the build works in, if any.
    pub fn project_id(&self) -> Option<&str> {
        self.resolved.project_id.as_deref()
    }

    /// `params` scoped to the build's project (CloudStack lists a project's objects only
    /// with its id).
    pub fn in_project(&self, params: cloudstack::Params) -> cloudstack::Params {
        match self.project_id() {
            Some(p) => params.with("projectid", p),
            None => params,
        }
    }

    /// ` projectid=<id>` for the `cs` commands printed for what is left, or nothing.
    pub fn cs_project_arg(&self) -> String {
        self.project_id()
            .map(|p| format!(" projectid={p}"))
            .unwrap_or_default()
    }

    /// A fresh state for `config`, talking through `client`.
    pub fn new(config: Arc<Config>, client: Client) -> Self {
        let accepted = AcceptedLog::new();
        Self {
            config,
            client: client.recording_accepted(&accepted),
            accepted,
            resolved: Resolved::default(),
            keypair: None,
            temporary_keypair: None,
            private_key_pem: None,
            ssh_password: None,
            temporary_security_group: None,
            vm_id: None,
            vm_ip: None,
            vm_os_type_id: None,
            public_ip: None,
            ip_associated: false,
            public_port: None,
            port_forward_id: None,
            firewall_rule_id: None,
            acl_rule_id: None,
            ssh_address: None,
            communicator: None,
            template: None,
            http_stop: packer_sdk::CancellationToken::new(),
        }
    }
}

/// The steps of a build, in order.
pub fn all() -> Vec<Box<dyn Step<BuildState>>> {
    vec![
        Box::new(prepare_config::PrepareConfig),
        Box::new(http_server::HttpServer),
        Box::new(keypair::Keypair),
        Box::new(security_group::SecurityGroup),
        Box::new(create_instance::CreateInstance),
        Box::new(setup_networking::SetupNetworking),
        Box::new(detach_iso::DetachIso),
        Box::new(connect::Connect),
        Box::new(provision::Provision),
        Box::new(clear_authorized_keys::ClearAuthorizedKeys),
        Box::new(shutdown::Shutdown),
        Box::new(create_template::CreateTemplate),
        Box::new(tags::Tags),
    ]
}

/// Longest silence while the build waits for CloudStack (a job, a VM, a template).
pub(crate) const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// `1m05s`, `42s`: elapsed time as people read it.
pub(crate) fn elapsed_text(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// Runs `fut`; every [`PROGRESS_EVERY`] until it ends, shows the line `probe` makes of the
/// time waited (what CloudStack reports of the object being made, if anything), so a long
/// wait is never silent.
pub(crate) async fn with_progress<T, P, PF>(
    ui: &packer_sdk::Ui,
    fut: impl Future<Output = T>,
    probe: P,
) -> T
where
    P: Fn(Duration) -> PF,
    PF: Future<Output = String>,
{
    tokio::pin!(fut);
    let started = Instant::now();
    let mut tick =
        tokio::time::interval_at(tokio::time::Instant::now() + PROGRESS_EVERY, PROGRESS_EVERY);
    loop {
        tokio::select! {
            r = &mut fut => return r,
            _ = tick.tick() => ui.message(probe(started.elapsed()).await).await,
        }
    }
}

/// Runs a read-only wait (polling, connecting) unless the build is cancelled first.
pub(crate) async fn unless_cancelled<T>(
    ctx: &packer_sdk::steps::StepContext,
    fut: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    tokio::select! {
        r = fut => r,
        () = ctx.cancel.cancelled() => Err(Error::Build(packer_sdk::BUILD_CANCELLED.into())),
    }
}

/// Runs a cleanup call through [`retry_cleanup`] within `async_timeout`; if it still fails,
/// tells the user what is left and the call that removes it (`by_hand`). Returns whether
/// the cleanup is done.
pub(crate) async fn clean_up<F, Fut>(
    state: &BuildState,
    ctx: &packer_sdk::steps::StepContext,
    what: &str,
    by_hand: &str,
    call: F,
) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), cloudstack::Error>>,
{
    let timeout = state.config.async_timeout;
    match retry_cleanup(what, timeout, call).await {
        Ok(()) => true,
        Err(e) => {
            ctx.ui
                .error(format!(
                    "Error {what}: {e}; gave up after {}s (async_timeout): {by_hand}",
                    timeout.as_secs()
                ))
                .await;
            false
        }
    }
}

/// First pause between cleanup attempts; doubles up to [`CLEANUP_PAUSE_CAP`].
const CLEANUP_PAUSE: Duration = Duration::from_millis(500);
const CLEANUP_PAUSE_CAP: Duration = Duration::from_secs(15);

/// Runs a cleanup call (destroy, delete, release) until it is done, the object is gone, or
/// `timeout` has passed: a flaky API or proxy must not leave temporary objects behind.
/// Only failures that another attempt could fix are retried (dropped or garbled answers,
/// 5xx/530, jobs still running); an answer such as "permission denied" is final.
async fn retry_cleanup<F, Fut>(
    what: &str,
    timeout: Duration,
    call: F,
) -> Result<(), cloudstack::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), cloudstack::Error>>,
{
    retry_cleanup_pausing(what, timeout, CLEANUP_PAUSE, call).await
}

async fn retry_cleanup_pausing<F, Fut>(
    what: &str,
    timeout: Duration,
    first_pause: Duration,
    mut call: F,
) -> Result<(), cloudstack::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), cloudstack::Error>>,
{
    let started = Instant::now();
    let mut pause = first_pause;
    loop {
        let e = match call().await {
            Ok(()) => return Ok(()),
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => e,
        };
        let transient = e.is_retryable()
            || e.may_have_applied()
            || matches!(e, cloudstack::Error::JobTimeout { .. });
        if !transient || started.elapsed() + pause > timeout {
            return Err(e);
        }
        tracing::warn!(what, error = %e, ?pause, "cleanup failed, trying again");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(CLEANUP_PAUSE_CAP);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    const MS: Duration = Duration::from_millis(1);

    fn garbled() -> cloudstack::Error {
        cloudstack::Error::Decode {
            command: "deleteFirewallRule".into(),
            message: "expected value at line 1 column 1".into(),
        }
    }

    #[tokio::test]
    async fn cleanup_retries_transient_failures_until_done() {
        let calls = AtomicU32::new(0);
        let r = retry_cleanup_pausing("firewall rule", Duration::from_secs(60), MS, || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0..=2 => Err(garbled()),
                _ => Ok(()),
            }
        })
        .await;
        assert!(r.is_ok());
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn cleanup_gives_up_after_its_timeout_or_on_a_final_error() {
        let calls = AtomicU32::new(0);
        let started = Instant::now();
        let r = retry_cleanup_pausing("vm", Duration::from_millis(300), MS, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(garbled())
        })
        .await;
        assert!(matches!(r, Err(cloudstack::Error::Decode { .. })));
        assert!(started.elapsed() <= Duration::from_millis(300));
        assert!(calls.load(Ordering::SeqCst) >= 4);

        let calls = AtomicU32::new(0);
        let r = retry_cleanup_pausing("vm", Duration::from_secs(20), MS, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(cloudstack::Error::Api {
                command: "destroyVirtualMachine".into(),
                http_status: 401,
                error_code: 401,
                cs_error_code: 0,
                text: "unable to verify user credentials".into(),
            })
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        // Gone counts as done.
        let r = retry_cleanup_pausing("vm", Duration::from_secs(20), MS, || async {
            Err(cloudstack::Error::Api {
                command: "deleteFirewallRule".into(),
                http_status: 431,
                error_code: 431,
                cs_error_code: 4350,
                text: "Unable to find firewall rule".into(),
            })
        })
        .await;
        assert!(r.is_ok());
    }
}
