//! The appliance's PIN rules (SPEC §3.4): format, redaction, retries and blocking.

use rampart_identity::pin::{
    DEFAULT_MAX_RETRY, Pin, PinFormatError, PinGuard, PinOutcome, max_retry_from_env,
};

const RIGHT: &[u8] = b"246810";
const WRONG: &[u8] = b"135799";

fn stored() -> Pin {
    Pin::parse(RIGHT).unwrap()
}

/// One step of a scenario: what is presented (or a local login), and what must follow.
enum Step {
    Present(&'static [u8], PinOutcome),
    LocalLogin,
}

use PinOutcome::{Accepted, Blocked, Wrong};
use Step::{LocalLogin, Present};

const fn wrong(attempts_left: u32) -> PinOutcome {
    Wrong { attempts_left }
}

#[test]
fn scenarios_with_the_default_limit() {
    let scenarios: &[(&str, &[Step])] = &[
        (
            "right PIN is accepted",
            &[Present(RIGHT, Accepted), Present(RIGHT, Accepted)],
        ),
        (
            "attempts left count down 4, 3, 2, 1, then blocked",
            &[
                Present(WRONG, wrong(4)),
                Present(WRONG, wrong(3)),
                Present(WRONG, wrong(2)),
                Present(WRONG, wrong(1)),
                Present(WRONG, Blocked),
            ],
        ),
        (
            "4 wrong then right resets the count",
            &[
                Present(WRONG, wrong(4)),
                Present(WRONG, wrong(3)),
                Present(WRONG, wrong(2)),
                Present(WRONG, wrong(1)),
                Present(RIGHT, Accepted),
                Present(WRONG, wrong(4)),
                Present(WRONG, wrong(3)),
                Present(WRONG, wrong(2)),
                Present(WRONG, wrong(1)),
                Present(RIGHT, Accepted),
            ],
        ),
        (
            "blocked refuses the right PIN, and stays blocked",
            &[
                Present(WRONG, wrong(4)),
                Present(WRONG, wrong(3)),
                Present(WRONG, wrong(2)),
                Present(WRONG, wrong(1)),
                Present(WRONG, Blocked),
                Present(RIGHT, Blocked),
                Present(WRONG, Blocked),
                Present(RIGHT, Blocked),
            ],
        ),
        (
            "a local login unblocks with a fresh count",
            &[
                Present(WRONG, wrong(4)),
                Present(WRONG, wrong(3)),
                Present(WRONG, wrong(2)),
                Present(WRONG, wrong(1)),
                Present(WRONG, Blocked),
                LocalLogin,
                Present(WRONG, wrong(4)),
                Present(RIGHT, Accepted),
            ],
        ),
        (
            "a local login also clears a partial count",
            &[
                Present(WRONG, wrong(4)),
                Present(WRONG, wrong(3)),
                LocalLogin,
                Present(WRONG, wrong(4)),
            ],
        ),
        (
            "malformed PINs count as wrong",
            &[
                Present(b"", wrong(4)),
                Present(b"24681", wrong(3)),
                Present(b"2468100", wrong(2)),
                Present(b"24681a", wrong(1)),
                Present(b" 246810", Blocked),
            ],
        ),
        (
            "near misses are wrong",
            &[
                Present(b"246811", wrong(4)),
                Present(b"146810", wrong(3)),
                Present(b"24681\0", wrong(2)),
                Present(b"\xff\xfe\xfd\xfc\xfb\xfa", wrong(1)),
                Present(RIGHT, Accepted),
            ],
        ),
    ];
    for (name, steps) in scenarios {
        let pin = stored();
        let mut guard = PinGuard::default();
        for (i, step) in steps.iter().enumerate() {
            match step {
                Present(presented, expected) => {
                    assert_eq!(guard.check(&pin, presented), *expected, "{name}: step {i}");
                    assert_eq!(guard.is_blocked(), *expected == Blocked, "{name}: step {i}");
                }
                LocalLogin => guard.unblock_by_local_login(),
            }
        }
    }
}

#[test]
fn other_limits() {
    for limit in [1u32, 2, 3, 10, 20] {
        let pin = stored();
        let mut guard = PinGuard::new(limit);
        assert_eq!(guard.attempts_left(), limit);
        for left in (1..limit).rev() {
            assert_eq!(guard.check(&pin, WRONG), wrong(left), "limit {limit}");
            assert_eq!(guard.attempts_left(), left);
        }
        assert_eq!(guard.check(&pin, WRONG), Blocked, "limit {limit}");
        assert_eq!(guard.attempts_left(), 0);
        assert_eq!(guard.check(&pin, RIGHT), Blocked);
        guard.unblock_by_local_login();
        assert_eq!(guard.check(&pin, RIGHT), Accepted);
    }
    // A limit of 0 (e.g. from a hand-edited state file) behaves as 1.
    let mut guard = PinGuard {
        max_retries: 0,
        failed: 0,
        blocked: false,
    };
    assert_eq!(guard.check(&stored(), WRONG), Blocked);
    assert_eq!(PinGuard::new(0).max_retries, 1);
}

#[test]
fn arbitrary_bytes_never_panic() {
    let pin = stored();
    let mut guard = PinGuard::new(u32::MAX);
    let mut x: u32 = 12345;
    for len in 0..64usize {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as u8
            })
            .collect();
        let outcome = guard.check(&pin, &bytes);
        assert!(matches!(outcome, Wrong { .. }), "{len}");
        assert!(Pin::parse(&bytes).is_err() || bytes.len() == 6);
    }
    // A saturated counter neither panics nor wraps.
    let mut guard = PinGuard {
        max_retries: u32::MAX,
        failed: u32::MAX - 1,
        blocked: false,
    };
    assert_eq!(guard.check(&pin, WRONG), Blocked);
}

