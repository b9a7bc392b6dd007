//! Tests of the parent module.

use super::*;

fn parse(text: &str) -> Result<TelemetryConfig, Problem> {
    build(toml::from_str(text).unwrap())
}

#[test]
fn export_is_off_by_default_and_the_endpoint_turns_it_on() {
    assert_eq!(parse("").unwrap(), TelemetryConfig::default());
    let on = parse("otlp_endpoint = \"http://127.0.0.1:4317\"\nlog_format = \"json\"").unwrap();
    assert_eq!(on.log_format, LogFormat::Json);
    let otlp = on.otlp.unwrap();
    assert_eq!(otlp.endpoint, "http://127.0.0.1:4317");
    assert_eq!(otlp.service_name, DEFAULT_SERVICE_NAME);
    assert_eq!(otlp.export_timeout, Duration::from_secs(5));
}

#[test]
fn bad_values_name_their_key() {
    for (text, key) in [
        (
            "otlp_endpoint = \"https://collector:4317\"",
            "telemetry.otlp_endpoint",
        ),
        (
            "otlp_endpoint = \"http://collector\"",
            "telemetry.otlp_endpoint",
        ),
        (
            "otlp_endpoint = \"collector:4317\"",
            "telemetry.otlp_endpoint",
        ),
        (
            "otlp_endpoint = \"http://c:4317/v1/traces\"",
            "telemetry.otlp_endpoint",
        ),
        ("service_name = \"gw\"", "telemetry.otlp_endpoint"),
        (
            "otlp_endpoint = \"http://c:4317\"\nservice_name = \"\"",
            "telemetry.service_name",
        ),
        (
            "otlp_endpoint = \"http://c:4317\"\nexport_timeout = \"2m\"",
            "telemetry.export_timeout",
        ),
    ] {
        assert_eq!(parse(text).unwrap_err().0, key, "{text}");
    }
    assert!(toml::from_str::<RawTelemetry>("log_format = \"xml\"").is_err());
}
