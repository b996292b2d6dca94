//! Real port forwarding: each active TCP port forwarding rule makes the simulator listen
//! on its public IP and port (inside loopback) and splice every accepted connection to
//! `--ssh-target`, but only while an ingress firewall rule on that IP admits the port and
//! the client's address, and the VM is Running (checked at accept time, as a virtual
//! router would filter). Also keeps `--ssh-authorized-keys` equal to the public keys of
//! the key pairs of running VMs, as cloud-init would install them.

use crate::cidr::Ipv4Cidr;
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

/// Whether a connection from `peer` to `local` may pass for this rule, right now.
pub fn admits(w: &World, rule_id: &str, local: SocketAddr, peer: SocketAddr) -> bool {
    let Some(rule) = w.port_forwarding_rules.iter().find(|r| r.id == rule_id) else {
        return false;
    };
    let vm_running = w
        .vm(&rule.virtualmachineid)
        .map(|v| v.state == "Running")
        .unwrap_or(false);
    if !vm_running {
        return false;
    }
    let port = local.port();
    let peer_ip = match peer.ip() {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4,
            None => return false,
        },
    };
    w.firewall_rules.iter().any(|f| {
        f.ipaddressid == rule.ipaddressid
            && f.state == "Active"
            && (f.protocol == "tcp" || f.protocol == "all")
            && match (f.startport, f.endport) {
                (Some(s), Some(e)) => s <= port && port <= e,
                _ => f.protocol == "all",
            }
            && f.cidrlist.iter().any(|c| {
                c.parse::<Ipv4Cidr>()
                    .map(|c| c.contains(peer_ip))
                    .unwrap_or(false)
            })
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

/// Checks a connection against the current world.
pub type Gate = Arc<dyn Fn(&str, SocketAddr, SocketAddr) -> bool + Send + Sync>;

/// Owns the forwarding listeners.
pub struct Forwarder {
    target: Option<SocketAddr>,
    keys_file: Option<PathBuf>,
    listeners: Mutex<HashMap<Wanted, JoinHandle<()>>>,
    last_keys: Mutex<Option<String>>,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("target", &self.target)
            .field("keys_file", &self.keys_file)
            .finish()
    }
}

impl Forwarder {
    /// A forwarder sending connections to `target`.
    pub fn new(target: Option<SocketAddr>, keys_file: Option<PathBuf>) -> Self {
        Forwarder {
            target,
            keys_file,
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
        {
            let Ok(mut map) = self.listeners.lock() else {
                return;
            };
            map.retain(|k, handle| {
                let keep = wanted.contains(k) && !handle.is_finished();
                if !keep {
                    handle.abort();
                }
                keep
            });
            for w in wanted {
                if !map.contains_key(&w) {
                    to_start.push(w);
                }
            }
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
            let handle = tokio::spawn(accept_loop(listener, w.clone(), self.target, gate.clone()));
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

async fn accept_loop(listener: TcpListener, w: Wanted, target: Option<SocketAddr>, gate: Gate) {
    loop {
        let Ok((mut inbound, peer)) = listener.accept().await else {
            continue;
        };
        if !gate(&w.rule_id, w.addr, peer) {
            tracing::info!(addr = %w.addr, %peer, "connection refused by firewall");
            drop(inbound);
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
