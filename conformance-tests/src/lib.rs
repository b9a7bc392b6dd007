//! The conformance suite's schema harness: validates wire messages against
//! the schema documents in `schemas/formats/` with real validators, so tests
//! can check samples and any adapter's output.
//!
//! - JSON: the `jsonschema` crate, with format validation on. Schemas that
//!   declare `$schema` use that draft; the official Open311 schemas declare
//!   none and are read as draft 4 (the draft they were written for).
//!   Relative `$ref`s (`requests.json` → `request.json`) resolve to files of
//!   `schemas/formats/` and nowhere else; nothing is fetched from a network.
//! - XML: `xmllint --noout --nonet --schema` (libxml2, XSD 1.0). A missing
//!   `xmllint` is an error, never a pass.
//!
//! [`schema_for`] says which schema a family's ticket, status update, error
//! reply or receipt must satisfy, and [`validate`] checks bytes against it.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod arbitrary;
pub mod compare;

use std::collections::HashMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use adapters::Family;
use jsonschema::{Draft, Retrieve, Uri, Validator};
use serde_json::Value;

/// The sample messages: `conformance-tests/samples/`.
pub fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

/// The schema documents: `schemas/formats/`.
pub fn formats_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("schemas")
        .join("formats")
}

/// The kind of message a family sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A ticket (`encode_ticket`).
    Ticket,
    /// A status update (`encode_status`).
    Status,
    /// An error reply (`encode_error`).
    Error,
    /// The gateway's reply accepting a submission (`encode_receipt`).
    Receipt,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 4] = [Kind::Ticket, Kind::Status, Kind::Error, Kind::Receipt];
}

/// A schema document, by its path relative to [`formats_dir`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemaRef {
    /// A JSON Schema.
    Json(&'static str),
    /// An XML Schema, and the local names the message element may have: the
    /// document element, or for a SOAP envelope the first element of
    /// `soap:Body`. (An XSD accepts any of its global elements as the
    /// document element, so a ticket schema alone would also pass a fault.)
    Xml {
        /// The `.xsd` file.
        xsd: &'static str,
        /// Allowed local names of the message element.
        elements: &'static [&'static str],
    },
}

