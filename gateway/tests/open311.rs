//! The Open311 GeoReport v2 endpoints as a citizen app uses them: real TLS
//! on loopback, no client certificate, the spec's sample POST.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use adapters::open311::Syntax;
use bytes::Bytes;
use gateway::config::Config;
use gateway::http::{Client, Reply};
use gateway::network::Network;
use gateway::store::Store;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use schemas::Status;
use serde_json::Value;

const API_KEY: &str = "demo-7f3a9c2e1b8d4f06";
const FORM: &str = "application/x-www-form-urlencoded";

fn checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(checkout().join("conformance-tests/samples").join(name)).unwrap()
}

/// The demo configuration on a fresh store (it connects the property unit
/// of the sample's compound, 甘家口小区 → pu-central-003).
fn config(name: &str) -> Config {
    let mut config = gateway::config::load(&checkout().join("certs-example/demo.toml")).unwrap();
    let store =
        std::env::temp_dir().join(format!("gateway-open311-{}-{name}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", store.display()));
    }
    config.store.path = store;
    assert!(config.partner("pu-central-003").is_some());
    config
}

async fn start(name: &str) -> Network {
    Network::start(config(name), &checkout().join("certs-example"), true, true)
        .await
        .unwrap()
}

/// A client that trusts the development CA and has no certificate, as a
/// citizen app.
fn citizen() -> Client {
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(checkout().join("certs-example/ca.pem")).unwrap() {
        roots.add(ca.unwrap()).unwrap();
    }
    let tls = rustls::ClientConfig::builder_with_provider(gateway::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Client::new(tls, false, Duration::from_secs(10))
}

struct Api {
    client: Client,
    base: String,
}

impl Api {
    fn new(network: &Network) -> Api {
        Api {
            client: citizen(),
            base: format!("{}/open311/v2", network.gateway_url),
        }
    }

    async fn get(&self, path: &str) -> Reply {
        let url = format!("{}/{path}", self.base);
        self.client
            .send("GET", &url, &[], Bytes::new())
            .await
            .unwrap()
    }

    async fn get_json(&self, path: &str) -> Value {
        let reply = self.get(path).await;
        assert_eq!(reply.status, 200, "{path}: {}", text(&reply));
        serde_json::from_slice(&reply.body).unwrap()
    }

    async fn post(&self, path: &str, content_type: &str, body: Vec<u8>) -> Reply {
        let url = format!("{}/{path}", self.base);
        self.client
            .post(&url, &[("content-type", content_type)], Bytes::from(body))
            .await
            .unwrap()
    }

    /// POSTs a form; the new service_request_id.
    async fn create(&self, body: Vec<u8>) -> String {
        let reply = self.post("requests.json", FORM, body).await;
        assert_eq!(reply.status, 200, "{}", text(&reply));
        let v: Value = serde_json::from_slice(&reply.body).unwrap();
        let list = v.as_array().unwrap();
        assert_eq!(list.len(), 1);
        assert!(
            list[0]["service_notice"]
                .as_str()
                .unwrap()
                .starts_with(adapters::open311::RECEIPT_NOTICE)
        );
        list[0]["service_request_id"].as_str().unwrap().to_owned()
    }

    /// The ids of a `GET requests.json` answer.
    async fn ids(&self, query: &str) -> Vec<String> {
        let v = self.get_json(&format!("requests.json?{query}")).await;
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["service_request_id"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn text(reply: &Reply) -> String {
    String::from_utf8_lossy(&reply.body).into_owned()
}

/// The error list of a JSON error reply: (code, description) pairs.
fn errors(reply: &Reply) -> Vec<(u64, String)> {
    let v: Value = serde_json::from_slice(&reply.body).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["code"].as_u64().unwrap(),
                e["description"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A request the hub answers: noise, at an address of no registered
/// compound.
fn noise_form() -> Vec<u8> {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("api_key", API_KEY)
        .append_pair("service_code", "NOISE")
        .append_pair("lat", "39.915")
        .append_pair("long", "116.404")
        .append_pair("address_string", "北京市东城区东长安街1号")
        .append_pair("first_name", "小明")
        .append_pair("last_name", "李")
        .append_pair("phone", "13900139000")
        .append_pair("description", "夜间施工噪声扰民，凌晨两点仍在作业。")
        .finish()
        .into_bytes()
}

async fn wait_state(network: &Network, id: &str, state: Status) {
    for _ in 0..100 {
        let h = network
            .gateway
            .app
            .store
            .handoff(id)
            .await
            .unwrap()
            .unwrap();
        if h.state == state {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("hand-off {id} did not reach {}", state.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_app_posts_the_sample_and_follows_it() {
    let network = start("follow").await;
    let api = Api::new(&network);

    // The sample POST: routed by its compound to the central unit.
    let roof = api.create(sample("open311/post-request.txt")).await;
    let h = network
        .gateway
        .app
        .store
        .handoff(&roof)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(h.origin_partner, "open311-demo");
    assert_eq!(h.target_partner, "pu-central-003");
    assert_eq!(h.ticket.caller.phone.as_deref(), Some("18800188000"));
    assert_eq!(h.origin_ticket_id.len(), 26, "a fresh ULID");

    // Read back in both formats: the public representation, no personal data.
    let one = api.get(&format!("requests/{roof}.json")).await;
    assert_eq!(one.status, 200, "{}", text(&one));
    assert_eq!(one.headers["content-type"], "application/json");
    let v: Value = serde_json::from_slice(&one.body).unwrap();
    let r = &v.as_array().unwrap()[0];
    assert_eq!(r["service_request_id"], roof.as_str());
    assert_eq!(r["status"], "open");
    assert_eq!(r["service_code"], "ROOF-LEAK");
    assert_eq!(r["service_name"], "房屋漏雨");
    assert_eq!(r["agency_responsible"], "pu-central-003");
    assert_eq!(r["lat"], 39.928533);
    assert_eq!(
        r["expected_datetime"].as_str().unwrap(),
        adapters::time::format_rfc3339(&h.resolve_by)
    );
    assert_eq!(
        r["service_notice"],
        "央产、军产小区房屋维修由产权单位负责，一般在72小时内答复。"
    );
    assert!(
        r["description"].as_str().unwrap().starts_with("顶层住户。"),
        "the description as sent"
    );
    let xml = api.get(&format!("requests/{roof}.xml")).await;
    assert_eq!(xml.status, 200);
    assert_eq!(xml.headers["content-type"], "application/xml");
    for body in [&one.body, &xml.body] {
        let shown = String::from_utf8(body.to_vec()).unwrap();
        for personal in ["王", "秀兰", "18800188000", "api_key", API_KEY] {
            assert!(!shown.contains(personal), "{personal} in {shown}");
        }
    }
    let tables = network.tables();
    let from_json = adapters::open311::decode_ticket(Syntax::Json, &one.body, tables).unwrap();
    let from_xml = adapters::open311::decode_ticket(Syntax::Xml, &xml.body, tables).unwrap();
    assert_eq!(from_json, from_xml);
    assert_eq!(from_xml.handoff_id.as_deref(), Some(roof.as_str()));

    // A request the hub works to resolved: closed, with the hub's comment.
    let noise = api.create(noise_form()).await;
    wait_state(&network, &noise, Status::Resolved).await;
    let v = api.get_json(&format!("requests/{noise}.json")).await;
    assert_eq!(v[0]["status"], "closed");
    assert_eq!(v[0]["agency_responsible"], "bj12345");
    assert_eq!(v[0]["status_notes"], "已处置完毕并回复来电人");
    assert!(!v.to_string().contains("13900139000"));
    assert!(!v.to_string().contains("李小明"));

    // The list and its filters.
    assert_eq!(api.ids("").await, [noise.as_str(), roof.as_str()]);
    assert_eq!(api.ids("status=open").await, [roof.as_str()]);
    assert_eq!(api.ids("status=closed").await, [noise.as_str()]);
    assert_eq!(api.ids("service_code=ROOF-LEAK").await, [roof.as_str()]);
    assert_eq!(
        api.ids("service_code=NOISE,ROOF-LEAK&status=open,closed")
            .await,
        [noise.as_str(), roof.as_str()]
    );
    assert_eq!(
        api.ids(&format!("service_request_id={roof},{noise},{roof}"))
            .await,
        [roof.as_str(), noise.as_str()],
        "by id, in the order asked; other filters ignored"
    );
    let later = "2099-01-01T00:00:00%2B08:00";
    assert!(api.ids(&format!("start_date={later}")).await.is_empty());
    assert_eq!(
        api.ids("end_date=2099-01-01T00:00:00Z").await.len(),
        0,
        "the 90 days up to 2099 hold nothing"
    );
    let xml = api.get("requests.xml?status=open").await;
    let root = adapters::xml::read(&xml.body, adapters::xml::Charset::Utf8).unwrap();
    assert_eq!(root.name, "service_requests");
    assert_eq!(root.children.len(), 1);
    assert_eq!(
        root.children[0].child("service_request_id").unwrap().text,
        roof
    );

    let bad = api
        .get("requests.json?status=pending&start_date=yesterday")
        .await;
    assert_eq!(bad.status, 400);
    let described: Vec<String> = errors(&bad).into_iter().map(|(_, d)| d).collect();
    assert!(
        described.iter().any(|d| d.starts_with("status: ")),
        "{described:?}"
    );
    assert!(
        described.iter().any(|d| d.starts_with("start_date: ")),
        "{described:?}"
    );
    let wide = api
        .get("requests.json?start_date=2025-01-01T00:00:00Z&end_date=2025-06-01T00:00:00Z")
        .await;
    assert_eq!(wide.status, 400);
    assert!(
        errors(&wide)[0].1.starts_with("end_date: "),
        "{}",
        text(&wide)
    );

    // The token of a request is its id.
    let v = api.get_json(&format!("tokens/{roof}.json")).await;
    assert_eq!(
        v,
        serde_json::json!([{"service_request_id": roof, "token": roof}])
    );
    network.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_open311_errors() {
    let network = start("refusals").await;
    let api = Api::new(&network);
    let sample_form = String::from_utf8(sample("open311/post-request.txt")).unwrap();

    // A wrong or missing api_key: 403, exactly the sample error.
    let wrong = sample_form.replace(API_KEY, "demo-0000000000000000");
    let reply = api
        .post("requests.xml", FORM, wrong.clone().into_bytes())
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        text(&reply),
        String::from_utf8(sample("open311/error.xml")).unwrap()
    );
    let missing = sample_form.replace(&format!("api_key={API_KEY}&"), "");
    let reply = api.post("requests.json", FORM, missing.into_bytes()).await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        errors(&reply),
        [(403, "api_key缺失或无效，未创建服务请求".to_owned())]
    );

    // Another jurisdiction: 404 naming jurisdiction_id, for POST and GET.
    let elsewhere = sample_form.replace("jjj12345.example", "other.example");
    let reply = api
        .post("requests.json", FORM, elsewhere.into_bytes())
        .await;
    assert_eq!(reply.status, 404);
    assert!(
        errors(&reply)[0].1.starts_with("jurisdiction_id: "),
        "{}",
        text(&reply)
    );
    let reply = api.get("services.json?jurisdiction_id=other.example").await;
    assert_eq!(reply.status, 404);
    assert!(errors(&reply)[0].1.starts_with("jurisdiction_id: "));
    let reply = api
        .get("services.json?jurisdiction_id=jjj12345.example")
        .await;
    assert_eq!(reply.status, 200);

    // Invalid bodies: every bad field named, an unknown service refused.
    let invalid = sample_form
        .replace("lat=39.928533", "lat=north")
        .replace("&phone=18800188000", "&phone=12");
    let reply = api.post("requests.json", FORM, invalid.into_bytes()).await;
    assert_eq!(reply.status, 400);
    let described: Vec<String> = errors(&reply).into_iter().map(|(_, d)| d).collect();
    assert!(
        described.iter().any(|d| d.starts_with("lat: ")),
        "{described:?}"
    );
    assert!(
        described.iter().any(|d| d.starts_with("phone: ")),
        "{described:?}"
    );
    let pothole = sample_form.replace("service_code=ROOF-LEAK", "service_code=POTHOLE");
    let reply = api.post("requests.json", FORM, pothole.into_bytes()).await;
    assert_eq!(reply.status, 400);
    assert!(errors(&reply)[0].1.starts_with("service_code: "));
    let reply = api
        .post(
            "requests.json",
            "application/json",
            sample_form.clone().into_bytes(),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert!(errors(&reply)[0].1.starts_with("Content-Type: "));

    // Nothing was created.
    let all = network
        .gateway
        .app
        .store
        .list_handoffs(Default::default())
        .await
        .unwrap();
    assert!(all.is_empty());
    assert!(api.ids("").await.is_empty());

    // Unknown ids and endpoints, wrong methods.
    let reply = api.get("requests/01JQ5BBRR0T3GMYXSMKM9Y9CGZ.json").await;
    assert_eq!(reply.status, 404);
    assert!(errors(&reply)[0].1.starts_with("service_request_id: "));
    let reply = api.get("tokens/01JQ5BBRR0T3GMYXSMKM9Y9CGZ.xml").await;
    assert_eq!(reply.status, 404);
    assert!(text(&reply).contains("<code>404</code>"));
    assert_eq!(api.get("requests").await.status, 404);
    assert_eq!(api.get("requests.html").await.status, 404);
    assert_eq!(api.get("reports.json").await.status, 404);
    let reply = api.post("services.json", FORM, Vec::new()).await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.headers["allow"], "GET");
    network.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_discovery_and_the_privacy_of_other_hotlines() {
    let network = start("services").await;
    let api = Api::new(&network);
    let tables = network.tables();

    let reply = api.get("services.json").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body,
        adapters::open311::encode_services(Syntax::Json, tables)
    );
    assert_eq!(reply.body, sample("open311/services.json"));
    let reply = api.get("services.xml").await;
    assert_eq!(
        reply.body,
        adapters::open311::encode_services(Syntax::Xml, tables)
    );
    let v = api.get_json("services/ROOF-LEAK.json").await;
    assert_eq!(v["attributes"].as_array().unwrap().len(), 4);
    let reply = api.get("services/POTHOLE.xml").await;
    assert_eq!(reply.status, 404);
    assert!(text(&reply).contains("service_code: "));

    let v = api.get_json("discovery.json").await;
    let endpoint = &v["endpoints"][0];
    assert_eq!(
        endpoint["url"],
        format!("{}/open311/v2", network.gateway_url)
    );
    assert_eq!(
        endpoint["specification"],
        "http://wiki.open311.org/GeoReport_v2"
    );
    assert_eq!(endpoint["type"], "production");
    let reply = api.get("discovery.xml").await;
    let root = adapters::xml::read(&reply.body, adapters::xml::Charset::Utf8).unwrap();
    assert_eq!(root.name, "discovery");
    let formats = root
        .child("endpoints")
        .and_then(|e| e.child("endpoint"))
        .and_then(|e| e.child("formats"))
        .unwrap();
    assert_eq!(formats.children.len(), 2);

    // A Beijing hand-off exists, but is not public.
    let bj = network.client("bj12345").unwrap();
    let reply = bj
        .post(
            &format!("{}/bj/v1/orders", network.gateway_url),
            &[("content-type", "application/json")],
            Bytes::from(sample("bj-json/order.json")),
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 202, "{}", text(&reply));
    let id = gateway::demo::receipt_handoff_id(&text(&reply)).unwrap();
    assert!(
        network
            .gateway
            .app
            .store
            .handoff(&id)
            .await
            .unwrap()
            .is_some()
    );
    for path in [
        format!("requests/{id}.json"),
        format!("requests/{id}.xml"),
        format!("tokens/{id}.json"),
    ] {
        assert_eq!(api.get(&path).await.status, 404, "{path}");
    }
    assert!(
        api.ids(&format!("service_request_id={id}"))
            .await
            .is_empty()
    );
    assert!(api.ids("").await.is_empty());
    network.stop().await;
}
