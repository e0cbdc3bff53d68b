//! Every test vector of RFC 6238 Appendix B: 8 digits, SHA-1, SHA-256 and SHA-512 with
//! their 20-, 32- and 64-byte ASCII seeds.

use rampart_identity::totp::{Algorithm, code_at_digits};

const SEED_SHA1: &[u8] = b"12345678901234567890";
const SEED_SHA256: &[u8] = b"12345678901234567890123456789012";
const SEED_SHA512: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

/// (time, SHA-1, SHA-256, SHA-512) as printed in the RFC.
const VECTORS: &[(i64, &str, &str, &str)] = &[
    (59, "94287082", "46119246", "90693936"),
    (1_111_111_109, "07081804", "68084774", "25091201"),
    (1_111_111_111, "14050471", "67062674", "99943326"),
    (1_234_567_890, "89005924", "91819424", "93441116"),
    (2_000_000_000, "69279037", "90698825", "38618901"),
    (20_000_000_000, "65353130", "77737706", "47863826"),
];

#[test]
fn appendix_b_sha1() {
    for &(time, sha1, _, _) in VECTORS {
        assert_eq!(
            code_at_digits(SEED_SHA1, time, 8, Algorithm::Sha1),
            sha1,
            "T = {time}"
        );
    }
}

#[test]
fn appendix_b_sha256() {
    for &(time, _, sha256, _) in VECTORS {
        assert_eq!(
            code_at_digits(SEED_SHA256, time, 8, Algorithm::Sha256),
            sha256,
            "T = {time}"
        );
    }
}

#[test]
fn appendix_b_sha512() {
    for &(time, _, _, sha512) in VECTORS {
        assert_eq!(
            code_at_digits(SEED_SHA512, time, 8, Algorithm::Sha512),
            sha512,
            "T = {time}"
        );
    }
}

#[test]
fn six_digit_codes_are_the_last_six_digits() {
    // Truncation to 6 digits is the 8-digit value mod 10^6 (RFC 4226 §5.3).
    let secret = rampart_identity::TotpSecret::from_bytes(SEED_SHA1).unwrap();
    for &(time, sha1, _, _) in VECTORS {
        assert_eq!(
            rampart_identity::code_at(&secret, time),
            sha1[2..],
            "T = {time}"
        );
    }
}
