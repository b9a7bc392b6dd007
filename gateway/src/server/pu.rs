//! The property units' inbox API (pu-json): a unit's liaison lists its
//! repair orders, reads one, acknowledges it (the delivery) and reports
//! progress. A unit sees only its own orders: an order of another unit
//! answers 404 exactly like an unknown id.

use std::sync::Arc;

use adapters::{Family, FieldError};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use schemas::{HistoryEntry, StatusUpdate, Ticket};

use super::App;
use super::ingress::{body_of, identify, refuse, sha256_hex};
use super::ratelimit::{admit, rate_limited, with_limit};
use super::status::{StatusFailure, apply_status_core};
use crate::config::PartnerConfig;
use crate::http::{Body, Peer, respond};
use crate::store::{DeliveryResult, HandoffRecord, MessageKind, OutboxState, Outcome, Store};

const FAMILY: Family = Family::PuJson;

/// Serves `/pu/v1/...`.
pub async fn handle(app: Arc<App>, req: Request<Incoming>, peer: Arc<Peer>) -> Response<Body> {
    let Some(unit) = identify(&app, &peer, req.headers()).cloned() else {
        return refuse(
            FAMILY,
            StatusCode::FORBIDDEN,
            "a liaison certificate of a configured property unit is required",
            &[],
        );
    };
    if unit.family != FAMILY {
        return refuse(
            FAMILY,
            StatusCode::FORBIDDEN,
            &format!("{} is not a property unit", unit.id),
            &[],
        );
    }
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let segments: Vec<&str> = path.trim_start_matches("/pu/v1/").split('/').collect();
    match (req.method().clone(), segments.as_slice()) {
        (Method::GET, ["orders"]) => list(&app, &unit, &query).await,
        (Method::GET, ["orders", id]) => match order(&app, &unit, id).await {
            Ok(Some(body)) => respond(StatusCode::OK, "application/json", body),
            Ok(None) => not_found(id),
            Err(resp) => resp,
        },
        (Method::POST, ["orders", id, "ack"]) => ack(&app, &unit, id, req).await,
        (Method::POST, ["orders", id, "status"]) => {
            let id = (*id).to_owned();
            status(&app, &unit, &id, req).await
        }
        _ => refuse(
            FAMILY,
            StatusCode::NOT_FOUND,
            "no such endpoint",
            &[FieldError::new("path", path.clone())],
        ),
    }
}

fn not_found(id: &str) -> Response<Body> {
    refuse(
        FAMILY,
        StatusCode::NOT_FOUND,
        "no such order",
        &[FieldError::new(
            "order_id",
            format!("no order {id} in this inbox"),
        )],
    )
}

fn unavailable(e: impl std::fmt::Display) -> Response<Body> {
    tracing::error!(error = %e, "inbox cannot read the store");
    refuse(
        FAMILY,
        StatusCode::SERVICE_UNAVAILABLE,
        "the inbox cannot be read now; retry",
        &[],
    )
}

/// The repair order as the unit sees it: the ticket, its deadlines and its
/// history so far.
pub async fn order_ticket(app: &App, record: &HandoffRecord) -> Result<Ticket, Response<Body>> {
    let history = app.store.history(&record.id).await.map_err(unavailable)?;
    let mut ticket = record.ticket.clone();
    ticket.handoff_id = Some(record.id.clone());
    ticket.origin_partner = Some(record.origin_partner.clone());
    ticket.target_partner = Some(record.target_partner.clone());
    ticket.ack_by = Some(record.ack_by);
    ticket.resolve_by = Some(record.resolve_by);
    ticket.history = history
        .into_iter()
        .filter(|h| matches!(h.outcome, Outcome::Applied | Outcome::Notice))
        .map(|h| HistoryEntry {
            state: h.status,
            at: h.at,
            by: h.by,
            comment: h.comment,
        })
        .collect();
    Ok(ticket)
}

