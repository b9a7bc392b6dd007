//! Routing: which partner a submitted ticket goes to.
//!
//! An explicit target wins: a transfer names a division code, resolved by
//! the hotline registry (exact, then prefecture, then province); an
//! enterprise hand-off goes to the enterprise hotline; a property hand-off
//! goes to the unit that owns the compound. A ticket that names no target
//! is routed by the compound registry when it is a housing ticket about a
//! registered compound; otherwise it must name one (Open311 submissions,
//! which cannot, go to the hub). Pure: the tables and the partner list are
//! passed in.

use adapters::Family;
use schemas::{OwnerKind, Tables, Target, Ticket};

pub use crate::lifecycle::HandoffKind;

/// Where a hand-off goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The target partner id.
    pub partner: String,
    /// What kind of hand-off this is (deadlines depend on it).
    pub kind: HandoffKind,
    /// The owner kind, for property units.
    pub owner_kind: Option<OwnerKind>,
}

/// Why a ticket cannot be routed. Each names the offending canonical field;
/// [`RouteError::wire_field`] gives the sender's own field name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// The division code resolves to no hotline of the region.
    #[error(
        "division {division} does not belong to any 12345 hotline of Beijing, Tianjin or Hebei"
    )]
    UnknownDivision {
        /// The code as sent.
        division: String,
    },
    /// The division resolves to the sender itself.
    #[error(
        "division {division} resolves to {partner}, the sender itself; a ticket cannot be transferred to its own hotline"
    )]
    SelfTransfer {
        /// The code as sent.
        division: String,
        /// The hotline it resolved to.
        partner: String,
    },
    /// The resolved hotline is not a configured partner of this gateway.
    #[error("{partner} is not connected to this gateway")]
    NotConnected {
        /// The partner id.
        partner: String,
    },
    /// A property hand-off about a compound not in the registry.
    #[error(
        "no registered central-government or military compound matches this address or community"
    )]
    UnknownCompound,
    /// The ticket names no target and no rule applies.
    #[error("the ticket names no target (transfer city, enterprise hotline or property unit)")]
    NoTarget,
}

impl RouteError {
    /// The field of `family` that the error is about.
    pub fn wire_field(&self, family: Family) -> &'static str {
        let compound = matches!(self, RouteError::UnknownCompound);
        match (family, compound) {
            (Family::BjJson, false) => "transfer.toCity",
            (Family::BjJson, true) => "property.community",
            (Family::TjXml, false) => "ToHotline",
            (Family::TjXml, true) => "Property.Community",
            (Family::HbSoap, false) => "MBCS",
            (Family::HbSoap, true) => "XQMC",
            (Family::EntJson, _) => "route.to",
            (Family::Open311Json | Family::Open311Xml, _) => "address_string",
            (Family::PuJson | Family::Canonical, _) => "target",
        }
    }
}

/// The partners this gateway is connected to, as routing needs them.
pub trait Partners {
    /// True when `id` is a configured partner.
    fn is_connected(&self, id: &str) -> bool;
    /// The enterprise hotline's partner id, if one is configured.
    fn enterprise_hotline(&self) -> Option<&str>;
}

/// The partner id of the hub (Beijing 12345).
pub const HUB: &str = "bj12345";

/// Decides where `ticket`, submitted by `origin`, goes.
pub fn route(
    ticket: &Ticket,
    origin: &str,
    origin_family: Family,
    tables: &Tables,
    partners: &dyn Partners,
) -> Result<Route, RouteError> {
    let connected = |partner: &str| {
        if partners.is_connected(partner) {
            Ok(())
        } else {
            Err(RouteError::NotConnected {
                partner: partner.to_owned(),
            })
        }
    };
    let hotline = |division: &str| -> Result<Route, RouteError> {
        let hotline =
            tables
                .hotlines
                .resolve(division)
                .ok_or_else(|| RouteError::UnknownDivision {
                    division: division.to_owned(),
                })?;
        if hotline.partner_id == origin {
            return Err(RouteError::SelfTransfer {
                division: division.to_owned(),
                partner: hotline.partner_id.clone(),
            });
        }
        connected(&hotline.partner_id)?;
        let kind = if origin_family == Family::EntJson {
            HandoffKind::Enterprise
        } else {
            HandoffKind::Transfer
        };
        Ok(Route {
            partner: hotline.partner_id.clone(),
            kind,
            owner_kind: None,
        })
    };
    match &ticket.target {
        Some(Target::Hotline { division }) => hotline(division),
        Some(Target::Enterprise) => {
            let partner =
                partners
                    .enterprise_hotline()
                    .ok_or_else(|| RouteError::NotConnected {
                        partner: "the enterprise hotline".to_owned(),
                    })?;
            Ok(Route {
                partner: partner.to_owned(),
                kind: HandoffKind::Enterprise,
                owner_kind: None,
            })
        }
        Some(Target::Property) => {
            property_unit(ticket, tables, &connected)?.ok_or(RouteError::UnknownCompound)
        }
        None => match property_unit(ticket, tables, &connected)? {
            Some(route) if is_housing(ticket) => Ok(route),
            _ if matches!(origin_family, Family::Open311Json | Family::Open311Xml) => {
                connected(HUB)?;
                Ok(Route {
                    partner: HUB.to_owned(),
                    kind: HandoffKind::Transfer,
                    owner_kind: None,
                })
            }
            _ => Err(RouteError::NoTarget),
        },
    }
}

fn is_housing(ticket: &Ticket) -> bool {
    ticket.category.code == "housing" || ticket.category.code.starts_with("housing.")
}

fn property_unit(
    ticket: &Ticket,
    tables: &Tables,
    connected: &dyn Fn(&str) -> Result<(), RouteError>,
) -> Result<Option<Route>, RouteError> {
    let location = ticket.location.as_ref();
    let found = tables.compounds.find(
        ticket.property.as_ref().map(|p| p.community.as_str()),
        location.and_then(|l| l.address.as_deref()),
        location.and_then(|l| l.division.as_deref()),
    );
    let Some(compound) = found else {
        return Ok(None);
    };
    connected(&compound.unit_id)?;
    Ok(Some(Route {
        partner: compound.unit_id.clone(),
        kind: HandoffKind::Property,
        owner_kind: Some(compound.owner_kind),
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "route_tests.rs"]
mod tests;
