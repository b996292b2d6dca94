//! The real reqwest transport against tiny local servers: GET vs POST, limits, and how
//! connection failures are classified (refused = never sent, dropped/timeout = maybe sent).

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{extract::RawQuery, http::Method, routing::any, Router};
use cloudstack::{Client, Config, Error, Params, RetryPolicy};
use tokio::{io::AsyncReadExt, net::TcpListener};

use crate::support::{expected_signature, KEY, SECRET};

type Seen = Arc<Mutex<Vec<(Method, usize, bool)>>>;

/// Serves `/client/api`: checks the signature, records (method, query bytes, signature ok).
async fn serve() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let seen2 = seen.clone();
    let app = Router::new().route(
        "/client/api",
        any(move |method: Method, RawQuery(q): RawQuery, body: String| {
            let seen = seen2.clone();
            async move {
                let raw = if method == Method::POST { body } else { q.unwrap_or_default() };
                let pairs: Vec<(String, String)> =
                    url::form_urlencoded::parse(raw.as_bytes()).into_owned().collect();
                let sig = pairs.iter().find(|(n, _)| n == "signature").map(|(_, v)| v.clone());
                let expected = expected_signature(&pairs);
                let ok = sig.as_deref() == Some(expected.as_str());
                seen.lock().unwrap().push((method, raw.len(), ok));
                if ok {
                    (
                        axum::http::StatusCode::OK,
                        r#"{"listzonesresponse":{"count":1,"zone":[{"id":"z1","name":"zone001"}]}}"#,
                    )
                } else {
                    (
                        axum::http::StatusCode::UNAUTHORIZED,
                        r#"{"listzonesresponse":{"errorcode":401,"errortext":"unable to verify user credentials and/or request signature"}}"#,
                    )
                }
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/client/api"), seen)
}

fn config(url: &str) -> Config {
    let mut cfg = Config::new(url, KEY, SECRET);
    cfg.retry = RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(2),
    };
    cfg.request_timeout = Duration::from_millis(500);
    cfg
}

#[tokio::test]
async fn get_by_default_post_when_asked_or_too_long() {
    let (url, seen) = serve().await;
    let client = Client::new(config(&url)).unwrap();
    let zones = client.list_zones(&Params::new()).await.unwrap();
    assert_eq!(zones[0].name.as_deref(), Some("zone001"));
    client
        .request_post("listZones", &Params::new().with("name", "a b*~'"))
        .await
        .unwrap();
    let big = "A".repeat(6000);
    client
        .request("listZones", &Params::new().with("userdata", big.as_str()))
        .await
        .unwrap();
    let seen = seen.lock().unwrap().clone();
    let methods: Vec<Method> = seen.iter().map(|(m, _, _)| m.clone()).collect();
    // list_zones adds page/pagesize: GET; explicit POST; long request: POST.
    assert_eq!(methods, [Method::GET, Method::POST, Method::POST]);
    assert!(
        seen.iter().all(|(_, _, ok)| *ok),
        "a signature was rejected"
    );
    assert!(seen[2].1 > 6000);
}

#[tokio::test]
async fn get_only_refuses_long_requests_without_sending() {
    let (url, seen) = serve().await;
    let mut cfg = config(&url);
    cfg.http_get_only = true;
    let client = Client::new(cfg).unwrap();
    let err = client
        .request(
            "listZones",
            &Params::new().with("userdata", "A".repeat(6000)),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RequestTooLarge { .. }), "{err}");
    assert!(seen.lock().unwrap().is_empty());
    client
        .request_post("listZones", &Params::new())
        .await
        .unwrap();
    assert_eq!(seen.lock().unwrap()[0].0, Method::GET);
}

#[tokio::test]
async fn refused_connection_is_never_sent_and_retried() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = Client::new(config(&format!("http://{addr}/client/api"))).unwrap();
    let err = client
        .request("deployVirtualMachine", &Params::new())
        .await
        .unwrap_err();
    match &err {
        Error::Transport { maybe_sent, .. } => assert!(!maybe_sent, "{err}"),
        other => panic!("unexpected {other}"),
    }
    assert!(!err.may_have_applied());
}

#[tokio::test]
async fn dropped_connection_may_have_applied_and_create_is_not_resent() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(Mutex::new(0usize));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            *count.lock().unwrap() += 1;
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            drop(sock); // read the request, answer nothing
        }
    });
    let client = Client::new(config(&format!("http://{addr}/client/api"))).unwrap();
    let err = client
        .request("deployVirtualMachine", &Params::new().with("name", "x"))
        .await
        .unwrap_err();
    assert!(err.may_have_applied(), "{err}");
    assert_eq!(*accepted.lock().unwrap(), 1, "a create was re-sent");
    // A list is retried up to max_attempts.
    let _ = client
        .request("listZones", &Params::new())
        .await
        .unwrap_err();
    assert_eq!(*accepted.lock().unwrap(), 1 + 3);
}