async fn order(
    app: &App,
    unit: &PartnerConfig,
    id: &str,
) -> Result<Option<Vec<u8>>, Response<Body>> {
    let Some(record) = app
        .store
        .unit_order(&unit.id, id)
        .await
        .map_err(unavailable)?
    else {
        return Ok(None);
    };
    let ticket = order_ticket(app, &record).await?;
    match adapters::encode_ticket(FAMILY, &ticket, &app.config.tables) {
        Ok(encoded) => Ok(Some(encoded.bytes)),
        Err(e) => {
            tracing::error!(handoff_id = %id, error = %e, "stored order cannot be written as pu-json");
            Err(refuse(
                FAMILY,
                StatusCode::INTERNAL_SERVER_ERROR,
                "the order cannot be shown",
                &[],
            ))
        }
    }
}

async fn list(app: &App, unit: &PartnerConfig, query: &str) -> Response<Body> {
    let open_only =
        form_urlencoded::parse(query.as_bytes()).any(|(k, v)| k == "state" && v == "open");
    let records = match app.store.unit_orders(&unit.id, open_only).await {
        Ok(r) => r,
        Err(e) => return unavailable(e),
    };
    let mut items = Vec::with_capacity(records.len());
    for record in &records {
        let ticket = match order_ticket(app, record).await {
            Ok(t) => t,
            Err(resp) => return resp,
        };
        match adapters::encode_ticket(FAMILY, &ticket, &app.config.tables) {
            Ok(encoded) => match serde_json::from_slice::<serde_json::Value>(&encoded.bytes) {
                Ok(v) => items.push(v),
                Err(e) => return unavailable(e),
            },
            Err(e) => {
                tracing::error!(handoff_id = %record.id, error = %e, "stored order cannot be written as pu-json")
            }
        }
    }
    respond(
        StatusCode::OK,
        "application/json",
        adapters::json::write(&items),
    )
}

/// The liaison's acknowledgement: the order is delivered, with the unit's
/// own reference when given.
async fn ack(app: &App, unit: &PartnerConfig, id: &str, req: Request<Incoming>) -> Response<Body> {
    let body = match body_of(app, FAMILY, req).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let unit_ref = match adapters::pu::decode_ack(&body) {
        Ok(r) => r,
        Err(e) => {
            return refuse(
                FAMILY,
                StatusCode::BAD_REQUEST,
                "invalid acknowledgement",
                &e.field_errors(),
            );
        }
    };
    let limit = match admit(app, unit, false, &sha256_hex(&body)).await {
        Ok(limit) => limit,
        Err(decision) => return rate_limited(FAMILY, &decision),
    };
    with_limit(ack_order(app, unit, id, unit_ref).await, limit.as_ref())
}

/// Why a liaison's action on an order was not recorded.
#[derive(Debug)]
pub enum ActionError {
    /// No such order in this unit's inbox (or another unit's: the same).
    NotFound,
    /// The lifecycle refused the transition; the reason, for people.
    Refused(String),
    /// The store could not be read or written; retry.
    Unavailable,
}

impl ActionError {
    /// The reply in pu-json.
    fn reply(self, id: &str) -> Response<Body> {
        match self {
            ActionError::NotFound => not_found(id),
            ActionError::Refused(reason) => refuse(
                FAMILY,
                StatusCode::CONFLICT,
                &reason,
                &[FieldError::new("state", reason.clone())],
            ),
            ActionError::Unavailable => refuse(
                FAMILY,
                StatusCode::SERVICE_UNAVAILABLE,
                "the inbox cannot be changed now; retry",
                &[],
            ),
        }
    }
}

