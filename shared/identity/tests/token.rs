//! Opaque bearer tokens and their store keys.

use rampart_identity::token::{SessionToken, new_token, token_id};

#[test]
fn tokens_are_43_base64url_characters_and_unique() {
    let a = new_token();
    let b = new_token();
    assert_ne!(a, b);
    for t in [&a, &b] {
        assert_eq!(t.len(), 43);
        assert!(
            t.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'),
            "{t}"
        );
    }
}

#[test]
fn token_id_is_hex_sha256() {
    // SHA-256("abc"), FIPS 180-2 appendix B.1.
    assert_eq!(
        token_id("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let token = new_token();
    let id = token_id(&token);
    assert_eq!(id.len(), 64);
    assert_eq!(id, token_id(&token));
    assert!(!id.contains(&token));
}

#[test]
fn session_token_debug_is_redacted() {
    let token = SessionToken::generate();
    let shown = format!("{token:?}");
    assert_eq!(shown, "SessionToken(<redacted>)");
    assert!(!shown.contains(token.expose()));
    assert_eq!(token.id(), token_id(token.expose()));
    assert_eq!(SessionToken::new(token.expose()), token);
}
