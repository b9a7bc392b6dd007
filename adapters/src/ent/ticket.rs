//! The ent-json ticket.

use schemas::{
    Attachment, Caller, Category, Channel, Enterprise, Location, Point, Scheme, Tables, Target,
    Ticket, Urgency,
};
use serde::{Deserialize, Serialize};

use crate::common::{Check, Encoded, ItemField, Loss, category_from_partner, category_to_partner};
use crate::error::Error;
use crate::{bj, geo, json, time};

/// `route.to` for the Beijing 12345 platform itself.
pub const HUB: &str = "12345";
/// The division of Beijing 12345's own hotline: a transfer to it is a
/// hand-off to the platform and is written as [`HUB`].
pub const HUB_DIVISION: &str = "110000";
/// Urgency read from a ticket without `priority` (the field is optional).
pub const DEFAULT_URGENCY: Urgency = Urgency::Normal;
/// `address.text` written when the ticket has a division but no address
/// text (ent requires the text inside `address`).
pub const DEFAULT_ADDRESS: &str = bj::DEFAULT_ADDRESS;

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct EntTicket {
    #[serde(skip_serializing_if = "Option::is_none")]
    ticket_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gateway_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    priority: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    topic: Option<Topic>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    enterprise: Option<EntEnterprise>,
    #[serde(skip_serializing_if = "Option::is_none")]
    contact: Option<Contact>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<Address>,
    #[serde(skip_serializing_if = "Option::is_none")]
    route: Option<Route>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attachments: Option<Vec<EntAttachment>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notes: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Topic {
    code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct EntEnterprise {
    name: Option<String>,
    uscc: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    industry: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Contact {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Address {
    text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    division: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Route {
    to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct EntAttachment {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
}

/// Checks an e-mail address: `local@domain.tld`, at most 254 characters,
/// no spaces or control characters.
pub(crate) fn check_email(v: &str) -> Result<(), String> {
    let shape = v.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
    });
    if shape && v.chars().count() <= 254 && !v.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        Ok(())
    } else {
        Err(format!(
            "'{v}' is not an e-mail address such as name@example.com"
        ))
    }
}

/// Decodes and validates an ent-json ticket.
pub fn decode_ticket(bytes: &[u8], tables: &Tables) -> Result<Ticket, Error> {
    let w: EntTicket = json::parse(bytes)?;
    let mut c = Check::new();
    let origin_ticket_id = c.id("ticket_id", w.ticket_id.as_deref(), 64);
    c.opt_text("gateway_ref", w.gateway_ref.as_deref(), 64);
    let received_at = c.rfc3339("created_at", w.created_at.as_deref());
    let channel = w.channel.as_deref().and_then(|v| {
        c.take(
            "channel",
            Channel::parse(v).ok_or_else(|| {
                format!("must be one of phone, web, wechat, app, video; got \"{v}\"")
            }),
        )
    });
    let urgency = match w.priority.as_deref() {
        None => Some(DEFAULT_URGENCY),
        Some("urgent") => Some(Urgency::Urgent),
        Some("high") => Some(Urgency::High),
        Some("normal") => Some(Urgency::Normal),
        Some(other) => {
            c.fail(
                "priority",
                format!("must be urgent, high or normal; got \"{other}\""),
            );
            None
        }
    };
    let category = match &w.topic {
        None => Some(Category {
            code: schemas::OTHER.to_owned(),
            label: None,
            source: None,
        }),
        Some(t) => {
            let code = c.required("topic.code", t.code.as_deref());
            c.opt_text("topic.label", t.label.as_deref(), 100);
            code.map(|code| category_from_partner(tables, Scheme::Ent, code, t.label.as_deref()))
        }
    };
    let title = c.required_text("summary", w.summary.as_deref(), 200);
    let description = c.required_text("detail", w.detail.as_deref(), 8000);
    let enterprise = match &w.enterprise {
        None => {
            c.fail("enterprise", "is required");
            None
        }
        Some(e) => {
            let name = c.required_text("enterprise.name", e.name.as_deref(), 200);
            let uscc = c.required("enterprise.uscc", e.uscc.as_deref());
            c.uscc("enterprise.uscc", uscc);
            c.opt_text("enterprise.size", e.size.as_deref(), 50);
            c.opt_text("enterprise.industry", e.industry.as_deref(), 100);
            Some(Enterprise {
                name,
                uscc: e.uscc.clone(),
                size: e.size.clone(),
                industry: e.industry.clone(),
            })
        }
    };
    let caller = match &w.contact {
        None => Caller::default(),
        Some(k) => {
            c.opt_text("contact.name", k.name.as_deref(), 50);
            c.phone("contact.phone", k.phone.as_deref());
            if let Some(e) = k.email.as_deref() {
                c.take("contact.email", check_email(e));
            }
            Caller {
                name: k.name.clone(),
                phone: k.phone.clone(),
                email: k.email.clone(),
                ..Caller::default()
            }
        }
    };
    let location = w.address.as_ref().map(|a| {
        let text = c.required_text("address.text", a.text.as_deref(), 500);
        c.division("address.division", a.division.as_deref());
        Location {
            address: Some(text),
            division: a.division.clone(),
            ..Location::default()
        }
    });
    let (target, reason) = match &w.route {
        None => (None, None),
        Some(r) => {
            c.opt_text("route.reason", r.reason.as_deref(), 500);
            let target = match c.required("route.to", r.to.as_deref()) {
                Some(HUB) => Some(Target::Hotline {
                    division: HUB_DIVISION.to_owned(),
                }),
                Some(d) if schemas::is_division(d) => Some(Target::Hotline {
                    division: d.to_owned(),
                }),
                Some(other) => {
                    c.fail(
                        "route.to",
                        format!(
                            "must be \"12345\" (the Beijing platform) or a 6-digit division code; got \"{other}\""
                        ),
                    );
                    None
                }
                None => None,
            };
            (target, r.reason.clone())
        }
    };
    let attachments = w
        .attachments
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, a)| {
            let field = |name| ItemField("attachments", i, name);
            if let Some(u) = c.required(field("url"), a.url.as_deref()) {
                c.url(field("url"), u);
            }
            c.opt_text(field("name"), a.name.as_deref(), 255);
            c.sha256(field("sha256"), a.sha256.as_deref());
            Attachment {
                name: a.name.clone(),
                url: a.url.clone().unwrap_or_default(),
                sha256: a.sha256.clone(),
            }
        })
        .collect();
    c.opt_text("notes", w.notes.as_deref(), 8000);
    c.finish()?;
    let (Some(received_at), Some(urgency), Some(category)) = (received_at, urgency, category)
    else {
        return Err(Error::invalid("body", "incomplete after validation"));
    };
    Ok(Ticket {
        origin_ticket_id,
        origin_partner: None,
        origin_division: None,
        handoff_id: w.gateway_ref,
        target_partner: None,
        received_at,
        channel,
        urgency,
        category,
        title,
        description,
        caller,
        location,
        target,
        reason,
        enterprise,
        property: None,
        attachments,
        call_ref: None,
        notes: w.notes,
        ack_by: None,
        resolve_by: None,
        history: Vec::new(),
        extensions: Default::default(),
    })
}

/// Records the parts of a caller's name (Open311 gives them separately)
/// when there is no full name to carry them.
pub(crate) fn lose_name_parts(caller: &Caller, loss: &mut Loss) {
    if caller.name.is_none() {
        loss.lose_opt(
            "caller.family_name",
            "来电人姓",
            caller.family_name.as_deref(),
        );
        loss.lose_opt(
            "caller.given_name",
            "来电人名",
            caller.given_name.as_deref(),
        );
    }
}

/// Records a location's point, in WGS-84, for a format without coordinates.
pub(crate) fn lose_point(location: &Location, loss: &mut Loss) {
    let point = location.point.or_else(|| {
        location.source_point.map(|sp| {
            geo::to_wgs84(
                sp.datum,
                Point {
                    lon: sp.lon,
                    lat: sp.lat,
                },
            )
        })
    });
    if let Some(p) = point {
        loss.lose(
            "location.point",
            "坐标",
            &format!(
                "WGS-84 经度{} 纬度{}",
                geo::format_coord(p.lon),
                geo::format_coord(p.lat)
            ),
        );
    }
}

/// Encodes a ticket. The enterprise and its USCC are required (field
/// `enterprise`); an anonymous caller is written without `contact`.
pub fn encode_ticket(t: &Ticket, tables: &Tables) -> Result<Encoded, Error> {
    let enterprise = match &t.enterprise {
        None => {
            return Err(Error::Unrepresentable {
                field: "enterprise".into(),
                reason: "ent-json requires the enterprise concerned (name and USCC); the ticket names none".into(),
            });
        }
        Some(Enterprise { uscc: None, .. }) => {
            return Err(Error::Unrepresentable {
                field: "enterprise".into(),
                reason: "ent-json requires enterprise.uscc; the ticket's enterprise has no USCC"
                    .into(),
            });
        }
        Some(e) => EntEnterprise {
            name: Some(e.name.clone()),
            uscc: e.uscc.clone(),
            size: e.size.clone(),
            industry: e.industry.clone(),
        },
    };
    let mut loss = Loss::new();
    loss.lose_opt("origin_partner", "来源方", t.origin_partner.as_deref());
    if t.origin_partner.is_none() {
        loss.lose_opt(
            "origin_division",
            "来源热线区划",
            t.origin_division.as_deref(),
        );
    }
    loss.lose_opt("target_partner", "承办方", t.target_partner.as_deref());
    let (code, label) = category_to_partner(tables, Scheme::Ent, &t.category, &mut loss);
    let contact = if t.caller.anonymous {
        loss.lose("caller.anonymous", "匿名来电", "true");
        None
    } else {
        lose_name_parts(&t.caller, &mut loss);
        let k = &t.caller;
        (k.name.is_some() || k.phone.is_some() || k.email.is_some()).then(|| Contact {
            name: k.name.clone(),
            phone: k.phone.clone(),
            email: k.email.clone(),
        })
    };
    let address = t.location.as_ref().and_then(|l| {
        lose_point(l, &mut loss);
        (l.address.is_some() || l.division.is_some()).then(|| Address {
            text: Some(
                l.address
                    .clone()
                    .unwrap_or_else(|| DEFAULT_ADDRESS.to_owned()),
            ),
            division: l.division.clone(),
        })
    });
    let route = match &t.target {
        Some(Target::Hotline { division }) if division == HUB_DIVISION => Some(HUB.to_owned()),
        Some(Target::Hotline { division }) => Some(division.clone()),
        Some(Target::Enterprise) => {
            loss.lose("target", "转办目标", "enterprise");
            None
        }
        Some(Target::Property) => {
            loss.lose("target", "转办目标", "property");
            None
        }
        None => None,
    }
    .map(|to| Route {
        to: Some(to),
        reason: t.reason.clone(),
    });
    if route.is_none() {
        loss.lose_opt("reason", "转办原因", t.reason.as_deref());
    }
    if let Some(p) = &t.property {
        loss.lose("property.community", "小区名称", &p.community);
        loss.lose_opt("property.building", "楼号", p.building.as_deref());
        loss.lose_opt("property.unit", "单元", p.unit.as_deref());
        loss.lose_opt("property.room", "房号", p.room.as_deref());
        loss.lose_opt(
            "property.owner_kind",
            "产权类别",
            p.owner_kind.map(|k| k.as_str()),
        );
        loss.lose_opt("property.unit_id", "产权单位", p.unit_id.as_deref());
    }
    loss.lose_opt("call_ref", "通话编号", t.call_ref.as_deref());
    bj::lose_handoff_fields(t, &mut loss);
    let out = EntTicket {
        ticket_id: Some(t.origin_ticket_id.clone()),
        gateway_ref: t.handoff_id.clone(),
        created_at: Some(time::format_rfc3339(&t.received_at)),
        channel: t.channel.map(|ch| ch.as_str().to_owned()),
        priority: Some(t.urgency.as_str().to_owned()),
        topic: Some(Topic {
            code: Some(code),
            label: Some(label).filter(|l| !l.is_empty()),
        }),
        summary: Some(t.title.clone()),
        detail: Some(t.description.clone()),
        enterprise: Some(enterprise),
        contact,
        address,
        route,
        attachments: (!t.attachments.is_empty()).then(|| {
            t.attachments
                .iter()
                .map(|a| EntAttachment {
                    name: a.name.clone(),
                    url: Some(a.url.clone()),
                    sha256: a.sha256.clone(),
                })
                .collect()
        }),
        notes: loss.notes(t.notes.as_deref()),
    };
    Ok(Encoded {
        bytes: json::write(&out),
        loss: loss.into_report(),
    })
}
