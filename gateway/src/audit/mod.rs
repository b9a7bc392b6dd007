//! The audit log: a transparency log of every hand-off event. Leaves are
//! the store's events in canonical JSON (`leaf`), hashed into an RFC 6962
//! Merkle tree (`merkle`); signed checkpoints in the C2SP formats commit to
//! its size and root (`note`). The store appends leaf hashes in the same
//! transaction as their events; everything here is pure.

pub mod leaf;
pub mod merkle;
pub mod note;

/// The log's default origin (`[audit] origin`): the first line of every
/// checkpoint, naming the log.
pub const DEFAULT_ORIGIN: &str = "jjj12345.example/gateway-audit";
