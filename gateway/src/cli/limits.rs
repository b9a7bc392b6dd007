//! `gateway limits status|emergency on|off|reload --operator ADDR`: the
//! operator commands, over the operator listener's plain HTTP on loopback
//! (see [`crate::server::operator`]).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Subcommand, ValueEnum};

/// The longest an operator request may take.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The largest reply read.
const MAX_REPLY: u64 = 4 * 1024 * 1024;

/// What to ask the running gateway.
#[derive(Subcommand)]
pub enum LimitsCommand {
    /// The limits in force, per partner counts and queue depths (JSON).
    Status,
    /// Switch emergency mode (高话务量应急) on or off (audited).
    Emergency {
        /// on or off.
        #[arg(value_enum)]
        mode: OnOff,
    },
    /// Reload the configuration file (as SIGHUP does).
    Reload,
}

/// Emergency mode.
#[derive(Clone, Copy, ValueEnum)]
pub enum OnOff {
    /// Raise the limits.
    On,
    /// Back to the configured limits.
    Off,
}

/// Runs `command` against the operator listener at `operator`.
pub fn run(operator: SocketAddr, command: LimitsCommand) -> ExitCode {
    let (method, path) = match command {
        LimitsCommand::Status => ("GET", "/admin/limits"),
        LimitsCommand::Emergency { mode: OnOff::On } => ("POST", "/admin/emergency?on=true"),
        LimitsCommand::Emergency { mode: OnOff::Off } => ("POST", "/admin/emergency?on=false"),
        LimitsCommand::Reload => ("POST", "/admin/reload"),
    };
    match call(operator, method, path) {
        Ok((status, body)) => {
            println!("{body}");
            if (200..300).contains(&status) {
                ExitCode::SUCCESS
            } else {
                eprintln!("the gateway answered HTTP {status}");
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("cannot reach the operator listener at {operator}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One HTTP/1.1 request without a body to the operator listener: the
/// status code and the body (the connection is closed after it).
pub fn call(addr: SocketAddr, method: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    stream.flush()?;
    let mut raw = Vec::new();
    stream.take(MAX_REPLY).read_to_end(&mut raw)?;
    parse_reply(&raw)
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

/// The status code and body of a whole HTTP/1.1 reply (`Content-Length`
/// or `chunked`).
fn parse_reply(raw: &[u8]) -> std::io::Result<(u16, String)> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| invalid("no end of the reply's head"))?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| invalid("reply head not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| invalid("no status line"))?;
    let chunked = lines.any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:")
            && l.to_ascii_lowercase().contains("chunked")
    });
    let mut body = &raw[end + 4..];
    let bytes = if chunked {
        let mut out = Vec::new();
        loop {
            let eol = body
                .windows(2)
                .position(|w| w == b"\r\n")
                .ok_or_else(|| invalid("bad chunk"))?;
            let size_text = std::str::from_utf8(&body[..eol]).map_err(|_| invalid("bad chunk"))?;
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| invalid("bad chunk size"))?;
            body = &body[eol + 2..];
            if size == 0 {
                break;
            }
            let chunk = body.get(..size).ok_or_else(|| invalid("short chunk"))?;
            out.extend_from_slice(chunk);
            body = body.get(size + 2..).unwrap_or(&[]);
        }
        out
    } else {
        body.to_vec()
    };
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "limits_tests.rs"]
mod tests;
