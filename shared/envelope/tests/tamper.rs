//! Every way a backup can be wrong is refused, with the right error: wrong password or
//! serial, any flipped byte, truncation, reordering, splicing, trailing data.

mod support;

use rampart_envelope::{EnvelopeError, HEADER_LEN, Header, Password, TAG_LEN, open, open_with_key};
use support::*;

/// Where chunk `i` starts in a file with full chunks of `CHUNK` bytes before it.
fn chunk_at(i: usize) -> usize {
    HEADER_LEN + i * (CHUNK + TAG_LEN)
}

fn chunk(sealed: &[u8], i: usize) -> &[u8] {
    &sealed[chunk_at(i)..(chunk_at(i + 1)).min(sealed.len())]
}

fn code(result: Result<Vec<u8>, EnvelopeError>) -> &'static str {
    match result {
        Ok(_) => "opened",
        Err(e) => e.code(),
    }
}

#[test]
fn wrong_password_is_refused() {
    let (_, sealed) = seal_vec(&password(), SERIAL, options(CHUNK), &sample(3000));
    for wrong in [
        "Correct-Horse-7",
        "correct-Horse-7!",
        "Correct-Horse-7! ",
        "",
    ] {
        let err = open_vec(&Password::from(wrong), SERIAL, &sealed).unwrap_err();
        assert!(
            matches!(err, EnvelopeError::WrongPasswordOrSerial),
            "{wrong:?}: {err}"
        );
        assert_eq!(err.code(), "wrong_password_or_serial");
    }
}

#[test]
fn wrong_serial_is_refused() {
    let (_, sealed) = seal_vec(&password(), SERIAL, options(CHUNK), &sample(3000));
    for wrong in [
        "RMP-2024-000124",
        "rmp-2024-000123",
        "RMP-2024-000123 ",
        "",
        "RMP-2024-00012",
    ] {
        let err = open_vec(&password(), wrong, &sealed).unwrap_err();
        assert_eq!(err.code(), "wrong_password_or_serial", "{wrong:?}");
    }
    // The error says nothing secret.
    let err = open_vec(&Password::from("Sup3r-Secret!"), "X", &sealed).unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(
        !shown.contains("Sup3r") && !shown.contains(PASSWORD),
        "{shown}"
    );
}

#[test]
fn every_flipped_byte_is_detected() {
    // Three chunks, the last one partial.
    let plaintext = sample(2 * CHUNK + 100);
    let password = password();
    let (_, sealed) = seal_vec(&password, SERIAL, options(CHUNK), &plaintext);
    let key = key_for(&password, SERIAL, &sealed);
    let mut header_codes = std::collections::BTreeSet::new();
    for at in 0..sealed.len() {
        for mask in [0x01u8, 0x80] {
            let mut tampered = sealed.clone();
            tampered[at] ^= mask;
            if at < HEADER_LEN {
                // A header change changes the key (or breaks the header): the full path
                // with the password must refuse it.
                let result = open_vec(&password, SERIAL, &tampered);
                assert!(result.is_err(), "header byte {at} ^ {mask:#x} opened");
                header_codes.insert(code(result));
            } else {
                // The header is intact, so the key is the one `open` would derive.
                let mut out = Vec::new();
                let err = open_with_key(&key, &tampered[..], &mut out).unwrap_err();
                let chunk_index = ((at - HEADER_LEN) / (CHUNK + TAG_LEN)) as u64;
                if chunk_index == 0 {
                    assert!(
                        matches!(err, EnvelopeError::WrongPasswordOrSerial),
                        "{at}: {err}"
                    );
                    assert!(out.is_empty(), "chunk 0 plaintext released");
                } else {
                    assert!(
                        matches!(err, EnvelopeError::Corrupted { chunk } if chunk == chunk_index),
                        "{at}: {err}"
                    );
                    // Only the chunks before the bad one came out, and they are genuine.
                    assert_eq!(out, plaintext[..chunk_index as usize * CHUNK]);
                }
            }
        }
    }
    // Header flips fail for the reasons expected of each field, never silently.
    let expected = [
        "not_a_backup",
        "unsupported_version",
        "unsupported_kdf",
        "kdf_out_of_bounds",
        "chunk_size_out_of_bounds",
        "too_large",
        "wrong_password_or_serial",
        "truncated",
        "trailing_data",
    ];
    for code in &header_codes {
        assert!(expected.contains(code), "unexpected {code}");
    }
    for code in [
        "not_a_backup",
        "unsupported_version",
        "wrong_password_or_serial",
    ] {
        assert!(header_codes.contains(code), "{header_codes:?}");
    }
}

