//! The communication log (SPEC 4.6): every exchange between an appliance and the
//! console, with its time, job, direction, status and info, kept [`RETENTION`]
//! (90 days) and shown newest first.
//!
//! # Hash chain
//!
//! Each appliance's entries form a chain. Entry `n` (numbered 1, 2, 3, … per
//! appliance) carries `prev_hash`, the `hash` of entry `n - 1` (32 zero bytes,
//! [`GENESIS_HASH`], for entry 1), and its own `hash`: SHA-256 over an unambiguous
//! encoding of `prev_hash` and every field ([`canonical_bytes`]). [`verify_chain`]
//! recomputes every hash and walks the links, so it detects:
//!
//! - any altered field (appliance, seq, time, job, direction, status, info,
//!   prev_hash, hash) of any entry present, including the oldest and the newest
//!   ([`BreakKind::Altered`]);
//! - an entry deleted between two present ones ([`BreakKind::Missing`]);
//! - an entry altered and re-hashed, or replaced by one from elsewhere, as long as
//!   a later entry is present ([`BreakKind::BrokenLink`]);
//! - entries of another appliance mixed in ([`BreakKind::MixedAppliances`]) and two
//!   entries claiming one seq ([`BreakKind::Duplicate`]).
//!
//! What the chain alone cannot detect:
//!
//! - **Deleting the newest entries** (a tail truncation): what remains is a valid,
//!   shorter chain. The writer keeps the chain's head ([`ChainHead`]: seq and hash
//!   of the newest entry) on the appliance item; [`verify_head`] compares against
//!   it and catches the truncation ([`BreakKind::Truncated`]). Entries written
//!   after the head was read are accepted (they chain onto it).
//! - **Deleting the oldest entries**: entries expire by TTL at the old end, so the
//!   oldest entry present is trusted as the anchor (its `prev_hash` cannot be
//!   checked, and [`ChainReport::anchored_at_seq`] says where the check starts).
//!   Deleting old entries early looks exactly like expiry.
//! - **A consistent rewrite**: someone who can write the table can alter an entry,
//!   re-hash it and every later entry, and move the head pointer too. The chain is
//!   tamper-evident against partial edits, not a signature; anchoring heads outside
//!   the table (e.g. a signed checkpoint) would be needed against that.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::time::Duration;

use crate::Timestamp;
use crate::ids::ApplianceId;
use crate::validation::{self, Invalid};

/// How long an entry is kept (the table's TTL).
pub const RETENTION: Duration = Duration::from_secs(90 * 24 * 60 * 60);

/// The `prev_hash` of an appliance's first entry.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// Domain separation for the entry hash; a new encoding gets a new tag.
pub const HASH_DOMAIN_TAG: &str = "rampart-comm-log-v1";

/// Longest `info`, in characters.
pub const MAX_INFO_CHARS: usize = 1000;

/// Longest job reference, in characters.
pub const MAX_JOB_CHARS: usize = 128;

/// Which way an exchange went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    ConsoleToAppliance,
    ApplianceToConsole,
}

impl Direction {
    pub const ALL: [Direction; 2] = [Direction::ConsoleToAppliance, Direction::ApplianceToConsole];

    /// The wire and storage name (`console_to_appliance`, `appliance_to_console`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Direction::ConsoleToAppliance => "console_to_appliance",
            Direction::ApplianceToConsole => "appliance_to_console",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| {
                Invalid::new("direction", "console_to_appliance or appliance_to_console")
            })
    }

    /// An arrow for people: `console → appliance`.
    pub const fn arrow(self) -> &'static str {
        match self {
            Direction::ConsoleToAppliance => "console → appliance",
            Direction::ApplianceToConsole => "appliance → console",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an exchange ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogStatus {
    /// Delivered or answered as expected.
    Ok,
    /// Failed; `info` holds the error.
    Error,
    /// Refused by the other side (e.g. the appliance rejected a command); `info`
    /// holds the reason.
    Refused,
    /// Not collected or not answered in time.
    TimedOut,
    /// A notice that is neither success nor failure.
    Info,
}

impl LogStatus {
    pub const ALL: [LogStatus; 5] = [
        LogStatus::Ok,
        LogStatus::Error,
        LogStatus::Refused,
        LogStatus::TimedOut,
        LogStatus::Info,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            LogStatus::Ok => "ok",
            LogStatus::Error => "error",
            LogStatus::Refused => "refused",
            LogStatus::TimedOut => "timed_out",
            LogStatus::Info => "info",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| Invalid::new("status", "ok, error, refused, timed_out or info"))
    }
}

impl fmt::Display for LogStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the writer supplies for a new entry; [`append`] adds the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogFields {
    pub time: Timestamp,
    /// The job the exchange belongs to, when it belongs to one.
    pub job: Option<String>,
    pub direction: Direction,
    pub status: LogStatus,
    /// Free text, the error when one occurred; may be empty. See [`sanitize_info`].
    pub info: String,
}

