//! Translation of a realistic ticket (~2 KB) between every pair of wire
//! families, beside the bare format work on the same bytes.
//!
//! The canonical ticket is the Beijing sample order (`bj-json/order.json`,
//! with its notes), given a hand-off id, the enterprise of the ent-json
//! sample and the dwelling of the pu-json sample so that every family can
//! carry it (2.3-2.7 KB in each family); each family's input is that ticket
//! encoded in the family. Pairs whose target cannot carry what the source
//! decodes to (nothing but pu-json carries a dwelling, Open311 carries no
//! enterprise) are skipped, with a note on stderr. For every pair (A, B):
//!
//! - `translate/A->B`: `decode_ticket(A)` then `encode_ticket(B)`.
//! - `bare/A->B`: the format work alone on the same bytes: A's input read
//!   (JSON into `serde_json::Value`; XML as quick-xml events, after
//!   GB18030 → UTF-8 for hb-soap) plus B's output written (a `Value`
//!   serialised with `serde_json::to_vec`; the events written back with
//!   quick-xml's `Writer`, then UTF-8 → GB18030 for hb-soap). B's output is
//!   parsed outside the timed loop.
//!
//! Run: `cargo bench -p adapters --bench translate`, then
//! `python3 bench/translate-ratios.py` for the table of ratios.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use adapters::Family;
use criterion::{Criterion, criterion_group, criterion_main};
use quick_xml::events::Event;
use schemas::Tables;

/// The wire families (the canonical JSON is not a partner's format).
const WIRE: [Family; 7] = [
    Family::BjJson,
    Family::TjXml,
    Family::HbSoap,
    Family::EntJson,
    Family::PuJson,
    Family::Open311Json,
    Family::Open311Xml,
];

fn is_xml(f: Family) -> bool {
    matches!(f, Family::TjXml | Family::HbSoap | Family::Open311Xml)
}

fn tables() -> Tables {
    Tables::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/data")).unwrap()
}

/// A parsed message, ready to be written back.
enum Parsed {
    Json(serde_json::Value),
    Xml(Vec<Event<'static>>, bool),
}

/// Bare read: bytes → `Value` or events (GB18030 decoded first for hb-soap).
fn bare_read(family: Family, bytes: &[u8]) -> Parsed {
    if !is_xml(family) {
        return Parsed::Json(serde_json::from_slice(bytes).unwrap());
    }
    let gb = family == Family::HbSoap;
    let text = if gb {
        encoding_rs::GB18030.decode(bytes).0
    } else {
        std::borrow::Cow::Borrowed(std::str::from_utf8(bytes).unwrap())
    };
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut events = Vec::with_capacity(64);
    loop {
        match reader.read_event().unwrap() {
            Event::Eof => break,
            e => events.push(e.into_owned()),
        }
    }
    Parsed::Xml(events, gb)
}

/// Bare read without keeping the events (what is timed for the input side).
fn bare_read_only(family: Family, bytes: &[u8]) -> usize {
    if !is_xml(family) {
        let v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        return v.as_object().map_or(0, |o| o.len());
    }
    let text = if family == Family::HbSoap {
        encoding_rs::GB18030.decode(bytes).0
    } else {
        std::borrow::Cow::Borrowed(std::str::from_utf8(bytes).unwrap())
    };
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut n = 0;
    loop {
        match reader.read_event().unwrap() {
            Event::Eof => break,
            e => {
                black_box(&e);
                n += 1;
            }
        }
    }
    n
}

/// Bare write: `Value` or events → bytes (GB18030 encoded for hb-soap).
fn bare_write(parsed: &Parsed) -> Vec<u8> {
    match parsed {
        Parsed::Json(v) => serde_json::to_vec(v).unwrap(),
        Parsed::Xml(events, gb) => {
            let mut writer = quick_xml::Writer::new(Vec::with_capacity(2048));
            for e in events {
                writer.write_event(e.borrow()).unwrap();
            }
            let out = writer.into_inner();
            if *gb {
                let text = std::str::from_utf8(&out).unwrap();
                encoding_rs::GB18030.encode(text).0.into_owned()
            } else {
                out
            }
        }
    }
}

fn translate(c: &mut Criterion) {
    let tables = tables();
    let sample = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../conformance-tests/samples/bj-json/order.json"
    ))
    .unwrap();
    let mut ticket = adapters::decode_ticket(Family::BjJson, &sample, &tables).unwrap();
    // As the gateway hands it on: with its hand-off id (pu-json's order id);
    // and so that every family can carry it, the enterprise of the ent-json
    // sample and the dwelling of the pu-json sample.
    ticket.handoff_id = Some("01JP3SCX6J122GPMWEZCDRM48R".to_owned());
    let ent = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../conformance-tests/samples/ent-json/ticket.json"
    ))
    .unwrap();
    ticket.enterprise = adapters::decode_ticket(Family::EntJson, &ent, &tables)
        .unwrap()
        .enterprise;
    let pu = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../conformance-tests/samples/pu-json/repair-order.json"
    ))
    .unwrap();
    ticket.property = adapters::decode_ticket(Family::PuJson, &pu, &tables)
        .unwrap()
        .property;
    // Each family's input: the same canonical ticket, in that family.
    let mut inputs = Vec::new();
    for family in WIRE {
        match adapters::encode_ticket(family, &ticket, &tables) {
            Ok(encoded) => {
                eprintln!("input {family}: {} bytes", encoded.bytes.len());
                inputs.push((family, encoded.bytes));
            }
            Err(e) => eprintln!("input {family}: cannot encode the sample ticket: {e}"),
        }
    }
    let mut group = c.benchmark_group("translate");
    for (a, input) in &inputs {
        let decoded = adapters::decode_ticket(*a, input, &tables).unwrap();
        for b in WIRE {
            let Ok(output) = adapters::encode_ticket(b, &decoded, &tables) else {
                eprintln!("{a}->{b}: not representable, skipped");
                continue;
            };
            group.bench_function(format!("{a}->{b}"), |bench| {
                bench.iter(|| {
                    let t = adapters::decode_ticket(*a, black_box(input), &tables).unwrap();
                    adapters::encode_ticket(b, &t, &tables).unwrap()
                })
            });
            let out_parsed = bare_read(b, &output.bytes);
            group.bench_function(format!("bare:{a}->{b}"), |bench| {
                bench.iter(|| {
                    let n = bare_read_only(*a, black_box(input));
                    (n, bare_write(black_box(&out_parsed)))
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(30);
    targets = translate
}
criterion_main!(benches);
