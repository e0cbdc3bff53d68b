//! Backup and restore against a tiny local server that plays both the device API
//! (signed requests for presigned uploads and downloads) and storage (the presigned
//! PUT and GET).

use super::*;
use axum::Router;
use axum::body::Bytes as AxBytes;
use axum::extract::{Path as AxPath, State};
use axum::http::{HeaderMap as AxHeaders, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use ed25519_dalek::SigningKey;
use rampart_domain::backup::BackupPassword;
use rampart_domain::device_protocol::{
    BACKUP_UPLOAD_PATH, BackupDownloadResponse, BackupUploadRequest, BackupUploadResponse,
    CheckinResponse, CommandResultRequest, CommandResultResponse, DevicePublicKey,
    HEADER_APPLIANCE, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, PendingCommand, ResultKind,
    SignedParts, pin_seal_context,
};
use rampart_domain::ids::ApplianceId;
use rampart_domain::jobs::{CommandState, Operation};
use rampart_envelope::KdfParams;
use std::sync::{Arc, Mutex};

const PASSWORD: &str = "Correct-Horse-9";
const SERIAL: &str = "A1B2C3D4";
const GENERATION: u32 = 3;

/// What the fake console and storage saw, and what they serve.
#[derive(Default)]
struct Seen {
    base: String,
    upload_request: Option<BackupUploadRequest>,
    put_headers: Option<AxHeaders>,
    /// The stored object (what the PUT carried).
    object: Option<Vec<u8>>,
    /// Served by GET instead of the object, when set.
    serve_instead: Option<Vec<u8>>,
    /// Announced by the download grant instead of the object's size, when set.
    announce_size: Option<u64>,
    announce_generation: u32,
    download_bodies: Vec<Vec<u8>>,
    /// The appliance key requests must be signed with (default: [`key`]).
    public: Option<[u8; 32]>,
    /// Command results reported.
    results: Vec<(String, CommandResultRequest)>,
    /// Granted instead of this server's storage URL, when set.
    upload_url: Option<String>,
    /// Storage refuses the PUT with this status, when set.
    put_status: Option<StatusCode>,
}

type Shared = Arc<Mutex<Seen>>;

fn key() -> SigningKey {
    SigningKey::from_bytes(&[9; 32])
}

fn appliance() -> ApplianceId {
    ApplianceId::from_random([4; 16])
}

/// The device API's check: signed by the appliance's key over method, path and body.
fn signed(s: &Shared, headers: &AxHeaders, path: &str, body: &[u8]) -> bool {
    let public = s
        .lock()
        .unwrap()
        .public
        .unwrap_or(key().verifying_key().to_bytes());
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(ts), Some(nonce), Some(sig), Some(app)) = (
        h(HEADER_TIMESTAMP),
        h(HEADER_NONCE),
        h(HEADER_SIGNATURE),
        h(HEADER_APPLIANCE),
    ) else {
        return false;
    };
    let public = DevicePublicKey::from_bytes(&public).unwrap();
    public.verify(
        &SignedParts {
            method: "POST",
            path,
            appliance: Some(app),
            timestamp_ms: ts.parse().unwrap_or(0),
            nonce,
            body,
        },
        sig,
    ) && app == appliance().as_str()
}

fn refused(status: StatusCode, code: &str) -> Response {
    let body = serde_json::json!({"error": {"code": code, "message": "refused by the test"}});
    (status, axum::Json(body)).into_response()
}

