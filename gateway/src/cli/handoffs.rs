//! `gateway handoffs list|show|redeliver`: the operator's view of the store.

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;
use schemas::Status;

use crate::config;
use crate::store::{HandoffFilter, SqliteStore, Store};

/// What to do with hand-offs.
#[derive(Subcommand)]
pub enum HandoffsCommand {
    /// List hand-offs, newest first.
    List {
        /// Only in this state (received, delivered, accepted, rejected,
        /// in_progress, resolved, closed).
        #[arg(long)]
        state: Option<String>,
        /// Only toward this partner.
        #[arg(long)]
        target: Option<String>,
        /// Only from this partner.
        #[arg(long)]
        origin: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Show one hand-off's whole story: history, deliveries, audit events.
    Show {
        /// The hand-off id.
        id: String,
    },
    /// Put a hand-off's dead-lettered messages back in the delivery queue.
    Redeliver {
        /// The hand-off id.
        id: String,
    },
}

/// Runs a `handoffs` command against the store named by `file`.
pub fn run(file: &Path, command: HandoffsCommand) -> ExitCode {
    let cfg = match config::load(file) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let rt = match super::serve::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async move {
        let store = match SqliteStore::open(&cfg.store.path) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        };
        match execute(&store, command).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        }
    })
}

/// A duration for people: `850 ms`, `12.3 s`, `4 min 05 s`.
fn took(d: chrono::TimeDelta) -> String {
    let ms = d.num_milliseconds().max(0);
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{} min {:02} s", ms / 60_000, (ms / 1000) % 60)
    }
}

async fn execute(store: &SqliteStore, command: HandoffsCommand) -> Result<(), String> {
    match command {
        HandoffsCommand::List {
            state,
            target,
            origin,
            limit,
        } => {
            let state = match state {
                Some(s) => Some(Status::parse(&s).ok_or_else(|| format!("unknown state '{s}'"))?),
                None => None,
            };
            let rows = store
                .list_handoffs(HandoffFilter {
                    state,
                    target,
                    origin,
                    limit,
                })
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{:<26}  {:<15}  {:<15}  {:<11}  {:<10}  created",
                "hand-off", "origin", "target", "state", "kind"
            );
            for h in rows {
                let overdue = if h.ack_overdue || h.answer_overdue {
                    " OVERDUE"
                } else {
                    ""
                };
                println!(
                    "{:<26}  {:<15}  {:<15}  {:<11}  {:<10}  {}{overdue}",
                    h.id,
                    h.origin_partner,
                    h.target_partner,
                    h.state.as_str(),
                    h.kind.as_str(),
                    adapters::time::format_rfc3339(&h.created_at)
                );
            }
            Ok(())
        }
        HandoffsCommand::Show { id } => {
            let h = store
                .handoff(&id)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no hand-off {id}"))?;
            println!("hand-off   {}", h.id);
            println!(
                "kind       {} ({}, urgency {})",
                h.kind.as_str(),
                h.ticket.category.code,
                h.urgency.as_str()
            );
            println!(
                "origin     {} ({}) ticket {}",
                h.origin_partner, h.origin_family, h.origin_ticket_id
            );
            println!(
                "target     {} ({}) ticket {}",
                h.target_partner,
                h.target_family,
                h.target_ticket_id.as_deref().unwrap_or("-")
            );
            println!(
                "state      {}{}{}",
                h.state.as_str(),
                if h.ack_overdue { ", ack overdue" } else { "" },
                if h.answer_overdue {
                    ", answer overdue"
                } else {
                    ""
                }
            );
            println!(
                "deadlines  ack by {}, answer by {}",
                adapters::time::format_rfc3339(&h.ack_by),
                adapters::time::format_rfc3339(&h.resolve_by)
            );
            println!(
                "received   {} (raw sha256 {})",
                adapters::time::format_rfc3339(&h.created_at),
                h.raw_sha256
            );
            println!(
                "trace id   {} (the traceparent trace id of every delivery)",
                crate::trace::of_handoff(&h.id, h.trace_parent.as_deref()).trace_id
            );
            println!("\nstatus history:");
            for s in store.history(&id).await.map_err(|e| e.to_string())? {
                println!(
                    "  {}  {:<11} from {:<7} {:?}{}",
                    adapters::time::format_rfc3339(&s.at),
                    s.status.as_str(),
                    s.side.as_str(),
                    s.outcome,
                    s.refusal.map(|r| format!(": {r}")).unwrap_or_default()
                );
            }
            println!("\ndeliveries:");
            for o in store.outbox(&id).await.map_err(|e| e.to_string())? {
                println!(
                    "  #{:<6} {:<6} → {:<15} {:<9} attempts {}{}",
                    o.id,
                    o.kind().as_str(),
                    o.target_partner,
                    o.state.as_str(),
                    o.attempts,
                    o.last_error
                        .map(|e| format!(", last error: {e}"))
                        .unwrap_or_default()
                );
                let delivered = o.delivered_at.map_or_else(String::new, |at| {
                    format!(
                        ", delivered {} ({} after queued, {} after received)",
                        adapters::time::format_rfc3339(&at),
                        took(at - o.queued_at),
                        took(at - h.created_at)
                    )
                });
                println!(
                    "          queued {}{delivered}",
                    adapters::time::format_rfc3339(&o.created_at)
                );
            }
            println!("\naudit events:");
            for e in store.events(&id).await.map_err(|e| e.to_string())? {
                println!(
                    "  seq {:<8} {}  {}",
                    e.seq,
                    adapters::time::format_rfc3339(&e.at),
                    e.kind.as_str()
                );
            }
            Ok(())
        }
        HandoffsCommand::Redeliver { id } => {
            let now = chrono::Utc::now().with_timezone(&adapters::time::beijing());
            let n = store.redeliver(&id, now).await.map_err(|e| e.to_string())?;
            println!(
                "{n} message(s) of {id} queued again; a running gateway delivers them within a second"
            );
            Ok(())
        }
    }
}
