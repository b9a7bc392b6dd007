//! The property units' web inbox at `/pu/`: server-rendered Chinese HTML
//! without JavaScript for liaisons who have no system of their own.
//!
//! A liaison is signed in by the unit's client certificate (as for the JSON
//! API) or by a per-liaison token from the configuration (`/pu/login`,
//! [`login`]: a form with a signed pre-sign-in nonce, attempts limited per
//! client address and overall by [`throttle`]; then a signed session
//! cookie, [`session`]). Every action form carries a
//! CSRF token bound to the session, and `Origin`/`Sec-Fetch-Site` are
//! checked when present. Every action goes through [`super::pu`]'s
//! [`acknowledge`](super::pu::acknowledge) and
//! [`report`](super::pu::report), as the JSON API's do. An order of another
//! unit answers the same 404 page as an unknown id.

mod forms;
mod html;
mod login;
pub mod session;
pub mod throttle;
mod views;

use std::sync::Arc;

use http::{HeaderMap, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;

use super::App;
use super::ingress::{identify, sha256_hex};
use super::pu::{ActionError, acknowledge, order_ticket, report};
use super::ratelimit::{admit, rate_limited_message, with_limit};
use crate::config::PartnerConfig;
use crate::http::{Body, Peer, read_body, respond};
use crate::store::Store;
use forms::Action;

/// Largest form accepted (a resolution text is at most a few KiB).
const MAX_FORM_BYTES: usize = 16 * 1024;

/// A signed-in liaison.
struct Liaison {
    unit: PartnerConfig,
    name: String,
    /// What the CSRF token is bound to.
    session: String,
}

impl Liaison {
    fn csrf(&self) -> String {
        session::csrf_token(&self.session)
    }
}

/// Serves `/pu/` except `/pu/v1/`.
pub async fn handle(app: Arc<App>, req: Request<Incoming>, peer: Arc<Peer>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let method = req.method().clone();
    match (&method, path.as_str()) {
        (&Method::GET, "/pu") => redirect("/pu/", &[]),
        (&Method::GET, "/pu/login") => login::page(StatusCode::OK, None),
        (&Method::POST, "/pu/login") => login::submit(&app, peer.addr.ip(), req).await,
        _ => {
            let Some(liaison) = signed_in(&app, &peer, req.headers()) else {
                return match method {
                    Method::GET => redirect("/pu/login", &[]),
                    _ => html_page(
                        StatusCode::FORBIDDEN,
                        html::message("请先登录", "请先登录后再操作。", None),
                    ),
                };
            };
            let segments: Vec<&str> = path.trim_start_matches("/pu/").split('/').collect();
            match (method, segments.as_slice()) {
                (Method::GET, [""]) => inbox(&app, &liaison, &query).await,
                (Method::GET, ["orders", id]) => order(&app, &liaison, id, &query, None).await,
                (Method::POST, ["logout"]) => match checked_form(&liaison, req).await {
                    Ok(_) => redirect(
                        "/pu/login",
                        &[format!(
                            "{}=; HttpOnly; Secure; SameSite=Strict; Path=/pu/; Max-Age=0",
                            session::COOKIE
                        )],
                    ),
                    Err(resp) => resp,
                },
                (Method::POST, ["orders", id, action]) => match Action::from_path(action) {
                    Some(action) => {
                        let id = (*id).to_owned();
                        act(&app, &liaison, &id, action, req).await
                    }
                    None => not_found(&liaison),
                },
                _ => not_found(&liaison),
            }
        }
    }
}

fn with_headers(mut resp: Response<Body>) -> Response<Body> {
    let h = resp.headers_mut();
    // `same-origin`, not `no-referrer`: under `no-referrer` browsers send
    // `Origin: null` with a form POST (Fetch, "serializing a request
    // origin"), which the same-origin check has to refuse. Order pages'
    // addresses still never go to another site (photo links).
    for (k, v) in [
        (
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        ("cache-control", "no-store"),
        ("x-frame-options", "DENY"),
    ] {
        h.insert(k, http::HeaderValue::from_static(v));
    }
    resp
}

fn html_page(status: StatusCode, body: String) -> Response<Body> {
    with_headers(respond(status, "text/html; charset=utf-8", body))
}

fn redirect(to: &str, cookies: &[String]) -> Response<Body> {
    let mut resp = with_headers(respond(StatusCode::SEE_OTHER, "text/plain", ""));
    if let Ok(v) = http::HeaderValue::from_str(to) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    for c in cookies {
        if let Ok(v) = http::HeaderValue::from_str(c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

fn not_found(liaison: &Liaison) -> Response<Body> {
    let csrf = liaison.csrf();
    html_page(
        StatusCode::NOT_FOUND,
        html::message(
            "没有这张工单",
            "本单位收件箱中没有这张工单，或链接有误。",
            Some((&liaison.name, &csrf)),
        ),
    )
}

fn unavailable(liaison: Option<&Liaison>) -> Response<Body> {
    let csrf = liaison.map(Liaison::csrf).unwrap_or_default();
    html_page(
        StatusCode::SERVICE_UNAVAILABLE,
        html::message(
            "暂时无法处理",
            "系统暂时无法读取或保存工单，请稍后重试。",
            liaison.map(|l| (l.name.as_str(), csrf.as_str())),
        ),
    )
}

fn forbidden(text: &str) -> Response<Body> {
    html_page(
        StatusCode::FORBIDDEN,
        html::message("请求被拒绝", text, None),
    )
}

/// The liaison behind a request: a valid session cookie naming a liaison
/// still configured, else the unit's client certificate.
fn signed_in(app: &App, peer: &Peer, headers: &HeaderMap) -> Option<Liaison> {
    let now = chrono::Utc::now().timestamp();
    let from_cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| session::cookie(h, session::COOKIE))
        .and_then(|value| {
            let claims = session::verify(value, now)?;
            let unit = app.config.partner(&claims.unit)?;
            // The liaisons of the configuration in force: a reload that
            // removes one ends their sessions at once.
            let known = app
                .live_config()
                .partner(&claims.unit)
                .is_some_and(|p| p.liaison_tokens.iter().any(|t| t.name == claims.name));
            (unit.family == adapters::Family::PuJson && known).then(|| Liaison {
                unit: unit.clone(),
                name: claims.name,
                session: value.to_owned(),
            })
        });
    from_cookie.or_else(|| {
        let unit = identify(app, peer, headers)?;
        (unit.family == adapters::Family::PuJson).then(|| Liaison {
            unit: unit.clone(),
            name: unit.id.clone(),
            session: format!("cert:{}", unit.id),
        })
    })
}

/// Refuses a cross-site POST: `Sec-Fetch-Site` other than same-origin (or
/// none: typed by the user), or an `Origin` whose host is not ours.
fn same_site(headers: &HeaderMap, uri_host: Option<&str>) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or(uri_host);
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, h)| h);
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

/// Reads a urlencoded form after the cross-site checks.
async fn read_form(req: Request<Incoming>) -> Result<Vec<(String, String)>, Response<Body>> {
    let authority = req.uri().authority().map(|a| a.as_str().to_owned());
    if !same_site(req.headers(), authority.as_deref()) {
        return Err(forbidden("跨站提交的表单已被拒绝。"));
    }
    let body = read_body(req.into_body(), MAX_FORM_BYTES)
        .await
        .map_err(|_| {
            html_page(
                StatusCode::PAYLOAD_TOO_LARGE,
                html::message("表单过大", "提交的内容过长。", None),
            )
        })?;
    Ok(form_urlencoded::parse(&body).into_owned().collect())
}

/// A form whose CSRF token belongs to the liaison's session.
async fn checked_form(
    liaison: &Liaison,
    req: Request<Incoming>,
) -> Result<Vec<(String, String)>, Response<Body>> {
    let fields = read_form(req).await?;
    let token = fields
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    if !session::csrf_ok(&liaison.session, token) {
        tracing::warn!(unit = %liaison.unit.id, "inbox form without a valid CSRF token refused");
        return Err(forbidden("表单已失效或来源不明，请返回页面刷新后重试。"));
    }
    Ok(fields)
}

async fn inbox(app: &App, liaison: &Liaison, query: &str) -> Response<Body> {
    let mut state = String::new();
    let mut compound = String::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "state" => state = v.into_owned(),
            "compound" => compound = v.into_owned(),
            _ => {}
        }
    }
    let records = match app.store.unit_orders(&liaison.unit.id, false).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "inbox cannot read the store");
            return unavailable(Some(liaison));
        }
    };
    let now = app.now();
    let mut compounds: Vec<String> = app
        .config
        .tables
        .compounds
        .of_unit(&liaison.unit.id)
        .map(|c| c.name.clone())
        .collect();
    for r in &records {
        if let Some(p) = &r.ticket.property
            && !compounds.contains(&p.community)
        {
            compounds.push(p.community.clone());
        }
    }
    let mut shown: Vec<_> = records
        .into_iter()
        .filter(|r| views::state_matches(r, &state))
        .filter(|r| {
            compound.is_empty()
                || r.ticket
                    .property
                    .as_ref()
                    .is_some_and(|p| p.community == compound)
        })
        .collect();
    shown.sort_by(|a, b| {
        let key = |r: &crate::store::HandoffRecord| views::due(r, &now).map(|d| d.1);
        match (key(a), key(b)) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => b.updated_at.cmp(&a.updated_at),
        }
    });
    let csrf = liaison.csrf();
    html_page(
        StatusCode::OK,
        html::page(
            "工单收件箱",
            Some((&liaison.name, &csrf)),
            &views::inbox(&shown, &compounds, &state, &compound, &now),
        ),
    )
}

