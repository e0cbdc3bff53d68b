//! Scheduled work. On AWS each is an EventBridge rule in template.yaml sending
//! the message to the queue; self-hosted, a timer does the same (a test checks the
//! template agrees with these values).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DailySchedule {
    pub name: &'static str,
    /// UTC.
    pub hour: u32,
    pub minute: u32,
    pub queue: &'static str,
    pub message: &'static str,
}

/// The daily rotation sweep over every license (its consumer arrives with the
/// cloud-backup feature).
pub const ROTATION_SWEEP: DailySchedule = DailySchedule {
    name: "rotation-sweep",
    hour: 3,
    minute: 30,
    queue: "rotation",
    message: r#"{"kind":"rotation-sweep"}"#,
};

pub const ALL: [DailySchedule; 1] = [ROTATION_SWEEP];
