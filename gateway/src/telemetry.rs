//! Logs and spans: the process's one `tracing` subscriber.
//!
//! Log lines (text or JSON, `[telemetry] log_format` or `serve
//! --log-json`) go to standard error, filtered by `RUST_LOG` (else the
//! caller's default). With `[telemetry] otlp_endpoint`, the gateway's
//! spans (target `gateway`, INFO and above, whatever `RUST_LOG` says) are
//! also exported over OTLP/gRPC: batched by the OpenTelemetry SDK on a
//! thread of its own, so a request never waits for the collector. When the
//! collector is down or slow, exports fail after `export_timeout` and the
//! batch queue (2048 spans) drops what does not fit: spans are lost,
//! hand-offs never are. [`Telemetry::shutdown`] flushes what is queued.
//!
//! Every span is sampled: the gateway keeps the trace of every hand-off
//! whatever the partner's `traceparent` flags say ([`crate::trace`]).

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::OtlpConfig;

/// The span export of a running process; dropping it does not flush.
#[must_use = "call shutdown() to flush the spans still queued"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// True when spans are exported.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports the spans queued so far, waiting for the collector (at
    /// most the export timeout). Blocks, as [`Telemetry::shutdown`].
    pub fn flush(&self) {
        if let Some(provider) = &self.provider
            && let Err(e) = provider.force_flush()
        {
            tracing::warn!(error = %e, "OTLP export: spans may be lost");
        }
    }

    /// Exports the spans still queued (waiting at most the export
    /// timeout) and stops the exporter. Blocks: call it outside async
    /// code, with the runtime still running (the gRPC connection lives on
    /// it).
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(e) = provider.shutdown()
        {
            tracing::warn!(error = %e, "OTLP export: the last spans may be lost");
        }
    }
}

/// Why telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter could not be built.
    #[error("telemetry.otlp_endpoint: cannot set up the exporter: {0}")]
    Exporter(String),
    /// A subscriber was set for this process already.
    #[error("logging was set up already in this process")]
    AlreadySet,
}

/// Sets up logging (`RUST_LOG`, else `default_filter`; JSON lines when
/// `json`) and, with `otlp`, span export. Once per process. With `otlp`
/// it must be called inside a Tokio runtime, which must outlive the
/// returned [`Telemetry`].
pub fn init(
    default_filter: &str,
    json: bool,
    otlp: Option<&OtlpConfig>,
) -> Result<Telemetry, TelemetryError> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let lines = if json {
        lines.json().with_filter(filter).boxed()
    } else {
        lines.with_filter(filter).boxed()
    };
    let provider = otlp.map(provider).transpose()?;
    let export = provider.as_ref().map(|p| {
        // No `target` attribute of the code's module: the spans' own
        // `target` is the hand-off's target partner.
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("gateway"))
            .with_target(false)
            .with_threads(false)
            .with_filter(Targets::new().with_target("gateway", LevelFilter::INFO))
    });
    let set = tracing_subscriber::registry()
        .with(lines)
        .with(export)
        .try_init();
    if set.is_err() {
        if let Some(p) = provider {
            let _ = p.shutdown();
        }
        return Err(TelemetryError::AlreadySet);
    }
    Ok(Telemetry { provider })
}

/// The batch exporter toward `otlp`.
fn provider(otlp: &OtlpConfig) -> Result<SdkTracerProvider, TelemetryError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(otlp.endpoint.clone())
        .with_timeout(otlp.export_timeout)
        .build()
        .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(Sampler::AlwaysOn)
        .with_resource(
            Resource::builder()
                .with_service_name(otlp.service_name.clone())
                .build(),
        )
        .build())
}
