//! The service-request representation ↔ the canonical ticket.

use std::borrow::Cow;

use schemas::{
    Attachment, Caller, Category, Datum, Location, Scheme, SourcePoint, Tables, Ticket, Urgency,
};

use super::loss::{Lost, lose_fields, wgs84};
use super::wire::{OutRequest, Request};
use super::{
    EXT_ADDRESS_ID, EXT_SERVICE_NOTICE, EXT_STATUS, EXT_STATUS_NOTES, EXT_UPDATED, EXT_ZIPCODE,
    MAX_DESCRIPTION, coordinates, open_or_closed,
};
use crate::common::{Check, LossReport, category_from_partner, category_to_partner};
use crate::error::Error;
use crate::time;

/// The ticket's title when the source has none: the category's label.
pub(super) fn category_title(tables: &Tables, category: &Category) -> String {
    tables
        .categories
        .get(&category.code)
        .unwrap_or_else(|| tables.categories.other())
        .label_zh
        .clone()
}

/// Validates one representation and maps it to a ticket.
pub(super) fn decode_request(r: Request, tables: &Tables) -> Result<Ticket, Error> {
    let mut c = Check::new();
    let id = r
        .service_request_id
        .as_deref()
        .map(|v| c.id("service_request_id", Some(v), 64));
    if let Some(s) = c.required("status", r.status.as_deref())
        && s != "open"
        && s != "closed"
    {
        c.fail(
            "status",
            format!("must be \"open\" or \"closed\"; got \"{s}\""),
        );
    }
    c.opt_text("status_notes", r.status_notes.as_deref(), MAX_DESCRIPTION);
    c.opt_text("service_name", r.service_name.as_deref(), 200);
    let category = c
        .required("service_code", r.service_code.as_deref())
        .map(|code| {
            c.text("service_code", code, 64);
            category_from_partner(tables, Scheme::Open311, code, r.service_name.as_deref())
        });
    let description = c.required_text("description", r.description.as_deref(), MAX_DESCRIPTION);
    c.opt_text("agency_responsible", r.agency_responsible.as_deref(), 64);
    c.opt_text(
        "service_notice",
        r.service_notice.as_deref(),
        MAX_DESCRIPTION,
    );
    let received_at = c.rfc3339("requested_datetime", r.requested_datetime.as_deref());
    if let Some(u) = r.updated_datetime.as_deref() {
        c.take("updated_datetime", time::parse_rfc3339(u));
    }
    let resolve_by = r
        .expected_datetime
        .as_deref()
        .and_then(|e| c.take("expected_datetime", time::parse_rfc3339(e)));
    c.opt_text("address", r.address.as_deref(), 500);
    c.opt_text("address_id", r.address_id.as_deref(), 64);
    c.opt_text("zipcode", r.zipcode.as_deref(), 16);
    let point = coordinates(&mut c, r.lat.as_deref(), r.long.as_deref());
    if let Some(u) = r.media_url.as_deref() {
        c.url("media_url", u);
    }
    c.finish()?;
    let (Some(received_at), Some(category)) = (received_at, category) else {
        return Err(Error::invalid("body", "incomplete after validation"));
    };
    let title = match r.service_name.as_deref() {
        Some(name) if !name.trim().is_empty() => name.to_owned(),
        _ => category_title(tables, &category),
    };
    let extensions = [
        (EXT_STATUS, r.status),
        (EXT_STATUS_NOTES, r.status_notes),
        (EXT_UPDATED, r.updated_datetime),
        (EXT_SERVICE_NOTICE, r.service_notice),
        (EXT_ADDRESS_ID, r.address_id),
        (EXT_ZIPCODE, r.zipcode),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
    .collect();
    let location = (r.address.is_some() || point.is_some()).then(|| Location {
        address: r.address,
        division: None,
        point,
        source_point: point.map(|p| SourcePoint {
            datum: Datum::Wgs84,
            lon: p.lon,
            lat: p.lat,
        }),
    });
    Ok(Ticket {
        origin_ticket_id: id.clone().unwrap_or_default(),
        origin_partner: None,
        origin_division: None,
        handoff_id: id,
        target_partner: r.agency_responsible,
        received_at,
        channel: None,
        urgency: Urgency::Normal,
        category,
        title,
        description,
        caller: Caller::default(),
        location,
        target: None,
        reason: None,
        enterprise: None,
        property: None,
        attachments: r
            .media_url
            .map(|url| Attachment {
                name: None,
                url,
                sha256: None,
            })
            .into_iter()
            .collect(),
        call_ref: None,
        notes: None,
        ack_by: None,
        resolve_by,
        history: Vec::new(),
        extensions,
    })
}

/// Maps a ticket to its representation and what it could not carry.
pub(super) fn encode_request<'t>(
    t: &'t Ticket,
    tables: &Tables,
) -> Result<(OutRequest<'t>, LossReport), Error> {
    let mut lost = Lost::default();
    let (code, name) = category_to_partner(tables, Scheme::Open311, &t.category, &mut lost.public);
    let service_name = Some(name).filter(|n| !n.is_empty());
    lose_fields(t, service_name.as_deref(), &mut lost);

    // A request that came from Open311 is shown to its requester as sent:
    // what the gateway added (routing, deadlines, property details from the
    // POST's attributes) is reported only. Any other ticket carries its
    // lost fields after its description, where the reader sees them.
    let from_open311 = t
        .category
        .source
        .as_ref()
        .is_some_and(|s| s.scheme == Scheme::Open311.as_str());
    let lines = lost.public.lines().filter(|_| !from_open311);
    let mut description =
        String::with_capacity(t.description.len() + lines.map_or(0, |l| 2 + l.len()));
    description.push_str(&t.description);
    if let Some(lines) = lines {
        description.push_str("\n\n");
        description.push_str(lines);
    }
    // No more code points than bytes: only a long one needs counting.
    let count = if description.len() > MAX_DESCRIPTION {
        description.chars().count()
    } else {
        0
    };
    if count > MAX_DESCRIPTION {
        return Err(Error::Unrepresentable {
            field: "description".into(),
            reason: format!(
                "would be {count} characters long with the lost fields appended; Open311 allows at most {MAX_DESCRIPTION}"
            ),
        });
    }

    let ext = |k: &str| t.extensions.get(k).map(String::as_str);
    let last = t.history.last();
    let status = match ext(EXT_STATUS) {
        Some(s) if s == "open" || s == "closed" => s,
        Some(s) => {
            return Err(Error::Unrepresentable {
                field: "status".into(),
                reason: format!("extension {EXT_STATUS} is \"{s}\"; must be open or closed"),
            });
        }
        None => last.map_or(super::DEFAULT_STATUS, |h| open_or_closed(h.state)),
    };
    let updated_datetime = match ext(EXT_UPDATED) {
        Some(u) => {
            time::parse_rfc3339(u).map_err(|reason| Error::Unrepresentable {
                field: "updated_datetime".into(),
                reason,
            })?;
            Some(Cow::Borrowed(u))
        }
        None => last.map(|h| Cow::Owned(time::format_rfc3339(&h.at))),
    };
    let point = wgs84(t.location.as_ref());
    let out = OutRequest {
        service_request_id: t.handoff_id.as_deref(),
        status,
        status_notes: ext(EXT_STATUS_NOTES).or_else(|| last.and_then(|h| h.comment.as_deref())),
        service_name,
        service_code: code,
        description,
        agency_responsible: t.target_partner.as_deref(),
        service_notice: ext(EXT_SERVICE_NOTICE),
        requested_datetime: time::format_rfc3339(&t.received_at),
        updated_datetime,
        expected_datetime: t.resolve_by.as_ref().map(time::format_rfc3339),
        address: t.location.as_ref().and_then(|l| l.address.as_deref()),
        address_id: ext(EXT_ADDRESS_ID),
        zipcode: ext(EXT_ZIPCODE),
        lat: point.map(|p| p.lat),
        long: point.map(|p| p.lon),
        media_url: t.attachments.first().map(|a| a.url.as_str()),
    };
    Ok((out, lost.into_report()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "ticket_tests.rs"]
mod tests;
