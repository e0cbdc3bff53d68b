//! Operations as jobs (SPEC 4.4, 5), the pure part: what an operation is and whether
//! the console may queue it, the life of each command as a versioned state machine,
//! its deadlines, success proven by check-in, a job's target and its per-state counts.
//!
//! A job targets one appliance, a list or a tag ([`JobTarget`], resolved when the job
//! is created) and fans out into one command per appliance. Each command has a
//! [`CommandStatus`] (state plus version, for conditional writes) and [`Deadlines`]
//! fixed at creation; the job shows [`JobCounts`]. Storage, queues and HTTP build on
//! these and add no rules of their own.

mod command_state;
mod confirmation;
mod deadlines;
mod job_counts;
mod job_target;
mod operation;

pub use command_state::{
    ApplianceResult, CommandEvent, CommandState, CommandStatus, EventKind, IllegalTransition,
    IllegalWhy, ReportOutcome, apply,
};
pub use confirmation::{Confirmation, ObservedState, confirmed_by_checkin};
pub use deadlines::{
    ANSWER_WINDOW, ANSWER_WINDOW_CONFIRMED_BY_CHECKIN, COLLECT_WINDOW, Deadlines, deliverable,
    due_timeout,
};
pub use job_counts::{CountUnderflow, JobCounts};
pub use job_target::{JobTarget, MAX_TAG_CHARS, MAX_TARGETS};
pub use operation::{
    AppAction, Authorization, MAX_APPLICATION_NAME_CHARS, MAX_PLAN_AHEAD, Operation, Refusal,
};
