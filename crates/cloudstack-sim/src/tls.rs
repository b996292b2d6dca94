//! HTTPS for the simulator (`--tls-dir DIR`), the way an operator's private CA works: a
//! fresh CA certificate signs a server certificate for `localhost` and the listen address.
//! `DIR/ca.pem` is the CA to trust (`ca_file` / `CLOUDSTACK_CA_FILE`); `DIR/cert.pem` and
//! `DIR/key.pem` are what the server presents. Nothing is trusted system-wide.

use std::{net::IpAddr, path::Path, sync::Arc};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tokio_rustls::rustls::{
    self,
    pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer},
};

use crate::error::Error;

fn tls_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Config(format!("HTTPS: {what}: {e}"))
}

/// Writes a CA and a server certificate for `localhost` and `ip` into `dir`, and returns the
/// acceptor serving that certificate.
pub fn self_signed(dir: &Path, ip: IpAddr) -> Result<tokio_rustls::TlsAcceptor, Error> {
    let ca_key = KeyPair::generate().map_err(|e| tls_error("CA key", e))?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(|e| tls_error("CA", e))?;
    ca.distinguished_name
        .push(DnType::CommonName, "cloudstack-sim test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).map_err(|e| tls_error("CA", e))?;
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate().map_err(|e| tls_error("server key", e))?;
    let mut server = CertificateParams::new(vec!["localhost".to_string(), ip.to_string()])
        .map_err(|e| tls_error("server certificate", e))?;
    server
        .distinguished_name
        .push(DnType::CommonName, "cloudstack-sim");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = server
        .signed_by(&key, &issuer)
        .map_err(|e| tls_error("server certificate", e))?;

    std::fs::create_dir_all(dir).map_err(|e| tls_error(&dir.display().to_string(), e))?;
    for (name, text) in [
        ("ca.pem", ca_cert.pem()),
        ("cert.pem", cert.pem()),
        ("key.pem", key.serialize_pem()),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| tls_error(&path.display().to_string(), e))?;
    }

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error("protocol versions", e))?
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .map_err(|e| tls_error("server configuration", e))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_ca_and_a_server_certificate() {
        let dir = tempfile::tempdir().unwrap();
        self_signed(dir.path(), "127.0.0.1".parse().unwrap()).unwrap();
        for name in ["ca.pem", "cert.pem"] {
            let pem = std::fs::read_to_string(dir.path().join(name)).unwrap();
            assert!(
                pem.starts_with("-----BEGIN CERTIFICATE-----"),
                "{name}: {pem}"
            );
        }
        let key = std::fs::read_to_string(dir.path().join("key.pem")).unwrap();
        assert!(key.contains("PRIVATE KEY"));
        assert_ne!(
            std::fs::read(dir.path().join("ca.pem")).unwrap(),
            std::fs::read(dir.path().join("cert.pem")).unwrap()
        );
    }
}
