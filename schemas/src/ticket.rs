//! The canonical ticket and status update: the one model every wire format
//! translates to and from (hub and spoke).
//!
//! Every field any of the six formats carries has a place here, so a ticket
//! that went through the canonical form can be written back to its own format
//! exactly. Values that only one format knows and that have no shared meaning
//! live in [`Ticket::extensions`], keyed `family.field`.
//!
//! The value enums here are deliberately exhaustive (no `#[non_exhaustive]`):
//! every adapter matches them without a wildcard, so adding a status or a
//! channel fails to compile until every format says how it writes it.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

/// A point in time with the offset it was given in. Formats with an offset
/// keep theirs (A → A is exact); Beijing local times carry `+08:00`.
pub type Timestamp = DateTime<FixedOffset>;

/// How the caller reached the origin hotline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A telephone call.
    Phone,
    /// The web portal.
    Web,
    /// WeChat.
    Wechat,
    /// A mobile app.
    App,
    /// A video call.
    Video,
}

impl Channel {
    /// Every channel, in the order of the format tables.
    pub const ALL: [Channel; 5] = [
        Channel::Phone,
        Channel::Web,
        Channel::Wechat,
        Channel::App,
        Channel::Video,
    ];

    /// The common lower-case name (`phone`, `web`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Phone => "phone",
            Channel::Web => "web",
            Channel::Wechat => "wechat",
            Channel::App => "app",
            Channel::Video => "video",
        }
    }

    /// Parses the common lower-case name.
    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// How urgent the ticket is. Formats without `high` send it as normal and
/// list the original in the loss report and the notes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    /// Urgent: the shortest deadlines and the reserved lane.
    Urgent,
    /// High: above normal (ent-json and tj-xml only).
    High,
    /// Normal.
    Normal,
}

impl Urgency {
    /// The common lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::Urgent => "urgent",
            Urgency::High => "high",
            Urgency::Normal => "normal",
        }
    }
}

/// Canonical status values, in their lifecycle order (see the spec's Flows).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The gateway accepted the submission.
    Received,
    /// The target acknowledged receipt, with its own ticket id.
    Delivered,
    /// The target took responsibility.
    Accepted,
    /// The target returned the ticket (退单); terminal for that target.
    Rejected,
    /// Work is under way.
    InProgress,
    /// The target answered, with the result.
    Resolved,
    /// The origin confirmed; terminal.
    Closed,
    /// A notice that a deadline passed; not a state.
    Expired,
}

impl Status {
    /// Every status value.
    pub const ALL: [Status; 8] = [
        Status::Received,
        Status::Delivered,
        Status::Accepted,
        Status::Rejected,
        Status::InProgress,
        Status::Resolved,
        Status::Closed,
        Status::Expired,
    ];

    /// The canonical snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Received => "received",
            Status::Delivered => "delivered",
            Status::Accepted => "accepted",
            Status::Rejected => "rejected",
            Status::InProgress => "in_progress",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
            Status::Expired => "expired",
        }
    }

    /// Parses the canonical snake_case name.
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// The caller's satisfaction, given when the origin closes a hand-off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Satisfaction {
    /// 满意.
    Satisfied,
    /// 基本满意.
    BasicallySatisfied,
    /// 不满意.
    Unsatisfied,
}

/// Where the ticket is to go, as the origin asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// A one-key transfer to the hotline of this 6-digit division code
    /// (resolved to a partner by the hotline registry).
    Hotline {
        /// The division code as the origin wrote it.
        division: String,
    },
    /// The enterprise service hotline.
    Enterprise,
    /// The property unit that owns the compound (routed by the registry).
    Property,
}

/// The ticket's category: a code of the shared catalogue plus what the
/// source actually sent, so the original survives every translation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    /// Catalogue code (`housing.repair.wall`), or `other` when the source
    /// code has no mapping.
    pub code: String,
    /// The label the source sent with its code, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The source's own code and the code scheme it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceCode>,
}

/// A partner's own category code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCode {
    /// The code scheme: a column of `categories.csv` without `_code`
    /// (`bj`, `tj`, `hb`, `ent`, `open311`) or `catalogue`.
    pub scheme: String,
    /// The code exactly as sent.
    pub code: String,
    /// True when the catalogue has no mapping for this code: the ticket
    /// travels as `other` and a person should map the code.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unmapped: bool,
}

/// The person who called. Anonymous means no name and no phone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    /// The caller asked not to be named.
    #[serde(default)]
    pub anonymous: bool,
    /// Full name as written by the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Family name, when the source gives the name in two parts (Open311).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    /// Given name, when the source gives the name in two parts (Open311).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// Mobile or fixed-line number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// E-mail address (ent-json, Open311).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl Caller {
    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        *self == Caller::default()
    }
}

