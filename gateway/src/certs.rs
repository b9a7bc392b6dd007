//! `gateway certs generate`: a DEVELOPMENT certificate set for the demo and
//! the tests. A fresh ECDSA P-256 CA signs the gateway's server and client
//! certificates, a client certificate per partner and a server certificate
//! per push partner (for the simulated partner servers). Every private key
//! is written next to its certificate, so the set is public by nature: it
//! must never be used by a real hotline. The set also holds an Ed25519 note
//! key that signs the audit log's checkpoints (`audit-signing.key`) and its
//! verifier key (`audit-signing.vkey`), just as public.

use std::path::{Path, PathBuf};

use crate::config::is_partner_id;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

/// The development CA's subject common name.
pub const CA_NAME: &str = "JJJ 12345 Gateway DEVELOPMENT CA - NOT FOR PRODUCTION";

/// The organisation written into every certificate of the set.
const ORGANIZATION: &str = "JJJ 12345 Gateway (DEVELOPMENT ONLY)";

/// The names the gateway's server certificate is valid for.
pub const GATEWAY_SERVER_NAMES: [&str; 4] =
    ["localhost", "127.0.0.1", "::1", "gateway.jjj12345.example"];

/// The names a simulated partner server's certificate is valid for.
pub const PARTNER_SERVER_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// The subject CN of the gateway's client certificate.
pub const GATEWAY_CLIENT_NAME: &str = "gateway";

/// The partners of the example set: the demo's partners and a few more for
/// the tests.
pub const DEFAULT_PARTNERS: [&str; 9] = [
    "bj12345",
    "tj12345",
    "hb-130100",
    "hb-131000",
    "bj-enterprise",
    "pu-central-001",
    "pu-central-003",
    "pu-military-001",
    "open311-demo",
];

/// The note name of the development audit signing key (the checkpoints'
/// signature lines name it).
pub const AUDIT_KEY_NAME: &str = crate::audit::DEFAULT_ORIGIN;

/// The file of the audit signing key (`PRIVATE+KEY+...`), in the set's
/// directory.
pub const AUDIT_SIGNING_KEY_FILE: &str = "audit-signing.key";

/// The file of its verifier key (`name+hash+key`), in the set's directory.
pub const AUDIT_VERIFIER_KEY_FILE: &str = "audit-signing.vkey";

/// How long every certificate of the set is valid, in years, so that tests
/// using the committed set keep working.
pub const VALIDITY_YEARS: i32 = 10;

/// Why the set could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum CertsError {
    /// A partner id that cannot be a certificate name or file name.
    #[error("{0:?} is not a partner id: 1 to 64 ASCII letters, digits, '-', '_' or '.'")]
    BadPartnerId(String),
    /// rcgen refused to make a key or certificate.
    #[error("cannot generate {what}: {source}")]
    Generate {
        /// The certificate being made.
        what: String,
        /// rcgen's error.
        source: rcgen::Error,
    },
    /// The audit signing key could not be made.
    #[error("cannot generate the audit signing key: {0}")]
    AuditKey(crate::audit::note::NoteError),
    /// A file or directory could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Whether a partner receives pushed deliveries (and so runs a server in
/// the demo): every partner except property units (`pu-*`, who pull) and
/// Open311 clients (`open311*`, who call in).
pub fn is_push_partner(id: &str) -> bool {
    !(id.starts_with("pu-") || id.starts_with("open311"))
}

