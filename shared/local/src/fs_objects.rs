//! `FsObjects`: objects as files under a root directory, each written atomically.
//!
//! Layout: key `a/b/c` lives at `<root>/a/b/c~`. The `~` suffix (a character keys
//! may not contain) keeps object files apart from directories, so `a` and `a/b`
//! can both be objects, as in S3.
//!
//! Self-hosted has no S3 notifications: [`FsObjects::notify_created`] registers the
//! queue that objects created under a prefix are announced to, in S3's event
//! format, as template.yaml's bucket notification does on AWS.

use async_trait::async_trait;
use bytes::Bytes;
use rampart_domain::Timestamp;
use rampart_ports::objects::{validate_lifetime, validate_object_key, validate_read_prefix_len};
use rampart_ports::{
    ObjectMeta, ObjectPage, Objects, PresignedRequest, Queue, StoreError, object_created_event,
};
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, UNIX_EPOCH};

use crate::atomic_file::{TEMP_MARKER, write_atomically};
use crate::presign::{Grant, PresignKey, UploadBinding};

const OBJECT_SUFFIX: char = '~';
/// S3's largest listing page.
const MAX_LIST_LIMIT: u32 = 1000;
pub(crate) const OCTET_STREAM: &str = "application/octet-stream";
/// The bucket name created-object events carry (there is one store self-hosted).
pub const LOCAL_BUCKET: &str = "rampart-local";

pub struct FsObjects {
    root: PathBuf,
    public_base_url: String,
    key: PresignKey,
    /// Set once at start-up, before the server takes requests.
    created_events: OnceLock<CreatedEvents>,
}

/// Where objects created under `prefix` are announced.
struct CreatedEvents {
    prefix: String,
    queue: Arc<dyn Queue>,
}

impl std::fmt::Debug for FsObjects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FsObjects")
            .field("root", &self.root)
            .field("public_base_url", &self.public_base_url)
            .field(
                "created_events_prefix",
                &self.created_events.get().map(|c| c.prefix.as_str()),
            )
            .finish_non_exhaustive()
    }
}

impl FsObjects {
    /// `public_base_url` is where clients reach `objects_router` (scheme, host,
    /// port, optional path prefix); presigned URLs are built on it.
    pub fn open(
        root: PathBuf,
        public_base_url: String,
        signing_key: [u8; 32],
    ) -> anyhow::Result<Self> {
        fs::create_dir_all(&root)?;
        let public_base_url = public_base_url.trim_end_matches('/').to_owned();
        url::Url::parse(&public_base_url)?;
        Ok(Self {
            root,
            public_base_url,
            key: PresignKey::new(signing_key),
            created_events: OnceLock::new(),
        })
    }

    /// From now on, every object created under `prefix` (by [`Objects::put`] or by
    /// an upload through `objects_router`) is announced to `queue` with an S3
    /// `ObjectCreated:Put` notification ([`object_created_event`]), as S3 does for
    /// template.yaml's bucket notification (`backups/` → `backup-ingest`). Call once,
    /// at start-up, before serving; a second call is an error.
    pub fn notify_created(&self, prefix: &str, queue: Arc<dyn Queue>) -> anyhow::Result<()> {
        self.created_events
            .set(CreatedEvents {
                prefix: prefix.to_owned(),
                queue,
            })
            .map_err(|_| anyhow::anyhow!("created-object notifications are already set"))
    }

    /// Announces a committed object when its key is under the notification prefix.
    /// An error means the object is stored but nobody was told: the writer must
    /// report failure so that the client repeats the (idempotent) write.
    pub(crate) async fn announce_created(&self, key: &str, size: u64) -> Result<(), StoreError> {
        let Some(target) = self.created_events.get() else {
            return Ok(());
        };
        if !key.starts_with(&target.prefix) {
            return Ok(());
        }
        let event = object_created_event(LOCAL_BUCKET, key, size, Timestamp::now_system());
        target.queue.send(&event, Duration::ZERO).await
    }

    /// The file holding `key` (which must already be validated).
    pub(crate) fn object_path(&self, key: &str) -> PathBuf {
        let mut path = self.root.join(key);
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(OBJECT_SUFFIX.to_string());
        path.set_file_name(name);
        path
    }

