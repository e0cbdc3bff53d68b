//! Command items: one appliance's part of a job, with its state machine.
//!
//! ```text
//! pk  TENANT#<tenant>
//! sk  CMD#<job id>#<appliance id>
//! job S, appliance S, operation S (JSON), state S, version N, cancel_requested BOOL,
//! reason S (JSON Refusal, optional), created_at N, sent_at N?, finished_at N?,
//! not_before N?, collect_by N, answer_window_secs N, refused_by_console BOOL,
//! observed S (JSON, set when sent), info S?, sealed_pin B (only while open),
//! gsi1pk OPENCMD#<appliance>, gsi1sk <job id> (only while open)
//! ```
//!
//! Every change of state is written on the condition that `version` is still the
//! one read ([`transition`]). A finished command loses its index entry and its sealed
//! PIN in the same write, so the console keeps the sealed form only while needed.

use rampart_domain::Timestamp;
use rampart_domain::ids::{ApplianceId, JobId, TenantId};
use rampart_domain::jobs::{
    CommandState, CommandStatus, Deadlines, ObservedState, Operation, Refusal,
};
use rampart_ports::table::{GSI1_PK, GSI1_SK};
use rampart_ports::{Condition, Item, Key, Update, Value};

use super::{MalformedItem, malformed, required};
use crate::store_keys;

const R: &str = "command";

#[derive(Clone, PartialEq)]
pub struct CommandRecord {
    pub tenant: TenantId,
    pub job: JobId,
    pub appliance: ApplianceId,
    pub operation: Operation,
    pub status: CommandStatus,
    pub deadlines: Deadlines,
    /// The command's secret sealed to the appliance's key, while open: the PIN of a
    /// PIN-protected operation, or the new password of `set_backup_password` (no
    /// operation carries both).
    pub sealed_pin: Option<Vec<u8>>,
    /// Rejected by the console before it was ever queued.
    pub refused_by_console: bool,
    /// What the console knew of the appliance when it collected the command.
    pub observed: Option<ObservedState>,
    /// The appliance's last words on it.
    pub info: Option<String>,
}

impl std::fmt::Debug for CommandRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandRecord")
            .field("job", &self.job)
            .field("appliance", &self.appliance)
            .field("operation", &self.operation)
            .field("status", &self.status)
            .field("sealed_pin", &self.sealed_pin.as_ref().map(|_| "<sealed>"))
            .finish_non_exhaustive()
    }
}

impl CommandRecord {
    pub fn key(&self) -> Key {
        store_keys::command(&self.tenant, &self.job, &self.appliance)
    }

    /// A freshly queued command.
    pub fn queued(
        tenant: TenantId,
        job: JobId,
        appliance: ApplianceId,
        operation: Operation,
        sealed_pin: Option<Vec<u8>>,
        now: Timestamp,
    ) -> Self {
        let deadlines = Deadlines::for_operation(&operation, now);
        Self {
            tenant,
            job,
            appliance,
            operation,
            status: CommandStatus::new(now),
            deadlines,
            sealed_pin,
            refused_by_console: false,
            observed: None,
            info: None,
        }
    }

    /// A command the console refused before queueing it: it starts finished.
    pub fn refused(
        tenant: TenantId,
        job: JobId,
        appliance: ApplianceId,
        operation: Operation,
        reason: Refusal,
        now: Timestamp,
    ) -> Self {
        let mut c = Self::queued(tenant, job, appliance, operation, None, now);
        c.status.state = CommandState::Rejected;
        c.status.reason = Some(reason);
        c.status.finished_at = Some(now);
        c.refused_by_console = true;
        c
    }

