//! QR renderings of an otpauth URI.

use rampart_identity::qr::{QUIET_ZONE, module_count, qr_svg, qr_terminal};
use rampart_identity::totp::{TotpSecret, otpauth_uri};

fn uri() -> String {
    otpauth_uri(&TotpSecret::generate(), "Rampart", "alice@123456.sms")
}

fn strip_colors(line: &str) -> String {
    line.replace("\x1b[97;40m", "").replace("\x1b[0m", "")
}

#[test]
fn svg_is_a_standalone_document() {
    let svg = qr_svg(&uri()).unwrap();
    assert!(
        svg.starts_with("<?xml") || svg.starts_with("<svg"),
        "{}",
        &svg[..40]
    );
    assert!(svg.contains("<svg"));
    assert!(svg.trim_end().ends_with("</svg>"));
}

#[test]
fn terminal_has_one_line_per_two_module_rows() {
    let data = uri();
    let modules = module_count(&data).unwrap();
    assert_eq!(modules % 4, 1, "QR sizes are 17 + 4 * version");
    let size = modules + 2 * QUIET_ZONE;
    let text = qr_terminal(&data).unwrap();
    let lines: Vec<String> = text.lines().map(strip_colors).collect();
    assert_eq!(lines.len(), size.div_ceil(2));
    for line in &lines {
        assert_eq!(line.chars().count(), size);
        assert!(
            line.chars().all(|c| matches!(c, '▀' | '▄' | '█' | ' ')),
            "{line:?}"
        );
    }
}

#[test]
fn terminal_quiet_zone_is_light() {
    let text = qr_terminal(&uri()).unwrap();
    let lines: Vec<String> = text.lines().map(strip_colors).collect();
    // Light modules are drawn: the top QUIET_ZONE rows are full blocks...
    for line in &lines[..QUIET_ZONE / 2] {
        assert!(line.chars().all(|c| c == '█'));
    }
    // ...and so are the left and right QUIET_ZONE columns of every line.
    for line in &lines {
        let chars: Vec<char> = line.chars().collect();
        assert!(chars[..QUIET_ZONE].iter().all(|&c| c == '█'));
        assert!(chars[chars.len() - QUIET_ZONE..].iter().all(|&c| c == '█'));
    }
    // The top-left finder pattern starts with a dark module at (4, 4): row 4 is the
    // upper half of line 2, so that cell is a lower half block or a space.
    let finder = lines[QUIET_ZONE / 2].chars().nth(QUIET_ZONE).unwrap();
    assert!(finder == '▄' || finder == ' ');
}

#[test]
fn too_much_data_is_an_error_not_a_panic() {
    let huge = "x".repeat(10_000);
    assert!(qr_svg(&huge).is_err());
    assert!(qr_terminal(&huge).is_err());
}
