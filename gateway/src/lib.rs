//! The Jing-Jin-Ji 12345 interoperability gateway: configuration, TLS
//! identity, routing, the HTTP plumbing and the simulated partners, behind
//! the `gateway` command line (`cli`).
#![forbid(unsafe_code)]

pub mod certs;
pub mod cli;
pub mod config;
pub mod http;
pub mod route;
pub mod simulate;
pub mod tls;
pub mod wire;
