#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

fn demo_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../certs-example/demo.toml")
}

fn demo_text() -> String {
    std::fs::read_to_string(demo_file()).unwrap()
}

/// The demo configuration with `from` replaced by `to` (which must occur),
/// parsed as if it were the demo file.
fn demo_with(from: &str, to: &str) -> Result<Config, ConfigError> {
    let text = demo_text();
    assert!(text.contains(from), "demo.toml has no {from:?}");
    parse(&text.replacen(from, to, 1), &demo_file())
}

/// The key and message of an error expected from [`demo_with`].
fn refused(from: &str, to: &str) -> (String, String) {
    let err = demo_with(from, to).unwrap_err();
    (err.key().unwrap_or_default().to_owned(), err.to_string())
}

#[test]
fn the_demo_configuration_loads_with_every_value() {
    let cfg = load(&demo_file()).unwrap();
    let dir = demo_file().parent().unwrap().to_owned();
    assert_eq!(cfg.server.listen, "127.0.0.1:8443".parse().unwrap());
    assert_eq!(cfg.server.cert.path, dir.join("gateway-server.pem"));
    assert_eq!(cfg.server.cert.certs.len(), 1);
    assert_eq!(cfg.server.client_ca.path, dir.join("ca.pem"));
    assert!(!cfg.server.plain_http);
    assert_eq!(cfg.server.max_body_bytes, 1 << 20);
    assert_eq!(cfg.server.header_timeout, Duration::from_secs(10));
    assert_eq!(cfg.client.key.path, dir.join("gateway-client.key"));
    assert_eq!(cfg.store.path, dir.join("demo.db"));
    assert_eq!(cfg.data.dir, dir.join("../schemas/data"));
    assert_eq!(cfg.tables.hotlines.all().len(), 17);
    assert_eq!(
        cfg.deadlines.property.answer,
        Duration::from_secs(72 * 3600)
    );
    assert_eq!(cfg.delivery.max_backoff, Duration::from_secs(300));
    assert_eq!(cfg.escalation.partner.as_deref(), Some("bj12345"));
    assert_eq!(
        cfg.open311.jurisdiction_id.as_deref(),
        Some("jjj12345.example")
    );

    let ids: Vec<&str> = cfg.partners.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "bj12345",
            "hb-131000",
            "tj12345",
            "bj-enterprise",
            "pu-military-001",
            "pu-central-001",
            "pu-central-003",
            "open311-demo"
        ]
    );
    let langfang = cfg.partner("hb-131000").unwrap();
    assert_eq!(langfang.family, Family::HbSoap);
    assert_eq!(langfang.endpoint.as_deref(), Some("https://127.0.0.1:9102"));
    assert_eq!(langfang.identity, "hb-131000");
    assert_eq!(langfang.division.as_deref(), Some("131000"));
    assert_eq!(cfg.partner("pu-military-001").unwrap().endpoint, None);
    assert!(cfg.partner("hb-130100").is_none());
    assert!(cfg.warnings().is_empty());
}

#[test]
fn partners_are_found_by_certificate_name_and_api_key() {
    let cfg = demo_with(
        "id = \"tj12345\"              # Tianjin 12345",
        "id = \"tj12345\"\nidentity = \"Tianjin 12345 platform\"",
    )
    .unwrap();
    assert_eq!(
        cfg.partner_by_identity("Tianjin 12345 platform")
            .unwrap()
            .id,
        "tj12345"
    );
    assert!(cfg.partner_by_identity("tj12345").is_none());
    assert_eq!(cfg.partner_by_identity("bj12345").unwrap().id, "bj12345");
    assert_eq!(
        cfg.partner_by_api_key("demo-7f3a9c2e1b8d4f06").unwrap().id,
        "open311-demo"
    );
    assert!(cfg.partner_by_api_key("demo-7f3a9c2e1b8d4f07").is_none());
    assert!(cfg.partner_by_api_key("demo").is_none());
    assert!(cfg.partner_by_api_key("").is_none());
}

