//! `requests`: creating a service request (POST) and reading them (GET).
//!
//! POST (`application/x-www-form-urlencoded`, as the standard says): the
//! `api_key` names the submitting partner, `jurisdiction_id` is checked,
//! then the body is decoded ([`adapters::open311::decode_post`], the time
//! of receipt is the gateway's clock) and handed to the same routing and
//! commit as every other submission ([`super::super::ingress::commit`]).
//! - An Open311 POST carries no client ticket id, so the gateway gives it a
//!   fresh ULID as its origin ticket id: every POST is a new request (the
//!   idempotency key of the store is (partner, origin ticket id); a client
//!   that retries after a lost answer creates a second request, as with
//!   any GeoReport v2 server).
//! - A `service_code` that is not in `GET services` is refused (400): the
//!   client chooses from that list.
//! - The answer is HTTP 200 with the standard `[{service_request_id,
//!   service_notice, account_id}]`; the id is the hand-off id.
//!
//! GET shows a hand-off as the stored ticket with its hand-off id
//! (`service_request_id`), its target (`agency_responsible`) and answer
//! deadline (`expected_datetime`), and its state: `status` is `open` or
//! `closed` from the hand-off's state (formats.md), `status_notes` the
//! comment of the last status update that was applied (null when it had
//! none), `updated_datetime` the time the hand-off last changed. A
//! property hand-off carries a [`PROPERTY_NOTICE`] in `service_notice`.
//!
//! The list's filters are the standard's: `service_request_id` (a comma
//! list; it overrides every other filter), `service_code` (comma list),
//! `status` (`open`/`closed`, comma list), `start_date` and `end_date`
//! (RFC 3339, on `requested_datetime`; the range may not span more than
//! [`MAX_RANGE_DAYS`] days and defaults to the last [`MAX_RANGE_DAYS`]
//! days). Newest first, at most [`MAX_REQUESTS`].

use adapters::FieldError;
use adapters::open311::{self, Syntax};
use bytes::Bytes;
use chrono::TimeDelta;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use schemas::{Caller, Ticket, Timestamp};
use tracing::Instrument;

use super::super::App;
use super::super::ingress::{
    Submission, commit, decode_span, ingress_span, reason_of, record_refused, sha256_hex,
};
use super::super::ratelimit::{admit, rate_limited_message, with_limit};
use super::{API_KEY_REFUSED, Params, content_type, error, unavailable, wrong_jurisdiction};
use crate::http::{Body, BodyError, read_body, respond};
use crate::store::{HandoffFilter, HandoffKind, HandoffRecord, Outcome, Store};

/// Most requests one `GET requests` answers (newest first).
pub const MAX_REQUESTS: usize = 1000;
/// Longest `start_date`..`end_date` range, and the default range back
/// from now, in days (the standard's 90).
pub const MAX_RANGE_DAYS: i64 = 90;
/// How many of an Open311 partner's newest hand-offs a list looks through
/// (the store's largest page).
const SCAN: usize = 10_000;
/// The `service_notice` of a property hand-off, followed by the configured
/// answer deadline in hours and `小时内答复。`.
pub const PROPERTY_NOTICE: &str = "央产、军产小区房屋维修由产权单位负责，一般在";

/// The media type of a POST body.
const FORM: &str = "application/x-www-form-urlencoded";

/// True for a hand-off that the Open311 endpoints may show.
fn from_open311(record: &HandoffRecord) -> bool {
    matches!(
        record.origin_family,
        adapters::Family::Open311Json | adapters::Family::Open311Xml
    )
}

/// `POST requests`.
pub(super) async fn create(app: &App, syntax: Syntax, req: Request<Incoming>) -> Response<Body> {
    let headers = req.headers().clone();
    let body = match form_body(app, syntax, req).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let raw_sha256 = sha256_hex(&body);
    let params = Params::parse_bytes(&body);
    let partner = params
        .first("api_key")
        .and_then(|key| app.config.partner_by_api_key(key))
        .filter(|p| {
            matches!(
                p.family,
                adapters::Family::Open311Json | adapters::Family::Open311Xml
            )
        })
        .cloned();
    let Some(partner) = partner else {
        tracing::warn!("Open311 POST without a valid api_key refused");
        let status = StatusCode::FORBIDDEN;
        record_refused(app, None, &raw_sha256, status, "api_key missing or invalid").await;
        return error(syntax, status, API_KEY_REFUSED, &[]);
    };
    if let Some(resp) = wrong_jurisdiction(app, syntax, params.first("jurisdiction_id")) {
        let reason = "jurisdiction_id not served";
        record_refused(
            app,
            Some(&partner.id),
            &raw_sha256,
            StatusCode::NOT_FOUND,
            reason,
        )
        .await;
        return resp;
    }
    let (span, trace) = ingress_span(&partner, &headers);
    create_as(app, syntax, &partner, &body, raw_sha256, trace)
        .instrument(span)
        .await
}

