//! `gateway`: the Jing-Jin-Ji 12345 interoperability gateway.
#![forbid(unsafe_code)]

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