    pub fn is_open(&self) -> bool {
        !self.status.state.is_terminal()
    }
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

impl From<&CommandRecord> for Item {
    fn from(c: &CommandRecord) -> Item {
        let s = &c.status;
        let mut item = Item::new(c.key())
            .with("job", c.job.as_str())
            .with("appliance", c.appliance.as_str())
            .with("operation", json(&c.operation))
            .with("state", s.state.as_str())
            .with("version", s.version as i64)
            .with("cancel_requested", s.cancel_requested)
            .with("created_at", s.created_at.millis())
            .with("collect_by", c.deadlines.collect_by.millis())
            .with("answer_window_secs", c.deadlines.answer_window_secs as i64)
            .with("refused_by_console", c.refused_by_console);
        let opt = [
            ("sent_at", s.sent_at),
            ("finished_at", s.finished_at),
            ("not_before", c.deadlines.not_before),
        ];
        for (name, t) in opt {
            if let Some(t) = t {
                item = item.with(name, t.millis());
            }
        }
        if let Some(r) = &s.reason {
            item = item.with("reason", json(r));
        }
        if let Some(o) = &c.observed {
            item = item.with("observed", json(o));
        }
        if let Some(i) = &c.info {
            item = item.with("info", i.as_str());
        }
        if c.is_open() {
            if let Some(pin) = &c.sealed_pin {
                item = item.with("sealed_pin", Value::B(pin.clone()));
            }
            item = item
                .with(GSI1_PK, store_keys::open_commands_index(&c.appliance))
                .with(GSI1_SK, c.job.as_str());
        }
        item
    }
}

/// The conditional write that moves `current` to `next` (computed by the state
/// machine), with the observed state and info to record alongside.
pub fn transition(current: &CommandRecord, next: &CommandRecord) -> (Update, Condition) {
    let s = &next.status;
    let mut u = Update::new()
        .set("state", s.state.as_str())
        .set("version", s.version as i64)
        .set("cancel_requested", s.cancel_requested);
    let times = [("sent_at", s.sent_at), ("finished_at", s.finished_at)];
    for (name, t) in times {
        if let Some(t) = t {
            u = u.set(name, t.millis());
        }
    }
    if let Some(r) = &s.reason {
        u = u.set("reason", json(r));
    }
    if let Some(o) = &next.observed {
        u = u.set("observed", json(o));
    }
    if let Some(i) = &next.info {
        u = u.set("info", i.as_str());
    }
    if !next.is_open() {
        u = u.remove("sealed_pin").remove(GSI1_PK).remove(GSI1_SK);
    }
    let condition = Condition::eq("version", current.status.version as i64);
    (u, condition)
}

impl TryFrom<&Item> for CommandRecord {
    type Error = MalformedItem;

