//! The self-hosted mailer: every message becomes one RFC 5322 file in an outbox
//! directory, for the operator's MTA (or a person) to pick up.
//!
//! Bodies carry one-time links (password resets, invitations), so each file is
//! created with mode 0600 in a 0700 directory, written whole to a hidden temp file,
//! fsynced and renamed into place (a reader never sees half a message), and the
//! body never reaches a log line. File names start with the UTC time of sending,
//! so a plain sort lists the outbox oldest first.

use async_trait::async_trait;
use rampart_domain::Timestamp;
use rampart_ports::{Clock, Mail, Mailer, StoreError, SystemClock};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::atomic_file::{Access, write_atomically_with};
use crate::random_token::random_hex;

/// The extension of finished messages; temp files are hidden and never end in it.
pub const OUTBOX_EXTENSION: &str = "eml";

const DEFAULT_FROM: &str = "Rampart <rampart@localhost>";

/// Orders messages written in the same millisecond by this process.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// Writes each [`Mail`] as `<UTC time>-<sequence>-<random>.eml` into one directory.
#[derive(Clone)]
pub struct OutboxMailer {
    dir: PathBuf,
    from: String,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for OutboxMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxMailer")
            .field("dir", &self.dir)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl OutboxMailer {
    /// An outbox in `dir` (created on first send), sending as
    /// `Rampart <rampart@localhost>` with the system clock.
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            from: DEFAULT_FROM.to_owned(),
            clock: Arc::new(SystemClock),
        }
    }

    /// The `From` header (an address, or `Name <address>`).
    pub fn with_from(mut self, from: impl Into<String>) -> Self {
        self.from = from.into();
        self
    }

    /// The clock that dates messages and names their files.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes the message and returns the path of its file.
    pub async fn write(&self, mail: Mail) -> Result<PathBuf, StoreError> {
        check_header("to", &mail.to)?;
        if !mail.to.contains('@') {
            return Err(StoreError::Invalid(
                "mail recipient is not an address".into(),
            ));
        }
        check_header("subject", &mail.subject)?;
        check_header("from", &self.from)?;
        let now = self.clock.now();
        let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
        let name = format!(
            "{}-{seq:010}-{}.{OUTBOX_EXTENSION}",
            file_stamp(now),
            random_hex(4)
        );
        let message = render(&self.from, &mail, now, &message_id(&self.from));
        let path = self.dir.join(&name);
        let target = path.clone();
        tokio::task::spawn_blocking(move || {
            write_atomically_with(&target, message.as_bytes(), Access::Private)
        })
        .await
        .map_err(|e| StoreError::unavailable_msg(format!("outbox writer task failed: {e}")))?
        .map_err(|e| {
            StoreError::unavailable_msg(format!(
                "writing mail to outbox {}: {e}",
                self.dir.display()
            ))
        })?;
        // The recipient and file name only: the body holds one-time links.
        tracing::info!(to = %mail.to, file = %name, "mail written to the outbox");
        Ok(path)
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, mail: Mail) -> Result<(), StoreError> {
        self.write(mail).await.map(|_| ())
    }
}

/// Header values are one line: a CR or LF would let a caller add headers.
fn check_header(name: &str, value: &str) -> Result<(), StoreError> {
    if value.trim().is_empty() {
        return Err(StoreError::Invalid(format!("mail {name} is empty")));
    }
    if value.chars().any(|c| c == '\r' || c == '\n' || c == '\0') {
        return Err(StoreError::Invalid(format!(
            "mail {name} contains a line break"
        )));
    }
    Ok(())
}

/// The message as RFC 5322 text: CRLF line ends, UTF-8 body sent as 8bit, a
/// non-ASCII subject as an RFC 2047 encoded word.
fn render(from: &str, mail: &Mail, date: Timestamp, message_id: &str) -> String {
    let mut out = String::with_capacity(mail.body.len() + 512);
    let mut header = |name: &str, value: &str| {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    };
    header("From", from);
    header("To", &mail.to);
    header("Subject", &encode_header_text(&mail.subject));
    header("Date", &rfc5322_date(date));
    header("Message-ID", message_id);
    header("MIME-Version", "1.0");
    header("Content-Type", "text/plain; charset=utf-8");
    header("Content-Transfer-Encoding", "8bit");
    out.push_str("\r\n");
    for line in mail.body.lines() {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out
}

/// ASCII text as is; anything else as `=?UTF-8?B?...?=`.
fn encode_header_text(text: &str) -> String {
    if text.is_ascii() {
        return text.to_owned();
    }
    use base64::Engine;
    format!(
        "=?UTF-8?B?{}?=",
        base64::engine::general_purpose::STANDARD.encode(text)
    )
}

/// `<random@domain of the sender>`.
fn message_id(from: &str) -> String {
    let address = from
        .rsplit_once('<')
        .map_or(from, |(_, rest)| rest.trim_end_matches('>'));
    let domain = address
        .rsplit_once('@')
        .map(|(_, d)| d.trim())
        .filter(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_graphic() && c != '>'))
        .unwrap_or("localhost");
    format!("<{}@{domain}>", random_hex(16))
}

fn utc(t: Timestamp) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(t.millis()).unwrap_or_default()
}

/// `20261125T120000.000Z`: fixed width, so names sort by time.
fn file_stamp(t: Timestamp) -> String {
    utc(t).format("%Y%m%dT%H%M%S%.3fZ").to_string()
}

