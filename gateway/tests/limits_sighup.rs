//! SIGHUP reloads the configuration file. On its own test binary: the
//! signal reaches the whole process, so no other gateway may run in it.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
mod common;

use std::time::Duration;

use gateway::config;
use gateway::limits::Lane;

use common::{Harness, Poll, certs_dir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_limits_and_records_the_configuration() {
    let mut file = std::path::PathBuf::new();
    let text = |store: &std::path::Path, rate: &str| {
        let certs = certs_dir();
        let mut text = std::fs::read_to_string(certs.join("demo.toml")).unwrap();
        for name in [
            "gateway-server.pem",
            "gateway-server.key",
            "gateway-client.pem",
            "gateway-client.key",
            "ca.pem",
            "audit-signing.key",
        ] {
            text = text.replace(
                &format!("\"{name}\""),
                &format!("\"{}\"", certs.join(name).display()),
            );
        }
        text.replace(
            "\"../schemas/data\"",
            &format!("\"{}\"", certs.join("../schemas/data").display()),
        )
        .replace(
            "path = \"demo.db\"",
            &format!("path = \"{}\"", store.display()),
        )
        .replace("rate = \"20/s\"", &format!("rate = \"{rate}\""))
    };
    let h = Harness::start("ops-sighup", false, |c| {
        file = c.store.path.with_file_name("gateway.toml");
        std::fs::write(&file, text(&c.store.path, "20/s")).unwrap();
        *c = config::load(&file).unwrap();
    })
    .await;
    let app = h.net.gateway.app.clone();
    let normal = |app: &gateway::server::App| {
        app.limits()
            .ingress_policy("bj12345")
            .unwrap()
            .into_iter()
            .find(|(lane, _)| *lane == Lane::Normal)
            .unwrap()
            .1
            .rate
            .to_string()
    };
    assert_eq!(normal(&app), "16/s");
    std::fs::write(&file, text(&app.config.store.path, "10/min")).unwrap();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let poll = Poll::new(Duration::from_secs(10));
    while normal(&app) != "8/min" {
        assert!(poll.again().await, "SIGHUP did not reload");
    }
    assert_ne!(app.live_config().sha256, app.config.sha256);
    h.stop().await;
}
