//! Status updates from partners: decoded, checked against the partner's
//! part in the hand-off, applied by the lifecycle in the store, and
//! answered in the partner's own format (each in a `status` span).

use adapters::{Family, FieldError};
use http::{Response, StatusCode};
use schemas::StatusUpdate;
use tracing::Instrument;

use super::App;
use super::ingress::{reason_of, record_refused, refuse};
use super::ratelimit::{admit, rate_limited, with_limit};
use crate::config::PartnerConfig;
use crate::http::{Body, respond};
use crate::lifecycle::{Side, Verdict};
use crate::store::Store;

/// The field that carries the hand-off reference in a status update.
fn ref_field(family: Family) -> &'static str {
    match family {
        Family::BjJson => "gatewayRef",
        Family::TjXml => "GatewayRef",
        Family::HbSoap => "WGBH",
        Family::EntJson => "gateway_ref",
        Family::PuJson => "order_id",
        Family::Open311Json | Family::Open311Xml => "service_request_id",
        Family::Canonical => "handoff_id",
    }
}

/// The field that carries the status value.
fn status_field(family: Family) -> &'static str {
    match family {
        Family::BjJson => "status",
        Family::TjXml => "State",
        Family::HbSoap => "ZT",
        Family::EntJson | Family::PuJson => "state",
        Family::Open311Json | Family::Open311Xml => "status",
        Family::Canonical => "status",
    }
}

/// A status update from an origin or a target.
pub(super) async fn submit_status(
    app: &App,
    partner: &PartnerConfig,
    body: &[u8],
    raw_sha256: &str,
) -> Response<Body> {
    let family = partner.family;
    let mut update = match adapters::decode_status(family, body, &app.config.tables) {
        Ok(u) => u,
        Err(e) => {
            let errors = e.field_errors();
            record_refused(
                app,
                Some(&partner.id),
                raw_sha256,
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
    // Checked against the certificate already; it says nothing to others.
    update
        .extensions
        .remove(adapters::hb::SENDER_CODE_EXTENSION);
    let Some(handoff_id) = update.handoff_id.clone() else {
        return refuse(
            family,
            StatusCode::BAD_REQUEST,
            "the hand-off reference is required",
            &[FieldError::new(ref_field(family), "is required")],
        );
    };
    let limit = match admit(app, partner, false, raw_sha256).await {
        Ok(limit) => limit,
        Err(decision) => return rate_limited(family, &decision),
    };
    let resp = apply_status(app, partner, &handoff_id, update).await;
    with_limit(resp, limit.as_ref())
}

/// Why a status could not be applied.
#[derive(Debug)]
pub enum StatusFailure {
    /// No hand-off with that id involves the partner.
    NotFound,
    /// The lifecycle refused the transition; the reason, for people.
    Refused(String),
    /// The store could not be read or written; retry.
    Unavailable,
}

/// Applies a status from `partner` to a hand-off it is part of: the
/// lifecycle decides, the store records it in the audit log and queues the
/// notice to the other side (in a `status` span). The audit sequence number
/// on success. The JSON API and the liaison web page both come here.
pub async fn apply_status_core(
    app: &App,
    partner: &PartnerConfig,
    handoff_id: &str,
    update: StatusUpdate,
) -> Result<u64, StatusFailure> {
    let family = partner.family;
    let handoff = match app.store.handoff(handoff_id).await {
        Ok(Some(h)) => h,
        Ok(None) => return Err(StatusFailure::NotFound),
        Err(e) => {
            tracing::error!(error = %e, "store read failed");
            return Err(StatusFailure::Unavailable);
        }
    };
    let (side, other) = if handoff.target_partner == partner.id {
        (Side::Target, &handoff.origin_partner)
    } else if handoff.origin_partner == partner.id {
        (Side::Origin, &handoff.target_partner)
    } else {
        // Another partner's hand-off does not exist for this caller.
        return Err(StatusFailure::NotFound);
    };
    let status = update.status;
    let span = tracing::info_span!(
        "status",
        %handoff_id,
        partner = %partner.id,
        family = %family,
        side = side.as_str(),
        status = status.as_str(),
        origin = %handoff.origin_partner,
        origin_family = %handoff.origin_family,
        target = %handoff.target_partner,
        target_family = %handoff.target_family,
    );
    // In the hand-off's trace, linked to the request's own (the partner's
    // trace, or a new one when it sent none).
    let request = tracing::Span::current();
    crate::trace::adopt(
        &span,
        &crate::trace::of_handoff(handoff_id, handoff.trace_parent.as_deref()),
    );
    {
        use opentelemetry::trace::TraceContextExt;
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        span.add_link(request.context().span().span_context().clone());
    }
    request.record("handoff_id", tracing::field::display(handoff_id));
    match app
        .store
        .apply_status(handoff_id, update, side, app.notify(other))
        .instrument(span)
        .await
    {
        Ok(outcome) => match outcome.verdict {
            Verdict::Refuse(refusal) => {
                tracing::warn!(%handoff_id, partner = %partner.id, "status transition refused");
                Err(StatusFailure::Refused(refusal.to_string()))
            }
            verdict => {
                if matches!(verdict, Verdict::Apply | Verdict::Notice) {
                    tracing::info!(%handoff_id, partner = %partner.id, status = status.as_str(), "status applied");
                    app.metrics
                        .inc(&crate::metrics::STATUS_APPLIED, &[status.as_str()]);
                    app.queued_for(other);
                }
                Ok(outcome.audit_seq)
            }
        },
        Err(e) => {
            tracing::error!(error = %e, "store refused a status");
            Err(StatusFailure::Unavailable)
        }
    }
}

/// Applies a status from `partner` to a hand-off it is part of
/// ([`apply_status_core`]), answering in the partner's format.
pub async fn apply_status(
    app: &App,
    partner: &PartnerConfig,
    handoff_id: &str,
    update: StatusUpdate,
) -> Response<Body> {
    let family = partner.family;
    match apply_status_core(app, partner, handoff_id, update).await {
        Ok(audit_seq) => {
            let body = if family == Family::HbSoap {
                adapters::hb::encode_feedback_receipt(handoff_id)
            } else {
                adapters::encode_receipt(family, handoff_id, audit_seq)
            };
            respond(StatusCode::OK, family.content_type(), body)
        }
        Err(StatusFailure::NotFound) => refuse(
            family,
            StatusCode::NOT_FOUND,
            "no such hand-off",
            &[FieldError::new(
                ref_field(family),
                format!("no hand-off {handoff_id} involves {}", partner.id),
            )],
        ),
        Err(StatusFailure::Refused(reason)) => refuse(
            family,
            StatusCode::CONFLICT,
            &reason,
            &[FieldError::new(status_field(family), reason.clone())],
        ),
        Err(StatusFailure::Unavailable) => refuse(
            family,
            StatusCode::SERVICE_UNAVAILABLE,
            "the gateway cannot store the status now; retry",
            &[],
        ),
    }
}
