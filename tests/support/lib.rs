//! Helpers shared by the workspace-level tests: building each adapter set on a fresh
//! store, and reaching the local AWS emulator.

pub mod api_gateway;
pub mod aws_env;
pub mod device_harness;
pub mod embedded_env;
pub mod logs;
pub mod portal_harness;
