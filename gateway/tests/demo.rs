//! The README's first command: `gateway demo` runs the three flows to their
//! end with the real binary, and even at debug level its output holds no
//! name or phone number of the tickets it carries.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn the_demo_closes_every_hand_off_and_logs_no_personal_data() {
    let out = Command::new(env!("CARGO_BIN_EXE_gateway"))
        .arg("demo")
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("all 4 hand-offs reached their terminal state"),
        "{stdout}"
    );
    for flow in [
        "bj12345 → hb-131000: closed",
        "tj12345 → bj12345: closed",
        "bj-enterprise → bj12345: closed",
        "bj12345 → pu-military-001: closed",
    ] {
        assert!(stdout.contains(flow), "missing {flow}: {stdout}");
    }
    // The callers and contacts of the demo's four tickets.
    for personal in [
        "陈志强",
        "13800138000",
        "赵雪梅",
        "15900159000",
        "孙丽",
        "13900139000",
        "马卫东",
        "13500135000",
    ] {
        assert!(
            !stdout.contains(personal) && !stderr.contains(personal),
            "{personal} appears in the demo's output"
        );
    }
}
