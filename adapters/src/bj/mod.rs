//! bj-json: the Beijing 12345 platform. JSON, camelCase, Beijing local time
//! without an offset, GCJ-02 coordinates.

use schemas::{
    Attachment, Caller, Channel, Datum, Enterprise, Location, Point, Property, Scheme, SourcePoint,
    Tables, Target, Ticket, Urgency,
};
use serde::{Deserialize, Serialize};

use crate::common::{
    Check, Encoded, ItemField, Loss, category_from_partner, category_to_partner, urgency_two_levels,
};
use crate::error::Error;
use crate::{geo, json, time};

mod status;

pub use status::{
    decode_delivery_reply, decode_status, encode_error, encode_receipt, encode_status,
};

/// Default address written when the source has none (bj requires one).
pub const DEFAULT_ADDRESS: &str = "未提供";
/// Default channel written when the source has none (bj requires one).
pub const DEFAULT_CHANNEL: Channel = Channel::Web;

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Order {
    #[serde(skip_serializing_if = "Option::is_none")]
    order_no: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gateway_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_org: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    accept_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    urgency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<CodeName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    caller: Option<BjCaller>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<BjLocation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transfer: Option<Transfer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    handoff: Option<Handoff>,
    #[serde(skip_serializing_if = "Option::is_none")]
    enterprise: Option<BjEnterprise>,
    #[serde(skip_serializing_if = "Option::is_none")]
    property: Option<BjProperty>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attachments: Option<Vec<BjAttachment>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    call_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remark: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct CodeName {
    code: Option<String>,
    name: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct BjCaller {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mobile: Option<String>,
    #[serde(default)]
    anonymous: Option<bool>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct BjLocation {
    address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    area_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lng: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lat: Option<f64>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Transfer {
    to_city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Handoff {
    to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct BjEnterprise {
    name: Option<String>,
    uscc: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct BjProperty {
    community: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    building: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    room: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct BjAttachment {
    #[serde(skip_serializing_if = "Option::is_none")]
    file_name: Option<String>,
    url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
}

/// Decodes and validates an `Order`.
pub fn decode_ticket(bytes: &[u8], tables: &Tables) -> Result<Ticket, Error> {
    let o: Order = json::parse(bytes)?;
    let mut c = Check::new();
    let origin_ticket_id = c.id("orderNo", o.order_no.as_deref(), 32);
    c.opt_text("gatewayRef", o.gateway_ref.as_deref(), 64);
    c.opt_text("sourceOrg", o.source_org.as_deref(), 64);
    let received_at = c
        .required("acceptTime", o.accept_time.as_deref())
        .and_then(|t| c.take("acceptTime", time::parse_local(t)));
    let channel = c.required("channel", o.channel.as_deref()).and_then(|v| {
        c.take(
            "channel",
            Channel::parse(v)
                .ok_or_else(|| format!("must be one of phone, web, wechat, app, video; got '{v}'")),
        )
    });
    let urgency = c
        .required("urgency", o.urgency.as_deref())
        .and_then(|v| match v {
            "1" => Some(Urgency::Urgent),
            "2" => Some(Urgency::Normal),
            other => {
                c.fail(
                    "urgency",
                    format!("must be \"1\" (urgent) or \"2\" (normal); got \"{other}\""),
                );
                None
            }
        });
    let category = match &o.category {
        None => {
            c.fail("category", "is required");
            None
        }
        Some(cat) => {
            let code = c.required("category.code", cat.code.as_deref());
            c.opt_text("category.name", cat.name.as_deref(), 100);
            code.map(|code| category_from_partner(tables, Scheme::Bj, code, cat.name.as_deref()))
        }
    };
    let title = c.required_text("title", o.title.as_deref(), 200);
    let description = c.required_text("content", o.content.as_deref(), 8000);
    let caller = match &o.caller {
        None => Caller::default(),
        Some(k) => {
            let anonymous = k.anonymous.unwrap_or(false);
            c.opt_text("caller.name", k.name.as_deref(), 50);
            c.phone("caller.mobile", k.mobile.as_deref());
            c.anonymous(
                "caller.anonymous",
                anonymous,
                k.name.as_deref(),
                k.mobile.as_deref(),
            );
            Caller {
                anonymous,
                name: k.name.clone(),
                phone: k.mobile.clone(),
                ..Caller::default()
            }
        }
    };
    let location = o.location.as_ref().map(|l| {
        let address = c.required_text("location.address", l.address.as_deref(), 500);
        c.division("location.areaCode", l.area_code.as_deref());
        let (point, source_point) = match (l.lng, l.lat) {
            (Some(lon), Some(lat)) => {
                let gcj = Point { lon, lat };
                c.point("location", gcj);
                (
                    Some(geo::to_wgs84(Datum::Gcj02, gcj)),
                    Some(SourcePoint {
                        datum: Datum::Gcj02,
                        lon,
                        lat,
                    }),
                )
            }
            (None, None) => (None, None),
            (Some(_), None) => {
                c.fail("location.lat", "is required with location.lng");
                (None, None)
            }
            (None, Some(_)) => {
                c.fail("location.lng", "is required with location.lat");
                (None, None)
            }
        };
        Location {
            address: Some(address),
            division: l.area_code.clone(),
            point,
            source_point,
        }
    });
    let (target, reason) = match (&o.transfer, &o.handoff) {
        (Some(_), Some(_)) => {
            c.fail(
                "handoff",
                "a message carries either transfer or handoff, not both",
            );
            (None, None)
        }
        (Some(t), None) => {
            let to = c.required("transfer.toCity", t.to_city.as_deref());
            c.division("transfer.toCity", to);
            c.opt_text("transfer.reason", t.reason.as_deref(), 500);
            (
                to.map(|d| Target::Hotline {
                    division: d.to_owned(),
                }),
                t.reason.clone(),
            )
        }
        (None, Some(h)) => {
            c.opt_text("handoff.reason", h.reason.as_deref(), 500);
            let target = match c.required("handoff.to", h.to.as_deref()) {
                Some("enterprise") => Some(Target::Enterprise),
                Some("property") => Some(Target::Property),
                Some(other) => {
                    c.fail(
                        "handoff.to",
                        format!("must be \"enterprise\" or \"property\"; got \"{other}\""),
                    );
                    None
                }
                None => None,
            };
            (target, h.reason.clone())
        }
        (None, None) => (None, None),
    };
    let enterprise = o.enterprise.as_ref().map(|e| {
        let name = c.required_text("enterprise.name", e.name.as_deref(), 200);
        let uscc = c.required("enterprise.uscc", e.uscc.as_deref());
        c.uscc("enterprise.uscc", uscc);
        Enterprise {
            name,
            uscc: e.uscc.clone(),
            ..Enterprise::default()
        }
    });
    let property = o.property.as_ref().map(|p| {
        let community = c.required_text("property.community", p.community.as_deref(), 100);
        c.opt_text("property.building", p.building.as_deref(), 50);
        c.opt_text("property.unit", p.unit.as_deref(), 50);
        c.opt_text("property.room", p.room.as_deref(), 50);
        Property {
            community,
            building: p.building.clone(),
            unit: p.unit.clone(),
            room: p.room.clone(),
            ..Property::default()
        }
    });
    let attachments = o
        .attachments
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, a)| {
            let field = |name| ItemField("attachments", i, name);
            let url = c.required(field("url"), a.url.as_deref());
            if let Some(u) = url {
                c.url(field("url"), u);
            }
            c.opt_text(field("fileName"), a.file_name.as_deref(), 255);
            c.sha256(field("sha256"), a.sha256.as_deref());
            Attachment {
                name: a.file_name.clone(),
                url: a.url.clone().unwrap_or_default(),
                sha256: a.sha256.clone(),
            }
        })
        .collect();
    c.opt_text("callId", o.call_id.as_deref(), 64);
    c.opt_text("remark", o.remark.as_deref(), 2000);
    c.finish()?;
    let (Some(received_at), Some(urgency), Some(category)) = (received_at, urgency, category)
    else {
        return Err(Error::invalid("body", "incomplete after validation"));
    };
    Ok(Ticket {
        origin_ticket_id,
        origin_partner: o.source_org,
        origin_division: None,
        handoff_id: o.gateway_ref,
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
        property,
        attachments,
        call_ref: o.call_id,
        notes: o.remark,
        ack_by: None,
        resolve_by: None,
        history: Vec::new(),
        extensions: Default::default(),
    })
}

/// Encodes a ticket as an `Order`.
pub fn encode_ticket(t: &Ticket, tables: &Tables) -> Result<Encoded, Error> {
    let mut loss = Loss::new();
    let (code, name) = category_to_partner(tables, Scheme::Bj, &t.category, &mut loss);
    let urgent = urgency_two_levels(t.urgency, &mut loss);
    if t.origin_partner.is_none() {
        loss.lose_opt(
            "origin_division",
            "来源热线区划",
            t.origin_division.as_deref(),
        );
    }
    loss.lose_opt("target_partner", "承办方", t.target_partner.as_deref());
    let caller = (!t.caller.is_empty()).then(|| {
        loss.lose_opt("caller.email", "来电人邮箱", t.caller.email.as_deref());
        BjCaller {
            name: t.caller.name.clone(),
            mobile: t.caller.phone.clone(),
            anonymous: Some(t.caller.anonymous),
        }
    });
    let location = t.location.as_ref().map(|l| {
        let gcj = match (l.source_point, l.point) {
            (Some(sp), _) if sp.datum == Datum::Gcj02 => Some(Point {
                lon: sp.lon,
                lat: sp.lat,
            }),
            (_, Some(p)) => {
                let g = geo::from_wgs84(Datum::Gcj02, p);
                Some(Point {
                    lon: geo::round6(g.lon),
                    lat: geo::round6(g.lat),
                })
            }
            _ => None,
        };
        BjLocation {
            address: Some(
                l.address
                    .clone()
                    .unwrap_or_else(|| DEFAULT_ADDRESS.to_owned()),
            ),
            area_code: l.division.clone(),
            lng: gcj.map(|p| p.lon),
            lat: gcj.map(|p| p.lat),
        }
    });
    let (transfer, handoff) = match &t.target {
        Some(Target::Hotline { division }) => (
            Some(Transfer {
                to_city: Some(division.clone()),
                reason: t.reason.clone(),
            }),
            None,
        ),
        Some(Target::Enterprise) => (
            None,
            Some(Handoff {
                to: Some("enterprise".into()),
                reason: t.reason.clone(),
            }),
        ),
        Some(Target::Property) => (
            None,
            Some(Handoff {
                to: Some("property".into()),
                reason: t.reason.clone(),
            }),
        ),
        None => {
            loss.lose_opt("reason", "转办原因", t.reason.as_deref());
            (None, None)
        }
    };
    let enterprise = t.enterprise.as_ref().and_then(|e| {
        loss.lose_opt("enterprise.size", "企业规模", e.size.as_deref());
        loss.lose_opt("enterprise.industry", "所属行业", e.industry.as_deref());
        match &e.uscc {
            Some(uscc) => Some(BjEnterprise {
                name: Some(e.name.clone()),
                uscc: Some(uscc.clone()),
            }),
            None => {
                loss.lose("enterprise.name", "企业名称", &e.name);
                None
            }
        }
    });
    let property = t.property.as_ref().map(|p| {
        loss.lose_opt(
            "property.owner_kind",
            "产权类别",
            p.owner_kind.map(|k| k.as_str()),
        );
        loss.lose_opt("property.unit_id", "产权单位", p.unit_id.as_deref());
        BjProperty {
            community: Some(p.community.clone()),
            building: p.building.clone(),
            unit: p.unit.clone(),
            room: p.room.clone(),
        }
    });
    lose_handoff_fields(t, &mut loss);
    let order = Order {
        order_no: Some(t.origin_ticket_id.clone()),
        gateway_ref: t.handoff_id.clone(),
        source_org: t.origin_partner.clone(),
        accept_time: Some(time::format_local(&t.received_at)),
        channel: Some(t.channel.unwrap_or(DEFAULT_CHANNEL).as_str().to_owned()),
        urgency: Some(if urgent { "1" } else { "2" }.to_owned()),
        category: Some(CodeName {
            code: Some(code),
            name: Some(name),
        }),
        title: Some(t.title.clone()),
        content: Some(t.description.clone()),
        caller,
        location,
        transfer,
        handoff,
        enterprise,
        property,
        attachments: (!t.attachments.is_empty()).then(|| {
            t.attachments
                .iter()
                .map(|a| BjAttachment {
                    file_name: a.name.clone(),
                    url: Some(a.url.clone()),
                    sha256: a.sha256.clone(),
                })
                .collect()
        }),
        call_id: t.call_ref.clone(),
        remark: loss.notes(t.notes.as_deref()),
    };
    Ok(Encoded {
        bytes: json::write(&order),
        loss: loss.into_report(),
    })
}

/// Records the hand-off fields (deadlines, history, extensions) that only
/// pu-json carries.
pub(crate) fn lose_handoff_fields(t: &Ticket, loss: &mut Loss) {
    lose_handoff_fields_but(t, t.resolve_by.as_ref(), |_| true, loss);
}

/// [`lose_handoff_fields`] with the answer deadline given apart and only
/// the extensions `keep` selects (for a format that carries some of them).
pub(crate) fn lose_handoff_fields_but(
    t: &Ticket,
    resolve_by: Option<&schemas::Timestamp>,
    keep: impl Fn(&str) -> bool,
    loss: &mut Loss,
) {
    if let Some(at) = &t.ack_by {
        loss.lose("ack_by", "签收时限", &time::format_rfc3339(at));
    }
    if let Some(at) = resolve_by {
        loss.lose("resolve_by", "办结时限", &time::format_rfc3339(at));
    }
    for (i, h) in t.history.iter().enumerate() {
        let mut line = format!("{} {}", time::format_rfc3339(&h.at), h.state.as_str());
        for part in [&h.by, &h.comment].into_iter().flatten() {
            line.push(' ');
            line.push_str(part);
        }
        loss.lose(&format!("history[{i}]"), "处理记录", &line);
    }
    for (k, v) in t.extensions.iter().filter(|(k, _)| keep(k)) {
        loss.lose_extension(k, v);
    }
}
