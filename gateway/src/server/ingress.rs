//! The partner listener: identifies the caller, reads and checks the body,
//! hands tickets to routing and the store, status updates to the lifecycle
//! ([`super::status`]), and answers in the caller's own format. Every error reply is made by
//! [`refuse`], in the family's own error format.
//!
//! Once a submission is decoded (its urgency known), the partner's rate
//! limit is checked ([`super::ratelimit`]).

use std::sync::Arc;

use adapters::{Family, FieldError};
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use schemas::Urgency;
use sha2::{Digest, Sha256};
use tracing::Instrument;

use super::ratelimit::{admit, rate_limited, with_limit};
use super::{App, partner_division};
use crate::config::PartnerConfig;
use crate::http::{Body, BodyError, Peer, read_body, respond};
use crate::lifecycle;
use crate::route::{self, RouteError};
use crate::store::{NewHandoff, Receipt, RefusedSubmission, Store, Submitted};
use crate::wire::{self, Kind};

/// Header naming the partner on a plain-HTTP development listener, where no
/// client certificate exists. Ignored when TLS is on.
pub const DEV_PARTNER_HEADER: &str = "x-gateway-partner";

/// Routes one request.
pub async fn handle(app: Arc<App>, req: Request<Incoming>, peer: Arc<Peer>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    match (req.method(), path.as_str()) {
        (&Method::GET, "/healthz") => respond(StatusCode::OK, "text/plain", "ok\n"),
        (&Method::GET, "/readyz") => match app.store.targets_with_pending().await {
            Ok(_) => respond(StatusCode::OK, "text/plain", "ready\n"),
            Err(e) => respond(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                format!("store: {e}\n"),
            ),
        },
        (_, p) if p.starts_with("/pu/v1/") => super::pu::handle(app, req, peer).await,
        (_, p) if p == "/pu" || p.starts_with("/pu/") => {
            super::inbox_web::handle(app, req, peer).await
        }
        (_, p) if p.starts_with("/open311/v2/") => super::open311::handle(app, req, peer).await,
        (_, p) if p.starts_with("/audit/v1/") => super::audit::handle(app, req, peer).await,
        (&Method::POST, p) => match wire::inbound(p) {
            Some(inbound) => push(app, req, &peer, inbound).await,
            None => respond(StatusCode::NOT_FOUND, "text/plain", "no such endpoint\n"),
        },
        _ => respond(StatusCode::NOT_FOUND, "text/plain", "no such endpoint\n"),
    }
}

/// An error reply in `family`'s own format.
pub fn refuse(
    family: Family,
    status: StatusCode,
    message: &str,
    errors: &[FieldError],
) -> Response<Body> {
    let errors = if errors.is_empty() {
        vec![FieldError::new("body", message)]
    } else {
        errors.to_vec()
    };
    let body = adapters::encode_error(family, status.as_u16(), message, &errors);
    respond(status, adapters::error_content_type(family), body)
}

/// The configured partner behind a request: its verified certificate's
/// subject, or on a plain-HTTP development listener the partner header.
pub fn identify<'a>(
    app: &'a App,
    peer: &Peer,
    headers: &http::HeaderMap,
) -> Option<&'a PartnerConfig> {
    match &peer.identity {
        Some(cn) => app.config.partner_by_identity(cn),
        None if app.config.server.plain_http => headers
            .get(DEV_PARTNER_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|id| app.config.partner(id)),
        None => None,
    }
}

/// Reads the body of a request from `family`, with the size limit; the
/// error is the reply to send.
pub async fn body_of(
    app: &App,
    family: Family,
    req: Request<Incoming>,
) -> Result<Bytes, Response<Body>> {
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Err(reason) = wire::content_type_agrees(family, content_type.as_deref()) {
        return Err(refuse(
            family,
            StatusCode::BAD_REQUEST,
            "Content-Type does not match the format",
            &[FieldError::new("Content-Type", reason)],
        ));
    }
    match read_body(req.into_body(), app.config.server.max_body_bytes).await {
        Ok(b) => Ok(b),
        Err(BodyError::TooLarge) => Err(refuse(
            family,
            StatusCode::PAYLOAD_TOO_LARGE,
            "body too large",
            &[FieldError::new(
                "body",
                format!(
                    "over the limit of {} bytes",
                    app.config.server.max_body_bytes
                ),
            )],
        )),
        Err(BodyError::Read(e)) => Err(refuse(
            family,
            StatusCode::BAD_REQUEST,
            "body could not be read",
            &[FieldError::new("body", e)],
        )),
    }
}

