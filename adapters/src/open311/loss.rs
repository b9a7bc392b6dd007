//! What the service-request representation cannot carry: lines for the
//! description, and personal data that is reported but never written.

use schemas::{Datum, Location, Point, Target, Ticket, Urgency};

use super::{
    EXT_ACCOUNT_ID, EXT_ADDRESS_ID, EXT_DEVICE_ID, EXT_SERVICE_NOTICE, EXT_STATUS,
    EXT_STATUS_NOTES, EXT_UPDATED, EXT_ZIPCODE, WITHHELD,
};
use crate::common::{Loss, LossReport};
use crate::geo;

/// Extensions the representation carries in its own fields.
const REPRESENTED: [&str; 6] = [
    EXT_STATUS,
    EXT_STATUS_NOTES,
    EXT_UPDATED,
    EXT_SERVICE_NOTICE,
    EXT_ADDRESS_ID,
    EXT_ZIPCODE,
];

/// Extensions that identify the requester: never written, reported only.
const PERSONAL: [&str; 2] = [EXT_DEVICE_ID, EXT_ACCOUNT_ID];

/// Lost fields: lines for the description (non-personal) and report-only
/// entries (personal data, whose value is never written anywhere).
#[derive(Default)]
pub(super) struct Lost {
    pub public: Loss,
    /// The personal fields present, reported as [`WITHHELD`].
    withheld: Vec<&'static str>,
    /// The personal extensions present (their keys).
    withheld_extensions: Vec<&'static str>,
}

impl Lost {
    fn withhold(&mut self, field: &'static str, present: bool) {
        if present {
            self.withheld.push(field);
        }
    }

    /// The report: the public fields in the order met, then the withheld.
    pub fn into_report(self) -> LossReport {
        let mut report = self.public.into_report();
        for key in self.withheld_extensions {
            report.push(&["extensions.", key], WITHHELD);
        }
        for field in self.withheld {
            report.push(&[field], WITHHELD);
        }
        report
    }
}

/// The WGS-84 point to write: the source's own when it sent WGS-84,
/// otherwise the canonical point rounded to 6 decimals.
pub(super) fn wgs84(location: Option<&Location>) -> Option<Point> {
    let l = location?;
    match (l.source_point, l.point) {
        (Some(sp), _) if sp.datum == Datum::Wgs84 => Some(Point {
            lon: sp.lon,
            lat: sp.lat,
        }),
        (sp, p) => p
            .or_else(|| {
                sp.map(|s| {
                    geo::to_wgs84(
                        s.datum,
                        Point {
                            lon: s.lon,
                            lat: s.lat,
                        },
                    )
                })
            })
            .map(|p| Point {
                lon: geo::round6(p.lon),
                lat: geo::round6(p.lat),
            }),
    }
}

fn target_text(target: &Target) -> String {
    match target {
        Target::Hotline { division } => format!("hotline {division}"),
        Target::Enterprise => "enterprise".to_owned(),
        Target::Property => "property".to_owned(),
    }
}

/// Records every canonical field the representation has no place for:
/// the title when it is not the service name, an origin ticket id other
/// than the hand-off id, the origin, channel, urgency other than normal,
/// the anonymous flag, division, target, reason, enterprise, property,
/// attachment details and attachments past the first, call reference,
/// notes, `ack_by`, history and extensions the representation does not
/// hold. The caller's name, phone and e-mail and the device and account
/// ids are personal: reported as withheld, written nowhere.
pub(super) fn lose_fields(t: &Ticket, service_name: Option<&str>, lost: &mut Lost) {
    let l = &mut lost.public;
    if service_name != Some(t.title.as_str()) {
        l.lose("title", "标题", &t.title);
    }
    if !t.origin_ticket_id.is_empty() && t.handoff_id.as_deref() != Some(&t.origin_ticket_id) {
        l.lose("origin_ticket_id", "原工单号", &t.origin_ticket_id);
    }
    l.lose_opt("origin_partner", "来源方", t.origin_partner.as_deref());
    l.lose_opt(
        "origin_division",
        "来源热线区划",
        t.origin_division.as_deref(),
    );
    l.lose_opt("channel", "受理渠道", t.channel.map(|c| c.as_str()));
    if t.urgency != Urgency::Normal {
        l.lose("urgency", "紧急程度", t.urgency.as_str());
    }
    if t.caller.anonymous {
        l.lose("caller.anonymous", "匿名", "true");
    }
    if let Some(loc) = &t.location {
        l.lose_opt("location.division", "区划代码", loc.division.as_deref());
    }
    l.lose_opt(
        "target",
        "转办目标",
        t.target.as_ref().map(target_text).as_deref(),
    );
    l.lose_opt("reason", "转办原因", t.reason.as_deref());
    if let Some(e) = &t.enterprise {
        l.lose("enterprise.name", "企业名称", &e.name);
        l.lose_opt("enterprise.uscc", "统一社会信用代码", e.uscc.as_deref());
        l.lose_opt("enterprise.size", "企业规模", e.size.as_deref());
        l.lose_opt("enterprise.industry", "所属行业", e.industry.as_deref());
    }
    if let Some(p) = &t.property {
        l.lose("property.community", "小区", &p.community);
        l.lose_opt("property.building", "楼号", p.building.as_deref());
        l.lose_opt("property.unit", "单元", p.unit.as_deref());
        l.lose_opt("property.room", "房号", p.room.as_deref());
        l.lose_opt(
            "property.owner_kind",
            "产权类别",
            p.owner_kind.map(|k| k.as_str()),
        );
        l.lose_opt("property.unit_id", "产权单位", p.unit_id.as_deref());
    }
    if let Some(a) = t.attachments.first() {
        l.lose_opt("attachments[0].name", "附件名称", a.name.as_deref());
        l.lose_opt("attachments[0].sha256", "附件摘要", a.sha256.as_deref());
    }
    for (i, a) in t.attachments.iter().enumerate().skip(1) {
        let mut line = a.url.clone();
        for part in [&a.name, &a.sha256].into_iter().flatten() {
            line.push(' ');
            line.push_str(part);
        }
        l.lose(&format!("attachments[{i}]"), "附件", &line);
    }
    l.lose_opt("call_ref", "通话编号", t.call_ref.as_deref());
    l.lose_opt("notes", "备注", t.notes.as_deref());
    // Deadlines, history and extensions as every format records them;
    // `resolve_by` travels as expected_datetime, the represented extensions
    // in their own fields and the personal ones nowhere.
    crate::bj::lose_handoff_fields_but(
        t,
        None,
        |k| !REPRESENTED.contains(&k) && !PERSONAL.contains(&k),
        l,
    );
    for key in PERSONAL {
        if t.extensions.contains_key(key) {
            lost.withheld_extensions.push(key);
        }
    }
    let c = &t.caller;
    lost.withhold("caller.name", c.name.is_some());
    lost.withhold("caller.family_name", c.family_name.is_some());
    lost.withhold("caller.given_name", c.given_name.is_some());
    lost.withhold("caller.phone", c.phone.is_some());
    lost.withhold("caller.email", c.email.is_some());
}
