//! The reference appliance: it enrolls once, keeps its key and identity in a state
//! file, checks in at the interval the console tells it, runs the commands it
//! collects exactly once (`executor`) and reports their results; cloud backups and
//! restores (`cloud_backup`) run beside the check-ins; profile sections
//! (`configuration`) are taken as its authorizations allow. `fleet` runs many of them in
//! one process for demos and load.

pub mod client;
pub mod cloud_backup;
pub mod configuration;
pub mod executor;
pub mod fleet;
pub mod options;
pub mod run;
pub mod simulated;
pub mod state;

pub use client::{AgentError, DeviceClient};
pub use executor::{Delivery, Executed, Executor, IoWork, Reporter};
pub use options::AgentOptions;
pub use run::{Agent, AgentConfig};
pub use state::unblock_pin;
