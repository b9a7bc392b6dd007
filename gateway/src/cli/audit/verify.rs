//! The export verifier: one pass over the JSON Lines, holding only the leaf
//! hashes. Leaves are checked as they come (sequence, recomputed hash);
//! checkpoints at the end (signature, origin, growth, size, root).
//!
//! Checkpoints the auditor saved earlier (from the gateway's HTTP API or an
//! earlier export) are checked the same way, at their sizes: the export's
//! own checkpoints are signed by the operator's key, so only a checkpoint
//! saved before a rewrite catches a log rewritten and signed anew.
//!
//! The first bad entry is what is reported. When a leaf is bad at index
//! `f`, the checkpoints of fewer than `f` leaves are still checked (they
//! only depend on the good leaves before it): a checkpoint among them that
//! fails points at an earlier entry (rewritten together with its leaf
//! hash) and is reported instead.

use std::io::{BufRead, Read};

use serde_json::Value;

use super::Line;
use crate::audit::leaf::leaf_bytes;
use crate::audit::merkle::{self, Hash};
use crate::audit::note::{self, Checkpoint, NoteError, Verifier};

/// The longest line read (leaves and notes are far smaller).
const MAX_LINE: u64 = 1 << 20;

/// What a successful verification found.
#[derive(Debug)]
pub(super) struct Summary {
    /// Leaves.
    pub entries: u64,
    /// Checkpoints, all verified.
    pub checkpoints: usize,
    /// The root of the largest checkpoint.
    pub latest_root: Hash,
    /// Entries after the largest checkpoint (first, last), if any.
    pub unsigned: Option<(u64, u64)>,
}

/// Why an export does not verify.
#[derive(Debug, thiserror::Error)]
pub(super) enum Failure {
    /// The export could not be read at all.
    #[error("{0}")]
    Io(std::io::Error),
    /// Entry `index` (its expected sequence number) is bad.
    #[error("entry {index}: {why}")]
    Entry {
        /// 1-based: the sequence number the entry should have.
        index: u64,
        /// What is wrong.
        why: String,
    },
    /// The `number`th checkpoint line is bad.
    #[error("checkpoint {number}{}: {why}", .size.map(|s| format!(" (size {s})")).unwrap_or_default())]
    Checkpoint {
        /// 1-based, in file order.
        number: usize,
        /// Its tree size, when it could be read.
        size: Option<u64>,
        /// What is wrong.
        why: String,
    },
    /// A line that is neither a readable leaf nor a checkpoint in its place.
    #[error("line {line}: {why}")]
    Line {
        /// 1-based.
        line: u64,
        /// What is wrong.
        why: String,
    },
    /// A checkpoint the auditor saved does not verify or is not reproduced.
    #[error("saved checkpoint {name}{}: {why}", .size.map(|s| format!(" (size {s})")).unwrap_or_default())]
    Saved {
        /// Where it came from (its file).
        name: String,
        /// Its tree size, when it could be read.
        size: Option<u64>,
        /// What is wrong.
        why: String,
    },
    /// No checkpoint at all: nothing is signed.
    #[error("the export holds no checkpoint, so nothing in it is signed")]
    NoCheckpoint,
}

fn entry(index: u64, why: impl Into<String>) -> Failure {
    Failure::Entry {
        index,
        why: why.into(),
    }
}

/// Where the leaves stand.
enum Leaves {
    /// Every leaf so far is good.
    Good,
    /// Leaf `n` (line `line`) carries sequence `seq > n`: missing entries
    /// or a reordering, told apart by the next leaf.
    Gap { n: u64, seq: u64, line: u64 },
    /// A bad leaf at `index`.
    Bad { index: u64, failure: Failure },
}

/// RFC 6962 tree heads of growing prefixes of `hashes`: the roots of the
/// perfect subtrees the prefix decomposes into, largest first.
#[derive(Default)]
pub(super) struct Frontier {
    nodes: Vec<(Hash, u32)>,
    size: usize,
}

impl Frontier {
    /// Appends a leaf hash.
    pub(super) fn push(&mut self, leaf: Hash) {
        let (mut hash, mut height) = (leaf, 0);
        while let Some(&(left, h)) = self.nodes.last() {
            if h != height {
                break;
            }
            self.nodes.pop();
            hash = merkle::node_hash(&left, &hash);
            height += 1;
        }
        self.nodes.push((hash, height));
        self.size += 1;
    }