async fn grant_upload(State(s): State<Shared>, headers: AxHeaders, body: AxBytes) -> Response {
    if !signed(&s, &headers, BACKUP_UPLOAD_PATH, &body) {
        return refused(StatusCode::UNAUTHORIZED, "bad_signature");
    }
    let req: BackupUploadRequest = serde_json::from_slice(&body).unwrap();
    assert!(req.validate().is_ok(), "{req:?}");
    let mut seen = s.lock().unwrap();
    let id = BackupId::new(1_772_600_767_000, [0xde, 0xad, 0xbe, 0xef]);
    seen.upload_request = Some(req);
    let resp = BackupUploadResponse {
        backup_id: id.clone(),
        upload: PresignedHttp {
            method: "PUT".into(),
            url: seen
                .upload_url
                .clone()
                .unwrap_or_else(|| format!("{}/objects/{id}?signature=abc", seen.base)),
            headers: vec![
                ("content-type".into(), "application/octet-stream".into()),
                ("x-amz-meta-test".into(), "signed-with-the-url".into()),
            ],
            expires_ms: 0,
        },
    };
    axum::Json(resp).into_response()
}

async fn store_object(State(s): State<Shared>, headers: AxHeaders, body: AxBytes) -> Response {
    let mut seen = s.lock().unwrap();
    if let Some(status) = seen.put_status {
        return (status, "<Error><Code>AccessDenied</Code></Error>").into_response();
    }
    seen.put_headers = Some(headers);
    seen.object = Some(body.to_vec());
    StatusCode::OK.into_response()
}

async fn grant_download(
    State(s): State<Shared>,
    AxPath(id): AxPath<String>,
    headers: AxHeaders,
    body: AxBytes,
) -> Response {
    let id = BackupId::parse(&id).unwrap();
    let path = rampart_domain::device_protocol::backup_download_path(&id);
    if !signed(&s, &headers, &path, &body) {
        return refused(StatusCode::UNAUTHORIZED, "bad_signature");
    }
    let mut seen = s.lock().unwrap();
    seen.download_bodies.push(body.to_vec());
    let Some(object) = &seen.object else {
        return refused(StatusCode::NOT_FOUND, "not_found");
    };
    let resp = BackupDownloadResponse {
        backup_id: id.clone(),
        size: seen.announce_size.unwrap_or(object.len() as u64),
        password_generation: seen.announce_generation,
        download: PresignedHttp {
            method: "GET".into(),
            url: format!("{}/objects/{id}?signature=def", seen.base),
            headers: vec![("x-amz-meta-test".into(), "get".into())],
            expires_ms: 0,
        },
    };
    axum::Json(resp).into_response()
}

