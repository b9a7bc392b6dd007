//! `loadgen`: drives the real `gateway serve` binary over mutual TLS with
//! kept-alive connections, against simulated partners it starts itself, and
//! reports submissions per second, receipt latency, delivery latency (from
//! submission to the target's simulated server decoding the delivery) and
//! the gateway's peak RSS. See BENCHMARKS.md.
//!
//! Every submission is the Beijing sample order (`bj-json/order.json`, a
//! one-key transfer to Langfang, hb-soap) with a unique `orderNo`, posted
//! as partner `bj12345`.

mod drive;
mod setup;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use gateway::network::SimPartners;
use gateway::simulate::SimEvent;
use gateway::wire::Kind;
use tokio::sync::Mutex;

use drive::{Fail, Mode, Target};

#[derive(Parser)]
#[command(about = "Load generator for the 12345 gateway (see BENCHMARKS.md)")]
struct Cli {
    #[command(subcommand)]
    mode: Which,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct Common {
    /// Kept-alive connections (closed loop: concurrent submitters).
    #[arg(long, short = 'c', global = true, default_value_t = 32)]
    connections: usize,
    /// How long to drive, in seconds.
    #[arg(long, short = 'd', global = true, default_value_t = 10.0)]
    duration: f64,
    /// Use HTTP/2 (one stream at a time on each connection); nginx is
    /// always driven over HTTP/1.1.
    #[arg(long, global = true)]
    h2: bool,
    /// The gateway binary (default: `gateway` next to this one).
    #[arg(long, global = true)]
    gateway_bin: Option<PathBuf>,
    /// The checkout (certs-example/, schemas/data, the samples).
    #[arg(long, global = true, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/.."))]
    repo: PathBuf,
    /// How long each simulated partner takes to accept a delivery, in ms
    /// (a partner across a WAN with a slow system of its own).
    #[arg(long, global = true, default_value_t = 0)]
    partner_latency_ms: u64,
    /// Deliveries in flight to one partner at once (`delivery.in_flight`;
    /// default: the demo configuration's).
    #[arg(long, global = true)]
    in_flight: Option<usize>,
}

#[derive(Subcommand)]
enum Which {
    /// N submitters, each submitting again as soon as it has its receipt.
    Closed,
    /// A fixed rate, latency counted from each submission's scheduled time.
    Rate {
        /// Submissions a second.
        #[arg(long, short = 'r')]
        rate: f64,
    },
    /// The target (Langfang) down: submit `count` hand-offs, which all wait
    /// in the outbox, and report the gateway's peak RSS.
    Backlog {
        /// Hand-offs to submit.
        #[arg(long, default_value_t = 10_000)]
        count: u64,
    },
    /// Closed loop against the gateway, then its bare HTTPS exchange (GET
    /// /healthz), then nginx proxying to the simulated Beijing server, in
    /// the same run: the throughput ratios.
    Compare {
        /// The nginx binary.
        #[arg(long, default_value = "/usr/sbin/nginx")]
        nginx: PathBuf,
        /// nginx worker processes.
        #[arg(long, default_value_t = 2)]
        nginx_workers: usize,
    },
}

/// The partner submitting, and the one its tickets go to.
const ORIGIN: &str = "bj12345";
const TARGET: &str = "hb-131000";

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli).await {
        eprintln!("loadgen: {e}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> Result<(), Fail> {
    let common = &cli.common;
    let repo = common.repo.canonicalize()?;
    let certs = repo.join("certs-example");
    let dir = std::env::temp_dir().join(format!("gateway-loadgen-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let bin = match &common.gateway_bin {
        Some(b) => b.clone(),
        None => std::env::current_exe()?
            .parent()
            .ok_or("no directory of the executable")?
            .join("gateway"),
    };
    let port = setup::free_port()?;
    let operator_port = setup::free_port()?;
    let url = format!("https://127.0.0.1:{port}");

    let mut config = gateway::config::load(&certs.join("demo.toml"))?;
    let configured: Vec<(String, Option<String>)> = config
        .partners
        .iter()
        .map(|p| (p.id.clone(), p.endpoint.clone()))
        .collect();
    let sims = SimPartners::start(&mut config, &certs, &url, false).await?;
    for sim in sims.partners.values() {
        sim.set_latency(Duration::from_millis(common.partner_latency_ms));
    }
    let endpoints: Vec<(String, String)> = configured
        .into_iter()
        .filter_map(|(id, before)| Some((before?, config.partner(&id)?.endpoint.clone()?)))
        .collect();
    let file = setup::write_config(
        &repo,
        &dir,
        port,
        operator_port,
        &endpoints,
        common.in_flight,
    )?;

    // When each hand-off reached the target's server.
    let arrivals = Arc::new(Mutex::new(HashMap::<String, Instant>::new()));
    let mut events = sims.events.subscribe();
    let seen = arrivals.clone();
    let recorder = tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(SimEvent::Received {
                    partner,
                    kind: Kind::Ticket,
                    handoff_id: Some(id),
                    ..
                }) if partner == TARGET => {
                    seen.lock().await.insert(id, Instant::now());
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    eprintln!("loadgen: the delivery recorder missed {n} events");
                }
                Err(_) => break,
            }
        }
    });

    let mut child = setup::spawn_gateway(&bin, &file)?;
    let pid = child.id();
    let outcome = async {
        setup::wait_listening(port, "the gateway").await?;
        let sample = Arc::new(std::fs::read_to_string(
            repo.join("conformance-tests/samples/bj-json/order.json"),
        )?);
        let target = Target {
            addr: ([127, 0, 0, 1], port).into(),
            path: "/bj/v1/orders".to_owned(),
            sample: sample.clone(),
            get: false,
            h2: common.h2,
            tls: drive::client_tls(&certs, ORIGIN, common.h2)?,
        };
        let base = (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs()
            % 100_000)
            * 1_000_000;
        let duration = Duration::from_secs_f64(common.duration);
        let cap = |what: &str| setup::proc_kib(pid, what).map_or(0.0, |k| k as f64 / 1024.0);
        println!(
            "gateway pid {pid}, RSS after start {:.1} MiB; {} connections, HTTP/{}",
            cap("VmRSS"),
            common.connections,
            if common.h2 { "2" } else { "1.1" }
        );
        match &cli.mode {
            Which::Closed | Which::Compare { .. } => {
                let mode = Mode::Closed {
                    count: None,
                    duration,
                };
                let cpu_before = setup::cpu_seconds(pid);
                let (samples, elapsed) =
                    drive::run(&target, common.connections, mode, base).await?;
                let rate = report("gateway, closed loop", &samples, elapsed, 202);
                deliveries(&samples, &arrivals).await;
                cpu_per_handoff(
                    "submission, delivery and the status back",
                    pid,
                    cpu_before,
                    &samples,
                );
                println!("gateway peak RSS (VmHWM): {:.1} MiB", cap("VmHWM"));
                if let Which::Compare {
                    nginx,
                    nginx_workers,
                } = &cli.mode
                {
                    let nginx_rate = compare(
                        &repo,
                        &dir,
                        nginx,
                        *nginx_workers,
                        &config,
                        &target,
                        common.connections,
                        duration,
                        base + 500_000,
                    )
                    .await?;
                    // The gateway's bare HTTPS exchange, for scale: a hand-off
                    // is three of them (the submission, the delivery, the
                    // status back to the origin) besides its writes. After
                    // nginx: run before it, 400,000 exchanges took nginx's
                    // figure from 10,900-11,700 to 8,400/s.
                    let bare = Target {
                        path: "/healthz".to_owned(),
                        get: true,
                        ..target.clone()
                    };
                    let mode = Mode::Closed {
                        count: None,
                        duration,
                    };
                    let (samples, elapsed) =
                        drive::run(&bare, common.connections, mode, base).await?;
                    let bare_rate = report(
                        "gateway, GET /healthz (the bare exchange), closed loop",
                        &samples,
                        elapsed,
                        200,
                    );
                    let nginx_rate = nginx_rate.max(f64::MIN_POSITIVE);
                    println!(
                        "gateway / nginx throughput: {rate:.0} / {nginx_rate:.0} = {:.2}",
                        rate / nginx_rate
                    );
                    println!(
                        "gateway's bare exchange / nginx: {bare_rate:.0} / {nginx_rate:.0} = {:.2}",
                        bare_rate / nginx_rate
                    );
                }
            }
            Which::Rate { rate } => {
                let mode = Mode::Rate {
                    rate: *rate,
                    duration,
                };
                let (samples, elapsed) =
                    drive::run(&target, common.connections, mode, base).await?;
                report(
                    &format!("gateway, fixed rate {rate}/s"),
                    &samples,
                    elapsed,
                    202,
                );
                deliveries(&samples, &arrivals).await;
                println!("gateway peak RSS (VmHWM): {:.1} MiB", cap("VmHWM"));
            }
            Which::Backlog { count } => {
                if let Some(target) = sims.partners.get(TARGET) {
                    target.set_down(true);
                }
                let mode = Mode::Closed {
                    count: Some(*count),
                    duration: Duration::MAX,
                };
                let cpu_before = setup::cpu_seconds(pid);
                let (samples, elapsed) =
                    drive::run(&target, common.connections, mode, base).await?;
                report(
                    &format!("gateway, {count} hand-offs to a target that is down"),
                    &samples,
                    elapsed,
                    202,
                );
                cpu_per_handoff("submission only", pid, cpu_before, &samples);
                // Let the outbox try (and fail) for a while.
                tokio::time::sleep(Duration::from_secs(5)).await;
                println!(
                    "gateway RSS {:.1} MiB, peak RSS (VmHWM) {:.1} MiB with {} hand-offs waiting",
                    cap("VmRSS"),
                    cap("VmHWM"),
                    samples.iter().filter(|s| s.status == 202).count()
                );
            }
        }
        match setup::gateway_receipts(operator_port).await {
            Ok(line) => println!("  receipts timed by the gateway: {line}"),
            Err(e) => println!("  receipts timed by the gateway: unknown ({e})"),
        }
        Ok::<_, Fail>(())
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    recorder.abort();
    sims.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

/// Prints the gateway's CPU time since `before` per receipted hand-off: a
/// figure that does not depend on what else shares the machine (10,000
/// hand-offs a second on 2 cores needs at most 200 µs each).
fn cpu_per_handoff(what: &str, pid: u32, before: Option<f64>, samples: &[drive::Sample]) {
    let handoffs = samples.iter().filter(|s| s.status == 202).count();
    if let (Some(before), Some(after)) = (before, setup::cpu_seconds(pid))
        && handoffs > 0
    {
        let used = after - before;
        println!(
            "gateway CPU ({what}): {used:.1} s for {handoffs} hand-offs = {:.0} µs each",
            used * 1e6 / handoffs as f64
        );
    }
}

/// Prints throughput and receipt latency; returns successful submissions
/// a second.
fn report(what: &str, samples: &[drive::Sample], elapsed: Duration, ok: u16) -> f64 {
    let good: Vec<&drive::Sample> = samples.iter().filter(|s| s.status == ok).collect();
    let rate = good.len() as f64 / elapsed.as_secs_f64();
    println!(
        "{what}: {} answered {ok} in {:.2} s = {rate:.0}/s ({} other answers)",
        good.len(),
        elapsed.as_secs_f64(),
        samples.len() - good.len()
    );
    if let Some(bad) = samples.iter().find(|s| s.status != ok) {
        println!(
            "  first other answer: {} {}",
            bad.status,
            String::from_utf8_lossy(&bad.body)
        );
    }
    let mut latencies: Vec<Duration> = good.iter().map(|s| s.latency).collect();
    println!("  receipt latency: {}", drive::percentiles(&mut latencies));
    rate
}

/// Waits for the receipted hand-offs to reach the target and prints the
/// delivery latency from submission.
async fn deliveries(samples: &[drive::Sample], arrivals: &Mutex<HashMap<String, Instant>>) {
    let sent: Vec<(String, Instant)> = samples
        .iter()
        .filter(|s| s.status == 202)
        .filter_map(|s| {
            let v: serde_json::Value = serde_json::from_slice(&s.body).ok()?;
            Some((v["data"]["gatewayRef"].as_str()?.to_owned(), s.sent))
        })
        .collect();
    let waited = Instant::now();
    loop {
        let got = arrivals.lock().await.len();
        if got >= sent.len() || waited.elapsed() > Duration::from_secs(60) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let got = arrivals.lock().await;
    let mut latencies: Vec<Duration> = sent
        .iter()
        .filter_map(|(id, at)| Some(got.get(id)?.saturating_duration_since(*at)))
        .collect();
    println!(
        "  delivered {} of {} ({:.1} s after the load stopped): {}",
        latencies.len(),
        sent.len(),
        waited.elapsed().as_secs_f64(),
        drive::percentiles(&mut latencies)
    );
}

/// nginx in front of the simulated Beijing server, driven like the gateway.
#[allow(clippy::too_many_arguments)]
async fn compare(
    repo: &Path,
    dir: &Path,
    nginx: &Path,
    workers: usize,
    config: &gateway::config::Config,
    target: &Target,
    connections: usize,
    duration: Duration,
    base: u64,
) -> Result<f64, Fail> {
    let upstream = config
        .partner(ORIGIN)
        .and_then(|p| p.endpoint.clone())
        .ok_or("no simulated Beijing server")?;
    let upstream = upstream.trim_start_matches("https://").to_owned();
    let port = setup::free_port()?;
    let mut child = setup::spawn_nginx(nginx, repo, dir, port, &upstream, workers)?;
    let outcome = async {
        setup::wait_listening(port, "nginx").await?;
        let mut via = target.clone();
        via.addr = ([127, 0, 0, 1], port).into();
        via.h2 = false;
        via.tls = drive::client_tls(&repo.join("certs-example"), ORIGIN, false)?;
        let mode = Mode::Closed {
            count: None,
            duration,
        };
        let (samples, elapsed) = drive::run(&via, connections, mode, base).await?;
        Ok::<_, Fail>(report(
            "nginx → simulated bj12345 server, closed loop",
            &samples,
            elapsed,
            200,
        ))
    }
    .await;
    // SIGTERM: nginx's master stops its workers too (SIGKILL would not).
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    outcome
}
