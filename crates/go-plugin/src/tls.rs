//! AutoMTLS, go-plugin style: the host passes its client certificate in
//! `PLUGIN_CLIENT_CERT`; we make an ephemeral server certificate, announce
//! it in the handshake line, and accept exactly the host's certificate.
//!
//! Terraform's client certificate is a self-signed ECDSA P-521 / SHA-512
//! CA certificate. webpki's chain verifier refuses CA certificates used as
//! end entities, so we use our own `ClientCertVerifier`: compare the DER
//! byte for byte, and still check the handshake signatures with aws-lc-rs
//! (which, unlike ring, verifies P-521).

use std::sync::Arc;

use rustls::{
    client::danger::HandshakeSignatureValid,
    crypto::{aws_lc_rs, ring, verify_tls12_signature, verify_tls13_signature, CryptoProvider},
    pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime},
    server::danger::{ClientCertVerified, ClientCertVerifier},
    DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme,
};

use crate::Error;

/// Our ephemeral server certificate and its key.
#[derive(Debug)]
pub struct ServerIdentity {
    /// DER of the self-signed certificate (goes into the handshake line).
    pub cert_der: CertificateDer<'static>,
    key_der: PrivatePkcs8KeyDer<'static>,
}

/// Makes a fresh self-signed certificate for `localhost` (the name the
/// host verifies), CA:TRUE like go-plugin's own, with an ECDSA P-256 key.
pub fn generate_server_identity() -> Result<ServerIdentity, Error> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::new(vec!["localhost".to_string()])?;
    params
        .distinguished_name
        .push(DnType::OrganizationName, "mesostack go-plugin");
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::KeyAgreement,
        KeyUsagePurpose::KeyCertSign,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::seconds(30);
    params.not_after = now + time::Duration::days(365);
    let cert = params.self_signed(&key)?;
    Ok(ServerIdentity {
        cert_der: cert.der().clone(),
        key_der: PrivatePkcs8KeyDer::from(key.serialize_der()),
    })
}

/// Parses the PEM the host put in `PLUGIN_CLIENT_CERT`.
pub fn parse_client_certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::ClientCert(e.to_string()))?;
    if certs.is_empty() {
        return Err(Error::ClientCert("no CERTIFICATE block".into()));
    }
    Ok(certs)
}

/// rustls server configuration: TLS 1.2+, ALPN h2, client certificate
/// required and equal to one of `allowed_clients`.
///
/// The key, the key exchange and the ciphers are *ring*'s, not aws-lc-rs's: aws-lc seeds its
/// random generator from CPU jitter entropy on first use, ~20 ms of CPU at every plugin
/// start, and Terraform starts a provider three or four times per command (measured: the
/// handshake line after 23 ms with aws-lc, 2 ms with ring). Signatures are verified with
/// aws-lc's algorithms, which need no randomness and, unlike ring's, include the ECDSA P-521
/// that go-plugin's client certificates use.
pub fn server_config(
    identity: &ServerIdentity,
    allowed_clients: Vec<CertificateDer<'static>>,
) -> Result<Arc<ServerConfig>, Error> {
    let provider = Arc::new(ring::default_provider());
    let verifier = ExactClientCert {
        allowed: allowed_clients,
        provider: Arc::new(aws_lc_rs::default_provider()),
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_single_cert(
            vec![identity.cert_der.clone()],
            PrivateKeyDer::Pkcs8(identity.key_der.clone_key()),
        )?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// Accepts exactly the listed client certificates (compared as DER) and
/// verifies handshake signatures with aws-lc-rs's algorithms.
#[derive(Debug)]
struct ExactClientCert {
    allowed: Vec<CertificateDer<'static>>,
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for ExactClientCert {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // No hints: Go's client then sends its only certificate.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if self
            .allowed
            .iter()
            .any(|c| c.as_ref() == end_entity.as_ref())
        {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_cert_is_for_localhost_and_parses_back() {
        let id = generate_server_identity().unwrap();
        // round trip through PEM as the host would hand it to us
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &id.cert_der);
        let text = format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n");
        let parsed = parse_client_certs(&text).unwrap();
        assert_eq!(parsed[0].as_ref(), id.cert_der.as_ref());
        assert!(server_config(&id, parsed).is_ok());
    }

    #[test]
    fn garbage_client_cert_is_an_error() {
        assert!(matches!(
            parse_client_certs("hello"),
            Err(Error::ClientCert(_))
        ));
    }

    #[test]
    fn verifier_offers_p521() {
        let v = ExactClientCert {
            allowed: vec![],
            provider: Arc::new(aws_lc_rs::default_provider()),
        };
        assert!(v
            .supported_verify_schemes()
            .contains(&SignatureScheme::ECDSA_NISTP521_SHA512));
        let other = CertificateDer::from(vec![1, 2, 3]);
        assert!(v.verify_client_cert(&other, &[], UnixTime::now()).is_err());
    }
}
