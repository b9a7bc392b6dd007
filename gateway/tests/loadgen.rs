//! The load generator of BENCHMARKS.md, run briefly: it starts the real
//! gateway and the simulated partners, submits at a fixed rate over mutual
//! TLS, sees every hand-off delivered and reads the gateway's own receipt
//! timing from its operator listener. Its figures are not checked (they
//! belong to benchmarks, not tests); that it measures what it says is.

#![allow(clippy::expect_used)]

use std::process::Command;

#[test]
fn a_short_fixed_rate_run_delivers_every_hand_off_and_reports_the_gateways_own_timing() {
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["--gateway-bin", env!("CARGO_BIN_EXE_gateway")])
        .args(["-c", "2", "-d", "1", "rate", "-r", "20"])
        .output()
        .expect("run loadgen");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("20 answered 202") && stdout.contains("(0 other answers)"),
        "{stdout}"
    );
    assert!(stdout.contains("delivered 20 of 20"), "{stdout}");
    let timing = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("receipts timed by the gateway: "))
        .unwrap_or_else(|| panic!("no timing from the gateway: {stdout}"));
    assert!(timing.starts_with("≤ 1 ms "), "{timing}");
    assert!(timing.contains("≤ 10 ms "), "{timing}");
    assert!(timing.ends_with("(20 receipts)"), "{timing}");
}
