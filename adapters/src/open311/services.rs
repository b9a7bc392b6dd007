//! `GET services` and `GET services/{service_code}`: the service list built
//! from `categories.csv`, and the definitions of the property attributes.

use schemas::{CategoryEntry, Scheme, Tables};
use serde::Serialize;

use super::Syntax;
use super::form::PROPERTY_ATTRIBUTES;
use super::wire::{XmlRecord, write_fields, write_json, write_list};
use crate::error::Error;
use crate::xml::{Charset, Writer};

/// The top-level category whose services have metadata: the property
/// attributes `community`, `building`, `unit`, `room`.
pub const PROPERTY_ROOT: &str = "housing";
/// Every service's `type`: the gateway answers each request at once.
pub const SERVICE_TYPE: &str = "realtime";

/// The attributes' descriptions, in `PROPERTY_ATTRIBUTES` order.
const ATTRIBUTE_DESCRIPTIONS: [&str; 4] = [
    "小区名称，如：甘家口小区",
    "楼号，如：12号楼",
    "单元，如：1单元",
    "房号，如：601",
];

#[derive(Serialize)]
struct Service {
    service_code: String,
    service_name: String,
    description: String,
    metadata: bool,
    #[serde(rename = "type")]
    kind: &'static str,
    keywords: String,
    group: String,
}

impl XmlRecord for Service {
    fn write_xml(&self, w: &mut Writer) {
        write_fields(
            w,
            &[
                ("service_code", Some(self.service_code.as_str().into())),
                ("service_name", Some(self.service_name.as_str().into())),
                ("description", Some(self.description.as_str().into())),
                ("metadata", Some(self.metadata.to_string().into())),
                ("type", Some(self.kind.into())),
                ("keywords", Some(self.keywords.as_str().into())),
                ("group", Some(self.group.as_str().into())),
            ],
        );
    }
}

/// The top-level ancestor of a category (itself at the top level). The
/// walk is bounded, so a parent cycle in a hand-edited table cannot hang.
fn root<'a>(tables: &'a Tables, entry: &'a CategoryEntry) -> &'a CategoryEntry {
    let mut current = entry;
    for _ in 0..tables.categories.entries().len() {
        match current
            .parent
            .as_deref()
            .and_then(|p| tables.categories.get(p))
        {
            Some(parent) => current = parent,
            None => break,
        }
    }
    current
}

/// Every category with an Open311 code, grouped by top-level category in
/// the table's order.
fn services(tables: &Tables) -> Vec<Service> {
    let entries = tables.categories.entries();
    let mut roots: Vec<&str> = Vec::new();
    for e in entries {
        let r = root(tables, e).code.as_str();
        if !roots.contains(&r) {
            roots.push(r);
        }
    }
    let mut out = Vec::new();
    for r in roots {
        for e in entries {
            let top = root(tables, e);
            let Some(code) = e.partner_code(Scheme::Open311) else {
                continue;
            };
            if top.code != r {
                continue;
            }
            out.push(Service {
                service_code: code.to_owned(),
                service_name: e.label_zh.clone(),
                description: format!("{}（{}）", e.label_zh, e.label_en),
                metadata: top.code == PROPERTY_ROOT,
                kind: SERVICE_TYPE,
                keywords: e.label_en.clone(),
                group: top.label_zh.clone(),
            });
        }
    }
    out
}

/// The reply to `GET services`: every `open311_code` of the catalogue,
/// grouped by top-level category (`group` is its label); `description` is
/// `label_zh（label_en）`, `keywords` the English label; services under
/// [`PROPERTY_ROOT`] have metadata.
pub fn encode_services(syntax: Syntax, tables: &Tables) -> Vec<u8> {
    write_list(syntax, "services", "service", &services(tables))
}

#[derive(Serialize)]
struct Attribute {
    variable: bool,
    code: &'static str,
    datatype: &'static str,
    required: bool,
    datatype_description: Option<String>,
    order: u32,
    description: &'static str,
}

#[derive(Serialize)]
struct Definition {
    service_code: String,
    attributes: Vec<Attribute>,
}

/// The reply to `GET services/{service_code}`: the property attributes
/// (free text, optional) for services with metadata, none for the others.
/// An unknown code is an error naming `service_code`.
pub fn encode_service_definition(
    syntax: Syntax,
    service_code: &str,
    tables: &Tables,
) -> Result<Vec<u8>, Error> {
    let Some(service) = services(tables)
        .into_iter()
        .find(|s| s.service_code == service_code)
    else {
        return Err(Error::invalid(
            "service_code",
            format!("'{service_code}' is not a service of this endpoint"),
        ));
    };
    let attributes = if service.metadata {
        PROPERTY_ATTRIBUTES
            .iter()
            .zip(ATTRIBUTE_DESCRIPTIONS)
            .zip(1..)
            .map(|((code, description), order)| Attribute {
                variable: true,
                code,
                datatype: "string",
                required: false,
                datatype_description: None,
                order,
                description,
            })
            .collect()
    } else {
        Vec::new()
    };
    let definition = Definition {
        service_code: service.service_code,
        attributes,
    };
    Ok(match syntax {
        Syntax::Json => write_json(&definition),
        Syntax::Xml => {
            let mut w = Writer::new(Charset::Utf8);
            w.open("service_definition", &[]);
            w.text("service_code", &[], &definition.service_code);
            w.open("attributes", &[]);
            for a in &definition.attributes {
                w.open("attribute", &[]);
                w.text("variable", &[], &a.variable.to_string());
                w.text("code", &[], a.code);
                w.text("datatype", &[], a.datatype);
                w.text("required", &[], &a.required.to_string());
                w.text("datatype_description", &[], "");
                w.text("order", &[], &a.order.to_string());
                w.text("description", &[], a.description);
                w.close();
            }
            w.finish_bytes(Charset::Utf8)
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "services_tests.rs"]
mod tests;
