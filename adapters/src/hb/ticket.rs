//! The hb-soap ticket, `PushWorkOrder`.

use schemas::{
    Attachment, Caller, Channel, Datum, Enterprise, Location, Property, Scheme, SourcePoint,
    Tables, Target, Ticket, Urgency,
};

use super::envelope::{Operation, open_envelope, read_operation};
use super::{DEFAULT_ADDRESS, DEFAULT_SENDER_CODE, NS};
use crate::common::{Check, Encoded, Loss, category_from_partner, urgency_two_levels};
use crate::error::Error;
use crate::xml::{self, Charset};
use crate::xmlwire::{self, Children, Joined, Shape, code_of, enumerated};
use crate::{bj, geo, time};

/// `PushWorkOrder` children, in the order the gateway writes them.
pub(super) const WORK_ORDER: Shape = Shape {
    names: &[
        "GDBH", "WGBH", "SLSJ", "LYQD", "JJCD", "FLDM", "FLMC", "BT", "NR", "LDRXM", "LDDH",
        "SFNM", "SJDZ", "XZQH", "JD", "WD", "MBCS", "ZYYY", "QYMC", "TYXYDM", "XQMC", "LH", "DY",
        "FH", "FJ", "THBH", "BZ",
    ],
    nested: &["FJ"],
    ordered: false,
};

/// `FJXX` (one attachment) children.
const FJXX: Shape = Shape {
    names: &["MC", "DZ", "SHA256"],
    nested: &[],
    ordered: false,
};

const CHANNELS: [(&str, Channel); 5] = [
    ("01", Channel::Phone),
    ("02", Channel::Web),
    ("03", Channel::Wechat),
    ("04", Channel::App),
    ("05", Channel::Video),
];

const FLAGS: [(&str, bool); 2] = [("1", true), ("0", false)];