#[test]
fn debug_output_hides_the_api_key() {
    let cfg = load(&demo_file()).unwrap();
    let shown = format!("{cfg:?}");
    assert!(!shown.contains("demo-7f3a9c2e1b8d4f06"));
    assert!(shown.contains("[elided]"));
    assert!(shown.contains("secret key elided"));
}

#[test]
fn absent_sections_take_the_spec_defaults() {
    let text = demo_text();
    let start = text.find("[deadlines]").unwrap();
    let end = text.find("[escalation]").unwrap();
    let text = format!("{}{}", &text[..start], &text[end..]);
    let text = text
        .replace("max_body_bytes = 1048576\n", "")
        .replace("idle_timeout = \"60s\"\n", "");
    let cfg = parse(&text, &demo_file()).unwrap();
    assert_eq!(cfg.deadlines, Deadlines::default());
    assert_eq!(
        cfg.deadlines.urgent,
        Deadline {
            ack: Duration::from_secs(30 * 60),
            answer: Duration::from_secs(2 * 3600)
        }
    );
    assert_eq!(cfg.deadlines.normal.answer, Duration::from_secs(24 * 3600));
    assert_eq!(cfg.deadlines.property.ack, Duration::from_secs(4 * 3600));
    assert_eq!(cfg.delivery, DeliveryConfig::default());
    assert_eq!(cfg.delivery.max_attempts, 12);
    assert_eq!(cfg.delivery.request_timeout, Duration::from_secs(10));
    assert_eq!(cfg.server.max_body_bytes, 1 << 20);
    assert_eq!(cfg.server.idle_timeout, Duration::from_secs(60));
}

#[test]
fn the_open311_section_is_optional_and_strict() {
    let err = demo_with("[open311]", "[open311_unused]").unwrap_err();
    assert_eq!(err.key(), Some("open311_unused"));
    let text = demo_text().replace("jurisdiction_id = \"jjj12345.example\"\n", "");
    let cfg = parse(&text, &demo_file()).unwrap();
    assert_eq!(cfg.open311, Open311Config::default());
    let text = text.replace("[open311]\n", "");
    let cfg = parse(&text, &demo_file()).unwrap();
    assert_eq!(cfg.open311.jurisdiction_id, None);
    let (key, msg) = refused(
        "jurisdiction_id = \"jjj12345.example\"",
        "jurisdiction = \"jjj12345.example\"",
    );
    assert_eq!(key, "open311.jurisdiction");
    assert!(msg.contains("unknown field `jurisdiction`"), "{msg}");
}

#[test]
fn one_deadline_can_be_changed_alone() {
    let cfg = demo_with(
        "urgent = { ack = \"30m\", answer = \"2h\" }",
        "urgent = { ack = \"10m\", answer = \"1h30m\" }",
    )
    .unwrap();
    assert_eq!(cfg.deadlines.urgent.ack, Duration::from_secs(600));
    assert_eq!(cfg.deadlines.urgent.answer, Duration::from_secs(5400));
    assert_eq!(cfg.deadlines.normal, defaults::normal());
}