impl LogFields {
    /// Checks `job` and `info` (see [`check_job`], [`check_info`]).
    pub fn validate(&self) -> Result<(), Invalid> {
        if let Some(job) = &self.job {
            check_job(job)?;
        }
        check_info(&self.info)
    }
}

/// A job reference: 1 to [`MAX_JOB_CHARS`] characters, no control characters.
pub fn check_job(job: &str) -> Result<(), Invalid> {
    validation::text("job", job, MAX_JOB_CHARS)
}

/// `info`: at most [`MAX_INFO_CHARS`] characters, no control characters; empty is fine.
pub fn check_info(info: &str) -> Result<(), Invalid> {
    if info.is_empty() {
        Ok(())
    } else {
        validation::text("info", info, MAX_INFO_CHARS)
    }
}

/// Makes any text (an error message from an appliance, say) a valid `info`:
/// control characters become spaces, and text longer than [`MAX_INFO_CHARS`]
/// is cut and ends in `…`.
pub fn sanitize_info(raw: &str) -> String {
    let clean = raw.chars().map(|c| if c.is_control() { ' ' } else { c });
    if raw.chars().count() <= MAX_INFO_CHARS {
        clean.collect()
    } else {
        let mut s: String = clean.take(MAX_INFO_CHARS - 1).collect();
        s.push('…');
        s
    }
}

/// One entry of an appliance's communication log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub appliance: ApplianceId,
    /// 1, 2, 3, … per appliance.
    pub seq: u64,
    pub time: Timestamp,
    pub job: Option<String>,
    pub direction: Direction,
    pub status: LogStatus,
    pub info: String,
    /// The previous entry's hash ([`GENESIS_HASH`] for seq 1); hex in JSON.
    #[serde(with = "hex32")]
    pub prev_hash: [u8; 32],
    /// SHA-256 of [`canonical_bytes`]; hex in JSON.
    #[serde(with = "hex32")]
    pub hash: [u8; 32],
}

impl LogEntry {
    /// The fields the writer supplied.
    pub fn fields(&self) -> LogFields {
        LogFields {
            time: self.time,
            job: self.job.clone(),
            direction: self.direction,
            status: self.status,
            info: self.info.clone(),
        }
    }

    /// The hash this entry's contents call for (equal to `hash` unless altered).
    pub fn recompute_hash(&self) -> [u8; 32] {
        hash_parts(&Parts {
            prev_hash: &self.prev_hash,
            appliance: &self.appliance,
            seq: self.seq,
            time: self.time,
            job: self.job.as_deref(),
            direction: self.direction,
            status: self.status,
            info: &self.info,
        })
    }

    /// Whether the stored hash matches the contents.
    pub fn is_intact(&self) -> bool {
        self.recompute_hash() == self.hash
    }

    /// This entry as the head of its chain.
    pub fn head(&self) -> ChainHead {
        ChainHead {
            seq: self.seq,
            hash: self.hash,
        }
    }
}

/// Where an appliance's chain ends: the seq and hash of its newest entry. The
/// writer keeps it on the appliance item, so that appending needs no read of the
/// previous entry and [`verify_head`] can detect a truncated tail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChainHead {
    /// 0 before the first entry.
    pub seq: u64,
    #[serde(with = "hex32")]
    pub hash: [u8; 32],
}

impl ChainHead {
    /// The head of a chain with no entries yet.
    pub const GENESIS: ChainHead = ChainHead {
        seq: 0,
        hash: GENESIS_HASH,
    };
}

/// The entry that follows `prev` (or the first one, seq 1, when `prev` is None).
///
/// Fails when the fields are invalid, when `prev` belongs to another appliance,
/// or when the seq would overflow.
pub fn append(
    prev: Option<&LogEntry>,
    appliance: &ApplianceId,
    fields: LogFields,
) -> Result<LogEntry, Invalid> {
    match prev {
        Some(p) if &p.appliance != appliance => Err(Invalid::new(
            "appliance",
            "the previous entry belongs to another appliance",
        )),
        Some(p) => append_after(p.head(), appliance, fields),
        None => append_after(ChainHead::GENESIS, appliance, fields),
    }
}

/// The entry that follows the chain head `head` ([`ChainHead::GENESIS`] for the
/// first entry). The writer's form of [`append`]: the head comes from the
/// appliance item.
pub fn append_after(
    head: ChainHead,
    appliance: &ApplianceId,
    fields: LogFields,
) -> Result<LogEntry, Invalid> {
    fields.validate()?;
    let seq = head
        .seq
        .checked_add(1)
        .ok_or_else(|| Invalid::new("seq", "the log is full"))?;
    let LogFields {
        time,
        job,
        direction,
        status,
        info,
    } = fields;
    let mut entry = LogEntry {
        appliance: appliance.clone(),
        seq,
        time,
        job,
        direction,
        status,
        info,
        prev_hash: head.hash,
        hash: [0; 32],
    };
    entry.hash = entry.recompute_hash();
    Ok(entry)
}

