//! Sealing to an appliance's Ed25519 identity: round trips, refusals, tampering, the
//! Ed25519 → X25519 conversion, and an interop vector made by an independent
//! implementation.

use curve25519_dalek::constants::EIGHT_TORSION;
use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::traits::IsIdentity;
use ed25519_dalek::SigningKey;
use rampart_identity::device_seal::{
    DOMAIN_TAG, OVERHEAD, SealError, VERSION, open_on_device, seal_to_device,
    x25519_public_from_ed25519, x25519_secret_from_ed25519_seed,
};
use sha2::{Digest, Sha512};

const CONTEXT: &[u8] = b"pin:cmd_01HXAMPLE";

fn seed(n: u8) -> [u8; 32] {
    let mut s = [0u8; 32];
    for (i, b) in s.iter_mut().enumerate() {
        *b = n.wrapping_mul(31).wrapping_add(i as u8);
    }
    s
}

fn public(seed: &[u8; 32]) -> [u8; 32] {
    SigningKey::from_bytes(seed).verifying_key().to_bytes()
}

fn unhex<const N: usize>(s: &str) -> [u8; N] {
    hex::decode(s).unwrap().try_into().unwrap()
}

#[test]
fn round_trip_for_many_sizes_and_keys() {
    for n in 0..8u8 {
        let sk = seed(n);
        for len in [0usize, 1, 6, 15, 16, 17, 64, 1000] {
            let plaintext: Vec<u8> = (0..len).map(|i| i as u8 ^ n).collect();
            let sealed = seal_to_device(&public(&sk), &plaintext, CONTEXT).unwrap();
            assert_eq!(sealed.len(), OVERHEAD + len);
            assert_eq!(sealed[0], VERSION);
            assert_eq!(open_on_device(&sk, &sealed, CONTEXT).unwrap(), plaintext);
        }
    }
}

#[test]
fn empty_context_is_a_context_of_its_own() {
    let sk = seed(1);
    let sealed = seal_to_device(&public(&sk), b"123456", b"").unwrap();
    assert_eq!(open_on_device(&sk, &sealed, b"").unwrap(), b"123456");
    assert_eq!(
        open_on_device(&sk, &sealed, b"pin:"),
        Err(SealError::Rejected)
    );
}

#[test]
fn another_device_cannot_open() {
    let sealed = seal_to_device(&public(&seed(1)), b"123456", CONTEXT).unwrap();
    for n in 2..10 {
        assert_eq!(
            open_on_device(&seed(n), &sealed, CONTEXT),
            Err(SealError::Rejected)
        );
    }
}

#[test]
fn another_context_cannot_open() {
    let sk = seed(3);
    let sealed = seal_to_device(&public(&sk), b"123456", b"pin:cmd_A").unwrap();
    for other in [
        &b"pin:cmd_B"[..],
        b"pin:cmd_",
        b"pin:cmd_AA",
        b"PIN:cmd_A",
        b"",
        b"backup-password:cmd_A",
    ] {
        assert_eq!(
            open_on_device(&sk, &sealed, other),
            Err(SealError::Rejected),
            "context {:?}",
            String::from_utf8_lossy(other)
        );
    }
    assert_eq!(
        open_on_device(&sk, &sealed, b"pin:cmd_A").unwrap(),
        b"123456"
    );
}

#[test]
fn every_flipped_bit_fails() {
    let sk = seed(4);
    let sealed = seal_to_device(&public(&sk), b"123456", CONTEXT).unwrap();
    for i in 0..sealed.len() {
        for mask in [0x01u8, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff] {
            let mut bad = sealed.clone();
            bad[i] ^= mask;
            let err = open_on_device(&sk, &bad, CONTEXT).unwrap_err();
            if i == 0 {
                assert_eq!(err, SealError::UnknownVersion(VERSION ^ mask));
            } else {
                // Includes bit 255 of the ephemeral key, which X25519 itself ignores: the
                // ephemeral key's bytes are in the HKDF salt, so the key changes anyway.
                assert_eq!(err, SealError::Rejected, "byte {i} mask {mask:#04x}");
            }
        }
    }
}

