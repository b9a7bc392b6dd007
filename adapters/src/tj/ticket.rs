//! The tj-xml ticket, `<Appeal>`.

use schemas::{
    Attachment, Caller, Channel, Datum, Enterprise, Location, Property, Scheme, SourcePoint,
    Tables, Target, Ticket, Urgency,
};

use super::{DEFAULT_ADDRESS, DEFAULT_FROM_HOTLINE, DEFAULT_PRIORITY, NS, root_named};
use crate::common::{Check, Encoded, Loss, category_from_partner};
use crate::error::Error;
use crate::xml::{self, Charset, Writer};
use crate::xmlwire::{self, Children, Joined, Shape, code_of, enumerated};
use crate::{bj, geo, time};

/// `Appeal` children, in their order.
const APPEAL: Shape = Shape {
    names: &[
        "AppealId",
        "GatewayRef",
        "FromHotline",
        "ToHotline",
        "ReceivedAt",
        "Source",
        "Priority",
        "Category",
        "Subject",
        "Description",
        "Citizen",
        "Place",
        "Enterprise",
        "Property",
        "Attachments",
        "CallRef",
        "TransferReason",
        "Notes",
    ],
    nested: &[
        "Category",
        "Citizen",
        "Place",
        "Enterprise",
        "Property",
        "Attachments",
    ],
    ordered: true,
};

const CITIZEN: Shape = Shape {
    names: &["Name", "Phone"],
    nested: &[],
    ordered: true,
};

const PLACE: Shape = Shape {
    names: &["Address", "Division", "Point"],
    nested: &["Point"],
    ordered: true,
};

const ENTERPRISE: Shape = Shape {
    names: &["Name", "CreditCode"],
    nested: &[],
    ordered: true,
};

const PROPERTY: Shape = Shape {
    names: &["Community", "Building", "Unit", "Room"],
    nested: &[],
    ordered: true,
};

const SOURCES: [(&str, Channel); 5] = [
    ("PHONE", Channel::Phone),
    ("WEB", Channel::Web),
    ("WECHAT", Channel::Wechat),
    ("APP", Channel::App),
    ("VIDEO", Channel::Video),
];

const PRIORITIES: [(&str, Urgency); 3] = [
    ("URGENT", Urgency::Urgent),
    ("HIGH", Urgency::High),
    ("NORMAL", Urgency::Normal),
];

