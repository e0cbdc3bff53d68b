//! Rampart's security-scan engine (SPEC section 7): the "TOP 100 (TCP)" profile, the
//! target policy that refuses every special-purpose address range unless the operator
//! allows it, and a TCP connect scan with bounded concurrency, adaptive time-outs and
//! retransmission. The queue consumer, routes and CLI build on this.

pub mod allow_list;
pub mod cidr;
pub mod port_state;
pub mod profile;
pub mod rtt_estimator;
pub mod scan_options;
pub mod scan_report;
pub mod special_ranges;
pub mod target_policy;
pub mod tcp_connect;

pub use allow_list::{AllowList, AllowListError};
pub use cidr::{Cidr, CidrError};
pub use port_state::PortState;
pub use profile::{Profile, ProfileError};
pub use scan_options::{OptionsError, ScanOptions};
pub use scan_report::{OpenPort, PortResult, PortScan, ScanReport};
pub use special_ranges::{GloballyReachable, Registry, SPECIAL_RANGES, SpecialRange};
pub use target_policy::{Refusal, ScanTarget};
pub use tcp_connect::{ScanError, scan, scan_ports};
