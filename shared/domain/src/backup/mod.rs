//! Cloud backup (SPEC 6), the pure part: which backups a rotation keeps and why
//! ([`plan`], SPEC 6.4), and what a backup password must look like
//! ([`BackupPassword`], SPEC 6.1). Storage, ingest and the daily sweep build on these
//! and add no rules of their own.

mod password_policy;
mod rotation;

pub use password_policy::{
    BackupPassword, CharClass, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, MIN_PASSWORD_CLASSES,
    PasswordRefusal,
};
pub use rotation::{
    BackupPoint, Decision, KeptBy, MAX_TIME_LINE_CHARS, MAX_TIME_LINES, RotationPolicy,
    RotationRule, parse_backup_times, plan, to_delete,
};
