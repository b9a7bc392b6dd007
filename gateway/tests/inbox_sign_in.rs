//! The web inbox's token sign-in over real HTTPS: the form's pre-sign-in
//! nonce (login CSRF) and the limit on sign-in attempts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
mod common;
#[allow(dead_code)]
mod inbox_client;

use bytes::Bytes;

use common::{Harness, text};
use inbox_client::{Browser, html, set_cookie};

/// The demo token of pu-military-001's liaison (certs-example/demo.toml).
const MILITARY_TOKEN: &str = "demo-liaison-military-001";

/// A sign-in refused for its nonce: 403, no session, and a fresh form (a
/// new nonce cookie and field) to try again with.
fn assert_refused_with_fresh_form(reply: &gateway::http::Reply, why: &str) {
    assert_eq!(reply.status.as_u16(), 403, "{why}: {}", text(reply));
    assert!(set_cookie(reply, "pu_session").is_none(), "{why}");
    assert!(set_cookie(reply, "pu_login").is_some(), "{why}");
    let page = html(reply);
    assert!(page.contains("登录页面已过期或来源不明"), "{why}: {page}");
    assert!(page.contains("name=\"login_csrf\""), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_needs_the_nonce_of_the_form_it_came_from() {
    let h = Harness::start("inbox-login-csrf", false, |_| {}).await;
    let mut zhao = Browser::new(&h);

    // A form posted without ever showing the page (what another site's
    // auto-submitting form would send): a good token is not enough.
    let bare = zhao
        .post("/pu/login", &[("token", MILITARY_TOKEN)], None)
        .await;
    assert_refused_with_fresh_form(&bare, "no nonce at all");

    // The field of one shown form with the cookie of another.
    let first = zhao.login_form().await;
    let second = zhao.login_form().await;
    assert_ne!(first, second, "every form gets its own nonce");
    let crossed = zhao
        .post(
            "/pu/login",
            &[("login_csrf", &first), ("token", MILITARY_TOKEN)],
            None,
        )
        .await;
    assert_refused_with_fresh_form(&crossed, "another form's field");

    // The field without its cookie.
    let cookie = zhao.login_cookie.take();
    let no_cookie = zhao
        .post(
            "/pu/login",
            &[("login_csrf", &second), ("token", MILITARY_TOKEN)],
            None,
        )
        .await;
    assert_refused_with_fresh_form(&no_cookie, "no cookie");
    zhao.login_cookie = cookie;

    // Matching field and cookie, but posted from another site.
    let cross_site = zhao
        .post(
            "/pu/login",
            &[("login_csrf", &second), ("token", MILITARY_TOKEN)],
            Some("https://evil.example"),
        )
        .await;
    assert_eq!(cross_site.status.as_u16(), 403);
    assert!(set_cookie(&cross_site, "pu_session").is_none());

    // The form as shown signs in.
    zhao.sign_in(MILITARY_TOKEN).await;
    assert_eq!(zhao.get("/pu/").await.status.as_u16(), 200);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_sign_in_attempts_are_refused_with_retry_after() {
    let h = Harness::start("inbox-login-limit", false, |_| {}).await;
    let mut guesser = Browser::new(&h);
    // Ten attempts a minute per address, all at once if need be.
    for i in 0..10 {
        let wrong = guesser.try_sign_in(&format!("guess-{i}")).await;
        assert_eq!(wrong.status.as_u16(), 401, "attempt {i}: {}", text(&wrong));
    }
    // The eleventh is refused before the token is looked at: even the
    // right one, and the page says when to come back.
    let refused = guesser.try_sign_in(MILITARY_TOKEN).await;
    assert_eq!(refused.status.as_u16(), 429, "{}", text(&refused));
    assert!(set_cookie(&refused, "pu_session").is_none());
    let retry: u64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=6).contains(&retry), "Retry-After {retry}");
    let page = html(&refused);
    assert!(page.contains("登录尝试过于频繁"), "{page}");
    assert!(page.contains(&format!("{retry} 秒后重试")), "{page}");
    assert!(!page.contains(MILITARY_TOKEN));
    // A liaison at the same address is held back too, until the wait is
    // over; then one more attempt is taken.
    let mut zhao = Browser::new(&h);
    assert_eq!(zhao.try_sign_in(MILITARY_TOKEN).await.status.as_u16(), 429);
    tokio::time::sleep(std::time::Duration::from_secs(retry)).await;
    zhao.sign_in(MILITARY_TOKEN).await;
    // The unit's client certificate does not use the form and is not held
    // back by it.
    let unit = h.net.client("pu-military-001").unwrap();
    let page = unit
        .send("GET", &h.url("/pu/"), &[], Bytes::new())
        .await
        .unwrap();
    assert_eq!(page.status.as_u16(), 200);
    h.stop().await;
}
