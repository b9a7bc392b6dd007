//! The hand-off lifecycle: which status update may follow which state, who
//! may send it, and the deadlines to acknowledge and to answer.
//!
//! Pure functions over values (no I/O, no clock): the store calls
//! [`check`] inside its transaction and the overdue sweep calls
//! [`overdue`] with the time it read once.
//!
//! The rules (the spec's Flows, made precise):
//!
//! - States in order: `received` < `delivered` < `accepted` < `in_progress`
//!   < `resolved` < `closed`. Steps may be skipped (accepted straight to
//!   resolved); repeating the current state is harmless ([`Verdict::Repeat`]);
//!   a step backwards is refused ([`Refusal::Backwards`]).
//! - `rejected` (退单) may follow `received`, `delivered`, `accepted` or
//!   `in_progress`. The spec names the last three; a return straight after
//!   `received` is accepted too, because a target that returns a ticket
//!   evidently got it (its delivery reply may simply not have arrived yet).
//!   After `resolved` the target has answered and can no longer return the
//!   ticket.
//! - `closed` and `rejected` are terminal: nothing but a repeat of the same
//!   terminal state is accepted afterwards ([`Refusal::AfterTerminal`]).
//! - `expired` is a notice, not a state: accepted in any non-terminal state
//!   ([`Verdict::Notice`]) and it never changes the state.
//! - Who may send what ([`Side`]): the target sends `delivered`, `accepted`,
//!   `rejected`, `in_progress` and `resolved`; the origin sends `closed`, at
//!   any non-terminal state (a caller whose problem went away may be closed
//!   before the target answers; the spec puts no precondition on it); the
//!   gateway sends `received` (on submission), `delivered` (from the
//!   target's reply to the delivery) and `expired` (a deadline passed).
//!   Anything else is refused ([`Refusal::NotAllowedFor`]).

mod deadline;

// Used by the server (`serve`) and the store, which are built alongside.
#[allow(unused_imports)]
pub use deadline::{
    DeadlinePolicy, HandoffKind, MAX_DEADLINE, Overdue, deadline_met, deadlines, overdue,
};

use std::fmt;

use schemas::Status;

/// Who sent a status update.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The partner that submitted the ticket.
    Origin,
    /// The partner the ticket was delivered to.
    Target,
    /// The gateway itself (receipt, delivery reply, deadlines).
    Gateway,
}

impl Side {
    /// Every side.
    pub const ALL: [Side; 3] = [Side::Origin, Side::Target, Side::Gateway];

    /// `origin`, `target` or `gateway`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Origin => "origin",
            Side::Target => "target",
            Side::Gateway => "gateway",
        }
    }

    /// Parses the name written by [`Side::as_str`].
    pub fn parse(s: &str) -> Option<Side> {
        Side::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// True when this side may send `status` at all (whatever the state).
    pub fn may_send(self, status: Status) -> bool {
        match self {
            Side::Target => matches!(
                status,
                Status::Delivered
                    | Status::Accepted
                    | Status::Rejected
                    | Status::InProgress
                    | Status::Resolved
            ),
            Side::Origin => status == Status::Closed,
            Side::Gateway => matches!(
                status,
                Status::Received | Status::Delivered | Status::Expired
            ),
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to do with a status update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Move the hand-off to the update's state and tell the other side.
    Apply,
    /// The hand-off is already in this state: record it, change nothing,
    /// tell nobody.
    Repeat,
    /// An `expired` notice: record it and pass it on, the state stays.
    Notice,
    /// Refuse the update (record it, never apply it), for this reason.
    Refuse(Refusal),
}

/// Why a status update is refused. The `Display` text names the states
/// involved and is meant to be sent to the partner as is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The update would move the hand-off back: `to` comes before `from`
    /// in the order (or is `rejected` after the target already answered).
    Backwards {
        /// The hand-off's current state.
        from: Status,
        /// The state the update asked for.
        to: Status,
    },
    /// The hand-off has ended (`closed` or `rejected`); only a repeat of
    /// that same state is accepted.
    AfterTerminal {
        /// The terminal state the hand-off is in.
        state: Status,
    },
    /// This side may never send this status (e.g. the origin sending
    /// `resolved`, or anyone but the gateway sending `received`).
    NotAllowedFor {
        /// Who sent it.
        side: Side,
        /// What they sent.
        status: Status,
    },
    /// The hand-off's recorded state is `expired`, which is a notice and
    /// never a state. The store never writes it; this guards a damaged
    /// database rather than refusing a partner.
    NotAState {
        /// The value found.
        state: Status,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Backwards {
                from,
                to: Status::Rejected,
            } => write!(
                f,
                "status `rejected` cannot follow `{}`: a hand-off can be returned only \
                 before it is resolved",
                from.as_str()
            ),
            Refusal::Backwards { from, to } => write!(
                f,
                "status `{}` cannot follow `{}`: a hand-off never moves back (order: \
                 received, delivered, accepted, in_progress, resolved, closed)",
                to.as_str(),
                from.as_str()
            ),
            Refusal::AfterTerminal { state } => write!(
                f,
                "the hand-off is already `{}`, a terminal state: no further status is accepted",
                state.as_str()
            ),
            Refusal::NotAllowedFor { side, status } => {
                let allowed = match side {
                    Side::Origin => "closed",
                    Side::Target => "delivered, accepted, rejected, in_progress, resolved",
                    Side::Gateway => "received, delivered, expired",
                };
                write!(
                    f,
                    "the {side} of a hand-off may not send status `{}` (it may send: {allowed})",
                    status.as_str()
                )
            }
            Refusal::NotAState { state } => write!(
                f,
                "the hand-off's recorded state `{}` is not a state; refusing to change it",
                state.as_str()
            ),
        }
    }
}