#[test]
fn pin_format() {
    for good in ["000000", "123456", "999999", "246810"] {
        assert_eq!(Pin::parse(good).unwrap().expose(), good);
        assert_eq!(good.parse::<Pin>().unwrap().as_bytes(), good.as_bytes());
    }
    for bad in [
        "",
        "12345",
        "1234567",
        "12345a",
        "-12345",
        "+12345",
        " 12345",
        "12345 ",
        "١٢٣٤٥٦",
        "12 456",
        "123\n56",
        "１２３４５６",
    ] {
        assert_eq!(Pin::parse(bad), Err(PinFormatError), "{bad:?}");
    }
    assert_eq!(Pin::parse([0xffu8; 6]), Err(PinFormatError));
}

#[test]
fn pin_equality() {
    assert_eq!(Pin::parse("123456").unwrap(), Pin::parse("123456").unwrap());
    assert_ne!(Pin::parse("123456").unwrap(), Pin::parse("123457").unwrap());
    assert_ne!(Pin::parse("123456").unwrap(), Pin::parse("023456").unwrap());
}

#[test]
fn debug_hides_the_pin() {
    let pin = Pin::parse("482915").unwrap();
    for text in [
        format!("{pin:?}"),
        format!("{pin:#?}"),
        format!("{:?}", Some(&pin)),
    ] {
        assert!(!text.contains("482915"), "{text}");
        assert!(text.contains("redacted"));
    }
    let err = Pin::parse("48291x").unwrap_err();
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("48291"), "{text}");
    }
}

#[test]
fn guard_state_round_trips_through_serde() {
    let pin = stored();
    let mut guard = PinGuard::new(7);
    guard.check(&pin, WRONG);
    guard.check(&pin, WRONG);
    let json = serde_json::to_string(&guard).unwrap();
    assert_eq!(json, r#"{"max_retries":7,"failed":2,"blocked":false}"#);
    let mut back: PinGuard = serde_json::from_str(&json).unwrap();
    assert_eq!(back, guard);
    assert_eq!(back.check(&pin, WRONG), wrong(4));

    let blocked: PinGuard =
        serde_json::from_str(r#"{"max_retries":5,"failed":5,"blocked":true}"#).unwrap();
    assert!(blocked.is_blocked());
    // Missing fields (an older state file) fall back to a fresh default guard.
    let fresh: PinGuard = serde_json::from_str("{}").unwrap();
    assert_eq!(fresh, PinGuard::default());
    assert_eq!(fresh.max_retries, DEFAULT_MAX_RETRY);

    assert_eq!(
        serde_json::to_string(&wrong(3)).unwrap(),
        r#"{"outcome":"wrong","attempts_left":3}"#
    );
    assert_eq!(
        serde_json::to_string(&Blocked).unwrap(),
        r#"{"outcome":"blocked"}"#
    );
}

#[test]
fn max_retry_from_the_environment() {
    let cases: &[(Option<&str>, u32)] = &[
        (None, 5),
        (Some(""), 5),
        (Some("5"), 5),
        (Some("1"), 1),
        (Some("3"), 3),
        (Some(" 7 "), 7),
        (Some("20"), 20),
        (Some("21"), 5),
        (Some("0"), 5),
        (Some("-1"), 5),
        (Some("abc"), 5),
        (Some("3.5"), 5),
        (Some("99999999999999999999"), 5),
    ];
    for (value, expected) in cases {
        assert_eq!(max_retry_from_env(*value), *expected, "{value:?}");
    }
    assert_eq!(DEFAULT_MAX_RETRY, 5);
}
