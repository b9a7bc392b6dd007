//! `gateway check-config` and `gateway certs generate` as an operator uses
//! them: the real binary, real files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn certs_example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../certs-example")
}

fn gateway(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gateway"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

/// A fresh directory under the system's temporary directory.
fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("gateway-config-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The demo configuration rewritten to live in `dir`: every file it names
/// points into `certs` (absolute), the store into `dir`.
fn demo_in(dir: &Path, certs: &Path) -> String {
    gateway::network::demo_config_text(&certs_example(), certs, &dir.join("demo.db")).unwrap()
}

/// Runs check-config on the demo configuration with `from` replaced by `to`.
fn check_broken(name: &str, from: &str, to: &str) -> Output {
    let dir = temp_dir(name);
    let text = demo_in(&dir, &certs_example());
    assert!(text.contains(from), "no {from:?} in the demo configuration");
    let file = dir.join("gateway.toml");
    std::fs::write(&file, text.replacen(from, to, 1)).unwrap();
    let out = gateway(&["check-config", file.to_str().unwrap()], &dir);
    std::fs::remove_dir_all(&dir).unwrap();
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

#[test]
fn the_demo_configuration_passes() {
    let out = gateway(
        &["check-config", "certs-example/demo.toml"],
        &certs_example().join(".."),
    );
    assert_eq!(stderr(&out), "");
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "ok: 8 partners\n");
    assert!(out.status.success());
}

#[test]
fn relative_paths_are_relative_to_the_file_not_the_working_directory() {
    let file = certs_example().join("demo.toml");
    let out = gateway(&["check-config", file.to_str().unwrap()], Path::new("/"));
    assert!(out.status.success(), "{}", stderr(&out));
    let out = gateway(
        &["check-config", "../certs-example/demo.toml"],
        Path::new(env!("CARGO_MANIFEST_DIR")),
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn an_unknown_key_is_named() {
    let out = check_broken(
        "unknown",
        "idle_timeout = \"60s\"",
        "idle_timeout = \"60s\"\nidel_timeout = \"5m\"",
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("server.idel_timeout: unknown field `idel_timeout`"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn a_bad_family_is_named() {
    let out = check_broken("family", "family = \"ent-json\"", "family = \"ent-xml\"");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("partners[3].family: unknown format family 'ent-xml'"),
        "{err}"
    );
}

#[test]
fn a_duplicate_partner_id_is_named() {
    let out = check_broken(
        "duplicate",
        "id = \"pu-central-001\"",
        "id = \"pu-military-001\"",
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("partners[5].id: duplicate: partners[4] already has \"pu-military-001\""),
        "{err}"
    );
}

#[test]
fn a_missing_certificate_file_is_named() {
    let out = check_broken(
        "missing",
        "gateway-client.pem\"",
        "gateway-client-missing.pem\"",
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("client.cert: cannot read /"), "{err}");
    assert!(
        err.contains("gateway-client-missing.pem: No such file or directory"),
        "{err}"
    );
}

#[test]
fn a_bad_duration_is_named_with_its_line() {
    let out = check_broken(
        "duration",
        "request_timeout = \"10s\"",
        "request_timeout = \"10 seconds\"",
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(
            "gateway.toml:65:19: delivery.request_timeout: invalid duration \"10 seconds\""
        ),
        "{err}"
    );
}

#[test]
fn a_generated_set_makes_a_working_configuration() {
    let dir = temp_dir("generated");
    let certs = dir.join("certs");
    let out = gateway(
        &[
            "certs",
            "generate",
            "--out",
            certs.to_str().unwrap(),
            "--partners",
            "bj12345,pu-central-001",
        ],
        &dir,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("DEVELOPMENT ONLY"));
    let listed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(listed.lines().count(), 6 + 4 + 2 + 2, "{listed}");
    assert!(certs.join("audit-signing.key").is_file());
    assert!(certs.join("partners/bj12345-server.pem").is_file());
    assert!(!certs.join("partners/pu-central-001-server.pem").exists());

    let file = dir.join("gateway.toml");
    std::fs::write(&file, demo_in(&dir, &certs)).unwrap();
    let out = gateway(&["check-config", file.to_str().unwrap()], &dir);
    assert!(out.status.success(), "{}", stderr(&out));

    // The committed set's CA did not sign the new gateway certificate.
    let mixed = demo_in(&dir, &certs).replace(
        &format!("{:?}", certs.join("gateway-server.key").to_str().unwrap()),
        &format!(
            "{:?}",
            certs_example().join("gateway-server.key").to_str().unwrap()
        ),
    );
    std::fs::write(&file, mixed).unwrap();
    let out = gateway(&["check-config", file.to_str().unwrap()], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(
            "server.cert, server.key: the private key does not belong to the certificate"
        ),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_default_partner_set_is_the_committed_one() {
    for id in [
        "bj12345",
        "tj12345",
        "hb-130100",
        "hb-131000",
        "bj-enterprise",
        "pu-central-001",
        "pu-central-003",
        "pu-military-001",
        "open311-demo",
    ] {
        let partners = certs_example().join("partners");
        assert!(partners.join(format!("{id}.pem")).is_file(), "{id}");
        assert!(partners.join(format!("{id}.key")).is_file(), "{id}");
        let push = !(id.starts_with("pu-") || id.starts_with("open311"));
        assert_eq!(
            partners.join(format!("{id}-server.pem")).is_file(),
            push,
            "{id}"
        );
    }
}

#[test]
fn the_otlp_setting_is_checked_and_shown() {
    let bad = check_broken(
        "otlp-bad",
        "#[telemetry]\n#log_format = \"json\"\n#otlp_endpoint = \"http://127.0.0.1:4317\"",
        "[telemetry]\notlp_endpoint = \"https://collector.example\"",
    );
    assert_eq!(bad.status.code(), Some(1));
    let err = stderr(&bad);
    assert!(
        err.contains("telemetry.otlp_endpoint") && err.contains("only http://"),
        "{err}"
    );
    let good = check_broken(
        "otlp-good",
        "#[telemetry]\n#log_format = \"json\"\n#otlp_endpoint = \"http://127.0.0.1:4317\"",
        "[telemetry]\nlog_format = \"json\"\notlp_endpoint = \"http://127.0.0.1:4317\"",
    );
    assert_eq!(good.status.code(), Some(0), "{}", stderr(&good));
    let out = String::from_utf8_lossy(&good.stdout);
    assert!(
        out.contains("spans exported over OTLP/gRPC to http://127.0.0.1:4317 as jjj12345-gateway"),
        "{out}"
    );
}
