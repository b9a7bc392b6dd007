//! PEM files named by the configuration, read and checked once at load.

use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A PEM file of X.509 certificates (a certificate chain, end-entity first,
/// or a bundle of CA certificates).
#[derive(Clone, Debug)]
pub struct Certs {
    /// Where the certificates were read from (absolute when the
    /// configuration file's path was).
    pub path: PathBuf,
    /// The certificates, in file order; never empty.
    pub certs: Vec<CertificateDer<'static>>,
}

/// A PEM private key (PKCS#8, PKCS#1 or SEC1). Its `Debug` output never
/// shows the key.
#[derive(Debug)]
pub struct Key {
    /// Where the key was read from.
    pub path: PathBuf,
    /// The key.
    pub der: PrivateKeyDer<'static>,
}

impl Clone for Key {
    fn clone(&self) -> Key {
        Key {
            path: self.path.clone(),
            der: self.der.clone_key(),
        }
    }
}

/// Reads `path` (relative to `base`) as PEM certificates, each of which must
/// parse as X.509. The error text is meant to follow the configuration key.
pub(super) fn read_certs(base: &Path, path: &Path) -> Result<Certs, String> {
    let path = base.join(path);
    let bytes = read(&path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: not a PEM certificate file: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{}: no CERTIFICATE block in the file",
            path.display()
        ));
    }
    for (i, cert) in certs.iter().enumerate() {
        x509_parser::parse_x509_certificate(cert).map_err(|e| {
            format!(
                "{}: certificate {} is not valid X.509: {e}",
                path.display(),
                i + 1
            )
        })?;
    }
    Ok(Certs { path, certs })
}

/// Reads `path` (relative to `base`) as a PEM private key.
pub(super) fn read_key(base: &Path, path: &Path) -> Result<Key, String> {
    let path = base.join(path);
    let bytes = read(&path)?;
    let der = PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => {
            format!("{}: no PRIVATE KEY block in the file", path.display())
        }
        e => format!("{}: not a PEM private key: {e}", path.display()),
    })?;
    Ok(Key { path, der })
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}
