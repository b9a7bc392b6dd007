//! The audit log over HTTP (`/audit/v1/`), for partners and auditors who
//! verify it without trusting the gateway's operator. Every caller presents
//! a configured partner's client certificate (on a plain-HTTP development
//! listener, the partner header). Only `GET`.
//!
//! - `GET /audit/v1/checkpoint`: the latest signed checkpoint, a C2SP
//!   signed note (`text/plain; charset=utf-8`): origin line, tree size,
//!   base64 root hash, blank line, `— <key name> <base64 signature>`.
//!   503 when no `[audit]` signing key is configured or none is signed yet.
//! - `GET /audit/v1/proof/inclusion?seq=N[&size=M]`: the RFC 9162 inclusion
//!   proof of event N (leaf index N-1) in the tree of the first M events
//!   (default: the latest checkpoint's size):
//!   `{"seq", "leaf_index", "tree_size", "leaf_hash", "proof": [...]}`.
//! - `GET /audit/v1/proof/consistency?first=A[&second=B]`: the RFC 9162
//!   consistency proof from the tree of A events to the tree of B events
//!   (default: the latest checkpoint's size), `{"first", "second",
//!   "proof": [...]}`; A ≥ 1 (nothing can be proven from the empty tree).
//! - `GET /audit/v1/handoffs/{id}`: the latest checkpoint and every event
//!   of the hand-off, each with its leaf bytes (canonical JSON, as a UTF-8
//!   string), its leaf hash and its inclusion proof against that
//!   checkpoint (`null` for an event newer than it): `{"handoff_id",
//!   "checkpoint", "tree_size", "events": [{"seq", "leaf_index", "kind",
//!   "leaf", "leaf_hash", "proof"}]}`. Only the hand-off's origin and
//!   target see it; anyone else gets 404, as for an unknown id.
//!
//! Hashes are base64 (standard alphabet, padded), as in the checkpoint.
//! Sizes beyond the latest checkpoint, up to the current log, are served
//! too: a proof is worth something only against a signed checkpoint, and
//! checking that is the verifier's business. Errors are JSON `{"error":
//! "..."}`: 400 (bad parameters), 403 (no partner certificate), 404, 405,
//! 500 (a damaged log), 503 (store unavailable, nothing signed yet).
//!
//! Cost: each proof reads every leaf hash up to the tree size and rehashes
//! the tree (in a blocking task): O(n) per request.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::{Value, json};

use super::App;
use super::ingress::identify;
use crate::audit::merkle::{self, Hash};
use crate::config::PartnerConfig;
use crate::http::{Body, Peer, respond};
use crate::store::{CheckpointRecord, Store};

type Reply = Response<Body>;

/// A refusal: the status and the message of a JSON error reply.
struct Failure {
    status: StatusCode,
    message: String,
    /// Seconds for `Retry-After`.
    retry_after: Option<u64>,
}

impl Failure {
    /// The reply: `{"error": message}`.
    fn reply(self) -> Reply {
        let mut resp = respond(
            self.status,
            "application/json",
            json!({ "error": self.message }).to_string(),
        );
        if let Some(v) = self
            .retry_after
            .and_then(|s| http::HeaderValue::from_str(&s.to_string()).ok())
        {
            resp.headers_mut().insert(http::header::RETRY_AFTER, v);
        }
        resp
    }
}

/// Serves `/audit/v1/...`.
pub async fn handle(app: Arc<App>, req: Request<Incoming>, peer: Arc<Peer>) -> Reply {
    let Some(partner) = identify(&app, &peer, req.headers()).cloned() else {
        return error(
            StatusCode::FORBIDDEN,
            "a client certificate of a configured partner is required",
        )
        .reply();
    };
    if req.method() != Method::GET {
        let mut resp = error(StatusCode::METHOD_NOT_ALLOWED, "only GET is served here").reply();
        resp.headers_mut()
            .insert(http::header::ALLOW, http::HeaderValue::from_static("GET"));
        return resp;
    }
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let segments: Vec<&str> = path.trim_start_matches("/audit/v1/").split('/').collect();
    let result = match segments.as_slice() {
        ["checkpoint"] => checkpoint(&app).await,
        ["proof", "inclusion"] => inclusion(&app, &query).await,
        ["proof", "consistency"] => consistency(&app, &query).await,
        ["handoffs", id] if !id.is_empty() => handoff(&app, &partner, id).await,
        _ => Err(error(StatusCode::NOT_FOUND, "no such endpoint")),
    };
    result.unwrap_or_else(Failure::reply)
}

