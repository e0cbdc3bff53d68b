//! The reference appliance: it enrolls once, keeps its key and identity in a state
//! file, and checks in at the interval the console tells it. `fleet` runs many
//! of them in one process for demos and load.

pub mod client;
pub mod fleet;
pub mod run;
pub mod simulated;
pub mod state;

pub use client::{AgentError, DeviceClient};
pub use run::{Agent, AgentConfig};
