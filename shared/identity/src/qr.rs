//! QR codes of otpauth URIs for TOTP enrollment: an SVG for the portal page, and text
//! for the CLI.

use qrcode::render::svg;
use qrcode::{Color, QrCode};

/// Light modules around the code; the QR specification asks for 4, and scanners
/// struggle to find a code with less.
pub const QUIET_ZONE: usize = 4;

/// Sets white foreground (light modules) on black background (dark modules) for each
/// terminal line, so the code has the right polarity on dark and light themes alike.
const TERMINAL_COLORS: &str = "\x1b[97;40m";
const TERMINAL_RESET: &str = "\x1b[0m";

/// The data does not fit in a QR code (about 2,900 bytes at most); the data is not
/// echoed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode as a QR code: {0}")]
pub struct QrError(String);

fn encode(data: &str) -> Result<QrCode, QrError> {
    QrCode::new(data.as_bytes()).map_err(|e| QrError(e.to_string()))
}

/// The number of modules across the code for `data`, quiet zone excluded.
pub fn module_count(data: &str) -> Result<usize, QrError> {
    Ok(encode(data)?.width())
}

/// A standalone SVG document (with its XML declaration), black on white, with the quiet
/// zone, at least 256 px wide.
pub fn qr_svg(data: &str) -> Result<String, QrError> {
    Ok(encode(data)?
        .render::<svg::Color<'_>>()
        .min_dimensions(256, 256)
        .quiet_zone(true)
        .build())
}

/// The code as terminal text: each line holds two rows of modules drawn with half
/// blocks (`▀`, `▄`, `█`, space), with the quiet zone, so modules are about square.
///
/// Glyphs draw light modules and spaces dark ones; each line sets its own colors (white
/// on black) and resets them at its end, so the code scans whatever the terminal's theme.
/// There are `(module_count + 2 * QUIET_ZONE + 1) / 2` lines, each ending in `\n`.
pub fn qr_terminal(data: &str) -> Result<String, QrError> {
    let code = encode(data)?;
    let width = code.width();
    let colors = code.to_colors();
    let size = width + 2 * QUIET_ZONE;
    // Light outside the code: the quiet zone, and the lower half of an odd last line.
    let is_light = |x: usize, y: usize| {
        let inside = QUIET_ZONE..QUIET_ZONE + width;
        if !inside.contains(&x) || !inside.contains(&y) {
            return true;
        }
        colors[(y - QUIET_ZONE) * width + (x - QUIET_ZONE)] == Color::Light
    };
    let mut out = String::new();
    for top in (0..size).step_by(2) {
        out.push_str(TERMINAL_COLORS);
        for x in 0..size {
            out.push(match (is_light(x, top), is_light(x, top + 1)) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push_str(TERMINAL_RESET);
        out.push('\n');
    }
    Ok(out)
}
