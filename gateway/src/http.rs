//! HTTP plumbing shared by the gateway's listener, its delivery client and
//! the simulated partners: an HTTPS (or, for development, plain) accept
//! loop serving HTTP/1.1 and HTTP/2 with the peer's certificate identity
//! attached, and an HTTPS client with a client certificate.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

/// Response bodies are always whole.
pub type Body = Full<Bytes>;

/// Who is on the other end of a connection.
#[derive(Clone, Debug)]
pub struct Peer {
    /// The subject CN of the client certificate, when one was presented and
    /// verified against the partner CA.
    pub identity: Option<String>,
    /// The remote address.
    pub addr: SocketAddr,
}

/// Listener limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Time allowed to receive a request's headers. For HTTP/1.1 the clock
    /// also runs while a kept-alive connection waits for its next request,
    /// so it bounds idle connections too.
    pub header_timeout: Duration,
    /// HTTP/2: a connection whose peer stays silent this long is pinged,
    /// and closed when the ping goes unanswered within `header_timeout`.
    pub idle_timeout: Duration,
    /// Requests served at once across all connections.
    pub max_concurrent: usize,
}

/// Serves `handler` on `listener` until `shutdown` flips to true, then
/// stops accepting and lets open connections finish.
pub async fn serve<H, F>(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: Limits,
    handler: H,
    mut shutdown: watch::Receiver<bool>,
) where
    H: Fn(Request<Incoming>, Arc<Peer>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let permits = Arc::new(Semaphore::new(limits.max_concurrent.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let (tcp, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let handler = handler.clone();
        let permits = permits.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            builder
                .http2()
                .timer(TokioTimer::new())
                .keep_alive_interval(limits.idle_timeout)
                .keep_alive_timeout(limits.header_timeout);
            let serve = |identity: Option<String>| {
                let peer = Arc::new(Peer { identity, addr });
                hyper::service::service_fn(move |req| {
                    let handler = handler.clone();
                    let peer = peer.clone();
                    let permits = permits.clone();
                    async move {
                        // Bound the requests in flight; excess waits here.
                        let _permit = permits.acquire_owned().await;
                        Ok::<_, Infallible>(handler(req, peer).await)
                    }
                })
            };
            match acceptor {
                Some(acceptor) => {
                    let tls =
                        match tokio::time::timeout(limits.header_timeout, acceptor.accept(tcp))
                            .await
                        {
                            Ok(Ok(tls)) => tls,
                            Ok(Err(e)) => {
                                tracing::debug!(%addr, error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => return,
                        };
                    let identity = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(crate::tls::peer_identity);
                    let conn = builder.serve_connection(TokioIo::new(tls), serve(identity));
                    let _ = watcher.watch(conn.into_owned()).await;
                }
                None => {
                    let conn = builder.serve_connection(TokioIo::new(tcp), serve(None));
                    let _ = watcher.watch(conn.into_owned()).await;
                }
            }
        });
    }
    graceful.shutdown().await;
}

/// Reads a request body, refusing more than `limit` bytes.
pub async fn read_body(body: Incoming, limit: usize) -> Result<Bytes, BodyError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge),
        Err(e) => Err(BodyError::Read(e.to_string())),
    }
}

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Over the size limit.
    #[error("body is over the size limit")]
    TooLarge,
    /// The connection failed mid-body.
    #[error("reading the body failed: {0}")]
    Read(String),
}

/// A response with a body and a content type.
pub fn respond(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = status;
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    resp
}

/// An HTTPS client presenting a client certificate.
#[derive(Clone)]
pub struct Client {
    inner: hyper_util::client::legacy::Client<
        hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
        Body,
    >,
    timeout: Duration,
}

/// A partner's answer.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// Headers (Retry-After...).
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL or a header is malformed.
    #[error("bad request: {0}")]
    Request(String),
    /// Connection, TLS or protocol failure.
    #[error("{0}")]
    Transport(String),
    /// No answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

impl Client {
    /// A client using `tls` (with the client certificate and trust roots);
    /// plain `http://` URLs are allowed only when `allow_plain`.
    pub fn new(mut tls: rustls::ClientConfig, allow_plain: bool, timeout: Duration) -> Client {
        // hyper-rustls sets ALPN itself from the enabled HTTP versions.
        tls.alpn_protocols.clear();
        let builder = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls);
        let builder = if allow_plain {
            builder.https_or_http()
        } else {
            builder.https_only()
        };
        // TCP_NODELAY: a request goes out as TLS records written one after
        // the other; with Nagle's algorithm the second waits for the peer's
        // delayed ACK (40 ms on Linux), which capped deliveries near 20 a
        // second per connection (see BENCHMARKS.md).
        let mut tcp = hyper_util::client::legacy::connect::HttpConnector::new();
        tcp.set_nodelay(true);
        tcp.enforce_http(false);
        let connector = builder.enable_http1().enable_http2().wrap_connector(tcp);
        let inner = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Client { inner, timeout }
    }

    /// POSTs `body` to `url` with `headers`.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Reply, ClientError> {
        self.send("POST", url, headers, body).await
    }

    /// Sends one request and reads the whole answer.
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Reply, ClientError> {
        let mut req = Request::builder().method(method).uri(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| ClientError::Request(e.to_string()))?;
        let exchange = async {
            let resp = self
                .inner
                .request(req)
                .await
                .map_err(|e| ClientError::Transport(error_chain(&e)))?;
            let (parts, body) = resp.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| ClientError::Transport(e.to_string()))?
                .to_bytes();
            Ok(Reply {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| ClientError::Timeout(self.timeout))?
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