#[test]
fn truncation_is_detected_at_every_kind_of_point() {
    let plaintext = sample(3 * CHUNK + 100);
    let (_, sealed) = seal_vec(&password(), SERIAL, options(CHUNK), &plaintext);
    let cases: [(usize, &str, Option<u64>); 10] = [
        (0, "header_truncated", None),
        (7, "header_truncated", None),
        (HEADER_LEN - 1, "header_truncated", None),
        (HEADER_LEN, "truncated", Some(0)),
        (HEADER_LEN + 1, "truncated", Some(0)),
        (chunk_at(1) - 1, "truncated", Some(0)),
        (chunk_at(1), "truncated", Some(1)),
        (chunk_at(3), "truncated", Some(3)),
        (chunk_at(3) + 50, "truncated", Some(3)),
        (sealed.len() - 1, "truncated", Some(3)),
    ];
    for (len, want, want_chunk) in cases {
        let err = open_vec(&password(), SERIAL, &sealed[..len]).unwrap_err();
        assert_eq!(err.code(), want, "cut at {len}");
        if let Some(c) = want_chunk {
            assert!(
                matches!(err, EnvelopeError::Truncated { chunk } if chunk == c),
                "{len}: {err}"
            );
        }
    }
}

#[test]
fn dropping_the_last_chunk_cannot_pass_for_a_shorter_backup() {
    // Four full chunks: dropping the last leaves a file that is a whole number of chunks.
    let plaintext = sample(4 * CHUNK);
    let (header, sealed) = seal_vec(&password(), SERIAL, options(CHUNK), &plaintext);
    let dropped = &sealed[..chunk_at(3)];
    assert_eq!(
        open_vec(&password(), SERIAL, dropped).unwrap_err().code(),
        "truncated"
    );
    // Rewrite the header's length so the shorter file is self-consistent: the header
    // is in the key, so the first chunk no longer opens (and chunk 2 was not sealed as
    // last, which the nonce flag would catch even with the old key).
    let mut forged = dropped.to_vec();
    forged[32..40].copy_from_slice(&(3 * CHUNK as u64).to_be_bytes());
    let forged_header = Header::parse(&forged).unwrap();
    forged_header
        .validate_for_ingest(forged.len() as u64, u64::MAX)
        .unwrap();
    assert_ne!(forged_header, header);
    assert_eq!(
        open_vec(&password(), SERIAL, &forged).unwrap_err().code(),
        "wrong_password_or_serial"
    );
}

