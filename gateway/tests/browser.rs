//! The liaisons' web inbox in a real browser (issue 6's end-to-end test):
//! the gateway and the simulated partners over real TLS, a repair order
//! submitted through the Beijing adapter, then Debian's chromium, driven by
//! Playwright (`tests/browser/inbox.mjs`), signs in as the unit's liaison,
//! acknowledges and resolves the order, takes screenshots, and shows that
//! a liaison of another unit does not see it. Back here: the Beijing
//! partner received DELIVERED and RESOLVED in bj-json.
//!
//! Needs node, chromium, a CJK font, certutil and `npm ci` in
//! `tests/browser/`: `./test.sh` installs them. The screenshots are saved in
//! `target/artifacts/` (or `$INBOX_ARTIFACTS`); with
//! `UPDATE_SCREENSHOTS=1` they are also copied to `docs/screenshots/`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use adapters::Family;
use gateway::config::LiaisonToken;
use gateway::wire::Kind;
use schemas::Status;
use sha2::{Digest, Sha256};

use common::{Harness, WAIT, bj_receipt, certs_dir, demo_file, json_with, statuses_of};

/// The demo token of pu-military-001's liaison (certs-example/demo.toml).
const MILITARY_TOKEN: &str = "demo-liaison-military-001";
/// A token this test gives a liaison of pu-central-001.
const CENTRAL_TOKEN: &str = "test-liaison-central-001";
const UNIT_REF: &str = "YFC-2025-0412";
const RESULT: &str = "已挂网重新抹灰并刷防霉涂料，住户现场确认。";
/// The browser run takes a few seconds; this is for a very busy machine.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(180);

const INSTALL_HINT: &str = "./test.sh installs them (apt: chromium fonts-wqy-zenhei \
                            libnss3-tools, nodejs npm if missing; npm ci in gateway/tests/browser)";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn script_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Fails, saying how to install, when something the browser run needs is
/// missing.
fn require_tools() {
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.as_ref().is_ok_and(|o| o.status.success()),
        "node is not installed ({node:?}); {INSTALL_HINT}"
    );
    assert!(
        chromium().is_file(),
        "{} is missing; {INSTALL_HINT}",
        chromium().display()
    );
    let playwright = script_dir().join("node_modules/playwright-core/package.json");
    assert!(
        playwright.is_file(),
        "{} is missing; {INSTALL_HINT}",
        playwright.display()
    );
    let certutil = Command::new("certutil").arg("-H").output();
    assert!(
        certutil.is_ok(),
        "certutil is not installed; {INSTALL_HINT}"
    );
}

fn artifacts_dir() -> PathBuf {
    std::env::var_os("INBOX_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/artifacts"))
}

/// Runs the browser script; returns its output, or an error with it unless
/// the script passed within [`BROWSER_TIMEOUT`].
fn run_browser(env: &[(&str, String)], artifacts: &Path) -> Result<String, String> {
    let log = artifacts.join("browser.log");
    let out = std::fs::File::create(&log).unwrap();
    let mut child = Command::new("node")
        .arg(script_dir().join("inbox.mjs"))
        .current_dir(script_dir())
        .envs(env.iter().map(|(k, v)| (*k, v)))
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run node: {e}; {INSTALL_HINT}"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    match status {
        Some(s) if s.success() => Ok(output),
        Some(s) => Err(format!("the browser test failed ({s}):\n{output}")),
        None => Err(format!(
            "the browser test took over {BROWSER_TIMEOUT:?}:\n{output}"
        )),
    }
}

