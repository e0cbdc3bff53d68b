//! Jobs on the console side (SPEC 5): fan-out into commands ([`dispatch`]), delivery
//! and proof at check-in ([`delivery`]), time-outs ([`maintenance`]), and the one
//! place every command write goes through ([`command_writer`]), which keeps the
//! appliance's open-command count and communication log in the same transaction.
//! The rules themselves are pure, in `rampart_domain::jobs`.

pub mod command_writer;
pub mod delivery;
pub mod dispatch;
pub mod maintenance;
pub mod submit;

use std::time::Duration;

/// How long an appliance polls fast after a job was queued for it or someone looked
/// at it in the portal.
pub const FAST_POLL_WINDOW: Duration = Duration::from_secs(5 * 60);
