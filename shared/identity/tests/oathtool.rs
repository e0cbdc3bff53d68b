//! Interoperability with an independent TOTP implementation, OATH Toolkit's
//! `oathtool` (Debian package `oathtool`). These tests fail, never skip, without it:
//! passing against ourselves alone proves nothing about authenticator apps.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use rampart_identity::totp::{TotpRejection, TotpSecret, code_at, verify};

fn oathtool(args: &[&str]) -> String {
    let output = match Command::new("oathtool").args(args).output() {
        Ok(output) => output,
        Err(e) => panic!(
            "cannot run `oathtool` ({e}): install it (`apt-get install -y oathtool`) to run the TOTP interoperability tests"
        ),
    };
    assert!(
        output.status.success(),
        "oathtool failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("oathtool prints ASCII")
        .trim()
        .to_owned()
}

fn now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    i64::try_from(secs).unwrap()
}

#[test]
fn verify_accepts_oathtool_code_once() {
    let secret = TotpSecret::generate();
    let code = oathtool(&["--totp", "-b", &secret.to_base32()]);
    assert_eq!(code.len(), 6, "oathtool printed {code:?}");

    // Taken after oathtool ran: at most one step later, within the allowed skew.
    let step = verify(&secret, &code, now(), None).expect("oathtool's current code is accepted");
    assert_eq!(
        verify(&secret, &code, now(), Some(step)),
        Err(TotpRejection::Replayed)
    );
}

#[test]
fn code_at_matches_oathtool_at_fixed_times() {
    let secret = TotpSecret::generate();
    let base32 = secret.to_base32();
    for time in [
        0_i64,
        59,
        1_111_111_109,
        1_234_567_890,
        1_700_000_000,
        2_000_000_000,
    ] {
        let expected = oathtool(&["--totp", "-b", &base32, "-N", &format!("@{time}")]);
        assert_eq!(code_at(&secret, time), expected, "T = {time}");
    }
}

#[test]
fn rfc_seed_matches_oathtool() {
    let secret = TotpSecret::from_bytes(b"12345678901234567890").unwrap();
    let expected = oathtool(&["--totp", "-b", &secret.to_base32(), "-N", "@59"]);
    assert_eq!(expected, "287082");
    assert_eq!(code_at(&secret, 59), expected);
}
