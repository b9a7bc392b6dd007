//! Open311 GeoReport v2 under `/open311/v2/` (formats.md, open311), for
//! citizen apps and any Open311 client library:
//!
//! | endpoint                          | method | answer                                    |
//! |-----------------------------------|--------|-------------------------------------------|
//! | `discovery.{fmt}`                 | GET    | the endpoint's discovery document         |
//! | `services.{fmt}`                  | GET    | the service list (`categories.csv`)       |
//! | `services/{service_code}.{fmt}`   | GET    | the service definition (its attributes)   |
//! | `requests.{fmt}`                  | GET    | service requests, with the standard filters |
//! | `requests.{fmt}`                  | POST   | creates one: `[{service_request_id, ...}]` |
//! | `requests/{service_request_id}.{fmt}` | GET | one service request                     |
//! | `tokens/{token}.{fmt}`            | GET    | the service request of a token            |
//!
//! `{fmt}` is `json` or `xml` and chooses the representation of the answer,
//! errors included; a path without one of them is answered 404 in XML, the
//! format the standard always offers. Errors are the standard list of
//! `{code, description}` ([`adapters::open311::encode_error`]) with HTTP
//! 400, 403, 404 (405 for a method an endpoint does not have, 422/409/503
//! when routing or the store refuse a request).
//!
//! Decisions where the standard and the spec leave room:
//! - No client certificate is needed (TLS client authentication is optional
//!   at the TLS layer). Reading is public, as in the standard; creating needs
//!   the `api_key` of a configured Open311 partner (`partners[].api_key`),
//!   which names the submitting partner. A missing or unknown key is
//!   answered 403 with [`API_KEY_REFUSED`] (the sample `error.xml`) and
//!   recorded as a refused submission.
//! - `jurisdiction_id` (query string, or the POST body): when
//!   `[open311] jurisdiction_id` is configured, naming another one is
//!   answered 404 with an error naming `jurisdiction_id`; leaving it out is
//!   accepted, as is any value when none is configured.
//! - Only hand-offs whose origin is an Open311 client can be read here: the
//!   tickets of the hotlines and the enterprise hotline are not public, and
//!   asking for one is answered 404 exactly like an unknown id.
//! - The representation never holds personal data: the caller's name,
//!   phone, e-mail, `device_id` and `account_id` are removed before the
//!   adapter (which withholds them too) writes it.
//! - See [`requests`] for the POST, the list filters and the status shown,
//!   and [`discovery`] for the discovery document and the tokens.

mod discovery;
mod requests;

use std::sync::Arc;

use adapters::FieldError;
use adapters::open311::Syntax;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::App;
use crate::http::{Body, Peer, respond};

/// The path prefix of the endpoints.
pub const PREFIX: &str = "/open311/v2/";

/// The description of the 403 answered to a POST without a valid
/// `api_key` (the sample `error.xml`).
pub const API_KEY_REFUSED: &str = "api_key缺失或无效，未创建服务请求";

