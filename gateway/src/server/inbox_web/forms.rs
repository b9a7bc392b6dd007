//! The action forms of an order page, and what a submitted form becomes:
//! the same pu-json acknowledgement or status body the JSON API reads, so
//! the adapter's checks apply unchanged.

use std::fmt::Write as _;

use schemas::{Status, Timestamp};

use super::html::esc;
use crate::store::HandoffRecord;

/// Return (退单) reasons: the code sent in `reason_code`, and the label.
pub const RETURN_REASONS: [(&str, &str); 4] = [
    ("not_our_property", "非本单位产权"),
    ("incomplete", "信息不全无法处理"),
    ("out_of_scope", "不属于维修范围"),
    ("other", "其他"),
];

/// The actions of the web inbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// 签收: the order is delivered, with the unit's own reference.
    Ack,
    /// 受理.
    Accept,
    /// 退单.
    Return,
    /// 处理中.
    Progress,
    /// 办结, with the result.
    Resolve,
}

impl Action {
    /// The action named by the last path segment.
    pub fn from_path(s: &str) -> Option<Action> {
        Some(match s {
            "ack" => Action::Ack,
            "accept" => Action::Accept,
            "return" => Action::Return,
            "progress" => Action::Progress,
            "resolve" => Action::Resolve,
            _ => return None,
        })
    }

    /// What the order page says after it.
    pub fn done(self) -> &'static str {
        match self {
            Action::Ack => "已签收。",
            Action::Accept => "已受理。",
            Action::Return => "已退单。",
            Action::Progress => "已标记为处理中。",
            Action::Resolve => "已办结，结果已回复来源热线。",
        }
    }
}

fn form_start(b: &mut String, id: &str, action: &str, heading: &str, csrf: &str) {
    let _ = write!(
        b,
        "<section class=\"action\"><h3>{heading}</h3>\n<form method=\"post\" action=\"/pu/orders/{}/{action}\">\n\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\n",
        esc(id),
        esc(csrf)
    );
}

fn comment(b: &mut String, id: &str, label: &str, required: bool) {
    let _ = write!(
        b,
        "<label for=\"{id}\">{label}</label>\n<textarea id=\"{id}\" name=\"comment\" rows=\"3\" maxlength=\"1000\"{}></textarea>\n",
        if required { " required" } else { "" }
    );
}

/// The forms for what can be done next with `record`.
pub fn actions(b: &mut String, record: &HandoffRecord, csrf: &str) {
    let id = record.id.as_str();
    match record.state {
        Status::Received => {
            b.push_str("<h2>操作</h2>\n");
            form_start(b, id, "ack", "签收", csrf);
            b.push_str(
                "<label for=\"unit_ref\">单位编号（本单位内部编号，可不填）</label>\n\
                 <input type=\"text\" id=\"unit_ref\" name=\"unit_ref\" maxlength=\"64\" autocomplete=\"off\">\n\
                 <button type=\"submit\">签收</button>\n</form></section>\n",
            );
        }
        Status::Delivered | Status::Accepted | Status::InProgress => {
            b.push_str("<h2>操作</h2>\n");
            if record.state == Status::Delivered {
                form_start(b, id, "accept", "受理", csrf);
                comment(b, "accept_comment", "说明（可不填）", false);
                b.push_str("<button type=\"submit\">受理</button>\n</form></section>\n");
            }
            if record.state != Status::InProgress {
                form_start(b, id, "progress", "处理中", csrf);
                comment(b, "progress_comment", "进展说明（可不填）", false);
                b.push_str("<button type=\"submit\">标记为处理中</button>\n</form></section>\n");
            }
            form_start(b, id, "resolve", "办结", csrf);
            comment(
                b,
                "resolve_comment",
                "办理结果（必填，将回复来源热线）",
                true,
            );
            b.push_str("<button type=\"submit\">办结</button>\n</form></section>\n");
            form_start(b, id, "return", "退单", csrf);
            b.push_str("<label for=\"reason\">退单原因</label>\n<select id=\"reason\" name=\"reason\" required>\n");
            for (code, label) in RETURN_REASONS {
                let _ = writeln!(b, "<option value=\"{code}\">{label}</option>");
            }
            b.push_str("</select>\n");
            comment(b, "return_comment", "补充说明（选“其他”时必填）", false);
            b.push_str("<button type=\"submit\">退单</button>\n</form></section>\n");
        }
        _ => b.push_str("<p>本单位对这张工单的办理已经完成。</p>\n"),
    }
}

/// A submitted action form as the body the JSON API would receive: the
/// ack `{unit_ref?}` or the status `{state, at, by, reason_code?, comment?}`;
/// or what is wrong with it, for people.
pub fn body(
    action: Action,
    fields: &[(String, String)],
    by: &str,
    at: &Timestamp,
) -> Result<Vec<u8>, String> {
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let comment = get("comment");
    let (state, reason_code, comment) = match action {
        Action::Ack => {
            let ack = serde_json::json!({ "unit_ref": get("unit_ref") });
            return serde_json::to_vec(&ack).map_err(|e| e.to_string());
        }
        Action::Accept => ("accepted", None, comment),
        Action::Progress => ("in_progress", None, comment),
        Action::Resolve => match comment {
            Some(c) => ("resolved", None, Some(c)),
            None => return Err("请填写办理结果。".into()),
        },
        Action::Return => {
            let code = get("reason").unwrap_or_default();
            let Some((code, label)) = RETURN_REASONS.iter().find(|(c, _)| *c == code) else {
                return Err("请选择退单原因。".into());
            };
            let text = match (comment, *code) {
                (None, "other") => return Err("选择“其他”时请填写补充说明。".into()),
                (None, _) => (*label).to_owned(),
                (Some(c), _) => format!("{label}：{c}"),
            };
            ("returned", Some(*code), Some(text))
        }
    };
    let mut status = serde_json::json!({
        "state": state,
        "at": at.to_rfc3339(),
        "by": by,
    });
    if let Some(code) = reason_code {
        status["reason_code"] = code.into();
    }
    if let Some(c) = comment {
        status["comment"] = c.into();
    }
    serde_json::to_vec(&status).map_err(|e| e.to_string())
}