/// `POST requests` from a known partner, in its `ingress` span.
async fn create_as(
    app: &App,
    syntax: Syntax,
    partner: &crate::config::PartnerConfig,
    body: &[u8],
    raw_sha256: String,
    trace: crate::trace::TraceParent,
) -> Response<Body> {
    let tables = &app.config.tables;
    let refused = async |errors: Vec<FieldError>| {
        let status = StatusCode::BAD_REQUEST;
        record_refused(
            app,
            Some(&partner.id),
            &raw_sha256,
            status,
            &reason_of(&errors),
        )
        .await;
        error(
            syntax,
            status,
            "请求数据校验失败 (validation failed)",
            &errors,
        )
    };
    let decode = decode_span(partner);
    let decoded = decode.in_scope(|| open311::decode_post(body, app.now(), tables));
    let mut ticket = match decoded {
        Ok(t) => t,
        Err(e) => return refused(e.field_errors()).await,
    };
    if let Some(source) = ticket.category.source.as_ref().filter(|s| s.unmapped) {
        let reason = format!(
            "'{}' is not a service of this endpoint (see GET services)",
            source.code
        );
        return refused(vec![FieldError::new("service_code", reason)]).await;
    }
    ticket.origin_partner = Some(partner.id.clone());
    ticket.origin_ticket_id = ulid::Ulid::generate().to_string();
    let urgent = ticket.urgency == schemas::Urgency::Urgent;
    let limit = match admit(app, partner, urgent, &raw_sha256).await {
        Ok(limit) => limit,
        Err(decision) => {
            let status = StatusCode::TOO_MANY_REQUESTS;
            let resp = error(syntax, status, &rate_limited_message(&decision), &[]);
            return with_limit(resp, Some(&decision));
        }
    };
    let submission = Submission {
        raw_sha256,
        trace,
        decode,
    };
    let resp = match commit(app, partner, ticket, submission).await {
        Ok(receipt) => respond(
            StatusCode::OK,
            content_type(syntax),
            open311::encode_receipt(syntax, &receipt.handoff_id, receipt.audit_seq),
        ),
        Err((status, message, errors)) => error(syntax, status, &message, &errors),
    };
    with_limit(resp, limit.as_ref())
}

/// Reads a form body: the Content-Type (when stated) must be a UTF-8 form.
async fn form_body(
    app: &App,
    syntax: Syntax,
    req: Request<Incoming>,
) -> Result<Bytes, Response<Body>> {
    let stated = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("(not text)").to_owned());
    if let Some(ct) = stated {
        let mut parts = ct.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default();
        let charset = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
            .map(|(_, v)| v.trim().trim_matches('"').to_ascii_uppercase());
        let reason = if !media.eq_ignore_ascii_case(FORM) {
            Some(format!("'{ct}' is not {FORM}"))
        } else {
            charset
                .filter(|c| c != "UTF-8" && c != "UTF8")
                .map(|c| format!("states charset {c}; the form must be UTF-8"))
        };
        if let Some(reason) = reason {
            return Err(error(
                syntax,
                StatusCode::BAD_REQUEST,
                "the body must be form data",
                &[FieldError::new("Content-Type", reason)],
            ));
        }
    }
    let limit = app.config.server.max_body_bytes;
    match read_body(req.into_body(), limit).await {
        Ok(b) => Ok(b),
        Err(BodyError::TooLarge) => Err(error(
            syntax,
            StatusCode::PAYLOAD_TOO_LARGE,
            "body too large",
            &[FieldError::new(
                "body",
                format!("over the limit of {limit} bytes"),
            )],
        )),
        Err(BodyError::Read(e)) => Err(error(
            syntax,
            StatusCode::BAD_REQUEST,
            "body could not be read",
            &[FieldError::new("body", e)],
        )),
    }
}

