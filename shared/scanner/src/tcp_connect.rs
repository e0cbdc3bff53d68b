//! The TCP connect scan of one address: every port gets a full `connect()` (no raw
//! sockets, no privileges), closed again at once without sending data.
//!
//! Ports are probed `concurrency` at a time. Each attempt waits for an answer at most
//! the current adaptive time-out (`RttEstimator`); an attempt with no answer is
//! abandoned and made again on a fresh socket, i.e. a fresh SYN, up to `attempts` times.
//! So a lost SYN costs one time-out instead of hiding an open port, and a port that
//! drops everything costs `attempts` time-outs, in parallel with the other ports.
//!
//! The time-out of an attempt already waiting follows the estimate as it changes: the
//! first answers (from open or closed ports) typically arrive within a millisecond on
//! a LAN, and the attempts still waiting on dropping ports then give up after the
//! floor instead of the 1 s initial guess. nmap does the same with its outstanding
//! probes.

use crate::port_state::{PortState, state_of_error};
use crate::rtt_estimator::RttEstimator;
use crate::scan_options::{OptionsError, ScanOptions};
use crate::scan_report::{PortResult, PortScan, ScanReport};
use crate::target_policy::ScanTarget;
use futures::{StreamExt, TryStreamExt, stream};
use rampart_domain::time::Timestamp;
use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

/// Why a scan could not produce a trustworthy result.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("invalid scan options: {0}")]
    Options(#[from] OptionsError),
    #[error("port 0 cannot be scanned")]
    PortZero,
    /// This machine could not make the connection (out of file descriptors or local
    /// ports, ...). The scan stops rather than report the port as filtered.
    #[error("could not probe port {port} from this machine: {source}")]
    Local { port: u16, source: io::Error },
}

impl ScanError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Options(e) => e.code(),
            Self::PortZero => "invalid_port",
            Self::Local { .. } => "local_network_error",
        }
    }
}

/// Scans `ports` (port and the service usually behind it) of `target` and summarises
/// the result for the history.
pub async fn scan(
    target: &ScanTarget,
    ports: &[(u16, &str)],
    options: &ScanOptions,
) -> Result<ScanReport, ScanError> {
    Ok(scan_ports(target, ports, options).await?.report())
}

/// Scans `ports` of `target` and returns every port's outcome, by port number. A port
/// listed twice is scanned once, with the first service named for it.
pub async fn scan_ports(
    target: &ScanTarget,
    ports: &[(u16, &str)],
    options: &ScanOptions,
) -> Result<PortScan, ScanError> {
    options.validate()?;
    if ports.iter().any(|(p, _)| *p == 0) {
        return Err(ScanError::PortZero);
    }
    let mut seen = HashSet::with_capacity(ports.len());
    // Owned service names: a closure over `(u16, &str)` makes this future's `Send`
    // unprovable to rustc in generic callers (async-trait handlers), a known
    // higher-ranked lifetime limitation.
    let unique: Vec<(u16, String)> = ports
        .iter()
        .filter(|(p, _)| seen.insert(*p))
        .map(|(p, s)| (*p, (*s).to_owned()))
        .collect();

    let address = target.address();
    let timeout = SharedTimeout::new(options);
    let started = Timestamp::now_system();
    let mut results: Vec<PortResult> = stream::iter(unique)
        .map(|(port, service)| {
            let timeout = &timeout;
            async move {
                let (state, attempts) =
                    probe_port(SocketAddr::new(address, port), options.attempts, timeout).await?;
                Ok::<_, ScanError>(PortResult {
                    port,
                    service,
                    state,
                    attempts,
                })
            }
        })
        .buffer_unordered(options.concurrency)
        .try_collect()
        .await?;
    let finished = Timestamp::now_system();
    results.sort_by_key(|r| r.port);
    Ok(PortScan {
        address,
        started,
        finished,
        ports: results,
    })
}

