//! Signed checkpoints in the C2SP formats: `tlog-checkpoint` bodies
//! (origin, tree size, base64 root hash) in `signed-note` envelopes with
//! Ed25519 signatures, and the note key encodings (`PRIVATE+KEY+name+hash+key`
//! and the verifier key `name+hash+key`) that Go's `golang.org/x/mod/sumdb/note`
//! reads and writes, so independent verifiers can check our checkpoints.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use sha2::{Digest, Sha256};

use super::merkle::Hash;

/// The signature algorithm byte of Ed25519 in note keys.
const ALG_ED25519: u8 = 1;

/// Why a key or a note is not acceptable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// A key string is malformed.
    #[error("malformed key: {0}")]
    Key(String),
    /// The note is not a signed note (body, blank line, signature lines).
    #[error("malformed note: {0}")]
    Malformed(String),
    /// No signature by a known key verifies.
    #[error("no valid signature by a known key")]
    Unverified,
    /// The body is not a checkpoint.
    #[error("malformed checkpoint: {0}")]
    Checkpoint(String),
}

/// A tree head: what a checkpoint commits to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line (its name).
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// RFC 6962 root hash.
    pub root: Hash,
}

impl Checkpoint {
    /// The note body: `origin\nsize\nbase64(root)\n`.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Parses a note body.
    pub fn parse(body: &str) -> Result<Checkpoint, NoteError> {
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .filter(|l| !l.is_empty())
            .ok_or_else(|| NoteError::Checkpoint("no origin line".into()))?;
        let size = lines
            .next()
            .and_then(|l| l.parse::<u64>().ok())
            .ok_or_else(|| NoteError::Checkpoint("the second line is not a tree size".into()))?;
        let root = lines
            .next()
            .and_then(|l| B64.decode(l).ok())
            .and_then(|b| <Hash>::try_from(b.as_slice()).ok())
            .ok_or_else(|| {
                NoteError::Checkpoint("the third line is not a base64 SHA-256 hash".into())
            })?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

/// The 4-byte key hash of the note spec: SHA-256(name || "\n" || alg || key).
fn key_hash(name: &str, public: &[u8]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ALG_ED25519]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.contains('+')
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// An Ed25519 signing key with its note name.
pub struct Signer {
    name: String,
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({})", self.name)
    }
}

impl Signer {
    /// Parses `PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>`.
    pub fn parse(text: &str) -> Result<Signer, NoteError> {
        let rest = text
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| NoteError::Key("a signing key starts with PRIVATE+KEY+".into()))?;
        let parts: Vec<&str> = rest.splitn(3, '+').collect();
        let [name, hash, key] = parts.as_slice() else {
            return Err(NoteError::Key("expected PRIVATE+KEY+name+hash+key".into()));
        };
        let bytes = B64.decode(key).map_err(|e| NoteError::Key(e.to_string()))?;
        let (alg, seed) = bytes
            .split_first()
            .ok_or_else(|| NoteError::Key("empty key".into()))?;
        if *alg != ALG_ED25519 || seed.len() != 32 {
            return Err(NoteError::Key("not an Ed25519 key".into()));
        }
        let pair =
            Ed25519KeyPair::from_seed_unchecked(seed).map_err(|e| NoteError::Key(e.to_string()))?;
        let signer = Signer {
            name: (*name).to_owned(),
            pair,
        };
        if hex::encode(key_hash(name, signer.public())) != *hash {
            return Err(NoteError::Key("the key hash does not match the key".into()));
        }
        Ok(signer)
    }