/// The file is a PNG of a reasonable size.
fn assert_png(path: &Path) {
    let bytes =
        std::fs::read(path).unwrap_or_else(|e| panic!("no screenshot {}: {e}", path.display()));
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG",
        path.display()
    );
    assert!(bytes.len() > 10_000, "{} is nearly empty", path.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_liaison_works_a_beijing_repair_order_in_chromium() {
    require_tools();
    let h = Harness::start("browser", false, |c| {
        let central = c
            .partners
            .iter_mut()
            .find(|p| p.id == "pu-central-001")
            .unwrap();
        central.liaison_tokens.push(LiaisonToken {
            name: "钱明".into(),
            token_sha256: hex::encode(Sha256::digest(CENTRAL_TOKEN.as_bytes())),
        });
    })
    .await;
    // An urgent order already waiting, so the new one is found in a list
    // (and the screenshot shows the ordering by deadline).
    let waiting = json_with(
        &demo_file("bj-repair-order.json"),
        &[
            ("/orderNo", "BJ2025032100305".into()),
            ("/urgency", "1".into()),
            ("/category/code", "0502".into()),
            ("/category/name", "房屋漏雨".into()),
            ("/title", "万寿路甲15号院3号楼顶层漏雨".into()),
            (
                "/content",
                "居民反映：3号楼5单元顶层601室客厅屋顶漏雨，雨天滴水不止。\n诉求：请尽快派人查看屋面防水。".into(),
            ),
            ("/property/building", "3号楼".into()),
            ("/property/unit", "5单元".into()),
            ("/property/room", "601".into()),
            (
                "/location/address",
                "北京市海淀区万寿路甲15号院3号楼5单元601室".into(),
            ),
        ],
    );
    let reply = h
        .post("bj12345", Family::BjJson, Kind::Ticket, waiting)
        .await;
    bj_receipt(&reply);
    let reply = h
        .post(
            "bj12345",
            Family::BjJson,
            Kind::Ticket,
            demo_file("bj-repair-order.json"),
        )
        .await;
    let (id, _) = bj_receipt(&reply);
    assert_eq!(
        h.handoff(&id).await.target_partner,
        "pu-military-001",
        "the repair order goes to the military unit"
    );

    let artifacts = artifacts_dir();
    std::fs::create_dir_all(&artifacts).unwrap();
    for old in ["inbox.png", "order.png", "failure.png"] {
        let _ = std::fs::remove_file(artifacts.join(old));
    }
    let env = vec![
        ("INBOX_URL", h.url("")),
        (
            "INBOX_CA",
            certs_dir().join("ca.pem").to_string_lossy().into_owned(),
        ),
        ("INBOX_TOKEN", MILITARY_TOKEN.to_owned()),
        ("INBOX_OTHER_TOKEN", CENTRAL_TOKEN.to_owned()),
        ("INBOX_ORDER", id.clone()),
        ("INBOX_UNIT_REF", UNIT_REF.to_owned()),
        ("INBOX_RESULT", RESULT.to_owned()),
        ("INBOX_ARTIFACTS", artifacts.to_string_lossy().into_owned()),
        ("CHROMIUM", chromium().to_string_lossy().into_owned()),
    ];
    let output = tokio::task::spawn_blocking({
        let artifacts = artifacts.clone();
        move || run_browser(&env, &artifacts)
    })
    .await
    .unwrap()
    .unwrap_or_else(|failure| {
        panic!(
            "{failure}\n(screenshot of the failing page, if any: {})",
            artifacts.join("failure.png").display()
        )
    });
    println!("{output}");
    assert!(output.contains("inbox browser test: passed"), "{output}");
    for name in ["inbox.png", "order.png"] {
        let path = artifacts.join(name);
        assert_png(&path);
        println!("screenshot saved: {}", path.display());
        if std::env::var_os("UPDATE_SCREENSHOTS").is_some() {
            let docs = repo().join("docs/screenshots");
            std::fs::create_dir_all(&docs).unwrap();
            std::fs::copy(&path, docs.join(name)).unwrap();
        }
    }

    // What the browser did reached Beijing in its own format.
    let updates = h
        .wait_statuses("bj12345", &id, adapters::bj::decode_status, WAIT, |s| {
            s.iter().any(|u| u.status == Status::Resolved)
        })
        .await;
    assert_eq!(statuses_of(&updates), [Status::Delivered, Status::Resolved]);
    assert_eq!(updates[1].comment.as_deref(), Some(RESULT));
    let record = h.handoff(&id).await;
    assert_eq!(record.state, Status::Resolved);
    assert_eq!(record.target_ticket_id.as_deref(), Some(UNIT_REF));
    h.stop().await;
}
