//! The inbox's HTML: a page frame (Chinese, no JavaScript, one small
//! inline stylesheet for laptop, phone and print) and escaping.

use std::fmt::Write as _;

use schemas::{Status, Timestamp};

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A time for people (Beijing), inside `<time datetime>`.
pub fn time(t: &Timestamp) -> String {
    let local = t.with_timezone(&adapters::time::beijing());
    format!(
        "<time datetime=\"{}\">{}</time>",
        local.to_rfc3339(),
        local.format("%Y-%m-%d %H:%M")
    )
}

/// A state's name in Chinese.
pub fn state_label(s: Status) -> &'static str {
    match s {
        Status::Received => "待签收",
        Status::Delivered => "已签收",
        Status::Accepted => "已受理",
        Status::Rejected => "已退单",
        Status::InProgress => "处理中",
        Status::Resolved => "已办结",
        Status::Closed => "已关闭",
        Status::Expired => "超期提醒",
    }
}

const CSS: &str = "\
*{box-sizing:border-box}\
body{font:17px/1.6 system-ui,\"PingFang SC\",\"Microsoft YaHei\",\"Noto Sans CJK SC\",sans-serif;margin:0;color:#1a1a1a;background:#fafafa}\
header{background:#123c69;color:#fff;padding:.5rem 1rem;display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;justify-content:space-between}\
header a{color:#fff}\
main{max-width:60rem;margin:0 auto;padding:1rem}\
h1{font-size:1.5rem;margin:.5rem 0 1rem}h2{font-size:1.25rem;margin:1.5rem 0 .5rem}h3{font-size:1.1rem;margin:1rem 0 .25rem}\
table{border-collapse:collapse;width:100%;background:#fff}\
th,td{border:1px solid #bbb;padding:.4rem .5rem;text-align:left;vertical-align:top}\
caption{text-align:left;font-weight:bold;padding:.25rem 0}\
tr.overdue td{background:#fff0f0}.overdue-mark{color:#a00000;font-weight:bold;border:2px solid #a00000;padding:0 .25rem;white-space:nowrap}\
label{display:block;font-weight:bold;margin-top:.5rem}\
input,select,textarea,button{font:inherit;max-width:100%}\
input[type=text],input[type=password],select,textarea{width:100%;padding:.4rem;border:1px solid #666;border-radius:3px}\
button{margin-top:.5rem;padding:.5rem 1rem;border:1px solid #123c69;background:#123c69;color:#fff;border-radius:3px;cursor:pointer}\
header button{background:#fff;color:#123c69;margin:0}\
:focus-visible{outline:3px solid #f0a000;outline-offset:2px}\
.filters{display:flex;flex-wrap:wrap;gap:0 1rem;align-items:end}.filters>div{flex:1 1 12rem}\
.action{background:#fff;border:1px solid #ccc;padding:.5rem 1rem 1rem;margin:.5rem 0}\
.notice{border-left:4px solid #2a7a2a;background:#eef8ee;padding:.5rem 1rem}\
.error{border-left:4px solid #a00000;background:#fff0f0;padding:.5rem 1rem}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;background:#fff;padding:.5rem 1rem;border:1px solid #ccc}dt{font-weight:bold}dd{margin:0;overflow-wrap:anywhere;white-space:pre-line}\
@media (max-width:40rem){table.orders thead{display:none}table.orders,table.orders tr,table.orders td{display:block;width:100%}\
table.orders tr{margin-bottom:.75rem;border:1px solid #bbb}table.orders td{border:0;border-bottom:1px solid #eee}\
table.orders td::before{content:attr(data-label)\"：\";font-weight:bold}}\
@media print{header,.no-print,form{display:none}body{background:#fff;font-size:12pt}main{max-width:none;padding:0}a{color:#000;text-decoration:none}}\
";

/// A whole page: `title`, the signed-in liaison's bar (name and the
/// sign-out form with its CSRF token), and `body` inside `<main>`.
pub fn page(title: &str, signed_in: Option<(&str, &str)>, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + CSS.len() + 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} · 物业单位工单收件箱</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        esc(title)
    );
    if let Some((who, csrf)) = signed_in {
        let _ = writeln!(
            out,
            "<header><a href=\"/pu/\">工单收件箱</a><span>联络员：{}</span>\
             <form method=\"post\" action=\"/pu/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <button type=\"submit\">退出登录</button></form></header>",
            esc(who),
            esc(csrf)
        );
    }
    let _ = write!(out, "<main>\n{body}\n</main>\n</body>\n</html>\n");
    out
}

/// A page that only says something (errors, 404, 403).
pub fn message(title: &str, text: &str, signed_in: Option<(&str, &str)>) -> String {
    page(
        title,
        signed_in,
        &format!(
            "<h1>{}</h1>\n<p class=\"error\" role=\"alert\">{}</p>\n<p><a href=\"/pu/\">返回工单列表</a></p>",
            esc(title),
            esc(text)
        ),
    )
}

/// The sign-in page, with an error when the last try failed; `nonce_field`
/// is the form's pre-sign-in CSRF field (see `session::login_token`).
pub fn login(error: Option<&str>, nonce_field: &str) -> String {
    let mut body = String::from("<h1>联络员登录</h1>\n");
    if let Some(e) = error {
        let _ = writeln!(body, "<p class=\"error\" role=\"alert\">{}</p>", esc(e));
    }
    body.push_str(
        "<p>请输入单位发放给您的登录口令。持有本单位客户端证书的电脑无需登录，可直接打开<a href=\"/pu/\">工单收件箱</a>。</p>\n\
         <form method=\"post\" action=\"/pu/login\">\n",
    );
    let _ = write!(
        body,
        "<input type=\"hidden\" name=\"login_csrf\" value=\"{}\">\n\
         <label for=\"token\">登录口令</label>\n\
         <input type=\"password\" id=\"token\" name=\"token\" required autocomplete=\"current-password\">\n\
         <button type=\"submit\">登录</button>\n</form>",
        esc(nonce_field)
    );
    page("联络员登录", None, &body)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