/// A hand-off the Open311 endpoints may show; `None` when it does not
/// exist or did not come from an Open311 client.
pub(super) async fn visible(
    app: &App,
    syntax: Syntax,
    id: &str,
) -> Result<Option<HandoffRecord>, Response<Body>> {
    match app.store.handoff(id).await {
        Ok(record) => Ok(record.filter(from_open311)),
        Err(e) => Err(unavailable(syntax, e)),
    }
}

/// The ticket the representation is written from: the stored ticket
/// without personal data, with the hand-off's id, target, deadline and
/// state.
async fn public_ticket(
    app: &App,
    syntax: Syntax,
    record: &HandoffRecord,
) -> Result<Ticket, Response<Body>> {
    let history = app
        .store
        .history(&record.id)
        .await
        .map_err(|e| unavailable(syntax, e))?;
    let last_applied = history.iter().rev().find(|h| h.outcome == Outcome::Applied);
    let mut t = record.ticket.clone();
    t.handoff_id = Some(record.id.clone());
    t.target_partner = Some(record.target_partner.clone());
    t.resolve_by = Some(record.resolve_by);
    t.caller = Caller::default();
    t.history.clear();
    let ext = &mut t.extensions;
    ext.remove(open311::EXT_DEVICE_ID);
    ext.remove(open311::EXT_ACCOUNT_ID);
    ext.insert(
        open311::EXT_STATUS.to_owned(),
        open311::open_or_closed(record.state).to_owned(),
    );
    match last_applied.and_then(|h| h.comment.clone()) {
        Some(notes) => ext.insert(open311::EXT_STATUS_NOTES.to_owned(), notes),
        None => ext.remove(open311::EXT_STATUS_NOTES),
    };
    ext.insert(
        open311::EXT_UPDATED.to_owned(),
        adapters::time::format_rfc3339(&record.updated_at),
    );
    if record.kind == HandoffKind::Property {
        let hours = app
            .config
            .deadlines
            .property
            .answer
            .as_secs()
            .div_ceil(3600);
        ext.insert(
            open311::EXT_SERVICE_NOTICE.to_owned(),
            format!("{PROPERTY_NOTICE}{hours}小时内答复。"),
        );
    }
    Ok(t)
}

/// `GET requests/{service_request_id}`.
pub(super) async fn one(app: &App, syntax: Syntax, id: &str) -> Response<Body> {
    let record = match visible(app, syntax, id).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return error(
                syntax,
                StatusCode::NOT_FOUND,
                "no such service request",
                &[FieldError::new(
                    "service_request_id",
                    format!("no service request {id}"),
                )],
            );
        }
        Err(resp) => return resp,
    };
    let ticket = match public_ticket(app, syntax, &record).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    match open311::encode_ticket(syntax, &ticket, &app.config.tables) {
        Ok(encoded) => respond(StatusCode::OK, content_type(syntax), encoded.bytes),
        Err(e) => {
            tracing::error!(handoff_id = %id, error = %e, "stored request cannot be written as Open311");
            error(
                syntax,
                StatusCode::INTERNAL_SERVER_ERROR,
                "the service request cannot be shown",
                &[],
            )
        }
    }
}

/// The filters of `GET requests`.
struct Filters {
    codes: Option<Vec<String>>,
    statuses: Option<Vec<String>>,
    start: Timestamp,
    end: Option<Timestamp>,
}

impl Filters {
    fn matches(&self, record: &HandoffRecord) -> bool {
        let t = &record.ticket;
        let code = t.category.source.as_ref().map(|s| s.code.as_str());
        let status = open311::open_or_closed(record.state);
        self.codes
            .as_ref()
            .is_none_or(|codes| code.is_some_and(|c| codes.iter().any(|x| x == c)))
            && self
                .statuses
                .as_ref()
                .is_none_or(|s| s.iter().any(|x| x == status))
            && t.received_at >= self.start
            && self.end.is_none_or(|end| t.received_at <= end)
    }
}