/// Attempts until an answer or until `attempts` attempts went unanswered.
async fn probe_port(
    addr: SocketAddr,
    attempts: u32,
    timeout: &SharedTimeout,
) -> Result<(PortState, u32), ScanError> {
    for n in 1..=attempts {
        if let Some(state) = attempt(addr, timeout).await? {
            return Ok((state, n));
        }
    }
    Ok((PortState::Filtered, attempts))
}

/// One connect on a fresh socket: the state if the host (or a router) answered, `None`
/// if nothing came back within the time-out.
async fn attempt(
    addr: SocketAddr,
    timeout: &SharedTimeout,
) -> Result<Option<PortState>, ScanError> {
    let started = Instant::now();
    let mut current = timeout.subscribe();
    let mut following = true;
    let connect = TcpStream::connect(addr);
    tokio::pin!(connect);
    loop {
        let deadline = started + *current.borrow_and_update();
        tokio::select! {
            result = &mut connect => {
                return match result {
                    // Dropped at once: the kernel closes it with a FIN; no data is sent.
                    Ok(_stream) => {
                        timeout.sample(started.elapsed());
                        Ok(Some(PortState::Open))
                    }
                    Err(e) => match state_of_error(&e) {
                        Some(state) => {
                            // Only the host's own answers measure its round trip; an
                            // ICMP error may come from a router half way.
                            if state == PortState::Closed {
                                timeout.sample(started.elapsed());
                            }
                            Ok(Some(state))
                        }
                        None => Err(ScanError::Local { port: addr.port(), source: e }),
                    },
                };
            }
            () = tokio::time::sleep_until(deadline) => return Ok(None),
            // The estimate moved: wait against the new deadline.
            changed = current.changed(), if following => following = changed.is_ok(),
        }
    }
}

/// The adaptive time-out shared by every attempt of one scan; waiting attempts see
/// each change.
struct SharedTimeout {
    estimator: Mutex<RttEstimator>,
    current: watch::Sender<Duration>,
}

impl SharedTimeout {
    fn new(options: &ScanOptions) -> Self {
        let estimator = RttEstimator::new(
            options.initial_timeout,
            options.min_timeout,
            options.max_timeout,
        );
        Self {
            current: watch::Sender::new(estimator.timeout()),
            estimator: Mutex::new(estimator),
        }
    }

    fn subscribe(&self) -> watch::Receiver<Duration> {
        self.current.subscribe()
    }

    fn sample(&self, rtt: Duration) {
        // A poisoned lock only means another attempt panicked mid-update; the estimate
        // is still a valid pair of durations.
        let mut estimator = self.estimator.lock().unwrap_or_else(|p| p.into_inner());
        estimator.sample(rtt);
        let next = estimator.timeout();
        drop(estimator);
        self.current.send_if_modified(|t| {
            let changed = *t != next;
            *t = next;
            changed
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allow_list::AllowList;

    fn loopback() -> ScanTarget {
        ScanTarget::check(
            "127.0.0.1".parse().unwrap(),
            &AllowList::parse("127.0.0.0/8").unwrap(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn refuses_invalid_options_and_port_zero() {
        let bad = ScanOptions {
            attempts: 0,
            ..ScanOptions::default()
        };
        let e = scan(&loopback(), &[(80, "http")], &bad).await.unwrap_err();
        assert_eq!(e.code(), "invalid_attempts");
        let e = scan(&loopback(), &[(0, "zero")], &ScanOptions::default())
            .await
            .unwrap_err();
        assert_eq!(e.code(), "invalid_port");
    }

    #[tokio::test]
    async fn an_empty_port_list_is_an_empty_report() {
        let report = scan(&loopback(), &[], &ScanOptions::default())
            .await
            .unwrap();
        assert!(report.open.is_empty());
        assert_eq!((report.closed, report.filtered), (0, 0));
        assert!(report.finished >= report.started);
    }
}
