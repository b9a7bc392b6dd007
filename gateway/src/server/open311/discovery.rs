//! `discovery` and `tokens`.
//!
//! The discovery document is the standard's: `changeset`, `contact`,
//! `key_service` and one `production` endpoint whose `url` is this
//! gateway's `/open311/v2` as the client reached it (the request's
//! authority, else the configured listen address). Like the standard's
//! example it is a JSON object (XML `<discovery>`), not a list.
//!
//! Tokens: the gateway answers a POST with the `service_request_id` at
//! once, so it never hands out a token. For clients that poll `tokens`
//! anyway, a request's token is its `service_request_id`:
//! `GET tokens/{id}` answers `[{service_request_id, token}]` for a request
//! these endpoints show, 404 otherwise.

use adapters::FieldError;
use adapters::open311::Syntax;
use adapters::xml::{Charset, Writer};
use http::{Request, Response, StatusCode};
use serde::Serialize;

use super::super::App;
use super::requests::visible;
use super::{content_type, error};
use crate::http::{Body, respond};

/// The specification the endpoint implements.
pub const SPECIFICATION: &str = "http://wiki.open311.org/GeoReport_v2";
/// The discovery document's and the endpoint's `changeset`: when this
/// gateway's Open311 interface was last changed.
pub const CHANGESET: &str = "2025-03-25T00:00:00+08:00";
/// The discovery document's `contact`.
pub const CONTACT: &str = "请联系本网关（京津冀12345互联互通网关）的运营方";
/// The discovery document's `key_service`.
pub const KEY_SERVICE: &str =
    "api_key 由网关运营方为每个接入的提交方分配（配置 partners[].api_key）；查询无需 api_key";
/// The formats the endpoint serves, as the standard names them.
pub const FORMATS: [&str; 2] = ["text/xml", "application/json"];

#[derive(Serialize)]
struct Endpoint {
    specification: &'static str,
    url: String,
    changeset: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    formats: [&'static str; 2],
}

#[derive(Serialize)]
struct Discovery {
    changeset: &'static str,
    contact: &'static str,
    key_service: &'static str,
    endpoints: [Endpoint; 1],
}

/// The endpoint's base URL as the client reached it.
fn base_url<B>(app: &App, req: &Request<B>) -> String {
    let authority = req
        .uri()
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            req.headers()
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .and_then(|h| h.parse::<http::uri::Authority>().ok())
                .map(|a| a.as_str().to_owned())
        })
        .unwrap_or_else(|| app.config.server.listen.to_string());
    let scheme = if app.config.server.plain_http {
        "http"
    } else {
        "https"
    };
    format!("{scheme}://{authority}/open311/v2")
}

/// `GET discovery`.
pub(super) fn discovery<B>(app: &App, syntax: Syntax, req: &Request<B>) -> Response<Body> {
    let doc = Discovery {
        changeset: CHANGESET,
        contact: CONTACT,
        key_service: KEY_SERVICE,
        endpoints: [Endpoint {
            specification: SPECIFICATION,
            url: base_url(app, req),
            changeset: CHANGESET,
            kind: "production",
            formats: FORMATS,
        }],
    };
    let body = match syntax {
        Syntax::Json => json(&doc),
        Syntax::Xml => {
            let mut w = Writer::new(Charset::Utf8);
            w.open("discovery", &[]);
            w.text("changeset", &[], doc.changeset);
            w.text("contact", &[], doc.contact);
            w.text("key_service", &[], doc.key_service);
            w.open("endpoints", &[]);
            for e in &doc.endpoints {
                w.open("endpoint", &[]);
                w.text("specification", &[], e.specification);
                w.text("url", &[], &e.url);
                w.text("changeset", &[], e.changeset);
                w.text("type", &[], e.kind);
                w.open("formats", &[]);
                for f in e.formats {
                    w.text("format", &[], f);
                }
                w.close();
                w.close();
            }
            w.finish_bytes(Charset::Utf8)
        }
    };
    respond(StatusCode::OK, content_type(syntax), body)
}

/// Pretty JSON with a trailing newline, as the adapter writes.
fn json<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = adapters::json::write(value);
    out.push(b'\n');
    out
}

#[derive(Serialize)]
struct TokenAnswer {
    service_request_id: String,
    token: String,
}

/// `GET tokens/{token}`.
pub(super) async fn token(app: &App, syntax: Syntax, token: &str) -> Response<Body> {
    match visible(app, syntax, token).await {
        Ok(Some(record)) => {
            let answer = TokenAnswer {
                service_request_id: record.id,
                token: token.to_owned(),
            };
            let body = match syntax {
                Syntax::Json => json(&[&answer]),
                Syntax::Xml => {
                    let mut w = Writer::new(Charset::Utf8);
                    w.open("service_requests", &[]);
                    w.open("request", &[]);
                    w.text("service_request_id", &[], &answer.service_request_id);
                    w.text("token", &[], &answer.token);
                    w.close();
                    w.finish_bytes(Charset::Utf8)
                }
            };
            respond(StatusCode::OK, content_type(syntax), body)
        }
        Ok(None) => error(
            syntax,
            StatusCode::NOT_FOUND,
            "no such token",
            &[FieldError::new("token", format!("no token {token}"))],
        ),
        Err(resp) => resp,
    }
}
