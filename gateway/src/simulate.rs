//! Simulated partners: real HTTPS servers and clients that speak a
//! partner's own wire format, for `gateway demo` and the integration tests.
//!
//! A simulated push partner (bj-json, tj-xml, hb-soap, ent-json) receives
//! deliveries on its own paths, checks them with the partner's decoder,
//! answers with its own ticket id in its own reply format, and records what
//! it got. With `auto_work` on, it then works the ticket like an agent would
//! (accepted → in_progress → resolved, posted to the gateway in its own
//! format) and, as an origin, closes a hand-off once it is resolved.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use adapters::Family;
use bytes::Bytes;
use chrono::Utc;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use schemas::{Satisfaction, Status, StatusUpdate, Tables};
use tokio::sync::{Mutex, broadcast, watch};

use crate::http::{Body, Client, Limits, Peer, read_body, respond};
use crate::wire::{self, Kind};

/// Something a simulated partner saw or did.
#[derive(Clone, Debug)]
pub enum SimEvent {
    /// A delivery arrived and decoded in the partner's format.
    Received {
        /// The partner.
        partner: String,
        /// Ticket or status.
        kind: Kind,
        /// The hand-off reference it carried.
        handoff_id: Option<String>,
        /// The status, for a status update.
        status: Option<Status>,
        /// The partner's own ticket id given in the reply (tickets).
        own_id: Option<String>,
    },
    /// A delivery did not decode: the gateway sent something wrong.
    Rejected {
        /// The partner.
        partner: String,
        /// Why.
        error: String,
    },
    /// The partner posted a status to the gateway.
    Sent {
        /// The partner.
        partner: String,
        /// The hand-off.
        handoff_id: String,
        /// The status sent.
        status: Status,
        /// The gateway's HTTP status.
        http_status: u16,
    },
}

/// A message as the partner received it.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// Ticket or status.
    pub kind: Kind,
    /// The raw bytes, exactly as received.
    pub body: Bytes,
    /// Content-Type header.
    pub content_type: Option<String>,
    /// The W3C `traceparent` header, as sent.
    pub traceparent: Option<String>,
    /// When it arrived (after its body was read).
    pub at: std::time::Instant,
}

/// One simulated partner.
pub struct SimPartner {
    /// Partner id (`bj12345`, `hb-131000`...).
    pub id: String,
    /// Its format family.
    pub family: Family,
    /// Its division, for hb-soap's SenderCode.
    pub division: Option<String>,
    tables: Arc<Tables>,
    gateway: Client,
    gateway_url: String,
    received: Mutex<Vec<Delivery>>,
    counter: AtomicU64,
    down: AtomicBool,
    /// How long it takes to accept a delivery, in ms (a slow partner).
    latency_ms: AtomicU64,
    /// Deliveries being handled now, and the most ever at once.
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    auto_work: bool,
    step_delay: Duration,
    events: broadcast::Sender<SimEvent>,
}