/// A refusal with `message`.
fn error(status: StatusCode, message: &str) -> Failure {
    Failure {
        status,
        message: message.to_owned(),
        retry_after: None,
    }
}

fn ok_json(value: &Value) -> Result<Reply, Failure> {
    Ok(respond(
        StatusCode::OK,
        "application/json",
        value.to_string(),
    ))
}

fn unavailable(e: impl std::fmt::Display) -> Failure {
    tracing::error!(error = %e, "audit API cannot read the store");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "the audit log cannot be read now; retry",
    )
}

fn b64(hash: &Hash) -> Value {
    Value::from(B64.encode(hash))
}

fn b64_all(hashes: &[Hash]) -> Value {
    Value::from(hashes.iter().map(b64).collect::<Vec<_>>())
}

/// The latest signed checkpoint; `None` without an `[audit]` signing key
/// (nothing is signed then, whatever an earlier run left in the store).
async fn latest(app: &App) -> Result<Option<CheckpointRecord>, Failure> {
    if app.config.audit.is_none() {
        return Ok(None);
    }
    app.store.latest_checkpoint().await.map_err(unavailable)
}

/// 503 for a request that needs a checkpoint when there is none.
fn no_checkpoint(app: &App) -> Failure {
    match &app.config.audit {
        None => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "this gateway signs no checkpoints: no [audit] signing key is configured",
        ),
        Some(audit) => Failure {
            retry_after: Some(audit.checkpoint_interval.as_secs().max(1)),
            ..error(
                StatusCode::SERVICE_UNAVAILABLE,
                "no checkpoint has been signed yet; retry",
            )
        },
    }
}

async fn checkpoint(app: &App) -> Result<Reply, Failure> {
    match latest(app).await? {
        Some(cp) => Ok(respond(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            cp.note,
        )),
        None => Err(no_checkpoint(app)),
    }
}

/// The query's parameters, each at most once and each one of `allowed`.
fn params(query: &str, allowed: &[&str]) -> Result<HashMap<String, String>, Failure> {
    let mut out = HashMap::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if !allowed.contains(&key.as_ref()) {
            return Err(error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "unknown parameter {key:?} (expected {})",
                    allowed.join(", ")
                ),
            ));
        }
        if out.insert(key.to_string(), value.to_string()).is_some() {
            return Err(error(
                StatusCode::BAD_REQUEST,
                &format!("parameter {key:?} is given twice"),
            ));
        }
    }
    Ok(out)
}

/// A positive integer parameter, or `None` when absent.
fn number(params: &HashMap<String, String>, name: &str) -> Result<Option<u64>, Failure> {
    match params.get(name) {
        None => Ok(None),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if n >= 1 && v.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(n)),
            _ => Err(error(
                StatusCode::BAD_REQUEST,
                &format!("{name} must be a positive integer, not {v:?}"),
            )),
        },
    }
}

/// The tree size parameter `name`, else the latest checkpoint's size;
/// with the parameter's name when it was given.
async fn tree_size<'a>(
    app: &App,
    params: &HashMap<String, String>,
    name: &'a str,
) -> Result<(u64, Option<&'a str>), Failure> {
    match number(params, name)? {
        Some(size) => Ok((size, Some(name))),
        None => match latest(app).await? {
            Some(cp) => Ok((cp.size, None)),
            None => Err(no_checkpoint(app)),
        },
    }
}

/// The leaf hashes of the tree of `size`, which must not exceed the log:
/// a 400 naming `param` when the caller gave the size, else (a signed
/// size the log no longer reaches) a 500.
async fn leaves(app: &App, size: u64, param: Option<&str>) -> Result<Vec<Hash>, Failure> {
    let log = app.store.audit_size().await.map_err(unavailable)?;
    if size > log {
        return Err(match param {
            Some(name) => error(
                StatusCode::BAD_REQUEST,
                &format!("{name} {size} is larger than the log ({log} events)"),
            ),
            None => {
                tracing::error!(size, log, "the audit log is shorter than its checkpoint");
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the audit log is damaged: it is shorter than its latest checkpoint",
                )
            }
        });
    }
    let hashes = app.store.leaf_hashes(size).await.map_err(unavailable)?;
    if u64::try_from(hashes.len()).ok() != Some(size) {
        tracing::error!(
            size,
            found = hashes.len(),
            "the audit log has gaps: run `gateway audit verify`"
        );
        return Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the audit log is damaged: events are missing",
        ));
    }
    Ok(hashes)
}