async fn order(
    app: &App,
    liaison: &Liaison,
    id: &str,
    query: &str,
    problem: Option<(StatusCode, String)>,
) -> Response<Body> {
    let record = match app.store.unit_order(&liaison.unit.id, id).await {
        Ok(Some(r)) => r,
        Ok(None) => return not_found(liaison),
        Err(e) => {
            tracing::error!(error = %e, "inbox cannot read the store");
            return unavailable(Some(liaison));
        }
    };
    let ticket = match order_ticket(app, &record).await {
        Ok(t) => t,
        Err(_) => return unavailable(Some(liaison)),
    };
    let mut print = false;
    let mut notice = None;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "print" => print = v == "1",
            "done" => notice = Action::from_path(&v).map(Action::done),
            _ => {}
        }
    }
    let csrf = liaison.csrf();
    let mut body = String::new();
    let status = match &problem {
        Some((status, text)) => {
            body.push_str(&format!(
                "<p class=\"error\" role=\"alert\">{}</p>\n",
                html::esc(text)
            ));
            *status
        }
        None => StatusCode::OK,
    };
    body.push_str(&views::order(
        &record,
        &ticket,
        &app.config.tables,
        &app.now(),
        &csrf,
        print,
        notice,
    ));
    let signed = if print {
        None
    } else {
        Some((liaison.name.as_str(), csrf.as_str()))
    };
    html_page(status, html::page(&ticket.title, signed, &body))
}

