//! Real port forwarding: each active TCP port forwarding rule makes the simulator listen
//! on its public IP and port (inside loopback) and splice every accepted connection to
//! `--ssh-target`, but only while an ingress firewall rule on that IP (on a VPC's IP: the
//! tier's network ACL list) admits the port and the client's address, and the VM is Running (checked at accept time, as a virtual
//! router would filter). Also keeps `--ssh-authorized-keys` equal to the public keys of
//! the key pairs of running VMs, as cloud-init would install them.

use crate::cidr::Ipv4Cidr;
use crate::sandbox::{Sandbox, VmInfo};
use crate::state::World;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A listener that should exist: rule id, public address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Wanted {
    /// Port forwarding rule id.
    pub rule_id: String,
    /// Public IP and port.
    pub addr: SocketAddr,
}

/// The listeners a world needs (TCP rules, at most 16 ports per rule).
pub fn wanted(w: &World) -> Vec<Wanted> {
    let mut out = Vec::new();
    for r in &w.port_forwarding_rules {
        if r.protocol != "tcp" {
            continue;
        }
        let Some(ip) = w.public_ip(&r.ipaddressid) else {
            continue;
        };
        let Ok(ip) = ip.ipaddress.parse::<IpAddr>() else {
            continue;
        };
        let end = r.publicendport.min(r.publicport.saturating_add(15));
        for port in r.publicport..=end {
            out.push(Wanted {
                rule_id: r.id.clone(),
                addr: SocketAddr::new(ip, port),
            });
        }
    }
    out
}

/// Where an admitted connection goes: the rule's VM and the private port it maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    /// The VM (identity and login credentials, for the VM sandboxes).
    pub vm: VmInfo,
    /// The VM-side port (`privateport` + offset inside the rule's range).
    pub private_port: u16,
}

/// Whether a connection from `peer` to `local` may pass for this rule, right now.
pub fn admits(w: &World, rule_id: &str, local: SocketAddr, peer: SocketAddr) -> bool {
    admission(w, rule_id, local, peer).is_some()
}

/// Like [`admits`], also saying where the connection leads.
pub fn admission(
    w: &World,
    rule_id: &str,
    local: SocketAddr,
    peer: SocketAddr,
) -> Option<Admission> {
    let rule = w.port_forwarding_rules.iter().find(|r| r.id == rule_id)?;
    let vm = w
        .vm(&rule.virtualmachineid)
        .filter(|v| v.state == "Running")?;
    let port = local.port();
    let peer_ip = match peer.ip() {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(v6) => v6.to_ipv4_mapped()?,
    };
    let ip = w.public_ip(&rule.ipaddressid)?;
    let open = if ip.vpcid.is_some() {
        // VPC addresses have no firewall: the tier's network ACL decides, on the VM's port.
        let private = rule
            .privateport
            .saturating_add(port.saturating_sub(rule.publicport));
        acl_admits(w, &rule.networkid, private, peer_ip)
    } else {
        firewall_admits(w, &rule.ipaddressid, port, peer_ip)
    };
    if !open {
        return None;
    }
    let public_keys = vm
        .keypair
        .as_deref()
        .and_then(|k| w.ssh_keypairs.iter().find(|kp| kp.name == k))
        .map(|kp| vec![kp.publickey.clone()])
        .unwrap_or_default();
    Some(Admission {
        vm: VmInfo {
            id: vm.id.clone(),
            name: vm.name.clone(),
            public_keys,
            password: vm.password.clone(),
        },
        private_port: rule
            .privateport
            .saturating_add(port.saturating_sub(rule.publicport)),
    })
}

/// Whether an Active ingress firewall rule on the address admits TCP `port` from `peer`.
fn firewall_admits(w: &World, ipaddressid: &str, port: u16, peer: std::net::Ipv4Addr) -> bool {
    w.firewall_rules.iter().any(|f| {
        f.ipaddressid == ipaddressid
            && f.state == "Active"
            && (f.protocol == "tcp" || f.protocol == "all")
            && match (f.startport, f.endport) {
                (Some(s), Some(e)) => s <= port && port <= e,
                _ => f.protocol == "all",
            }
            && cidrs_contain(&f.cidrlist, peer)
    })
}

/// Whether the ACL list of VPC tier `networkid` lets TCP to the VM's `port` in from `peer`:
/// `default_allow` admits everything, `default_deny` nothing; a custom list is read as
/// CloudStack's routers apply it: the Active ingress item with the lowest number that
/// matches decides, and nothing matching means denied.
fn acl_admits(w: &World, networkid: &str, port: u16, peer: std::net::Ipv4Addr) -> bool {
    use crate::state::{DEFAULT_ALLOW_ACL_ID, DEFAULT_DENY_ACL_ID};
    let Some(aclid) = w.vpc.tier_acls.get(networkid) else {
        return false;
    };
    match aclid.as_str() {
        DEFAULT_ALLOW_ACL_ID => return true,
        DEFAULT_DENY_ACL_ID => return false,
        _ => {}
    }
    let mut items: Vec<_> = w
        .vpc
        .acl_items
        .iter()
        .filter(|i| &i.aclid == aclid && i.state == "Active")
        .filter(|i| i.traffictype.eq_ignore_ascii_case("ingress"))
        .filter(|i| {
            let proto = i.protocol.to_ascii_lowercase();
            (proto == "tcp"
                && match (i.startport, i.endport) {
                    (Some(s), Some(e)) => s <= port && port <= e,
                    (Some(s), None) => s == port,
                    _ => true,
                })
                || proto == "all"
        })
        .filter(|i| cidrs_contain(&i.cidrlist, peer))
        .collect();
    items.sort_by_key(|i| i.number);
    items
        .first()
        .is_some_and(|i| i.action.eq_ignore_ascii_case("allow"))
}

