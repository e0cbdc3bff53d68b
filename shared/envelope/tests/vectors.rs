//! The published test vectors (tests/vectors/backup-v1.json, documented in
//! docs/backup-format.md) are reproduced byte for byte, intermediate values included,
//! and open.
//!
//! To regenerate after a deliberate format change (a new format version, never an edit
//! of version 1):
//! `RAMPART_WRITE_VECTORS=1 cargo test -p rampart-envelope --test vectors -- --ignored`

mod support;

use std::path::PathBuf;

use rampart_envelope::{
    ChunkSize, Header, KdfParams, Password, SealOptions, open,
    seal_with_fixed_randomness_for_vectors,
};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct VectorFile {
    description: String,
    vectors: Vec<Vector>,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    algorithm: String,
    version: u8,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
}

#[derive(Serialize, Deserialize)]
struct Vector {
    name: String,
    description: String,
    // Inputs.
    password: String,
    serial: String,
    password_generation: u32,
    kdf: Kdf,
    chunk_size: u32,
    salt_hex: String,
    nonce_prefix_hex: String,
    plaintext_hex: String,
    // Intermediate values and output.
    header_hex: String,
    argon2_output_hex: String,
    hkdf_info_hex: String,
    payload_key_hex: String,
    chunk_nonces_hex: Vec<String>,
    sealed_hex: String,
}

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/backup-v1.json")
}

/// Seals `v`'s inputs and fills in its outputs.
fn compute(v: &Vector) -> Vector {
    let options = SealOptions {
        kdf: KdfParams::new(v.kdf.memory_kib, v.kdf.iterations, v.kdf.parallelism).unwrap(),
        chunk_size: ChunkSize::new(v.chunk_size).unwrap(),
        password_generation: v.password_generation,
    };
    let out = seal_with_fixed_randomness_for_vectors(
        &Password::from(v.password.as_str()),
        &v.serial,
        options,
        hex::decode(&v.salt_hex).unwrap().try_into().unwrap(),
        hex::decode(&v.nonce_prefix_hex)
            .unwrap()
            .try_into()
            .unwrap(),
        &hex::decode(&v.plaintext_hex).unwrap(),
    )
    .unwrap();
    let mut info = rampart_envelope::CONTEXT.to_vec();
    info.extend_from_slice(&out.header.to_bytes());
    info.extend_from_slice(v.serial.as_bytes());
    Vector {
        name: v.name.clone(),
        description: v.description.clone(),
        password: v.password.clone(),
        serial: v.serial.clone(),
        password_generation: v.password_generation,
        kdf: Kdf {
            algorithm: v.kdf.algorithm.clone(),
            version: v.kdf.version,
            memory_kib: v.kdf.memory_kib,
            iterations: v.kdf.iterations,
            parallelism: v.kdf.parallelism,
        },
        chunk_size: v.chunk_size,
        salt_hex: v.salt_hex.clone(),
        nonce_prefix_hex: v.nonce_prefix_hex.clone(),
        plaintext_hex: v.plaintext_hex.clone(),
        header_hex: hex::encode(out.header.to_bytes()),
        argon2_output_hex: hex::encode(out.argon2_output),
        hkdf_info_hex: hex::encode(info),
        payload_key_hex: hex::encode(out.payload_key),
        chunk_nonces_hex: out.nonces.iter().map(hex::encode).collect(),
        sealed_hex: hex::encode(out.sealed),
    }
}

fn load() -> VectorFile {
    let text = std::fs::read_to_string(path()).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn vectors_are_reproduced_byte_for_byte() {
    let file = load();
    let names: Vec<&str> = file.vectors.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["empty", "short", "exact-chunk", "multi-chunk"]);
    for v in &file.vectors {
        let got = compute(v);
        assert_eq!(got.header_hex, v.header_hex, "{}: header", v.name);
        assert_eq!(
            got.argon2_output_hex, v.argon2_output_hex,
            "{}: argon2",
            v.name
        );
        assert_eq!(got.hkdf_info_hex, v.hkdf_info_hex, "{}: hkdf info", v.name);
        assert_eq!(got.payload_key_hex, v.payload_key_hex, "{}: key", v.name);
        assert_eq!(
            got.chunk_nonces_hex, v.chunk_nonces_hex,
            "{}: nonces",
            v.name
        );
        assert_eq!(got.sealed_hex, v.sealed_hex, "{}: sealed", v.name);
    }
}