/// Decodes and validates a `PushWorkOrder`.
pub fn decode_ticket(bytes: &[u8], tables: &Tables) -> Result<Ticket, Error> {
    let text = xml::decode_body(bytes, Charset::Gb18030)?;
    let doc = xml::parse_doc(&text)?;
    let mut c = Check::new();
    let (_, op, sender) = read_operation(&mut c, doc.root(), Some(Operation::PushWorkOrder))?;
    let f = Children::read(&mut c, op, "", NS, &WORK_ORDER);
    let origin_ticket_id = c.id("GDBH", f.text("GDBH"), 32);
    let handoff_id = f.string("WGBH");
    c.opt_text("WGBH", handoff_id.as_deref(), 64);
    let received_at = c
        .required("SLSJ", f.text("SLSJ"))
        .and_then(|v| c.take("SLSJ", time::parse_compact(v)));
    let channel = enumerated(&mut c, "LYQD", f.text("LYQD"), &CHANNELS);
    let urgent = enumerated(&mut c, "JJCD", f.text("JJCD"), &FLAGS).unwrap_or(false);
    let category = match (f.text("FLDM"), f.text("FLMC")) {
        (Some(code), label) => {
            c.required("FLDM", Some(code));
            c.text("FLDM", code, 32);
            c.opt_text("FLMC", label, 100);
            let label = label.filter(|l| !l.is_empty());
            category_from_partner(tables, Scheme::Hb, code, label)
        }
        (None, Some(_)) => {
            c.fail("FLDM", "is required with FLMC");
            xmlwire::no_category()
        }
        (None, None) => xmlwire::no_category(),
    };
    let title = c.required_text("BT", f.text("BT"), 200);
    let description = c.required_text("NR", f.text("NR"), 8000);
    let name = f.string("LDRXM");
    let phone = f.string("LDDH");
    let anonymous = enumerated(&mut c, "SFNM", f.text("SFNM"), &FLAGS).unwrap_or(false);
    c.opt_text("LDRXM", name.as_deref(), 50);
    c.phone("LDDH", phone.as_deref());
    c.anonymous("SFNM", anonymous, name.as_deref(), phone.as_deref());
    let caller = Caller {
        anonymous,
        name,
        phone,
        ..Caller::default()
    };
    let address = c.required_text("SJDZ", f.text("SJDZ"), 500);
    let division = f.string("XZQH");
    c.division("XZQH", division.as_deref());
    let bd09 = xmlwire::point(&mut c, ("JD", f.text("JD")), ("WD", f.text("WD")));
    let location = Location {
        address: Some(address),
        division,
        point: bd09.map(|p| geo::to_wgs84(Datum::Bd09, p)),
        source_point: bd09.map(|p| SourcePoint {
            datum: Datum::Bd09,
            lon: p.lon,
            lat: p.lat,
        }),
    };
    let mbcs = f.text("MBCS");
    c.division("MBCS", mbcs);
    let reason = f.string("ZYYY");
    c.opt_text("ZYYY", reason.as_deref(), 500);
    let enterprise = match (f.string("QYMC"), f.text("TYXYDM")) {
        (Some(name), uscc) => {
            c.required("QYMC", Some(&name));
            c.text("QYMC", &name, 200);
            c.uscc("TYXYDM", uscc);
            Some(Enterprise {
                name,
                uscc: uscc.map(str::to_owned),
                ..Enterprise::default()
            })
        }
        (None, Some(_)) => {
            c.fail("QYMC", "is required with TYXYDM");
            None
        }
        (None, None) => None,
    };
    let parts = ["LH", "DY", "FH"].map(|n| {
        let v = f.string(n);
        c.opt_text(n, v.as_deref(), 50);
        v
    });
    let property = match f.string("XQMC") {
        Some(community) => {
            c.required("XQMC", Some(&community));
            c.text("XQMC", &community, 100);
            let [building, unit, room] = parts;
            Some(Property {
                community,
                building,
                unit,
                room,
                ..Property::default()
            })
        }
        None => {
            if parts.iter().any(Option::is_some) {
                c.fail("XQMC", "is required with LH, DY or FH");
            }
            None
        }
    };
    let items = f
        .el("FJ")
        .map_or_else(Vec::new, |el| xmlwire::items(&mut c, el, "FJ", NS, "FJXX"));
    let attachments = items
        .into_iter()
        .map(|(path, el)| {
            xmlwire::attrs(&mut c, el, &path, &[]);
            let a = Children::read(&mut c, el, &path, NS, &FJXX);
            let dz = Joined(&path, "DZ");
            let url = c.required(dz, a.text("DZ"));
            if let Some(u) = url {
                c.url(dz, u);
            }
            c.opt_text(Joined(&path, "MC"), a.text("MC"), 255);
            c.sha256(Joined(&path, "SHA256"), a.text("SHA256"));
            Attachment {
                name: a.string("MC"),
                url: url.unwrap_or_default().to_owned(),
                sha256: a.string("SHA256"),
            }
        })
        .collect();
    let call_ref = f.string("THBH");
    c.opt_text("THBH", call_ref.as_deref(), 64);
    let notes = f.string("BZ");
    c.opt_text("BZ", notes.as_deref(), 2000);
    c.finish()?;
    let (Some(received_at), Some(sender)) = (received_at, sender) else {
        return Err(Error::invalid("body", "incomplete after validation"));
    };
    Ok(Ticket {
        origin_ticket_id,
        origin_partner: xmlwire::partner_of(tables, sender),
        origin_division: Some(sender.to_owned()),
        handoff_id,
        target_partner: None,
        received_at,
        channel,
        urgency: if urgent {
            Urgency::Urgent
        } else {
            Urgency::Normal
        },
        category,
        title,
        description,
        caller,
        location: Some(location),
        target: mbcs.map(|d| Target::Hotline {
            division: d.to_owned(),
        }),
        reason,
        enterprise,
        property,
        attachments,
        call_ref,
        notes,
        ack_by: None,
        resolve_by: None,
        history: Vec::new(),
        extensions: Default::default(),
    })
}

