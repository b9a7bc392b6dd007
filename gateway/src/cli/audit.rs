//! `gateway audit export|verify|prove`: the audit log taken out of the
//! store, checked from the outside, and proven for one hand-off.
//!
//! # The export format
//!
//! `gateway audit export` writes JSON Lines (UTF-8, one JSON object per
//! line, each line ending in `\n`): first every leaf, in sequence, then
//! every signed checkpoint, smallest tree first. A verifier needs nothing
//! else (and the verifier key or keys of the log).
//!
//! A leaf line (one audit event):
//!
//! ```text
//! {"type":"leaf","seq":1,"kind":"received","at":1741736538000,"handoff_id":"01JP...","detail":{...},"leaf_hash":"3f1c..."}
//! ```
//!
//! - `seq`: the event's sequence number; the first is 1 and each line's is
//!   one more than the previous line's. Leaf index (0-based, as in RFC 6962
//!   proofs) = `seq - 1`.
//! - `kind`: what happened (`received`, `delivered`, `status_applied`, ...;
//!   a verifier should accept any string).
//! - `at`: when the gateway recorded it, Unix time in milliseconds (UTC).
//! - `handoff_id`: the hand-off, or `null` (refused submissions,
//!   configuration changes).
//! - `detail`: a JSON object of metadata and hashes (integers, strings,
//!   booleans, null, arrays, objects; no fractional numbers).
//! - `leaf_hash`: the RFC 6962 leaf hash the gateway recorded, lowercase
//!   hex.
//!
//! The leaf bytes are the canonical JSON of the object
//! `{"at","detail","handoff_id","kind","seq"}` built from those fields:
//! object keys sorted by their UTF-8 bytes at every level, no whitespace,
//! integers in decimal, strings with only `"`, `\` and control characters
//! escaped (`\b \t \n \f \r`, others `\u00XX` in lowercase hex), other
//! characters as raw UTF-8. `leaf_hash = SHA-256(0x00 || leaf bytes)`.
//!
//! A checkpoint line:
//!
//! ```text
//! {"type":"checkpoint","size":120,"note":"<origin>\n120\n<base64 root>\n\n— <key name> <base64 signature>\n"}
//! ```
//!
//! - `size`: the tree size the checkpoint commits to (the first `size`
//!   leaves).
//! - `note`: the signed note exactly as signed: a C2SP `tlog-checkpoint`
//!   body (origin line, decimal size, base64 RFC 6962 root of the first
//!   `size` leaves), a blank line, and one or more C2SP `signed-note`
//!   signature lines `— <name> <base64(4-byte key hash || Ed25519
//!   signature of the body)>`.
//!
//! Leaves after the largest checkpoint are not signed yet: they are
//! exported, but nothing proves them until a later checkpoint covers them.
//!
//! # Verifying
//!
//! `gateway audit verify` reads an export in one pass and holds only the
//! leaf hashes (32 bytes per event): each leaf's sequence number and
//! recomputed hash, then each checkpoint's signature (any one of the given
//! keys), origin, growth and root (recomputed from the leaves), and each
//! checkpoint the auditor saved earlier (`--checkpoint`), which alone
//! catches a log rewritten and re-signed by its operator. Its first
//! complaint names the first bad entry. Exit status: 0 verified, 1 not
//! verified, 2 the export or a key could not be read. See ARCHITECTURE.md
//! ("Audit log format") for the steps an independent verifier takes.

mod prove;
mod strict;
mod verify;

