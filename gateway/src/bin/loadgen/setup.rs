//! What the load generator starts: the real `gateway serve` binary with a
//! configuration written to a temporary directory, and nginx as an HTTPS
//! reverse proxy in front of a simulated partner.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::drive::Fail;

/// A free loopback port.
pub fn free_port() -> Result<u16, Fail> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The demo configuration with absolute paths, the gateway on `port`, its
/// operator listener on `operator_port`, its store in `dir`, the simulated
/// partners' `endpoints` (configured → actual) and no rate limits (a load
/// test of the gateway, not of the limits); `in_flight` replaces the demo's
/// `delivery.in_flight`.
pub fn write_config(
    repo: &Path,
    dir: &Path,
    port: u16,
    operator_port: u16,
    endpoints: &[(String, String)],
    in_flight: Option<usize>,
) -> Result<PathBuf, Fail> {
    let certs = repo.join("certs-example");
    let mut text = gateway::network::demo_config_text(&certs, &certs, &dir.join("gateway.db"))?;
    text = text.replace("127.0.0.1:8443", &format!("127.0.0.1:{port}"));
    // The demo's operator listener, which the line above left on port 0.
    text = text.replace(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:{operator_port}\""),
    );
    for (configured, actual) in endpoints {
        text = text.replace(configured, actual);
    }
    text = text
        .lines()
        .filter(|l| !l.starts_with("rate = ") && !l.starts_with("deliver_rate = "))
        .map(|l| match in_flight {
            Some(n) if l.starts_with("in_flight = ") => format!("in_flight = {n}\n"),
            _ => format!("{l}\n"),
        })
        .collect();
    let file = dir.join("gateway.toml");
    std::fs::write(&file, text)?;
    Ok(file)
}

/// Starts `gateway serve --config file`.
pub fn spawn_gateway(bin: &Path, file: &Path) -> Result<Child, Fail> {
    Ok(Command::new(bin)
        .args(["serve", "--config"])
        .arg(file)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("{}: {e}", bin.display()))?)
}

/// Waits until something accepts TCP connections on `port`.
pub async fn wait_listening(port: u16, what: &str) -> Result<(), Fail> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("{what} did not come up on port {port}").into())
}

/// A field of `/proc/<pid>/status` in KiB (`VmHWM`, `VmRSS`).
pub fn proc_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| {
        l.strip_prefix(field)?
            .strip_prefix(':')?
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse()
            .ok()
    })
}

/// CPU time (user + system) process `pid` has used so far, in seconds.
/// `/proc/PID/stat` counts it in clock ticks: 100 a second on Linux here
/// (`getconf CLK_TCK`).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    const TICKS_PER_SECOND: f64 = 100.0;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count from after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SECOND)
}

/// nginx as an HTTPS reverse proxy on `port` (client certificates verified
/// against the partner CA, like the gateway) in front of `upstream`
/// (`127.0.0.1:PORT`, HTTPS), run in the foreground from `dir`.
pub fn spawn_nginx(
    nginx: &Path,
    repo: &Path,
    dir: &Path,
    port: u16,
    upstream: &str,
    workers: usize,
) -> Result<Child, Fail> {
    let certs = repo.join("certs-example");
    let d = dir.display();
    let user = if is_root() { "user root;\n" } else { "" };
    let conf = format!(
        "{user}worker_processes {workers};
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  keepalive_requests 1000000;
  upstream sim {{ server {upstream}; keepalive 256; }}
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_client_certificate {ca};
    ssl_verify_client on;
    location / {{
      proxy_pass https://sim;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_ssl_session_reuse on;
    }}
  }}
}}
",
        cert = certs.join("gateway-server.pem").display(),
        key = certs.join("gateway-server.key").display(),
        ca = certs.join("ca.pem").display(),
    );
    let file = dir.join("nginx.conf");
    std::fs::write(&file, conf)?;
    Ok(Command::new(nginx)
        .arg("-c")
        .arg(&file)
        .arg("-p")
        .arg(dir)
        .args(["-g", "daemon off;"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("{}: {e}", nginx.display()))?)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

/// The gateway's own receipt timing (request in to receipt out), from the
/// `gateway_receipt_seconds` histogram its operator listener serves on
/// `operator_port`: the share of receipts within each bucket up to 10 ms
/// and the mean. Unlike the load generator's figures it leaves out the
/// time requests and answers wait for the load generator's own threads.
pub async fn gateway_receipts(operator_port: u16) -> Result<String, Fail> {
    let operator = ([127, 0, 0, 1], operator_port).into();
    let (status, text) = tokio::task::spawn_blocking(move || {
        gateway::cli::limits::call(operator, "GET", "/metrics")
    })
    .await??;
    if status != 200 {
        return Err(format!("GET /metrics answered {status}").into());
    }
    let value = |line: &str| line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok());
    let mut buckets = Vec::new();
    let (mut sum, mut count) = (0.0, 0.0);
    for line in text.lines().filter(|l| l.contains("family=\"bj-json\"")) {
        if let Some(rest) = line.strip_prefix("gateway_receipt_seconds_bucket{") {
            let bound = rest.split("le=\"").nth(1).and_then(|b| b.split('"').next());
            if let (Some(bound), Some(n)) = (bound.and_then(|b| b.parse::<f64>().ok()), value(line))
            {
                buckets.push((bound, n));
            }
        } else if line.starts_with("gateway_receipt_seconds_sum{") {
            sum = value(line).unwrap_or(0.0);
        } else if line.starts_with("gateway_receipt_seconds_count{") {
            count = value(line).unwrap_or(0.0);
        }
    }
    if count == 0.0 {
        return Err("the gateway's metrics hold no receipt".into());
    }
    let shares: Vec<String> = buckets
        .iter()
        .filter(|(bound, _)| *bound <= 0.01)
        .map(|(bound, n)| format!("≤ {} ms {:.1} %", bound * 1e3, n * 100.0 / count))
        .collect();
    Ok(format!(
        "{}; mean {:.2} ms ({count} receipts)",
        shares.join(", "),
        sum * 1e3 / count
    ))
}
