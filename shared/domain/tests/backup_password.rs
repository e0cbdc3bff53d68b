//! The backup password rule (SPEC 6.1): refusals say which rule failed, with a stable
//! code, and never repeat the password.

use proptest::prelude::*;
use rampart_domain::backup::{BackupPassword, CharClass, PasswordRefusal};
use rampart_domain::validation::Invalid;

/// `Ok(())` or the refusal's (code, message).
type Want = Result<(), (&'static str, &'static str)>;

fn table() -> Vec<(String, Want)> {
    let few = "password_too_few_classes";
    vec![
        ("Abcdef1!".into(), Ok(())),
        ("Passwort1".into(), Ok(())),
        ("passwort1!".into(), Ok(())),
        ("PASSWORT1!".into(), Ok(())),
        ("Passwort!".into(), Ok(())),
        ("Correct horse battery 9".into(), Ok(())),
        // Unicode letters count by their case; length is in characters, not bytes.
        ("ÄÖÜäöüß1".into(), Ok(())),
        ("ΑΒΓδεζ12".into(), Ok(())),
        ("🔥🔥🔥🔥abc1".into(), Ok(())),
        ("A".repeat(64) + &"b".repeat(63) + "1", Ok(())),
        (
            "abc12!".into(),
            Err(("password_too_short", "at least 8 characters (got 6)")),
        ),
        (
            "äöüäöü1".into(),
            Err(("password_too_short", "at least 8 characters (got 7)")),
        ),
        (
            String::new(),
            Err(("password_too_short", "at least 8 characters (got 0)")),
        ),
        (
            // Length is judged first.
            "ab\tc".into(),
            Err(("password_too_short", "at least 8 characters (got 4)")),
        ),
        (
            "A".repeat(64) + &"b".repeat(64) + "1",
            Err(("password_too_long", "at most 128 characters (got 129)")),
        ),
        (
            "Abcdefg\t1".into(),
            Err((
                "password_control_characters",
                "no control characters (tabs, line breaks and the like)",
            )),
        ),
        (
            "Abcd\u{0}efgh1".into(),
            Err((
                "password_control_characters",
                "no control characters (tabs, line breaks and the like)",
            )),
        ),
        (
            "Abcdefgh1\n".into(),
            Err((
                "password_control_characters",
                "no control characters (tabs, line breaks and the like)",
            )),
        ),
        (
            "abcdefg1".into(),
            Err((
                few,
                "at least 3 of 4 character classes: has lower case and digits; \
                 missing upper case and special characters",
            )),
        ),
        (
            "password".into(),
            Err((
                few,
                "at least 3 of 4 character classes: has lower case; \
                 missing upper case, digits and special characters",
            )),
        ),
        (
            "12345678".into(),
            Err((
                few,
                "at least 3 of 4 character classes: has digits; \
                 missing upper case, lower case and special characters",
            )),
        ),
        (
            "ABCDEFG!".into(),
            Err((
                few,
                "at least 3 of 4 character classes: has upper case and special characters; \
                 missing lower case and digits",
            )),
        ),
        (
            // White space is allowed but counts for no class.
            "correct horse battery".into(),
            Err((
                few,
                "at least 3 of 4 character classes: has lower case; \
                 missing upper case, digits and special characters",
            )),
        ),
        (
            " ".repeat(8),
            Err((
                few,
                "at least 3 of 4 character classes: has none; \
                 missing upper case, lower case, digits and special characters",
            )),
        ),
        (
            // Letters without case (here CJK) count as special characters.
            "密码密码密码ab".into(),
            Err((
                few,
                "at least 3 of 4 character classes: has lower case and special characters; \
                 missing upper case and digits",
            )),
        ),
    ]
}