#[test]
fn every_truncation_and_extension_fails() {
    let sk = seed(5);
    let sealed = seal_to_device(&public(&sk), b"123456", CONTEXT).unwrap();
    for len in 0..sealed.len() {
        let err = open_on_device(&sk, &sealed[..len], CONTEXT).unwrap_err();
        if len < OVERHEAD {
            assert_eq!(err, SealError::Truncated, "length {len}");
        } else {
            assert_eq!(err, SealError::Rejected, "length {len}");
        }
    }
    // Dropping bytes from the front is no better.
    for start in 1..sealed.len() {
        assert!(open_on_device(&sk, &sealed[start..], CONTEXT).is_err());
    }
    let mut longer = sealed.clone();
    longer.push(0);
    assert_eq!(
        open_on_device(&sk, &longer, CONTEXT),
        Err(SealError::Rejected)
    );
}

#[test]
fn two_seals_of_the_same_pin_differ() {
    let sk = seed(6);
    let a = seal_to_device(&public(&sk), b"123456", CONTEXT).unwrap();
    let b = seal_to_device(&public(&sk), b"123456", CONTEXT).unwrap();
    assert_ne!(a, b);
    assert_ne!(a[1..33], b[1..33], "fresh ephemeral key per seal");
    assert_eq!(open_on_device(&sk, &a, CONTEXT).unwrap(), b"123456");
    assert_eq!(open_on_device(&sk, &b, CONTEXT).unwrap(), b"123456");
}

#[test]
fn low_order_ephemeral_keys_are_rejected() {
    let sk = seed(7);
    let sealed = seal_to_device(&public(&sk), b"123456", CONTEXT).unwrap();
    for t in EIGHT_TORSION.iter() {
        let mut bad = sealed.clone();
        bad[1..33].copy_from_slice(t.to_montgomery().as_bytes());
        assert_eq!(open_on_device(&sk, &bad, CONTEXT), Err(SealError::Rejected));
    }
}

/// Cross-check of the Ed25519 → X25519 conversion, computed two ways in Rust: the public
/// key's birational map (`x25519_public_from_ed25519`, which the sealer uses) against
/// X25519(clamp(SHA-512(seed)[0..32]), 9), with SHA-512 from the `sha2` crate rather than
/// ed25519-dalek's.
#[test]
fn ed25519_to_x25519_conversion_matches_the_seed_derived_scalar() {
    for n in 0..32u8 {
        let sk = seed(n);
        let digest = Sha512::digest(sk);
        let lower: [u8; 32] = digest[..32].try_into().unwrap();
        assert_eq!(*x25519_secret_from_ed25519_seed(&sk), lower);
        let from_seed = MontgomeryPoint::mul_base_clamped(lower).to_bytes();
        let from_public = x25519_public_from_ed25519(&public(&sk)).unwrap();
        assert_eq!(from_seed, from_public, "seed {n}");
    }
}

/// The same conversion against an independent implementation: these vectors were made
/// with Python's `cryptography` (OpenSSL) — Ed25519 public key from the seed, X25519
/// public key from `SHA-512(seed)[0..32]` (OpenSSL clamps) — and checked there against
/// u = (1 + y) / (1 - y) mod 2^255 - 19 computed with Python integers. The first two
/// seeds are RFC 8032 §7.1 tests 1 and 2.
const CONVERSION_VECTORS: &[(&str, &str, &str)] = &[
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "d85e07ec22b0ad881537c2f44d662d1a143cf830c57aca4305d85c7a90f6b62e",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "25c704c594b88afc00a76b69d1ed2b984d7e22550f3ed0802d04fbcd07d38d47",
    ),
    (
        "0000000000000000000000000000000000000000000000000000000000000000",
        "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29",
        "5bf55c73b82ebe22be80f3430667af570fae2556a6415e6b30d4065300aa947d",
    ),
    (
        "0707070707070707070707070707070707070707070707070707070707070707",
        "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c",
        "761d88ec830413919dfe9d4d1d56f17e653c8c994082df5b137b90a0ae6edf74",
    ),
    (
        "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "76a1592044a6e4f511265bca73a604d90b0529d1df602be30a19a9257660d1f5",
        "d1fa3f01826bd8b78e057c086c7b22c7ad4358ca918099cd7b7e5d3acd7e285b",
    ),
];

#[test]
fn conversion_matches_independent_vectors() {
    for (seed_hex, ed_hex, x_hex) in CONVERSION_VECTORS {
        let sk: [u8; 32] = unhex(seed_hex);
        let ed: [u8; 32] = unhex(ed_hex);
        let x: [u8; 32] = unhex(x_hex);
        assert_eq!(public(&sk), ed);
        assert_eq!(x25519_public_from_ed25519(&ed).unwrap(), x);
        let scalar = *x25519_secret_from_ed25519_seed(&sk);
        assert_eq!(MontgomeryPoint::mul_base_clamped(scalar).to_bytes(), x);
    }
}