/// Hex SHA-256 of an inbound body.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A push from a hotline or the enterprise hotline.
async fn push(
    app: Arc<App>,
    req: Request<Incoming>,
    peer: &Peer,
    inbound: wire::Inbound,
) -> Response<Body> {
    let family = inbound.family;
    let Some(partner) = identify(&app, peer, req.headers()).cloned() else {
        return refuse(
            family,
            StatusCode::FORBIDDEN,
            "a client certificate of a configured partner is required",
            &[],
        );
    };
    if partner.family != family {
        return refuse(
            family,
            StatusCode::FORBIDDEN,
            &format!(
                "partner {} speaks {}, not {family}",
                partner.id, partner.family
            ),
            &[],
        );
    }
    let (span, trace) = ingress_span(&partner, req.headers());
    let started = std::time::Instant::now();
    let (kind, resp) = receive(&app, req, &partner, inbound, &trace)
        .instrument(span)
        .await;
    if kind == Some(Kind::Ticket) && resp.status().is_success() {
        let family = family.to_string();
        app.metrics.observe(
            &crate::metrics::RECEIPT_SECONDS,
            &[&family],
            started.elapsed(),
        );
    }
    resp
}

/// The `ingress` span of a submission from `partner` and the trace
/// context a hand-off made of it gets: the partner's own trace continued
/// when its `traceparent` is valid (invalid ones are ignored), else a new
/// trace ([`crate::trace::begin`]).
pub fn ingress_span(
    partner: &PartnerConfig,
    headers: &http::HeaderMap,
) -> (tracing::Span, crate::trace::TraceParent) {
    let inbound = headers
        .get(crate::trace::HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::trace::parse);
    let span = tracing::info_span!(
        "ingress",
        partner = %partner.id,
        family = %partner.family,
        traceparent = inbound.as_ref().map(tracing::field::display),
        handoff_id = tracing::field::Empty,
        target = tracing::field::Empty,
        target_family = tracing::field::Empty,
    );
    let trace = crate::trace::begin(&span, inbound.as_ref());
    (span, trace)
}

/// A push from a known partner speaking its own family: reads the body,
/// finds the operation (when it got that far), submits.
async fn receive(
    app: &App,
    req: Request<Incoming>,
    partner: &PartnerConfig,
    inbound: wire::Inbound,
    trace: &crate::trace::TraceParent,
) -> (Option<Kind>, Response<Body>) {
    let family = inbound.family;
    let soap_action = req
        .headers()
        .get("soapaction")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = match body_of(app, family, req).await {
        Ok(b) => b,
        Err(resp) => return (inbound.kind, resp),
    };
    let raw_sha256 = sha256_hex(&body);
    let kind = match inbound.kind {
        Some(kind) => kind,
        None => match hb_operation(app, partner, soap_action.as_deref(), &body) {
            Ok(kind) => kind,
            Err((status, message, errors)) => {
                record_refused(app, Some(&partner.id), &raw_sha256, status, &message).await;
                return (None, refuse(family, status, &message, &errors));
            }
        },
    };
    let resp = match kind {
        Kind::Ticket => submit_ticket(app, partner, &body, raw_sha256, trace).await,
        Kind::Status => super::status::submit_status(app, partner, &body, &raw_sha256).await,
    };
    (Some(kind), resp)
}

/// A refusal to render in the caller's format: the HTTP status, the
/// message and the field errors.
pub type Refusal = (StatusCode, String, Vec<FieldError>);

/// Reads an hb-soap envelope's operation and checks its SenderCode
/// against the certificate: a mismatch is an impersonation.
fn hb_operation(
    app: &App,
    partner: &PartnerConfig,
    soap_action: Option<&str>,
    body: &[u8],
) -> Result<Kind, Refusal> {
    let (operation, sender) = adapters::hb::decode_envelope_operation(body)
        .map_err(|e| (StatusCode::BAD_REQUEST, e.to_string(), e.field_errors()))?;
    let kind = match operation {
        adapters::hb::Operation::PushWorkOrder => Kind::Ticket,
        adapters::hb::Operation::PushFeedback => Kind::Status,
    };
    if let Some(action) = soap_action
        && action != wire::soap_action(kind)
    {
        return Err((
            StatusCode::BAD_REQUEST,
            format!("SOAPAction {action} does not name the operation in the body"),
            vec![FieldError::new(
                "SOAPAction",
                format!("expected {}", wire::soap_action(kind)),
            )],
        ));
    }
    let expected = partner_division(&app.config, partner);
    if expected.as_deref() != Some(sender.as_str()) {
        tracing::warn!(partner = %partner.id, "SenderCode does not match the client certificate");
        return Err((
            StatusCode::FORBIDDEN,
            format!(
                "SenderCode {sender} is not the division of the certificate's partner {}: impersonation refused",
                partner.id
            ),
            vec![FieldError::new(
                "SenderCode",
                "does not match the client certificate",
            )],
        ));
    }
    Ok(kind)
}

