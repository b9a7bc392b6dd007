//! The inbox list and the order page.

use std::fmt::Write as _;

use schemas::{Status, Tables, Ticket, Timestamp};

use super::html::{esc, state_label, time};
use crate::store::HandoffRecord;

/// The deadline an order still has to meet: which one, when, and whether
/// it has passed. `None` once the unit's part is done.
pub fn due(record: &HandoffRecord, now: &Timestamp) -> Option<(&'static str, Timestamp, bool)> {
    match record.state {
        Status::Received => Some((
            "签收期限",
            record.ack_by,
            record.ack_overdue || record.ack_by < *now,
        )),
        Status::Delivered | Status::Accepted | Status::InProgress => Some((
            "办结期限",
            record.resolve_by,
            record.answer_overdue || record.resolve_by < *now,
        )),
        _ => None,
    }
}

/// The states a liaison can filter by (`open`: still to be worked).
pub const STATE_FILTERS: [(&str, &str); 8] = [
    ("", "全部"),
    ("open", "待办（未办结）"),
    ("received", "待签收"),
    ("delivered", "已签收"),
    ("accepted", "已受理"),
    ("in_progress", "处理中"),
    ("resolved", "已办结"),
    ("rejected", "已退单"),
];

/// Whether `record` passes the state filter `state`.
pub fn state_matches(record: &HandoffRecord, state: &str) -> bool {
    match state {
        "" => true,
        "open" => matches!(
            record.state,
            Status::Received | Status::Delivered | Status::Accepted | Status::InProgress
        ),
        s => record.state.as_str() == s,
    }
}

fn selected(a: &str, b: &str) -> &'static str {
    if a == b { " selected" } else { "" }
}

/// The inbox: the filter form and the orders (already filtered and sorted).
pub fn inbox(
    orders: &[HandoffRecord],
    compounds: &[String],
    state: &str,
    compound: &str,
    now: &Timestamp,
) -> String {
    let mut b = String::from("<h1>工单收件箱</h1>\n");
    b.push_str(
        "<form method=\"get\" action=\"/pu/\" class=\"filters\" aria-label=\"筛选工单\">\n<div><label for=\"state\">状态</label><select id=\"state\" name=\"state\">",
    );
    for (value, label) in STATE_FILTERS {
        let _ = write!(
            b,
            "<option value=\"{value}\"{}>{label}</option>",
            selected(value, state)
        );
    }
    b.push_str("</select></div>\n<div><label for=\"compound\">小区</label><select id=\"compound\" name=\"compound\"><option value=\"\">全部小区</option>");
    for c in compounds {
        let _ = write!(
            b,
            "<option value=\"{0}\"{1}>{0}</option>",
            esc(c),
            selected(c, compound)
        );
    }
    b.push_str("</select></div>\n<div><button type=\"submit\">筛选</button></div>\n</form>\n");
    if orders.is_empty() {
        b.push_str("<p>没有符合条件的工单。</p>");
        return b;
    }
    let _ = write!(
        b,
        "<table class=\"orders\">\n<caption>共 {} 张工单，按期限先后排列</caption>\n<thead><tr>\
         <th scope=\"col\">期限</th><th scope=\"col\">工单</th><th scope=\"col\">小区</th>\
         <th scope=\"col\">状态</th><th scope=\"col\">紧急程度</th></tr></thead>\n<tbody>\n",
        orders.len()
    );
    for r in orders {
        let deadline = due(r, now);
        let overdue = deadline.is_some_and(|d| d.2);
        let when = match deadline {
            Some((label, at, over)) => format!(
                "{label} {}{}",
                time(&at),
                if over {
                    " <strong class=\"overdue-mark\">已超期</strong>"
                } else {
                    ""
                }
            ),
            None => String::from("—"),
        };
        let community = r
            .ticket
            .property
            .as_ref()
            .map(|p| p.community.as_str())
            .unwrap_or("—");
        let _ = writeln!(
            b,
            "<tr{}><td data-label=\"期限\">{when}</td><td data-label=\"工单\"><a href=\"/pu/orders/{}\">{}</a></td>\
             <td data-label=\"小区\">{}</td><td data-label=\"状态\">{}</td><td data-label=\"紧急程度\">{}</td></tr>",
            if overdue { " class=\"overdue\"" } else { "" },
            esc(&r.id),
            esc(&r.ticket.title),
            esc(community),
            state_label(r.state),
            urgency(r),
        );
    }
    b.push_str("</tbody>\n</table>");
    b
}

fn urgency(r: &HandoffRecord) -> &'static str {
    match r.urgency {
        schemas::Urgency::Normal => "一般",
        _ => "紧急",
    }
}

fn row(b: &mut String, term: &str, value: &str) {
    let _ = writeln!(b, "<dt>{term}</dt><dd>{value}</dd>");
}

