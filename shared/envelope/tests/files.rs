//! `seal_file` and `open_file` are all-or-nothing: on any failure the destination is
//! left as it was (absent, or its old content), and no temporary file is left behind.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use rampart_envelope::{HEADER_LEN, Password, open_file, seal_file};
use support::*;

struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }
}

fn sealed_file(scratch: &Scratch, plaintext: &[u8]) -> PathBuf {
    let (input, backup) = (scratch.path("config.xml"), scratch.path("backup.rbk"));
    fs::write(&input, plaintext).unwrap();
    let header = seal_file(&password(), SERIAL, options(CHUNK), &input, &backup).unwrap();
    assert_eq!(header.plaintext_len(), plaintext.len() as u64);
    fs::remove_file(&input).unwrap();
    backup
}

#[test]
fn seal_file_then_open_file_round_trips_with_owner_only_plaintext() {
    let scratch = Scratch::new();
    let plaintext = sample(3 * CHUNK + 1);
    let backup = sealed_file(&scratch, &plaintext);
    assert_eq!(
        fs::metadata(&backup).unwrap().len(),
        rampart_envelope::sealed_len(plaintext.len() as u64, CHUNK as u32)
    );
    let restored = scratch.path("restored.xml");
    let header = open_file(&password(), SERIAL, &backup, &restored).unwrap();
    assert_eq!(header.password_generation(), 3);
    assert_eq!(fs::read(&restored).unwrap(), plaintext);
    assert_eq!(scratch.names(), ["backup.rbk", "restored.xml"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&restored).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}

#[test]
fn open_file_replaces_an_existing_output_only_on_success() {
    let scratch = Scratch::new();
    let backup = sealed_file(&scratch, b"new configuration");
    let restored = scratch.path("restored.xml");
    fs::write(&restored, b"old configuration").unwrap();
    assert!(open_file(&Password::from("wrong"), SERIAL, &backup, &restored).is_err());
    assert_eq!(fs::read(&restored).unwrap(), b"old configuration");
    open_file(&password(), SERIAL, &backup, &restored).unwrap();
    assert_eq!(fs::read(&restored).unwrap(), b"new configuration");
}

/// Every way to fail, applied to a good backup's bytes.
fn failures(good: &[u8]) -> Vec<(&'static str, Vec<u8>, &'static str, &'static str)> {
    let mut flipped_late = good.to_vec();
    let n = flipped_late.len();
    flipped_late[n - 3] ^= 1;
    let mut flipped_first = good.to_vec();
    flipped_first[HEADER_LEN + 2] ^= 1;
    let mut trailing = good.to_vec();
    trailing.push(0);
    vec![
        ("wrong password", good.to_vec(), "Wrong-Horse-7!", SERIAL),
        ("wrong serial", good.to_vec(), PASSWORD, "RMP-2024-999999"),
        ("flipped late byte", flipped_late, PASSWORD, SERIAL),
        ("flipped first chunk", flipped_first, PASSWORD, SERIAL),
        (
            "truncated mid chunk",
            good[..n - 5].to_vec(),
            PASSWORD,
            SERIAL,
        ),
        (
            "truncated at boundary",
            good[..HEADER_LEN + CHUNK + 16].to_vec(),
            PASSWORD,
            SERIAL,
        ),
        ("truncated header", good[..20].to_vec(), PASSWORD, SERIAL),
        ("trailing data", trailing, PASSWORD, SERIAL),
        ("not a backup", b"<config/>".to_vec(), PASSWORD, SERIAL),
        ("empty file", Vec::new(), PASSWORD, SERIAL),
    ]
}

#[test]
fn no_output_file_on_any_failure() {
    let scratch = Scratch::new();
    let plaintext = sample(2 * CHUNK + 300);
    let backup = sealed_file(&scratch, &plaintext);
    let good = fs::read(&backup).unwrap();
    let bad = scratch.path("bad.rbk");
    for (what, bytes, password, serial) in failures(&good) {
        fs::write(&bad, &bytes).unwrap();
        let restored = scratch.path("restored.xml");
        let err = open_file(&Password::from(password), serial, &bad, &restored).unwrap_err();
        assert!(!restored.exists(), "{what}: output written ({err})");
        assert_eq!(
            scratch.names(),
            ["backup.rbk", "bad.rbk"],
            "{what}: leftovers"
        );
    }
    // A missing input is an I/O error and writes nothing either.
    let err = open_file(
        &password(),
        SERIAL,
        &scratch.path("missing"),
        &scratch.path("out"),
    )
    .unwrap_err();
    assert_eq!(err.code(), "io");
    assert_eq!(scratch.names(), ["backup.rbk", "bad.rbk"]);
}

#[test]
fn seal_file_failures_leave_no_output() {
    let scratch = Scratch::new();
    let out = scratch.path("backup.rbk");
    let err = seal_file(
        &password(),
        SERIAL,
        options(CHUNK),
        &scratch.path("missing"),
        &out,
    )
    .unwrap_err();
    assert_eq!(err.code(), "io");
    assert!(!out.exists());
    let input = scratch.path("config.xml");
    fs::write(&input, b"x").unwrap();
    let err = seal_file(
        &password(),
        SERIAL,
        options(CHUNK),
        &input,
        Path::new("/nonexistent-dir-rampart/backup.rbk"),
    )
    .unwrap_err();
    assert_eq!(err.code(), "io");
    assert_eq!(scratch.names(), ["config.xml"]);
}

#[test]
fn relative_output_path_in_the_current_directory_works() {
    // A bare file name has an empty parent: the temporary file goes to ".".
    let scratch = Scratch::new();
    let backup = sealed_file(&scratch, b"cwd");
    let previous = std::env::current_dir().unwrap();
    std::env::set_current_dir(scratch.dir.path()).unwrap();
    let result = open_file(&password(), SERIAL, &backup, Path::new("here.xml"));
    std::env::set_current_dir(previous).unwrap();
    result.unwrap();
    assert_eq!(fs::read(scratch.path("here.xml")).unwrap(), b"cwd");
}