use std::io::{BufRead, BufReader, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use clap::Subcommand;
use serde::{Deserialize, Serialize};

use crate::audit::note::Verifier;
use crate::config;
use crate::store::{EventRecord, SqliteStore, Store};

/// Events read from the store per query while exporting.
const PAGE: usize = 1000;

/// What to do with the audit log.
#[derive(Subcommand)]
pub enum AuditCommand {
    /// Write the audit log (every leaf, then every signed checkpoint) as
    /// JSON Lines, for `gateway audit verify` or an independent verifier.
    Export {
        /// The TOML configuration file (for the store's path).
        #[arg(long, short)]
        config: PathBuf,
        /// Write here (replaced only once the export is complete) instead
        /// of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check an export: recompute every leaf hash and the tree, check
    /// every checkpoint's signature and root. Prints `ok: ...` and exits 0,
    /// or names the first bad entry and exits 1 (2 when the export or a
    /// key cannot be read at all).
    Verify {
        /// The export (JSON Lines); `-` for standard input.
        file: PathBuf,
        /// A verifier key `name+hash+key`, or a file holding one. Repeat
        /// for every key the log was signed with (after a key rotation, the
        /// old and the new): a checkpoint signed by any of them verifies.
        #[arg(long = "key", required = true, value_name = "VKEY")]
        keys: Vec<String>,
        /// A checkpoint note saved earlier (from the gateway's HTTP API or an
        /// earlier export), as a file; repeatable. The export must reproduce
        /// it: this is what catches a log rewritten and signed anew by its
        /// operator.
        #[arg(long = "checkpoint", value_name = "FILE")]
        checkpoints: Vec<PathBuf>,
        /// Show progress on standard error even when it is not a terminal.
        #[arg(long)]
        progress: bool,
    },
    /// Print, as JSON, the latest checkpoint and every event of a hand-off
    /// with its leaf, leaf hash and inclusion proof against that
    /// checkpoint.
    Prove {
        /// The hand-off id.
        handoff_id: String,
        /// The TOML configuration file (for the store's path).
        #[arg(long, short)]
        config: PathBuf,
    },
}

/// One line of an export.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum Line {
    /// An audit event.
    Leaf {
        seq: u64,
        kind: String,
        at: i64,
        handoff_id: Option<String>,
        #[serde(deserialize_with = "strict::strict_value")]
        detail: serde_json::Value,
        leaf_hash: String,
    },
    /// A signed checkpoint.
    Checkpoint { size: u64, note: String },
}

impl Line {
    fn leaf(event: &EventRecord) -> Line {
        Line::Leaf {
            seq: event.seq,
            kind: event.kind.as_str().to_owned(),
            at: event.at.timestamp_millis(),
            handoff_id: event.handoff_id.clone(),
            detail: event.detail.clone(),
            leaf_hash: hex::encode(event.leaf_hash),
        }
    }
}

/// Runs an `audit` command.
pub fn run(command: AuditCommand) -> ExitCode {
    match command {
        AuditCommand::Export { config, out } => with_store(&config, |store| async move {
            export(&store, out.as_deref()).await
        }),
        AuditCommand::Verify {
            file,
            keys,
            checkpoints,
            progress,
        } => verify_command(&file, &keys, &checkpoints, progress),
        AuditCommand::Prove { handoff_id, config } => with_store(&config, |store| async move {
            let proof = prove::prove(&store, &handoff_id).await?;
            let text = serde_json::to_string_pretty(&proof).map_err(|e| e.to_string())?;
            println!("{text}");
            Ok(())
        }),
    }
}

/// Opens the store named by the configuration `file` and runs `job`.
fn with_store<F, Fut>(file: &Path, job: F) -> ExitCode
where
    F: FnOnce(SqliteStore) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let cfg = match config::load(file) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match super::serve::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    if !cfg.store.path.is_file() {
        eprintln!("error: there is no store at {}", cfg.store.path.display());
        return ExitCode::from(2);
    }
    rt.block_on(async move {
        let store = match SqliteStore::open(&cfg.store.path) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        match job(store).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        }
    })
}

/// Writes the export to `out` (through `out.partial`, renamed at the end)
/// or to standard output.
async fn export(store: &SqliteStore, out: Option<&Path>) -> Result<(), String> {
    match out {
        None => {
            let stdout = std::io::stdout();
            let mut w = BufWriter::new(stdout.lock());
            write_export(store, &mut w).await?;
            w.flush()
                .map_err(|e| format!("cannot write the export: {e}"))
        }
        Some(path) => {
            let mut partial = path.as_os_str().to_owned();
            partial.push(".partial");
            let partial = PathBuf::from(partial);
            let file = std::fs::File::create(&partial)
                .map_err(|e| format!("cannot create {}: {e}", partial.display()))?;
            let mut w = BufWriter::new(file);
            let written = write_export(store, &mut w).await.and_then(|n| {
                let file = w
                    .into_inner()
                    .map_err(|e| format!("cannot write {}: {}", partial.display(), e.error()))?;
                file.sync_all()
                    .map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
                Ok(n)
            });
            match written {
                Ok((entries, checkpoints)) => {
                    std::fs::rename(&partial, path)
                        .map_err(|e| format!("cannot rename to {}: {e}", path.display()))?;
                    eprintln!(
                        "exported {entries} entries and {checkpoints} checkpoints to {}",
                        path.display()
                    );
                    Ok(())
                }
                Err(e) => {
                    let _ = std::fs::remove_file(&partial);
                    Err(e)
                }
            }
        }
    }
}

