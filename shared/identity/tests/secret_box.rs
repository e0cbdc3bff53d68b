//! Sealing secrets at rest with AES-256-GCM, bound to their owner.

use rampart_identity::secret_box::{OVERHEAD, SecretBoxError, SecretKey, VERSION, open, seal};

const SECRET: &[u8] = b"twenty byte secret!!";
const OWNER: &[u8] = b"user#123456.sms#alice";

#[test]
fn round_trip() {
    let key = SecretKey::generate();
    let sealed = seal(&key, SECRET, OWNER);
    assert_eq!(sealed.len(), SECRET.len() + OVERHEAD);
    assert_eq!(sealed[0], VERSION);
    assert!(!sealed.windows(SECRET.len()).any(|w| w == SECRET));
    assert_eq!(open(&key, &sealed, OWNER).unwrap(), SECRET);
}

#[test]
fn empty_plaintext_round_trips() {
    let key = SecretKey::generate();
    assert_eq!(open(&key, &seal(&key, b"", b""), b"").unwrap(), b"");
}

#[test]
fn nonces_are_fresh() {
    let key = SecretKey::generate();
    assert_ne!(seal(&key, SECRET, OWNER), seal(&key, SECRET, OWNER));
}

#[test]
fn wrong_key_is_rejected() {
    let sealed = seal(&SecretKey::generate(), SECRET, OWNER);
    assert_eq!(
        open(&SecretKey::generate(), &sealed, OWNER),
        Err(SecretBoxError::Rejected)
    );
}

#[test]
fn another_owner_is_rejected() {
    let key = SecretKey::generate();
    let sealed = seal(&key, SECRET, OWNER);
    for other in [&b"user#123456.sms#bob"[..], b"", b"user#123456.sms#alic"] {
        assert_eq!(open(&key, &sealed, other), Err(SecretBoxError::Rejected));
    }
}

#[test]
fn any_flipped_byte_is_rejected() {
    let key = SecretKey::from_bytes([7; 32]);
    let sealed = seal(&key, SECRET, OWNER);
    for i in 0..sealed.len() {
        for bit in [0x01, 0x80] {
            let mut tampered = sealed.clone();
            tampered[i] ^= bit;
            assert!(
                open(&key, &tampered, OWNER).is_err(),
                "byte {i} bit {bit:#x}"
            );
        }
    }
}

#[test]
fn changed_version_is_reported() {
    let key = SecretKey::generate();
    let mut sealed = seal(&key, SECRET, OWNER);
    sealed[0] = 2;
    assert_eq!(
        open(&key, &sealed, OWNER),
        Err(SecretBoxError::UnknownVersion(2))
    );
}

#[test]
fn truncated_is_rejected() {
    let key = SecretKey::generate();
    let sealed = seal(&key, SECRET, OWNER);
    for len in 0..sealed.len() {
        let expected = if len < OVERHEAD {
            SecretBoxError::Truncated
        } else {
            SecretBoxError::Rejected
        };
        assert_eq!(
            open(&key, &sealed[..len], OWNER),
            Err(expected),
            "length {len}"
        );
    }
    let mut extended = sealed.clone();
    extended.push(0);
    assert_eq!(open(&key, &extended, OWNER), Err(SecretBoxError::Rejected));
}

#[test]
fn errors_do_not_show_the_key() {
    let key = SecretKey::from_bytes([0x5A; 32]);
    let err = open(&key, &[1; 40], OWNER).unwrap_err();
    let text = format!("{err} {err:?} {key:?}");
    assert!(!text.to_lowercase().contains("5a5a"), "{text}");
}
