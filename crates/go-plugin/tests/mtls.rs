//! AutoMTLS against real rustls clients: the host's exact certificate is
//! accepted, any other certificate (or none) is refused; plaintext mode
//! works without PLUGIN_CLIENT_CERT; the controller's Shutdown ends `serve`.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::{sync::Arc, time::Duration};

use base64::{engine::general_purpose::STANDARD_NO_PAD, Engine as _};
use go_plugin::{
    proto::grpc_controller_client::GrpcControllerClient, CancellationToken, ServeOptions,
};
use hyper_util::rt::TokioIo;
use rustls::{
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    crypto::{aws_lc_rs, CryptoProvider},
    pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime},
    DigitallySignedStruct, SignatureScheme,
};
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::{health_client::HealthClient, HealthCheckRequest};

/// A client certificate shaped like Terraform's: self-signed ECDSA P-521 CA.
struct ClientIdentity {
    pem: String,
    der: CertificateDer<'static>,
    key: Vec<u8>,
}

fn terraform_like_client_cert() -> ClientIdentity {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "HashiCorp");
    let cert = params.self_signed(&key).unwrap();
    ClientIdentity {
        pem: cert.pem(),
        der: cert.der().clone(),
        key: key.serialize_der(),
    }
}

/// Trusts exactly the server certificate from the handshake line, as
/// go-plugin's client does (RootCAs = that certificate).
#[derive(Debug)]
struct PinnedServer {
    der: Vec<u8>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        assert_eq!(
            end_entity.as_ref(),
            self.der.as_slice(),
            "server cert differs from handshake"
        );
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            m,
            c,
            d,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            m,
            c,
            d,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

struct Running {
    socket: String,
    server_cert: Vec<u8>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), go_plugin::Error>>,
}

async fn start(client_cert_pem: Option<String>) -> Running {
    let shutdown = CancellationToken::new();
    let opts = ServeOptions {
        app_protocol_version: 5,
        client_cert_pem,
        socket_parent_dir: None,
        shutdown: shutdown.clone(),
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let routes = tonic::service::Routes::default();
    let task = tokio::spawn(go_plugin::serve(opts, routes, move |line| {
        tx.send(line).unwrap();
    }));
    let line = rx.await.unwrap();
    let parts: Vec<&str> = line.split('|').collect();
    assert_eq!(parts.len(), 6, "{line}");
    assert_eq!(&parts[..3], &["1", "5", "unix"]);
    assert_eq!(parts[4], "grpc");
    assert!(!parts[5].ends_with('='), "cert must be unpadded base64");
    Running {
        socket: parts[3].to_string(),
        server_cert: STANDARD_NO_PAD.decode(parts[5]).unwrap(),
        shutdown,
        task,
    }
}

async fn tls_channel(
    run: &Running,
    client: Option<&ClientIdentity>,
) -> Result<Channel, tonic::transport::Error> {
    let provider = Arc::new(aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedServer {
            der: run.server_cert.clone(),
            provider,
        }));
    let mut config = match client {
        Some(c) => builder
            .with_client_auth_cert(
                vec![c.der.clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(c.key.clone())),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let socket = run.socket.clone();
    Endpoint::from_static("http://localhost")
        .connect_timeout(Duration::from_secs(5))
        .connect_with_connector(tower::service_fn(move |_| {
            let connector = connector.clone();
            let socket = socket.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(socket).await?;
                let name = ServerName::try_from("localhost").unwrap();
                let tls = connector.connect(name, stream).await?;
                Ok::<_, std::io::Error>(TokioIo::new(tls))
            }
        }))
        .await
}

async fn health(channel: Channel) -> Result<i32, tonic::Status> {
    let mut client = HealthClient::new(channel);
    let resp = tokio::time::timeout(
        Duration::from_secs(5),
        client.check(HealthCheckRequest {
            service: "plugin".into(),
        }),
    )
    .await
    .map_err(|_| tonic::Status::deadline_exceeded("timeout"))??;
    Ok(resp.into_inner().status)
}

const SERVING: i32 = 1;

#[tokio::test]
async fn accepts_exactly_the_hosts_certificate() {
    let host = terraform_like_client_cert();
    let intruder = terraform_like_client_cert();
    let run = start(Some(host.pem.clone())).await;

    // the host's own P-521 certificate: health says SERVING
    let ok = tls_channel(&run, Some(&host)).await.unwrap();
    assert_eq!(health(ok.clone()).await.unwrap(), SERVING);

    // another P-521 certificate: refused (TLS 1.3 reports it after the
    // client's Finished, so the failure shows on connect or on the call)
    match tls_channel(&run, Some(&intruder)).await {
        Err(_) => {}
        Ok(ch) => assert!(health(ch).await.is_err(), "intruder was served"),
    }
    // no certificate at all: refused
    match tls_channel(&run, None).await {
        Err(_) => {}
        Ok(ch) => assert!(health(ch).await.is_err(), "anonymous client was served"),
    }

    // graceful shutdown through the controller, socket dir removed
    let socket = std::path::PathBuf::from(&run.socket);
    GrpcControllerClient::new(ok)
        .shutdown(go_plugin::proto::Empty {})
        .await
        .unwrap();
    let result = tokio::time::timeout(Duration::from_secs(5), run.task)
        .await
        .unwrap();
    result.unwrap().unwrap();
    assert!(run.shutdown.is_cancelled());
    assert!(!socket.exists());
    assert!(!socket.parent().unwrap().exists());
}

#[tokio::test]
async fn plaintext_without_client_cert() {
    let run = start(None).await;
    assert!(run.server_cert.is_empty());
    let socket = run.socket.clone();
    let channel = Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_| {
            let socket = socket.clone();
            async move {
                let s = tokio::net::UnixStream::connect(socket).await?;
                Ok::<_, std::io::Error>(TokioIo::new(s))
            }
        }))
        .await
        .unwrap();
    assert_eq!(health(channel).await.unwrap(), SERVING);
    run.shutdown.cancel();
    let result = tokio::time::timeout(Duration::from_secs(5), run.task)
        .await
        .unwrap();
    result.unwrap().unwrap();
}