/// Decodes and validates an `<Appeal>`.
pub fn decode_ticket(bytes: &[u8], tables: &Tables) -> Result<Ticket, Error> {
    let text = xml::decode_body(bytes, Charset::Utf8)?;
    let doc = xml::parse_doc(&text)?;
    let root = root_named(&doc, "Appeal")?;
    let mut c = Check::new();
    xmlwire::attrs(&mut c, root, "Appeal", &[]);
    let f = Children::read(&mut c, root, "", NS, &APPEAL);
    let appeal_id = f.text("AppealId");
    let origin_ticket_id = c.id("AppealId", appeal_id, 32);
    let gateway_ref = f.string("GatewayRef");
    c.opt_text("GatewayRef", gateway_ref.as_deref(), 64);
    let from = f.text("FromHotline");
    let from = c.required("FromHotline", from);
    c.division("FromHotline", from);
    let to = f.text("ToHotline");
    c.division("ToHotline", to);
    let received_at = c.rfc3339("ReceivedAt", f.text("ReceivedAt"));
    let channel = f.text("Source");
    let channel = enumerated(&mut c, "Source", channel, &SOURCES);
    let priority = f.text("Priority");
    let urgency = enumerated(&mut c, "Priority", priority, &PRIORITIES).unwrap_or(DEFAULT_PRIORITY);
    let category = match f.el("Category") {
        None => xmlwire::no_category(),
        Some(el) => {
            xmlwire::leaf(&mut c, el, "Category", &["code"]);
            let code = c.required("Category.code", el.attr("code")).unwrap_or("");
            c.text("Category.code", code, 32);
            c.text("Category", el.text(), 100);
            let label = Some(el.text()).filter(|l| !l.is_empty());
            category_from_partner(tables, Scheme::Tj, code, label)
        }
    };
    let title = c.required_text("Subject", f.text("Subject"), 200);
    let description = c.required_text("Description", f.text("Description"), 8000);
    let caller = match f.el("Citizen") {
        None => Caller::default(),
        Some(el) => {
            xmlwire::attrs(&mut c, el, "Citizen", &["anonymous"]);
            let anonymous = match el.attr("anonymous") {
                None | Some("false") => false,
                Some("true") => true,
                Some(other) => {
                    c.fail(
                        "Citizen.anonymous",
                        format!("must be \"true\" or \"false\"; got \"{other}\""),
                    );
                    false
                }
            };
            let k = Children::read(&mut c, el, "Citizen", NS, &CITIZEN);
            let name = k.string("Name");
            let phone = k.string("Phone");
            c.opt_text("Citizen.Name", name.as_deref(), 50);
            c.phone("Citizen.Phone", phone.as_deref());
            c.anonymous(
                "Citizen.anonymous",
                anonymous,
                name.as_deref(),
                phone.as_deref(),
            );
            Caller {
                anonymous,
                name,
                phone,
                ..Caller::default()
            }
        }
    };
    let location = f.el("Place").map(|el| {
        xmlwire::attrs(&mut c, el, "Place", &[]);
        let p = Children::read(&mut c, el, "Place", NS, &PLACE);
        let address = c.required_text("Place.Address", p.text("Address"), 500);
        let division = p.string("Division");
        c.division("Place.Division", division.as_deref());
        let point = p.el("Point").and_then(|pt| {
            xmlwire::empty(&mut c, pt, "Place.Point", &["lon", "lat"]);
            let lon = ("Place.Point.lon", pt.attr("lon"));
            let lat = ("Place.Point.lat", pt.attr("lat"));
            if lon.1.is_none() && lat.1.is_none() {
                c.fail("Place.Point", "needs the attributes lon and lat");
            }
            xmlwire::point(&mut c, lon, lat)
        });
        Location {
            address: Some(address),
            division,
            point,
            source_point: point.map(|p| SourcePoint {
                datum: Datum::Wgs84,
                lon: p.lon,
                lat: p.lat,
            }),
        }
    });
    let enterprise = f.el("Enterprise").map(|el| {
        xmlwire::attrs(&mut c, el, "Enterprise", &[]);
        let e = Children::read(&mut c, el, "Enterprise", NS, &ENTERPRISE);
        let name = c.required_text("Enterprise.Name", e.text("Name"), 200);
        let uscc = e.text("CreditCode");
        let uscc = c.required("Enterprise.CreditCode", uscc);
        c.uscc("Enterprise.CreditCode", uscc);
        Enterprise {
            name,
            uscc: uscc.map(str::to_owned),
            ..Enterprise::default()
        }
    });
    let property = f.el("Property").map(|el| {
        xmlwire::attrs(&mut c, el, "Property", &[]);
        let p = Children::read(&mut c, el, "Property", NS, &PROPERTY);
        let community = c.required_text("Property.Community", p.text("Community"), 100);
        let mut part = |name: &str| {
            let v = p.string(name);
            c.opt_text(p.path(name), v.as_deref(), 50);
            v
        };
        Property {
            community,
            building: part("Building"),
            unit: part("Unit"),
            room: part("Room"),
            ..Property::default()
        }
    });
    let items = f.el("Attachments").map_or_else(Vec::new, |el| {
        xmlwire::items(&mut c, el, "Attachments", NS, "Attachment")
    });
    let attachments = items
        .into_iter()
        .map(|(path, a)| {
            xmlwire::empty(&mut c, a, &path, &["name", "href", "sha256"]);
            let href_path = Joined(&path, "href");
            let href = c.required(href_path, a.attr("href"));
            if let Some(u) = href {
                c.url(href_path, u);
            }
            c.opt_text(Joined(&path, "name"), a.attr("name"), 255);
            c.sha256(Joined(&path, "sha256"), a.attr("sha256"));
            Attachment {
                name: a.attr("name").map(str::to_owned),
                url: href.unwrap_or_default().to_owned(),
                sha256: a.attr("sha256").map(str::to_owned),
            }
        })
        .collect();
    let call_ref = f.string("CallRef");
    c.opt_text("CallRef", call_ref.as_deref(), 64);
    let reason = f.string("TransferReason");
    c.opt_text("TransferReason", reason.as_deref(), 500);
    let notes = f.string("Notes");
    c.opt_text("Notes", notes.as_deref(), 2000);
    c.finish()?;
    let (Some(received_at), Some(from)) = (received_at, from) else {
        return Err(Error::invalid("body", "incomplete after validation"));
    };
    Ok(Ticket {
        origin_ticket_id,
        origin_partner: xmlwire::partner_of(tables, from),
        origin_division: Some(from.to_owned()),
        handoff_id: gateway_ref,
        target_partner: None,
        received_at,
        channel,
        urgency,
        category,
        title,
        description,
        caller,
        location,
        target: to.map(|d| Target::Hotline {
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

/// Encodes a ticket as an `<Appeal>`.
pub fn encode_ticket(t: &Ticket, tables: &Tables) -> Result<Encoded, Error> {
    let mut loss = Loss::new();
    let mut w = Writer::new(Charset::Utf8);
    w.open("Appeal", &[("xmlns", NS)]);
    w.text("AppealId", &[], &t.origin_ticket_id);
    w.opt("GatewayRef", t.handoff_id.as_deref());
    let from = xmlwire::sending_division(t, tables, DEFAULT_FROM_HOTLINE, &mut loss);
    w.text("FromHotline", &[], &from);
    let to = match &t.target {
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
    w.opt("ToHotline", to);
    loss.lose_opt("target_partner", "承办方", t.target_partner.as_deref());
    w.text("ReceivedAt", &[], &time::format_rfc3339(&t.received_at));
    w.opt("Source", t.channel.map(|ch| code_of(&SOURCES, ch)));
    w.text("Priority", &[], code_of(&PRIORITIES, t.urgency));
    if let Some((code, label)) = xmlwire::category_out(tables, Scheme::Tj, &t.category, &mut loss) {
        w.text(
            "Category",
            &[("code", &code)],
            label.as_deref().unwrap_or(""),
        );
    }
    w.text("Subject", &[], &t.title);
    w.text("Description", &[], &t.description);
    write_caller(&mut w, t, &mut loss);
    if let Some(l) = &t.location {
        w.open("Place", &[]);
        w.text(
            "Address",
            &[],
            l.address.as_deref().unwrap_or(DEFAULT_ADDRESS),
        );
        w.opt("Division", l.division.as_deref());
        if let Some(p) = xmlwire::point_in(Datum::Wgs84, l) {
            let (lon, lat) = (geo::format_coord(p.lon), geo::format_coord(p.lat));
            w.empty("Point", &[("lon", &lon), ("lat", &lat)]);
        }
        w.close();
    }
    if let Some(e) = &t.enterprise {
        loss.lose_opt("enterprise.size", "企业规模", e.size.as_deref());
        loss.lose_opt("enterprise.industry", "所属行业", e.industry.as_deref());
        match &e.uscc {
            Some(uscc) => {
                w.open("Enterprise", &[]);
                w.text("Name", &[], &e.name);
                w.text("CreditCode", &[], uscc);
                w.close();
            }
            None => loss.lose("enterprise.name", "企业名称", &e.name),
        }
    }
    if let Some(p) = &t.property {
        loss.lose_opt(
            "property.owner_kind",
            "产权类别",
            p.owner_kind.map(|k| k.as_str()),
        );
        loss.lose_opt("property.unit_id", "产权单位", p.unit_id.as_deref());
        w.open("Property", &[]);
        w.text("Community", &[], &p.community);
        w.opt("Building", p.building.as_deref());
        w.opt("Unit", p.unit.as_deref());
        w.opt("Room", p.room.as_deref());
        w.close();
    }
    if !t.attachments.is_empty() {
        w.open("Attachments", &[]);
        for a in &t.attachments {
            let mut attrs: Vec<(&str, &str)> = Vec::with_capacity(3);
            if let Some(name) = &a.name {
                attrs.push(("name", name));
            }
            attrs.push(("href", &a.url));
            if let Some(sha) = &a.sha256 {
                attrs.push(("sha256", sha));
            }
            w.empty("Attachment", &attrs);
        }
        w.close();
    }
    w.opt("CallRef", t.call_ref.as_deref());
    w.opt("TransferReason", t.reason.as_deref());
    bj::lose_handoff_fields(t, &mut loss);
    w.opt("Notes", loss.notes(t.notes.as_deref()).as_deref());
    Ok(Encoded {
        bytes: w.finish_bytes(Charset::Utf8),
        loss: loss.into_report(),
    })
}

/// Writes `<Citizen>`: the anonymous flag, Name and Phone.
fn write_caller(w: &mut Writer, t: &Ticket, loss: &mut Loss) {
    let k = &t.caller;
    if k.is_empty() {
        return;
    }
    xmlwire::lose_caller_extras(k, loss);
    let anonymous = [("anonymous", if k.anonymous { "true" } else { "false" })];
    if k.name.is_none() && k.phone.is_none() {
        w.empty("Citizen", &anonymous);
        return;
    }
    w.open("Citizen", &anonymous);
    w.opt("Name", k.name.as_deref());
    w.opt("Phone", k.phone.as_deref());
    w.close();
}