/// Records the acknowledgement of order `id` by `unit` (the delivery, with
/// the unit's own reference): the one path of the JSON API and the web
/// inbox. `by` is the liaison, when known (the web inbox's sign-in; the
/// JSON API's acknowledgement names nobody). The audit sequence number, or
/// 0 when it was acknowledged before (harmless, as a repeated status is).
pub async fn acknowledge(
    app: &App,
    unit: &PartnerConfig,
    id: &str,
    unit_ref: Option<String>,
    by: Option<String>,
) -> Result<u64, ActionError> {
    let unavailable = |e: crate::store::StoreError| {
        tracing::error!(error = %e, "inbox cannot use the store");
        ActionError::Unavailable
    };
    let record = app
        .store
        .unit_order(&unit.id, id)
        .await
        .map_err(unavailable)?
        .ok_or(ActionError::NotFound)?;
    let outbox = app.store.outbox(id).await.map_err(unavailable)?;
    let pending = outbox.iter().find(|o| {
        o.target_partner == unit.id
            && o.kind() == MessageKind::Ticket
            && o.state == OutboxState::Pending
    });
    let Some(item) = pending else {
        return Ok(0);
    };
    let result = DeliveryResult::Delivered {
        sent_sha256: None,
        target_ticket_id: unit_ref,
        at: app.now(),
        by,
    };
    let recorded = app
        .store
        .record_delivery(item.id, result, app.notify(&record.origin_partner))
        .await
        .map_err(unavailable)?;
    tracing::info!(handoff_id = %id, unit = %unit.id, "repair order acknowledged");
    app.queued_for(&record.origin_partner);
    Ok(recorded.audit_seq)
}

/// Applies a liaison's status (accepted, returned, in progress, resolved)
/// to order `id` of `unit`: the one path of the JSON API and the web inbox
/// (the lifecycle, the audit log and the notice to the origin).
pub async fn report(
    app: &App,
    unit: &PartnerConfig,
    id: &str,
    mut update: StatusUpdate,
) -> Result<u64, ActionError> {
    match app.store.unit_order(&unit.id, id).await {
        Ok(Some(_)) => {}
        Ok(None) => return Err(ActionError::NotFound),
        Err(e) => {
            tracing::error!(error = %e, "inbox cannot read the store");
            return Err(ActionError::Unavailable);
        }
    }
    update.handoff_id = Some(id.to_owned());
    apply_status_core(app, unit, id, update)
        .await
        .map_err(|e| match e {
            StatusFailure::NotFound => ActionError::NotFound,
            StatusFailure::Refused(reason) => ActionError::Refused(reason),
            StatusFailure::Unavailable => ActionError::Unavailable,
        })
}

/// Records the acknowledgement of order `id`, answering in pu-json.
async fn ack_order(
    app: &App,
    unit: &PartnerConfig,
    id: &str,
    unit_ref: Option<String>,
) -> Response<Body> {
    match acknowledge(app, unit, id, unit_ref, None).await {
        Ok(audit_seq) => respond(
            StatusCode::OK,
            "application/json",
            adapters::encode_receipt(FAMILY, id, audit_seq),
        ),
        Err(e) => e.reply(id),
    }
}

async fn status(
    app: &App,
    unit: &PartnerConfig,
    id: &str,
    req: Request<Incoming>,
) -> Response<Body> {
    let body = match body_of(app, FAMILY, req).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let update = match adapters::decode_status(FAMILY, &body, &app.config.tables) {
        Ok(u) => u,
        Err(e) => {
            return refuse(
                FAMILY,
                StatusCode::BAD_REQUEST,
                "请求数据校验失败 (validation failed)",
                &e.field_errors(),
            );
        }
    };
    match app.store.unit_order(&unit.id, id).await {
        Ok(Some(_)) => {}
        Ok(None) => return not_found(id),
        Err(e) => return unavailable(e),
    }
    let limit = match admit(app, unit, false, &sha256_hex(&body)).await {
        Ok(limit) => limit,
        Err(decision) => return rate_limited(FAMILY, &decision),
    };
    let resp = match report(app, unit, id, update).await {
        Ok(audit_seq) => respond(
            StatusCode::OK,
            FAMILY.content_type(),
            adapters::encode_receipt(FAMILY, id, audit_seq),
        ),
        Err(e) => e.reply(id),
    };
    with_limit(resp, limit.as_ref())
}