/// A submitted action: CSRF, the rate limit, then the JSON API's own path.
async fn act(
    app: &App,
    liaison: &Liaison,
    id: &str,
    action: Action,
    req: Request<Incoming>,
) -> Response<Body> {
    let fields = match checked_form(liaison, req).await {
        Ok(f) => f,
        Err(resp) => return resp,
    };
    let body = match forms::body(action, &fields, &liaison.name, &app.now()) {
        Ok(b) => b,
        Err(problem) => {
            return order(
                app,
                liaison,
                id,
                "",
                Some((StatusCode::BAD_REQUEST, problem)),
            )
            .await;
        }
    };
    let limit = match admit(app, &liaison.unit, false, &sha256_hex(&body)).await {
        Ok(limit) => limit,
        Err(decision) => {
            let text = rate_limited_message(&decision);
            let resp = order(
                app,
                liaison,
                id,
                "",
                Some((StatusCode::TOO_MANY_REQUESTS, text)),
            )
            .await;
            return with_limit(resp, Some(&decision));
        }
    };
    let result = match action {
        Action::Ack => match adapters::pu::decode_ack(&body) {
            Ok(unit_ref) => {
                acknowledge(app, &liaison.unit, id, unit_ref, Some(liaison.name.clone())).await
            }
            Err(e) => Err(ActionError::Refused(format!("单位编号不符合要求：{e}"))),
        },
        _ => match adapters::decode_status(adapters::Family::PuJson, &body, &app.config.tables) {
            Ok(update) => report(app, &liaison.unit, id, update).await,
            Err(e) => Err(ActionError::Refused(format!("填写的内容不符合要求：{e}"))),
        },
    };
    let resp = match result {
        Ok(_) => {
            let to = format!(
                "/pu/orders/{}?done={}",
                form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>(),
                match action {
                    Action::Ack => "ack",
                    Action::Accept => "accept",
                    Action::Return => "return",
                    Action::Progress => "progress",
                    Action::Resolve => "resolve",
                }
            );
            redirect(&to, &[])
        }
        Err(ActionError::NotFound) => not_found(liaison),
        Err(ActionError::Refused(reason)) => {
            order(
                app,
                liaison,
                id,
                "",
                Some((StatusCode::CONFLICT, format!("操作未完成：{reason}"))),
            )
            .await
        }
        Err(ActionError::Unavailable) => unavailable(Some(liaison)),
    };
    with_limit(resp, limit.as_ref())
}
