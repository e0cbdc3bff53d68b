//! The life of one command (SPEC 5): queued → sent → succeeded | failed | rejected |
//! timed out | canceled, as a pure state machine. The store writes every accepted
//! transition conditionally on [`CommandStatus::version`]; a refused one is a 409
//! (or, for an appliance's report on a finished command, a 410: see
//! [`CommandStatus::report`]).

use serde::{Deserialize, Serialize};
use std::fmt;

use super::operation::{Operation, Refusal};
use crate::Timestamp;

/// Where a command stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandState {
    Queued,
    Sent,
    Succeeded,
    Failed,
    Rejected,
    TimedOut,
    Canceled,
}

impl CommandState {
    pub const ALL: [CommandState; 7] = [
        Self::Queued,
        Self::Sent,
        Self::Succeeded,
        Self::Failed,
        Self::Rejected,
        Self::TimedOut,
        Self::Canceled,
    ];

    /// A terminal state accepts no further event.
    pub fn is_terminal(self) -> bool {
        !matches!(self, Self::Queued | Self::Sent)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Rejected => "rejected",
            Self::TimedOut => "timed_out",
            Self::Canceled => "canceled",
        }
    }
}

impl fmt::Display for CommandState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that happens to a command.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "event", content = "reason", rename_all = "snake_case")]
pub enum CommandEvent {
    /// The appliance collected it at check-in: queued → sent.
    Collected,
    /// An administrator asked to cancel a sent command. Only flags it; the state stays
    /// `sent` until the appliance confirms ([`CommandEvent::Canceled`]) or answers
    /// otherwise, or the answer deadline passes.
    CancelRequested,
    /// queued → canceled (by an administrator), or sent → canceled (the appliance
    /// confirms a cancel request).
    Canceled,
    Succeeded,
    Failed,
    /// The appliance refused it, with its reason.
    Rejected(Refusal),
    /// Not collected, or not answered, in time.
    TimedOut,
}

/// [`CommandEvent`] without its data: what an [`IllegalTransition`] names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Collected,
    CancelRequested,
    Canceled,
    Succeeded,
    Failed,
    Rejected,
    TimedOut,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Collected => "collected",
            Self::CancelRequested => "cancel_requested",
            Self::Canceled => "canceled",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Rejected => "rejected",
            Self::TimedOut => "timed_out",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl CommandEvent {
    pub fn kind(&self) -> EventKind {
        match self {
            Self::Collected => EventKind::Collected,
            Self::CancelRequested => EventKind::CancelRequested,
            Self::Canceled => EventKind::Canceled,
            Self::Succeeded => EventKind::Succeeded,
            Self::Failed => EventKind::Failed,
            Self::Rejected(_) => EventKind::Rejected,
            Self::TimedOut => EventKind::TimedOut,
        }
    }
}

/// Why a transition is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IllegalWhy {
    /// The command is finished; nothing changes it any more.
    Finished,
    /// The event makes no sense in this state (e.g. a result for a queued command).
    NotInThisState,
    /// The appliance confirmed a cancel nobody requested.
    CancelNotRequested,
    /// A cancel was already requested.
    CancelAlreadyRequested,
}

/// A refused transition: which state, which event, and why. The HTTP layer answers it
/// with 409 (`code()`), never changing the stored command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
pub struct IllegalTransition {
    pub from: CommandState,
    pub event: EventKind,
    pub why: IllegalWhy,
}

impl IllegalTransition {
    pub fn code(&self) -> &'static str {
        "illegal_transition"
    }
}

impl fmt::Display for IllegalTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.why {
            IllegalWhy::Finished => "the command is finished",
            IllegalWhy::NotInThisState => "not possible in this state",
            IllegalWhy::CancelNotRequested => "no cancel was requested",
            IllegalWhy::CancelAlreadyRequested => "a cancel was already requested",
        };
        write!(
            f,
            "cannot apply {} to a {} command: {why}",
            self.event, self.from
        )
    }
}

/// The state table, on states alone. Sent + `Canceled` is allowed here; that it needs a
/// prior cancel request is a rule of [`CommandStatus::apply`], which is what the store
/// uses. `CancelRequested` keeps a sent command sent.
pub fn apply(state: CommandState, event: &CommandEvent) -> Result<CommandState, IllegalTransition> {
    use CommandState as S;
    let illegal = |why| IllegalTransition {
        from: state,
        event: event.kind(),
        why,
    };
    if state.is_terminal() {
        return Err(illegal(IllegalWhy::Finished));
    }
    match (state, event) {
        (S::Queued, CommandEvent::Collected) => Ok(S::Sent),
        (S::Queued | S::Sent, CommandEvent::Canceled) => Ok(S::Canceled),
        (S::Queued | S::Sent, CommandEvent::TimedOut) => Ok(S::TimedOut),
        (S::Sent, CommandEvent::CancelRequested) => Ok(S::Sent),
        (S::Sent, CommandEvent::Succeeded) => Ok(S::Succeeded),
        (S::Sent, CommandEvent::Failed) => Ok(S::Failed),
        (S::Sent, CommandEvent::Rejected(_)) => Ok(S::Rejected),
        _ => Err(illegal(IllegalWhy::NotInThisState)),
    }
}

