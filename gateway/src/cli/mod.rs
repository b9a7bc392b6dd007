//! The command line: `serve`, `demo`, `translate`, `check-config`,
//! `handoffs`, `audit export|verify|prove`, `certs generate`.

mod audit;
mod handoffs;
pub mod limits;
mod serve;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use adapters::{Encoded, Family};
use clap::{Parser, Subcommand, ValueEnum};
use schemas::Tables;

use crate::{certs, config, tls};

/// The Jing-Jin-Ji 12345 interoperability gateway.
#[derive(Parser)]
#[command(name = "gateway", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Translate one message between format families, validating it.
    ///
    /// Reads FILE (or standard input) and writes the translated message to
    /// standard output. Fields the target cannot carry are listed on
    /// standard error (and written into the target's notes field). A message
    /// that fails validation exits with status 1 and one line per bad field.
    Translate {
        /// Family of the input.
        #[arg(long, value_parser = parse_family)]
        from: Family,
        /// Family of the output.
        #[arg(long, value_parser = parse_family)]
        to: Family,
        /// Message kind.
        #[arg(long, value_enum, default_value_t = Kind::Ticket)]
        kind: Kind,
        /// Hand-off id to write into the gateway-reference field.
        #[arg(long)]
        handoff_id: Option<String>,
        /// Directory holding categories.csv, hotlines.csv and compounds.csv.
        #[arg(long, env = "GATEWAY_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// Input file; standard input when absent or `-`.
        file: Option<PathBuf>,
    },
    /// Check a configuration file: every key, every file it names, the TLS
    /// set-up. Prints `ok: N partners` and exits 0, or the error naming the
    /// key and exits 1.
    CheckConfig {
        /// The TOML configuration file.
        file: PathBuf,
    },
    /// Run the gateway: the partner listener, delivery and deadlines.
    Serve {
        /// The TOML configuration file.
        #[arg(long, short)]
        config: PathBuf,
        /// Write logs as JSON lines (as `[telemetry] log_format = "json"`).
        #[arg(long)]
        log_json: bool,
    },
    /// Run the gateway with simulated partners on loopback and the three
    /// flows end to end (certs-example/demo.toml); exits 0 once every
    /// hand-off is closed.
    Demo {
        /// Keep the gateway and the partners running afterwards.
        #[arg(long)]
        keep_running: bool,
    },
    /// Inspect and replay hand-offs in the store.
    Handoffs {
        /// The TOML configuration file (for the store's path).
        #[arg(long, short)]
        config: PathBuf,
        #[command(subcommand)]
        command: handoffs::HandoffsCommand,
    },
    /// The audit log: export it, verify an export, prove a hand-off's
    /// events.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Rate limits of the running gateway, over its operator listener:
    /// status, emergency mode on|off, configuration reload.
    Limits {
        /// The operator listener (`[operator] listen`).
        #[arg(long, default_value = "127.0.0.1:9444")]
        operator: std::net::SocketAddr,
        #[command(subcommand)]
        command: limits::LimitsCommand,
    },
    /// Development certificates.
    Certs {
        #[command(subcommand)]
        command: CertsCommand,
    },
}

#[derive(Subcommand)]
enum CertsCommand {
    /// Generate a DEVELOPMENT CA and certificates for the gateway and its
    /// partners, and an audit checkpoint signing key (never for production:
    /// the keys are written beside them).
    Generate {
        /// Directory to write into (created if needed; files are replaced).
        #[arg(long)]
        out: PathBuf,
        /// Partner ids to issue client certificates for (and server
        /// certificates, for partners that receive pushed deliveries).
        #[arg(long, value_delimiter = ',', default_values_t = certs::DEFAULT_PARTNERS.map(String::from))]
        partners: Vec<String>,
        /// Write only a new audit signing key (audit-signing.key and
        /// audit-signing.vkey), leaving the certificates alone.
        #[arg(long)]
        only_audit_key: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    /// A ticket (工单).
    Ticket,
    /// A status update.
    Status,
}

fn parse_family(s: &str) -> Result<Family, String> {
    s.parse()
}

/// Runs the command line and returns the process exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Translate {
            from,
            to,
            kind,
            handoff_id,
            data_dir,
            file,
        } => translate(
            from,
            to,
            kind,
            handoff_id.as_deref(),
            data_dir,
            file.as_deref(),
        ),
        Command::CheckConfig { file } => check_config(&file),
        Command::Serve { config, log_json } => serve::serve(&config, log_json),
        Command::Demo { keep_running } => serve::demo(keep_running),
        Command::Handoffs { config, command } => handoffs::run(&config, command),
        Command::Audit { command } => audit::run(command),
        Command::Limits { operator, command } => limits::run(operator, command),
        Command::Certs {
            command:
                CertsCommand::Generate {
                    out,
                    partners,
                    only_audit_key,
                },
        } => certs_generate(&out, &partners, only_audit_key),
    }
}