    /// MTH of the leaves pushed so far.
    pub(super) fn root(&self) -> Hash {
        let mut nodes = self.nodes.iter().rev();
        let Some(&(mut acc, _)) = nodes.next() else {
            return merkle::empty_root();
        };
        for (left, _) in nodes {
            acc = merkle::node_hash(left, &acc);
        }
        acc
    }
}

/// A checkpoint the auditor saved, verified.
pub(super) struct Saved {
    name: String,
    checkpoint: Checkpoint,
}

impl Saved {
    /// Verifies the note `text` (named `name` in messages) with `keys`.
    pub(super) fn verify(name: &str, text: &str, keys: &[Verifier]) -> Result<Saved, Failure> {
        let fail = |why: String| Failure::Saved {
            name: name.to_owned(),
            size: None,
            why,
        };
        let (checkpoint, _) = note::verify(text, keys).map_err(|e| match e {
            NoteError::Unverified => fail(format!(
                "no valid signature by the given keys (signed by: {})",
                signers(text)
            )),
            other => fail(other.to_string()),
        })?;
        Ok(Saved {
            name: name.to_owned(),
            checkpoint,
        })
    }
}

struct State<'k> {
    keys: &'k [Verifier],
    /// Saved checkpoints not checked yet, largest first.
    saved: Vec<Saved>,
    /// The log's origin, from the first checkpoint seen.
    origin: Option<String>,
    leaves: Leaves,
    /// Hashes of the good leaves (all of them while `leaves` is `Good`).
    hashes: Vec<Hash>,
    frontier: Frontier,
    checkpoints: usize,
    /// The last verified checkpoint.
    last: Option<Checkpoint>,
    /// A checkpoint line was seen: only checkpoints may follow.
    in_checkpoints: bool,
}

/// Verifies an export read from `reader` against `keys`; `progress` is
/// told the number of bytes read after each line.
pub(super) fn verify(
    mut reader: impl BufRead,
    keys: &[Verifier],
    mut saved: Vec<Saved>,
    progress: &mut dyn FnMut(u64),
) -> Result<Summary, Failure> {
    saved.sort_by_key(|s| std::cmp::Reverse(s.checkpoint.size));
    let mut state = State {
        keys,
        saved,
        origin: None,
        leaves: Leaves::Good,
        hashes: Vec::new(),
        frontier: Frontier::default(),
        checkpoints: 0,
        last: None,
        in_checkpoints: false,
    };
    let (mut buf, mut read, mut line) = (Vec::with_capacity(1024), 0u64, 0u64);
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut buf)
            .map_err(Failure::Io)?;
        if n == 0 {
            break;
        }
        line += 1;
        read += n as u64;
        if buf.last() == Some(&b'\n') {
            buf.pop();
        } else if n as u64 > MAX_LINE {
            return Err(Failure::Line {
                line,
                why: format!("longer than {MAX_LINE} bytes"),
            });
        }
        state.line(line, &buf)?;
        progress(read);
    }
    state.finish()
}

