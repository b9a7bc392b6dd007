//! TLS for both sides of the gateway, with rustls and the ring provider.
//!
//! The server offers HTTP/2 and HTTP/1.1 (ALPN) and asks every client for a
//! certificate signed by `server.client_ca`, but does not require one at the
//! TLS layer: Open311 clients authenticate with an API key and `/healthz` is
//! open, so the HTTP layer decides, per endpoint, whether the certificate's
//! identity ([`peer_identity`]) is required. A certificate that is offered
//! and does not verify fails the handshake.
//!
//! The client (deliveries to partners) presents the gateway's client
//! certificate and trusts only `client.ca`.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::CertificateDer;

use crate::config::{Certs, Config};

/// The ALPN protocols offered by both sides, preferred first.
pub const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Why a TLS configuration could not be built from a loaded [`Config`].
/// Each message names the configuration keys involved.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A CA bundle holds a certificate that cannot be a trust anchor.
    #[error("{key}: {} cannot be a trust anchor: {source}", path.display())]
    TrustAnchor {
        /// The configuration key (`server.client_ca`, `client.ca`).
        key: &'static str,
        /// The bundle's file.
        path: std::path::PathBuf,
        /// rustls's reason.
        source: rustls::Error,
    },
    /// The client certificate verifier could not be built.
    #[error("server.client_ca: {0}")]
    Verifier(rustls::server::VerifierBuilderError),
    /// The server certificate and key are unusable together (wrong key,
    /// unsupported key type...).
    #[error("server.cert, server.key: {}", describe(.0))]
    ServerCert(rustls::Error),
    /// The gateway's client certificate and key are unusable together.
    #[error("client.cert, client.key: {}", describe(.0))]
    ClientCert(rustls::Error),
    /// The ring provider refused the protocol versions (not expected).
    #[error("TLS protocol versions: {0}")]
    Versions(rustls::Error),
}

fn describe(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
            "the private key does not belong to the certificate".to_owned()
        }
        e => e.to_string(),
    }
}

/// The crypto provider of the whole gateway.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server's TLS configuration: `server.cert`/`server.key`, client
/// certificates verified against `server.client_ca` but optional, ALPN h2
/// and http/1.1.
pub fn server_config(cfg: &Config) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = provider();
    let roots = roots("server.client_ca", &cfg.server.client_ca)?;
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(TlsError::Verifier)?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Versions)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            cfg.server.cert.certs.clone(),
            cfg.server.key.der.clone_key(),
        )
        .map_err(TlsError::ServerCert)?;
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The delivery client's TLS configuration: the gateway's client
/// certificate (`client.cert`/`client.key`), partners' servers verified
/// against `client.ca`, ALPN h2 and http/1.1.
pub fn client_config(cfg: &Config) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let roots = roots("client.ca", &cfg.client.ca)?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Versions)?
        .with_root_certificates(roots)
        .with_client_auth_cert(
            cfg.client.cert.certs.clone(),
            cfg.client.key.der.clone_key(),
        )
        .map_err(TlsError::ClientCert)?;
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

fn roots(key: &'static str, bundle: &Certs) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in &bundle.certs {
        roots
            .add(cert.clone())
            .map_err(|source| TlsError::TrustAnchor {
                key,
                path: bundle.path.clone(),
                source,
            })?;
    }
    Ok(roots)
}

/// The identity of a TLS peer: the subject common name of its end-entity
/// certificate (the first of `certs`, as rustls's `peer_certificates()`
/// gives them, already verified against the CA). `None` when the peer sent
/// no certificate or its subject has no common name.
pub fn peer_identity(certs: &[CertificateDer<'_>]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(certs.first()?).ok()?;
    let cn = cert.subject().iter_common_name().next()?;
    cn.as_str().ok().map(str::to_owned)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