    fn try_from(item: &Item) -> Result<Self, MalformedItem> {
        let tenant = item
            .key
            .pk
            .strip_prefix("TENANT#")
            .ok_or_else(|| malformed(R, "key"))?;
        let bad = |e: &dyn std::fmt::Display| malformed(R, e);
        let num = |name: &str| -> Result<i64, MalformedItem> {
            item.i64(name)
                .ok_or_else(|| malformed(R, format!("missing {name}")))
        };
        let time = |name: &str| item.i64(name).map(Timestamp::from_millis);
        let flag = |name: &str| item.get(name).and_then(Value::as_bool).unwrap_or(false);
        let job = JobId::parse(required(item, R, "job")?).map_err(|e| bad(&e))?;
        let appliance = ApplianceId::parse(required(item, R, "appliance")?).map_err(|e| bad(&e))?;
        let tenant = TenantId::parse(tenant).map_err(|e| bad(&e))?;
        if item.key != store_keys::command(&tenant, &job, &appliance) {
            return Err(malformed(R, "attributes do not match the key"));
        }
        let state = CommandState::ALL
            .into_iter()
            .find(|s| s.as_str() == required(item, R, "state").unwrap_or(""))
            .ok_or_else(|| malformed(R, "unknown state"))?;
        let reason = item
            .str("reason")
            .map(serde_json::from_str::<Refusal>)
            .transpose()
            .map_err(|e| bad(&e))?;
        let observed = item
            .str("observed")
            .map(serde_json::from_str::<ObservedState>)
            .transpose()
            .map_err(|e| bad(&e))?;
        Ok(CommandRecord {
            tenant,
            job,
            appliance,
            operation: serde_json::from_str(required(item, R, "operation")?)
                .map_err(|e| bad(&e))?,
            status: CommandStatus {
                state,
                version: u64::try_from(num("version")?).map_err(|e| bad(&e))?,
                cancel_requested: flag("cancel_requested"),
                reason,
                created_at: Timestamp::from_millis(num("created_at")?),
                sent_at: time("sent_at"),
                finished_at: time("finished_at"),
            },
            deadlines: Deadlines {
                not_before: time("not_before"),
                collect_by: Timestamp::from_millis(num("collect_by")?),
                answer_window_secs: u64::try_from(num("answer_window_secs")?)
                    .map_err(|e| bad(&e))?,
            },
            sealed_pin: item
                .get("sealed_pin")
                .and_then(Value::as_bytes)
                .map(<[u8]>::to_vec),
            refused_by_console: flag("refused_by_console"),
            observed,
            info: item.str("info").map(str::to_owned),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_domain::jobs::CommandEvent;

    fn cmd() -> CommandRecord {
        CommandRecord::queued(
            TenantId::parse("123456.sms").unwrap(),
            JobId::new(1_700_000_000_000, [9; 4]),
            ApplianceId::from_random([2; 16]),
            Operation::Reboot,
            Some(vec![1, 2, 3]),
            Timestamp::from_millis(1_700_000_000_000),
        )
    }

    #[test]
    fn an_open_command_is_indexed_and_round_trips() {
        let c = cmd();
        let item = Item::from(&c);
        assert_eq!(
            item.str(GSI1_PK),
            Some(store_keys::open_commands_index(&c.appliance).as_str())
        );
        assert_eq!(CommandRecord::try_from(&item).unwrap(), c);
    }

    #[test]
    fn finishing_drops_the_index_entry_and_the_sealed_pin() {
        let c = cmd();
        let mut next = c.clone();
        next.status = c
            .status
            .apply(
                &CommandEvent::Collected,
                Timestamp::from_millis(1_700_000_001_000),
            )
            .unwrap();
        let (u, cond) = transition(&c, &next);
        assert_eq!(cond, Condition::eq("version", 0));
        assert!(!format!("{u:?}").contains("sealed_pin"));
        let sent = next.clone();
        next.status = sent
            .status
            .apply(
                &CommandEvent::Failed,
                Timestamp::from_millis(1_700_000_002_000),
            )
            .unwrap();
        let (u, cond) = transition(&sent, &next);
        assert_eq!(cond, Condition::eq("version", 1));
        let text = format!("{u:?}");
        for attr in ["sealed_pin", GSI1_PK, GSI1_SK] {
            assert!(text.contains(attr), "{attr} not removed: {text}");
        }
        // A finished command written whole carries neither either.
        let item = Item::from(&next);
        assert!(item.get("sealed_pin").is_none() && item.get(GSI1_PK).is_none());
    }

    #[test]
    fn a_console_refusal_starts_finished() {
        let c = CommandRecord::refused(
            TenantId::parse("123456.sms").unwrap(),
            JobId::new(1, [0; 4]),
            ApplianceId::from_random([3; 16]),
            Operation::Shutdown,
            Refusal::PinBlocked,
            Timestamp::from_millis(5),
        );
        let item = Item::from(&c);
        assert!(item.get(GSI1_PK).is_none());
        let back = CommandRecord::try_from(&item).unwrap();
        assert_eq!(back.status.state, CommandState::Rejected);
        assert!(back.refused_by_console);
    }

    #[test]
    fn the_debug_form_hides_the_sealed_pin() {
        assert!(!format!("{:?}", cmd()).contains("[1, 2, 3]"));
    }
}
