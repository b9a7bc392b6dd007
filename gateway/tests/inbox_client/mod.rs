//! A small client of the web inbox for the HTTPS tests: it keeps the
//! session cookie and the sign-in form's nonce cookie as a browser would,
//! and reads pages the way the tests check them.

use bytes::Bytes;
use gateway::http::{Client, Reply};

use crate::common::{Harness, client_with, text};

/// One liaison's browser.
pub struct Browser<'a> {
    h: &'a Harness,
    client: Client,
    /// `pu_session=…` once signed in.
    pub cookie: Option<String>,
    /// `pu_login=…` once the sign-in page was shown.
    pub login_cookie: Option<String>,
}

impl<'a> Browser<'a> {
    pub fn new(h: &'a Harness) -> Browser<'a> {
        Browser {
            h,
            client: client_with(None),
            cookie: None,
            login_cookie: None,
        }
    }

    fn cookies(&self, path: &str) -> Option<String> {
        let mut jar: Vec<&str> = self.cookie.iter().map(String::as_str).collect();
        if path == "/pu/login" {
            jar.extend(self.login_cookie.as_deref());
        }
        (!jar.is_empty()).then(|| jar.join("; "))
    }

    pub async fn get(&self, path: &str) -> Reply {
        let cookies = self.cookies(path);
        let mut headers = vec![];
        if let Some(c) = &cookies {
            headers.push(("cookie", c.as_str()));
        }
        self.client
            .send("GET", &self.h.url(path), &headers, Bytes::new())
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, fields: &[(&str, &str)], origin: Option<&str>) -> Reply {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let own_origin = self.h.url("");
        let cookies = self.cookies(path);
        let mut headers = vec![
            ("content-type", "application/x-www-form-urlencoded"),
            ("origin", origin.unwrap_or(&own_origin)),
        ];
        if let Some(c) = &cookies {
            headers.push(("cookie", c.as_str()));
        }
        self.client
            .post(&self.h.url(path), &headers, Bytes::from(body))
            .await
            .unwrap()
    }

    /// Shows the sign-in page (keeping its nonce cookie) and returns the
    /// form's nonce field.
    pub async fn login_form(&mut self) -> String {
        let page = self.get("/pu/login").await;
        assert_eq!(page.status.as_u16(), 200, "{}", text(&page));
        let set = set_cookie(&page, "pu_login").expect("the sign-in page sets pu_login");
        for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/pu/login"] {
            assert!(set.contains(attribute), "{set}");
        }
        self.login_cookie = Some(set.split(';').next().unwrap().to_owned());
        field(&html(&page), "login_csrf")
    }

    /// Submits `token` through the sign-in form, as a person would.
    pub async fn try_sign_in(&mut self, token: &str) -> Reply {
        let nonce = self.login_form().await;
        self.post(
            "/pu/login",
            &[("login_csrf", &nonce), ("token", token)],
            None,
        )
        .await
    }

    pub async fn sign_in(&mut self, token: &str) {
        let reply = self.try_sign_in(token).await;
        assert_eq!(reply.status.as_u16(), 303, "{}", text(&reply));
        assert_eq!(location(&reply), "/pu/");
        let set = set_cookie(&reply, "pu_session").expect("a session cookie");
        for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/pu/;"] {
            assert!(set.contains(attribute), "{set}");
        }
        self.cookie = Some(set.split(';').next().unwrap().to_owned());
        let spent = set_cookie(&reply, "pu_login").expect("the nonce cookie is cleared");
        assert!(spent.contains("Max-Age=0"), "{spent}");
        self.login_cookie = None;
    }
}

/// The `Set-Cookie` of cookie `name`, if the reply sets it.
pub fn set_cookie(reply: &Reply, name: &str) -> Option<String> {
    reply
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with(&format!("{name}=")))
}

pub fn location(reply: &Reply) -> String {
    reply.headers["location"].to_str().unwrap().to_owned()
}

pub fn html(reply: &Reply) -> String {
    assert!(
        reply.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{:?}",
        reply.headers
    );
    text(reply)
}

/// The value of the first hidden field `name` on a page.
pub fn field(page: &str, name: &str) -> String {
    let needle = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&needle)
        .unwrap_or_else(|| panic!("no field {name}: {page}"))
        + needle.len();
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}

/// The CSRF token of the first form on a page.
pub fn csrf(page: &str) -> String {
    field(page, "csrf")
}

/// The value of `attr="…"` inside `tag`.
pub fn attr(tag: &str, attr: &str) -> Option<String> {
    let needle = format!("{attr}=\"");
    let start = tag.find(&needle)? + needle.len();
    Some(tag[start..start + tag[start..].find('"')?].to_owned())
}
