//! Accepting and refusing typed TOTP codes.

use rampart_identity::totp::{STEP_SECS, TotpRejection, TotpSecret, code_at, otpauth_uri, verify};

const NOW: i64 = 1_700_000_015; // mid-step
const NOW_STEP: i64 = NOW / STEP_SECS;

fn secret() -> TotpSecret {
    TotpSecret::from_bytes(b"12345678901234567890").unwrap()
}

fn code_for_step(step: i64) -> String {
    code_at(&secret(), step * STEP_SECS)
}

#[test]
fn current_step_is_accepted_and_returned() {
    assert_eq!(
        verify(&secret(), &code_for_step(NOW_STEP), NOW, None),
        Ok(NOW_STEP)
    );
}

#[test]
fn one_step_of_skew_either_way_is_accepted() {
    for offset in [-1, 1] {
        let step = NOW_STEP + offset;
        assert_eq!(
            verify(&secret(), &code_for_step(step), NOW, None),
            Ok(step),
            "offset {offset}"
        );
    }
}

#[test]
fn two_steps_of_skew_are_refused() {
    for offset in [-2, 2, -3, 3, 100] {
        let code = code_for_step(NOW_STEP + offset);
        // Skip the (one in a million) coincidence of equal codes within the window.
        if (-1..=1).any(|o| code_for_step(NOW_STEP + o) == code) {
            continue;
        }
        assert_eq!(
            verify(&secret(), &code, NOW, None),
            Err(TotpRejection::Wrong),
            "offset {offset}"
        );
    }
}

#[test]
fn step_boundaries() {
    let start = NOW_STEP * STEP_SECS;
    let code = code_for_step(NOW_STEP);
    assert_eq!(verify(&secret(), &code, start, None), Ok(NOW_STEP));
    assert_eq!(
        verify(&secret(), &code, start + STEP_SECS - 1, None),
        Ok(NOW_STEP)
    );
    // Still within one step of skew just after the next two steps begin...
    assert_eq!(
        verify(&secret(), &code, start + 2 * STEP_SECS - 1, None),
        Ok(NOW_STEP)
    );
    // ...but not once the step after next has begun.
    assert_eq!(
        verify(&secret(), &code, start + 2 * STEP_SECS, None),
        Err(TotpRejection::Wrong)
    );
}

#[test]
fn replay_of_the_same_step_is_refused() {
    let code = code_for_step(NOW_STEP);
    let accepted = verify(&secret(), &code, NOW, None).unwrap();
    assert_eq!(
        verify(&secret(), &code, NOW, Some(accepted)),
        Err(TotpRejection::Replayed)
    );
    assert_eq!(
        verify(&secret(), &code, NOW + 20, Some(accepted)),
        Err(TotpRejection::Replayed)
    );
}

#[test]
fn an_older_step_after_a_newer_one_is_refused() {
    let newer = verify(&secret(), &code_for_step(NOW_STEP + 1), NOW, None).unwrap();
    for older in [NOW_STEP, NOW_STEP - 1] {
        assert_eq!(
            verify(&secret(), &code_for_step(older), NOW, Some(newer)),
            Err(TotpRejection::Replayed)
        );
    }
}

#[test]
fn the_next_step_is_accepted_after_the_previous_one() {
    let first = verify(&secret(), &code_for_step(NOW_STEP), NOW, None).unwrap();
    let later = NOW + STEP_SECS;
    assert_eq!(
        verify(&secret(), &code_for_step(NOW_STEP + 1), later, Some(first)),
        Ok(NOW_STEP + 1)
    );
}

#[test]
fn garbage_is_refused_without_panicking() {
    let inputs = [
        "",
        "12345",
        "1234567",
        "12345a",
        "abcdef",
        " 123456",
        "123456 ",
        "12 345",
        "-12345",
        "+12345",
        "１２３４５６",
        "12345\u{0}",
        "١٢٣٤٥٦",
        "123456\n",
        "😀😀😀😀😀😀",
    ];
    for input in inputs {
        assert_eq!(
            verify(&secret(), input, NOW, None),
            Err(TotpRejection::Malformed),
            "{input:?}"
        );
    }
    let long = "1".repeat(10_000);
    assert_eq!(
        verify(&secret(), &long, NOW, None),
        Err(TotpRejection::Malformed)
    );
}

#[test]
fn extreme_times_do_not_panic() {
    let code = code_for_step(NOW_STEP);
    for now in [i64::MIN, -1, 0, 29, i64::MAX] {
        let _ = verify(&secret(), &code, now, None);
        let _ = verify(&secret(), &code, now, Some(i64::MAX));
        let _ = code_at(&secret(), now);
    }
}

#[test]
fn otpauth_uri_format_and_encoding() {
    let secret = secret();
    let uri = otpauth_uri(&secret, "Rampart Cloud", "alice@123456.sms");
    assert_eq!(
        uri,
        format!(
            "otpauth://totp/Rampart%20Cloud:alice%40123456.sms?secret={}&issuer=Rampart%20Cloud&algorithm=SHA1&digits=6&period=30",
            secret.to_base32()
        )
    );
    let tricky = otpauth_uri(&secret, "A&B", "x:y?z#w");
    assert!(
        tricky.starts_with("otpauth://totp/A%26B:x%3Ay%3Fz%23w?secret="),
        "{tricky}"
    );
    assert!(tricky.contains("&issuer=A%26B&"));
}