#[test]
fn vectors_open_and_pass_ingest() {
    for v in &load().vectors {
        let sealed = hex::decode(&v.sealed_hex).unwrap();
        let header = Header::parse(&sealed).unwrap();
        header
            .validate_for_ingest(sealed.len() as u64, u64::MAX)
            .unwrap();
        assert_eq!(header.password_generation(), v.password_generation);
        let mut plaintext = Vec::new();
        let opened = open(
            &Password::from(v.password.as_str()),
            &v.serial,
            &sealed[..],
            &mut plaintext,
        )
        .unwrap();
        assert_eq!(opened, header);
        assert_eq!(hex::encode(plaintext), v.plaintext_hex, "{}", v.name);
    }
}

#[test]
fn vectors_cover_the_chunk_cases() {
    let file = load();
    let chunks = |name: &str| {
        let v = file.vectors.iter().find(|v| v.name == name).unwrap();
        let len = v.plaintext_hex.len() as u32 / 2;
        (len, v.chunk_size, v.chunk_nonces_hex.len())
    };
    assert_eq!(chunks("empty"), (0, 1024, 1));
    let (len, size, n) = chunks("short");
    assert!(len > 0 && len < size && n == 1);
    assert_eq!(chunks("exact-chunk"), (1024, 1024, 1));
    let (len, size, n) = chunks("multi-chunk");
    assert!(n >= 3 && len % size != 0);
}

fn spec(
    name: &str,
    description: &str,
    password: &str,
    generation: u32,
    (m, t, p): (u32, u32, u32),
    seed: u8,
    plaintext: &[u8],
) -> Vector {
    // Recognisable fixed randomness: salt seed, seed+1, ...; prefix 0xA0+seed, ...
    let salt: [u8; 16] = std::array::from_fn(|i| seed + i as u8);
    let prefix: [u8; 7] = std::array::from_fn(|i| 0xA0 + seed + i as u8);
    Vector {
        name: name.into(),
        description: description.into(),
        password: password.into(),
        serial: support::SERIAL.into(),
        password_generation: generation,
        kdf: Kdf {
            algorithm: "argon2id".into(),
            version: 0x13,
            memory_kib: m,
            iterations: t,
            parallelism: p,
        },
        chunk_size: 1024,
        salt_hex: hex::encode(salt),
        nonce_prefix_hex: hex::encode(prefix),
        plaintext_hex: hex::encode(plaintext),
        header_hex: String::new(),
        argon2_output_hex: String::new(),
        hkdf_info_hex: String::new(),
        payload_key_hex: String::new(),
        chunk_nonces_hex: Vec::new(),
        sealed_hex: String::new(),
    }
}

#[test]
#[ignore = "writes tests/vectors/backup-v1.json; run only for a deliberate format change"]
fn write_vectors() {
    if std::env::var_os("RAMPART_WRITE_VECTORS").is_none() {
        eprintln!(
            "set RAMPART_WRITE_VECTORS=1 to rewrite {}",
            path().display()
        );
        return;
    }
    let specs = [
        spec(
            "empty",
            "empty plaintext: one empty last chunk (the tag alone)",
            support::PASSWORD,
            1,
            (8192, 1, 1),
            0x00,
            b"",
        ),
        spec(
            "short",
            "less than one chunk: one partial last chunk",
            support::PASSWORD,
            2,
            (8192, 1, 1),
            0x10,
            b"<config appliance=\"RMP-2024-000123\">\n  <hostname>fw-edge-01</hostname>\n</config>\n",
        ),
        spec(
            "exact-chunk",
            "exactly one chunk: one full last chunk, no empty chunk after it",
            support::PASSWORD,
            3,
            (8192, 1, 1),
            0x20,
            &support::sample(1024),
        ),
        spec(
            "multi-chunk",
            "three chunks, the last partial; non-ASCII password (UTF-8 bytes); t = 2, p = 2",
            "Pässwörd-Ünïcødé-9",
            7,
            (8192, 2, 2),
            0x30,
            &support::sample(2 * 1024 + 333),
        ),
    ];
    let file = VectorFile {
        description:
            "Rampart backup format v1 test vectors (docs/backup-format.md). Hex is lower case; \
                      strings are UTF-8. Inputs: password .. plaintext_hex; the rest is derived."
                .into(),
        vectors: specs.iter().map(compute).collect(),
    };
    let text = serde_json::to_string_pretty(&file).unwrap() + "\n";
    std::fs::write(path(), text).unwrap();
}