/// The schema a message of `kind` in `family` must satisfy, or `None` when
/// the contract defines no such message (pu-json has no error or receipt
/// format; the canonical family has no receipt).
pub fn schema_for(family: Family, kind: Kind) -> Option<SchemaRef> {
    use SchemaRef::{Json, Xml};
    const TJ: &str = "tj-xml/tj-xml.xsd";
    const HB: &str = "hb-soap/hb-soap-envelope.xsd";
    const OPEN311: &str = "open311/open311.xsd";
    Some(match (family, kind) {
        (Family::BjJson, Kind::Ticket) => Json("bj-json/order.schema.json"),
        (Family::BjJson, Kind::Status) => Json("bj-json/status.schema.json"),
        (Family::BjJson, Kind::Error) => Json("bj-json/error.schema.json"),
        (Family::BjJson, Kind::Receipt) => Json("bj-json/reply.schema.json"),
        (Family::TjXml, Kind::Ticket) => Xml {
            xsd: TJ,
            elements: &["Appeal"],
        },
        (Family::TjXml, Kind::Status) => Xml {
            xsd: TJ,
            elements: &["AppealStatus"],
        },
        (Family::TjXml, Kind::Error) => Xml {
            xsd: TJ,
            elements: &["Fault"],
        },
        (Family::TjXml, Kind::Receipt) => Xml {
            xsd: TJ,
            elements: &["Ack"],
        },
        (Family::HbSoap, Kind::Ticket) => Xml {
            xsd: HB,
            elements: &["PushWorkOrder"],
        },
        (Family::HbSoap, Kind::Status) => Xml {
            xsd: HB,
            elements: &["PushFeedback"],
        },
        (Family::HbSoap, Kind::Error) => Xml {
            xsd: HB,
            elements: &["Fault"],
        },
        (Family::HbSoap, Kind::Receipt) => Xml {
            xsd: HB,
            elements: &["PushWorkOrderResponse", "PushFeedbackResponse"],
        },
        (Family::EntJson, Kind::Ticket) => Json("ent-json/ticket.schema.json"),
        (Family::EntJson, Kind::Status) => Json("ent-json/status.schema.json"),
        (Family::EntJson, Kind::Error) => Json("ent-json/error.schema.json"),
        (Family::EntJson, Kind::Receipt) => Json("ent-json/reply.schema.json"),
        (Family::PuJson, Kind::Ticket) => Json("pu-json/repair-order.schema.json"),
        (Family::PuJson, Kind::Status) => Json("pu-json/status.schema.json"),
        (Family::Open311Json, Kind::Ticket) => Json("open311/requests.json"),
        // GeoReport v2 has no status message; the gateway's is a partial
        // request representation with its own schema.
        (Family::Open311Json, Kind::Status) => Json("open311-json/status-update.schema.json"),
        (Family::Open311Json, Kind::Error) => Json("open311-json/errors.schema.json"),
        (Family::Open311Json, Kind::Receipt) => Json("open311-json/post-response.schema.json"),
        (Family::Open311Xml, Kind::Ticket) => Xml {
            xsd: OPEN311,
            elements: &["service_requests"],
        },
        (Family::Open311Xml, Kind::Status) => Xml {
            xsd: "open311/status-update.xsd",
            elements: &["service_requests"],
        },
        (Family::Open311Xml, Kind::Error) => Xml {
            xsd: OPEN311,
            elements: &["errors"],
        },
        (Family::Open311Xml, Kind::Receipt) => Xml {
            xsd: "open311/post-response.xsd",
            elements: &["service_requests"],
        },
        (Family::Canonical, Kind::Ticket) => Json("canonical/ticket.schema.json"),
        (Family::Canonical, Kind::Status) => Json("canonical/status.schema.json"),
        (Family::Canonical, Kind::Error) => Json("canonical/error.schema.json"),
        _ => return None,
    })
}

/// Validates a message of `kind` in `family` against [`schema_for`] it.
/// Open311 JSON tickets and statuses must also be a non-empty array (the
/// official `requests.json` misplaces its `minItems`). The error lists
/// every problem found, one per line.
pub fn validate(family: Family, kind: Kind, bytes: &[u8]) -> Result<(), String> {
    let schema = schema_for(family, kind)
        .ok_or_else(|| format!("the contract defines no {kind:?} message for {family}"))?;
    match schema {
        SchemaRef::Json(file) => {
            validate_json(file, bytes).map_err(|errors| errors.join("\n"))?;
            if family == Family::Open311Json && kind == Kind::Ticket {
                match serde_json::from_slice::<Value>(bytes) {
                    Ok(Value::Array(items)) if !items.is_empty() => {}
                    _ => return Err("an Open311 request list must be a non-empty array".into()),
                }
            }
            Ok(())
        }
        SchemaRef::Xml { xsd, elements } => {
            validate_xml(xsd, bytes)?;
            let found = message_element(bytes)?;
            if elements.contains(&found.as_str()) {
                Ok(())
            } else {
                Err(format!(
                    "the message element is '{found}'; expected {}",
                    elements.join(" or ")
                ))
            }
        }
    }
}

