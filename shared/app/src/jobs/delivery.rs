//! What a check-in does with the appliance's open commands: hands over those due,
//! times out those past their deadline, lets the report prove a reboot, rollback or
//! update, and passes on cancel requests. Runs only when the appliance item counts
//! open commands, so an idle check-in stays one write.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rampart_domain::Timestamp;
use rampart_domain::comm_log::{ChainHead, Direction, LogFields, LogStatus};
use rampart_domain::device_protocol::PendingCommand;
use rampart_domain::ids::{ApplianceId, TenantId};
use rampart_domain::jobs::{
    CommandEvent, CommandState, Confirmation, ObservedState, confirmed_by_checkin, deliverable,
    due_timeout,
};
use rampart_domain::report::CheckinReport;
use rampart_ports::{Index, Query, Table};

use super::command_writer::{Written, write_transition};
use crate::error::ApiError;
use crate::records::command::CommandRecord;
use crate::store_keys;

/// Open commands read per check-in; more wait for the next one (which comes soon:
/// an appliance with queued commands is on the fast poll interval).
pub const OPEN_COMMANDS_PER_CHECKIN: u32 = 20;

/// What to do with one open command at a check-in.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Hand it over (queued → sent).
    Deliver,
    /// Ask the appliance again to cancel it.
    RequestCancel,
    /// Apply this event, logging it.
    Apply(CommandEvent, LogFields),
    /// Nothing now.
    Wait,
}

/// Decides what a check-in at `now` with `report` means for `cmd`. Pure.
pub fn decide(cmd: &CommandRecord, report: &CheckinReport, now: Timestamp) -> Step {
    let log = |direction, status, info: String| LogFields {
        time: now,
        job: Some(cmd.job.to_string()),
        direction,
        status,
        info,
    };
    let timed_out = |what: &str, by: Timestamp| {
        Step::Apply(
            CommandEvent::TimedOut,
            log(
                Direction::ConsoleToAppliance,
                LogStatus::TimedOut,
                format!("{}: {what} by {}", cmd.operation.name(), by.to_rfc3339()),
            ),
        )
    };
    let s = &cmd.status;
    let d = &cmd.deadlines;
    match s.state {
        CommandState::Queued if due_timeout(s, d, now) => timed_out("not collected", d.collect_by),
        CommandState::Queued if deliverable(s, d, now) => Step::Deliver,
        CommandState::Sent => {
            let sent_at = s.sent_at.unwrap_or(d.collect_by);
            if cmd.operation.success_needs_checkin() {
                let before = cmd
                    .observed
                    .unwrap_or_else(|| ObservedState::from_report(report));
                let verdict = confirmed_by_checkin(&cmd.operation, sent_at, &before, report, now);
                let proof = format!(
                    "checked in with firmware {} after {} s of uptime",
                    report.firmware, report.uptime_secs
                );
                match verdict {
                    Confirmation::Succeeded => {
                        return Step::Apply(
                            CommandEvent::Succeeded,
                            log(
                                Direction::ApplianceToConsole,
                                LogStatus::Ok,
                                format!("{} succeeded: {proof}", cmd.operation.name()),
                            ),
                        );
                    }
                    Confirmation::Failed => {
                        return Step::Apply(
                            CommandEvent::Failed,
                            log(
                                Direction::ApplianceToConsole,
                                LogStatus::Error,
                                format!("{} failed: {proof}", cmd.operation.name()),
                            ),
                        );
                    }
                    Confirmation::Pending => {}
                }
            }
            if due_timeout(s, d, now) {
                timed_out("not answered", d.answer_by(sent_at))
            } else if s.cancel_requested {
                Step::RequestCancel
            } else {
                Step::Wait
            }
        }
        _ => Step::Wait,
    }
}