    /// A new key named `name` from 32 random bytes.
    pub fn generate(name: &str) -> Result<(String, String), NoteError> {
        if !valid_name(name) {
            return Err(NoteError::Key(format!(
                "'{name}' is not a key name (no '+', no spaces)"
            )));
        }
        let mut seed = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut seed)
            .map_err(|_| NoteError::Key("no randomness".into()))?;
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed)
            .map_err(|e| NoteError::Key(e.to_string()))?;
        let public = pair.public_key().as_ref();
        let hash = hex::encode(key_hash(name, public));
        let private = format!(
            "PRIVATE+KEY+{name}+{hash}+{}",
            B64.encode([&[ALG_ED25519][..], &seed].concat())
        );
        let verifier = format!(
            "{name}+{hash}+{}",
            B64.encode([&[ALG_ED25519][..], public].concat())
        );
        Ok((private, verifier))
    }

    /// The key's note name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn public(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// The verifier key string of this key.
    pub fn verifier(&self) -> String {
        format!(
            "{}+{}+{}",
            self.name,
            hex::encode(key_hash(&self.name, self.public())),
            B64.encode([&[ALG_ED25519][..], self.public()].concat())
        )
    }

    /// The signed note of `checkpoint`.
    pub fn sign(&self, checkpoint: &Checkpoint) -> String {
        let body = checkpoint.body();
        let sig = self.pair.sign(body.as_bytes());
        let mut blob = key_hash(&self.name, self.public()).to_vec();
        blob.extend_from_slice(sig.as_ref());
        format!("{body}\n\u{2014} {} {}\n", self.name, B64.encode(blob))
    }
}

/// A verifier key: `<name>+<hash>+<base64(0x01 || public key)>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    hash: [u8; 4],
    public: Vec<u8>,
}

impl Verifier {
    /// Parses a verifier key string.
    pub fn parse(text: &str) -> Result<Verifier, NoteError> {
        let parts: Vec<&str> = text.trim().splitn(3, '+').collect();
        let [name, hash, key] = parts.as_slice() else {
            return Err(NoteError::Key("expected name+hash+key".into()));
        };
        let bytes = B64.decode(key).map_err(|e| NoteError::Key(e.to_string()))?;
        let (alg, public) = bytes
            .split_first()
            .ok_or_else(|| NoteError::Key("empty key".into()))?;
        if *alg != ALG_ED25519 || public.len() != 32 {
            return Err(NoteError::Key("not an Ed25519 verifier key".into()));
        }
        let expected = key_hash(name, public);
        if hex::encode(expected) != *hash {
            return Err(NoteError::Key("the key hash does not match the key".into()));
        }
        Ok(Verifier {
            name: (*name).to_owned(),
            hash: expected,
            public: public.to_vec(),
        })
    }

    /// The key's note name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Verifies a signed checkpoint note against `keys` (any one valid
/// signature by a known key suffices: old keys stay in the list after a
/// rotation) and returns the checkpoint and the name of the key that signed.
pub fn verify(note: &str, keys: &[Verifier]) -> Result<(Checkpoint, String), NoteError> {
    let split = note
        .find("\n\n")
        .ok_or_else(|| NoteError::Malformed("no blank line between body and signatures".into()))?;
    let body = &note[..split + 1];
    for line in note[split + 2..].lines().filter(|l| !l.is_empty()) {
        let rest = line
            .strip_prefix("\u{2014} ")
            .ok_or_else(|| NoteError::Malformed(format!("'{line}' is not a signature line")))?;
        let (name, sig) = rest
            .split_once(' ')
            .ok_or_else(|| NoteError::Malformed(format!("'{line}' is not a signature line")))?;
        let blob = B64
            .decode(sig)
            .map_err(|e| NoteError::Malformed(e.to_string()))?;
        if blob.len() != 68 {
            continue;
        }
        for key in keys
            .iter()
            .filter(|k| k.name == name && blob[..4] == k.hash)
        {
            if UnparsedPublicKey::new(&ED25519, &key.public)
                .verify(body.as_bytes(), &blob[4..])
                .is_ok()
            {
                return Ok((Checkpoint::parse(body)?, key.name.clone()));
            }
        }
    }
    Err(NoteError::Unverified)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "note_tests.rs"]
mod tests;