/// Records a submission refused before it became a hand-off.
pub async fn record_refused(
    app: &App,
    partner: Option<&str>,
    raw_sha256: &str,
    status: StatusCode,
    reason: &str,
) {
    let refused = RefusedSubmission {
        partner: partner.map(str::to_owned),
        origin_ticket_id: None,
        raw_sha256: raw_sha256.to_owned(),
        http_status: status.as_u16(),
        reason: reason.chars().take(200).collect(),
    };
    if let Err(e) = app.store.record_refused(refused).await {
        tracing::error!(error = %e, "cannot record a refused submission");
    }
}

/// The field paths of an error, never its values (they may be personal).
pub fn reason_of(errors: &[FieldError]) -> String {
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    format!("invalid: {}", fields.join(", "))
}

/// A ticket: decode, route, commit, receipt.
pub async fn submit_ticket(
    app: &App,
    partner: &PartnerConfig,
    body: &[u8],
    raw_sha256: String,
    trace: &crate::trace::TraceParent,
) -> Response<Body> {
    let family = partner.family;
    let tables = &app.config.tables;
    let decode = decode_span(partner);
    let decoded = decode.in_scope(|| adapters::decode_ticket(family, body, tables));
    let mut ticket = match decoded {
        Ok(t) => t,
        Err(e) => {
            let errors = e.field_errors();
            record_refused(
                app,
                Some(&partner.id),
                &raw_sha256,
                StatusCode::BAD_REQUEST,
                &reason_of(&errors),
            )
            .await;
            return refuse(
                family,
                StatusCode::BAD_REQUEST,
                "请求数据校验失败 (validation failed)",
                &errors,
            );
        }
    };
    ticket.origin_partner = Some(partner.id.clone());
    let urgent = ticket.urgency == Urgency::Urgent;
    let limit = match admit(app, partner, urgent, &raw_sha256).await {
        Ok(limit) => limit,
        Err(decision) => return rate_limited(family, &decision),
    };
    let submission = Submission {
        raw_sha256,
        trace: trace.clone(),
        decode,
    };
    let resp = commit_ticket(app, partner, ticket, submission).await;
    with_limit(resp, limit.as_ref())
}

/// A span of a step before the hand-off exists (`decode`, `route`): the
/// hand-off id and the target are recorded when it is committed, before
/// the span closes (its end is its last exit, so the timing stays the
/// step's own).
macro_rules! step_span {
    ($name:literal, $partner:expr) => {
        tracing::info_span!(
            $name,
            origin = %$partner.id,
            origin_family = %$partner.family,
            handoff_id = tracing::field::Empty,
            target = tracing::field::Empty,
            target_family = tracing::field::Empty,
        )
    };
}

/// The `decode` span of a ticket from `partner` ([`step_span`]).
pub fn decode_span(partner: &PartnerConfig) -> tracing::Span {
    step_span!("decode", partner)
}

/// What a decoded submission brings to [`commit`] besides its ticket.
pub struct Submission {
    /// Hex SHA-256 of the inbound bytes.
    pub raw_sha256: String,
    /// The trace context the hand-off gets ([`ingress_span`]).
    pub trace: crate::trace::TraceParent,
    /// The `decode` span ([`decode_span`]), still open.
    pub decode: tracing::Span,
}

/// Routes a decoded ticket and commits the hand-off, answering in the
/// partner's family.
pub async fn commit_ticket(
    app: &App,
    partner: &PartnerConfig,
    ticket: schemas::Ticket,
    submission: Submission,
) -> Response<Body> {
    let family = partner.family;
    match commit(app, partner, ticket, submission).await {
        Ok(receipt) => receipt_reply(family, &receipt.handoff_id, receipt.audit_seq),
        Err((status, message, errors)) => refuse(family, status, &message, &errors),
    }
}