impl SimPartner {
    /// A partner that talks to the gateway at `gateway_url` with `gateway`
    /// (a client holding this partner's certificate).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: &str,
        family: Family,
        division: Option<String>,
        tables: Arc<Tables>,
        gateway: Client,
        gateway_url: &str,
        auto_work: bool,
        events: broadcast::Sender<SimEvent>,
    ) -> Arc<SimPartner> {
        Arc::new(SimPartner {
            id: id.to_owned(),
            family,
            division,
            tables,
            gateway,
            gateway_url: gateway_url.trim_end_matches('/').to_owned(),
            received: Mutex::new(Vec::new()),
            counter: AtomicU64::new(0),
            down: AtomicBool::new(false),
            latency_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            auto_work,
            step_delay: Duration::from_millis(150),
            events,
        })
    }

    /// Everything received so far, in order.
    pub async fn received(&self) -> Vec<Delivery> {
        self.received.lock().await.clone()
    }

    /// Takes the partner's server down (503 with Retry-After) or back up.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Makes the partner take `latency` to accept each delivery (before it
    /// records it), like a partner whose own system is slow.
    pub fn set_latency(&self, latency: Duration) {
        let ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        self.latency_ms.store(ms, Ordering::SeqCst);
    }

    /// The most deliveries this partner has handled at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    /// Serves deliveries on `listener` until `shutdown`.
    pub async fn serve(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
        tls: Arc<rustls::ServerConfig>,
        shutdown: watch::Receiver<bool>,
    ) {
        let limits = Limits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_concurrent: 64,
        };
        let me = self.clone();
        crate::http::serve(
            listener,
            Some(tls),
            limits,
            move |req, peer| {
                let me = me.clone();
                async move { me.handle(req, peer).await }
            },
            shutdown,
        )
        .await;
    }

    async fn handle(self: Arc<Self>, req: Request<Incoming>, _peer: Arc<Peer>) -> Response<Body> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let latency = self.latency_ms.load(Ordering::SeqCst);
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
        let resp = self.clone().accept(req).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        resp
    }

    async fn accept(self: Arc<Self>, req: Request<Incoming>) -> Response<Body> {
        if self.down.load(Ordering::SeqCst) {
            let mut resp = respond(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                "down for maintenance",
            );
            resp.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from_static("1"),
            );
            return resp;
        }
        let path = req.uri().path().to_owned();
        let content_type = req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let soap_action = req
            .headers()
            .get("soapaction")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let traceparent = req
            .headers()
            .get(crate::trace::HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = match read_body(req.into_body(), 1 << 20).await {
            Ok(b) => b,
            Err(e) => return respond(StatusCode::BAD_REQUEST, "text/plain", e.to_string()),
        };
        let kind = match self.family {
            Family::HbSoap => match soap_action.as_deref() {
                Some("\"PushWorkOrder\"") => Kind::Ticket,
                Some("\"PushFeedback\"") => Kind::Status,
                _ => return respond(StatusCode::BAD_REQUEST, "text/plain", "unknown SOAPAction"),
            },
            _ if path.ends_with("/status") => Kind::Status,
            _ => Kind::Ticket,
        };
        let decoded = match kind {
            Kind::Ticket => adapters::decode_ticket(self.family, &body, &self.tables)
                .map(|t| (t.handoff_id, None)),
            Kind::Status => adapters::decode_status(self.family, &body, &self.tables)
                .map(|s| (s.handoff_id.clone(), Some(s))),
        };
        let (handoff_id, status) = match decoded {
            Ok(v) => v,
            Err(e) => {
                let _ = self.events.send(SimEvent::Rejected {
                    partner: self.id.clone(),
                    error: e.to_string(),
                });
                let body =
                    adapters::encode_error(self.family, 400, "invalid delivery", &e.field_errors());
                return respond(
                    StatusCode::BAD_REQUEST,
                    adapters::error_content_type(self.family),
                    body,
                );
            }
        };
        self.received.lock().await.push(Delivery {
            kind,
            body: body.clone(),
            content_type,
            traceparent,
            at: std::time::Instant::now(),
        });
        let own_id = (kind == Kind::Ticket).then(|| {
            format!(
                "SIM-{}-{}",
                self.id,
                self.counter.fetch_add(1, Ordering::SeqCst) + 1
            )
        });
        let _ = self.events.send(SimEvent::Received {
            partner: self.id.clone(),
            kind,
            handoff_id: handoff_id.clone(),
            status: status.as_ref().map(|s| s.status),
            own_id: own_id.clone(),
        });
        if self.auto_work
            && let Some(handoff) = handoff_id.clone()
        {
            let me = self.clone();
            match (kind, status.as_ref().map(|s| s.status)) {
                (Kind::Ticket, _) => {
                    let own = own_id.clone().unwrap_or_default();
                    tokio::spawn(async move { me.work(handoff, own).await });
                }
                (Kind::Status, Some(Status::Resolved)) => {
                    let own = status.and_then(|s| s.ticket_id).unwrap_or_default();
                    tokio::spawn(async move { me.close(handoff, own).await });
                }
                _ => {}
            }
        }
        let reply = self.reply(kind, own_id.as_deref(), handoff_id.as_deref());
        respond(StatusCode::OK, self.family.content_type(), reply)
    }

    /// The partner's answer to a delivery, in its own format.
    fn reply(&self, kind: Kind, own_id: Option<&str>, handoff: Option<&str>) -> Vec<u8> {
        let own = own_id.unwrap_or_default();
        match self.family {
            Family::BjJson => match kind {
                Kind::Ticket => serde_json::json!({"code": 0, "data": {"orderNo": own}}),
                Kind::Status => serde_json::json!({"code": 0, "msg": "ok"}),
            }
            .to_string()
            .into_bytes(),
            Family::EntJson => match kind {
                Kind::Ticket => serde_json::json!({"ticket_id": own}),
                Kind::Status => serde_json::json!({}),
            }
            .to_string()
            .into_bytes(),
            Family::TjXml => {
                let mut w = adapters::xml::Writer::new(adapters::xml::Charset::Utf8);
                w.open("Ack", &[("xmlns", "urn:tj12345:appeal:1")]);
                if kind == Kind::Ticket {
                    w.text("AppealId", &[], own);
                }
                w.finish_bytes(adapters::xml::Charset::Utf8)
            }
            Family::HbSoap => {
                let charset = adapters::xml::Charset::Gb18030;
                let mut w = adapters::xml::Writer::new(charset);
                w.open(
                    "soap:Envelope",
                    &[("xmlns:soap", "http://schemas.xmlsoap.org/soap/envelope/")],
                );
                w.open("soap:Body", &[]);
                let op = match kind {
                    Kind::Ticket => "PushWorkOrderResponse",
                    Kind::Status => "PushFeedbackResponse",
                };
                w.open(op, &[("xmlns", "urn:hebei12345:ws")]);
                w.text("FHDM", &[], "0");
                w.text("FHXX", &[], "接收成功");
                if let Some(h) = handoff {
                    w.text("WGBH", &[], h);
                }
                if kind == Kind::Ticket {
                    w.text("GDBH", &[], own);
                }
                w.finish_bytes(charset)
            }
            _ => Vec::new(),
        }
    }

    /// Works a received ticket: accepted, in progress, resolved.
    async fn work(self: Arc<Self>, handoff: String, own_id: String) {
        let steps = [
            (Status::Accepted, "已签收，派承办单位办理"),
            (Status::InProgress, "承办单位已到场处置"),
            (Status::Resolved, "已处置完毕并回复来电人"),
        ];
        for (status, comment) in steps {
            tokio::time::sleep(self.step_delay).await;
            let update = self.status(&handoff, &own_id, status, comment, None);
            self.post_status(&handoff, update).await;
        }
    }

    /// Closes a resolved hand-off as its origin, with the caller satisfied.
    async fn close(self: Arc<Self>, handoff: String, own_id: String) {
        tokio::time::sleep(self.step_delay).await;
        let update = self.status(
            &handoff,
            &own_id,
            Status::Closed,
            "已回访来电人，办结",
            Some(Satisfaction::Satisfied),
        );
        self.post_status(&handoff, update).await;
    }

    fn status(
        &self,
        handoff: &str,
        ticket_id: &str,
        status: Status,
        comment: &str,
        satisfaction: Option<Satisfaction>,
    ) -> StatusUpdate {
        let mut extensions = std::collections::BTreeMap::new();
        if let Some(d) = &self.division
            && self.family == Family::HbSoap
        {
            extensions.insert("hb.sender_code".to_owned(), d.clone());
        }
        StatusUpdate {
            handoff_id: Some(handoff.to_owned()),
            ticket_id: (!ticket_id.is_empty()).then(|| ticket_id.to_owned()),
            status,
            at: Utc::now().with_timezone(&adapters::time::beijing()),
            by: Some(format!("{} 模拟坐席", self.id)),
            reason_code: None,
            comment: Some(comment.to_owned()),
            satisfaction,
            extensions,
        }
    }

    /// Posts a status update to the gateway in this partner's format.
    pub async fn post_status(&self, handoff: &str, update: StatusUpdate) {
        let status = update.status;
        let http_status = match adapters::encode_status(self.family, &update, &self.tables) {
            Ok(encoded) => match self.submit(Kind::Status, encoded.bytes).await {
                Ok(reply) => reply.status.as_u16(),
                Err(_) => 0,
            },
            Err(_) => 0,
        };
        let _ = self.events.send(SimEvent::Sent {
            partner: self.id.clone(),
            handoff_id: handoff.to_owned(),
            status,
            http_status,
        });
    }

    /// Posts a message of this partner's family to the gateway.
    pub async fn submit(
        &self,
        kind: Kind,
        body: Vec<u8>,
    ) -> Result<crate::http::Reply, crate::http::ClientError> {
        let path = wire::inbound_path(self.family, kind).unwrap_or("/");
        let url = format!("{}{path}", self.gateway_url);
        let mut headers = vec![("content-type", self.family.content_type())];
        if self.family == Family::HbSoap {
            headers.push(("soapaction", wire::soap_action(kind)));
        }
        self.gateway.post(&url, &headers, Bytes::from(body)).await
    }
}
