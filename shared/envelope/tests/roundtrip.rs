//! Whatever is sealed opens to the same bytes, at every length around chunk boundaries.

mod support;

use std::time::Instant;

use proptest::prelude::*;
use rampart_envelope::{
    DerivedKey, HEADER_LEN, Header, Password, open_with_key, seal_with_key, sealed_len,
};
use support::*;

#[test]
fn lengths_around_chunk_boundaries_round_trip() {
    let started = Instant::now();
    let password = password();
    for len in [
        0,
        1,
        CHUNK - 1,
        CHUNK,
        CHUNK + 1,
        2 * CHUNK - 1,
        2 * CHUNK,
        2 * CHUNK + 1,
        5 * CHUNK + 17,
    ] {
        let plaintext = sample(len);
        let (header, sealed) = seal_vec(&password, SERIAL, options(CHUNK), &plaintext);
        assert_eq!(
            sealed.len() as u64,
            sealed_len(len as u64, CHUNK as u32),
            "{len}"
        );
        assert_eq!(header.plaintext_len(), len as u64);
        assert_eq!(header.password_generation(), 3);
        header
            .validate_for_ingest(sealed.len() as u64, u64::MAX)
            .unwrap();
        assert_eq!(
            open_vec(&password, SERIAL, &sealed).unwrap(),
            plaintext,
            "{len}"
        );
    }
    eprintln!("9 seal+open pairs took {:?}", started.elapsed());
}

#[test]
fn empty_plaintext_is_one_empty_last_chunk() {
    let (header, sealed) = seal_vec(&password(), SERIAL, options(CHUNK), b"");
    assert_eq!(header.chunk_count(), 1);
    assert_eq!(sealed.len(), HEADER_LEN + 16);
    assert!(open_vec(&password(), SERIAL, &sealed).unwrap().is_empty());
}

#[test]
fn default_options_round_trip() {
    // The real default parameters (64 MiB, t = 3, p = 4) once, end to end.
    let options = rampart_envelope::SealOptions::new(1);
    let plaintext = sample(200_000);
    let (header, sealed) = seal_vec(&password(), SERIAL, options, &plaintext);
    assert_eq!(header.kdf(), rampart_envelope::KdfParams::default());
    assert_eq!(header.chunk_size().get(), 64 * 1024);
    assert_eq!(header.chunk_count(), 4);
    assert_eq!(open_vec(&password(), SERIAL, &sealed).unwrap(), plaintext);
}

#[test]
fn unicode_password_and_serial_round_trip() {
    let password = Password::from("Pässwörd-ñ-日本-9");
    let (_, sealed) = seal_vec(&password, "SN-äöü", options(CHUNK), b"config");
    assert_eq!(open_vec(&password, "SN-äöü", &sealed).unwrap(), b"config");
}

#[test]
fn with_key_round_trip() {
    let plaintext = sample(3 * CHUNK + 5);
    let header = Header::new(
        fast_kdf(),
        options(CHUNK).chunk_size,
        9,
        plaintext.len() as u64,
    )
    .unwrap();
    let key = DerivedKey::derive(&password(), SERIAL, &header).unwrap();
    let mut sealed = Vec::new();
    seal_with_key(&key, &plaintext[..], &mut sealed).unwrap();
    // The same bytes open with the password too: the key path is the password path.
    assert_eq!(open_vec(&password(), SERIAL, &sealed).unwrap(), plaintext);
    let mut opened = Vec::new();
    assert_eq!(
        open_with_key(&key, &sealed[..], &mut opened).unwrap(),
        header
    );
    assert_eq!(opened, plaintext);
}

#[test]
fn seal_refuses_input_of_another_length() {
    let password = password();
    for (announced, actual) in [
        (10u64, 9usize),
        (10, 11),
        (0, 1),
        (2 * CHUNK as u64, 2 * CHUNK + 1),
    ] {
        let mut sink = Vec::new();
        let err = rampart_envelope::seal(
            &password,
            SERIAL,
            options(CHUNK),
            announced,
            &sample(actual)[..],
            &mut sink,
        )
        .unwrap_err();
        assert_eq!(
            err.code(),
            "input_length_mismatch",
            "{announced} vs {actual}"
        );
    }
}

proptest! {
    // Each case runs Argon2 (at the minimum cost) twice, hence few cases.
    #![proptest_config(ProptestConfig {
        cases: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_length_round_trips(
        len in prop_oneof![
            0usize..=4 * CHUNK + 2,
            (0usize..=4).prop_flat_map(|k| (k * CHUNK).saturating_sub(1)..=k * CHUNK + 1),
        ],
        chunk in prop_oneof![Just(1024usize), 1024usize..=3000],
        seed in any::<u8>(),
    ) {
        let plaintext: Vec<u8> = sample(len).iter().map(|b| b ^ seed).collect();
        let (header, sealed) = seal_vec(&password(), SERIAL, options(chunk), &plaintext);
        prop_assert_eq!(sealed.len() as u64, header.sealed_len());
        prop_assert_eq!(open_vec(&password(), SERIAL, &sealed).unwrap(), plaintext);
    }
}
