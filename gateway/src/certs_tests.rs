//! Tests of the parent module.

use super::*;
use rustls::client::danger::ServerCertVerifier;
use x509_parser::prelude::*;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gateway-certs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn read_cert(path: &Path) -> Vec<u8> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    CertificateDer::from_pem_file(path).unwrap().to_vec()
}

#[test]
fn writes_the_whole_set_with_the_right_names() {
    let dir = temp_dir("set");
    let partners = vec!["bj12345".to_owned(), "pu-military-001".to_owned()];
    let written = generate(&dir, &partners).unwrap();
    let names: Vec<String> = written
        .iter()
        .map(|p| p.strip_prefix(&dir).unwrap().display().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "ca.pem",
            "ca.key",
            "gateway-server.pem",
            "gateway-server.key",
            "gateway-client.pem",
            "gateway-client.key",
            "partners/bj12345.pem",
            "partners/bj12345.key",
            "partners/bj12345-server.pem",
            "partners/bj12345-server.key",
            "partners/pu-military-001.pem",
            "partners/pu-military-001.key",
            "audit-signing.key",
            "audit-signing.vkey",
        ]
    );

    let ca_der = read_cert(&dir.join("ca.pem"));
    let (_, ca) = parse_x509_certificate(&ca_der).unwrap();
    let cn = |c: &X509Certificate<'_>| {
        c.subject()
            .iter_common_name()
            .next()
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(cn(&ca), CA_NAME);
    assert!(ca.is_ca());
    let years = (ca.validity().not_after.timestamp() - ca.validity().not_before.timestamp())
        / (365 * 86_400);
    assert!(years >= 9, "{years}");

    let server_der = read_cert(&dir.join("gateway-server.pem"));
    let (_, server) = parse_x509_certificate(&server_der).unwrap();
    assert_eq!(server.issuer(), ca.subject());
    let san = server.subject_alternative_name().unwrap().unwrap();
    let sans: Vec<String> = san
        .value
        .general_names
        .iter()
        .map(|n| match n {
            GeneralName::DNSName(d) => (*d).to_owned(),
            GeneralName::IPAddress(ip) => match ip.len() {
                4 => std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*ip).unwrap()).to_string(),
                _ => std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*ip).unwrap()).to_string(),
            },
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        sans,
        ["localhost", "127.0.0.1", "::1", "gateway.jjj12345.example"]
    );
    // rustls's own verifier accepts it for each of its names.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca_der.clone().into()).unwrap();
    let roots = std::sync::Arc::new(roots);
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        roots.clone(),
        crate::tls::provider(),
    )
    .build()
    .unwrap();
    let now = rustls_pki_types::UnixTime::now();
    for name in GATEWAY_SERVER_NAMES {
        let name = rustls_pki_types::ServerName::try_from(name).unwrap();
        verifier
            .verify_server_cert(&server_der.clone().into(), &[], &name, &[], now)
            .unwrap();
    }

    let partner_der = read_cert(&dir.join("partners/bj12345.pem"));
    let (_, partner) = parse_x509_certificate(&partner_der).unwrap();
    assert_eq!(cn(&partner), "bj12345");
    let eku = partner.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth && !eku.server_auth);
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots, crate::tls::provider())
            .build()
            .unwrap();
    verifier
        .verify_client_cert(&partner_der.clone().into(), &[], now)
        .unwrap();

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("ca.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn refuses_a_partner_id_that_would_escape_the_directory() {
    let dir = temp_dir("bad");
    let err = generate(&dir, &["../evil".to_owned()]).unwrap_err();
    assert!(matches!(err, CertsError::BadPartnerId(_)), "{err}");
    assert!(!dir.exists());
}

#[test]
fn the_audit_key_pair_signs_checkpoints_its_verifier_accepts() {
    use crate::audit::note::{Checkpoint, Signer, Verifier, verify};
    let dir = temp_dir("audit-key");
    let written = generate_audit_key(&dir).unwrap();
    assert_eq!(
        written,
        [
            dir.join(AUDIT_SIGNING_KEY_FILE),
            dir.join(AUDIT_VERIFIER_KEY_FILE)
        ]
    );
    let signer = Signer::parse(&std::fs::read_to_string(&written[0]).unwrap()).unwrap();
    assert_eq!(signer.name(), AUDIT_KEY_NAME);
    let vkey = std::fs::read_to_string(&written[1]).unwrap();
    assert_eq!(vkey.trim(), signer.verifier());
    let cp = Checkpoint {
        origin: "example/log".into(),
        size: 3,
        root: [7; 32],
    };
    let (got, name) = verify(&signer.sign(&cp), &[Verifier::parse(&vkey).unwrap()]).unwrap();
    assert_eq!((got, name.as_str()), (cp, AUDIT_KEY_NAME));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&written[0]).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the signing key is readable by others");
    }
    // A second key replaces the first.
    generate_audit_key(&dir).unwrap();
    let again = std::fs::read_to_string(&written[1]).unwrap();
    assert_ne!(again, vkey);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_committed_audit_verifier_key_is_the_committed_signing_keys() {
    use crate::audit::note::Signer;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../certs-example");
    let key = std::fs::read_to_string(dir.join(AUDIT_SIGNING_KEY_FILE)).unwrap();
    let vkey = std::fs::read_to_string(dir.join(AUDIT_VERIFIER_KEY_FILE)).unwrap();
    assert_eq!(Signer::parse(&key).unwrap().verifier(), vkey.trim());
}