/// An order's page: problem, place, resident, deadlines, history and, unless
/// printing, the action forms carrying `csrf`. `notice` confirms the last
/// action.
pub fn order(
    record: &HandoffRecord,
    ticket: &Ticket,
    tables: &Tables,
    now: &Timestamp,
    csrf: &str,
    print: bool,
    notice: Option<&str>,
) -> String {
    let id = esc(&record.id);
    let mut b = format!("<h1>{}</h1>\n", esc(&ticket.title));
    if let Some(n) = notice {
        let _ = writeln!(b, "<p class=\"notice\" role=\"status\">{}</p>", esc(n));
    }
    if !print {
        let _ = writeln!(
            b,
            "<p class=\"no-print\"><a href=\"/pu/\">返回工单列表</a> · <a href=\"/pu/orders/{id}?print=1\">打印视图</a></p>"
        );
    }
    b.push_str("<dl>\n");
    row(&mut b, "工单号", &id);
    row(&mut b, "来源工单号", &esc(&ticket.origin_ticket_id));
    if let Some(unit_ref) = &record.target_ticket_id {
        row(&mut b, "单位编号", &esc(unit_ref));
    }
    row(&mut b, "状态", state_label(record.state));
    row(&mut b, "紧急程度", urgency(record));
    b.push_str("</dl>\n<h2>问题</h2>\n<dl>\n");
    let label = ticket
        .category
        .label
        .clone()
        .or_else(|| {
            tables
                .categories
                .get(&ticket.category.code)
                .map(|c| c.label_zh.clone())
        })
        .unwrap_or_else(|| ticket.category.code.clone());
    row(&mut b, "类别", &esc(&label));
    row(&mut b, "描述", &esc(&ticket.description));
    let photos: Vec<String> = ticket
        .attachments
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let name = a.name.clone().unwrap_or_else(|| format!("照片 {}", i + 1));
            if a.url.starts_with("https://") || a.url.starts_with("http://") {
                format!("<li><a href=\"{}\">{}</a></li>", esc(&a.url), esc(&name))
            } else {
                format!("<li>{}：{}</li>", esc(&name), esc(&a.url))
            }
        })
        .collect();
    if photos.is_empty() {
        row(&mut b, "照片", "无");
    } else {
        row(&mut b, "照片", &format!("<ul>{}</ul>", photos.concat()));
    }
    b.push_str("</dl>\n<h2>地点</h2>\n<dl>\n");
    if let Some(p) = &ticket.property {
        row(&mut b, "小区", &esc(&p.community));
        let place: Vec<String> = [p.building.as_deref(), p.unit.as_deref(), p.room.as_deref()]
            .into_iter()
            .flatten()
            .map(str::to_owned)
            .collect();
        if !place.is_empty() {
            row(&mut b, "楼栋房号", &esc(&place.join(" ")));
        }
    }
    let address = ticket
        .location
        .as_ref()
        .and_then(|l| l.address.as_deref())
        .unwrap_or("—");
    row(&mut b, "地址", &esc(address));
    b.push_str("</dl>\n<h2>居民联系方式</h2>\n<dl>\n");
    let caller = &ticket.caller;
    if caller.anonymous {
        row(&mut b, "姓名", "匿名（来电人要求不公开）");
    } else {
        row(&mut b, "姓名", &esc(caller.name.as_deref().unwrap_or("—")));
        match caller.phone.as_deref() {
            Some(p) => row(
                &mut b,
                "电话",
                &format!("<a href=\"tel:{0}\">{0}</a>", esc(p)),
            ),
            None => row(&mut b, "电话", "—"),
        }
    }
    b.push_str("</dl>\n<h2>期限</h2>\n<dl>\n");
    for (label, at, met) in [
        ("签收期限", record.ack_by, record.state != Status::Received),
        (
            "办结期限",
            record.resolve_by,
            matches!(
                record.state,
                Status::Resolved | Status::Closed | Status::Rejected
            ),
        ),
    ] {
        let over = !met && at < *now;
        let mark = if over {
            " <strong class=\"overdue-mark\">已超期</strong>"
        } else if met {
            "（已完成）"
        } else {
            ""
        };
        row(&mut b, label, &format!("{}{mark}", time(&at)));
    }
    b.push_str("</dl>\n<h2>办理记录</h2>\n");
    history(&mut b, ticket);
    if !print {
        super::forms::actions(&mut b, record, csrf);
    }
    b
}

fn history(b: &mut String, ticket: &Ticket) {
    if ticket.history.is_empty() {
        b.push_str("<p>暂无记录。</p>\n");
        return;
    }
    b.push_str(
        "<table>\n<caption>办理记录（按时间先后）</caption>\n<thead><tr><th scope=\"col\">时间</th>\
         <th scope=\"col\">状态</th><th scope=\"col\">办理人</th><th scope=\"col\">说明</th></tr></thead>\n<tbody>\n",
    );
    for h in &ticket.history {
        let _ = writeln!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            time(&h.at),
            match h.state {
                Status::Received => "收到工单",
                s => state_label(s),
            },
            esc(h.by.as_deref().unwrap_or("—")),
            esc(h.comment.as_deref().unwrap_or(""))
        );
    }
    b.push_str("</tbody>\n</table>\n");
}