impl State<'_> {
    /// The expected sequence number of the next leaf.
    fn next_seq(&self) -> u64 {
        self.hashes.len() as u64 + 1
    }

    fn line(&mut self, line: u64, text: &[u8]) -> Result<(), Failure> {
        let parsed: Result<Line, String> = serde_json::from_slice(text).map_err(|e| e.to_string());
        match parsed {
            Ok(Line::Leaf {
                seq,
                kind,
                at,
                handoff_id,
                detail,
                leaf_hash,
            }) => {
                if self.in_checkpoints {
                    return Err(Failure::Line {
                        line,
                        why: "a leaf after the checkpoints (an export lists every leaf first)"
                            .into(),
                    });
                }
                let content = (kind.as_str(), at, handoff_id.as_deref(), &detail);
                self.leaf(line, seq, content, &leaf_hash);
                Ok(())
            }
            Ok(Line::Checkpoint { size, note }) => {
                self.in_checkpoints = true;
                self.settle_gap();
                self.checkpoint(size, &note)
            }
            Err(e) if self.in_checkpoints => Err(Failure::Checkpoint {
                number: self.checkpoints + 1,
                size: None,
                why: format!("line {line} cannot be read: {e}"),
            }),
            Err(e) => {
                self.settle_gap();
                if let Leaves::Good = self.leaves {
                    let n = self.next_seq();
                    self.leaves = Leaves::Bad {
                        index: n,
                        failure: entry(n, format!("line {line} cannot be read: {e}")),
                    };
                }
                // After a bad leaf, an unreadable line changes nothing.
                Ok(())
            }
        }
    }

    /// Checks leaf line `line` claiming sequence `seq`.
    fn leaf(&mut self, line: u64, seq: u64, content: Content<'_>, recorded: &str) {
        match &self.leaves {
            Leaves::Bad { .. } => return,
            Leaves::Gap {
                n,
                seq: first,
                line: l,
            } => {
                let (n, first, l) = (*n, *first, *l);
                let why = if seq >= n && seq < first {
                    format!(
                        "out of order: line {l} holds sequence {first}, then line {line} \
                         sequence {seq}"
                    )
                } else {
                    missing(n, first)
                };
                self.leaves = Leaves::Bad {
                    index: n,
                    failure: entry(n, why),
                };
                return;
            }
            Leaves::Good => {}
        }
        let n = self.next_seq();
        if seq > n {
            self.leaves = Leaves::Gap { n, seq, line };
            return;
        }
        if seq < n {
            let (index, why) = if seq + 1 == n {
                (
                    seq,
                    format!(
                        "appears twice (lines {} and {line}): an entry was inserted",
                        line - 1
                    ),
                )
            } else {
                (
                    n,
                    format!(
                        "out of order: line {line} holds sequence {seq} after sequence {}",
                        n - 1
                    ),
                )
            };
            self.leaves = Leaves::Bad {
                index,
                failure: entry(index, why),
            };
            return;
        }
        match check_leaf_hash(n, content, recorded) {
            Ok(hash) => self.hashes.push(hash),
            Err((index, why)) => {
                self.leaves = Leaves::Bad {
                    index,
                    failure: entry(index, why),
                }
            }
        }
    }

    /// A gap followed by no further leaf: entries are missing.
    fn settle_gap(&mut self) {
        if let Leaves::Gap { n, seq, .. } = self.leaves {
            self.leaves = Leaves::Bad {
                index: n,
                failure: entry(n, missing(n, seq)),
            };
        }
    }

    fn checkpoint(&mut self, size: u64, text: &str) -> Result<(), Failure> {
        self.checkpoints += 1;
        let number = self.checkpoints;
        if let Leaves::Bad { index, .. } = self.leaves
            && size >= index
        {
            // Covers the bad entry: reported as that entry.
            return Ok(());
        }
        let fail = |why: String| Failure::Checkpoint {
            number,
            size: Some(size),
            why,
        };
        let (cp, _) = note::verify(text, self.keys).map_err(|e| match e {
            NoteError::Unverified => fail(format!(
                "no valid signature by the given keys (signed by: {})",
                signers(text)
            )),
            other => fail(other.to_string()),
        })?;
        if cp.size != size {
            return Err(fail(format!("the signed note says size {}", cp.size)));
        }
        let origin = self.origin.get_or_insert_with(|| cp.origin.clone());
        if cp.origin != *origin {
            return Err(fail(format!(
                "origin '{}' is not the log's '{origin}'",
                cp.origin
            )));
        }
        if let Some(last) = &self.last
            && cp.size <= last.size
        {
            return Err(fail(format!(
                "does not grow the log: the checkpoint before it has size {}",
                last.size
            )));
        }
        let entries = self.hashes.len() as u64;
        if size > entries {
            return Err(entry(
                entries + 1,
                format!(
                    "missing: checkpoint {number} covers {size} entries, the export holds only \
                     {entries}"
                ),
            ));
        }
        self.check_saved(size)?;
        let root = self.root_at(size);
        if root != cp.root {
            let from = self.last.as_ref().map_or(0, |l| l.size);
            let before = match &self.last {
                Some(_) => format!("; entries 1..={from} match the checkpoint before it"),
                None => String::new(),
            };
            return Err(fail(format!(
                "its signed root is {} but entries 1..={size} give {}: an entry in {}..={size} \
                 was rewritten together with its leaf hash{before}",
                b64(&cp.root),
                b64(&root),
                from + 1
            )));
        }
        self.last = Some(cp);
        Ok(())
    }

    /// MTH of the first `size` leaves (`size` never less than the last
    /// asked for, never more than the leaves held).
    fn root_at(&mut self, size: u64) -> Hash {
        while (self.frontier.size as u64) < size {
            let Some(hash) = self.hashes.get(self.frontier.size) else {
                break;
            };
            self.frontier.push(*hash);
        }
        self.frontier.root()
    }

    /// Checks the saved checkpoints of at most `upto` leaves (those that
    /// do not cover a bad entry).
    fn check_saved(&mut self, upto: u64) -> Result<(), Failure> {
        let limit = match self.leaves {
            Leaves::Bad { index, .. } => upto.min(index.saturating_sub(1)),
            _ => upto,
        };
        while let Some(next) = self.saved.last() {
            let size = next.checkpoint.size;
            if size > limit {
                break;
            }
            let Some(saved) = self.saved.pop() else { break };
            let fail = |why: String| Failure::Saved {
                name: saved.name.clone(),
                size: Some(size),
                why,
            };
            let origin = self
                .origin
                .get_or_insert_with(|| saved.checkpoint.origin.clone());
            if saved.checkpoint.origin != *origin {
                return Err(fail(format!(
                    "origin '{}' is not the log's '{origin}'",
                    saved.checkpoint.origin
                )));
            }
            let root = self.root_at(size);
            if root != saved.checkpoint.root {
                return Err(fail(format!(
                    "its signed root is {} but entries 1..={size} give {}: the log was \
                     changed after this checkpoint was signed (and re-signed since)",
                    b64(&saved.checkpoint.root),
                    b64(&root)
                )));
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Summary, Failure> {
        self.settle_gap();
        let entries = self.hashes.len() as u64;
        self.check_saved(entries)?;
        if let Leaves::Bad { failure, .. } = self.leaves {
            return Err(failure);
        }
        if let Some(saved) = self.saved.last() {
            return Err(entry(
                entries + 1,
                format!(
                    "missing: saved checkpoint {} covers {} entries, the export holds only \
                     {entries}",
                    saved.name, saved.checkpoint.size
                ),
            ));
        }
        let Some(last) = self.last else {
            return Err(Failure::NoCheckpoint);
        };
        Ok(Summary {
            entries,
            checkpoints: self.checkpoints,
            latest_root: last.root,
            unsigned: (entries > last.size).then_some((last.size + 1, entries)),
        })
    }
}

/// A leaf's content: kind, time, hand-off, detail.
type Content<'a> = (&'a str, i64, Option<&'a str>, &'a Value);

fn missing(n: u64, seq: u64) -> String {
    let follows = if n == 1 {
        format!("sequence {seq} comes first")
    } else {
        format!("sequence {seq} follows {}", n - 1)
    };
    if seq == n + 1 {
        format!("{follows}: entry {n} is missing")
    } else {
        format!("{follows}: entries {n}..={} are missing", seq - 1)
    }
}

fn hash_at(seq: u64, (kind, at, handoff_id, detail): Content<'_>) -> Hash {
    merkle::leaf_hash(&leaf_bytes(seq, kind, at, handoff_id, detail))
}

/// Recomputes leaf `n`'s hash; on a mismatch, tells a changed entry from
/// a moved one (its hash is that of the same content at a neighbouring
/// sequence number) and returns the index to blame.
fn check_leaf_hash(n: u64, content: Content<'_>, recorded: &str) -> Result<Hash, (u64, String)> {
    let recorded: Hash = hex::decode(recorded)
        .ok()
        .and_then(|b| Hash::try_from(b.as_slice()).ok())
        .ok_or_else(|| (n, "leaf_hash is not a hex SHA-256 hash".to_owned()))?;
    let computed = hash_at(n, content);
    if computed == recorded {
        return Ok(recorded);
    }
    if hash_at(n + 1, content) == recorded {
        return Err((
            n,
            format!(
                "moved: its recorded leaf hash is that of the same content as entry {}, so \
                 entries were reordered, or one before it deleted and the rest renumbered",
                n + 1
            ),
        ));
    }
    if n > 1 && hash_at(n - 1, content) == recorded {
        return Err((
            n - 1,
            format!(
                "inserted: entry {n} carries the leaf hash of its content as entry {}, so the \
                 log was renumbered from there to make room for entry {}",
                n - 1,
                n - 1
            ),
        ));
    }
    Err((
        n,
        format!(
            "changed: the leaf hash recomputed from its content is {}, the recorded one {}",
            hex::encode(computed),
            hex::encode(recorded)
        ),
    ))
}

/// The names on a note's signature lines, for a message.
fn signers(note: &str) -> String {
    let names: Vec<&str> = note
        .split_once("\n\n")
        .map(|(_, sigs)| sigs)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix("\u{2014} "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    if names.is_empty() {
        "nobody".into()
    } else {
        names.join(", ")
    }
}

fn b64(hash: &Hash) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(hash)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "verify_tests.rs"]
mod tests;
