//! proptest strategies for valid canonical tickets and status updates:
//! arbitrary Unicode text (rare CJK in the supplementary planes, emoji,
//! full-width punctuation, CR/LF), valid identifiers, points inside China,
//! times with arbitrary offsets and fractions.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, TimeZone};
use proptest::prelude::*;
use schemas::{
    Attachment, Caller, Category, Channel, Enterprise, Location, Point, Property, Satisfaction,
    SourceCode, Status, StatusUpdate, Target, Ticket, Timestamp, Urgency,
};

/// Characters every format can carry, weighted towards the hard ones.
fn text_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range('a', 'z'),
        4 => proptest::char::range('\u{4E00}', '\u{9FFF}'),
        2 => proptest::char::range('\u{20000}', '\u{2A6DF}'),
        1 => proptest::char::range('\u{3400}', '\u{4DBF}'),
        1 => proptest::char::range('\u{1F600}', '\u{1F64F}'),
        1 => prop::sample::select(vec!['，', '。', '“', '”', '（', '）', '：', '；', '、', '&', '<', '>', '"', '\'', ' ', '\n', '\r', '\t', '%', '+', '=', '[', ']', '{', '}', '\\']),
        1 => any::<char>().prop_filter("XML 1.0 character", |c| adapters::xml::is_xml_char(*c)),
    ]
}

/// Free text of 1..=max characters that is not blank.
pub fn text(max: usize) -> impl Strategy<Value = String> {
    (
        proptest::char::range('\u{4E00}', '\u{9FFF}'),
        proptest::collection::vec(text_char(), 0..max.saturating_sub(1)),
    )
        .prop_map(|(first, rest)| std::iter::once(first).chain(rest).collect())
}

/// Short text without line breaks or tabs (names, ids, labels).
pub fn line(max: usize) -> impl Strategy<Value = String> {
    text(max)
        .prop_map(|s| s.replace(['\n', '\r', '\t'], " ").trim().to_owned())
        .prop_filter("not blank", |s| !s.is_empty())
}

/// A ticket id of the shape every format accepts.
pub fn ticket_id() -> impl Strategy<Value = String> {
    "[A-Z]{2}[0-9A-Za-z-]{1,20}"
}

/// A mobile or fixed-line number.
pub fn phone() -> impl Strategy<Value = String> {
    prop_oneof!["1[3-9][0-9]{9}", "0[1-9][0-9]{1,2}-[1-9][0-9]{6,7}"]
}

/// A division code from the hotline registry's provinces.
pub fn division() -> impl Strategy<Value = String> {
    prop_oneof!["110[0-1][0-9]{2}", "1201[0-1][0-9]", "13[0-1][0-9]{3}"]
}