/// What the store keeps about one command's progress. Every accepted event yields a new
/// status whose `version` is exactly one more; the store writes it only if the stored
/// version is still the one it read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandStatus {
    pub state: CommandState,
    pub version: u64,
    /// A cancel was requested while the command was sent.
    #[serde(default)]
    pub cancel_requested: bool,
    /// The appliance's reason, for a rejected command.
    #[serde(default)]
    pub reason: Option<Refusal>,
    pub created_at: Timestamp,
    /// When the appliance collected it.
    #[serde(default)]
    pub sent_at: Option<Timestamp>,
    /// When it reached a terminal state.
    #[serde(default)]
    pub finished_at: Option<Timestamp>,
}

impl CommandStatus {
    /// A freshly queued command, version 0.
    pub fn new(created_at: Timestamp) -> Self {
        Self {
            state: CommandState::Queued,
            version: 0,
            cancel_requested: false,
            reason: None,
            created_at,
            sent_at: None,
            finished_at: None,
        }
    }

    /// Applies `event` at time `now`: the next status (version + 1), or the refusal.
    pub fn apply(&self, event: &CommandEvent, now: Timestamp) -> Result<Self, IllegalTransition> {
        let illegal = |why| IllegalTransition {
            from: self.state,
            event: event.kind(),
            why,
        };
        let next_state = apply(self.state, event)?;
        let mut next = self.clone();
        match event {
            CommandEvent::CancelRequested if self.cancel_requested => {
                return Err(illegal(IllegalWhy::CancelAlreadyRequested));
            }
            CommandEvent::CancelRequested => next.cancel_requested = true,
            CommandEvent::Canceled
                if self.state == CommandState::Sent && !self.cancel_requested =>
            {
                return Err(illegal(IllegalWhy::CancelNotRequested));
            }
            CommandEvent::Collected => next.sent_at = Some(now),
            CommandEvent::Rejected(reason) => next.reason = Some(reason.clone()),
            _ => {}
        }
        next.state = next_state;
        if next_state.is_terminal() {
            next.finished_at = Some(now);
        }
        next.version = self.version + 1;
        Ok(next)
    }

    /// Handles an appliance's result for this command, idempotently:
    /// - the same result again on a finished command changes nothing ([`ReportOutcome::Duplicate`]);
    /// - any other result on a finished command is [`ReportOutcome::Gone`] (HTTP 410);
    /// - "succeeded" for an operation whose success only a check-in proves is noted and
    ///   otherwise ignored ([`ReportOutcome::AwaitCheckin`]);
    /// - otherwise the event is applied ([`ReportOutcome::Apply`]) or refused
    ///   ([`ReportOutcome::Conflict`], HTTP 409).
    pub fn report(
        &self,
        op: &Operation,
        result: &ApplianceResult,
        now: Timestamp,
    ) -> ReportOutcome {
        if self.state.is_terminal() {
            return if self.records(result) {
                ReportOutcome::Duplicate
            } else {
                ReportOutcome::Gone
            };
        }
        if *result == ApplianceResult::Succeeded
            && op.success_needs_checkin()
            && self.state == CommandState::Sent
        {
            return ReportOutcome::AwaitCheckin;
        }
        match self.apply(&result.event(), now) {
            Ok(next) => ReportOutcome::Apply(next),
            Err(e) => ReportOutcome::Conflict(e),
        }
    }

    /// Whether this (finished) status is what `result` would have produced.
    fn records(&self, result: &ApplianceResult) -> bool {
        match result {
            ApplianceResult::Succeeded => self.state == CommandState::Succeeded,
            ApplianceResult::Failed => self.state == CommandState::Failed,
            ApplianceResult::Canceled => self.state == CommandState::Canceled,
            ApplianceResult::Rejected(r) => {
                self.state == CommandState::Rejected && self.reason.as_ref() == Some(r)
            }
        }
    }
}

/// What an appliance may report about a command it collected.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "result", content = "reason", rename_all = "snake_case")]
pub enum ApplianceResult {
    Succeeded,
    Failed,
    Rejected(Refusal),
    /// Confirms a cancel request.
    Canceled,
}

impl ApplianceResult {
    pub fn event(&self) -> CommandEvent {
        match self {
            Self::Succeeded => CommandEvent::Succeeded,
            Self::Failed => CommandEvent::Failed,
            Self::Rejected(r) => CommandEvent::Rejected(r.clone()),
            Self::Canceled => CommandEvent::Canceled,
        }
    }
}

