//! The pu-json repair order.

use schemas::{
    Attachment, Caller, Category, HistoryEntry, Location, OwnerKind, Property, SourceCode, Status,
    Tables, Target, Ticket, Urgency,
};
use serde::{Deserialize, Serialize};

use crate::common::{Check, Encoded, Field, ItemField, Loss, urgency_two_levels};
use crate::ent::{lose_name_parts, lose_point};
use crate::error::Error;
use crate::{json, time};

/// The code scheme of `problem.category`: the shared catalogue itself.
pub const CATALOGUE: &str = "catalogue";

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RepairOrder {
    #[serde(skip_serializing_if = "Option::is_none")]
    order_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    origin: Option<Origin>,
    #[serde(skip_serializing_if = "Option::is_none")]
    issued_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ack_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resolve_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    urgency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    property: Option<PuProperty>,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<Problem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resident: Option<Resident>,
    #[serde(skip_serializing_if = "Option::is_none")]
    history: Option<Vec<PuHistory>>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Origin {
    #[serde(skip_serializing_if = "Option::is_none")]
    partner: Option<String>,
    ticket_id: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct PuProperty {
    owner_kind: Option<String>,
    unit_id: Option<String>,
    community: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    building: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    room: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    division: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Problem {
    category: Option<String>,
    label: Option<String>,
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    photos: Option<Vec<Photo>>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Photo {
    url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Resident {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct PuHistory {
    state: Option<String>,
    at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
}

/// Longest `problem.description`: the source's 8000 characters plus the
/// appended lines of fields the order cannot carry.
const MAX_DESCRIPTION: usize = 20_000;

/// Decodes and validates a repair order (as `GET /pu/v1/orders/{id}`
/// returns it). The title is `problem.label` (pu has no title).
pub fn decode_ticket(bytes: &[u8], tables: &Tables) -> Result<Ticket, Error> {
    let o: RepairOrder = json::parse(bytes)?;
    let mut c = Check::new();
    let handoff_id = c.id("order_id", o.order_id.as_deref(), 64);
    let (origin_partner, origin_ticket_id) = match &o.origin {
        None => {
            c.fail("origin", "is required");
            (None, String::new())
        }
        Some(origin) => {
            c.opt_text("origin.partner", origin.partner.as_deref(), 64);
            let id = c.id("origin.ticket_id", origin.ticket_id.as_deref(), 64);
            (origin.partner.clone(), id)
        }
    };
    let received_at = c.rfc3339("issued_at", o.issued_at.as_deref());
    let ack_by = o
        .ack_by
        .as_deref()
        .and_then(|v| c.take("ack_by", time::parse_rfc3339(v)));
    let resolve_by = o
        .resolve_by
        .as_deref()
        .and_then(|v| c.take("resolve_by", time::parse_rfc3339(v)));
    let urgency = match c.required("urgency", o.urgency.as_deref()) {
        Some("urgent") => Some(Urgency::Urgent),
        Some("normal") => Some(Urgency::Normal),
        Some(other) => {
            c.fail(
                "urgency",
                format!("must be \"urgent\" or \"normal\"; got \"{other}\""),
            );
            None
        }
        None => None,
    };
    let (property, location) = match &o.property {
        None => {
            c.fail("property", "is required");
            (None, None)
        }
        Some(p) => decode_property(&mut c, p),
    };
    let (category, title, description, attachments) = match &o.problem {
        None => {
            c.fail("problem", "is required");
            (None, String::new(), String::new(), Vec::new())
        }
        Some(p) => decode_problem(&mut c, p, tables),
    };
    let caller = match &o.resident {
        None => Caller::default(),
        Some(r) => {
            c.opt_text("resident.name", r.name.as_deref(), 50);
            c.phone("resident.phone", r.phone.as_deref());
            Caller {
                name: r.name.clone(),
                phone: r.phone.clone(),
                ..Caller::default()
            }
        }
    };
    let history = o
        .history
        .iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, h)| {
            let field = |name| ItemField("history", i, name);
            let state = c.required(field("state"), h.state.as_deref()).and_then(|v| {
                let found = Status::parse(v);
                if found.is_none() {
                    c.fail(
                        field("state").name(),
                        format!("must be one of received, delivered, accepted, rejected, in_progress, resolved, closed, expired; got \"{v}\""),
                    );
                }
                found
            });
            let at = c.rfc3339(field("at"), h.at.as_deref());
            c.opt_text(field("by"), h.by.as_deref(), 100);
            c.opt_text(field("comment"), h.comment.as_deref(), 2000);
            Some(HistoryEntry {
                state: state?,
                at: at?,
                by: h.by.clone(),
                comment: h.comment.clone(),
            })
        })
        .collect();
    c.finish()?;
    let (Some(received_at), Some(urgency), Some(category)) = (received_at, urgency, category)
    else {
        return Err(Error::invalid("body", "incomplete after validation"));
    };
    Ok(Ticket {
        origin_ticket_id,
        origin_partner,
        origin_division: None,
        handoff_id: Some(handoff_id),
        target_partner: None,
        received_at,
        channel: None,
        urgency,
        category,
        title,
        description,
        caller,
        location,
        target: None,
        reason: None,
        enterprise: None,
        property,
        attachments,
        call_ref: None,
        notes: None,
        ack_by,
        resolve_by,
        history,
        extensions: Default::default(),
    })
}

fn decode_property(c: &mut Check, p: &PuProperty) -> (Option<Property>, Option<Location>) {
    let owner_kind = match c.required("property.owner_kind", p.owner_kind.as_deref()) {
        Some("central") => Some(OwnerKind::Central),
        Some("military") => Some(OwnerKind::Military),
        Some(other) => {
            c.fail(
                "property.owner_kind",
                format!("must be \"central\" or \"military\"; got \"{other}\""),
            );
            None
        }
        None => None,
    };
    let unit_id = c.id("property.unit_id", p.unit_id.as_deref(), 64);
    if !unit_id.is_empty() && !unit_id.starts_with("pu-") {
        c.fail(
            "property.unit_id",
            format!("'{unit_id}' is not a property unit id (pu-…)"),
        );
    }
    let community = c.required_text("property.community", p.community.as_deref(), 100);
    c.opt_text("property.building", p.building.as_deref(), 50);
    c.opt_text("property.unit", p.unit.as_deref(), 50);
    c.opt_text("property.room", p.room.as_deref(), 50);
    c.opt_text("property.address", p.address.as_deref(), 500);
    c.division("property.division", p.division.as_deref());
    let location = (p.address.is_some() || p.division.is_some()).then(|| Location {
        address: p.address.clone(),
        division: p.division.clone(),
        ..Location::default()
    });
    let property = Property {
        community,
        building: p.building.clone(),
        unit: p.unit.clone(),
        room: p.room.clone(),
        owner_kind,
        unit_id: Some(unit_id),
    };
    (Some(property), location)
}

fn decode_problem(
    c: &mut Check,
    p: &Problem,
    tables: &Tables,
) -> (Option<Category>, String, String, Vec<Attachment>) {
    let code = c.required("problem.category", p.category.as_deref());
    let label = c.required_text("problem.label", p.label.as_deref(), 100);
    let description = c.required_text(
        "problem.description",
        p.description.as_deref(),
        MAX_DESCRIPTION,
    );
    let category = code.map(|code| {
        let entry = tables.categories.get(code);
        Category {
            code: entry.map_or_else(|| schemas::OTHER.to_owned(), |e| e.code.clone()),
            label: Some(label.clone()),
            source: Some(SourceCode {
                scheme: CATALOGUE.to_owned(),
                code: code.to_owned(),
                unmapped: entry.is_none(),
            }),
        }
    });
    let attachments = p
        .photos
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, ph)| {
            let field = |name| ItemField("problem.photos", i, name);
            if let Some(u) = c.required(field("url"), ph.url.as_deref()) {
                c.url(field("url"), u);
            }
            c.sha256(field("sha256"), ph.sha256.as_deref());
            Attachment {
                name: None,
                url: ph.url.clone().unwrap_or_default(),
                sha256: ph.sha256.clone(),
            }
        })
        .collect();
    (category, label, description, attachments)
}

/// `problem.category` and `problem.label` for a canonical category. One
/// that came from pu goes back exactly; otherwise the catalogue code with
/// its `label_zh`, or, for a source code with no mapping (`other`), the
/// source's own label, the source code being a lost field.
fn category_to_catalogue(tables: &Tables, cat: &Category, loss: &mut Loss) -> (String, String) {
    let cats = &tables.categories;
    if let Some(src) = cat.source.as_ref().filter(|s| s.scheme == CATALOGUE) {
        let label = cat.label.clone().unwrap_or_else(|| {
            cats.get(&src.code)
                .unwrap_or_else(|| cats.other())
                .label_zh
                .clone()
        });
        return (src.code.clone(), label);
    }
    let Some(entry) = cats.get(&cat.code) else {
        loss.lose("category", "原分类", &cat.code);
        let other = cats.other();
        return (other.code.clone(), other.label_zh.clone());
    };
    match cat.source.as_ref().filter(|s| s.unmapped) {
        Some(src) => {
            let label = cat.label.as_deref().unwrap_or("");
            loss.lose(
                "category.source",
                "原分类代码",
                format!("{} {} {}", src.scheme, src.code, label).trim_end(),
            );
            let label = cat.label.clone().unwrap_or_else(|| entry.label_zh.clone());
            (entry.code.clone(), label)
        }
        None => (entry.code.clone(), entry.label_zh.clone()),
    }
}

/// Encodes a ticket as a repair order. `order_id` (the hand-off id) is
/// required; the owning unit comes from the ticket's property or, when the
/// ticket is not routed yet, from the compound registry. What the order
/// cannot carry is appended to `problem.description` after a blank line.
pub fn encode_ticket(t: &Ticket, tables: &Tables) -> Result<Encoded, Error> {
    let Some(order_id) = t.handoff_id.clone() else {
        return Err(Error::Unrepresentable {
            field: "order_id".into(),
            reason: "a repair order is a hand-off: the ticket has no hand-off id".into(),
        });
    };
    let property = encode_property(t, tables)?;
    let mut loss = Loss::new();
    loss.lose_opt("notes", "备注", t.notes.as_deref());
    if t.origin_partner.is_none() {
        loss.lose_opt(
            "origin_division",
            "来源热线区划",
            t.origin_division.as_deref(),
        );
    }
    if t.target_partner.as_deref() != property.unit_id.as_deref() {
        loss.lose_opt("target_partner", "承办方", t.target_partner.as_deref());
    }
    loss.lose_opt("channel", "来源渠道", t.channel.map(|ch| ch.as_str()));
    let urgent = urgency_two_levels(t.urgency, &mut loss);
    let (code, label) = category_to_catalogue(tables, &t.category, &mut loss);
    if t.title != label {
        loss.lose("title", "标题", &t.title);
    }
    let resident = if t.caller.anonymous {
        loss.lose("caller.anonymous", "匿名来电", "true");
        None
    } else {
        lose_name_parts(&t.caller, &mut loss);
        loss.lose_opt("caller.email", "来电人邮箱", t.caller.email.as_deref());
        (t.caller.name.is_some() || t.caller.phone.is_some()).then(|| Resident {
            name: t.caller.name.clone(),
            phone: t.caller.phone.clone(),
        })
    };
    if let Some(l) = &t.location {
        lose_point(l, &mut loss);
    }
    match &t.target {
        Some(Target::Property) | None => {}
        Some(Target::Hotline { division }) => loss.lose("target", "转办目标", division),
        Some(Target::Enterprise) => loss.lose("target", "转办目标", "enterprise"),
    }
    loss.lose_opt("reason", "转办原因", t.reason.as_deref());
    if let Some(e) = &t.enterprise {
        loss.lose("enterprise.name", "企业名称", &e.name);
        loss.lose_opt("enterprise.uscc", "统一社会信用代码", e.uscc.as_deref());
        loss.lose_opt("enterprise.size", "企业规模", e.size.as_deref());
        loss.lose_opt("enterprise.industry", "所属行业", e.industry.as_deref());
    }
    for (i, a) in t.attachments.iter().enumerate() {
        loss.lose_opt(
            &format!("attachments[{i}].name"),
            "附件名称",
            a.name.as_deref(),
        );
    }
    loss.lose_opt("call_ref", "通话编号", t.call_ref.as_deref());
    for (k, v) in &t.extensions {
        loss.lose_extension(k, v);
    }
    let description = match loss.notes(None) {
        Some(lines) => format!("{}\n\n{lines}", t.description),
        None => t.description.clone(),
    };
    let order = RepairOrder {
        order_id: Some(order_id),
        origin: Some(Origin {
            partner: t.origin_partner.clone(),
            ticket_id: Some(t.origin_ticket_id.clone()),
        }),
        issued_at: Some(time::format_rfc3339(&t.received_at)),
        ack_by: t.ack_by.as_ref().map(time::format_rfc3339),
        resolve_by: t.resolve_by.as_ref().map(time::format_rfc3339),
        urgency: Some(if urgent { "urgent" } else { "normal" }.to_owned()),
        property: Some(property),
        problem: Some(Problem {
            category: Some(code),
            label: Some(label),
            description: Some(description),
            photos: (!t.attachments.is_empty()).then(|| {
                t.attachments
                    .iter()
                    .map(|a| Photo {
                        url: Some(a.url.clone()),
                        sha256: a.sha256.clone(),
                    })
                    .collect()
            }),
        }),
        resident,
        history: (!t.history.is_empty()).then(|| {
            t.history
                .iter()
                .map(|h| PuHistory {
                    state: Some(h.state.as_str().to_owned()),
                    at: Some(time::format_rfc3339(&h.at)),
                    by: h.by.clone(),
                    comment: h.comment.clone(),
                })
                .collect()
        }),
    };
    Ok(Encoded {
        bytes: json::write(&order),
        loss: loss.into_report(),
    })
}

/// The order's `property`: the ticket's property and location, with the
/// owner kind, unit and compound name from the compound registry when the
/// ticket does not carry them (it has not been routed yet).
fn encode_property(t: &Ticket, tables: &Tables) -> Result<PuProperty, Error> {
    let p = t.property.as_ref();
    let l = t.location.as_ref();
    let unit_id = p.and_then(|p| p.unit_id.as_deref());
    let needs_registry = p.is_none_or(|p| p.unit_id.is_none() || p.owner_kind.is_none());
    let registered = needs_registry
        .then(|| {
            tables.compounds.find(
                p.map(|p| p.community.as_str()),
                l.and_then(|l| l.address.as_deref()),
                l.and_then(|l| l.division.as_deref()),
            )
        })
        .flatten()
        .filter(|c| unit_id.is_none_or(|u| u == c.unit_id));
    let unrouted = |field: &str| {
        Error::Unrepresentable {
        field: field.to_owned(),
        reason: "the ticket is not routed to a property unit and its community and address match no registered compound".into(),
    }
    };
    let owner_kind = p
        .and_then(|p| p.owner_kind)
        .or(registered.map(|c| c.owner_kind))
        .ok_or_else(|| unrouted("property.owner_kind"))?;
    let unit_id = unit_id
        .map(str::to_owned)
        .or(registered.map(|c| c.unit_id.clone()))
        .ok_or_else(|| unrouted("property.unit_id"))?;
    let community = p
        .map(|p| p.community.clone())
        .or(registered.map(|c| c.name.clone()))
        .ok_or_else(|| unrouted("property.community"))?;
    Ok(PuProperty {
        owner_kind: Some(owner_kind.as_str().to_owned()),
        unit_id: Some(unit_id),
        community: Some(community),
        building: p.and_then(|p| p.building.clone()),
        unit: p.and_then(|p| p.unit.clone()),
        room: p.and_then(|p| p.room.clone()),
        address: l.and_then(|l| l.address.clone()),
        division: l.and_then(|l| l.division.clone()),
    })
}