/// Routes a decoded ticket and commits the hand-off: the one code path of
/// every submission. Gives the receipt (a duplicate submission's is the
/// first one), or the refusal to render, with field names of the
/// partner's family. Refusals of routing are recorded in the audit trail.
/// The steps' spans (the current `ingress`, `decode`, `route`, `commit`)
/// get the hand-off id and the target once it is committed.
pub async fn commit(
    app: &App,
    partner: &PartnerConfig,
    ticket: schemas::Ticket,
    submission: Submission,
) -> Result<Receipt, Refusal> {
    let Submission {
        raw_sha256,
        trace,
        decode,
    } = submission;
    let family = partner.family;
    let tables = &app.config.tables;
    let route_span = step_span!("route", partner);
    let routed = route_span
        .in_scope(|| route::route(&ticket, &partner.id, family, tables, app.config.as_ref()));
    let route = match routed {
        Ok(r) => r,
        Err(e) => {
            let status = match e {
                RouteError::NotConnected { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                _ => StatusCode::BAD_REQUEST,
            };
            record_refused(
                app,
                Some(&partner.id),
                &raw_sha256,
                status,
                &format!("route: {}", e.wire_field(family)),
            )
            .await;
            return Err((
                status,
                "cannot route the ticket".to_owned(),
                vec![FieldError::new(e.wire_field(family), e.to_string())],
            ));
        }
    };
    let Some(target) = app.config.partner(&route.partner) else {
        return Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            "target not connected".to_owned(),
            Vec::new(),
        ));
    };
    let now = app.now();
    let (ack_by, resolve_by) =
        lifecycle::deadlines(route.kind, ticket.urgency, now, &app.deadlines());
    let mut ticket = ticket;
    ticket.target_partner = Some(route.partner.clone());
    if let (Some(property), Some(owner)) = (ticket.property.as_mut(), route.owner_kind) {
        property.owner_kind = Some(owner);
        property.unit_id = Some(route.partner.clone());
    }
    let unmapped_scheme = ticket
        .category
        .source
        .as_ref()
        .filter(|s| s.unmapped)
        .map(|s| s.scheme.clone());
    let commit_span = tracing::info_span!(
        "commit",
        origin = %partner.id,
        origin_family = %family,
        target = %route.partner,
        target_family = %target.family,
        kind = route.kind.as_str(),
        handoff_id = tracing::field::Empty,
        outcome = tracing::field::Empty,
    );
    let new = NewHandoff {
        origin_partner: partner.id.clone(),
        origin_family: family,
        origin_ticket_id: ticket.origin_ticket_id.clone(),
        target_partner: route.partner.clone(),
        target_family: target.family,
        kind: route.kind,
        urgency: ticket.urgency,
        ticket,
        raw_sha256,
        ack_by,
        resolve_by,
        now,
        trace_parent: Some(trace.to_string()),
    };
    let submitted = app.store.submit(new).instrument(commit_span.clone()).await;
    if let Ok(s) = &submitted {
        // A repeat's spans name the hand-off it repeats (in the repeat's
        // own trace: the hand-off keeps the first one's).
        let id = s.receipt().handoff_id.as_str();
        let outcome = match s {
            Submitted::Created(_) => "created",
            Submitted::Duplicate { .. } => "duplicate",
            Submitted::Conflict { .. } => "conflict",
        };
        commit_span.record("handoff_id", tracing::field::display(id));
        commit_span.record("outcome", outcome);
        for step in [&tracing::Span::current(), &decode, &route_span] {
            step.record("handoff_id", tracing::field::display(id));
            step.record("target", tracing::field::display(&route.partner));
            step.record("target_family", tracing::field::display(target.family));
        }
    }
    drop((decode, route_span));
    match submitted {
        Ok(Submitted::Created(receipt)) => {
            tracing::info!(handoff_id = %receipt.handoff_id, origin = %partner.id, target = %route.partner, kind = route.kind.as_str(), "hand-off received");
            app.metrics.inc(
                &crate::metrics::RECEIVED,
                &[&partner.id, &route.partner, route.kind.as_str()],
            );
            if let Some(scheme) = unmapped_scheme {
                app.metrics.inc(&crate::metrics::UNMAPPED, &[&scheme]);
            }
            app.queued_for(&route.partner);
            Ok(receipt)
        }
        Ok(Submitted::Duplicate { first, .. }) => {
            tracing::info!(handoff_id = %first.handoff_id, origin = %partner.id, "duplicate submission answered with the first receipt");
            Ok(first)
        }
        Ok(Submitted::Conflict { first, .. }) => Err((
            StatusCode::CONFLICT,
            format!(
                "this ticket id was submitted before with different content (hand-off {})",
                first.handoff_id
            ),
            vec![FieldError::new(
                id_field(family),
                "already submitted with different content",
            )],
        )),
        Err(e) => {
            tracing::error!(error = %e, "store refused a submission");
            Err((
                StatusCode::SERVICE_UNAVAILABLE,
                "the gateway cannot store the ticket now; retry".to_owned(),
                Vec::new(),
            ))
        }
    }
}

fn receipt_reply(family: Family, handoff_id: &str, audit_seq: u64) -> Response<Body> {
    let status = if family == Family::HbSoap {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    respond(
        status,
        family.content_type(),
        adapters::encode_receipt(family, handoff_id, audit_seq),
    )
}

/// The field that carries the origin ticket id.
fn id_field(family: Family) -> &'static str {
    match family {
        Family::BjJson => "orderNo",
        Family::TjXml => "AppealId",
        Family::HbSoap => "GDBH",
        Family::EntJson => "ticket_id",
        Family::PuJson => "order_id",
        Family::Open311Json | Family::Open311Xml => "service_request_id",
        Family::Canonical => "origin_ticket_id",
    }
}