    pub(crate) fn verify(&self, grant: &Grant<'_>, sig: &str) -> bool {
        self.key.verify(grant, sig)
    }

    fn presign(
        &self,
        method: &str,
        key: &str,
        upload: Option<UploadBinding>,
        lifetime: Duration,
    ) -> Result<PresignedRequest, StoreError> {
        validate_object_key(key)?;
        validate_lifetime(lifetime)?;
        // Whole seconds, rounded up, so the URL never lives shorter than asked.
        let lifetime_secs = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX)
            + i64::from(lifetime.subsec_nanos() > 0);
        let expires = Timestamp::now_system().secs().saturating_add(lifetime_secs);
        let sig = self.key.sign(&Grant {
            method,
            key,
            expires,
            upload,
        });
        let upload_params = upload
            .map(|u| format!("&len={}&sha256={}", u.len, hex::encode(u.sha256)))
            .unwrap_or_default();
        let url = format!(
            "{}/v1/objects/{key}?expires={expires}{upload_params}&sig={sig}",
            self.public_base_url
        );
        let headers = if upload.is_some() {
            vec![("content-type".to_owned(), OCTET_STREAM.to_owned())]
        } else {
            Vec::new()
        };
        Ok(PresignedRequest {
            method: method.to_owned(),
            url,
            headers,
            expires: Timestamp::from_secs(expires),
        })
    }
}

fn io_error(e: io::Error) -> StoreError {
    StoreError::unavailable(e)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::unavailable_msg(format!("file task failed: {e}")))?
}

fn meta_of(key: String, meta: &fs::Metadata) -> ObjectMeta {
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    ObjectMeta {
        key,
        size: meta.len(),
        modified: Timestamp::from_millis(modified),
    }
}

/// Every object under `dir`, whose keys start with `key_prefix` (the dir's own key path).
fn collect_objects(
    dir: &Path,
    key_prefix: &str,
    out: &mut Vec<(String, PathBuf)>,
) -> io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let kind = entry.file_type()?;
        if kind.is_dir() {
            collect_objects(&entry.path(), &format!("{key_prefix}{name}/"), out)?;
        } else if kind.is_file()
            && !name.contains(TEMP_MARKER)
            && let Some(stem) = name.strip_suffix(OBJECT_SUFFIX)
        {
            out.push((format!("{key_prefix}{stem}"), entry.path()));
        }
    }
    Ok(())
}

#[async_trait]
impl Objects for FsObjects {
    async fn put(&self, key: &str, body: Bytes) -> Result<(), StoreError> {
        validate_object_key(key)?;
        let path = self.object_path(key);
        let size = body.len() as u64;
        blocking(move || write_atomically(&path, &body).map_err(io_error)).await?;
        self.announce_created(key, size).await
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        validate_object_key(key)?;
        let path = self.object_path(key);
        blocking(move || match fs::read(&path) {
            Ok(b) => Ok(Some(Bytes::from(b))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(e)),
        })
        .await
    }

