//! Driving an HTTPS endpoint with mutual TLS over N kept-alive connections:
//! closed loop (N submitters, each waiting for its answer) or fixed rate
//! (R submissions a second, latency counted from the scheduled time so a
//! slow server cannot hide its queue).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::sync::Mutex;

/// A boxed error: this is a tool, failures end the run with a message.
pub type Fail = Box<dyn std::error::Error + Send + Sync>;

/// Where and what to submit.
#[derive(Clone)]
pub struct Target {
    /// `127.0.0.1:port`.
    pub addr: std::net::SocketAddr,
    /// Request path.
    pub path: String,
    /// The sample order; `BJ2025031200457` is replaced with a unique number.
    pub sample: Arc<String>,
    /// GET `path` without a body instead of posting the sample (the bare
    /// HTTPS exchange: `/healthz`).
    pub get: bool,
    /// HTTP/2 (one stream at a time per connection) instead of HTTP/1.1.
    pub h2: bool,
    /// The TLS client configuration (client certificate, CA).
    pub tls: Arc<rustls::ClientConfig>,
}

/// The client configuration of partner `id` of the certificate directory.
pub fn client_tls(certs: &Path, id: &str, h2: bool) -> Result<Arc<rustls::ClientConfig>, Fail> {
    let dir = certs.join("partners");
    let chain = CertificateDer::pem_file_iter(dir.join(format!("{id}.pem")))?
        .collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(dir.join(format!("{id}.key")))?;
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(certs.join("ca.pem"))? {
        roots.add(ca?)?;
    }
    let mut tls = rustls::ClientConfig::builder_with_provider(gateway::tls::provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)?;
    tls.alpn_protocols = vec![if h2 {
        b"h2".to_vec()
    } else {
        b"http/1.1".to_vec()
    }];
    Ok(Arc::new(tls))
}

