//! What the console checks without the password: `Header::parse` and
//! `Header::validate_for_ingest`, including hostile field values; and that `open` refuses
//! the same headers before running the KDF.

mod support;

use rampart_envelope::{
    ChunkSize, EnvelopeError, HEADER_LEN, Header, KdfParams, MAGIC, sealed_len,
};
use support::*;

/// A real small backup to start from: 2 chunks of 1 KiB, the last partial.
fn backup() -> (Header, Vec<u8>) {
    seal_vec(&password(), SERIAL, options(CHUNK), &sample(1500))
}

fn with_u32(bytes: &[u8], at: usize, value: u32) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[at..at + 4].copy_from_slice(&value.to_be_bytes());
    out
}

fn parse_code(bytes: &[u8]) -> &'static str {
    match Header::parse(bytes) {
        Ok(_) => "parsed",
        Err(e) => e.code(),
    }
}

#[test]
fn a_real_backup_passes_ingest_and_exposes_its_fields() {
    let (header, sealed) = backup();
    let parsed = Header::parse(&sealed).unwrap();
    assert_eq!(parsed, header);
    assert_eq!(parsed.format_version(), 1);
    assert_eq!(parsed.password_generation(), 3);
    assert_eq!(parsed.plaintext_len(), 1500);
    assert_eq!(parsed.chunk_size().get(), 1024);
    assert_eq!(parsed.chunk_count(), 2);
    assert_eq!(parsed.kdf(), fast_kdf());
    assert_eq!(parsed.sealed_len(), sealed.len() as u64);
    parsed
        .validate_for_ingest(sealed.len() as u64, 1500)
        .unwrap();
    // Only the header is needed.
    assert_eq!(Header::parse(&sealed[..HEADER_LEN]).unwrap(), header);
}

#[test]
fn object_size_must_match_exactly() {
    let (header, sealed) = backup();
    let size = sealed.len() as u64;
    for wrong in [
        0,
        size - 1,
        size + 1,
        size + 16,
        HEADER_LEN as u64,
        u64::MAX,
    ] {
        let err = header.validate_for_ingest(wrong, u64::MAX).unwrap_err();
        assert!(
            matches!(err, EnvelopeError::SizeMismatch { expected, actual } if expected == size && actual == wrong),
            "{wrong}: {err}"
        );
    }
}

#[test]
fn plaintext_above_the_console_limit_is_too_large() {
    let (header, sealed) = backup();
    let err = header
        .validate_for_ingest(sealed.len() as u64, 1499)
        .unwrap_err();
    assert_eq!(err.code(), "too_large");
}

#[test]
fn huge_plaintext_length_against_a_small_object_is_refused() {
    let (_, sealed) = backup();
    let mut bytes = sealed[..HEADER_LEN].to_vec();
    // Within the chunk counter's reach (1 KiB × 2^32 = 4 TiB) but absurd for the object.
    bytes[32..40].copy_from_slice(&(1u64 << 40).to_be_bytes());
    let header = Header::parse(&bytes).unwrap();
    assert_eq!(header.sealed_len(), sealed_len(1 << 40, 1024));
    assert_eq!(
        header
            .validate_for_ingest(sealed.len() as u64, u64::MAX)
            .unwrap_err()
            .code(),
        "size_mismatch"
    );
    assert_eq!(
        header
            .validate_for_ingest(sealed.len() as u64, 10 << 20)
            .unwrap_err()
            .code(),
        "too_large"
    );
    // Beyond the chunk counter: refused by parse itself.
    bytes[32..40].copy_from_slice(&u64::MAX.to_be_bytes());
    assert_eq!(parse_code(&bytes), "too_large");
}

#[test]
fn magic_version_and_kdf_id_are_checked() {
    let (_, sealed) = backup();
    let h = &sealed[..HEADER_LEN];
    let mut bad = h.to_vec();
    bad[0] = b'P';
    assert_eq!(parse_code(&bad), "not_a_backup");
    assert_eq!(
        parse_code(b"PK\x03\x04 a zip file, not a backup at all......................."),
        "not_a_backup"
    );
    assert_eq!(parse_code(&MAGIC), "header_truncated");
    for version in [0u16, 2, 0x0100, u16::MAX] {
        let mut bad = h.to_vec();
        bad[8..10].copy_from_slice(&version.to_be_bytes());
        assert!(
            matches!(Header::parse(&bad), Err(EnvelopeError::UnsupportedVersion(v)) if v == version),
            "{version}"
        );
    }
    for (id, version) in [(0u8, 0x13u8), (2, 0x13), (1, 0x10), (1, 0x14), (0xFF, 0xFF)] {
        let mut bad = h.to_vec();
        bad[10] = id;
        bad[11] = version;
        assert_eq!(parse_code(&bad), "unsupported_kdf", "{id}/{version}");
    }
}

#[test]
fn kdf_parameters_beyond_bounds_are_refused() {
    let (_, sealed) = backup();
    let h = &sealed[..HEADER_LEN];
    let cases = [
        (12, 0, "memory_kib"),
        (12, KdfParams::MIN_MEMORY_KIB - 1, "memory_kib"),
        (12, KdfParams::MAX_MEMORY_KIB + 1, "memory_kib"),
        (12, u32::MAX, "memory_kib"),
        (16, 0, "iterations"),
        (16, KdfParams::MAX_ITERATIONS + 1, "iterations"),
        (16, u32::MAX, "iterations"),
        (20, 0, "parallelism"),
        (20, KdfParams::MAX_PARALLELISM + 1, "parallelism"),
        (20, u32::MAX, "parallelism"),
    ];
    for (at, value, field) in cases {
        let bad = with_u32(h, at, value);
        match Header::parse(&bad) {
            Err(EnvelopeError::KdfOutOfBounds { name, value: v, .. }) => {
                assert_eq!((name, v), (field, value));
            }
            other => panic!("{field}={value}: {other:?}"),
        }
    }
    // The bounds themselves are accepted.
    for (at, value) in [
        (12, KdfParams::MIN_MEMORY_KIB),
        (12, KdfParams::MAX_MEMORY_KIB),
        (16, KdfParams::MAX_ITERATIONS),
        (20, KdfParams::MAX_PARALLELISM),
    ] {
        assert_eq!(parse_code(&with_u32(h, at, value)), "parsed");
    }
}

#[test]
fn chunk_size_beyond_bounds_is_refused() {
    let (_, sealed) = backup();
    let h = &sealed[..HEADER_LEN];
    for value in [0, 1, ChunkSize::MIN - 1, ChunkSize::MAX + 1, u32::MAX] {
        assert!(
            matches!(
                Header::parse(&with_u32(h, 24, value)),
                Err(EnvelopeError::ChunkSizeOutOfBounds { value: v, .. }) if v == value
            ),
            "{value}"
        );
    }
}

#[test]
fn open_refuses_bad_headers_before_the_kdf() {
    // m = 1 GiB would be in bounds; m = 4 GiB - 1 is not and must be refused without
    // allocating anything.
    let (_, sealed) = backup();
    let started = std::time::Instant::now();
    for (at, value, want) in [
        (12, u32::MAX, "kdf_out_of_bounds"),
        (16, 1_000_000, "kdf_out_of_bounds"),
        (24, u32::MAX, "chunk_size_out_of_bounds"),
    ] {
        let err = open_vec(&password(), SERIAL, &with_u32(&sealed, at, value)).unwrap_err();
        assert_eq!(err.code(), want);
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
}