#[test]
fn the_rule_table() {
    for (input, want) in table() {
        match (BackupPassword::parse(input.clone()), want) {
            (Ok(p), Ok(())) => assert_eq!(p.expose(), input),
            (Err(refusal), Err((code, message))) => {
                assert_eq!(refusal.code(), code, "{input:?}");
                assert_eq!(refusal.to_string(), message, "{input:?}");
            }
            (got, want) => panic!("{input:?}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn refusals_never_contain_the_password() {
    for (input, want) in table() {
        if want.is_ok() || input.trim().chars().count() < 4 {
            continue; // a few characters may well occur in any sentence
        }
        let refusal = BackupPassword::parse(input.clone()).unwrap_err();
        // The field name ("backup_password") is left out: it does contain "password".
        let reason = Invalid::from(refusal.clone()).reason;
        for text in [refusal.to_string(), format!("{refusal:?}"), reason] {
            assert!(!text.contains(input.trim()), "{text:?} repeats {input:?}");
        }
    }
}

#[test]
fn debug_is_redacted() {
    let p = BackupPassword::parse("Sup3r-Secret".into()).unwrap();
    let shown = format!("{p:?} {:?}", p.clone());
    assert!(!shown.contains("Sup3r"), "{shown}");
    assert_eq!(format!("{p:?}"), "BackupPassword(<redacted>)");
    assert_eq!(p.clone().expose(), "Sup3r-Secret");
}

#[test]
fn codes_and_invalid_are_stable() {
    let codes = [
        (PasswordRefusal::TooShort { got: 1 }, "password_too_short"),
        (PasswordRefusal::TooLong { got: 200 }, "password_too_long"),
        (
            PasswordRefusal::ControlCharacters,
            "password_control_characters",
        ),
        (
            PasswordRefusal::TooFewClasses {
                has: vec![CharClass::Lower],
                missing: vec![CharClass::Upper, CharClass::Digit, CharClass::Special],
            },
            "password_too_few_classes",
        ),
    ];
    for (refusal, code) in codes {
        assert_eq!(refusal.code(), code);
    }
    let invalid = Invalid::from(PasswordRefusal::TooShort { got: 3 });
    assert_eq!(invalid.field, "backup_password");
    assert_eq!(invalid.reason, "at least 8 characters (got 3)");
}

#[test]
fn classes_of_characters() {
    let table = [
        ('A', Some(CharClass::Upper)),
        ('Ä', Some(CharClass::Upper)),
        ('z', Some(CharClass::Lower)),
        ('ß', Some(CharClass::Lower)),
        ('7', Some(CharClass::Digit)),
        ('!', Some(CharClass::Special)),
        ('€', Some(CharClass::Special)),
        ('密', Some(CharClass::Special)),
        (' ', None),
        ('\u{a0}', None),
        ('\t', None),
        ('\u{7f}', None),
    ];
    for (c, class) in table {
        assert_eq!(CharClass::of(c), class, "{c:?}");
    }
}

proptest! {
    /// Whatever the input, a refusal's text is made of the rule and counts only, and
    /// an accepted password comes back unchanged.
    #[test]
    fn no_refusal_repeats_the_password(s in "[a-zA-Z0-9 !#%äß密🔥\t]{8,140}") {
        match BackupPassword::parse(s.clone()) {
            Ok(p) => prop_assert_eq!(p.expose(), s.as_str()),
            Err(refusal) => {
                let text = format!("{refusal} {refusal:?} {}", Invalid::from(refusal.clone()).reason);
                if s.trim().chars().count() >= 8 {
                    prop_assert!(!text.contains(s.trim()), "{} repeats the password", text);
                }
            }
        }
    }

    /// Every accepted password meets the rule, counted independently here.
    #[test]
    fn accepted_passwords_meet_the_rule(s in "\\PC{0,20}") {
        if let Ok(p) = BackupPassword::parse(s.clone()) {
            let n = s.chars().count();
            prop_assert!((8..=128).contains(&n));
            let classes = [
                s.chars().any(char::is_uppercase),
                s.chars().any(char::is_lowercase),
                s.chars().any(char::is_numeric),
                s.chars().any(|c| {
                    !c.is_uppercase() && !c.is_lowercase() && !c.is_numeric() && !c.is_whitespace()
                }),
            ];
            prop_assert!(classes.iter().filter(|&&b| b).count() >= 3);
            prop_assert_eq!(p.expose(), s.as_str());
        }
    }
}
