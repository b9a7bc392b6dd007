//! Real handshakes over loopback sockets, tokio-rustls on both sides, with
//! the committed development set of `certs-example/` loaded through the
//! demo configuration.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::*;
use crate::config;

fn certs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../certs-example")
}

fn demo() -> Config {
    config::load(&certs_dir().join("demo.toml")).unwrap()
}

fn pem_certs(name: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(certs_dir().join(name))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn pem_key(name: &str) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_file(certs_dir().join(name)).unwrap()
}

/// A certificate and key from a CA that is not the partner CA, made by the
/// test: same subject CN as a real partner, so only the issuer differs.
fn foreign(cn: &str, server: bool) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Some other CA");
    let ca = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let names = if server {
        vec!["localhost".to_owned()]
    } else {
        vec![]
    };
    let mut params = rcgen::CertificateParams::new(names).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let cert = params.signed_by(&key, &ca).unwrap();
    let key = PrivateKeyDer::try_from(key.serialize_der()).unwrap();
    (vec![cert.der().clone()], key)
}

/// A partner's TLS client trusting the development CA, with an optional
/// client certificate.
fn partner_client(
    identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Arc<rustls::ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(pem_certs("ca.pem").remove(0)).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match identity {
        Some((certs, key)) => builder.with_client_auth_cert(certs, key).unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(config)
}

/// What the server side saw of one connection: the peer's identity and the
/// negotiated ALPN protocol.
type Seen = (Option<String>, Option<Vec<u8>>);

/// Accepts one TLS connection on loopback, answers `ping` with `pong`.
async fn serve_once(
    config: Arc<rustls::ServerConfig>,
) -> (SocketAddr, JoinHandle<io::Result<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        let mut tls = TlsAcceptor::from(config).accept(tcp).await?;
        let (_, connection) = tls.get_ref();
        let seen = (
            peer_identity(connection.peer_certificates().unwrap_or_default()),
            connection.alpn_protocol().map(<[u8]>::to_vec),
        );
        let mut ping = [0u8; 4];
        tls.read_exact(&mut ping).await?;
        tls.write_all(b"pong").await?;
        tls.shutdown().await?;
        Ok(seen)
    });
    (addr, task)
}

/// Connects, sends `ping` and returns the answer.
async fn ping(addr: SocketAddr, config: Arc<rustls::ClientConfig>) -> io::Result<String> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = TlsConnector::from(config).connect(name, tcp).await?;
    tls.write_all(b"ping").await?;
    let mut answer = String::new();
    tls.read_to_string(&mut answer).await?;
    Ok(answer)
}

#[tokio::test]
async fn a_partner_certificate_from_the_dev_ca_is_accepted_and_named() {
    let (addr, server) = serve_once(server_config(&demo()).unwrap()).await;
    let client = partner_client(Some((
        pem_certs("partners/hb-131000.pem"),
        pem_key("partners/hb-131000.key"),
    )));
    assert_eq!(ping(addr, client).await.unwrap(), "pong");
    let (identity, alpn) = server.await.unwrap().unwrap();
    assert_eq!(identity.as_deref(), Some("hb-131000"));
    assert_eq!(alpn.as_deref(), Some(&b"h2"[..]));
    let cfg = demo();
    let partner = cfg.partner_by_identity(&identity.unwrap()).unwrap();
    assert_eq!(partner.id, "hb-131000");
}

#[tokio::test]
async fn a_certificate_from_another_ca_fails_the_handshake() {
    let (addr, server) = serve_once(server_config(&demo()).unwrap()).await;
    let client = partner_client(Some(foreign("bj12345", false)));
    let answer = ping(addr, client).await;
    assert!(answer.is_err(), "{answer:?}");
    let err = server.await.unwrap().unwrap_err();
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
}

#[tokio::test]
async fn a_client_without_a_certificate_connects_anonymously() {
    let (addr, server) = serve_once(server_config(&demo()).unwrap()).await;
    assert_eq!(ping(addr, partner_client(None)).await.unwrap(), "pong");
    let (identity, _) = server.await.unwrap().unwrap();
    assert_eq!(identity, None);
}

#[tokio::test]
async fn http1_only_clients_negotiate_http1() {
    let (addr, server) = serve_once(server_config(&demo()).unwrap()).await;
    let mut client = (*partner_client(None)).clone();
    client.alpn_protocols = vec![b"http/1.1".to_vec()];
    assert_eq!(ping(addr, Arc::new(client)).await.unwrap(), "pong");
    let (_, alpn) = server.await.unwrap().unwrap();
    assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));
}

/// A simulated partner server: its certificate from the set, requiring a
/// client certificate from the development CA.
fn partner_server(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Arc<rustls::ServerConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(pem_certs("ca.pem").remove(0)).unwrap();
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .unwrap();
    Arc::new(config)
}

#[tokio::test]
async fn the_gateway_delivers_as_gateway_to_a_partner_server() {
    let server_config = partner_server(
        pem_certs("partners/bj12345-server.pem"),
        pem_key("partners/bj12345-server.key"),
    );
    let (addr, server) = serve_once(server_config).await;
    let client = client_config(&demo()).unwrap();
    assert_eq!(ping(addr, client).await.unwrap(), "pong");
    let (identity, _) = server.await.unwrap().unwrap();
    assert_eq!(identity.as_deref(), Some("gateway"));
}

#[tokio::test]
async fn the_gateway_refuses_a_partner_server_from_another_ca() {
    let (certs, key) = foreign("bj12345", true);
    let (addr, server) = serve_once(partner_server(certs, key)).await;
    let err = ping(addr, client_config(&demo()).unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    assert!(server.await.unwrap().is_err());
}

#[test]
fn peer_identity_reads_the_end_entity_common_name_only() {
    let chain = pem_certs("partners/pu-military-001.pem");
    assert_eq!(peer_identity(&chain).as_deref(), Some("pu-military-001"));
    assert_eq!(peer_identity(&[]), None);
    assert_eq!(peer_identity(&[CertificateDer::from(vec![1, 2, 3])]), None);
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    let nameless = params.self_signed(&key).unwrap();
    assert_eq!(peer_identity(&[nameless.der().clone()]), None);
}

#[test]
fn a_key_that_does_not_match_its_certificate_is_refused_by_name() {
    let mut cfg = demo();
    cfg.server.key = cfg.client.key.clone();
    let err = server_config(&cfg).unwrap_err();
    assert_eq!(
        err.to_string(),
        "server.cert, server.key: the private key does not belong to the certificate"
    );
    let mut cfg = demo();
    cfg.client.cert = cfg.server.cert.clone();
    let err = client_config(&cfg).unwrap_err();
    assert!(
        err.to_string().starts_with("client.cert, client.key:"),
        "{err}"
    );
}
