//! Properties of the jobs state machine, deadlines and counts under random input.

use proptest::prelude::*;
use rampart_domain::Timestamp;
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::jobs::{
    AppAction, ApplianceResult, Authorization, CommandEvent, CommandState, CommandStatus,
    Deadlines, IllegalWhy, JobCounts, Operation, Refusal, ReportOutcome, deliverable, due_timeout,
};

fn refusal() -> impl Strategy<Value = Refusal> {
    prop_oneof![
        Just(Refusal::NotAuthorized {
            authorization: Authorization::PinProtectedActions
        }),
        Just(Refusal::FirmwareTooOld {
            required: FirmwareVersion::new(14, 1, 0)
        }),
        Just(Refusal::NothingToRollBack),
        (0u32..6).prop_map(|attempts_left| Refusal::WrongPin { attempts_left }),
        Just(Refusal::PinBlocked),
        Just(Refusal::Unsupported),
    ]
}

fn event() -> impl Strategy<Value = CommandEvent> {
    prop_oneof![
        Just(CommandEvent::Collected),
        Just(CommandEvent::CancelRequested),
        Just(CommandEvent::Canceled),
        Just(CommandEvent::Succeeded),
        Just(CommandEvent::Failed),
        refusal().prop_map(CommandEvent::Rejected),
        Just(CommandEvent::TimedOut),
    ]
}

fn appliance_result() -> impl Strategy<Value = ApplianceResult> {
    prop_oneof![
        Just(ApplianceResult::Succeeded),
        Just(ApplianceResult::Failed),
        Just(ApplianceResult::Canceled),
        refusal().prop_map(ApplianceResult::Rejected),
    ]
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        Just(Operation::Reboot),
        Just(Operation::Shutdown),
        Just(Operation::FactoryReset),
        Just(Operation::Rollback),
        (-200_000i64..200_000).prop_map(|s| Operation::FirmwareUpdate {
            version: FirmwareVersion::new(14, 2, 0),
            not_before: Timestamp::from_secs(1_700_000_000 + s),
        }),
        Just(Operation::Application {
            name: "ips".into(),
            action: AppAction::Restart,
        }),
    ]
}

const T0: i64 = 1_700_000_000_000;