/// A valid USCC (check character computed per GB 32100-2015).
pub fn uscc() -> impl Strategy<Value = String> {
    const CHARS: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    const W: [u32; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    // Registration authority and type, the 6-digit division, then the
    // organisation code: positions 3 to 8 are digits.
    (
        proptest::collection::vec(0usize..31, 2),
        proptest::collection::vec(0usize..10, 6),
        proptest::collection::vec(0usize..31, 9),
    )
        .prop_map(|(head, division, org)| [head, division, org].concat())
        .prop_map(|v| {
            let sum: u32 = v.iter().zip(W).map(|(&c, w)| c as u32 * w).sum();
            let mut s: String = v.iter().map(|&i| char::from(CHARS[i])).collect();
            s.push(char::from(CHARS[((31 - sum % 31) % 31) as usize]));
            s
        })
}

/// A point inside mainland China, WGS-84.
pub fn point() -> impl Strategy<Value = Point> {
    (73.0f64..135.0, 18.0f64..53.0).prop_map(|(lon, lat)| Point { lon, lat })
}

/// A time between 2000 and 2099 with an arbitrary offset and fraction.
pub fn timestamp() -> impl Strategy<Value = Timestamp> {
    (
        946_684_800i64..4_102_444_800,
        0u32..1_000_000_000,
        -12i32 * 4..=14 * 4,
    )
        .prop_map(|(secs, nanos, quarter_hours)| {
            let offset = FixedOffset::east_opt(quarter_hours * 900).unwrap();
            let utc = DateTime::from_timestamp(secs, nanos).unwrap();
            offset.from_utc_datetime(&utc.naive_utc())
        })
}

fn sha256() -> impl Strategy<Value = String> {
    "[0-9a-f]{64}"
}

fn attachment() -> impl Strategy<Value = Attachment> {
    (
        proptest::option::of(line(20)),
        "[a-z0-9]{1,12}",
        proptest::option::of(sha256()),
    )
        .prop_map(|(name, path, sha256)| Attachment {
            name: name.map(|n| format!("{n}.jpg")),
            url: format!("https://att.example/{path}.jpg"),
            sha256,
        })
}

fn caller() -> impl Strategy<Value = Caller> {
    prop_oneof![
        1 => Just(Caller { anonymous: true, ..Caller::default() }),
        3 => (proptest::option::of(line(8)), proptest::option::of(phone())).prop_map(|(name, phone)| Caller {
            anonymous: false,
            name,
            phone,
            ..Caller::default()
        }),
    ]
}

/// A valid canonical ticket as a partner's decoder would produce it (no
/// hand-off fields, no extensions), with a category from the catalogue.
pub fn ticket(categories: Vec<String>) -> impl Strategy<Value = Ticket> {
    let head = (
        ticket_id(),
        timestamp(),
        proptest::option::of(prop::sample::select(Channel::ALL.to_vec())),
        prop::sample::select(vec![Urgency::Urgent, Urgency::High, Urgency::Normal]),
        prop::sample::select(categories),
        line(60),
        text(300),
        caller(),
    );
    let tail = (
        proptest::option::of((
            line(60),
            proptest::option::of(division()),
            proptest::option::of(point()),
        )),
        proptest::option::of(prop_oneof![
            division().prop_map(|division| Target::Hotline { division }),
            Just(Target::Enterprise),
            Just(Target::Property),
        ]),
        proptest::option::of(line(80)),
        proptest::option::of((line(30), uscc())),
        proptest::option::of((
            line(20),
            proptest::option::of(line(8)),
            proptest::option::of(line(8)),
            proptest::option::of("[0-9]{3,4}"),
        )),
        proptest::collection::vec(attachment(), 0..3),
        proptest::option::of("[A-Z0-9-]{4,24}"),
        proptest::option::of(text(200)),
    );
    (head, tail).prop_map(|(h, t)| {
        let (origin_ticket_id, received_at, channel, urgency, code, title, description, caller) = h;
        let (location, target, reason, enterprise, property, attachments, call_ref, notes) = t;
        Ticket {
            origin_ticket_id,
            origin_partner: None,
            origin_division: None,
            handoff_id: None,
            target_partner: None,
            received_at,
            channel,
            urgency,
            category: Category {
                code,
                label: None,
                source: None::<SourceCode>,
            },
            title,
            description,
            caller,
            location: location.map(|(address, division, point)| Location {
                address: Some(address),
                division,
                point,
                source_point: None,
            }),
            reason: target.as_ref().and(reason),
            target,
            enterprise: enterprise.map(|(name, uscc)| Enterprise {
                name,
                uscc: Some(uscc),
                ..Enterprise::default()
            }),
            property: property.map(|(community, building, unit, room)| Property {
                community,
                building,
                unit,
                room,
                ..Property::default()
            }),
            attachments,
            call_ref,
            notes,
            ack_by: None,
            resolve_by: None,
            history: Vec::new(),
            extensions: BTreeMap::new(),
        }
    })
}

/// A valid canonical status update naming its hand-off and ticket.
pub fn status_update() -> impl Strategy<Value = StatusUpdate> {
    (
        "01[0-9A-HJKMNP-TV-Z]{24}",
        ticket_id(),
        prop::sample::select(Status::ALL.to_vec()),
        timestamp(),
        proptest::option::of(line(20)),
        proptest::option::of("[A-Z0-9]{1,8}"),
        proptest::option::of(text(200)),
        proptest::option::of(prop::sample::select(vec![
            Satisfaction::Satisfied,
            Satisfaction::BasicallySatisfied,
            Satisfaction::Unsatisfied,
        ])),
    )
        .prop_map(
            |(handoff, ticket, status, at, by, reason_code, comment, satisfaction)| StatusUpdate {
                handoff_id: Some(handoff),
                ticket_id: Some(ticket),
                status,
                at,
                by,
                reason_code,
                comment,
                satisfaction,
                extensions: BTreeMap::new(),
            },
        )
}