    async fn read_prefix(&self, key: &str, len: u64) -> Result<Option<Bytes>, StoreError> {
        validate_object_key(key)?;
        validate_read_prefix_len(len)?;
        let path = self.object_path(key);
        blocking(move || {
            let file = match fs::File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(io_error(e)),
            };
            let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
            file.take(len).read_to_end(&mut buf).map_err(io_error)?;
            Ok(Some(Bytes::from(buf)))
        })
        .await
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        validate_object_key(key)?;
        let path = self.object_path(key);
        let key = key.to_owned();
        blocking(move || match fs::metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(Some(meta_of(key, &meta))),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(e)),
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        validate_object_key(key)?;
        let path = self.object_path(key);
        blocking(move || match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error(e)),
        })
        .await
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<ObjectPage, StoreError> {
        if limit == 0 || limit > MAX_LIST_LIMIT {
            return Err(StoreError::Invalid(format!(
                "list limit must be 1..={MAX_LIST_LIMIT}"
            )));
        }
        if let Some(after) = after {
            validate_object_key(after)?;
        }
        // Only the directory part of the prefix is walked; it must be a safe path.
        let dir_part = prefix.rsplit_once('/').map_or("", |(dir, _)| dir);
        if !dir_part.is_empty() {
            validate_object_key(dir_part)?;
        }
        let rest = prefix.rsplit_once('/').map_or(prefix, |(_, rest)| rest);
        if !rest.is_empty() {
            validate_object_key(rest)?;
        }
        let start = if dir_part.is_empty() {
            self.root.clone()
        } else {
            self.root.join(dir_part)
        };
        let key_prefix = if dir_part.is_empty() {
            String::new()
        } else {
            format!("{dir_part}/")
        };
        let prefix = prefix.to_owned();
        let after = after.map(str::to_owned);
        blocking(move || {
            let mut found = Vec::new();
            collect_objects(&start, &key_prefix, &mut found).map_err(io_error)?;
            found.retain(|(key, _)| {
                key.starts_with(&prefix) && after.as_ref().is_none_or(|a| key.as_str() > a.as_str())
            });
            found.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            let mut objects = Vec::new();
            let mut more = false;
            for (key, path) in found {
                if objects.len() == limit as usize {
                    more = true;
                    break;
                }
                // Deleted since the scan: not part of the listing.
                match fs::metadata(&path) {
                    Ok(meta) => objects.push(meta_of(key, &meta)),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_error(e)),
                }
            }
            let next = if more {
                objects.last().map(|m| m.key.clone())
            } else {
                None
            };
            Ok(ObjectPage { objects, next })
        })
        .await
    }

    async fn presign_put(
        &self,
        key: &str,
        content_length: u64,
        sha256: &[u8; 32],
        lifetime: Duration,
    ) -> Result<PresignedRequest, StoreError> {
        let upload = UploadBinding {
            len: content_length,
            sha256: *sha256,
        };
        self.presign("PUT", key, Some(upload), lifetime)
    }

    async fn presign_get(
        &self,
        key: &str,
        lifetime: Duration,
    ) -> Result<PresignedRequest, StoreError> {
        self.presign("GET", key, None, lifetime)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rampart_ports::{ReceivedMessage, parse_created_objects};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A queue that keeps what is sent to it, or refuses every send.
    #[derive(Default)]
    pub(crate) struct RecordingQueue {
        pub(crate) sent: Mutex<Vec<String>>,
        pub(crate) failing: AtomicBool,
    }

    impl RecordingQueue {
        pub(crate) fn fail(&self, fail: bool) {
            self.failing.store(fail, Ordering::SeqCst);
        }

        /// The (key, size) of every created-object event sent so far.
        pub(crate) fn created(&self) -> Vec<(String, u64)> {
            self.sent
                .lock()
                .unwrap()
                .iter()
                .flat_map(|b| parse_created_objects(b).unwrap())
                .map(|c| (c.key, c.size))
                .collect()
        }
    }

    #[async_trait]
    impl Queue for RecordingQueue {
        async fn send(&self, body: &str, _delay: Duration) -> Result<(), StoreError> {
            if self.failing.load(Ordering::SeqCst) {
                return Err(StoreError::unavailable_msg("queue down"));
            }
            self.sent.lock().unwrap().push(body.to_owned());
            Ok(())
        }

        async fn receive(
            &self,
            _max: u32,
            _wait: Duration,
            _visibility: Duration,
        ) -> Result<Vec<ReceivedMessage>, StoreError> {
            Ok(Vec::new())
        }

        async fn delete(&self, _receipt: &str) -> Result<(), StoreError> {
            Ok(())
        }
    }

    fn open(dir: &Path) -> FsObjects {
        FsObjects::open(dir.join("objects"), "http://h:1/".into(), [1; 32]).unwrap()
    }

    #[tokio::test]
    async fn nested_keys_coexist_and_list_in_key_order() {
        let tmp = tempfile::tempdir().unwrap();
        let o = open(tmp.path());
        for key in ["a", "a/b", "a-b", "a/c/d", "b"] {
            o.put(key, Bytes::from(key.to_owned())).await.unwrap();
        }
        assert_eq!(o.get("a").await.unwrap().unwrap(), "a");
        assert_eq!(o.get("a/b").await.unwrap().unwrap(), "a/b");
        let keys = |p: ObjectPage| p.objects.into_iter().map(|m| m.key).collect::<Vec<_>>();
        assert_eq!(
            keys(o.list("", None, 100).await.unwrap()),
            ["a", "a-b", "a/b", "a/c/d", "b"]
        );
        assert_eq!(
            keys(o.list("a/", None, 100).await.unwrap()),
            ["a/b", "a/c/d"]
        );
        let page = o.list("a", Some("a-b"), 1).await.unwrap();
        assert_eq!(page.next.as_deref(), Some("a/b"));
        assert_eq!(keys(page), ["a/b"]);
        assert!(o.list("../", None, 10).await.is_err());
    }

    #[tokio::test]
    async fn stale_temp_files_are_not_objects() {
        let tmp = tempfile::tempdir().unwrap();
        let o = open(tmp.path());
        o.put("x", Bytes::from_static(b"1")).await.unwrap();
        let mut pending = crate::atomic_file::PendingFile::create(&o.object_path("x")).unwrap();
        pending.write(b"torn").unwrap();
        std::mem::forget(pending);
        let page = o.list("", None, 10).await.unwrap();
        assert_eq!(page.objects.len(), 1);
        assert_eq!(o.get("x").await.unwrap().unwrap(), "1");
    }

    #[tokio::test]
    async fn presigned_urls_carry_expiry_length_and_signature() {
        let tmp = tempfile::tempdir().unwrap();
        let o = open(tmp.path());
        let p = o
            .presign_put("k/1", 12, &[0xab; 32], Duration::from_secs(60))
            .await
            .unwrap();
        assert!(p.url.starts_with("http://h:1/v1/objects/k/1?expires="));
        assert!(
            p.url
                .contains(&format!("&len=12&sha256={}&sig=", "ab".repeat(32))),
            "{}",
            p.url
        );
        assert_eq!(p.method, "PUT");
        assert!(o.presign_get("../x", Duration::from_secs(1)).await.is_err());
        assert!(o.presign_get("x", Duration::ZERO).await.is_err());
    }

    #[tokio::test]
    async fn prefix_reads_stop_at_the_length() {
        let tmp = tempfile::tempdir().unwrap();
        let o = open(tmp.path());
        o.put("k", Bytes::from_static(b"0123456789")).await.unwrap();
        assert_eq!(o.read_prefix("k", 4).await.unwrap().unwrap(), "0123");
        assert_eq!(o.read_prefix("k", 64).await.unwrap().unwrap(), "0123456789");
        assert_eq!(o.read_prefix("none", 4).await.unwrap(), None);
        assert!(o.read_prefix("k", 0).await.is_err());
    }

    #[tokio::test]
    async fn puts_under_the_prefix_are_announced() {
        let tmp = tempfile::tempdir().unwrap();
        let o = open(tmp.path());
        // Before a target is set, nothing is announced and nothing fails.
        o.put("backups/early", Bytes::from_static(b"x"))
            .await
            .unwrap();
        let queue = Arc::new(RecordingQueue::default());
        o.notify_created("backups/", queue.clone()).unwrap();
        assert!(
            o.notify_created("backups/", queue.clone()).is_err(),
            "set once"
        );
        o.put("backups/A1/1.rbk", Bytes::from_static(b"12345"))
            .await
            .unwrap();
        o.put("other/1.rbk", Bytes::from_static(b"1"))
            .await
            .unwrap();
        o.put("backupsX", Bytes::from_static(b"1")).await.unwrap();
        assert_eq!(queue.created(), [("backups/A1/1.rbk".to_owned(), 5)]);

        // A failed announcement fails the put; the object is stored and a retry
        // announces it.
        queue.fail(true);
        let err = o
            .put("backups/A1/2.rbk", Bytes::from_static(b"12"))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        assert_eq!(o.get("backups/A1/2.rbk").await.unwrap().unwrap(), "12");
        queue.fail(false);
        o.put("backups/A1/2.rbk", Bytes::from_static(b"12"))
            .await
            .unwrap();
        assert_eq!(queue.created().len(), 2);
        assert_eq!(queue.created()[1], ("backups/A1/2.rbk".to_owned(), 2));
    }
}
