//! The HTTP seam: a small [`Transport`] trait so retry, paging and job logic can be tested with
//! a scripted transport, and the one place that knows reqwest ([`ReqwestTransport`]).

use std::{fmt, future::Future, pin::Pin, time::Duration};

use crate::{config::Config, error::Error};

/// HTTP method of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Signed query in the URL.
    Get,
    /// Signed query as an `application/x-www-form-urlencoded` body.
    Post,
}

/// The largest answer read (64 MiB, far above any real CloudStack answer of one page). The
/// transport stops one byte past it and the client reports [`Error::ResponseTooLarge`].
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// One HTTP request to the API endpoint.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// GET or POST.
    pub method: Method,
    /// The endpoint URL without query (`api_url`).
    pub url: String,
    /// The signed, encoded query (`command=...&...&signature=...`).
    pub query: String,
    /// The command name, for logs and errors.
    pub command: String,
}

impl fmt::Debug for HttpRequest {
    // The query holds the api key and signature: never print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("command", &self.command)
            .field("query_len", &self.query.len())
            .finish()
    }
}

/// An HTTP answer: status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// HTTP status code.
    pub status: u16,
    /// Raw body.
    pub body: Vec<u8>,
}

/// A failure below HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError {
    /// Whether the request may have reached the server (timeouts and drops after connecting).
    pub maybe_sent: bool,
    /// Whether it was a timeout.
    pub timeout: bool,
    /// Description (never contains the query).
    pub message: String,
}

/// Boxed future returned by [`Transport::send`].
pub type SendFuture<'a> =
    Pin<Box<dyn Future<Output = Result<HttpResponse, TransportError>> + Send + 'a>>;

/// Sends one HTTP request. Implemented by [`ReqwestTransport`] and by test doubles.
pub trait Transport: Send + Sync + fmt::Debug {
    /// Performs `req` once, without retries.
    fn send(&self, req: HttpRequest) -> SendFuture<'_>;
}

/// The production transport: reqwest with rustls (aws-lc-rs), TLS verified unless
/// `ssl_no_verify`, a per-request timeout.
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    http: reqwest::Client,
}

impl ReqwestTransport {
    /// Builds the HTTP client from `config`.
    pub fn new(config: &Config) -> Result<Self, Error> {
        let mut builder = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout.min(Duration::from_secs(30)))
            .danger_accept_invalid_certs(config.ssl_no_verify)
            .user_agent(concat!("mesostack-cloudstack/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &config.ca_file {
            builder = builder.tls_certs_merge(ca_certificates(path)?);
        }
        let http = builder
            .build()
            .map_err(|e| Error::Config(format!("cannot build HTTP client: {e}")))?;
        Ok(Self { http })
    }
}

impl Transport for ReqwestTransport {
    fn send(&self, req: HttpRequest) -> SendFuture<'_> {
        Box::pin(async move {
            let builder = match req.method {
                Method::Get => self.http.get(format!("{}?{}", req.url, req.query)),
                Method::Post => self
                    .http
                    .post(&req.url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(req.query),
            };
            let mut resp = builder.send().await.map_err(classify)?;
            let status = resp.status().as_u16();
            // Read at most one byte past the cap: enough for the client to report
            // `ResponseTooLarge`, never an unbounded buffer.
            let expected = resp.content_length().unwrap_or(0).min(1 << 20);
            let mut body = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
            while let Some(chunk) = resp.chunk().await.map_err(|e| {
                // The server answered, so it certainly received the request.
                let mut t = classify(e);
                t.maybe_sent = true;
                t
            })? {
                let room = MAX_RESPONSE_BYTES + 1 - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() > MAX_RESPONSE_BYTES {
                    break;
                }
            }
            Ok(HttpResponse { status, body })
        })
    }
}

/// The CA certificates of a PEM file, trusted besides the system's.
fn ca_certificates(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, Error> {
    let shown = path.display();
    let pem = std::fs::read(path)
        .map_err(|e| Error::Config(format!("ca_file {shown}: cannot read it: {e}")))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| Error::Config(format!("ca_file {shown}: not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(Error::Config(format!(
            "ca_file {shown}: holds no certificate (expected PEM \"BEGIN CERTIFICATE\" blocks)"
        )));
    }
    Ok(certs)
}

fn classify(e: reqwest::Error) -> TransportError {
    // Only a failed connect proves the server never saw the request.
    let connect = e.is_connect();
    TransportError {
        maybe_sent: !connect,
        timeout: e.is_timeout(),
        message: describe(e),
    }
}

/// The error and its causes, without the URL (it may carry the signed query).
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    if msg.contains("invalid peer certificate") || msg.contains("UnknownIssuer") {
        msg = format!(
            "the server's TLS certificate is not trusted ({msg}); if it is signed by a private \
             CA, trust that CA with `ca_file` (the provider block or the builder) or \
             CLOUDSTACK_CA_FILE, a PEM file; verification stays on"
        );
    }
    msg
}