/// Validates JSON `instance` against the JSON Schema `schema_file` (a path
/// relative to [`formats_dir`]), with format validation on. The error lists
/// every violation as `instance-path: message` (`/` is the document).
pub fn validate_json(schema_file: &str, instance: &[u8]) -> Result<(), Vec<String>> {
    let validator = json_validator(schema_file).map_err(|e| vec![e])?;
    let value: Value =
        serde_json::from_slice(instance).map_err(|e| vec![format!("/: not JSON: {e}")])?;
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| {
            let path = e.instance_path().to_string();
            let path = if path.is_empty() { "/".into() } else { path };
            format!("{path}: {e}")
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Validates XML `instance` against the XML Schema `xsd_file` (a path
/// relative to [`formats_dir`]) with `xmllint --noout --nonet --schema`.
/// xmllint reads the encoding from the XML declaration (GB18030 for
/// hb-soap). The error is xmllint's report.
pub fn validate_xml(xsd_file: &str, instance: &[u8]) -> Result<(), String> {
    let xsd = formats_dir().join(xsd_file);
    xmllint(instance, |cmd, file| {
        cmd.arg("--noout")
            .arg("--nonet")
            .arg("--schema")
            .arg(&xsd)
            .arg(file);
    })
    .map(|_| ())
}

/// The local name of the message element: the document element, or the
/// first element of `soap:Body` in a SOAP envelope.
fn message_element(instance: &[u8]) -> Result<String, String> {
    const XPATH: &str = "local-name((/*[local-name()='Envelope']/*[local-name()='Body']/*)[1] \
                         | /*[local-name()!='Envelope'])";
    xmllint(instance, |cmd, file| {
        cmd.arg("--nonet").arg("--xpath").arg(XPATH).arg(file);
    })
    .map(|out| out.trim().to_owned())
}

/// Runs xmllint on `instance`, written to a fresh temporary file; returns
/// its standard output, or its report when it exits with an error.
fn xmllint(instance: &[u8], args: impl FnOnce(&mut Command, &Path)) -> Result<String, String> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let file = std::env::temp_dir().join(format!(
        "conformance-{}-{}.xml",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&file, instance).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    let mut cmd = Command::new("xmllint");
    args(&mut cmd, &file);
    let output = cmd.output();
    // Best effort: a leftover temporary file is harmless.
    let _ = std::fs::remove_file(&file);
    let output = output.map_err(|e| {
        if e.kind() == ErrorKind::NotFound {
            "xmllint not installed (apt-get install libxml2-utils)".to_owned()
        } else {
            format!("cannot run xmllint: {e}")
        }
    })?;
    let stderr =
        String::from_utf8_lossy(&output.stderr).replace(&*file.to_string_lossy(), "message");
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!("xmllint ({}): {stderr}", output.status))
    }
}

/// The compiled validator of a schema file, compiled once per process.
fn json_validator(schema_file: &str) -> Result<Arc<Validator>, String> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Validator>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(v) = cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(schema_file)
    {
        return Ok(v.clone());
    }
    let validator = Arc::new(compile(schema_file)?);
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(schema_file.to_owned(), validator.clone());
    Ok(validator)
}

/// The virtual base every schema is loaded under, so relative `$ref`s
/// resolve to other files of `schemas/formats/` (see [`FormatsDir`]).
const BASE: &str = "file:///formats/";

fn compile(schema_file: &str) -> Result<Validator, String> {
    let schema =
        read_json(&formats_dir(), schema_file).map_err(|e| format!("schema {schema_file}: {e}"))?;
    let mut options = jsonschema::options()
        .should_validate_formats(true)
        .with_base_uri(format!("{BASE}{schema_file}"))
        .with_retriever(FormatsDir(formats_dir()));
    if schema.get("$schema").is_none() {
        // The official Open311 GeoReport v2 schemas name no draft; they
        // were written for draft 4.
        options = options.with_draft(Draft::Draft4);
    }
    options
        .build(&schema)
        .map_err(|e| format!("schema {schema_file} does not compile: {e}"))
}

fn read_json(dir: &Path, relative: &str) -> Result<Value, String> {
    if relative
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(format!("'{relative}' is not a plain relative path"));
    }
    let bytes = std::fs::read(dir.join(relative)).map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

/// Resolves `file:///formats/<path>` to `schemas/formats/<path>`; refuses
/// everything else.
struct FormatsDir(PathBuf);

impl Retrieve for FormatsDir {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let relative = uri
            .as_str()
            .strip_prefix(BASE)
            .ok_or_else(|| format!("{} is outside schemas/formats", uri.as_str()))?;
        Ok(read_json(&self.0, relative)?)
    }
}

/// The data tables of the project (`schemas/data`).
pub fn tables() -> &'static schemas::Tables {
    static TABLES: OnceLock<schemas::Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas/data");
        schemas::Tables::load(&dir).expect("the project's data tables load")
    })
}
