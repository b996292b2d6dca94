//! Port forwarding is real and gated by the ingress firewall; authorized keys follow VMs.

use crate::support::*;
use cloudstack_sim::Options;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn echo_server() -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

/// Connects, sends a line, returns what came back (None if closed/refused).
async fn roundtrip(addr: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).await.ok()?;
    s.write_all(b"ping\n").await.ok()?;
    let mut buf = [0u8; 16];
    match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
        Ok(Ok(n)) if n > 0 => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_forward_follows_firewall() {
    let echo = echo_server().await;
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("authorized_keys");
    let t = TestSim::start(Options {
        ssh_target: Some(echo),
        ssh_authorized_keys: Some(keys.clone()),
        // A range of its own, so tests running in parallel never share addresses.
        public_ip_range: "127.101.0.0/16".parse().unwrap(),
        ..Options::default()
    })
    .await;
    t.ok("createSSHKeyPair", &[("name", "fwd")]).await;
    let vm = t.deploy("fwd-vm", &[("keypair", "fwd")]).await;
    let vmid = vm["id"].as_str().unwrap().to_string();
    let authorized = std::fs::read_to_string(&keys).unwrap();
    assert!(authorized.starts_with("ssh-rsa "), "{authorized}");

    let ip = t
        .run_async("associateIpAddress", &[("networkid", NETWORK)])
        .await;
    let ipid = ip["ipaddress"]["id"].as_str().unwrap().to_string();
    let addr = format!("{}:2222", ip["ipaddress"]["ipaddress"].as_str().unwrap());
    assert!(addr.starts_with("127.101."));
    assert_eq!(roundtrip(&addr).await, None, "no rule yet: refused");

    let pf = t
        .run_async(
            "createPortForwardingRule",
            &[
                ("ipaddressid", &ipid),
                ("protocol", "tcp"),
                ("privateport", "22"),
                ("publicport", "2222"),
                ("virtualmachineid", &vmid),
                ("openfirewall", "false"),
            ],
        )
        .await;
    let pfid = pf["portforwardingrule"]["id"].as_str().unwrap().to_string();
    assert_eq!(roundtrip(&addr).await, None, "no firewall rule: closed");

    let fw = t
        .run_async(
            "createFirewallRule",
            &[
                ("ipaddressid", &ipid),
                ("protocol", "tcp"),
                ("startport", "2222"),
                ("endport", "2222"),
                ("cidrlist", "127.0.0.0/8"),
            ],
        )
        .await;
    let fwid = fw["firewallrule"]["id"].as_str().unwrap().to_string();
    assert_eq!(roundtrip(&addr).await.as_deref(), Some("ping\n"));

    // Stopping the VM: nothing answers; its key leaves authorized_keys.
    t.run_async("stopVirtualMachine", &[("id", &vmid)]).await;
    assert_eq!(roundtrip(&addr).await, None);
    assert_eq!(std::fs::read_to_string(&keys).unwrap(), "");
    t.run_async("startVirtualMachine", &[("id", &vmid)]).await;
    assert_eq!(roundtrip(&addr).await.as_deref(), Some("ping\n"));

    t.run_async("deleteFirewallRule", &[("id", &fwid)]).await;
    assert_eq!(roundtrip(&addr).await, None, "firewall rule gone: closed");

    t.run_async("deletePortForwardingRule", &[("id", &pfid)])
        .await;
    assert!(TcpStream::connect(&addr).await.is_err(), "listener stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_nat_forwards_every_port_the_firewall_opens() {
    let echo = echo_server().await;
    let t = TestSim::start(Options {
        ssh_target: Some(echo),
        public_ip_range: "127.102.0.0/16".parse().unwrap(),
        ..Options::default()
    })
    .await;
    let vm = t.deploy("nat-vm", &[]).await;
    let vmid = vm["id"].as_str().unwrap().to_string();
    let ip = t
        .run_async("associateIpAddress", &[("networkid", NETWORK)])
        .await;
    let ipid = ip["ipaddress"]["id"].as_str().unwrap().to_string();
    let at = |port: u16| format!("{}:{port}", ip["ipaddress"]["ipaddress"].as_str().unwrap());
    t.ok(
        "enableStaticNat",
        &[("ipaddressid", &ipid), ("virtualmachineid", &vmid)],
    )
    .await;
    assert_eq!(
        roundtrip(&at(5050)).await,
        None,
        "no firewall rule: refused"
    );

    // a rule for 5050 and one for a range: each opened port answers, others do not
    for (start, end) in [("5050", "5050"), ("8080", "8081")] {
        t.run_async(
            "createFirewallRule",
            &[
                ("ipaddressid", &ipid),
                ("protocol", "tcp"),
                ("startport", start),
                ("endport", end),
                ("cidrlist", "127.0.0.0/8"),
            ],
        )
        .await;
    }
    for port in [5050, 8080, 8081] {
        assert_eq!(
            roundtrip(&at(port)).await.as_deref(),
            Some("ping\n"),
            "{port}"
        );
    }
    assert_eq!(roundtrip(&at(9090)).await, None, "a port no rule opens");

    // the VM stopped: nothing answers
    t.run_async("stopVirtualMachine", &[("id", &vmid)]).await;
    assert_eq!(roundtrip(&at(5050)).await, None, "VM stopped");
    t.run_async("startVirtualMachine", &[("id", &vmid)]).await;
    assert_eq!(roundtrip(&at(5050)).await.as_deref(), Some("ping\n"));

    t.run_async("disableStaticNat", &[("ipaddressid", &ipid)])
        .await;
    assert!(
        TcpStream::connect(at(5050)).await.is_err(),
        "static NAT off: listener stopped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_nat_on_a_vpc_address_follows_the_tier_acl() {
    let echo = echo_server().await;
    let t = TestSim::start(Options {
        ssh_target: Some(echo),
        public_ip_range: "127.103.0.0/16".parse().unwrap(),
        ..Options::default()
    })
    .await;
    let vpc = t
        .run_async(
            "createVPC",
            &[
                ("name", "nat"),
                ("cidr", "10.30.0.0/16"),
                ("vpcofferingid", "0b8c5e3f-7a10-4c2e-9d11-5e0f0a000001"),
                ("zoneid", ZONE),
            ],
        )
        .await["vpc"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (acl, item) = t.acl_with_port_80(&vpc, "web", "127.0.0.0/8").await;
    let item = item["id"].as_str().unwrap().to_string();
    let tier = t
        .ok(
            "createNetwork",
            &[
                ("name", "web"),
                ("zoneid", ZONE),
                ("networkofferingid", "2a9c8b7d-6e5f-4a3b-9c1d-0e8f7a6b5c42"),
                ("vpcid", &vpc),
                ("aclid", &acl),
                ("gateway", "10.30.1.1"),
                ("netmask", "255.255.255.0"),
            ],
        )
        .await["network"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let vm = t.deploy("vpc-nat-vm", &[("networkids", &tier)]).await;
    let vmid = vm["id"].as_str().unwrap().to_string();
    let ip = t.run_async("associateIpAddress", &[("vpcid", &vpc)]).await;
    let ipid = ip["ipaddress"]["id"].as_str().unwrap().to_string();
    let at = |port: u16| format!("{}:{port}", ip["ipaddress"]["ipaddress"].as_str().unwrap());
    t.ok(
        "enableStaticNat",
        &[
            ("ipaddressid", &ipid),
            ("virtualmachineid", &vmid),
            ("networkid", &tier),
        ],
    )
    .await;
    assert_eq!(roundtrip(&at(80)).await.as_deref(), Some("ping\n"));
    // the item goes: the tier's ACL no longer admits port 80
    t.run_async("deleteNetworkACL", &[("id", &item)]).await;
    assert!(roundtrip(&at(80)).await.is_none(), "ACL closed");
}