/// The hash of an entry with these contents: SHA-256 of [`canonical_bytes`].
pub fn entry_hash(
    prev_hash: &[u8; 32],
    appliance: &ApplianceId,
    seq: u64,
    fields: &LogFields,
) -> [u8; 32] {
    Sha256::digest(canonical_bytes(prev_hash, appliance, seq, fields)).into()
}

/// The bytes an entry's hash covers. Every variable-length field is prefixed by
/// its length in bytes (u64, big-endian), so no two different entries encode alike:
///
/// ```text
/// str(tag "rampart-comm-log-v1") | prev_hash (32 bytes) | str(appliance id)
/// | seq (u64 BE) | time in ms (i64 BE)
/// | job: 0x00, or 0x01 str(job)
/// | str(direction name) | str(status name) | str(info)
/// where str(s) = len(s) as u64 BE | UTF-8 bytes of s
/// ```
pub fn canonical_bytes(
    prev_hash: &[u8; 32],
    appliance: &ApplianceId,
    seq: u64,
    fields: &LogFields,
) -> Vec<u8> {
    encode(&Parts {
        prev_hash,
        appliance,
        seq,
        time: fields.time,
        job: fields.job.as_deref(),
        direction: fields.direction,
        status: fields.status,
        info: &fields.info,
    })
}

struct Parts<'a> {
    prev_hash: &'a [u8; 32],
    appliance: &'a ApplianceId,
    seq: u64,
    time: Timestamp,
    job: Option<&'a str>,
    direction: Direction,
    status: LogStatus,
    info: &'a str,
}

fn encode(p: &Parts<'_>) -> Vec<u8> {
    fn put_str(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u64).to_be_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    let mut out = Vec::with_capacity(128 + p.info.len());
    put_str(&mut out, HASH_DOMAIN_TAG);
    out.extend_from_slice(p.prev_hash);
    put_str(&mut out, p.appliance.as_str());
    out.extend_from_slice(&p.seq.to_be_bytes());
    out.extend_from_slice(&p.time.millis().to_be_bytes());
    match p.job {
        None => out.push(0),
        Some(job) => {
            out.push(1);
            put_str(&mut out, job);
        }
    }
    put_str(&mut out, p.direction.as_str());
    put_str(&mut out, p.status.as_str());
    put_str(&mut out, p.info);
    out
}

fn hash_parts(p: &Parts<'_>) -> [u8; 32] {
    Sha256::digest(encode(p)).into()
}

/// What a successful verification covered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainReport {
    /// The appliance, when there was at least one entry.
    pub appliance: Option<ApplianceId>,
    /// How many entries were checked.
    pub entries: usize,
    /// The oldest entry present, trusted as the start of the check. Seq 1 means the
    /// chain was checked from its genesis (its `prev_hash` too); a higher seq means
    /// older entries have expired (or were removed: see the module docs).
    pub anchored_at_seq: Option<u64>,
    /// The newest entry present.
    pub head: Option<ChainHead>,
}

impl ChainReport {
    /// Whether the check reached back to the very first entry.
    pub fn from_genesis(&self) -> bool {
        self.anchored_at_seq == Some(1)
    }
}

/// How a chain is broken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum BreakKind {
    /// The entry's contents do not match its hash.
    Altered,
    /// An entry is missing: `expected_seq` should come before `seq`.
    Missing { expected_seq: u64 },
    /// The entry's `prev_hash` is not the previous entry's hash (or not the genesis
    /// value for seq 1), or seq 0 was found.
    BrokenLink,
    /// The entry belongs to another appliance than the oldest one given.
    MixedAppliances,
    /// Two entries claim this seq.
    Duplicate,
    /// The newest entries are gone: the head pointer names entry `seq`, but the
    /// newest entry present is `newest_present` (None: no entry at all).
    Truncated { newest_present: Option<u64> },
    /// The entry the head pointer names has another hash, or the head pointer is
    /// older than every entry present.
    HeadMismatch,
}

/// Where and how a chain is broken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}", self.message())]
pub struct ChainBreak {
    /// The seq at which the break was found.
    pub seq: u64,
    #[serde(flatten)]
    pub kind: BreakKind,
}

impl ChainBreak {
    /// In words, for `rampart log verify` and the portal.
    pub fn message(&self) -> String {
        let seq = self.seq;
        match &self.kind {
            BreakKind::Altered => {
                format!("entry {seq} was altered: its contents do not match its hash")
            }
            BreakKind::Missing { expected_seq } if expected_seq.saturating_add(1) >= seq => {
                format!("entry {expected_seq} is missing (deleted) before entry {seq}")
            }
            BreakKind::Missing { expected_seq } => format!(
                "entries {expected_seq} to {} are missing (deleted) before entry {seq}",
                seq.saturating_sub(1)
            ),
            BreakKind::BrokenLink => format!(
                "entry {seq} does not link to the entry before it (an entry was replaced or rewritten)"
            ),
            BreakKind::MixedAppliances => {
                format!("entry {seq} belongs to another appliance")
            }
            BreakKind::Duplicate => format!("two entries claim seq {seq}"),
            BreakKind::Truncated {
                newest_present: Some(n),
            } => format!(
                "entries {} to {seq} are missing at the newest end (deleted): the appliance's head pointer names entry {seq}",
                n.saturating_add(1)
            ),
            BreakKind::Truncated {
                newest_present: None,
            } => format!(
                "no entries are present, but the appliance's head pointer names entry {seq} (deleted, or all expired if that entry is older than the retention)"
            ),
            BreakKind::HeadMismatch => format!(
                "the appliance's head pointer (entry {seq}) does not match the entries present"
            ),
        }
    }
}