/// Runs proof hashing off the request threads.
async fn hashing<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Failure> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| unavailable(format!("proof task failed: {e}")))
}

fn proof_failed(e: merkle::ProofError) -> Failure {
    error(StatusCode::BAD_REQUEST, &e.to_string())
}

async fn inclusion(app: &App, query: &str) -> Result<Reply, Failure> {
    let params = params(query, &["seq", "size"])?;
    let seq =
        number(&params, "seq")?.ok_or_else(|| error(StatusCode::BAD_REQUEST, "seq is required"))?;
    let (size, given) = tree_size(app, &params, "size").await?;
    if seq > size {
        return Err(error(
            StatusCode::BAD_REQUEST,
            &format!("event {seq} is not in the tree of size {size}"),
        ));
    }
    let hashes = leaves(app, size, given).await?;
    let index = usize::try_from(seq - 1).unwrap_or(usize::MAX);
    let (leaf, proof) = hashing(move || {
        let leaf = hashes.get(index).copied();
        merkle::inclusion_proof(&hashes, index).map(|p| (leaf, p))
    })
    .await?
    .map_err(proof_failed)?;
    let Some(leaf) = leaf else {
        return Err(error(StatusCode::BAD_REQUEST, "no such leaf"));
    };
    ok_json(&json!({
        "seq": seq,
        "leaf_index": seq - 1,
        "tree_size": size,
        "leaf_hash": b64(&leaf),
        "proof": b64_all(&proof),
    }))
}

async fn consistency(app: &App, query: &str) -> Result<Reply, Failure> {
    let params = params(query, &["first", "second"])?;
    let first = number(&params, "first")?.ok_or_else(|| {
        error(
            StatusCode::BAD_REQUEST,
            "first is required (at least 1: nothing can be proven from the empty tree)",
        )
    })?;
    let (second, given) = tree_size(app, &params, "second").await?;
    if first > second {
        return Err(error(
            StatusCode::BAD_REQUEST,
            &format!("first ({first}) must not be larger than second ({second})"),
        ));
    }
    let hashes = leaves(app, second, given).await?;
    let m = usize::try_from(first).unwrap_or(usize::MAX);
    let proof = hashing(move || merkle::consistency_proof(&hashes, m))
        .await?
        .map_err(proof_failed)?;
    ok_json(&json!({
        "first": first,
        "second": second,
        "proof": b64_all(&proof),
    }))
}

async fn handoff(app: &App, partner: &PartnerConfig, id: &str) -> Result<Reply, Failure> {
    let not_found = || error(StatusCode::NOT_FOUND, "no such hand-off");
    let record = app.store.handoff(id).await.map_err(unavailable)?;
    match record {
        Some(h) if h.origin_partner == partner.id || h.target_partner == partner.id => {}
        // Another partner's hand-off does not exist for this caller.
        _ => return Err(not_found()),
    }
    let events = app.store.events(id).await.map_err(unavailable)?;
    let checkpoint = latest(app).await?;
    let size = checkpoint.as_ref().map_or(0, |c| c.size);
    let hashes = if size > 0 {
        leaves(app, size, None).await?
    } else {
        Vec::new()
    };
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    let proofs = hashing(move || {
        seqs.into_iter()
            .map(|seq| {
                let index = usize::try_from(seq.checked_sub(1)?).ok()?;
                (seq <= size)
                    .then(|| merkle::inclusion_proof(&hashes, index).ok())
                    .flatten()
            })
            .collect::<Vec<_>>()
    })
    .await?;
    let mut items = Vec::with_capacity(events.len());
    for (e, proof) in events.iter().zip(proofs) {
        let leaf = String::from_utf8(e.leaf_bytes()).map_err(|_| {
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "an audit leaf is not UTF-8",
            )
        })?;
        items.push(json!({
            "seq": e.seq,
            "leaf_index": e.seq.saturating_sub(1),
            "kind": e.kind.as_str(),
            "leaf": leaf,
            "leaf_hash": b64(&e.leaf_hash),
            "proof": proof.as_deref().map_or(Value::Null, b64_all),
        }));
    }
    ok_json(&json!({
        "handoff_id": id,
        "checkpoint": checkpoint.as_ref().map(|c| c.note.as_str()),
        "tree_size": checkpoint.as_ref().map(|c| c.size),
        "events": items,
    }))
}