fn check_config(file: &Path) -> ExitCode {
    let checked = config::load(file)
        .map_err(|e| e.to_string())
        .and_then(|cfg| {
            tls::server_config(&cfg).map_err(|e| format!("{}: {e}", file.display()))?;
            tls::client_config(&cfg).map_err(|e| format!("{}: {e}", file.display()))?;
            Ok(cfg)
        });
    match checked {
        Ok(cfg) => {
            for warning in cfg.warnings() {
                eprintln!("warning: {warning}");
            }
            println!("ok: {} partners", cfg.partners.len());
            if let Some(otlp) = &cfg.telemetry.otlp {
                println!(
                    "spans exported over OTLP/gRPC to {} as {}",
                    otlp.endpoint, otlp.service_name
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn certs_generate(out: &Path, partners: &[String], only_audit_key: bool) -> ExitCode {
    let generated = if only_audit_key {
        certs::generate_audit_key(out)
    } else {
        certs::generate(out, partners)
    };
    match generated {
        Ok(written) => {
            for path in written {
                println!("{}", path.display());
            }
            eprintln!("DEVELOPMENT ONLY: these keys are not secret; never use them in production");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// Finds the data tables: the flag or `GATEWAY_DATA_DIR`, else
/// `schemas/data` under the working directory or beside the executable's
/// build tree.
fn data_dir(explicit: Option<PathBuf>) -> Result<PathBuf, String> {
    if let Some(dir) = explicit {
        return Ok(dir);
    }
    let mut candidates = vec![PathBuf::from("schemas/data")];
    if let Ok(exe) = std::env::current_exe() {
        candidates.extend(exe.ancestors().skip(1).map(|a| a.join("schemas/data")));
    }
    candidates
        .into_iter()
        .find(|c| c.join(schemas::TABLE_FILES[0]).is_file())
        .ok_or_else(|| {
            "cannot find the data tables (categories.csv, hotlines.csv, compounds.csv); \
             pass --data-dir DIR or set GATEWAY_DATA_DIR"
                .to_owned()
        })
}

fn translate(
    from: Family,
    to: Family,
    kind: Kind,
    handoff_id: Option<&str>,
    data_dir_flag: Option<PathBuf>,
    file: Option<&Path>,
) -> ExitCode {
    let tables =
        match data_dir(data_dir_flag).and_then(|d| Tables::load(&d).map_err(|e| e.to_string())) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
    let mut input = Vec::new();
    let read = match file {
        Some(path) if path != Path::new("-") => std::fs::read(path).map(|b| input = b),
        _ => std::io::stdin().read_to_end(&mut input).map(|_| ()),
    };
    if let Err(e) = read {
        eprintln!("error: cannot read input: {e}");
        return ExitCode::from(2);
    }
    let result: Result<Encoded, adapters::Error> = match kind {
        Kind::Ticket => adapters::decode_ticket(from, &input, &tables).and_then(|mut t| {
            if let Some(id) = handoff_id {
                t.handoff_id = Some(id.to_owned());
            }
            adapters::encode_ticket(to, &t, &tables)
        }),
        Kind::Status => adapters::decode_status(from, &input, &tables).and_then(|mut s| {
            if let Some(id) = handoff_id {
                s.handoff_id = Some(id.to_owned());
            }
            adapters::encode_status(to, &s, &tables)
        }),
    };
    match result {
        Ok(encoded) => {
            for lost in encoded.loss.iter() {
                let fate = if lost.value == adapters::open311::WITHHELD {
                    "personal data, withheld"
                } else {
                    "written into the notes"
                };
                eprintln!("not carried by {to}: {} ({fate})", lost.field);
            }
            let mut out = std::io::stdout().lock();
            if out
                .write_all(&encoded.bytes)
                .and_then(|_| out.flush())
                .is_err()
            {
                return ExitCode::from(2);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            for fe in e.field_errors() {
                eprintln!("{fe}");
            }
            ExitCode::from(1)
        }
    }
}