/// Verifies the entries of ONE appliance, given in any order. The oldest entry
/// present is the anchor (older ones may have expired); from it on, every hash
/// must recompute, seqs must be consecutive and each `prev_hash` must be the
/// previous entry's hash. An entry with seq 1 must carry [`GENESIS_HASH`].
///
/// Checks run in this order, each over the whole chain, reporting the lowest seq:
/// mixed appliances, altered entries, then links (duplicates, gaps, broken links).
/// This does not detect a truncated tail: use [`verify_head`] for that.
pub fn verify_chain(entries: &[LogEntry]) -> Result<ChainReport, ChainBreak> {
    let mut sorted: Vec<&LogEntry> = entries.iter().collect();
    sorted.sort_by_key(|e| e.seq);
    let (Some(first), Some(last)) = (sorted.first().copied(), sorted.last().copied()) else {
        return Ok(ChainReport {
            appliance: None,
            entries: 0,
            anchored_at_seq: None,
            head: None,
        });
    };

    if let Some(e) = sorted.iter().find(|e| e.appliance != first.appliance) {
        return Err(ChainBreak {
            seq: e.seq,
            kind: BreakKind::MixedAppliances,
        });
    }
    if let Some(e) = sorted.iter().find(|e| !e.is_intact()) {
        return Err(ChainBreak {
            seq: e.seq,
            kind: BreakKind::Altered,
        });
    }
    if first.seq == 0 || (first.seq == 1 && first.prev_hash != GENESIS_HASH) {
        return Err(ChainBreak {
            seq: first.seq,
            kind: BreakKind::BrokenLink,
        });
    }
    for pair in sorted.windows(2) {
        let (prev, e) = (pair[0], pair[1]);
        let kind = if e.seq == prev.seq {
            BreakKind::Duplicate
        } else if e.seq != prev.seq + 1 {
            BreakKind::Missing {
                expected_seq: prev.seq + 1,
            }
        } else if e.prev_hash != prev.hash {
            BreakKind::BrokenLink
        } else {
            continue;
        };
        return Err(ChainBreak { seq: e.seq, kind });
    }

    Ok(ChainReport {
        appliance: Some(first.appliance.clone()),
        entries: sorted.len(),
        anchored_at_seq: Some(first.seq),
        head: Some(last.head()),
    })
}

/// [`verify_chain`], and then the chain's end against the head pointer kept on the
/// appliance item (`head_seq` 0: no entry was ever written). This detects deleted
/// newest entries. Entries newer than the head are accepted, since the head may
/// have been read before they were written; they still have to chain onto it.
///
/// When no entry is present but `head_seq` > 0, this reports a truncation with no
/// entry present: if the head's entry is older than [`RETENTION`], they may all have
/// expired, which the caller can tell from the head's time.
pub fn verify_head(
    entries: &[LogEntry],
    head_seq: u64,
    head_hash: &[u8; 32],
) -> Result<ChainReport, ChainBreak> {
    let report = verify_chain(entries)?;
    let (Some(anchor), Some(newest)) = (report.anchored_at_seq, report.head) else {
        return if head_seq == 0 {
            Ok(report)
        } else {
            Err(ChainBreak {
                seq: head_seq,
                kind: BreakKind::Truncated {
                    newest_present: None,
                },
            })
        };
    };
    if head_seq > newest.seq {
        return Err(ChainBreak {
            seq: head_seq,
            kind: BreakKind::Truncated {
                newest_present: Some(newest.seq),
            },
        });
    }
    if head_seq < anchor {
        // A head older than every entry present: entries were written without
        // moving the head, or the head was rolled back.
        return Err(ChainBreak {
            seq: head_seq,
            kind: BreakKind::HeadMismatch,
        });
    }
    // The chain verified, so seqs anchor..=newest are all present.
    let named = entries.iter().find(|e| e.seq == head_seq);
    match named {
        Some(e) if &e.hash == head_hash => Ok(report),
        _ => Err(ChainBreak {
            seq: head_seq,
            kind: BreakKind::HeadMismatch,
        }),
    }
}

