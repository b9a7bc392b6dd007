//! The Jing-Jin-Ji 12345 interoperability gateway: configuration, TLS
//! identity, routing, the lifecycle, the durable store, the server and the
//! simulated partners, behind the `gateway` command line (`cli`).
#![forbid(unsafe_code)]

pub mod audit;
pub mod certs;
pub mod cli;
pub mod config;
pub mod demo;
pub mod http;
pub mod lifecycle;
pub mod limits;
pub mod metrics;
pub mod network;
pub mod route;
pub mod server;
pub mod simulate;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod trace;
pub mod wire;