/// One kept-alive connection.
enum Conn {
    H1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    H2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

async fn connect(target: &Target) -> Result<Conn, Fail> {
    let tcp = tokio::net::TcpStream::connect(target.addr).await?;
    tcp.set_nodelay(true)?;
    let connector = tokio_rustls::TlsConnector::from(target.tls.clone());
    let tls = connector
        .connect(ServerName::try_from("127.0.0.1")?.to_owned(), tcp)
        .await?;
    let io = TokioIo::new(tls);
    if target.h2 {
        let (send, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await?;
        tokio::spawn(conn);
        Ok(Conn::H2(send))
    } else {
        let (send, conn) = hyper::client::conn::http1::handshake(io).await?;
        tokio::spawn(conn);
        Ok(Conn::H1(send))
    }
}

/// One answered submission.
pub struct Sample {
    /// Receipt latency.
    pub latency: Duration,
    /// When the submission was due (closed loop: when it was sent).
    pub sent: Instant,
    /// HTTP status.
    pub status: u16,
    /// The body of the answer.
    pub body: Bytes,
}

async fn submit(conn: &mut Conn, target: &Target, seq: u64) -> Result<(u16, Bytes), Fail> {
    let req = if target.get {
        http::Request::get(&target.path)
            .header(http::header::HOST, "127.0.0.1")
            .body(Full::new(Bytes::new()))?
    } else {
        let body = target
            .sample
            .replace("BJ2025031200457", &format!("BJLG{seq:011}"));
        http::Request::post(&target.path)
            .header(http::header::HOST, "127.0.0.1")
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))?
    };
    let resp = match conn {
        Conn::H1(send) => {
            send.ready().await?;
            send.send_request(req).await?
        }
        Conn::H2(send) => {
            send.ready().await?;
            send.send_request(req).await?
        }
    };
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// Unique order numbers across the run (and across modes of one run).
static SEQ: AtomicU64 = AtomicU64::new(0);

fn next_seq(base: u64) -> u64 {
    base + SEQ.fetch_add(1, Ordering::Relaxed)
}

/// How to drive.
#[derive(Clone, Copy)]
pub enum Mode {
    /// N submitters, each sending again as soon as it has its answer,
    /// `count` submissions in all or for `duration`.
    Closed {
        /// Stop after this many (when set).
        count: Option<u64>,
        /// ... or after this long.
        duration: Duration,
    },
    /// `rate` per second for `duration`.
    Rate {
        /// Submissions a second.
        rate: f64,
        /// How long.
        duration: Duration,
    },
}

/// Drives `target` with `connections` connections; every answer is a
/// sample. `base` offsets the order numbers (a run's wall-clock seconds).
pub async fn run(
    target: &Target,
    connections: usize,
    mode: Mode,
    base: u64,
) -> Result<(Vec<Sample>, Duration), Fail> {
    let mut conns = Vec::with_capacity(connections);
    for _ in 0..connections {
        conns.push(connect(target).await?);
    }
    let samples = Arc::new(Mutex::new(Vec::<Sample>::new()));
    let started = Instant::now();
    let mut tasks = Vec::new();
    match mode {
        Mode::Closed { count, duration } => {
            let issued = Arc::new(AtomicU64::new(0));
            for mut conn in conns {
                let (target, samples, issued) = (target.clone(), samples.clone(), issued.clone());
                tasks.push(tokio::spawn(async move {
                    let mut mine = Vec::new();
                    loop {
                        if let Some(n) = count {
                            if issued.fetch_add(1, Ordering::Relaxed) >= n {
                                break;
                            }
                        } else if started.elapsed() >= duration {
                            break;
                        }
                        let sent = Instant::now();
                        let (status, body) = submit(&mut conn, &target, next_seq(base)).await?;
                        mine.push(Sample {
                            latency: sent.elapsed(),
                            sent,
                            status,
                            body,
                        });
                    }
                    samples.lock().await.append(&mut mine);
                    Ok::<_, Fail>(())
                }));
            }
        }
        Mode::Rate { rate, duration } => {
            let (tx, rx) = tokio::sync::mpsc::channel::<Instant>(1 << 20);
            let rx = Arc::new(Mutex::new(rx));
            // The schedule is kept by a thread of its own: the runtime's
            // timer wakes on whole milliseconds, so each submission left up
            // to 1 ms after its time, and that lateness (the generator's,
            // not the gateway's) was counted in its latency.
            tasks.push(tokio::task::spawn_blocking(move || {
                let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
                let mut k: u32 = 0;
                loop {
                    let due = started + interval * k;
                    if due.duration_since(started) >= duration {
                        break;
                    }
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                    if tx.blocking_send(due).is_err() {
                        break;
                    }
                    k += 1;
                }
                Ok(())
            }));
            for mut conn in conns {
                let (target, samples, rx) = (target.clone(), samples.clone(), rx.clone());
                tasks.push(tokio::spawn(async move {
                    let mut mine = Vec::new();
                    loop {
                        let due = rx.lock().await.recv().await;
                        let Some(due) = due else { break };
                        let (status, body) = submit(&mut conn, &target, next_seq(base)).await?;
                        mine.push(Sample {
                            latency: due.elapsed(),
                            sent: due,
                            status,
                            body,
                        });
                    }
                    samples.lock().await.append(&mut mine);
                    Ok::<_, Fail>(())
                }));
            }
        }
    }
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed();
    let samples = std::mem::take(&mut *samples.lock().await);
    Ok((samples, elapsed))
}

/// The `q` quantile (0..1) of sorted durations.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64) * q).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `p50 / p99 / p999` of `values`, in milliseconds.
pub fn percentiles(values: &mut [Duration]) -> String {
    values.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, p999 {:.2} ms, max {:.2} ms",
        ms(quantile(values, 0.50)),
        ms(quantile(values, 0.99)),
        ms(quantile(values, 0.999)),
        ms(values.last().copied().unwrap_or_default()),
    )
}