/// A geodetic datum used on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Datum {
    /// WGS-84 (GPS).
    Wgs84,
    /// GCJ-02, the mainland "Mars" datum (bj-json).
    Gcj02,
    /// BD-09, Baidu's datum (hb-soap).
    Bd09,
}

/// A point in WGS-84 degrees.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Longitude, degrees east.
    pub lon: f64,
    /// Latitude, degrees north.
    pub lat: f64,
}

/// The point exactly as the source wrote it, so a format receives its own
/// coordinates back bit for bit.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourcePoint {
    /// The datum the source used.
    pub datum: Datum,
    /// Longitude as sent.
    pub lon: f64,
    /// Latitude as sent.
    pub lat: f64,
}

/// Where the problem is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// Free-text address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// 6-digit division code of the place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub division: Option<String>,
    /// The place in WGS-84.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point: Option<Point>,
    /// The point as the source sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_point: Option<SourcePoint>,
}

/// The company a ticket is about.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enterprise {
    /// Registered name.
    pub name: String,
    /// Unified social credit code (checked on input).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uscc: Option<String>,
    /// Size class as the enterprise hotline sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// Industry as the enterprise hotline sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub industry: Option<String>,
}

/// Who owns a central-government or military compound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerKind {
    /// A central-government body (央产).
    Central,
    /// The military (军产).
    Military,
}

impl OwnerKind {
    /// `central` or `military`.
    pub fn as_str(self) -> &'static str {
        match self {
            OwnerKind::Central => "central",
            OwnerKind::Military => "military",
        }
    }
}

/// The dwelling a housing ticket is about.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Property {
    /// Compound (小区) name.
    pub community: String,
    /// Building (楼号).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub building: Option<String>,
    /// Entrance (单元).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Flat (房号).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// Owner kind of the compound, once routed to a property unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_kind: Option<OwnerKind>,
    /// The property unit's partner id, once routed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_id: Option<String>,
}

/// A file the origin attached (by reference; the gateway never fetches it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// File name, when the source gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where the file is.
    pub url: String,
    /// Hex SHA-256 of the file, when the source gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// One step of a hand-off's history, as the property-unit inbox shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Canonical status name.
    pub state: Status,
    /// When.
    pub at: Timestamp,
    /// Who.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// What they said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// The canonical ticket (工单).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    /// The origin's own ticket id, kept unchanged.
    pub origin_ticket_id: String,
    /// The origin partner id, when known (delivery side, or derived).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_partner: Option<String>,
    /// The origin hotline's division code, when the format carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_division: Option<String>,
    /// The gateway's hand-off id, once assigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff_id: Option<String>,
    /// The target partner id, once routed (Open311 `agency_responsible`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_partner: Option<String>,
    /// When the origin received the request.
    pub received_at: Timestamp,
    /// How the caller came in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// How urgent.
    pub urgency: Urgency,
    /// What it is about.
    pub category: Category,
    /// Short title.
    pub title: String,
    /// The full description.
    pub description: String,
    /// The caller.
    #[serde(default, skip_serializing_if = "Caller::is_empty")]
    pub caller: Caller,
    /// Where.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// Where the origin wants it to go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// Why it is handed off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The company concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enterprise: Option<Enterprise>,
    /// The dwelling concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<Property>,
    /// Attached files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// The call recording or call-centre reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_ref: Option<String>,
    /// Free-form notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Deadline to acknowledge (set by the gateway from configuration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_by: Option<Timestamp>,
    /// Deadline to answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolve_by: Option<Timestamp>,
    /// The hand-off's history so far (pu-json orders carry it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<HistoryEntry>,
    /// Format-specific values with no shared meaning, keyed `family.field`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extensions: BTreeMap<String, String>,
}

/// A canonical status update about one hand-off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusUpdate {
    /// The hand-off the update is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff_id: Option<String>,
    /// The ticket id the message names (the origin's id toward the origin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_id: Option<String>,
    /// The new state, or `expired` as a notice.
    pub status: Status,
    /// When it happened.
    pub at: Timestamp,
    /// Who did it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Return (退单) reason code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
    /// Comment, or the result for `resolved`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The caller's satisfaction, with `closed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub satisfaction: Option<Satisfaction>,
    /// Format-specific values with no shared meaning, keyed `family.field`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extensions: BTreeMap<String, String>,
}