/// A whole sealed box made by an independent implementation (Python `cryptography`:
/// X25519, HKDF-SHA256, AES-256-GCM) from the documented construction, with the fixed
/// ephemeral secret 0x40..=0x5f, for the RFC 8032 test-1 seed, plaintext "123456" and
/// context "pin:cmd_01HXAMPLE". Intermediate values, for anyone reimplementing it:
/// E = 79a631ee…85a51a (below), Z = b79c7f7d…70e88b7f, K = 39231b4c…89473560.
const INTEROP_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const INTEROP_SEALED: &str = "01\
    79a631eede1bf9c98f12032cdeadd0e7a079398fc786b88cc846ec89af85a51a\
    df7d5268acb9\
    0f80071662337f57288864f98b8664ab";

#[test]
fn opens_a_box_sealed_by_an_independent_implementation() {
    let sk: [u8; 32] = unhex(INTEROP_SEED);
    let sealed = hex::decode(INTEROP_SEALED).unwrap();
    assert_eq!(open_on_device(&sk, &sealed, CONTEXT).unwrap(), b"123456");
    assert_eq!(
        open_on_device(&sk, &sealed, b"pin:cmd_01HXAMPLF"),
        Err(SealError::Rejected)
    );
    assert_eq!(DOMAIN_TAG, b"rampart-device-seal-v1");
}

#[test]
fn invalid_public_keys_are_refused() {
    // Small-order points (the identity among them) in every encoding of the 8-torsion.
    for t in EIGHT_TORSION.iter() {
        let bytes = t.compress().to_bytes();
        assert_eq!(
            seal_to_device(&bytes, b"123456", CONTEXT),
            Err(SealError::InvalidPublicKey)
        );
        assert_eq!(
            x25519_public_from_ed25519(&bytes),
            Err(SealError::InvalidPublicKey)
        );
    }
    // A real key plus a torsion component: not small order, but not a key anyone holds.
    let honest = SigningKey::from_bytes(&seed(9))
        .verifying_key()
        .to_edwards();
    for t in EIGHT_TORSION.iter().filter(|t| !t.is_identity()) {
        let mixed = (honest + t).compress().to_bytes();
        assert_eq!(
            seal_to_device(&mixed, b"123456", CONTEXT),
            Err(SealError::InvalidPublicKey)
        );
    }
    // Points not on the curve.
    let mut off_curve = 0;
    for y in 2..=255u8 {
        let mut bytes = [0u8; 32];
        bytes[0] = y;
        if ed25519_dalek::VerifyingKey::from_bytes(&bytes).is_err() {
            off_curve += 1;
            assert_eq!(
                seal_to_device(&bytes, b"123456", CONTEXT),
                Err(SealError::InvalidPublicKey)
            );
        }
    }
    assert!(off_curve > 0);
    // Non-canonical encodings: y + p for small y (p = 2^255 - 19), which decompress to
    // the same point as y but are not its encoding.
    let mut decodable_large_order = 0;
    for y in 0..19u8 {
        let mut bytes = [0xffu8; 32];
        bytes[0] = 0xed + y; // p's low byte is 0xed; no carry for y < 19
        bytes[31] = 0x7f;
        if ed25519_dalek::VerifyingKey::from_bytes(&bytes).is_ok_and(|k| !k.is_weak()) {
            // Only the canonical-encoding check refuses these.
            decodable_large_order += 1;
        }
        assert_eq!(
            seal_to_device(&bytes, b"123456", CONTEXT),
            Err(SealError::InvalidPublicKey),
            "y = {y} + p"
        );
    }
    assert!(decodable_large_order > 0);
    // The all-zero and all-0xff strings.
    for bytes in [[0u8; 32], [0xff; 32]] {
        assert_eq!(
            seal_to_device(&bytes, b"123456", CONTEXT),
            Err(SealError::InvalidPublicKey)
        );
    }
}

#[test]
fn errors_reveal_nothing() {
    let sk = seed(10);
    let sealed = seal_to_device(&public(&sk), b"987654", CONTEXT).unwrap();
    let err = open_on_device(&seed(11), &sealed, CONTEXT).unwrap_err();
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("987654"));
        assert!(!text.contains("cmd_01HXAMPLE"));
        assert!(!text.contains(&hex::encode(&sealed[1..9])));
    }
    assert_eq!(open_on_device(&sk, &[], CONTEXT), Err(SealError::Truncated));
    assert_eq!(
        open_on_device(&sk, &[2; 60], CONTEXT),
        Err(SealError::UnknownVersion(2))
    );
}
