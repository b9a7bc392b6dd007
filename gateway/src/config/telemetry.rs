//! `[telemetry]`: the log format and OpenTelemetry export. Optional; by
//! default logs are text lines and no span leaves the process.

use std::time::Duration;

use serde::Deserialize;

use super::build::Problem;
use super::duration;

/// How log lines are written (on standard error).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (`serve --log-json` too).
    Json,
}

/// `[telemetry]`, validated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TelemetryConfig {
    /// `log_format`: `"text"` (default) or `"json"`.
    pub log_format: LogFormat,
    /// OTLP export, when `otlp_endpoint` is set.
    pub otlp: Option<OtlpConfig>,
}

/// Where and as whom spans are exported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtlpConfig {
    /// `otlp_endpoint`: the collector's OTLP/gRPC address,
    /// `http://host:port`.
    pub endpoint: String,
    /// `service_name`: the `service.name` of the exported spans (default
    /// `jjj12345-gateway`).
    pub service_name: String,
    /// `export_timeout`: how long one export (and the flush at shutdown)
    /// may take (default 5s).
    pub export_timeout: Duration,
}

/// `[telemetry]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTelemetry {
    #[serde(default)]
    log_format: LogFormat,
    otlp_endpoint: Option<String>,
    service_name: Option<String>,
    #[serde(default, deserialize_with = "optional_duration")]
    export_timeout: Option<Duration>,
}

fn optional_duration<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    duration::deserialize(deserializer).map(Some)
}

/// The default `service.name`.
pub const DEFAULT_SERVICE_NAME: &str = "jjj12345-gateway";
/// The default `export_timeout`.
const DEFAULT_EXPORT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest export timeout: the flush at shutdown waits this long at
/// most when the collector is gone.
const MAX_EXPORT_TIMEOUT: Duration = Duration::from_secs(60);

fn problem(key: &str, message: impl Into<String>) -> Problem {
    (format!("telemetry.{key}"), message.into())
}

/// Checks `[telemetry]`: the endpoint is a plain `http://host:port` URL
/// (the exporter speaks gRPC without TLS, to a collector beside the
/// gateway), the service name is short printable text.
pub(super) fn build(raw: RawTelemetry) -> Result<TelemetryConfig, Problem> {
    let otlp = match raw.otlp_endpoint {
        None => {
            if raw.service_name.is_some() || raw.export_timeout.is_some() {
                return Err(problem(
                    "otlp_endpoint",
                    "is required when service_name or export_timeout is set",
                ));
            }
            None
        }
        Some(endpoint) => {
            check_endpoint(&endpoint).map_err(|m| problem("otlp_endpoint", m))?;
            let service_name = raw
                .service_name
                .unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_owned());
            if service_name.is_empty()
                || service_name.len() > 255
                || service_name.chars().any(char::is_control)
            {
                return Err(problem(
                    "service_name",
                    "must be 1 to 255 bytes of printable text",
                ));
            }
            let export_timeout = raw.export_timeout.unwrap_or(DEFAULT_EXPORT_TIMEOUT);
            if export_timeout > MAX_EXPORT_TIMEOUT {
                return Err(problem("export_timeout", "may be at most 60s"));
            }
            Some(OtlpConfig {
                endpoint,
                service_name,
                export_timeout,
            })
        }
    };
    Ok(TelemetryConfig {
        log_format: raw.log_format,
        otlp,
    })
}

fn check_endpoint(endpoint: &str) -> Result<(), String> {
    let uri: http::Uri = endpoint
        .parse()
        .map_err(|e| format!("{endpoint:?} is not a URL: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!(
            "{endpoint:?}: only http:// is supported (OTLP/gRPC without TLS, to a collector \
             on this host or its private network)"
        ));
    }
    let Some(authority) = uri.authority() else {
        return Err(format!("{endpoint:?} names no host"));
    };
    if authority.port_u16().is_none() {
        return Err(format!(
            "{endpoint:?} names no port (the OTLP/gRPC port is usually 4317)"
        ));
    }
    if uri.path() != "/" || uri.query().is_some() {
        return Err(format!("{endpoint:?}: give the host and port only"));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "telemetry_tests.rs"]
mod tests;
