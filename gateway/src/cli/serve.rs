//! `gateway serve` and `gateway demo`.

use std::path::Path;
use std::process::ExitCode;

use crate::config::LogFormat;
use crate::{config, demo, server, telemetry};

/// Sets up logging only (no span export): `RUST_LOG`, else `default`;
/// text or JSON lines. A second call changes nothing.
pub fn init_logging(default: &str, json: bool) {
    let _ = telemetry::init(default, json, None);
}

/// A multi-threaded runtime, or the reason there is none.
pub fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the runtime: {e}");
            ExitCode::from(2)
        })
}

/// Runs the gateway until Ctrl-C or SIGTERM; then flushes the spans still
/// queued for export.
pub fn serve(file: &Path, log_json: bool) -> ExitCode {
    let cfg = match config::load(file) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let json = log_json || cfg.telemetry.log_format == LogFormat::Json;
    // The exporter's gRPC connection runs on this runtime.
    let telemetry = {
        let _entered = rt.enter();
        match telemetry::init("info", json, cfg.telemetry.otlp.as_ref()) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        }
    };
    if let Some(otlp) = &cfg.telemetry.otlp {
        tracing::info!(endpoint = %otlp.endpoint, service = %otlp.service_name, "exporting spans over OTLP");
    }
    let code = rt.block_on(async {
        let running = match server::start(cfg).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        };
        wait_for_stop().await;
        tracing::info!("stopping: finishing open requests");
        running.stop().await;
        ExitCode::SUCCESS
    });
    telemetry.shutdown();
    code
}

async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Runs the demo.
pub fn demo(keep_running: bool) -> ExitCode {
    // The demo prints its own story; logs only for trouble.
    init_logging("warn", false);
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match rt.block_on(demo::run(keep_running)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo failed: {e}");
            ExitCode::from(1)
        }
    }
}