/// The verdict on an appliance's report; see [`CommandStatus::report`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReportOutcome {
    /// Write this status (conditionally on the version read).
    Apply(CommandStatus),
    /// Already recorded: answer success, write nothing.
    Duplicate,
    /// The command finished differently before: 410, write nothing.
    Gone,
    /// The appliance says it did it, but only its next check-in can prove it: answer
    /// success, write nothing.
    AwaitCheckin,
    /// Not possible now: 409, write nothing.
    Conflict(IllegalTransition),
}

#[cfg(test)]
mod tests {
    use super::*;
    use CommandState as S;

    fn events() -> Vec<CommandEvent> {
        vec![
            CommandEvent::Collected,
            CommandEvent::CancelRequested,
            CommandEvent::Canceled,
            CommandEvent::Succeeded,
            CommandEvent::Failed,
            CommandEvent::Rejected(Refusal::PinBlocked),
            CommandEvent::TimedOut,
        ]
    }

    /// The whole state table: (from, event) → Some(to) or None (illegal).
    #[test]
    fn state_table() {
        use EventKind as E;
        let table: &[(S, E, Option<S>)] = &[
            (S::Queued, E::Collected, Some(S::Sent)),
            (S::Queued, E::CancelRequested, None),
            (S::Queued, E::Canceled, Some(S::Canceled)),
            (S::Queued, E::Succeeded, None),
            (S::Queued, E::Failed, None),
            (S::Queued, E::Rejected, None),
            (S::Queued, E::TimedOut, Some(S::TimedOut)),
            (S::Sent, E::Collected, None),
            (S::Sent, E::CancelRequested, Some(S::Sent)),
            (S::Sent, E::Canceled, Some(S::Canceled)),
            (S::Sent, E::Succeeded, Some(S::Succeeded)),
            (S::Sent, E::Failed, Some(S::Failed)),
            (S::Sent, E::Rejected, Some(S::Rejected)),
            (S::Sent, E::TimedOut, Some(S::TimedOut)),
        ];
        assert_eq!(table.len(), 2 * events().len());
        for (from, kind, to) in table {
            let ev = events().into_iter().find(|e| e.kind() == *kind).unwrap();
            match (apply(*from, &ev), to) {
                (Ok(got), Some(want)) => assert_eq!(got, *want, "{from} + {kind}"),
                (Err(e), None) => {
                    assert_eq!(
                        (e.from, e.event, e.why),
                        (*from, *kind, IllegalWhy::NotInThisState)
                    );
                }
                (got, want) => panic!("{from} + {kind}: got {got:?}, want {want:?}"),
            }
        }
        for from in S::ALL.into_iter().filter(|s| s.is_terminal()) {
            for ev in events() {
                let e = apply(from, &ev).unwrap_err();
                assert_eq!(e.why, IllegalWhy::Finished);
                assert!(e.to_string().contains(from.as_str()), "{e}");
            }
        }
    }

    #[test]
    fn status_tracks_times_reason_and_version() {
        let t = |s| Timestamp::from_secs(s);
        let s0 = CommandStatus::new(t(0));
        let s1 = s0.apply(&CommandEvent::Collected, t(10)).unwrap();
        assert_eq!(
            (s1.state, s1.version, s1.sent_at),
            (S::Sent, 1, Some(t(10)))
        );
        let refusal = Refusal::WrongPin { attempts_left: 4 };
        let s2 = s1
            .apply(&CommandEvent::Rejected(refusal.clone()), t(20))
            .unwrap();
        assert_eq!(s2.state, S::Rejected);
        assert_eq!(s2.version, 2);
        assert_eq!(s2.reason, Some(refusal));
        assert_eq!(s2.finished_at, Some(t(20)));
    }

    #[test]
    fn sent_commands_cancel_only_after_a_request() {
        let t0 = Timestamp::from_secs(0);
        let sent = CommandStatus::new(t0)
            .apply(&CommandEvent::Collected, t0)
            .unwrap();
        assert_eq!(
            sent.apply(&CommandEvent::Canceled, t0).unwrap_err().why,
            IllegalWhy::CancelNotRequested
        );
        let flagged = sent.apply(&CommandEvent::CancelRequested, t0).unwrap();
        assert_eq!((flagged.state, flagged.cancel_requested), (S::Sent, true));
        assert_eq!(
            flagged
                .apply(&CommandEvent::CancelRequested, t0)
                .unwrap_err()
                .why,
            IllegalWhy::CancelAlreadyRequested
        );
        // The appliance may still finish it instead of canceling.
        assert_eq!(
            flagged.apply(&CommandEvent::Succeeded, t0).unwrap().state,
            S::Succeeded
        );
        assert_eq!(
            flagged.apply(&CommandEvent::Canceled, t0).unwrap().state,
            S::Canceled
        );
        // A queued command cancels directly.
        assert_eq!(
            CommandStatus::new(t0)
                .apply(&CommandEvent::Canceled, t0)
                .unwrap()
                .state,
            S::Canceled
        );
    }