/// Runs [`decide`] over the appliance's open commands and writes the outcome. The
/// check-in's own write already stored `report`; `head` is the log head it read.
pub async fn at_checkin(
    table: &dyn Table,
    tenant: &TenantId,
    appliance: &ApplianceId,
    report: &CheckinReport,
    now: Timestamp,
    head: ChainHead,
) -> Result<Vec<PendingCommand>, ApiError> {
    let page = table
        .query(
            Query::partition(store_keys::open_commands_index(appliance))
                .on(Index::Gsi1)
                .limit(OPEN_COMMANDS_PER_CHECKIN),
        )
        .await?;
    let mut head = Some(head);
    let mut out = Vec::new();
    for item in &page.items {
        let cmd = CommandRecord::try_from(item).map_err(|e| ApiError::Unavailable(e.into()))?;
        // The index is walled by the appliance; the tenant check is belt and braces.
        if &cmd.tenant != tenant || !cmd.is_open() {
            continue;
        }
        let (event, log) = match decide(&cmd, report, now) {
            Step::Wait => continue,
            Step::RequestCancel => {
                out.push(PendingCommand {
                    command_id: cmd.job.clone(),
                    operation: cmd.operation.clone(),
                    sealed_pin: None,
                    sealed_password: None,
                    cancel: true,
                });
                continue;
            }
            Step::Deliver => (
                CommandEvent::Collected,
                LogFields {
                    time: now,
                    job: Some(cmd.job.to_string()),
                    direction: Direction::ConsoleToAppliance,
                    status: LogStatus::Ok,
                    info: format!("sent {}", cmd.operation.name()),
                },
            ),
            Step::Apply(event, log) => (event, log),
        };
        let Ok(status) = cmd.status.apply(&event, now) else {
            continue;
        };
        let mut next = cmd.clone();
        next.status = status;
        if event == CommandEvent::Collected {
            next.observed = Some(ObservedState::from_report(report));
        }
        match write_transition(table, &cmd, &next, Some(log), head).await? {
            Written::Done { head: h } => {
                head = h;
                if event == CommandEvent::Collected {
                    // The record keeps one sealed secret; the operation says which.
                    let sealed = cmd.sealed_pin.as_ref().map(|p| B64.encode(p));
                    let (sealed_pin, sealed_password) = if cmd.operation.carries_sealed_password() {
                        (None, sealed)
                    } else {
                        (sealed, None)
                    };
                    out.push(PendingCommand {
                        command_id: cmd.job.clone(),
                        operation: cmd.operation.clone(),
                        sealed_pin,
                        sealed_password,
                        cancel: false,
                    });
                }
            }
            // Someone else moved it (a stale index read, a concurrent check-in):
            // the next check-in sees where it stands.
            Written::Stale => head = None,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_domain::firmware::FirmwareVersion;
    use rampart_domain::ids::JobId;
    use rampart_domain::jobs::{COLLECT_WINDOW, Operation};
    use std::time::Duration;

    const T0: i64 = 1_700_000_000_000;

    fn report(firmware: &str, uptime_secs: u64) -> CheckinReport {
        let mut r: CheckinReport = serde_json::from_value(serde_json::json!({
            "firmware": firmware, "hostname": "fw", "model": "UTM",
            "cpu_percent": 1.0, "memory_percent": 1.0, "disk_percent": 1.0,
            "uptime_secs": uptime_secs, "interfaces": [], "applications": {},
            "authorizations": {}, "privacy_accepted": true, "console_activated": true,
            "config_version": 0
        }))
        .unwrap();
        r.previous_firmware = Some(FirmwareVersion::parse("14.0").unwrap());
        r
    }

    fn cmd(op: Operation) -> CommandRecord {
        CommandRecord::queued(
            TenantId::parse("123456.sms").unwrap(),
            JobId::new(T0, [1; 4]),
            ApplianceId::from_random([1; 16]),
            op,
            None,
            Timestamp::from_millis(T0),
        )
    }

    fn at(secs: u64) -> Timestamp {
        Timestamp::from_millis(T0).plus(Duration::from_secs(secs))
    }

    fn sent(mut c: CommandRecord, secs: u64, r: &CheckinReport) -> CommandRecord {
        c.status = c.status.apply(&CommandEvent::Collected, at(secs)).unwrap();
        c.observed = Some(ObservedState::from_report(r));
        c
    }

    #[test]
    fn a_queued_command_is_delivered_until_its_collect_by_and_never_after() {
        let c = cmd(Operation::FactoryReset);
        let r = report("14.2", 1000);
        assert_eq!(decide(&c, &r, at(10)), Step::Deliver);
        assert_eq!(decide(&c, &r, at(COLLECT_WINDOW.as_secs())), Step::Deliver);
        // Days later the appliance comes back: the reset times out instead.
        let step = decide(&c, &r, at(3 * 86_400));
        assert!(
            matches!(step, Step::Apply(CommandEvent::TimedOut, ref l) if l.status == LogStatus::TimedOut)
        );
    }

    #[test]
    fn a_planned_update_waits_for_its_time() {
        let op = Operation::FirmwareUpdate {
            version: FirmwareVersion::parse("14.3").unwrap(),
            not_before: at(600),
        };
        let c = cmd(op);
        assert_eq!(decide(&c, &report("14.2", 5), at(60)), Step::Wait);
        assert_eq!(decide(&c, &report("14.2", 5), at(601)), Step::Deliver);
    }

    #[test]
    fn a_reboot_succeeds_only_on_a_fresh_uptime() {
        let before = report("14.2", 10_000);
        let c = sent(cmd(Operation::Reboot), 10, &before);
        // Still up since before the command: nothing proven yet.
        assert_eq!(decide(&c, &report("14.2", 10_100), at(100)), Step::Wait);
        let step = decide(&c, &report("14.2", 30), at(100));
        assert!(matches!(step, Step::Apply(CommandEvent::Succeeded, ref l)
            if l.direction == Direction::ApplianceToConsole));
    }

    #[test]
    fn an_update_that_booted_onto_another_version_failed() {
        let op = Operation::FirmwareUpdate {
            version: FirmwareVersion::parse("14.3").unwrap(),
            not_before: at(0),
        };
        let before = report("14.2", 10_000);
        let c = sent(cmd(op), 10, &before);
        assert!(matches!(
            decide(&c, &report("14.3", 20), at(120)),
            Step::Apply(CommandEvent::Succeeded, _)
        ));
        assert!(matches!(
            decide(&c, &report("14.2", 20), at(120)),
            Step::Apply(CommandEvent::Failed, _)
        ));
    }

    #[test]
    fn a_sent_command_times_out_unanswered_and_passes_on_cancel_requests() {
        let r = report("14.2", 10_000);
        let mut c = sent(
            cmd(Operation::Application {
                name: "ips".into(),
                action: rampart_domain::jobs::AppAction::Stop,
            }),
            10,
            &r,
        );
        assert_eq!(decide(&c, &r, at(20)), Step::Wait);
        c.status = c
            .status
            .apply(&CommandEvent::CancelRequested, at(30))
            .unwrap();
        assert_eq!(decide(&c, &r, at(40)), Step::RequestCancel);
        assert!(matches!(
            decide(&c, &r, at(10 + 15 * 60 + 1)),
            Step::Apply(CommandEvent::TimedOut, _)
        ));
    }
}