fn cidrs_contain(cidrs: &[String], peer: std::net::Ipv4Addr) -> bool {
    cidrs.iter().any(|c| {
        c.parse::<Ipv4Cidr>()
            .map(|c| c.contains(peer))
            .unwrap_or(false)
    })
}

/// The authorized_keys content for a world (sorted, one key per line).
pub fn authorized_keys(w: &World) -> String {
    let mut keys: Vec<&str> = w
        .virtual_machines
        .iter()
        .filter(|v| v.state == "Running")
        .filter_map(|v| v.keypair.as_deref())
        .filter_map(|k| w.ssh_keypairs.iter().find(|kp| kp.name == k))
        .map(|kp| kp.publickey.as_str())
        .collect();
    keys.sort();
    keys.dedup();
    let mut s = keys.join("\n");
    if !s.is_empty() {
        s.push('\n');
    }
    s
}

/// Checks a connection against the current world (rule id, local, peer).
pub type Gate = Arc<dyn Fn(&str, SocketAddr, SocketAddr) -> Option<Admission> + Send + Sync>;

/// Owns the forwarding listeners.
pub struct Forwarder {
    target: Option<SocketAddr>,
    keys_file: Option<PathBuf>,
    sandbox: Option<Arc<Sandbox>>,
    listeners: Mutex<HashMap<Wanted, JoinHandle<()>>>,
    last_keys: Mutex<Option<String>>,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("target", &self.target)
            .field("keys_file", &self.keys_file)
            .field("sandbox", &self.sandbox)
            .finish()
    }
}

impl Forwarder {
    /// A forwarder sending connections to `target`, or, with a `sandbox`, to the VM
    /// sandboxes (port 22: embedded SSH server; other ports: a small HTTP answer).
    pub fn new(
        target: Option<SocketAddr>,
        keys_file: Option<PathBuf>,
        sandbox: Option<Arc<Sandbox>>,
    ) -> Self {
        Forwarder {
            target,
            keys_file,
            sandbox,
            listeners: Mutex::new(HashMap::new()),
            last_keys: Mutex::new(None),
        }
    }

    /// Rewrites the authorized keys file if its content changed.
    pub fn sync_keys(&self, content: String) {
        let Some(path) = &self.keys_file else {
            return;
        };
        let Ok(mut last) = self.last_keys.lock() else {
            return;
        };
        if last.as_deref() == Some(content.as_str()) {
            return;
        }
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let res = std::fs::write(&tmp, &content).and_then(|_| std::fs::rename(&tmp, path));
        match res {
            Ok(()) => *last = Some(content),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot write authorized keys")
            }
        }
    }

    /// Starts missing listeners and stops the ones no longer wanted. Must be called
    /// inside a tokio runtime.
    pub async fn reconcile(&self, wanted: Vec<Wanted>, gate: Gate) {
        let mut to_start = Vec::new();
        let mut stopped = Vec::new();
        {
            let Ok(mut map) = self.listeners.lock() else {
                return;
            };
            let (keep, stop): (HashMap<_, _>, HashMap<_, _>) = map
                .drain()
                .partition(|(k, handle)| wanted.contains(k) && !handle.is_finished());
            *map = keep;
            for (_, handle) in stop {
                handle.abort();
                stopped.push(handle);
            }
            for w in wanted {
                if !map.contains_key(&w) {
                    to_start.push(w);
                }
            }
        }
        // an aborted task drops its listener only when the runtime next polls it: wait for
        // that, so a rule deleted (its job answered) no longer accepts connections
        for handle in stopped {
            let _ = handle.await;
        }
        for w in to_start {
            let listener = match TcpListener::bind(w.addr).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(addr = %w.addr, error = %e, "cannot listen for port forwarding rule");
                    continue;
                }
            };
            tracing::info!(addr = %w.addr, rule = %w.rule_id, "port forwarding listener started");
            let handle = tokio::spawn(accept_loop(
                listener,
                w.clone(),
                self.target,
                self.sandbox.clone(),
                gate.clone(),
            ));
            if let Ok(mut map) = self.listeners.lock() {
                if let Some(old) = map.insert(w, handle) {
                    old.abort();
                }
            }
        }
    }

    /// Stops every listener.
    pub fn shutdown(&self) {
        if let Ok(mut map) = self.listeners.lock() {
            for (_, h) in map.drain() {
                h.abort();
            }
        }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn accept_loop(
    listener: TcpListener,
    w: Wanted,
    target: Option<SocketAddr>,
    sandbox: Option<Arc<Sandbox>>,
    gate: Gate,
) {
    loop {
        let Ok((mut inbound, peer)) = listener.accept().await else {
            continue;
        };
        let Some(admission) = gate(&w.rule_id, w.addr, peer) else {
            tracing::info!(addr = %w.addr, %peer, "connection refused by firewall");
            drop(inbound);
            continue;
        };
        if let Some(sandbox) = &sandbox {
            if admission.private_port == 22 {
                sandbox.serve_ssh(inbound, admission.vm);
            } else {
                sandbox.serve_http(inbound, admission.vm, admission.private_port);
            }
            continue;
        }
        let Some(target) = target else {
            tracing::info!(addr = %w.addr, "no --ssh-target: closing forwarded connection");
            continue;
        };
        tokio::spawn(async move {
            match TcpStream::connect(target).await {
                Ok(mut outbound) => {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
                Err(e) => tracing::warn!(%target, error = %e, "ssh target unreachable"),
            }
        });
    }
}
