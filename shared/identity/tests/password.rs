//! Argon2id password hashing and the password policy.

use rampart_identity::password::{
    check_password_policy, dummy_verify, hash_password, verify_password,
};

const GOOD: &str = "correct Horse battery 9";

#[test]
fn round_trip() {
    let phc = hash_password(GOOD).unwrap();
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    assert!(!phc.contains(GOOD));
    assert!(verify_password(&phc, GOOD));
}

#[test]
fn wrong_password_is_refused() {
    let phc = hash_password(GOOD).unwrap();
    assert!(!verify_password(&phc, "correct Horse battery 8"));
    assert!(!verify_password(&phc, ""));
}

#[test]
fn salts_differ() {
    assert_ne!(hash_password(GOOD).unwrap(), hash_password(GOOD).unwrap());
}

#[test]
fn malformed_hashes_are_refused_without_panicking() {
    let phc = hash_password(GOOD).unwrap();
    let malformed = [
        String::new(),
        "not a hash".to_owned(),
        "$argon2id$".to_owned(),
        "$argon2id$v=19$m=19456,t=2,p=1$".to_owned(),
        phc[..phc.len() - 5].to_owned(),
        phc.replace("$argon2id$", "$argon2i$"),
        phc.replace("$argon2id$", "$bcrypt$"),
        phc.replace("m=19456", "m=99999999"),
        phc.replace("t=2", "t=4000000000"),
        phc.replace("p=1", "p=0"),
        format!("{phc}$extra"),
        "$argon2id$v=19$m=19456,t=2,p=1$!!!!$????".to_owned(),
    ];
    for bad in &malformed {
        assert!(!verify_password(bad, GOOD), "{bad:?}");
    }
}

#[test]
fn dummy_verify_runs() {
    dummy_verify();
}

#[test]
fn policy_accepts_good_passwords() {
    for ok in [
        GOOD,
        "Abcdefghijk1",     // upper, lower, digit
        "abcdefghijk1!",    // lower, digit, other
        "ABCDEFGHIJK!a",    // upper, other, lower
        "Ünïcödé-pässwörd", // non-ASCII letters count
        &"aB3".repeat(85),  // 255 characters
    ] {
        assert_eq!(check_password_policy(ok), Ok(()), "{ok:?}");
    }
}

#[test]
fn policy_names_the_failed_rule() {
    let cases = [
        ("", "at least 12 characters"),
        ("Ab1!Ab1!Ab1", "at least 12 characters"),
        (&"aB3!".repeat(65), "at most 256 characters"),
        ("abcdefghijklmn", "at least 3 of"),
        ("abcdefghijkl12", "at least 3 of"),
        ("ABCDEFGHIJKL!!", "at least 3 of"),
        ("123456789012!!", "at least 3 of"),
    ];
    for (password, rule) in cases {
        let err = check_password_policy(password).unwrap_err();
        assert_eq!(err.field, "password");
        assert!(err.reason.contains(rule), "{password:?}: {}", err.reason);
        assert!(password.is_empty() || !err.to_string().contains(password));
    }
}

#[test]
fn policy_counts_characters_not_bytes() {
    // 12 two-byte characters pass the length rule; 6 of them (12 bytes) do not.
    assert!(check_password_policy("ÄäÖöÜü123456").is_ok());
    assert!(
        check_password_policy("ÄäÖöÜü")
            .unwrap_err()
            .reason
            .contains("at least 12")
    );
}