async fn fetch_object(State(s): State<Shared>, headers: AxHeaders) -> Response {
    let seen = s.lock().unwrap();
    assert_eq!(
        headers["x-amz-meta-test"], "get",
        "the presigned headers are sent"
    );
    match seen.serve_instead.clone().or_else(|| seen.object.clone()) {
        Some(bytes) => bytes.into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn take_result(
    State(s): State<Shared>,
    AxPath(id): AxPath<String>,
    headers: AxHeaders,
    body: AxBytes,
) -> Response {
    let command = JobId::parse(&id).unwrap();
    let path = rampart_domain::device_protocol::command_result_path(&command);
    if !signed(&s, &headers, &path, &body) {
        return refused(StatusCode::UNAUTHORIZED, "bad_signature");
    }
    let req: CommandResultRequest = serde_json::from_slice(&body).unwrap();
    s.lock().unwrap().results.push((id, req));
    axum::Json(CommandResultResponse {
        command_id: command,
        state: CommandState::Succeeded,
        awaiting_checkin: false,
    })
    .into_response()
}

async fn server() -> (Shared, DeviceClient) {
    let shared: Shared = Arc::default();
    let app = Router::new()
        .route("/v1/device/commands/{id}/result", post(take_result))
        .route(BACKUP_UPLOAD_PATH, post(grant_upload))
        .route("/v1/device/backups/{id}/download", post(grant_download))
        .route("/objects/{id}", put(store_object).get(fetch_object))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    shared.lock().unwrap().base = base.clone();
    shared.lock().unwrap().announce_generation = GENERATION;
    let mut client = DeviceClient::new(reqwest::Client::new(), &base, key());
    client.set_appliance(appliance().as_str());
    (shared, client)
}

/// The cheapest KDF the envelope accepts, so the tests stay fast.
fn settings(config_size: u64) -> BackupSettings {
    BackupSettings {
        config_size,
        kdf: KdfParams::new(KdfParams::MIN_MEMORY_KIB, 1, 1).unwrap(),
    }
}

fn backup_job(dir: &Path, config_size: u64) -> BackupJob {
    BackupJob {
        command_id: Some(JobId::new(1_772_600_000_000, [1, 2, 3, 4])),
        serial: Serial::parse(SERIAL).unwrap(),
        password_generation: GENERATION,
        password: Password::from(PASSWORD),
        configuration: serde_json::json!({"hostname": "utm-test", "firmware": "14.1.0"}),
        filler_seed: 42,
        settings: settings(config_size),
        work_dir: dir.to_path_buf(),
        temp_prefix: temp_prefix("agent"),
    }
}

fn passwords(entries: &[(u32, &str)]) -> Passwords {
    let mut st = AgentState::fresh(Serial::parse(SERIAL).unwrap(), 0);
    for (g, p) in entries {
        st.set_backup_password(*g, &BackupPassword::parse((*p).to_owned()).unwrap())
            .unwrap();
    }
    Passwords::from_state(&st)
}

fn taken_at() -> Timestamp {
    // 2026-03-04T05:06:07Z
    Timestamp::from_secs(1_772_600_767)
}

fn restore_job(dir: &Path, entries: &[(u32, &str)], taken_at: Timestamp) -> RestoreJob {
    RestoreJob {
        serial: Serial::parse(SERIAL).unwrap(),
        backup: BackupId::new(1_772_600_767_000, [0xde, 0xad, 0xbe, 0xef]),
        taken_at,
        passwords: passwords(entries),
        configs_dir: dir.join("agent.configs"),
        work_dir: dir.to_path_buf(),
        temp_prefix: temp_prefix("agent"),
    }
}

/// Only what the test put there: no temporary directory left behind.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&temp_prefix("agent")))
        .collect()
}

fn open_with(
    password: &str,
    serial: &str,
    sealed: &[u8],
    dir: &Path,
) -> Result<Vec<u8>, EnvelopeError> {
    let input = dir.join("check.rampart");
    let output = dir.join("check.json");
    std::fs::write(&input, sealed).unwrap();
    let _ = std::fs::remove_file(&output);
    rampart_envelope::open_file(&Password::from(password), serial, &input, &output)?;
    Ok(std::fs::read(&output).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_uploads_a_valid_envelope_bound_to_its_size_and_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let (seen, client) = server().await;
    let up = backup(&client, backup_job(dir.path(), 100_000))
        .await
        .unwrap();

    let seen = seen.lock().unwrap();
    let body = seen.object.clone().expect("uploaded");
    let req = seen.upload_request.clone().unwrap();
    assert_eq!(
        req.size,
        body.len() as u64,
        "the size asked for is the size sent"
    );
    assert_eq!(req.sha256, hex::encode(Sha256::digest(&body)));
    assert_eq!(req.password_generation, GENERATION);
    assert_eq!(
        req.command_id,
        Some(JobId::new(1_772_600_000_000, [1, 2, 3, 4]))
    );
    assert_eq!((up.size, up.sha256.clone()), (req.size, req.sha256.clone()));
    assert_eq!(
        up.info(),
        format!("backup {} uploaded ({} bytes)", up.backup_id, up.size)
    );
    // Exactly the presigned request: its headers, and a length (no chunked body).
    let h = seen.put_headers.clone().unwrap();
    assert_eq!(h["content-type"], "application/octet-stream");
    assert_eq!(h["x-amz-meta-test"], "signed-with-the-url");
    assert_eq!(h["content-length"], body.len().to_string());
    assert!(h.get("transfer-encoding").is_none());

    // A valid envelope: its header says so, and it opens with the password and serial.
    let header = rampart_envelope::Header::parse(&body[..rampart_envelope::HEADER_LEN]).unwrap();
    assert_eq!(header.password_generation(), GENERATION);
    assert_eq!(header.kdf(), settings(0).kdf);
    assert_eq!(header.sealed_len(), body.len() as u64);
    let plain = open_with(PASSWORD, SERIAL, &body, dir.path()).unwrap();
    assert_eq!(plain.len(), 100_000, "padded to the configured size");
    let config: serde_json::Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(config["hostname"], "utm-test");
    let json_len = serde_json::to_vec(&backup_job(dir.path(), 0).configuration)
        .unwrap()
        .len();
    // `{...` + `,"filler":"` + filler + `"}`
    assert_eq!(
        config["filler"].as_str().unwrap().len(),
        100_000 - (json_len - 1) - 11 - 2
    );
    // Bound to the serial and the password.
    let other = open_with(PASSWORD, "B1B2C3D4", &body, dir.path()).unwrap_err();
    assert_eq!(other.code(), "wrong_password_or_serial");
    assert!(open_with("Wrong-Horse-9", SERIAL, &body, dir.path()).is_err());
    assert!(leftovers(dir.path()).is_empty(), "temporary files removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_opens_the_backup_under_its_time_and_overwrites_one_of_that_name() {
    let dir = tempfile::tempdir().unwrap();
    let (seen, client) = server().await;
    backup(&client, backup_job(dir.path(), 50_000))
        .await
        .unwrap();
    let body = seen.lock().unwrap().object.clone().unwrap();
    let plain = open_with(PASSWORD, SERIAL, &body, dir.path()).unwrap();

    let configs = dir.path().join("agent.configs");
    std::fs::create_dir_all(&configs).unwrap();
    let target = configs.join("backup-2026-04-03_05:06:07");
    std::fs::write(&target, b"an older configuration of that name").unwrap();
    let restored = restore(
        &client,
        restore_job(
            dir.path(),
            &[(1, "Older-Pass-1"), (GENERATION, PASSWORD)],
            taken_at(),
        ),
    )
    .await
    .unwrap();
    assert_eq!(restored.path, target);
    assert_eq!(std::fs::read(&target).unwrap(), plain, "overwritten");
    assert_eq!(restored.size, plain.len() as u64);
    assert_eq!(
        restored.info(),
        format!(
            "backup {} restored as backup-2026-04-03_05:06:07 (50000 bytes)",
            restored.backup_id
        )
    );
    assert_eq!(seen.lock().unwrap().download_bodies, vec![b"{}".to_vec()]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&target).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "readable by the appliance only");
    }
    assert!(leftovers(dir.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_that_cannot_be_trusted_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (seen, client) = server().await;
    // Three chunks of 64 KiB, so a flipped byte in the last one is "corrupted".
    backup(&client, backup_job(dir.path(), 150_000))
        .await
        .unwrap();
    let body = seen.lock().unwrap().object.clone().unwrap();
    let configs = dir.path().join("agent.configs");
    let job = |at| restore_job(dir.path(), &[(GENERATION, PASSWORD)], at);
    let nothing_written = || std::fs::read_dir(&configs).map(|d| d.count()).unwrap_or(0) == 0;

    // The console announces another size than storage serves: refused.
    seen.lock().unwrap().announce_size = Some(body.len() as u64 + 1);
    let err = restore(&client, job(taken_at())).await.unwrap_err();
    assert!(
        matches!(err, CloudBackupError::SizeMismatch { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("but the console announced"),
        "{err}"
    );
    assert!(nothing_written());
    seen.lock().unwrap().announce_size = None;

    // Storage serves more or fewer bytes than announced.
    let mut longer = body.clone();
    longer.extend_from_slice(b"trailing");
    for served in [longer, body[..body.len() - 1].to_vec()] {
        seen.lock().unwrap().announce_size = Some(body.len() as u64);
        seen.lock().unwrap().serve_instead = Some(served);
        let err = restore(&client, job(taken_at())).await.unwrap_err();
        assert!(
            matches!(err, CloudBackupError::SizeMismatch { .. }),
            "{err}"
        );
        assert!(nothing_written());
    }

    // One flipped byte: the envelope's code, and nothing written.
    let mut flipped = body.clone();
    let last = flipped.len() - 5;
    flipped[last] ^= 1;
    seen.lock().unwrap().serve_instead = Some(flipped);
    let err = restore(&client, job(taken_at())).await.unwrap_err();
    assert_eq!(err.envelope_code(), Some("corrupted"), "{err}");
    assert!(err.to_string().starts_with("corrupted: "), "{err}");
    assert!(nothing_written());
    seen.lock().unwrap().serve_instead = None;

    // A wrong password under the right generation.
    let wrong = restore_job(dir.path(), &[(GENERATION, "Wrong-Horse-9")], taken_at());
    let err = restore(&client, wrong).await.unwrap_err();
    assert_eq!(
        err.envelope_code(),
        Some("wrong_password_or_serial"),
        "{err}"
    );
    assert!(!err.to_string().contains("Wrong-Horse-9"));
    assert!(nothing_written());

    // No password of the backup's generation on this appliance.
    let err = restore(
        &client,
        restore_job(dir.path(), &[(1, PASSWORD)], taken_at()),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("no password of generation {GENERATION} on this appliance")
    );
    assert!(nothing_written());
    assert!(leftovers(dir.path()).is_empty());

    // And then it works.
    restore(&client, job(taken_at())).await.unwrap();
    assert!(!nothing_written());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_refusals_are_reported_with_their_code() {
    let dir = tempfile::tempdir().unwrap();
    let (_seen, client) = server().await;
    // Nothing uploaded: the console knows no such backup.
    let err = restore(
        &client,
        restore_job(dir.path(), &[(GENERATION, PASSWORD)], taken_at()),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, CloudBackupError::Console { .. }), "{err}");
    assert!(err.to_string().contains("not_found"), "{err}");

    // A client with another key: the device API refuses the grant, nothing is sent.
    let mut stranger = DeviceClient::new(
        reqwest::Client::new(),
        &_seen.lock().unwrap().base.clone(),
        SigningKey::from_bytes(&[1; 32]),
    );
    stranger.set_appliance(appliance().as_str());
    let err = backup(&stranger, backup_job(dir.path(), 1_000))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("bad_signature"), "{err}");
    assert!(_seen.lock().unwrap().object.is_none());
    assert!(leftovers(dir.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_failures_are_reported_without_the_presigned_url() {
    let dir = tempfile::tempdir().unwrap();
    let (seen, client) = server().await;
    seen.lock().unwrap().put_status = Some(StatusCode::FORBIDDEN);
    let err = backup(&client, backup_job(dir.path(), 1_000))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CloudBackupError::Storage { status: 403, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("AccessDenied"), "{err}");
    assert!(leftovers(dir.path()).is_empty());

    // Storage unreachable: the error names the step, not the signed URL.
    seen.lock().unwrap().upload_url =
        Some("http://127.0.0.1:9/objects/x?signature=secret-signature".into());
    let err = backup(&client, backup_job(dir.path(), 1_000))
        .await
        .unwrap_err();
    assert!(matches!(err, CloudBackupError::Transport { .. }), "{err}");
    let shown = format!("{err} {err:?} {:?}", std::error::Error::source(&err));
    assert!(!shown.contains("secret-signature"), "{shown}");
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn the_configuration_is_padded_deterministically_to_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let value = serde_json::json!({"hostname": "utm-a", "applications": {"ips": "UP"}});
    let a = dir.path().join("a.json");
    let b = dir.path().join("b.json");
    assert_eq!(
        write_configuration(&a, &value, 300_000, 7).unwrap(),
        300_000
    );
    write_configuration(&b, &value, 300_000, 7).unwrap();
    let bytes = std::fs::read(&a).unwrap();
    assert_eq!(bytes.len(), 300_000);
    assert_eq!(bytes, std::fs::read(&b).unwrap(), "deterministic");
    let parsed: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(parsed["hostname"], "utm-a");
    // Smaller than the JSON itself: just the JSON.
    let n = write_configuration(&a, &value, 10, 7).unwrap();
    assert_eq!(
        std::fs::read(&a).unwrap(),
        serde_json::to_vec(&value).unwrap()
    );
    assert_eq!(n, std::fs::metadata(&a).unwrap().len());
    assert!(write_configuration(&a, &serde_json::json!({}), 100, 7).is_err());
}

#[test]
fn leftovers_of_a_crash_are_removed_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let mine = dir.path().join(format!("{}xyz", temp_prefix("agent")));
    let other = dir.path().join(format!("{}xyz", temp_prefix("agent2")));
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::write(mine.join("configuration.json"), b"{}").unwrap();
    std::fs::create_dir_all(&other).unwrap();
    remove_leftovers(dir.path(), &temp_prefix("agent"));
    assert!(!mine.exists());
    assert!(other.exists(), "another appliance's is left alone");
}

#[test]
fn passwords_do_not_show_in_debug() {
    let p = passwords(&[(1, PASSWORD), (2, "Second-Pass-2")]);
    let shown = format!("{p:?}");
    assert_eq!(shown, "Passwords([1, 2])");
    let job = backup_job(Path::new("."), 1);
    assert!(!format!("{job:?}").contains(PASSWORD));
}

/// The agent's own loop: a reply with a backup and a restore starts both beside the
/// check-ins; each result is recorded through the executor and reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_runs_backups_and_restores_and_reports_them() {
    use crate::options::AgentOptions;
    use crate::run::{Agent, AgentConfig};
    use crate::state::StateFile;
    use base64::Engine;
    use rampart_identity::pin::Pin;

    let dir = tempfile::tempdir().unwrap();
    let (seen, _) = server().await;
    let base = seen.lock().unwrap().base.clone();
    // An enrolled appliance (the fake console knows its key).
    let file = StateFile::new(dir.path().join("agent.json"));
    let mut st = AgentState::fresh(Serial::parse(SERIAL).unwrap(), 0);
    st.appliance_id = Some(appliance());
    file.save(&st).unwrap();
    let public = st.signing_key().unwrap().verifying_key().to_bytes();
    seen.lock().unwrap().public = Some(public);
    seen.lock().unwrap().announce_generation = 1;

    let options = AgentOptions::default()
        .with_pin(Pin::parse("135790").unwrap())
        .with_backup_password(BackupPassword::parse(PASSWORD.into()).unwrap())
        .with_backup_settings(settings(40_000))
        .with_utc_offset_minutes(60)
        .unwrap();
    let config = AgentConfig {
        server: base,
        serial: Serial::parse(SERIAL).unwrap(),
        license_secret: "unused".into(),
        state_file: file.clone(),
        firmware: rampart_domain::firmware::FirmwareVersion::parse("14.1.0").unwrap(),
    };
    let mut agent = Agent::open_with(config, options, reqwest::Client::new()).unwrap();
    let report = agent.appliance.report(0);
    assert_eq!(report.utc_offset_minutes, Some(60));
    assert_eq!(report.backup_password_generation, 1);

    let reply = |commands| CheckinResponse {
        commands,
        poll_interval_secs: 60,
        server_time_ms: 0,
        configuration: None,
    };
    let backup_cmd = PendingCommand {
        command_id: JobId::new(1_772_600_000_000, [9, 9, 9, 1]),
        operation: Operation::Backup,
        sealed_pin: None,
        sealed_password: None,
        cancel: false,
    };
    let round = agent
        .handle(&reply(vec![backup_cmd.clone()]))
        .await
        .unwrap();
    assert_eq!(round.executed.io_work.len(), 1);
    // Delivered again while it runs: not started twice.
    let again = agent
        .handle(&reply(vec![backup_cmd.clone()]))
        .await
        .unwrap();
    assert!(again.executed.io_work.is_empty());
    let settled = agent.settle_io().await.unwrap();
    assert_eq!(settled.delivered, 1);
    assert_eq!(agent.io_in_flight(), 0);
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.results.len(), 1);
        let (id, r) = &seen.results[0];
        assert_eq!(id, backup_cmd.command_id.as_str());
        assert_eq!(r.result, ResultKind::Succeeded, "{r:?}");
        let size = seen.object.as_ref().unwrap().len();
        assert_eq!(
            r.info.as_deref(),
            Some(format!("backup bk_1772600767000deadbeef uploaded ({size} bytes)").as_str())
        );
        assert_eq!(
            seen.upload_request.as_ref().unwrap().command_id,
            Some(backup_cmd.command_id.clone())
        );
    }
    let on_disk = file.load().unwrap().unwrap();
    assert!(on_disk.commands[&backup_cmd.command_id].reported);

    // The restore, with the PIN sealed for it.
    let restore_id = JobId::new(1_772_600_000_001, [9, 9, 9, 2]);
    let sealed_pin = rampart_identity::device_seal::seal_to_device(
        &public,
        b"135790",
        &pin_seal_context(&appliance(), &restore_id),
    )
    .unwrap();
    let restore_cmd = PendingCommand {
        command_id: restore_id.clone(),
        operation: Operation::RestoreBackup {
            backup: BackupId::new(1_772_600_767_000, [0xde, 0xad, 0xbe, 0xef]),
            taken_at: taken_at(),
        },
        sealed_pin: Some(base64::engine::general_purpose::STANDARD.encode(sealed_pin)),
        sealed_password: None,
        cancel: false,
    };
    agent.handle(&reply(vec![restore_cmd])).await.unwrap();
    agent.settle_io().await.unwrap();
    let seen = seen.lock().unwrap();
    let (id, r) = &seen.results[1];
    assert_eq!(id, restore_id.as_str());
    assert_eq!(r.result, ResultKind::Succeeded, "{r:?}");
    let restored = file.configs_dir().join("backup-2026-04-03_05:06:07");
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&restored).unwrap()).unwrap();
    assert_eq!(config["hostname"], "utm-a1b2c3d4");
    assert_eq!(config["utc_offset_minutes"], 60);
    assert_eq!(std::fs::metadata(&restored).unwrap().len(), 40_000);
    assert!(leftovers(dir.path()).is_empty());
}

/// What a backup costs at SPEC 6.2's default KDF (64 MiB, 3 passes, 4 lanes), one
/// alone and six at once (the demo fleet): `cargo test -p rampart-agent --lib
/// cloud_backup::tests::cost_at_default_kdf -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn cost_at_default_kdf() {
    let dir = tempfile::tempdir().unwrap();
    let (_seen, client) = server().await;
    let job = || BackupJob {
        settings: BackupSettings::default(),
        ..backup_job(dir.path(), 0)
    };
    let started = std::time::Instant::now();
    backup(&client, job()).await.unwrap();
    let one = started.elapsed();
    let started = std::time::Instant::now();
    let all: Vec<_> = (0..6)
        .map(|_| {
            let client = client.clone();
            let job = job();
            tokio::spawn(async move { backup(&client, job).await })
        })
        .collect();
    for t in all {
        t.await.unwrap().unwrap();
    }
    let six = started.elapsed();
    let peak = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(str::to_owned)
        })
        .unwrap_or_default();
    println!(
        "one backup (256 KiB, default KDF): {one:?}; six at once: {six:?} ({} KDF slots); peak RSS {peak}",
        kdf_slots().available_permits()
    );
}