/// Writes every leaf then every checkpoint; returns how many of each.
///
/// The checkpoints are read first and the tree size next, so a gateway
/// writing meanwhile cannot make the export hold a checkpoint without its
/// leaves: leaves are exported up to that size only.
async fn write_export(store: &SqliteStore, w: &mut impl Write) -> Result<(u64, usize), String> {
    let checkpoints = store.checkpoints().await.map_err(|e| e.to_string())?;
    let size = store.audit_size().await.map_err(|e| e.to_string())?;
    let mut from = 1;
    let mut entries = 0u64;
    'pages: while from <= size {
        let page = store
            .audit_entries(from, PAGE)
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = page.last() else { break };
        from = last.seq + 1;
        for event in &page {
            if event.seq > size {
                break 'pages;
            }
            write_line(w, &Line::leaf(event))?;
            entries += 1;
        }
    }
    for cp in &checkpoints {
        write_line(
            w,
            &Line::Checkpoint {
                size: cp.size,
                note: cp.note.clone(),
            },
        )?;
    }
    Ok((entries, checkpoints.len()))
}

fn write_line(w: &mut impl Write, line: &Line) -> Result<(), String> {
    serde_json::to_writer(&mut *w, line)
        .map_err(|e| e.to_string())
        .and_then(|()| w.write_all(b"\n").map_err(|e| e.to_string()))
        .map_err(|e| format!("cannot write the export: {e}"))
}

/// Reads `--key` arguments: a verifier key, or a file holding one (its
/// first line that is neither empty nor a `#` comment).
fn read_keys(args: &[String]) -> Result<Vec<Verifier>, String> {
    args.iter()
        .map(|arg| {
            if let Ok(key) = Verifier::parse(arg) {
                return Ok(key);
            }
            let text = std::fs::read_to_string(arg).map_err(|e| {
                format!(
                    "--key {arg}: neither a verifier key (name+hash+key) nor a readable file: {e}"
                )
            })?;
            let line = text
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with('#'))
                .unwrap_or_default();
            Verifier::parse(line).map_err(|e| format!("--key {arg}: {e}"))
        })
        .collect()
}

fn verify_command(
    file: &Path,
    key_args: &[String],
    saved_files: &[PathBuf],
    progress: bool,
) -> ExitCode {
    let keys = match read_keys(key_args) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut saved = Vec::with_capacity(saved_files.len());
    for path in saved_files {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", path.display());
                return ExitCode::from(2);
            }
        };
        match verify::Saved::verify(&path.display().to_string(), &text, &keys) {
            Ok(s) => saved.push(s),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        }
    }
    let (reader, total): (Box<dyn BufRead>, Option<u64>) = if file == Path::new("-") {
        (Box::new(BufReader::new(std::io::stdin().lock())), None)
    } else {
        match std::fs::File::open(file) {
            Ok(f) => {
                let total = f.metadata().ok().map(|m| m.len());
                (Box::new(BufReader::with_capacity(1 << 16, f)), total)
            }
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", file.display());
                return ExitCode::from(2);
            }
        }
    };
    let terminal = std::io::stderr().is_terminal();
    let mut meter = Progress::new(total.filter(|_| progress || terminal), terminal);
    let result = verify::verify(reader, &keys, saved, &mut |read| meter.show(read));
    meter.finish();
    match result {
        Ok(summary) => {
            if let Some((from, to)) = summary.unsigned {
                eprintln!(
                    "note: entries {from}..={to} are not covered by a checkpoint yet \
                     (nothing proves them until a later checkpoint does)"
                );
            }
            println!(
                "ok: {} entries, {} checkpoints, latest root {}",
                summary.entries,
                summary.checkpoints,
                B64.encode(summary.latest_root)
            );
            ExitCode::SUCCESS
        }
        Err(verify::Failure::Io(e)) => {
            eprintln!("error: cannot read {}: {e}", file.display());
            ExitCode::from(2)
        }
        Err(failure) => {
            eprintln!("error: {failure}");
            ExitCode::from(1)
        }
    }
}

/// A percentage on standard error, at most once per percent: rewritten in
/// place on a terminal, one line per step otherwise (only with
/// `--progress`).
struct Progress {
    total: Option<u64>,
    terminal: bool,
    shown: Option<u64>,
}

impl Progress {
    fn new(total: Option<u64>, terminal: bool) -> Progress {
        Progress {
            total: total.filter(|t| *t > 0),
            terminal,
            shown: None,
        }
    }

    fn show(&mut self, read: u64) {
        let Some(total) = self.total else { return };
        let percent = read.saturating_mul(100) / total;
        if self.shown == Some(percent) {
            return;
        }
        self.shown = Some(percent);
        let mut err = std::io::stderr().lock();
        let _ = if self.terminal {
            write!(err, "\rverifying {percent:>3}%")
        } else {
            writeln!(err, "verifying {percent:>3}%")
        };
        let _ = err.flush();
    }

    fn finish(&mut self) {
        if self.terminal && self.shown.is_some() {
            let _ = write!(std::io::stderr(), "\r              \r");
        }
    }
}