/// The position of a state in the order; `None` for `rejected` (outside
/// the chain) and `expired` (not a state).
fn rank(status: Status) -> Option<u8> {
    match status {
        Status::Received => Some(0),
        Status::Delivered => Some(1),
        Status::Accepted => Some(2),
        Status::InProgress => Some(3),
        Status::Resolved => Some(4),
        Status::Closed => Some(5),
        Status::Rejected | Status::Expired => None,
    }
}

/// True for the states nothing may follow: `closed` and `rejected`.
pub fn is_terminal(state: Status) -> bool {
    matches!(state, Status::Closed | Status::Rejected)
}

/// Decides what to do with `update` sent by `side` while the hand-off is
/// in state `current`. See the module documentation for the rules; the
/// side is checked first, then terminal states, then the order.
pub fn check(current: Status, update: Status, side: Side) -> Verdict {
    if !side.may_send(update) {
        return Verdict::Refuse(Refusal::NotAllowedFor {
            side,
            status: update,
        });
    }
    if current == Status::Expired {
        return Verdict::Refuse(Refusal::NotAState { state: current });
    }
    if is_terminal(current) {
        return if update == current {
            Verdict::Repeat
        } else {
            Verdict::Refuse(Refusal::AfterTerminal { state: current })
        };
    }
    if update == Status::Expired {
        return Verdict::Notice;
    }
    if update == current {
        return Verdict::Repeat;
    }
    let forward = match (rank(current), rank(update)) {
        (Some(from), Some(to)) => to > from,
        // `rejected` may follow any state before `resolved`.
        (Some(from), None) => rank(Status::Resolved).is_some_and(|answered| from < answered),
        // Unreachable in practice (current is neither terminal nor expired),
        // kept total: nothing moves out of a state without a rank.
        (None, _) => false,
    };
    if forward {
        Verdict::Apply
    } else {
        Verdict::Refuse(Refusal::Backwards {
            from: current,
            to: update,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    use Status::*;

    const STATES: [Status; 7] = [
        Received, Delivered, Accepted, InProgress, Resolved, Closed, Rejected,
    ];

    /// The expected verdict, written out as a table independent of the
    /// implementation: for each (current, update) with a side allowed to
    /// send the update.
    fn expected(current: Status, update: Status) -> Verdict {
        let order = [Received, Delivered, Accepted, InProgress, Resolved, Closed];
        let pos = |s| order.iter().position(|&o| o == s);
        if matches!(current, Closed | Rejected) {
            return if current == update {
                Verdict::Repeat
            } else {
                Verdict::Refuse(Refusal::AfterTerminal { state: current })
            };
        }
        if update == Expired {
            return Verdict::Notice;
        }
        if update == current {
            return Verdict::Repeat;
        }
        let ok = match update {
            Rejected => matches!(current, Received | Delivered | Accepted | InProgress),
            _ => pos(update) > pos(current),
        };
        if ok {
            Verdict::Apply
        } else {
            Verdict::Refuse(Refusal::Backwards {
                from: current,
                to: update,
            })
        }
    }

    #[test]
    fn every_state_update_and_side() {
        let mut applied = 0;
        for current in STATES {
            for update in Status::ALL {
                for side in Side::ALL {
                    let got = check(current, update, side);
                    if side.may_send(update) {
                        assert_eq!(
                            got,
                            expected(current, update),
                            "{current:?} + {update:?} from {side:?}"
                        );
                        if got == Verdict::Apply {
                            applied += 1;
                        }
                    } else {
                        assert_eq!(
                            got,
                            Verdict::Refuse(Refusal::NotAllowedFor {
                                side,
                                status: update
                            }),
                            "{current:?} + {update:?} from {side:?}"
                        );
                    }
                }
            }
        }
        // A sanity count so the table above cannot silently accept nothing.
        assert!(applied > 15);
    }

    #[test]
    fn who_may_send_what() {
        let target: Vec<_> = Status::ALL
            .into_iter()
            .filter(|&s| Side::Target.may_send(s))
            .collect();
        assert_eq!(
            target,
            [Delivered, Accepted, Rejected, InProgress, Resolved]
        );
        let origin: Vec<_> = Status::ALL
            .into_iter()
            .filter(|&s| Side::Origin.may_send(s))
            .collect();
        assert_eq!(origin, [Closed]);
        let gateway: Vec<_> = Status::ALL
            .into_iter()
            .filter(|&s| Side::Gateway.may_send(s))
            .collect();
        assert_eq!(gateway, [Received, Delivered, Expired]);
    }

    #[test]
    fn the_spec_examples() {
        // Skips are allowed.
        assert_eq!(check(Accepted, Resolved, Side::Target), Verdict::Apply);
        assert_eq!(check(Received, Resolved, Side::Target), Verdict::Apply);
        // Repeats are harmless.
        assert_eq!(check(InProgress, InProgress, Side::Target), Verdict::Repeat);
        assert_eq!(check(Closed, Closed, Side::Origin), Verdict::Repeat);
        // Backwards is refused.
        assert_eq!(
            check(Resolved, InProgress, Side::Target),
            Verdict::Refuse(Refusal::Backwards {
                from: Resolved,
                to: InProgress
            })
        );
        // The gateway's delivery reply after the target already accepted.
        assert_eq!(
            check(Accepted, Delivered, Side::Gateway),
            Verdict::Refuse(Refusal::Backwards {
                from: Accepted,
                to: Delivered
            })
        );
        // 退单 before the answer, even straight after receipt; not after.
        for from in [Received, Delivered, Accepted, InProgress] {
            assert_eq!(check(from, Rejected, Side::Target), Verdict::Apply);
        }
        assert_eq!(
            check(Resolved, Rejected, Side::Target),
            Verdict::Refuse(Refusal::Backwards {
                from: Resolved,
                to: Rejected
            })
        );
        // The origin may close at any non-terminal state.
        for from in [Received, Delivered, Accepted, InProgress, Resolved] {
            assert_eq!(check(from, Closed, Side::Origin), Verdict::Apply);
        }
        assert_eq!(
            check(Rejected, Closed, Side::Origin),
            Verdict::Refuse(Refusal::AfterTerminal { state: Rejected })
        );
        // Expired is a notice in any non-terminal state, refused after.
        for from in [Received, Delivered, Accepted, InProgress, Resolved] {
            assert_eq!(check(from, Expired, Side::Gateway), Verdict::Notice);
        }
        assert_eq!(
            check(Closed, Expired, Side::Gateway),
            Verdict::Refuse(Refusal::AfterTerminal { state: Closed })
        );
        // A damaged state is refused, never moved.
        assert_eq!(
            check(Expired, Resolved, Side::Target),
            Verdict::Refuse(Refusal::NotAState { state: Expired })
        );
    }

    #[test]
    fn refusal_texts_name_the_states() {
        let text = |r: Refusal| r.to_string();
        assert_eq!(
            text(Refusal::Backwards {
                from: Resolved,
                to: InProgress
            }),
            "status `in_progress` cannot follow `resolved`: a hand-off never moves back \
             (order: received, delivered, accepted, in_progress, resolved, closed)"
        );
        assert_eq!(
            text(Refusal::Backwards {
                from: Resolved,
                to: Rejected
            }),
            "status `rejected` cannot follow `resolved`: a hand-off can be returned only \
             before it is resolved"
        );
        assert_eq!(
            text(Refusal::AfterTerminal { state: Closed }),
            "the hand-off is already `closed`, a terminal state: no further status is accepted"
        );
        assert_eq!(
            text(Refusal::NotAllowedFor {
                side: Side::Origin,
                status: Resolved
            }),
            "the origin of a hand-off may not send status `resolved` (it may send: closed)"
        );
        assert_eq!(
            text(Refusal::NotAllowedFor {
                side: Side::Target,
                status: Closed
            }),
            "the target of a hand-off may not send status `closed` (it may send: delivered, \
             accepted, rejected, in_progress, resolved)"
        );
    }

    #[test]
    fn names_round_trip() {
        for side in Side::ALL {
            assert_eq!(Side::parse(side.as_str()), Some(side));
        }
        assert_eq!(Side::parse("Origin"), None);
    }
}