/// Generates the set into `out` (created if needed; existing files are
/// replaced) and returns the paths written, certificates before their keys:
/// `ca.pem`, `ca.key`, `gateway-server.pem/.key`, `gateway-client.pem/.key`,
/// `partners/<id>.pem/.key` (client) and, for push partners,
/// `partners/<id>-server.pem/.key`, then the audit key pair
/// ([`generate_audit_key`]).
pub fn generate(out: &Path, partners: &[String]) -> Result<Vec<PathBuf>, CertsError> {
    if let Some(bad) = partners.iter().find(|id| !is_partner_id(id)) {
        return Err(CertsError::BadPartnerId(bad.clone()));
    }
    let dir = out.join("partners");
    std::fs::create_dir_all(&dir).map_err(|source| CertsError::Write {
        path: dir.clone(),
        source,
    })?;
    let mut written = Vec::new();
    let mut write = |name: &str, cert: &str, key: &str| -> Result<(), CertsError> {
        for (path, text, secret) in [
            (out.join(format!("{name}.pem")), cert, false),
            (out.join(format!("{name}.key")), key, true),
        ] {
            write_file(&path, text, secret)?;
            written.push(path);
        }
        Ok(())
    };

    let ca_key = new_key("the CA")?;
    let mut ca_params = params(CA_NAME, &[])?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params
        .self_signed(&ca_key)
        .map_err(|source| generate_error("the CA", source))?;
    write("ca", &ca_cert.pem(), &ca_key.serialize_pem())?;
    let ca = Issuer::new(ca_params, ca_key);

    let leaf = |cn: &str, names: &[&str], server: bool| -> Result<(String, String), CertsError> {
        let key = new_key(cn)?;
        let mut params = params(cn, names)?;
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![if server {
            ExtendedKeyUsagePurpose::ServerAuth
        } else {
            ExtendedKeyUsagePurpose::ClientAuth
        }];
        let cert = params
            .signed_by(&key, &ca)
            .map_err(|source| generate_error(cn, source))?;
        Ok((cert.pem(), key.serialize_pem()))
    };

    let (cert, key) = leaf(GATEWAY_SERVER_NAMES[3], &GATEWAY_SERVER_NAMES, true)?;
    write("gateway-server", &cert, &key)?;
    let (cert, key) = leaf(GATEWAY_CLIENT_NAME, &[], false)?;
    write("gateway-client", &cert, &key)?;
    for id in partners {
        let (cert, key) = leaf(id, &[], false)?;
        write(&format!("partners/{id}"), &cert, &key)?;
        if is_push_partner(id) {
            let (cert, key) = leaf(id, &PARTNER_SERVER_NAMES, true)?;
            write(&format!("partners/{id}-server"), &cert, &key)?;
        }
    }
    written.extend(generate_audit_key(out)?);
    Ok(written)
}

/// Generates a new Ed25519 audit signing key named [`AUDIT_KEY_NAME`] into
/// `out` (created if needed): `audit-signing.key` (the signing key, owner
/// readable only) and `audit-signing.vkey` (its verifier key, for partners
/// and auditors). Existing files are replaced, so checkpoints signed by the
/// old key verify only with the old verifier key kept aside
/// (`[audit] verifier_keys`). Returns the paths written.
pub fn generate_audit_key(out: &Path) -> Result<Vec<PathBuf>, CertsError> {
    std::fs::create_dir_all(out).map_err(|source| CertsError::Write {
        path: out.to_owned(),
        source,
    })?;
    let (private, verifier) =
        crate::audit::note::Signer::generate(AUDIT_KEY_NAME).map_err(CertsError::AuditKey)?;
    let key = out.join(AUDIT_SIGNING_KEY_FILE);
    let vkey = out.join(AUDIT_VERIFIER_KEY_FILE);
    write_file(&key, &format!("{private}\n"), true)?;
    write_file(&vkey, &format!("{verifier}\n"), false)?;
    Ok(vec![key, vkey])
}

fn new_key(what: &str) -> Result<KeyPair, CertsError> {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|source| generate_error(what, source))
}

fn generate_error(what: &str, source: rcgen::Error) -> CertsError {
    CertsError::Generate {
        what: what.to_owned(),
        source,
    }
}

/// Certificate parameters with the set's subject and validity: from the
/// first day of the current month (UTC) for [`VALIDITY_YEARS`] years.
fn params(cn: &str, names: &[&str]) -> Result<CertificateParams, CertsError> {
    use chrono::Datelike;
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = CertificateParams::new(names).map_err(|source| generate_error(cn, source))?;
    let mut subject = DistinguishedName::new();
    subject.push(DnType::CommonName, cn);
    subject.push(DnType::OrganizationName, ORGANIZATION);
    params.distinguished_name = subject;
    let today = chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now()).date_naive();
    // Month 1..=12 and day 1 always make a valid date for rcgen.
    let month = u8::try_from(today.month()).unwrap_or(1);
    params.not_before = rcgen::date_time_ymd(today.year(), month, 1);
    params.not_after = rcgen::date_time_ymd(today.year() + VALIDITY_YEARS, month, 1);
    Ok(params)
}

/// Writes a file; keys are readable by their owner only (on Unix).
fn write_file(path: &Path, text: &str, secret: bool) -> Result<(), CertsError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    options
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|source| CertsError::Write {
            path: path.to_owned(),
            source,
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "certs_tests.rs"]
mod tests;