    #[test]
    fn reports_are_idempotent_and_finished_commands_are_gone() {
        let t0 = Timestamp::from_secs(0);
        let app = Operation::Application {
            name: "ips".into(),
            action: super::super::AppAction::Start,
        };
        let queued = CommandStatus::new(t0);
        assert!(matches!(
            queued.report(&app, &ApplianceResult::Succeeded, t0),
            ReportOutcome::Conflict(_)
        ));
        let sent = queued.apply(&CommandEvent::Collected, t0).unwrap();
        let ReportOutcome::Apply(done) = sent.report(&app, &ApplianceResult::Succeeded, t0) else {
            panic!()
        };
        assert_eq!(done.state, S::Succeeded);
        assert_eq!(
            done.report(&app, &ApplianceResult::Succeeded, t0),
            ReportOutcome::Duplicate
        );
        assert_eq!(
            done.report(&app, &ApplianceResult::Failed, t0),
            ReportOutcome::Gone
        );

        let wrong_pin = ApplianceResult::Rejected(Refusal::WrongPin { attempts_left: 2 });
        let ReportOutcome::Apply(rejected) = sent.report(&Operation::Reboot, &wrong_pin, t0) else {
            panic!()
        };
        assert_eq!(
            rejected.report(&Operation::Reboot, &wrong_pin, t0),
            ReportOutcome::Duplicate
        );
        let other = ApplianceResult::Rejected(Refusal::WrongPin { attempts_left: 1 });
        assert_eq!(
            rejected.report(&Operation::Reboot, &other, t0),
            ReportOutcome::Gone
        );

        // A reboot's own "done" proves nothing; the next check-in decides.
        assert_eq!(
            sent.report(&Operation::Reboot, &ApplianceResult::Succeeded, t0),
            ReportOutcome::AwaitCheckin
        );
        // A result after the timeout is gone.
        let timed_out = sent.apply(&CommandEvent::TimedOut, t0).unwrap();
        assert_eq!(
            timed_out.report(&app, &ApplianceResult::Succeeded, t0),
            ReportOutcome::Gone
        );
        // A cancel confirmation without a request is a conflict.
        assert!(matches!(
            sent.report(&app, &ApplianceResult::Canceled, t0),
            ReportOutcome::Conflict(IllegalTransition {
                why: IllegalWhy::CancelNotRequested,
                ..
            })
        ));
    }

    #[test]
    fn wire_forms() {
        for s in S::ALL {
            let json = serde_json::to_value(s).unwrap();
            assert_eq!(json, s.as_str());
            assert_eq!(serde_json::from_value::<S>(json).unwrap(), s);
        }
        for ev in events() {
            let json = serde_json::to_value(&ev).unwrap();
            assert_eq!(json["event"], ev.kind().as_str());
            assert_eq!(serde_json::to_value(ev.kind()).unwrap(), ev.kind().as_str());
            assert_eq!(serde_json::from_value::<CommandEvent>(json).unwrap(), ev);
        }
        assert_eq!(
            serde_json::to_value(CommandEvent::Rejected(Refusal::WrongPin {
                attempts_left: 1
            }))
            .unwrap(),
            serde_json::json!({"event": "rejected", "reason": {"code": "wrong_pin", "attempts_left": 1}})
        );
        for r in [
            ApplianceResult::Succeeded,
            ApplianceResult::Failed,
            ApplianceResult::Canceled,
            ApplianceResult::Rejected(Refusal::Unsupported),
        ] {
            let json = serde_json::to_value(&r).unwrap();
            assert_eq!(serde_json::from_value::<ApplianceResult>(json).unwrap(), r);
        }
        assert_eq!(
            serde_json::to_value(ApplianceResult::Succeeded).unwrap(),
            serde_json::json!({"result": "succeeded"})
        );
        let status = CommandStatus::new(Timestamp::from_secs(5))
            .apply(&CommandEvent::Collected, Timestamp::from_secs(6))
            .unwrap();
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(json["state"], "sent");
        assert_eq!(
            serde_json::from_value::<CommandStatus>(json).unwrap(),
            status
        );
        let e = IllegalTransition {
            from: S::Failed,
            event: EventKind::Succeeded,
            why: IllegalWhy::Finished,
        };
        assert_eq!(
            serde_json::to_value(e).unwrap(),
            serde_json::json!({"from": "failed", "event": "succeeded", "why": "finished"})
        );
    }
}