/// Hex strings for 32-byte hashes in JSON.
mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(&s, &mut out).map_err(D::Error::custom)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn appliance(n: u8) -> ApplianceId {
        ApplianceId::from_random([n; 16])
    }

    fn fields(i: u64) -> LogFields {
        LogFields {
            time: Timestamp::from_secs(1_700_000_000 + i as i64 * 60),
            job: (!i.is_multiple_of(3)).then(|| format!("job-{i}")),
            direction: if i.is_multiple_of(2) {
                Direction::ConsoleToAppliance
            } else {
                Direction::ApplianceToConsole
            },
            status: LogStatus::ALL[(i % 5) as usize],
            info: if i.is_multiple_of(4) {
                String::new()
            } else {
                format!("exchange {i}")
            },
        }
    }

    fn chain(n: u64) -> Vec<LogEntry> {
        let id = appliance(1);
        let mut out: Vec<LogEntry> = Vec::new();
        for i in 1..=n {
            let e = append(out.last(), &id, fields(i)).unwrap();
            out.push(e);
        }
        out
    }

    fn err(entries: &[LogEntry]) -> ChainBreak {
        verify_chain(entries).unwrap_err()
    }

    #[test]
    fn fifty_entries_round_trip() {
        let c = chain(50);
        assert_eq!(c[0].seq, 1);
        assert_eq!(c[0].prev_hash, GENESIS_HASH);
        for (i, e) in c.iter().enumerate() {
            assert_eq!(e.seq, i as u64 + 1);
            assert_eq!(e.fields(), fields(i as u64 + 1));
            assert_eq!(
                e.hash,
                entry_hash(&e.prev_hash, &e.appliance, e.seq, &e.fields())
            );
        }
        let r = verify_chain(&c).unwrap();
        assert_eq!(r.entries, 50);
        assert_eq!(r.anchored_at_seq, Some(1));
        assert!(r.from_genesis());
        assert_eq!(r.head, Some(c[49].head()));
        assert_eq!(r.appliance, Some(appliance(1)));
        // Any order, e.g. newest first as the store returns them.
        let mut rev = c.clone();
        rev.reverse();
        assert_eq!(verify_chain(&rev).unwrap(), r);
        assert!(verify_head(&rev, 50, &c[49].hash).is_ok());
    }

    #[test]
    fn append_after_head_matches_append() {
        let c = chain(3);
        let via_head = append_after(c[2].head(), &appliance(1), fields(4)).unwrap();
        assert_eq!(
            via_head,
            append(Some(&c[2]), &appliance(1), fields(4)).unwrap()
        );
        assert_eq!(via_head.seq, 4);
        assert_eq!(via_head.prev_hash, c[2].hash);
    }

    #[test]
    fn append_refuses_bad_fields_and_foreign_prev() {
        let c = chain(1);
        assert!(append(Some(&c[0]), &appliance(2), fields(2)).is_err());
        let mut f = fields(2);
        f.info = "line\nbreak".into();
        assert!(append(None, &appliance(1), f.clone()).is_err());
        f.info = "x".repeat(MAX_INFO_CHARS + 1);
        assert!(append(None, &appliance(1), f.clone()).is_err());
        f.info = "x".repeat(MAX_INFO_CHARS);
        assert!(append(None, &appliance(1), f.clone()).is_ok());
        f.job = Some(String::new());
        assert!(append(None, &appliance(1), f).is_err());
        let full = ChainHead {
            seq: u64::MAX,
            hash: [1; 32],
        };
        assert!(append_after(full, &appliance(1), fields(1)).is_err());
    }

    #[test]
    fn sanitized_info_is_valid() {
        let s = sanitize_info("a\tb\nc");
        assert_eq!(s, "a b c");
        let long = sanitize_info(&"é".repeat(5000));
        assert_eq!(long.chars().count(), MAX_INFO_CHARS);
        assert!(long.ends_with('…'));
        assert!(check_info(&long).is_ok());
        assert_eq!(sanitize_info(""), "");
    }

    #[test]
    fn each_altered_field_of_a_middle_entry_is_detected() {
        let c = chain(50);
        let i = 24; // seq 25
        type Mutate = Box<dyn Fn(&mut LogEntry)>;
        let mutations: Vec<(&str, Mutate)> = vec![
            (
                "time",
                Box::new(|e| e.time = e.time.plus(Duration::from_millis(1))),
            ),
            ("job none", Box::new(|e| e.job = None)),
            ("job", Box::new(|e| e.job = Some("job-x".into()))),
            ("job some", Box::new(|e| e.job = Some(String::new()))),
            (
                "direction",
                Box::new(|e| {
                    e.direction = match e.direction {
                        Direction::ConsoleToAppliance => Direction::ApplianceToConsole,
                        Direction::ApplianceToConsole => Direction::ConsoleToAppliance,
                    }
                }),
            ),
            ("status", Box::new(|e| e.status = LogStatus::Error)),
            ("info", Box::new(|e| e.info.push('!'))),
            ("seq up", Box::new(|e| e.seq = 70)),
            ("seq dup", Box::new(|e| e.seq = 26)),
            ("prev_hash", Box::new(|e| e.prev_hash[0] ^= 1)),
            ("hash", Box::new(|e| e.hash[31] ^= 0x80)),
        ];
        for (name, m) in mutations {
            let mut t = c.clone();
            let before = t[i].clone();
            m(&mut t[i]);
            assert_ne!(t[i], before, "{name} did not mutate");
            let b = err(&t);
            assert_eq!(b.kind, BreakKind::Altered, "{name}: {b}");
            assert_eq!(b.seq, t[i].seq, "{name}");
        }
    }

    #[test]
    fn oldest_and_newest_entries_are_checked_too() {
        let mut c = chain(10);
        c[9].info = "forged".into();
        assert_eq!(
            err(&c),
            ChainBreak {
                seq: 10,
                kind: BreakKind::Altered
            }
        );
        let mut c = chain(10);
        c[0].status = LogStatus::Refused;
        assert_eq!(
            err(&c),
            ChainBreak {
                seq: 1,
                kind: BreakKind::Altered
            }
        );
    }

    #[test]
    fn a_rehashed_entry_breaks_the_next_link() {
        let mut c = chain(10);
        c[4].info = "forged".into();
        c[4].hash = c[4].recompute_hash();
        assert_eq!(
            err(&c),
            ChainBreak {
                seq: 6,
                kind: BreakKind::BrokenLink
            }
        );
        // The genesis entry's prev_hash is checked as well.
        let mut c = chain(3);
        c[0].prev_hash = [7; 32];
        c[0].hash = c[0].recompute_hash();
        assert_eq!(
            err(&c),
            ChainBreak {
                seq: 1,
                kind: BreakKind::BrokenLink
            }
        );
    }

    #[test]
    fn a_deleted_middle_entry_is_missing() {
        let mut c = chain(50);
        c.remove(29); // seq 30
        let b = err(&c);
        assert_eq!(
            b,
            ChainBreak {
                seq: 31,
                kind: BreakKind::Missing { expected_seq: 30 }
            }
        );
        assert_eq!(
            b.to_string(),
            "entry 30 is missing (deleted) before entry 31"
        );
        let mut c = chain(50);
        c.drain(9..12); // seqs 10, 11, 12
        let b = err(&c);
        assert_eq!(
            b,
            ChainBreak {
                seq: 13,
                kind: BreakKind::Missing { expected_seq: 10 }
            }
        );
        assert_eq!(
            b.to_string(),
            "entries 10 to 12 are missing (deleted) before entry 13"
        );
    }

    #[test]
    fn swapped_contents_are_detected() {
        // Everything but the seq swapped (what a swap of two items' attributes
        // under their keys looks like).
        let mut c = chain(20);
        let (a, b) = (c[7].clone(), c[12].clone());
        c[7] = LogEntry {
            seq: a.seq,
            ..b.clone()
        };
        c[12] = LogEntry {
            seq: b.seq,
            ..a.clone()
        };
        assert_eq!(err(&c).kind, BreakKind::Altered);
        // Only the payload swapped, hashes left in place.
        let mut c = chain(20);
        c[7].info = b.info.clone();
        c[7].time = b.time;
        c[12].info = a.info.clone();
        c[12].time = a.time;
        assert_eq!(
            err(&c),
            ChainBreak {
                seq: 8,
                kind: BreakKind::Altered
            }
        );
        // Two neighbours' order swapped, each re-hashed at the other's place.
        let mut c = chain(20);
        let (x, y) = (c[3].fields(), c[4].fields());
        let p = c[2].clone();
        c[3] = append(Some(&p), &appliance(1), y).unwrap();
        c[4] = append(Some(&c[3].clone()), &appliance(1), x).unwrap();
        assert_eq!(
            err(&c),
            ChainBreak {
                seq: 6,
                kind: BreakKind::BrokenLink
            }
        );
    }

    #[test]
    fn duplicates_are_refused() {
        let mut c = chain(5);
        c.push(c[2].clone());
        assert_eq!(
            err(&c),
            ChainBreak {
                seq: 3,
                kind: BreakKind::Duplicate
            }
        );
    }

    #[test]
    fn expiry_at_the_old_end_still_verifies() {
        let c = chain(50);
        let r = verify_chain(&c[10..]).unwrap();
        assert_eq!(r.anchored_at_seq, Some(11));
        assert!(!r.from_genesis());
        assert_eq!(r.entries, 40);
        assert!(verify_head(&c[10..], 50, &c[49].hash).is_ok());
        // The anchor's contents are still checked.
        let mut t = c[10..].to_vec();
        t[0].info = "forged".into();
        assert_eq!(
            err(&t),
            ChainBreak {
                seq: 11,
                kind: BreakKind::Altered
            }
        );
    }

    #[test]
    fn tail_truncation_is_only_caught_by_the_head() {
        let c = chain(50);
        let cut = &c[..45];
        assert!(verify_chain(cut).is_ok());
        let b = verify_head(cut, 50, &c[49].hash).unwrap_err();
        assert_eq!(
            b,
            ChainBreak {
                seq: 50,
                kind: BreakKind::Truncated {
                    newest_present: Some(45)
                }
            }
        );
        assert!(
            b.to_string()
                .starts_with("entries 46 to 50 are missing at the newest end")
        );
        // Everything gone while the head says 50.
        assert_eq!(
            verify_head(&[], 50, &c[49].hash).unwrap_err().kind,
            BreakKind::Truncated {
                newest_present: None
            }
        );
        // No entries and no head: fine.
        assert!(verify_head(&[], 0, &GENESIS_HASH).is_ok());
        // Entries although the head says none were written.
        assert_eq!(
            verify_head(&c, 0, &GENESIS_HASH).unwrap_err().kind,
            BreakKind::HeadMismatch
        );
    }

    #[test]
    fn the_head_must_match_an_entry_present() {
        let c = chain(50);
        // A head read before the newest entries were written: accepted.
        assert!(verify_head(&c, 48, &c[47].hash).is_ok());
        // A head naming a rewritten newest entry.
        let b = verify_head(&c, 50, &[9; 32]).unwrap_err();
        assert_eq!(
            b,
            ChainBreak {
                seq: 50,
                kind: BreakKind::HeadMismatch
            }
        );
        // A rewritten tail, consistent in itself, but not with the head.
        let mut t = c.clone();
        t.truncate(45);
        let forged = append(t.last(), &appliance(1), fields(99)).unwrap();
        t.push(forged);
        assert!(verify_chain(&t).is_ok());
        assert_eq!(
            verify_head(&t, 50, &c[49].hash).unwrap_err().kind,
            BreakKind::Truncated {
                newest_present: Some(46)
            }
        );
        // A head older than everything present.
        assert_eq!(
            verify_head(&c[10..], 5, &c[4].hash).unwrap_err().kind,
            BreakKind::HeadMismatch
        );
    }

    #[test]
    fn mixed_appliances_are_refused() {
        let mut c = chain(5);
        let other = append(None, &appliance(2), fields(1)).unwrap();
        c.push(other);
        let b = err(&c);
        assert_eq!(b.kind, BreakKind::MixedAppliances);
        // Re-labelling an entry to another appliance is detected too.
        let mut c = chain(5);
        c[2].appliance = appliance(3);
        assert_eq!(
            err(&c),
            ChainBreak {
                seq: 3,
                kind: BreakKind::MixedAppliances
            }
        );
    }

    #[test]
    fn empty_is_an_empty_report() {
        let r = verify_chain(&[]).unwrap();
        assert_eq!(r.entries, 0);
        assert_eq!(r.anchored_at_seq, None);
        assert!(!r.from_genesis());
    }

    #[test]
    fn encoding_is_unambiguous_between_fields() {
        let id = appliance(1);
        let mut a = fields(1);
        a.job = Some("ab".into());
        a.info = "c".into();
        let mut b = a.clone();
        b.job = Some("a".into());
        b.info = "bc".into();
        assert_ne!(
            entry_hash(&GENESIS_HASH, &id, 1, &a),
            entry_hash(&GENESIS_HASH, &id, 1, &b)
        );
        let mut c = a.clone();
        c.job = None;
        c.info = String::new();
        let mut d = c.clone();
        d.job = Some(String::new());
        assert_ne!(
            canonical_bytes(&GENESIS_HASH, &id, 1, &c),
            canonical_bytes(&GENESIS_HASH, &id, 1, &d)
        );
        assert!(canonical_bytes(&GENESIS_HASH, &id, 1, &a).starts_with(&[0, 0, 0, 0, 0, 0, 0, 19]));
    }

    #[test]
    fn known_answer() {
        // Pins the encoding: changing it must come with a new domain tag.
        let id = ApplianceId::parse("ap_00000000000000000000000000000001").unwrap();
        let e = append(
            None,
            &id,
            LogFields {
                time: Timestamp::from_millis(1_700_000_000_123),
                job: Some("job-1".into()),
                direction: Direction::ConsoleToAppliance,
                status: LogStatus::Ok,
                info: "reboot delivered".into(),
            },
        )
        .unwrap();
        let bytes = canonical_bytes(&GENESIS_HASH, &id, 1, &e.fields());
        let mut expected = Vec::new();
        expected.extend_from_slice(&19u64.to_be_bytes());
        expected.extend_from_slice(b"rampart-comm-log-v1");
        expected.extend_from_slice(&[0; 32]);
        expected.extend_from_slice(&35u64.to_be_bytes());
        expected.extend_from_slice(id.as_str().as_bytes());
        expected.extend_from_slice(&1u64.to_be_bytes());
        expected.extend_from_slice(&1_700_000_000_123i64.to_be_bytes());
        expected.push(1);
        expected.extend_from_slice(&5u64.to_be_bytes());
        expected.extend_from_slice(b"job-1");
        expected.extend_from_slice(&20u64.to_be_bytes());
        expected.extend_from_slice(b"console_to_appliance");
        expected.extend_from_slice(&2u64.to_be_bytes());
        expected.extend_from_slice(b"ok");
        expected.extend_from_slice(&16u64.to_be_bytes());
        expected.extend_from_slice(b"reboot delivered");
        assert_eq!(bytes, expected);
        let digest: [u8; 32] = Sha256::digest(&expected).into();
        assert_eq!(e.hash, digest);
    }

    #[test]
    fn json_uses_snake_case_and_hex() {
        let c = chain(2);
        let v = serde_json::to_value(&c[1]).unwrap();
        assert_eq!(v["direction"], "console_to_appliance");
        assert_eq!(v["status"], "refused");
        assert_eq!(v["hash"], hex::encode(c[1].hash));
        assert_eq!(v["prev_hash"], hex::encode(c[0].hash));
        let back: LogEntry = serde_json::from_value(v).unwrap();
        assert_eq!(back, c[1]);
        assert_eq!(
            serde_json::to_value(LogStatus::TimedOut).unwrap(),
            "timed_out"
        );
        let b = ChainBreak {
            seq: 4,
            kind: BreakKind::Missing { expected_seq: 3 },
        };
        assert_eq!(
            serde_json::to_value(&b).unwrap(),
            serde_json::json!({"seq": 4, "kind": "missing", "expected_seq": 3})
        );
    }

    #[test]
    fn names_parse_back() {
        for d in Direction::ALL {
            assert_eq!(Direction::parse(d.as_str()).unwrap(), d);
            assert_eq!(serde_json::to_value(d).unwrap(), d.as_str());
        }
        for s in LogStatus::ALL {
            assert_eq!(LogStatus::parse(s.as_str()).unwrap(), s);
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert!(Direction::parse("sideways").is_err());
        assert!(LogStatus::parse("OK").is_err());
    }

    #[test]
    fn retention_is_ninety_days() {
        assert_eq!(RETENTION.as_secs(), 7_776_000);
    }

    mod mutations {
        use super::*;
        use proptest::prelude::*;

        /// One field of one entry changed to a different value.
        #[derive(Clone, Debug)]
        enum Mutation {
            Appliance(u8),
            Seq(u64),
            Time(i64),
            Job(Option<String>),
            Direction,
            Status(usize),
            Info(String),
            PrevHash(usize, u8),
            Hash(usize, u8),
        }

        fn mutation() -> impl Strategy<Value = Mutation> {
            prop_oneof![
                (2u8..=255).prop_map(Mutation::Appliance),
                any::<u64>().prop_map(Mutation::Seq),
                any::<i64>().prop_map(Mutation::Time),
                proptest::option::of("[a-z0-9-]{0,12}").prop_map(Mutation::Job),
                Just(Mutation::Direction),
                (0usize..5).prop_map(Mutation::Status),
                "[ -~]{0,40}".prop_map(Mutation::Info),
                (0usize..32, 1u8..=255).prop_map(|(i, x)| Mutation::PrevHash(i, x)),
                (0usize..32, 1u8..=255).prop_map(|(i, x)| Mutation::Hash(i, x)),
            ]
        }

        fn apply(e: &mut LogEntry, m: &Mutation) {
            match m {
                Mutation::Appliance(n) => e.appliance = appliance(*n),
                Mutation::Seq(s) => e.seq = *s,
                Mutation::Time(t) => e.time = Timestamp::from_millis(*t),
                Mutation::Job(j) => e.job = j.clone(),
                Mutation::Direction => {
                    e.direction = match e.direction {
                        Direction::ConsoleToAppliance => Direction::ApplianceToConsole,
                        Direction::ApplianceToConsole => Direction::ConsoleToAppliance,
                    }
                }
                Mutation::Status(i) => e.status = LogStatus::ALL[*i],
                Mutation::Info(s) => e.info = s.clone(),
                Mutation::PrevHash(i, x) => e.prev_hash[*i] ^= x,
                Mutation::Hash(i, x) => e.hash[*i] ^= x,
            }
        }

        proptest! {
            #[test]
            fn any_single_field_mutation_is_detected(
                len in 1u64..40,
                drop_old in 0usize..10,
                pick in any::<proptest::sample::Index>(),
                m in mutation(),
            ) {
                let full = chain(len);
                let start = drop_old.min(full.len() - 1);
                let mut c = full[start..].to_vec();
                let i = pick.index(c.len());
                let before = c[i].clone();
                apply(&mut c[i], &m);
                prop_assume!(c[i] != before);
                let head = full.last().unwrap().head();
                prop_assert!(verify_chain(&c).is_err(), "undetected: {m:?} at {}", before.seq);
                prop_assert!(verify_head(&c, head.seq, &head.hash).is_err());
            }

            #[test]
            fn untouched_chains_verify_in_any_order(
                len in 1u64..40,
                drop_old in 0usize..40,
                seed in any::<u64>(),
            ) {
                let full = chain(len);
                let start = drop_old.min(full.len() - 1);
                let mut c = full[start..].to_vec();
                // A cheap deterministic shuffle.
                let n = c.len();
                for k in 0..n {
                    let j = (seed.wrapping_mul(6364136223846793005).wrapping_add(k as u64) % n as u64) as usize;
                    c.swap(k, j);
                }
                let r = verify_chain(&c).unwrap();
                prop_assert_eq!(r.anchored_at_seq, Some(start as u64 + 1));
                let head = full.last().unwrap().head();
                prop_assert!(verify_head(&c, head.seq, &head.hash).is_ok());
            }
        }
    }
}