/// `Wed, 25 Nov 2026 12:00:00 +0000`.
fn rfc5322_date(t: Timestamp) -> String {
    utc(t).format("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_ports::ManualClock;
    use std::fs;

    fn mail(body: &str) -> Mail {
        Mail {
            to: "ops@example.com".into(),
            subject: "Reset your Rampart password".into(),
            body: body.into(),
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn dates_follow_rfc_5322() {
        assert_eq!(
            rfc5322_date(Timestamp::from_secs(0)),
            "Thu, 01 Jan 1970 00:00:00 +0000"
        );
        assert_eq!(
            rfc5322_date(Timestamp::from_secs(1_700_000_000)),
            "Tue, 14 Nov 2023 22:13:20 +0000"
        );
        // A leap day.
        assert_eq!(
            rfc5322_date(Timestamp::from_secs(1_709_210_096)),
            "Thu, 29 Feb 2024 12:34:56 +0000"
        );
        assert_eq!(
            file_stamp(Timestamp::from_millis(1_700_000_000_042)),
            "20231114T221320.042Z"
        );
    }

    #[tokio::test]
    async fn writes_one_private_rfc5322_file_per_mail() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("outbox");
        let clock = ManualClock::at(Timestamp::from_secs(1_700_000_000));
        let mailer = OutboxMailer::new(dir.clone())
            .with_from("Rampart <no-reply@rampart.example>")
            .with_clock(Arc::new(clock.clone()));
        let path = mailer
            .write(mail(
                "Open https://console.example/reset#t0ken\nwithin an hour.",
            ))
            .await
            .unwrap();
        assert_eq!(
            names(&dir),
            vec![path.file_name().unwrap().to_string_lossy().into_owned()]
        );
        let text = fs::read_to_string(&path).unwrap();
        let (head, body) = text
            .split_once("\r\n\r\n")
            .expect("headers, blank line, body");
        let header = |n: &str| {
            head.split("\r\n")
                .find_map(|l| l.strip_prefix(&format!("{n}: ")))
                .unwrap_or_else(|| panic!("{n} header in {head}"))
        };
        assert_eq!(header("From"), "Rampart <no-reply@rampart.example>");
        assert_eq!(header("To"), "ops@example.com");
        assert_eq!(header("Subject"), "Reset your Rampart password");
        assert_eq!(header("Date"), "Tue, 14 Nov 2023 22:13:20 +0000");
        let id = header("Message-ID");
        assert!(
            id.starts_with('<') && id.ends_with("@rampart.example>"),
            "{id}"
        );
        assert_eq!(
            body,
            "Open https://console.example/reset#t0ken\r\nwithin an hour.\r\n"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(&dir), 0o700);
        }
    }

    #[tokio::test]
    async fn names_sort_by_sending_time() {
        let tmp = tempfile::tempdir().unwrap();
        let clock = ManualClock::at(Timestamp::from_secs(1_700_000_000));
        let mailer = OutboxMailer::new(tmp.path().to_owned()).with_clock(Arc::new(clock.clone()));
        let mut written = Vec::new();
        for i in 0..12 {
            // Three to a millisecond, then the clock moves on.
            if i % 3 == 0 {
                clock.advance(std::time::Duration::from_millis(997));
            }
            let p = mailer.write(mail(&format!("mail {i}"))).await.unwrap();
            written.push(p.file_name().unwrap().to_string_lossy().into_owned());
        }
        assert_eq!(names(tmp.path()), written);
        assert!(written.iter().all(|n| n.ends_with(".eml")));
    }

    #[tokio::test]
    async fn header_injection_and_bad_recipients_are_refused_and_nothing_is_written() {
        let tmp = tempfile::tempdir().unwrap();
        let mailer = OutboxMailer::new(tmp.path().to_owned());
        for bad in [
            Mail {
                to: "a@example.com\r\nBcc: evil@example.com".into(),
                ..mail("x")
            },
            Mail {
                subject: "hi\nBcc: evil@example.com".into(),
                ..mail("x")
            },
            Mail {
                to: "not an address".into(),
                ..mail("x")
            },
            Mail {
                to: " ".into(),
                ..mail("x")
            },
        ] {
            let err = mailer.send(bad).await.unwrap_err();
            assert!(matches!(err, StoreError::Invalid(_)), "{err}");
        }
        assert!(names(tmp.path()).is_empty());
    }

    #[tokio::test]
    async fn a_non_ascii_subject_is_encoded_and_the_body_kept_as_utf8() {
        let tmp = tempfile::tempdir().unwrap();
        let mailer = OutboxMailer::new(tmp.path().to_owned());
        let path = mailer
            .write(Mail {
                subject: "Einladung für Jürgen".into(),
                ..mail("Grüße\r\n")
            })
            .await
            .unwrap();
        let text = fs::read_to_string(path).unwrap();
        assert!(
            text.contains("Subject: =?UTF-8?B?RWlubGFkdW5nIGbDvHIgSsO8cmdlbg==?=\r\n"),
            "{text}"
        );
        assert!(text.ends_with("\r\n\r\nGrüße\r\n"), "{text}");
    }

    #[test]
    fn a_failed_write_leaves_no_temp_file() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("existing-dir");
        fs::create_dir(&target).unwrap();
        // Renaming a file over a directory fails: the temp file must go too.
        assert!(write_atomically_with(&target, b"x", Access::Private).is_err());
        assert_eq!(names(tmp.path()), vec!["existing-dir".to_owned()]);
    }

    #[test]
    fn debug_shows_no_mail() {
        let m = mail("secret link");
        assert!(!format!("{m:?}").contains("secret link"));
        let o = OutboxMailer::new(PathBuf::from("/tmp/outbox"));
        assert!(format!("{o:?}").contains("/tmp/outbox"));
    }
}