#[test]
fn serde_errors_name_the_key_and_the_line() {
    let err = demo_with("answer = \"72h\"", "answer = \"0s\"").unwrap_err();
    let ConfigError::Parse {
        key, line, message, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(key, "deadlines.property.answer");
    assert_eq!(*line, 55);
    assert!(message.contains("greater than zero"), "{message}");
    assert!(err.to_string().contains("demo.toml:55:"), "{err}");

    let (key, msg) = refused("family = \"tj-xml\"", "family = \"tj-xm\"");
    assert_eq!(key, "partners[2].family");
    assert!(msg.contains("tj-xm"), "{msg}");
    let (key, msg) = refused("plain_http = false", "plain_htp = false");
    assert_eq!(key, "server.plain_htp");
    assert!(msg.contains("unknown field `plain_htp`"), "{msg}");
    let (key, _) = refused("breaker_failures = 5", "breaker_failures = \"5\"");
    assert_eq!(key, "delivery.breaker_failures");
    let (key, msg) = refused("[store]", "[stor]");
    assert_eq!(key, "stor");
    assert!(msg.contains("unknown field `stor`"), "{msg}");
    let err = demo_with("[store]", "[store").unwrap_err();
    assert_eq!(err.key(), None);
    assert!(
        err.to_string().contains("demo.toml:39:7: unclosed table"),
        "{err}"
    );
}

#[test]
fn validation_errors_name_the_key() {
    let cases = [
        // A push partner without an endpoint, a pulling one with one.
        (
            "endpoint = \"https://127.0.0.1:9104\"\n",
            "",
            "partners[3].endpoint",
        ),
        (
            "family = \"pu-json\"\n",
            "family = \"pu-json\"\nendpoint = \"https://127.0.0.1:9999\"\n",
            "partners[4].endpoint",
        ),
        (
            "https://127.0.0.1:9101",
            "ftp://127.0.0.1:9101",
            "partners[0].endpoint",
        ),
        (
            "https://127.0.0.1:9101",
            "https://127.0.0.1:9101/?a=b",
            "partners[0].endpoint",
        ),
        // API keys only for Open311, and always for it.
        (
            "division = \"110000\"",
            "api_key = \"0123456789abcdef0\"",
            "partners[0].api_key",
        ),
        (
            "api_key = \"demo-7f3a9c2e1b8d4f06\"",
            "",
            "partners[7].api_key",
        ),
        (
            "division = \"131000\"",
            "division = \"13100\"",
            "partners[1].division",
        ),
        (
            "id = \"pu-central-001\"",
            "id = \"pu/central\"",
            "partners[5].id",
        ),
        (
            "id = \"bj-enterprise\" ",
            "id = \"bj-enterprise\"\nidentity = \"bj12345\" ",
            "partners[3].identity",
        ),
        (
            "partner = \"bj12345\"",
            "partner = \"hb-130100\"",
            "escalation.partner",
        ),
        (
            "ack = \"2h\", answer = \"24h\"",
            "ack = \"25h\", answer = \"24h\"",
            "deadlines.normal.ack",
        ),
        (
            "initial_backoff = \"1s\"",
            "initial_backoff = \"6m\"",
            "delivery.initial_backoff",
        ),
        (
            "max_attempts = 12",
            "max_attempts = 0",
            "delivery.max_attempts",
        ),
        (
            "max_concurrent_requests = 1024",
            "max_concurrent_requests = 0",
            "server.max_concurrent_requests",
        ),
        (
            "client_ca = \"ca.pem\"",
            "client_ca = \"missing-ca.pem\"",
            "server.client_ca",
        ),
        (
            "key = \"gateway-server.key\"",
            "key = \"ca.pem\"",
            "server.key",
        ),
        ("\nca = \"ca.pem\"", "\nca = \"demo.toml\"", "client.ca"),
        (
            "path = \"demo.db\"",
            "path = \"no-such-dir/demo.db\"",
            "store.path",
        ),
        (
            "dir = \"../schemas/data\"",
            "dir = \"../schemas\"",
            "data.dir",
        ),
        (
            "jurisdiction_id = \"jjj12345.example\"",
            "jurisdiction_id = \"jjj 12345\"",
            "open311.jurisdiction_id",
        ),
        (
            "jurisdiction_id = \"jjj12345.example\"",
            "jurisdiction_id = \"\"",
            "open311.jurisdiction_id",
        ),
    ];
    for (from, to, key) in cases {
        let err = demo_with(from, to).unwrap_err();
        assert_eq!(err.key(), Some(key), "{from:?} -> {to:?}: {err}");
        assert!(err.to_string().contains(key), "{err}");
    }
}

#[test]
fn plain_http_allows_http_endpoints_with_a_warning() {
    let text = demo_text()
        .replace("plain_http = false", "plain_http = true")
        .replace("https://127.0.0.1:9101", "http://127.0.0.1:9101/");
    let cfg = parse(&text, &demo_file()).unwrap();
    assert_eq!(
        cfg.partner("bj12345").unwrap().endpoint.as_deref(),
        Some("http://127.0.0.1:9101")
    );
    let warnings = cfg.warnings();
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("PLAIN HTTP"), "{warnings:?}");
}

