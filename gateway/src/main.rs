//! `gateway`: the Jing-Jin-Ji 12345 interoperability gateway.
#![forbid(unsafe_code)]

mod cli;
// The lifecycle and the store are used by the server (`serve`), which is
// being built alongside; until it lands only their tests use them.
#[allow(dead_code)]
mod lifecycle;
#[allow(dead_code)]
mod store;

fn main() -> std::process::ExitCode {
    cli::run()
}
