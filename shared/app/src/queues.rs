//! The queues of the system and how each behaves. On AWS these values are in
//! template.yaml (a test checks the two agree); the embedded runtime uses them as
//! they are here.

use rampart_ports::QueueSpec;
use std::time::Duration;

/// Dead-letter after this many receives without success.
pub const MAX_RECEIVES: u32 = 5;

/// (logical name, visibility timeout in seconds: 6x the consumer's timeout).
pub const QUEUES: [(&str, u64); 4] = [
    ("jobs", 180),
    ("backup-ingest", 180),
    ("rotation", 360),
    ("scan", 900),
];

pub fn spec(name: &str) -> Option<QueueSpec> {
    QUEUES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, vis)| QueueSpec {
            name: (*n).to_owned(),
            visibility_timeout: Duration::from_secs(*vis),
            max_receives: MAX_RECEIVES,
        })
}

pub fn all() -> Vec<QueueSpec> {
    QUEUES.iter().filter_map(|(n, _)| spec(n)).collect()
}
