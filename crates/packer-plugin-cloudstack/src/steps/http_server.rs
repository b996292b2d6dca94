//! Step 2: the local HTTP server (`http_directory`, `http_port_min`/`max`,
//! `http_bind_address`) that `user_data` points VMs at through `{{.HTTPIP}}` and
//! `{{.HTTPPort}}` (iPXE / kickstart installs, the legacy builder's use), then the final
//! `user_data`: rendered, base64-encoded, size-checked. Cleanup stops the server.

use std::{
    net::{IpAddr, SocketAddr},
    path::{Component, Path, PathBuf},
};

use axum::{
    http::{StatusCode, Uri},
    response::IntoResponse,
};
use base64::Engine as _;
use packer_sdk::{
    async_trait,
    steps::{Step, StepContext},
    BoxError,
};

use super::BuildState;

/// Largest base64 user data CloudStack accepts by POST (GET-only: 2048).
const USER_DATA_MAX: usize = 32_768;
const USER_DATA_MAX_GET: usize = 2_048;

/// See the module docs.
#[derive(Debug)]
pub struct HttpServer;

/// Maps a request path into `root`, refusing anything that climbs out of it.
fn file_for(root: &Path, uri_path: &str) -> Option<PathBuf> {
    let rel = Path::new(uri_path.trim_start_matches('/'));
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    let path = root.join(rel);
    path.is_file().then_some(path)
}

/// The address VMs should use for this machine: the bind address if specific, else the
/// local address this host uses to reach the API server (no packet is sent).
fn http_ip(bind: &str, api_url: &str) -> String {
    if bind != "0.0.0.0" && !bind.is_empty() {
        return bind.to_string();
    }
    let host_port = api_url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default();
    let target = if host_port.contains(':') {
        host_port.to_string()
    } else {
        format!("{host_port}:80")
    };
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            use std::net::ToSocketAddrs as _;
            let addr = target
                .to_socket_addrs()?
                .next()
                .ok_or_else(|| std::io::Error::other("no address"))?;
            s.connect(addr)?;
            s.local_addr()
        })
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|_| "127.0.0.1".into())
}

/// Fills `{{.HTTPIP}}`, `{{.HTTPPort}}` and `{{.Name}}` (spaces inside the braces allowed).
fn render_user_data(text: &str, ip: &str, port: &str, name: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        match after[..end].trim() {
            ".HTTPIP" => out.push_str(ip),
            ".HTTPPort" => out.push_str(port),
            ".Name" => out.push_str(name),
            _ => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

#[async_trait]
impl Step<BuildState> for HttpServer {
    fn name(&self) -> &str {
        "http_server"
    }

    async fn run(&self, state: &mut BuildState, ctx: &StepContext) -> Result<(), BoxError> {
        let c = state.config.clone();
        let (mut ip, mut port) = (String::new(), String::new());
        if let Some(dir) = &c.http.directory {
            let bind: IpAddr = c.http.bind_address.parse().map_err(|_| {
                format!(
                    "http_bind_address: {:?} is not an IP address",
                    c.http.bind_address
                )
            })?;
            let mut listener = None;
            for p in c.http.port_min..=c.http.port_max {
                if let Ok(l) = tokio::net::TcpListener::bind(SocketAddr::new(bind, p)).await {
                    listener = Some(l);
                    break;
                }
            }
            let listener = listener.ok_or_else(|| {
                format!(
                    "http_port_min/http_port_max: no free port from {} to {} on {bind}",
                    c.http.port_min, c.http.port_max
                )
            })?;
            let local = listener.local_addr()?;
            let root = dir.clone();
            let app = axum::Router::new().fallback(move |uri: Uri| {
                let root = root.clone();
                async move {
                    match file_for(&root, uri.path()) {
                        Some(path) => match tokio::fs::read(&path).await {
                            Ok(bytes) => (StatusCode::OK, bytes).into_response(),
                            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                        },
                        None => StatusCode::NOT_FOUND.into_response(),
                    }
                }
            });
            let stop = state.http_stop.clone();
            tokio::spawn(async move {
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async move { stop.cancelled().await })
                    .await;
            });
            ip = http_ip(&c.http.bind_address, &c.api_url);
            port = local.port().to_string();
            ctx.ui
                .say(format!(
                    "Starting HTTP server for {} on port {port} (VMs reach it at {ip})",
                    dir.display()
                ))
                .await;
        }
        if let Some(text) = &c.user_data {
            let rendered = render_user_data(text, &ip, &port, &c.template.name);
            let encoded = base64::engine::general_purpose::STANDARD.encode(rendered.as_bytes());
            let max = if c.http_get_only {
                USER_DATA_MAX_GET
            } else {
                USER_DATA_MAX
            };
            if encoded.len() > max {
                return Err(format!(
                    "user_data: {} bytes after base64 encoding, more than the {max} CloudStack \
                     accepts{}",
                    encoded.len(),
                    if c.http_get_only {
                        " over GET (http_get_only)"
                    } else {
                        ""
                    }
                )
                .into());
            }
            state.resolved.user_data = Some(encoded);
        }
        Ok(())
    }

    async fn cleanup(&self, state: &mut BuildState, _ctx: &StepContext) {
        state.http_stop.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_http_fields() {
        assert_eq!(
            render_user_data(
                "url=http://{{.HTTPIP}}:{{ .HTTPPort }}/ks.cfg name={{.Name}} keep={{.Other}}",
                "10.0.0.5",
                "8123",
                "tpl"
            ),
            "url=http://10.0.0.5:8123/ks.cfg name=tpl keep={{.Other}}"
        );
        assert_eq!(render_user_data("a {{ b", "", "", ""), "a {{ b");
    }

    #[test]
    fn never_serves_outside_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ks.cfg"), "x").unwrap();
        assert!(file_for(dir.path(), "/ks.cfg").is_some());
        assert!(file_for(dir.path(), "/../etc/passwd").is_none());
        assert!(file_for(dir.path(), "/missing").is_none());
        assert!(file_for(dir.path(), "/").is_none());
    }

    #[test]
    fn picks_an_address_towards_the_api() {
        assert_eq!(http_ip("192.0.2.7", "http://x/client/api"), "192.0.2.7");
        assert_eq!(
            http_ip("0.0.0.0", "http://127.0.0.1:8080/client/api"),
            "127.0.0.1"
        );
    }
}