proptest! {
    /// Random events from a fresh command: accepted events bump the version by exactly
    /// one, refused ones change nothing; a terminal state, once reached, refuses every
    /// later event; Canceled comes only from Queued, or from Sent after a cancel request.
    #[test]
    fn state_machine_invariants(events in prop::collection::vec((event(), 0i64..10_000), 0..40)) {
        let mut status = CommandStatus::new(Timestamp::from_millis(T0));
        let mut accepted = 0u64;
        let mut now = T0;
        for (ev, step) in events {
            now += step;
            let before = status.clone();
            match status.apply(&ev, Timestamp::from_millis(now)) {
                Ok(next) => {
                    prop_assert!(!before.state.is_terminal(), "{before:?} accepted {ev:?}");
                    prop_assert_eq!(next.version, before.version + 1);
                    if next.state == CommandState::Canceled {
                        prop_assert!(
                            before.state == CommandState::Queued
                                || (before.state == CommandState::Sent && before.cancel_requested),
                            "canceled from {:?}", before
                        );
                    }
                    if next.state.is_terminal() {
                        prop_assert!(next.finished_at.is_some());
                    }
                    if next.state != CommandState::Queued {
                        prop_assert!(next.sent_at.is_some() || next.state.is_terminal());
                    }
                    prop_assert_eq!(next.state == CommandState::Rejected, next.reason.is_some());
                    accepted += 1;
                    status = next;
                }
                Err(e) => {
                    prop_assert_eq!(e.from, before.state);
                    prop_assert_eq!(e.event, ev.kind());
                    prop_assert_eq!(e.why == IllegalWhy::Finished, before.state.is_terminal());
                }
            }
            prop_assert_eq!(status.version, accepted);
        }
    }

    /// Appliance reports: a report never writes to a finished command, and a result
    /// that was applied, reported again, is a duplicate.
    #[test]
    fn reports_are_idempotent(
        op in operation(),
        prefix in prop::collection::vec(event(), 0..6),
        result in appliance_result(),
    ) {
        let t = Timestamp::from_millis(T0);
        let mut status = CommandStatus::new(t);
        for ev in &prefix {
            if let Ok(next) = status.apply(ev, t) {
                status = next;
            }
        }
        match status.report(&op, &result, t) {
            ReportOutcome::Apply(next) => {
                prop_assert!(!status.state.is_terminal());
                prop_assert_eq!(next.version, status.version + 1);
                if next.state.is_terminal() {
                    prop_assert_eq!(next.report(&op, &result, t), ReportOutcome::Duplicate);
                }
            }
            ReportOutcome::Duplicate | ReportOutcome::Gone => {
                prop_assert!(status.state.is_terminal());
            }
            ReportOutcome::AwaitCheckin => {
                prop_assert!(op.success_needs_checkin());
                prop_assert_eq!(status.state, CommandState::Sent);
                prop_assert_eq!(result, ApplianceResult::Succeeded);
            }
            ReportOutcome::Conflict(e) => prop_assert!(!e.from.is_terminal()),
        }
    }

    /// Past its collect-by time a command is never deliverable, whatever happened to
    /// it; and a deliverable command is never due to time out.
    #[test]
    fn never_delivered_late(
        op in operation(),
        created in -100_000_000i64..100_000_000,
        events in prop::collection::vec(event(), 0..4),
        later in 0i64..10_000_000_000,
        at in -100_000_000i64..10_000_000_000,
    ) {
        let created = Timestamp::from_millis(T0 + created);
        let deadlines = Deadlines::for_operation(&op, created);
        let mut status = CommandStatus::new(created);
        for ev in &events {
            if let Ok(next) = status.apply(ev, created) {
                status = next;
            }
        }
        let past = Timestamp::from_millis(deadlines.collect_by.millis() + 1 + later);
        prop_assert!(!deliverable(&status, &deadlines, past));
        if status.state == CommandState::Queued {
            prop_assert!(due_timeout(&status, &deadlines, past));
        }
        let now = Timestamp::from_millis(T0 + at);
        if deliverable(&status, &deadlines, now) {
            prop_assert!(!due_timeout(&status, &deadlines, now));
            prop_assert!(now <= deadlines.collect_by);
            prop_assert!(deadlines.not_before.is_none_or(|nb| now >= nb));
        }
        prop_assert!(deadlines.collect_by > created);
    }

    /// Counts track a set of commands through random events: the total stays the number
    /// of commands, and every count matches a recount.
    #[test]
    fn counts_stay_consistent(
        n in 1usize..30,
        steps in prop::collection::vec((any::<prop::sample::Index>(), event()), 0..120),
    ) {
        let t = Timestamp::from_millis(T0);
        let mut commands = vec![CommandStatus::new(t); n];
        let mut counts = JobCounts::default();
        for c in &commands {
            counts.add(c.state);
        }
        for (which, ev) in steps {
            let i = which.index(n);
            if let Ok(next) = commands[i].apply(&ev, t) {
                counts.moved(commands[i].state, next.state).unwrap();
                commands[i] = next;
            }
            prop_assert_eq!(counts.total(), n as u64);
        }
        prop_assert_eq!(counts, JobCounts::of(commands.iter().map(|c| c.state)));
        prop_assert_eq!(
            counts.is_finished(),
            commands.iter().all(|c| c.state.is_terminal())
        );
    }

    /// Wire round trips of the enums under random values.
    #[test]
    fn wire_round_trips(op in operation(), ev in event(), r in appliance_result()) {
        let back: Operation = serde_json::from_str(&serde_json::to_string(&op).unwrap()).unwrap();
        prop_assert_eq!(back, op);
        let back: CommandEvent = serde_json::from_str(&serde_json::to_string(&ev).unwrap()).unwrap();
        prop_assert_eq!(back, ev);
        let back: ApplianceResult = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        prop_assert_eq!(back, r);
    }
}
