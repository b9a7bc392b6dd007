//! Token sign-in: the form with its pre-sign-in nonce
//! ([`session::login_nonce`]), the attempt limits ([`throttle`]), and the
//! session cookie a good token earns.

use std::net::IpAddr;

use http::{HeaderMap, Request, Response, StatusCode, header};
use hyper::body::Incoming;

use super::throttle::Scope;
use super::{App, html, html_page, read_form, redirect, session, unavailable};
use crate::http::Body;

/// The `Set-Cookie` of a fresh sign-in nonce, and the form's field for it.
fn fresh_nonce() -> Option<(String, String)> {
    let nonce = session::login_nonce(chrono::Utc::now().timestamp())?;
    let field = session::login_token(&nonce);
    Some((
        format!(
            "{}={nonce}; HttpOnly; Secure; SameSite=Strict; Path=/pu/login; Max-Age={}",
            session::LOGIN_COOKIE,
            session::LOGIN_LIFETIME_SECS
        ),
        field,
    ))
}

/// The sign-in page with a fresh nonce, answered with `status`.
pub fn page(status: StatusCode, error: Option<&str>) -> Response<Body> {
    let Some((cookie, field)) = fresh_nonce() else {
        return unavailable(None);
    };
    let mut resp = html_page(status, html::login(error, &field));
    if let Ok(v) = http::HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// The 429 of a client that tried too often, with `Retry-After`.
fn too_many(scope: Scope, retry_after_secs: u64) -> Response<Body> {
    // The client address is not logged: it says who, and the scope and
    // wait are what an operator needs to see a guessing run.
    tracing::warn!(
        scope = match scope {
            Scope::Address => "address",
            Scope::Overall => "overall",
        },
        retry_after = retry_after_secs,
        "inbox sign-in refused: too many attempts"
    );
    let text = match scope {
        Scope::Address => format!(
            "登录尝试过于频繁，请在 {retry_after_secs} 秒后重试。持有本单位客户端证书的电脑可直接打开工单收件箱。"
        ),
        Scope::Overall => format!(
            "当前登录请求过多，请在 {retry_after_secs} 秒后重试。持有本单位客户端证书的电脑可直接打开工单收件箱。"
        ),
    };
    let mut resp = html_page(
        StatusCode::TOO_MANY_REQUESTS,
        html::message("请稍后再试", &text, None),
    );
    resp.headers_mut().insert(
        header::RETRY_AFTER,
        http::HeaderValue::from(retry_after_secs),
    );
    resp
}

/// Whether the request carries the nonce cookie and the form its field.
fn nonce_ok(headers: &HeaderMap, fields: &[(String, String)]) -> bool {
    let field = fields
        .iter()
        .find(|(k, _)| k == "login_csrf")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|h| session::cookie(h, session::LOGIN_COOKIE))
        .any(|nonce| session::login_ok(nonce, field, chrono::Utc::now().timestamp()))
}

/// `POST /pu/login` from `client`.
pub async fn submit(app: &App, client: IpAddr, req: Request<Incoming>) -> Response<Body> {
    // Before anything else, so a flood costs no parsing or hashing.
    if let Err(refused) = app.sign_in_limits.attempt(client) {
        return too_many(refused.scope, refused.retry_after_secs);
    }
    let headers = req.headers().clone();
    let fields = match read_form(req).await {
        Ok(f) => f,
        Err(resp) => return resp,
    };
    if !nonce_ok(&headers, &fields) {
        tracing::warn!("inbox sign-in without a valid sign-in form nonce refused");
        return page(
            StatusCode::FORBIDDEN,
            Some("登录页面已过期或来源不明，请重新输入口令。"),
        );
    }
    let token = fields
        .iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.trim())
        .unwrap_or_default();
    // Every token of the configuration in force (a reload adds or revokes
    // them) is compared, so the time taken says nothing; the unit must be
    // one the running gateway serves.
    let live = app.live_config();
    let found = live
        .partners
        .iter()
        .filter(|p| p.family == adapters::Family::PuJson)
        .flat_map(|p| p.liaison_tokens.iter().map(move |t| (p, t)))
        .fold(None, |found, (p, t)| {
            if !token.is_empty() && t.matches(token) {
                Some((p, t))
            } else {
                found
            }
        })
        .filter(|(p, _)| {
            app.config
                .partner(&p.id)
                .is_some_and(|r| r.family == p.family)
        });
    let Some((unit, liaison)) = found else {
        tracing::warn!("inbox sign-in with an unknown token refused");
        return page(StatusCode::UNAUTHORIZED, Some("登录口令不正确。"));
    };
    let claims = session::Claims {
        unit: unit.id.clone(),
        name: liaison.name.clone(),
        expires: chrono::Utc::now().timestamp() + session::LIFETIME_SECS,
    };
    let Some(value) = session::issue(&claims) else {
        return unavailable(None);
    };
    tracing::info!(unit = %unit.id, "liaison signed in to the inbox");
    redirect(
        "/pu/",
        &[
            format!(
                "{}={value}; HttpOnly; Secure; SameSite=Strict; Path=/pu/; Max-Age={}",
                session::COOKIE,
                session::LIFETIME_SECS
            ),
            // The nonce has done its job.
            format!(
                "{}=; HttpOnly; Secure; SameSite=Strict; Path=/pu/login; Max-Age=0",
                session::LOGIN_COOKIE
            ),
        ],
    )
}
