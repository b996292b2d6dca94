//! The answer of a VM's forwarded non-SSH port: one small HTTP response naming the VM and
//! the port, so the Mesos and Marathon URLs a demo prints lead somewhere.
//!
//! Written by hand rather than with hyper: it is a single canned response per connection,
//! sent after the request head (or a short wait, for clients that send nothing).

use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// What usually listens on a port of a Mesos cluster node.
pub fn service_name(port: u16) -> &'static str {
    match port {
        5050 => "Mesos master",
        5051 => "Mesos agent",
        8080 => "Marathon",
        2181 => "ZooKeeper",
        _ => "service",
    }
}

/// The body of the answer for `vm` and `port`.
pub fn body(vm: &str, port: u16) -> String {
    format!("simulated {} on VM {vm} port {port}\n", service_name(port))
}

/// Reads the request head (bounded in size and time), answers, closes.
pub async fn answer(mut stream: TcpStream, vm: String, port: u16) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    let read_head = async {
        while head.len() < 16 * 1024 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    head.extend_from_slice(&buf[..n]);
                    if head.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), read_head).await;
    let body = body(&vm, port);
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_name_vm_service_and_port() {
        assert_eq!(
            body("master-0", 5050),
            "simulated Mesos master on VM master-0 port 5050\n"
        );
        assert_eq!(body("m", 8080), "simulated Marathon on VM m port 8080\n");
        assert_eq!(body("m", 9), "simulated service on VM m port 9\n");
    }
}