#[tokio::test]
async fn timeout_is_reported_as_maybe_sent() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            held.push(sock); // never answer
        }
    });
    let mut cfg = config(&format!("http://{addr}/client/api"));
    cfg.request_timeout = Duration::from_millis(200);
    let client = Client::new(cfg).unwrap();
    let err = client
        .request("createNetwork", &Params::new().with("name", "n"))
        .await
        .unwrap_err();
    match &err {
        Error::Transport {
            maybe_sent,
            timeout,
            message,
            ..
        } => {
            assert!(*maybe_sent && *timeout, "{err}");
            assert!(!message.contains("signature"), "{message}");
        }
        other => panic!("unexpected {other}"),
    }
}

/// A server (or a proxy gone wrong) that never stops answering: the client stops reading one
/// byte past `MAX_RESPONSE_BYTES`, reports `ResponseTooLarge` naming the command, and does not
/// ask again.
#[tokio::test]
async fn endless_answer_stops_at_the_size_cap() {
    use tokio::io::AsyncWriteExt as _;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(Mutex::new(0usize));
    let count = accepted.clone();
    let (sent_tx, sent_rx) = tokio::sync::oneshot::channel::<usize>();
    tokio::spawn(async move {
        let Ok((mut sock, _)) = listener.accept().await else {
            return;
        };
        *count.lock().unwrap() += 1;
        let mut buf = [0u8; 4096];
        let _ = sock.read(&mut buf).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
        let mut sent = 0usize;
        if sock.write_all(head.as_bytes()).await.is_ok() {
            let filler = vec![b' '; 1 << 20];
            let chunk = [
                format!("{:x}\r\n", filler.len()).into_bytes(),
                filler,
                b"\r\n".to_vec(),
            ]
            .concat();
            let mut first = b"16\r\n{\"listzonesresponse\": \r\n".to_vec();
            while sock.write_all(&first).await.is_ok() {
                sent += first.len();
                first.clone_from(&chunk);
            }
        }
        let _ = sent_tx.send(sent);
        // Keep accepting so a retry would be counted, not refused.
        while let Ok((sock, _)) = listener.accept().await {
            *count.lock().unwrap() += 1;
            drop(sock);
        }
    });
    let mut cfg = config(&format!("http://{addr}/client/api"));
    cfg.request_timeout = Duration::from_secs(120);
    let client = Client::new(cfg).unwrap();
    let err = client.list_zones(&Params::new()).await.unwrap_err();
    assert!(
        matches!(&err, Error::ResponseTooLarge { command, limit }
            if command == "listZones" && *limit == cloudstack::transport::MAX_RESPONSE_BYTES),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("larger than 64 MiB"), "{text}");
    assert!(!err.is_retryable());
    let sent = sent_rx.await.unwrap();
    assert!(
        sent < cloudstack::transport::MAX_RESPONSE_BYTES + (16 << 20),
        "the client kept reading: {sent} bytes sent"
    );
    assert_eq!(
        *accepted.lock().unwrap(),
        1,
        "a too-large answer was asked for again"
    );
}

/// `ca_file` problems are configuration errors naming the file, before any request.
#[test]
fn bad_ca_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let missing = dir.path().join("missing.pem");
    for (path, why) in [
        (&missing, "cannot read it"),
        (&not_pem, "holds no certificate"),
    ] {
        let mut cfg = config("https://127.0.0.1:1/client/api");
        cfg.ca_file = Some(path.clone());
        let err = Client::new(cfg).unwrap_err().to_string();
        assert!(err.contains("ca_file") && err.contains(why), "{err}");
        assert!(err.contains(&path.display().to_string()), "{err}");
    }
    let env = |k: &str| {
        [
            ("CLOUDSTACK_API_URL", "https://cs/client/api"),
            ("CLOUDSTACK_API_KEY", "k"),
            ("CLOUDSTACK_SECRET_KEY", "s"),
            ("CLOUDSTACK_CA_FILE", "/etc/ssl/private-ca.pem"),
        ]
        .iter()
        .find(|(n, _)| *n == k)
        .map(|(_, v)| v.to_string())
    };
    let cfg = Config::from_lookup(env).unwrap();
    assert_eq!(
        cfg.ca_file.as_deref(),
        Some(std::path::Path::new("/etc/ssl/private-ca.pem"))
    );
}
