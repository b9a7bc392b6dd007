//! `gateway`: the Jing-Jin-Ji 12345 interoperability gateway.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    gateway::cli::run()
}