#[test]
fn an_unreadable_file_is_named() {
    let err = load(Path::new("/nonexistent/gateway.toml")).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(
        err.to_string().contains("/nonexistent/gateway.toml"),
        "{err}"
    );
}

fn limit(text: &str, burst: u32) -> Option<Limit> {
    Some(Limit {
        rate: Rate::parse(text).unwrap(),
        burst,
    })
}

#[test]
fn limits_come_from_the_partner_else_from_the_defaults() {
    let cfg = load(&demo_file()).unwrap();
    assert_eq!(cfg.limits.urgent_share, 0.2);
    assert_eq!(cfg.limits.rate, None);
    let bj = cfg.partner("bj12345").unwrap();
    assert_eq!(bj.ingress_limit, limit("20/s", 20), "burst: the count");
    assert_eq!(bj.delivery_limit, None);
    let langfang = cfg.partner("hb-131000").unwrap();
    assert_eq!(langfang.ingress_limit, None);
    assert_eq!(langfang.delivery_limit, limit("120/min", 1), "burst 1");
    assert_eq!(cfg.partner("tj12345").unwrap().delivery_limit, None);

    let cfg = demo_with(
        "# rate = \"20/s\"             # default submission rate",
        "rate = \"5/s\"\nburst = 2\ndeliver_rate = \"30/min\"\ndeliver_burst = 3\n#",
    )
    .unwrap();
    let bj = cfg.partner("bj12345").unwrap();
    assert_eq!(bj.ingress_limit, limit("20/s", 20), "its own rate wins");
    assert_eq!(bj.delivery_limit, limit("30/min", 3));
    let tj = cfg.partner("tj12345").unwrap();
    assert_eq!(tj.ingress_limit, limit("5/s", 2));
    assert_eq!(tj.delivery_limit, limit("30/min", 3));
    let langfang = cfg.partner("hb-131000").unwrap();
    assert_eq!(langfang.delivery_limit, limit("120/min", 1));
    // Nothing is pushed to property units and Open311 clients.
    let unit = cfg.partner("pu-military-001").unwrap();
    assert_eq!(unit.ingress_limit, limit("5/s", 2));
    assert_eq!(unit.delivery_limit, None);
    assert_eq!(cfg.partner("open311-demo").unwrap().delivery_limit, None);

    let text = demo_text()
        .replace("[limits]\n", "")
        .replace("urgent_share = 0.2\n", "")
        .replace("emergency = false\n", "")
        .replace("emergency_factor = 3.0\n", "");
    let cfg = parse(&text, &demo_file()).unwrap();
    assert_eq!(cfg.limits, LimitsConfig::default());
    assert_eq!(cfg.limits.urgent_share, 0.2);
}

/// Beijing's own rate in demo.toml.
const HUB_RATE: &str = "rate = \"20/s\"               #";

#[test]
fn limit_errors_name_the_key() {
    let (key, msg) = refused(HUB_RATE, "rate = \"20 per second\" #");
    assert_eq!(key, "partners[0].rate");
    assert!(msg.contains("\"10/s\""), "{msg}");
    let (key, _) = refused(HUB_RATE, "rate = 20 #");
    assert_eq!(key, "partners[0].rate");
    let (key, msg) = refused(HUB_RATE, "rate = \"20/s\"\nburst = 0 #");
    assert_eq!(key, "partners[0].burst");
    assert!(msg.contains("greater than zero"), "{msg}");
    let (key, msg) = refused("deliver_rate = \"120/min\"", "deliver_rate = \"1/min\"");
    assert_eq!(key, "partners[1].deliver_rate");
    assert!(
        msg.contains("too small") && msg.contains("urgent_share"),
        "{msg}"
    );
    // The same rate is fine without a reserved lane.
    let text = demo_text()
        .replace("deliver_rate = \"120/min\"", "deliver_rate = \"1/min\"")
        .replace("urgent_share = 0.2", "urgent_share = 0");
    assert!(parse(&text, &demo_file()).is_ok());
    let (key, msg) = refused(
        "id = \"pu-military-001\"",
        "id = \"pu-military-001\"\ndeliver_rate = \"1/s\"",
    );
    assert_eq!(key, "partners[4].deliver_rate");
    assert!(msg.contains("nothing is pushed"), "{msg}");
    let (key, msg) = refused("id = \"tj12345\"", "id = \"tj12345\"\nburst = 5");
    assert_eq!(key, "partners[2].burst");
    assert!(msg.contains("needs a rate"), "{msg}");
    for bad in ["1", "1.0", "-0.1"] {
        let (key, msg) = refused("urgent_share = 0.2", &format!("urgent_share = {bad}"));
        assert_eq!(key, "limits.urgent_share", "{bad}");
        assert!(msg.contains("not a share"), "{msg}");
    }
    let (key, _) = refused("# deliver_burst = 1 ", "deliver_burst = 0 #");
    assert_eq!(key, "limits.deliver_burst");
    let (key, msg) = refused("urgent_share = 0.2", "urgent_share = 0.2\nlanes = 2");
    assert_eq!(key, "limits.lanes");
    assert!(msg.contains("unknown field"), "{msg}");
}

