//! Helpers shared by the workspace-level tests: building each adapter set on a fresh
//! store, and reaching the local AWS emulator.

pub mod aws_env;
pub mod embedded_env;
