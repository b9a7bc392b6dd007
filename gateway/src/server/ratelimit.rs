//! Rate limits at ingress: once a submission is decoded (its urgency
//! known), the partner's limit is checked ([`admit`]). Above it the partner
//! gets 429 with `Retry-After`, `RateLimit` and `RateLimit-Policy` in its
//! own error format ([`rate_limited`]), the refusal is recorded (reason
//! "rate limited"), nothing is stored; an admitted submission's reply
//! carries `RateLimit` and `RateLimit-Policy` ([`with_limit`]). Limited:
//! tickets, status updates and acknowledgements; urgent tickets may use
//! the reserved lane. See [`crate::limits`] for the decisions and the
//! header formats.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use adapters::Family;
use http::{Response, StatusCode};

use super::App;
use super::ingress::{record_refused, refuse};
use crate::config::PartnerConfig;
use crate::http::Body;
use crate::limits::Decision;

/// Checks `partner`'s ingress limit for a decoded submission (`urgent`
/// tickets may use the urgent lane). `Ok`: go on, with the decision to show
/// on the reply (`None`: the partner has no limit). `Err`: refused, already
/// recorded (reason "rate limited"); the decision for [`rate_limited`].
pub async fn admit(
    app: &App,
    partner: &PartnerConfig,
    urgent: bool,
    raw_sha256: &str,
) -> Result<Option<Decision>, Decision> {
    let Some(decision) = app.limits().ingress(&partner.id, urgent) else {
        app.counters.ingress(&partner.id, true);
        return Ok(None);
    };
    app.counters.ingress(&partner.id, decision.is_admitted());
    if decision.is_admitted() {
        return Ok(Some(decision));
    }
    tracing::warn!(partner = %partner.id, urgent, retry_after = decision.retry_after_secs(), "rate limited");
    record_refused(
        app,
        Some(&partner.id),
        raw_sha256,
        StatusCode::TOO_MANY_REQUESTS,
        "rate limited",
    )
    .await;
    Err(decision)
}

/// The message of a 429.
pub fn rate_limited_message(decision: &Decision) -> String {
    format!(
        "请求过于频繁，请稍后重试 (rate limited: retry after {} s)",
        decision.retry_after_secs()
    )
}

/// The 429 of a refused submission in `family`'s own error format, with
/// `Retry-After`, `RateLimit` and `RateLimit-Policy`.
pub fn rate_limited(family: Family, decision: &Decision) -> Response<Body> {
    let resp = refuse(
        family,
        StatusCode::TOO_MANY_REQUESTS,
        &rate_limited_message(decision),
        &[],
    );
    with_limit(resp, Some(decision))
}

/// A reply with the header fields of its submission's limit, if any.
pub fn with_limit(mut resp: Response<Body>, decision: Option<&Decision>) -> Response<Body> {
    if let Some(decision) = decision {
        decision.apply(resp.headers_mut());
    }
    resp
}

/// One partner's counts since start (no personal data: numbers only).
#[derive(Debug, Default)]
pub struct PartnerCounts {
    /// Submissions admitted at ingress.
    pub admitted: AtomicU64,
    /// Submissions refused with 429.
    pub limited: AtomicU64,
    /// Messages the outbox was let send to it by its delivery limit.
    pub delivery_admitted: AtomicU64,
    /// Times the outbox held a message for it because of its delivery
    /// limit.
    pub delivery_held: AtomicU64,
}

/// Every configured partner's [`PartnerCounts`] since the gateway started
/// (the partners are fixed until a restart).
#[derive(Debug, Default)]
pub struct Counters {
    partners: HashMap<String, PartnerCounts>,
}

impl Counters {
    /// Zero counts for `partners`.
    pub fn new<'a>(partners: impl IntoIterator<Item = &'a str>) -> Counters {
        Counters {
            partners: partners
                .into_iter()
                .map(|p| (p.to_owned(), PartnerCounts::default()))
                .collect(),
        }
    }

    /// `partner`'s counts.
    pub fn get(&self, partner: &str) -> Option<&PartnerCounts> {
        self.partners.get(partner)
    }

    /// Counts an ingress decision of `partner`.
    pub fn ingress(&self, partner: &str, admitted: bool) {
        if let Some(c) = self.partners.get(partner) {
            let counter = if admitted { &c.admitted } else { &c.limited };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a delivery decision for `target`.
    pub fn delivery(&self, target: &str, admitted: bool) {
        if let Some(c) = self.partners.get(target) {
            let counter = if admitted {
                &c.delivery_admitted
            } else {
                &c.delivery_held
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }
}