#[test]
fn the_operator_listener_is_loopback_only_and_the_emergency_factor_a_sane_number() {
    let cfg = parse(&demo_text(), &demo_file()).unwrap();
    assert_eq!(
        cfg.operator.unwrap().listen,
        "127.0.0.1:9444".parse().unwrap()
    );
    assert!(!cfg.limits.emergency);
    assert_eq!(cfg.limits.emergency_factor, 3.0);
    let op = "listen = \"127.0.0.1:9444\"";
    for public in ["0.0.0.0:9444", "192.0.2.7:9444", "[::]:9444"] {
        let (key, msg) = refused(op, &format!("listen = \"{public}\""));
        assert_eq!(key, "operator.listen");
        assert!(msg.contains("loopback"), "{msg}");
    }
    assert!(
        parse(
            &demo_text().replace(op, "listen = \"[::1]:9444\""),
            &demo_file()
        )
        .is_ok()
    );
    for bad in ["0.5", "0.0", "101.0", "nan"] {
        let (key, _) = refused(
            "emergency_factor = 3.0",
            &format!("emergency_factor = {bad}"),
        );
        assert_eq!(key, "limits.emergency_factor", "{bad}");
    }
}

#[test]
fn liaison_tokens_belong_to_property_units_and_are_hashes() {
    let cfg = load(&demo_file()).unwrap();
    let unit = cfg.partner("pu-military-001").unwrap();
    assert_eq!(unit.liaison_tokens.len(), 1);
    assert_eq!(unit.liaison_tokens[0].name, "赵永刚");
    assert!(unit.liaison_tokens[0].matches("demo-liaison-military-001"));
    assert!(!unit.liaison_tokens[0].matches("demo-liaison-military-002"));
    assert!(
        !format!("{unit:?}").contains("54d719be"),
        "hash not in Debug"
    );

    let (key, _) = refused(
        "id = \"bj12345\"              # Beijing 12345, the hub",
        "id = \"bj12345\"\nliaison_tokens = [{ name = \"x\", token_sha256 = \"54d719be018fc1744e758cc3b5d5bba5a882afa08ea90a751987b3ff396148a6\" }]",
    );
    assert_eq!(key, "partners[0].liaison_tokens");
    let (key, _) = refused(
        "token_sha256 = \"54d719be",
        "x = \"1\", token_sha256 = \"54d719be",
    );
    assert_eq!(key, "partners[4].liaison_tokens[0].x");
    let (key, msg) = refused(
        "\"54d719be018fc1744e758cc3b5d5bba5a882afa08ea90a751987b3ff396148a6\"",
        "\"demo-liaison-military-001\"",
    );
    assert_eq!(key, "partners[4].liaison_tokens[0].token_sha256", "{msg}");
    let (key, msg) = refused("token_sha256 = \"54d719be", "token_sha256 = \"54D719BE");
    assert_eq!(key, "partners[4].liaison_tokens[0].token_sha256", "{msg}");
    let (key, _) = refused("name = \"赵永刚\"", "name = \" \"");
    assert_eq!(key, "partners[4].liaison_tokens[0].name");
}
