//! The property units' web inbox over real HTTPS on loopback: a liaison
//! signs in with a token, finds a repair order submitted through the
//! Beijing adapter, acknowledges and resolves it through the forms (with
//! the CSRF token of the page), and the Beijing partner receives DELIVERED
//! and RESOLVED in bj-json. A liaison of another unit never sees it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
mod common;

#[allow(dead_code)]
mod inbox_client;

use adapters::Family;
use bytes::Bytes;
use gateway::config::LiaisonToken;
use gateway::store::Store;
use gateway::wire::Kind;
use schemas::Status;
use sha2::{Digest, Sha256};

use common::{Harness, WAIT, bj_receipt, demo_file, json_with, statuses_of, text};
use inbox_client::{Browser, attr, csrf, html, location};

/// The demo token of pu-military-001's liaison (certs-example/demo.toml).
const MILITARY_TOKEN: &str = "demo-liaison-military-001";
/// A token this test gives a liaison of pu-central-001.
const CENTRAL_TOKEN: &str = "test-liaison-central-001";

/// The accessibility basics: the language, one h1 inside <main>, and a
/// label for every visible form control.
fn assert_accessible(page: &str) {
    assert!(page.contains("<html lang=\"zh-CN\">"), "no lang");
    assert!(page.contains("name=\"viewport\""), "no viewport");
    assert_eq!(page.matches("<h1").count(), 1, "one h1: {page}");
    assert!(page.contains("<main>") && page.contains("</main>"));
    for kind in ["<input", "<select", "<textarea"] {
        for (i, _) in page.match_indices(kind) {
            let tag = &page[i..i + page[i..].find('>').unwrap()];
            if attr(tag, "type").as_deref() == Some("hidden") {
                continue;
            }
            let id = attr(tag, "id").unwrap_or_else(|| panic!("{tag} has no id"));
            assert!(
                page.contains(&format!("<label for=\"{id}\">")),
                "{tag} has no label"
            );
        }
    }
    assert!(!page.contains("<script"), "no JavaScript");
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_liaison_works_a_beijing_repair_order_through_the_web_inbox() {
    let h = Harness::start("inbox-web", false, |c| {
        let central = c
            .partners
            .iter_mut()
            .find(|p| p.id == "pu-central-001")
            .unwrap();
        central.liaison_tokens.push(LiaisonToken {
            name: "钱明".into(),
            token_sha256: sha256_hex(CENTRAL_TOKEN),
        });
    })
    .await;
    let reply = h
        .post(
            "bj12345",
            Family::BjJson,
            Kind::Ticket,
            demo_file("bj-repair-order.json"),
        )
        .await;
    let (first, _) = bj_receipt(&reply);
    let reply = h
        .post(
            "bj12345",
            Family::BjJson,
            Kind::Ticket,
            json_with(
                &demo_file("bj-repair-order.json"),
                &[("/orderNo", "BJ2025032100319".into())],
            ),
        )
        .await;
    let (second, _) = bj_receipt(&reply);

    // Not signed in: the inbox sends to the sign-in page; a wrong token fails.
    let mut zhao = Browser::new(&h);
    let reply = zhao.get("/pu/").await;
    assert_eq!(reply.status.as_u16(), 303);
    assert_eq!(location(&reply), "/pu/login");
    let login = zhao.get("/pu/login").await;
    assert_eq!(login.status.as_u16(), 200);
    assert_accessible(&html(&login));
    let wrong = zhao.try_sign_in("guess").await;
    assert_eq!(wrong.status.as_u16(), 401);
    assert!(html(&wrong).contains("登录口令不正确"));
    zhao.sign_in(MILITARY_TOKEN).await;

    // The inbox: both orders, the first (nearer deadline) first, with its
    // acknowledgement deadline as Beijing time.
    let page = html(&zhao.get("/pu/").await);
    assert_accessible(&page);
    assert!(page.contains("联络员：赵永刚"));
    let (a, b) = (
        page.find(&format!("/pu/orders/{first}")).unwrap(),
        page.find(&format!("/pu/orders/{second}")).unwrap(),
    );
    assert!(a < b, "sorted by deadline");
    let record = h.handoff(&first).await;
    let ack_by = record
        .ack_by
        .with_timezone(&adapters::time::beijing())
        .format("%Y-%m-%d %H:%M")
        .to_string();
    assert!(page.contains("签收期限 <time datetime="), "{page}");
    assert!(page.contains(&ack_by), "deadline {ack_by} shown");
    assert!(page.contains("万寿路甲15号院"));
    // Filters: by state and by compound.
    let filtered = html(&zhao.get("/pu/?state=resolved").await);
    assert!(!filtered.contains(&format!("/pu/orders/{first}")));
    let filtered = html(
        &zhao
            .get("/pu/?compound=%E4%B8%87%E5%AF%BF%E8%B7%AF%E7%94%B215%E5%8F%B7%E9%99%A2")
            .await,
    );
    assert!(filtered.contains(&format!("/pu/orders/{first}")));

    // The order page: problem, photo, place, resident, deadlines, forms.
    let order_path = format!("/pu/orders/{first}");
    let page = html(&zhao.get(&order_path).await);
    assert_accessible(&page);
    for expected in [
        "墙体开裂",
        "https://att.bj12345.example/2025/03/21/BJ2025032100318/IMG_0412.jpg",
        "北京市海淀区万寿路甲15号院7号楼3单元602室",
        "马卫东",
        "13500135000",
        "签收期限",
        "办结期限",
        "单位编号",
    ] {
        assert!(page.contains(expected), "order page shows {expected}");
    }
    let print = html(&zhao.get(&format!("{order_path}?print=1")).await);
    assert!(print.contains("马卫东") && !print.contains("<form"));
    let token = csrf(&page);

    // Forms without the CSRF token, with a wrong one or from another site
    // are refused, and change nothing.
    let ack_path = format!("{order_path}/ack");
    let refused = zhao.post(&ack_path, &[("unit_ref", "X")], None).await;
    assert_eq!(refused.status.as_u16(), 403);
    let refused = zhao
        .post(&ack_path, &[("csrf", "AAAA"), ("unit_ref", "X")], None)
        .await;
    assert_eq!(refused.status.as_u16(), 403);
    let refused = zhao
        .post(
            &ack_path,
            &[("csrf", &token), ("unit_ref", "X")],
            Some("https://evil.example"),
        )
        .await;
    assert_eq!(refused.status.as_u16(), 403);
    assert_eq!(h.handoff(&first).await.state, Status::Received);

    // Acknowledge with the unit's reference, then resolve.
    let done = zhao
        .post(
            &ack_path,
            &[("csrf", &token), ("unit_ref", "YFC-2025-0387")],
            None,
        )
        .await;
    assert_eq!(done.status.as_u16(), 303, "{}", text(&done));
    assert_eq!(location(&done), format!("{order_path}?done=ack"));
    let page = html(&zhao.get(&location(&done)).await);
    assert!(page.contains("已签收。"));
    assert!(page.contains("<dt>单位编号</dt><dd>YFC-2025-0387</dd>"));
    assert!(page.contains("办结"));
    // The acknowledgement names the liaison who signed in.
    let history = h.store().history(&first).await.unwrap();
    let acked = history
        .iter()
        .find(|e| e.status == Status::Delivered)
        .unwrap();
    assert_eq!(acked.by.as_deref(), Some("赵永刚"), "{history:?}");
    let missing = zhao
        .post(&format!("{order_path}/resolve"), &[("csrf", &token)], None)
        .await;
    assert_eq!(missing.status.as_u16(), 400);
    assert!(html(&missing).contains("请填写办理结果"));
    let done = zhao
        .post(
            &format!("{order_path}/resolve"),
            &[
                ("csrf", &token),
                ("comment", "已挂网重新抹灰并刷防霉涂料，住户现场确认。"),
            ],
            None,
        )
        .await;
    assert_eq!(done.status.as_u16(), 303, "{}", text(&done));

    // Now the second order, still to be acknowledged, comes first.
    let page = html(&zhao.get("/pu/").await);
    assert!(
        page.find(&format!("/pu/orders/{second}")).unwrap()
            < page.find(&format!("/pu/orders/{first}")).unwrap()
    );

    // The Beijing partner heard both, in bj-json.
    let updates = h
        .wait_statuses("bj12345", &first, adapters::bj::decode_status, WAIT, |s| {
            s.iter().any(|u| u.status == Status::Resolved)
        })
        .await;
    assert_eq!(statuses_of(&updates), [Status::Delivered, Status::Resolved]);
    assert_eq!(
        updates[1].comment.as_deref(),
        Some("已挂网重新抹灰并刷防霉涂料，住户现场确认。")
    );
    let record = h.handoff(&first).await;
    assert_eq!(record.target_ticket_id.as_deref(), Some("YFC-2025-0387"));

    // A liaison of another unit: not in the list, 404 like an unknown id.
    let mut qian = Browser::new(&h);
    qian.sign_in(CENTRAL_TOKEN).await;
    let list = html(&qian.get("/pu/").await);
    assert!(!list.contains(&first) && !list.contains(&second));
    let theirs = qian.get(&order_path).await;
    let unknown = qian.get("/pu/orders/01JUNKNOWNUNKNOWNUNKNOWN00").await;
    assert_eq!(theirs.status.as_u16(), 404);
    assert_eq!(html(&theirs), html(&unknown));
    assert!(!html(&theirs).contains("马卫东"));
    let qian_page = html(&qian.get("/pu/").await);
    let their_token = csrf(&qian_page);
    let acted = qian
        .post(
            &format!("/pu/orders/{second}/ack"),
            &[("csrf", &their_token)],
            None,
        )
        .await;
    assert_eq!(acted.status.as_u16(), 404);
    assert_eq!(h.handoff(&second).await.state, Status::Received);
    // A session's CSRF token is not another session's.
    let crossed = qian
        .post(
            &format!("/pu/orders/{second}/ack"),
            &[("csrf", &token)],
            None,
        )
        .await;
    assert_eq!(crossed.status.as_u16(), 403);

    // The unit's client certificate signs in too, without a token.
    let unit = h.net.client("pu-military-001").unwrap();
    let page = unit
        .send("GET", &h.url("/pu/"), &[], Bytes::new())
        .await
        .unwrap();
    assert_eq!(page.status.as_u16(), 200);
    assert!(html(&page).contains(&second));

    // Signing out ends the session.
    let token = csrf(&html(&zhao.get("/pu/").await));
    let out = zhao.post("/pu/logout", &[("csrf", &token)], None).await;
    assert_eq!(out.status.as_u16(), 303);
    assert!(
        out.headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    h.stop().await;
}

/// Accept, in progress and return (退单) through the forms: the reason comes
/// from the list, "other" needs a comment, and Beijing hears each step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_liaison_accepts_works_and_returns_an_order() {
    let h = Harness::start("inbox-web-return", false, |_| {}).await;
    let reply = h
        .post(
            "bj12345",
            Family::BjJson,
            Kind::Ticket,
            demo_file("bj-repair-order.json"),
        )
        .await;
    let (id, _) = bj_receipt(&reply);
    let mut zhao = Browser::new(&h);
    zhao.sign_in(MILITARY_TOKEN).await;
    let order_path = format!("/pu/orders/{id}");
    let token = csrf(&html(&zhao.get(&order_path).await));

    for (action, fields) in [
        ("ack", vec![]),
        ("accept", vec![("comment", "已安排营房维修班组。")]),
        ("progress", vec![]),
    ] {
        let mut form = vec![("csrf", token.as_str())];
        form.extend(fields);
        let done = zhao
            .post(&format!("{order_path}/{action}"), &form, None)
            .await;
        assert_eq!(done.status.as_u16(), 303, "{action}: {}", text(&done));
        let page = html(&zhao.get(&location(&done)).await);
        assert_accessible(&page);
    }
    let page = html(&zhao.get(&order_path).await);
    assert!(page.contains("处理中"));
    for reason in ["非本单位产权", "信息不全无法处理", "不属于维修范围", "其他"]
    {
        assert!(page.contains(reason), "return reason {reason} offered");
    }
    let return_path = format!("{order_path}/return");
    let missing = zhao
        .post(&return_path, &[("csrf", &token), ("reason", "other")], None)
        .await;
    assert_eq!(missing.status.as_u16(), 400);
    assert!(html(&missing).contains("请填写补充说明"));
    let unknown = zhao
        .post(&return_path, &[("csrf", &token), ("reason", "bored")], None)
        .await;
    assert_eq!(unknown.status.as_u16(), 400);
    let done = zhao
        .post(
            &return_path,
            &[
                ("csrf", &token),
                ("reason", "not_our_property"),
                ("comment", "7号楼已移交地方管理。"),
            ],
            None,
        )
        .await;
    assert_eq!(done.status.as_u16(), 303, "{}", text(&done));
    let page = html(&zhao.get(&location(&done)).await);
    assert!(page.contains("已退单。"));
    assert!(
        !page.contains("/return\""),
        "no more actions after a return"
    );

    let updates = h
        .wait_statuses("bj12345", &id, adapters::bj::decode_status, WAIT, |s| {
            s.iter().any(|u| u.status == Status::Rejected)
        })
        .await;
    assert_eq!(
        statuses_of(&updates),
        [
            Status::Delivered,
            Status::Accepted,
            Status::InProgress,
            Status::Rejected
        ]
    );
    let returned = updates.last().unwrap();
    assert_eq!(returned.reason_code.as_deref(), Some("not_our_property"));
    assert_eq!(
        returned.comment.as_deref(),
        Some("非本单位产权：7号楼已移交地方管理。")
    );
    // After a return the status loop refuses a resolution; the page says so.
    let again = zhao
        .post(
            &format!("{order_path}/resolve"),
            &[("csrf", &token), ("comment", "已修好。")],
            None,
        )
        .await;
    assert_eq!(again.status.as_u16(), 409, "{}", text(&again));
    assert!(html(&again).contains("操作未完成"));
    h.stop().await;
}

/// An order whose acknowledgement deadline has passed is marked in words
/// and by class, not by colour alone, and stays first in the list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdue_order_is_marked() {
    let h = Harness::start("inbox-web-overdue", false, |c| {
        c.deadlines.property.ack = std::time::Duration::from_millis(200);
    })
    .await;
    let reply = h
        .post(
            "bj12345",
            Family::BjJson,
            Kind::Ticket,
            demo_file("bj-repair-order.json"),
        )
        .await;
    let (id, _) = bj_receipt(&reply);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let mut zhao = Browser::new(&h);
    zhao.sign_in(MILITARY_TOKEN).await;
    let page = html(&zhao.get("/pu/").await);
    let row = &page[page.find("<tr class=\"overdue\">").expect("an overdue row")..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains(&id) && row.contains("已超期"), "{row}");
    let order = html(&zhao.get(&format!("/pu/orders/{id}")).await);
    assert!(order.contains("签收期限") && order.contains("已超期"));
    h.stop().await;
}