/// Encodes a ticket as a `PushWorkOrder` in its SOAP envelope.
pub fn encode_ticket(t: &Ticket, tables: &Tables) -> Result<Encoded, Error> {
    let mut loss = Loss::new();
    let sender = xmlwire::sending_division(t, tables, DEFAULT_SENDER_CODE, &mut loss);
    let mut w = open_envelope(Some(&sender));
    w.open("PushWorkOrder", &[("xmlns", NS)]);
    w.text("GDBH", &[], &t.origin_ticket_id);
    w.opt("WGBH", t.handoff_id.as_deref());
    w.text("SLSJ", &[], &time::format_compact(&t.received_at));
    w.opt("LYQD", t.channel.map(|ch| code_of(&CHANNELS, ch)));
    let urgent = urgency_two_levels(t.urgency, &mut loss);
    w.text("JJCD", &[], if urgent { "1" } else { "0" });
    if let Some((code, label)) = xmlwire::category_out(tables, Scheme::Hb, &t.category, &mut loss) {
        w.text("FLDM", &[], &code);
        w.opt("FLMC", label.as_deref());
    }
    w.text("BT", &[], &t.title);
    w.text("NR", &[], &t.description);
    let k = &t.caller;
    if !k.is_empty() {
        xmlwire::lose_caller_extras(k, &mut loss);
        w.opt("LDRXM", k.name.as_deref());
        w.opt("LDDH", k.phone.as_deref());
        w.text("SFNM", &[], if k.anonymous { "1" } else { "0" });
    }
    let l = t.location.clone().unwrap_or_default();
    w.text("SJDZ", &[], l.address.as_deref().unwrap_or(DEFAULT_ADDRESS));
    w.opt("XZQH", l.division.as_deref());
    if let Some(p) = xmlwire::point_in(Datum::Bd09, &l) {
        w.text("JD", &[], &geo::format_coord(p.lon));
        w.text("WD", &[], &geo::format_coord(p.lat));
    }
    let mbcs = match &t.target {
        Some(Target::Hotline { division }) => Some(division.as_str()),
        Some(Target::Enterprise) => {
            loss.lose("target", "转办目标", "enterprise");
            None
        }
        Some(Target::Property) => {
            loss.lose("target", "转办目标", "property");
            None
        }
        None => None,
    };
    w.opt("MBCS", mbcs);
    loss.lose_opt("target_partner", "承办方", t.target_partner.as_deref());
    w.opt("ZYYY", t.reason.as_deref());
    if let Some(e) = &t.enterprise {
        loss.lose_opt("enterprise.size", "企业规模", e.size.as_deref());
        loss.lose_opt("enterprise.industry", "所属行业", e.industry.as_deref());
        w.text("QYMC", &[], &e.name);
        w.opt("TYXYDM", e.uscc.as_deref());
    }
    if let Some(p) = &t.property {
        loss.lose_opt(
            "property.owner_kind",
            "产权类别",
            p.owner_kind.map(|k| k.as_str()),
        );
        loss.lose_opt("property.unit_id", "产权单位", p.unit_id.as_deref());
        w.text("XQMC", &[], &p.community);
        w.opt("LH", p.building.as_deref());
        w.opt("DY", p.unit.as_deref());
        w.opt("FH", p.room.as_deref());
    }
    if !t.attachments.is_empty() {
        w.open("FJ", &[]);
        for a in &t.attachments {
            w.open("FJXX", &[]);
            w.opt("MC", a.name.as_deref());
            w.text("DZ", &[], &a.url);
            w.opt("SHA256", a.sha256.as_deref());
            w.close();
        }
        w.close();
    }
    w.opt("THBH", t.call_ref.as_deref());
    bj::lose_handoff_fields(t, &mut loss);
    w.opt("BZ", loss.notes(t.notes.as_deref()).as_deref());
    Ok(Encoded {
        bytes: w.finish_bytes(Charset::Gb18030),
        loss: loss.into_report(),
    })
}
