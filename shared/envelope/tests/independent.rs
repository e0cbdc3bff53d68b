//! An independent implementation, `tests/independent/open_backup.py` (Python, written
//! from docs/backup-format.md with `cryptography` and `argon2-cffi`), opens the test
//! vectors and a freshly sealed random multi-chunk backup, and refuses a tampered one.
//! It runs under the project's pinned venv, `infra/emulator/.venv`
//! (`infra/emulator/venv` creates it); without the venv this test fails, it never skips.

mod support;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rampart_envelope::{ChunkSize, KdfParams, Password, SealOptions, seal_file};
use serde_json::Value;
use support::*;

fn workspace() -> PathBuf {
    // Resolved, not lexical: Python finds its venv from the path it is started by.
    fs::canonicalize(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .expect("the workspace root exists")
}

fn python() -> PathBuf {
    let python = workspace().join("infra/emulator/.venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `infra/emulator/venv` to create the pinned venv \
         (infra/emulator/requirements.txt, which pins argon2-cffi and cryptography)",
        python.display()
    );
    python
}

/// Runs the Python decrypter; returns the decrypted bytes, or its error message.
fn python_open(password: &str, serial: &str, input: &Path) -> Result<Vec<u8>, String> {
    let output = input.with_extension("py-out");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/independent/open_backup.py");
    let mut child = Command::new(python())
        .arg(script)
        .arg("--serial")
        .arg(serial)
        .arg(input)
        .arg(&output)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the venv's python");
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let done = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr).into_owned();
    if done.status.success() {
        let plaintext = fs::read(&output).unwrap();
        fs::remove_file(&output).unwrap();
        Ok(plaintext)
    } else {
        assert!(
            !output.exists(),
            "python left an output after failing: {stderr}"
        );
        Err(stderr)
    }
}

#[test]
fn python_opens_every_test_vector() {
    let dir = tempfile::tempdir().unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/backup-v1.json");
    let file: Value = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    let vectors = file["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 4);
    for v in vectors {
        let name = v["name"].as_str().unwrap();
        let input = dir.path().join(format!("{name}.rbk"));
        fs::write(
            &input,
            hex::decode(v["sealed_hex"].as_str().unwrap()).unwrap(),
        )
        .unwrap();
        let plaintext = python_open(
            v["password"].as_str().unwrap(),
            v["serial"].as_str().unwrap(),
            &input,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            hex::encode(plaintext),
            v["plaintext_hex"].as_str().unwrap(),
            "{name}"
        );
    }
}

#[test]
fn python_opens_a_fresh_random_multi_chunk_backup_and_refuses_tampering() {
    let dir = tempfile::tempdir().unwrap();
    // Random content and a length that is no multiple of the chunk size; four Argon2
    // lanes and two passes, as the defaults use several of each.
    let mut plaintext = vec![0u8; 9 * 4096 + 1234];
    getrandom::fill(&mut plaintext).unwrap();
    let (input, backup) = (dir.path().join("config.bin"), dir.path().join("backup.rbk"));
    fs::write(&input, &plaintext).unwrap();
    let password = "Ünïcødé-Pass-2024!";
    let options = SealOptions {
        kdf: KdfParams::new(KdfParams::MIN_MEMORY_KIB, 2, 4).unwrap(),
        chunk_size: ChunkSize::new(4096).unwrap(),
        password_generation: 5,
    };
    let header = seal_file(&Password::from(password), SERIAL, options, &input, &backup).unwrap();
    assert_eq!(header.chunk_count(), 10);

    assert_eq!(python_open(password, SERIAL, &backup).unwrap(), plaintext);

    // The Python side authenticates too: wrong serial, wrong password, a flipped byte
    // in the last chunk, and truncation at a chunk boundary all fail there as well.
    let err = python_open(password, "RMP-2024-000124", &backup).unwrap_err();
    assert!(err.contains("wrong_password_or_serial"), "{err}");
    let err = python_open("wrong", SERIAL, &backup).unwrap_err();
    assert!(err.contains("wrong_password_or_serial"), "{err}");
    let good = fs::read(&backup).unwrap();
    let tampered = dir.path().join("tampered.rbk");
    let mut bytes = good.clone();
    let n = bytes.len();
    bytes[n - 20] ^= 0x40;
    fs::write(&tampered, &bytes).unwrap();
    let err = python_open(password, SERIAL, &tampered).unwrap_err();
    assert!(err.contains("corrupted"), "{err}");
    fs::write(&tampered, &good[..good.len() - (1234 + 16)]).unwrap();
    let err = python_open(password, SERIAL, &tampered).unwrap_err();
    assert!(err.contains("truncated"), "{err}");
}