/// Reads the filters; the errors name the parameters.
fn filters(params: &Params, now: Timestamp) -> Result<Filters, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut date = |name: &str| {
        params
            .first(name)
            .and_then(|v| match adapters::time::parse_rfc3339(v) {
                Ok(t) => Some(t),
                Err(reason) => {
                    errors.push(FieldError::new(name, reason));
                    None
                }
            })
    };
    let (start, end) = (date("start_date"), date("end_date"));
    let statuses = params.list("status");
    for s in statuses.iter().flatten() {
        if s != "open" && s != "closed" {
            errors.push(FieldError::new(
                "status",
                format!("must be \"open\" or \"closed\"; got \"{s}\""),
            ));
        }
    }
    let range = TimeDelta::days(MAX_RANGE_DAYS);
    let (start, end) = match (start, end) {
        (Some(s), Some(e)) if s > e => {
            errors.push(FieldError::new("start_date", "is later than end_date"));
            (s, Some(e))
        }
        (Some(s), Some(e)) if e - s > range => {
            errors.push(FieldError::new(
                "end_date",
                format!("the range from start_date may not span more than {MAX_RANGE_DAYS} days"),
            ));
            (s, Some(e))
        }
        (Some(s), Some(e)) => (s, Some(e)),
        (Some(s), None) => (s, Some(s + range)),
        (None, Some(e)) => (e - range, Some(e)),
        (None, None) => (now - range, None),
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Filters {
        codes: params.list("service_code"),
        statuses,
        start,
        end,
    })
}

/// `GET requests`.
pub(super) async fn list(app: &App, syntax: Syntax, params: &Params) -> Response<Body> {
    let records = match params.list("service_request_id") {
        Some(ids) => {
            let mut records: Vec<HandoffRecord> = Vec::new();
            for id in ids.iter().take(MAX_REQUESTS) {
                if records.iter().any(|r| &r.id == id) {
                    continue;
                }
                match visible(app, syntax, id).await {
                    Ok(Some(r)) => records.push(r),
                    Ok(None) => {}
                    Err(resp) => return resp,
                }
            }
            records
        }
        None => {
            let filters = match filters(params, app.now()) {
                Ok(f) => f,
                Err(errors) => {
                    return error(syntax, StatusCode::BAD_REQUEST, "invalid query", &errors);
                }
            };
            match matching(app, &filters).await {
                Ok(r) => r,
                Err(e) => return unavailable(syntax, e),
            }
        }
    };
    let mut tickets = Vec::with_capacity(records.len());
    for record in &records {
        match public_ticket(app, syntax, record).await {
            Ok(t) => tickets.push(t),
            Err(resp) => return resp,
        }
    }
    let tables = &app.config.tables;
    let encoded = open311::encode_requests(syntax, &tickets, tables).or_else(|_| {
        // Leave out (and log) what cannot be written, show the rest.
        tickets.retain(|t| match open311::encode_ticket(syntax, t, tables) {
            Ok(_) => true,
            Err(e) => {
                tracing::error!(handoff_id = ?t.handoff_id, error = %e, "stored request cannot be written as Open311");
                false
            }
        });
        open311::encode_requests(syntax, &tickets, tables)
    });
    match encoded {
        Ok(encoded) => respond(StatusCode::OK, content_type(syntax), encoded.bytes),
        Err(e) => unavailable(syntax, e),
    }
}

/// The Open311 clients' hand-offs that pass `filters`, newest first, at
/// most [`MAX_REQUESTS`].
async fn matching(
    app: &App,
    filters: &Filters,
) -> Result<Vec<HandoffRecord>, crate::store::StoreError> {
    let mut records = Vec::new();
    let clients = app.config.partners.iter().filter(|p| {
        matches!(
            p.family,
            adapters::Family::Open311Json | adapters::Family::Open311Xml
        )
    });
    for client in clients {
        let filter = HandoffFilter {
            origin: Some(client.id.clone()),
            limit: SCAN,
            ..HandoffFilter::default()
        };
        let found = app.store.list_handoffs(filter).await?;
        records.extend(
            found
                .into_iter()
                .filter(|r| from_open311(r) && filters.matches(r)),
        );
    }
    // Hand-off ids are ULIDs: in time order.
    records.sort_by(|a, b| b.id.cmp(&a.id));
    records.truncate(MAX_REQUESTS);
    Ok(records)
}
