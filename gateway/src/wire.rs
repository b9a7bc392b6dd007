//! Where each format family's messages travel: the gateway's inbound paths
//! and the partners' outbound paths, per `formats.md`.

use adapters::Family;

/// What a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A ticket submission.
    Ticket,
    /// A status update.
    Status,
}

impl Kind {
    /// Stable name (stored in the outbox).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Ticket => "ticket",
            Kind::Status => "status",
        }
    }
}

/// A push endpoint of the gateway: `POST path` from a partner of `family`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inbound {
    /// The family whose partners post here.
    pub family: Family,
    /// What they post; `None` for hb-soap, whose operation is in the body.
    pub kind: Option<Kind>,
}

/// The push endpoint at `path`, if any.
pub fn inbound(path: &str) -> Option<Inbound> {
    let (family, kind) = match path {
        "/bj/v1/orders" => (Family::BjJson, Some(Kind::Ticket)),
        "/bj/v1/orders/status" => (Family::BjJson, Some(Kind::Status)),
        "/tj/v1/appeals" => (Family::TjXml, Some(Kind::Ticket)),
        "/tj/v1/appeals/status" => (Family::TjXml, Some(Kind::Status)),
        "/hb/v1/ws" => (Family::HbSoap, None),
        "/ent/v1/tickets" => (Family::EntJson, Some(Kind::Ticket)),
        "/ent/v1/tickets/status" => (Family::EntJson, Some(Kind::Status)),
        _ => return None,
    };
    Some(Inbound { family, kind })
}

/// The gateway's inbound path for a family's message (what partners, the
/// demo and the tests post to).
pub fn inbound_path(family: Family, kind: Kind) -> Option<&'static str> {
    Some(match (family, kind) {
        (Family::BjJson, Kind::Ticket) => "/bj/v1/orders",
        (Family::BjJson, Kind::Status) => "/bj/v1/orders/status",
        (Family::TjXml, Kind::Ticket) => "/tj/v1/appeals",
        (Family::TjXml, Kind::Status) => "/tj/v1/appeals/status",
        (Family::HbSoap, _) => "/hb/v1/ws",
        (Family::EntJson, Kind::Ticket) => "/ent/v1/tickets",
        (Family::EntJson, Kind::Status) => "/ent/v1/tickets/status",
        _ => return None,
    })
}

/// The suffix appended to a push partner's endpoint for a delivery, or
/// `None` for families that do not receive pushes (pu-json pulls, Open311
/// clients read).
pub fn outbound_suffix(family: Family, kind: Kind) -> Option<&'static str> {
    Some(match (family, kind) {
        (Family::BjJson, Kind::Ticket) => "/orders",
        (Family::BjJson, Kind::Status) => "/orders/status",
        (Family::TjXml, Kind::Ticket) => "/appeals",
        (Family::TjXml, Kind::Status) => "/appeals/status",
        (Family::HbSoap, _) => "",
        (Family::EntJson, Kind::Ticket) => "/tickets",
        (Family::EntJson, Kind::Status) => "/tickets/status",
        _ => return None,
    })
}

/// The SOAPAction header value for an hb-soap message (quoted, as SOAP 1.1
/// writes it).
pub fn soap_action(kind: Kind) -> &'static str {
    match kind {
        Kind::Ticket => "\"PushWorkOrder\"",
        Kind::Status => "\"PushFeedback\"",
    }
}

/// True when a stated Content-Type agrees with the family: the media type
/// matches and a stated charset names the family's encoding.
pub fn content_type_agrees(family: Family, content_type: Option<&str>) -> Result<(), String> {
    let Some(ct) = content_type else {
        return Ok(());
    };
    let mut parts = ct.split(';').map(str::trim);
    let media = parts.next().unwrap_or_default().to_ascii_lowercase();
    let charset = parts
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
        .map(|(_, v)| v.trim().trim_matches('"').to_ascii_uppercase());
    let (medias, encoding): (&[&str], &str) = match family {
        Family::HbSoap => (&["text/xml", "application/soap+xml"], "GB18030"),
        Family::TjXml | Family::Open311Xml => (&["application/xml", "text/xml"], "UTF-8"),
        _ => (&["application/json"], "UTF-8"),
    };
    if !medias.contains(&media.as_str()) {
        return Err(format!("Content-Type '{ct}' is not {}", medias[0]));
    }
    match charset {
        Some(c) if c != encoding && !(encoding == "UTF-8" && c == "UTF8") => Err(format!(
            "Content-Type states charset {c}, but {family} bodies are {encoding}"
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_content_types() {
        assert_eq!(
            inbound("/tj/v1/appeals/status"),
            Some(Inbound {
                family: Family::TjXml,
                kind: Some(Kind::Status)
            })
        );
        assert_eq!(inbound("/tj/v1/appeal"), None);
        assert_eq!(outbound_suffix(Family::PuJson, Kind::Ticket), None);
        assert!(content_type_agrees(Family::HbSoap, Some("text/xml; charset=GB18030")).is_ok());
        assert!(content_type_agrees(Family::HbSoap, Some("text/xml; charset=utf-8")).is_err());
        assert!(
            content_type_agrees(Family::BjJson, Some("application/json; charset=utf-8")).is_ok()
        );
        assert!(content_type_agrees(Family::BjJson, Some("text/plain")).is_err());
    }
}