/// Serves `/open311/v2/...`.
pub async fn handle(app: Arc<App>, req: Request<Incoming>, _peer: Arc<Peer>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    let rest = path.strip_prefix(PREFIX).unwrap_or_default();
    let Some((resource, syntax)) = split_format(rest) else {
        return error(
            Syntax::Xml,
            StatusCode::NOT_FOUND,
            "no such endpoint",
            &[FieldError::new(
                "format",
                format!("{path} does not end in .json or .xml"),
            )],
        );
    };
    let params = Params::parse(req.uri().query().unwrap_or_default());
    let segments: Vec<&str> = resource.split('/').collect();
    let method = req.method().clone();
    let allowed = match segments.as_slice() {
        ["discovery" | "services"] | ["services" | "requests" | "tokens", _] => "GET",
        ["requests"] => "GET, POST",
        _ => {
            return error(
                syntax,
                StatusCode::NOT_FOUND,
                "no such endpoint",
                &[FieldError::new("path", path.clone())],
            );
        }
    };
    if method == Method::POST && segments.as_slice() == ["requests"] {
        return requests::create(&app, syntax, req).await;
    }
    if method != Method::GET {
        let mut resp = error(
            syntax,
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("{method} is not allowed here; use {allowed}"),
            &[],
        );
        if let Ok(v) = http::HeaderValue::from_str(allowed) {
            resp.headers_mut().insert(http::header::ALLOW, v);
        }
        return resp;
    }
    if segments.as_slice() == ["discovery"] {
        return discovery::discovery(&app, syntax, &req);
    }
    if let Some(resp) = wrong_jurisdiction(&app, syntax, params.first("jurisdiction_id")) {
        return resp;
    }
    let tables = &app.config.tables;
    match segments.as_slice() {
        ["services"] => respond(
            StatusCode::OK,
            content_type(syntax),
            adapters::open311::encode_services(syntax, tables),
        ),
        ["services", code] => {
            match adapters::open311::encode_service_definition(syntax, code, tables) {
                Ok(body) => respond(StatusCode::OK, content_type(syntax), body),
                Err(e) => error(
                    syntax,
                    StatusCode::NOT_FOUND,
                    "no such service",
                    &e.field_errors(),
                ),
            }
        }
        ["requests"] => requests::list(&app, syntax, &params).await,
        ["requests", id] => requests::one(&app, syntax, id).await,
        ["tokens", token] => discovery::token(&app, syntax, token).await,
        _ => error(
            syntax,
            StatusCode::NOT_FOUND,
            "no such endpoint",
            &[FieldError::new("path", path.clone())],
        ),
    }
}

/// Splits `requests/123.json` into `requests/123` and its format.
fn split_format(rest: &str) -> Option<(&str, Syntax)> {
    let (resource, suffix) = rest.rsplit_once('.')?;
    let syntax = match suffix {
        "json" => Syntax::Json,
        "xml" => Syntax::Xml,
        _ => return None,
    };
    (!resource.is_empty()).then_some((resource, syntax))
}

/// The Content-Type of a representation.
fn content_type(syntax: Syntax) -> &'static str {
    match syntax {
        Syntax::Json => adapters::Family::Open311Json.content_type(),
        Syntax::Xml => adapters::Family::Open311Xml.content_type(),
    }
}

/// An error reply: the standard error list in the request's format (one
/// error holding `message` when there are no field errors).
fn error(
    syntax: Syntax,
    status: StatusCode,
    message: &str,
    errors: &[FieldError],
) -> Response<Body> {
    respond(
        status,
        content_type(syntax),
        adapters::open311::encode_error(syntax, status.as_u16(), message, errors),
    )
}

/// The 503 answered when the store cannot be read.
fn unavailable(syntax: Syntax, e: impl std::fmt::Display) -> Response<Body> {
    tracing::error!(error = %e, "the Open311 endpoints cannot read the store");
    error(
        syntax,
        StatusCode::SERVICE_UNAVAILABLE,
        "the gateway cannot read service requests now; retry",
        &[],
    )
}

/// The 404 answered to a `jurisdiction_id` other than the configured one;
/// `None` when the request may go on.
fn wrong_jurisdiction(app: &App, syntax: Syntax, named: Option<&str>) -> Option<Response<Body>> {
    match (&app.config.open311.jurisdiction_id, named) {
        (Some(served), Some(named)) if served != named => Some(error(
            syntax,
            StatusCode::NOT_FOUND,
            "no such jurisdiction",
            &[FieldError::new(
                "jurisdiction_id",
                format!("'{named}' is not served here; this endpoint serves '{served}'"),
            )],
        )),
        _ => None,
    }
}

/// The parameters of a query string or form body, in order (invalid UTF-8
/// is replaced, never refused: a parameter is only looked at).
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(text: &str) -> Params {
        Params::parse_bytes(text.as_bytes())
    }

    fn parse_bytes(bytes: &[u8]) -> Params {
        Params(
            form_urlencoded::parse(bytes)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first non-empty value of `name` (an empty value counts as
    /// absent, as HTML forms send unfilled fields).
    fn first(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, comma lists split, blanks dropped.
    fn list(&self, name: &str) -> Option<Vec<String>> {
        let values: Vec<String> = self
            .0
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect();
        (!values.is_empty()).then_some(values)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "tests.rs"]
mod tests;