#[test]
fn reordered_chunks_are_detected() {
    let plaintext = sample(4 * CHUNK);
    let password = password();
    let (_, sealed) = seal_vec(&password, SERIAL, options(CHUNK), &plaintext);
    let key = key_for(&password, SERIAL, &sealed);
    for (a, b, first_bad) in [(1, 2, 1u64), (0, 1, 0), (2, 3, 2), (0, 3, 0)] {
        let mut swapped = sealed.clone();
        let (ca, cb) = (chunk(&sealed, a).to_vec(), chunk(&sealed, b).to_vec());
        swapped[chunk_at(a)..chunk_at(a + 1)].copy_from_slice(&cb);
        swapped[chunk_at(b)..chunk_at(b + 1)].copy_from_slice(&ca);
        let err = open_with_key(&key, &swapped[..], std::io::sink()).unwrap_err();
        if first_bad == 0 {
            assert_eq!(err.code(), "wrong_password_or_serial");
        } else {
            assert!(
                matches!(err, EnvelopeError::Corrupted { chunk } if chunk == first_bad),
                "{err}"
            );
        }
    }
    // A chunk repeated in place of the next one fails too.
    let mut repeated = sealed.clone();
    let c1 = chunk(&sealed, 1).to_vec();
    repeated[chunk_at(2)..chunk_at(3)].copy_from_slice(&c1);
    assert!(matches!(
        open_with_key(&key, &repeated[..], std::io::sink()),
        Err(EnvelopeError::Corrupted { chunk: 2 })
    ));
}

#[test]
fn chunks_spliced_from_another_backup_are_detected() {
    // Same password, serial, options and length: only the random salt and nonce prefix
    // differ, and with them the key.
    let password = password();
    let (_, a) = seal_vec(&password, SERIAL, options(CHUNK), &sample(3 * CHUNK));
    let (_, b) = seal_vec(&password, SERIAL, options(CHUNK), &sample(3 * CHUNK));
    assert_ne!(a[..HEADER_LEN], b[..HEADER_LEN]);
    let key_a = key_for(&password, SERIAL, &a);

    let mut spliced = a.clone();
    spliced[chunk_at(1)..chunk_at(2)].copy_from_slice(chunk(&b, 1));
    assert!(matches!(
        open_with_key(&key_a, &spliced[..], std::io::sink()),
        Err(EnvelopeError::Corrupted { chunk: 1 })
    ));

    let mut last_spliced = a.clone();
    last_spliced[chunk_at(2)..].copy_from_slice(chunk(&b, 2));
    assert!(matches!(
        open_with_key(&key_a, &last_spliced[..], std::io::sink()),
        Err(EnvelopeError::Corrupted { chunk: 2 })
    ));

    // B's header on A's chunks.
    let mut rehead = a.clone();
    rehead[..HEADER_LEN].copy_from_slice(&b[..HEADER_LEN]);
    assert_eq!(
        open_vec(&password, SERIAL, &rehead).unwrap_err().code(),
        "wrong_password_or_serial"
    );
    // And A's key does not open B at all.
    assert_eq!(
        open_with_key(&key_a, &b[..], std::io::sink())
            .unwrap_err()
            .code(),
        "wrong_password_or_serial"
    );
}

#[test]
fn trailing_data_is_refused_before_the_last_chunk_is_released() {
    let plaintext = sample(2 * CHUNK + 10);
    let (_, sealed) = seal_vec(&password(), SERIAL, options(CHUNK), &plaintext);
    let last = chunk(&sealed, 2).to_vec();
    for extra in [vec![0u8], b"more".to_vec(), last] {
        let mut longer = sealed.clone();
        longer.extend_from_slice(&extra);
        let mut out = Vec::new();
        let err = open(&password(), SERIAL, &longer[..], &mut out).unwrap_err();
        assert!(matches!(err, EnvelopeError::TrailingData), "{err}");
        assert_eq!(out, plaintext[..2 * CHUNK], "last chunk released");
    }
}

#[test]
fn header_of_an_empty_backup_cannot_be_grafted() {
    // An empty backup's single chunk is only a tag; it still fails under any other header.
    let (_, empty) = seal_vec(&password(), SERIAL, options(CHUNK), b"");
    let (_, other) = seal_vec(&password(), SERIAL, options(CHUNK), b"");
    let mut grafted = other[..HEADER_LEN].to_vec();
    grafted.extend_from_slice(&empty[HEADER_LEN..]);
    assert_eq!(
        open_vec(&password(), SERIAL, &grafted).unwrap_err().code(),
        "wrong_password_or_serial"
    );
}
