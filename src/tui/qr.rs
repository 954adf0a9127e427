//! A QR code drawn with Unicode half blocks, for the TOTP enrolment screen.
//!
//! Each terminal cell holds two modules, one above the other, so a terminal cell of
//! about 1:2 gives square modules. The code is drawn *inverted*: a light module is a
//! drawn (foreground) half and a dark module is a blank (background) half:
//!
//! | upper | lower | char |
//! | ----- | ----- | ---- |
//! | light | light | `█`  |
//! | light | dark  | `▀`  |
//! | dark  | light | `▄`  |
//! | dark  | dark  | ` `  |
//!
//! With a light foreground on a dark background this reads as dark modules on light
//! paper, as scanners expect. The terminal's own colours can't be relied on (a light
//! background theme would invert the code), so the caller paints every cell of the
//! block with explicit colours: foreground white, background black.
//!
//! The quiet zone (light, so drawn as blocks) is [`QUIET`] modules on every side. A QR
//! code is an odd number of modules high, so one more light module row is added at
//! the bottom to fill the last cell row: nothing of the code is left to the terminal's
//! background.
//!
//! The code uses the lowest error-correction level (L) and the smallest version that
//! fits, with the encoder's optimal mix of numeric, alphanumeric and byte segments: an
//! `otpauth://` URI for a 32-character user name fits an 80×24 terminal.
//!
//! Pure: no I/O, no tokio, sqlx or russh.

use qrcode::{Color, EcLevel, QrCode};

/// The quiet zone around the code, in modules. The standard asks for 4; 2 is common for
/// codes drawn in a terminal, and it keeps a 32-char user name's URI within 24 rows.
pub const QUIET: usize = 2;

/// A QR code of `text` as lines of Unicode half blocks: each terminal cell holds two
/// modules (upper and lower), with a quiet zone of [`QUIET`] modules on every side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrBlock {
    /// One string per terminal row, each `width` cells (and chars) wide.
    pub lines: Vec<String>,
    /// Columns, quiet zone included.
    pub width: u16,
    /// Rows, that is `lines.len()`.
    pub height: u16,
}

/// The QR code of `text` (error-correction level L, smallest version), or `None` if the
/// text is too long for any QR code.
pub fn render(text: &str) -> Option<QrBlock> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::L).ok()?;
    let n = code.width();
    let colors = code.to_colors();
    // Light outside the code itself (the quiet zone), as the code says inside.
    let light = |x: usize, y: usize| -> bool {
        let (Some(cx), Some(cy)) = (x.checked_sub(QUIET), y.checked_sub(QUIET)) else {
            return true;
        };
        cx >= n || cy >= n || colors[cy * n + cx] == Color::Light
    };
    let cols = n + 2 * QUIET;
    let modules_high = n + 2 * QUIET;
    let rows = modules_high.div_ceil(2);
    let lines: Vec<String> = (0..rows)
        .map(|r| {
            (0..cols)
                .map(|x| match (light(x, 2 * r), light(x, 2 * r + 1)) {
                    (true, true) => '█',
                    (true, false) => '▀',
                    (false, true) => '▄',
                    (false, false) => ' ',
                })
                .collect()
        })
        .collect();
    Some(QrBlock {
        width: u16::try_from(cols).ok()?,
        height: u16::try_from(rows).ok()?,
        lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"; // 160 bits, base32

    fn user32() -> String {
        let user = "some.user.name-32-chars-long-xx";
        let user = format!("{user}{}", "x".repeat(32 - user.len()));
        assert_eq!(user.len(), 32);
        user
    }

    /// What `totp_rs::TOTP::get_url` makes: default parameters are left out.
    #[test]
    fn a_32_char_user_fits_80_by_24() {
        let uri = format!(
            "otpauth://totp/moat:{}?secret={SECRET}&issuer=moat",
            user32()
        );
        let qr = render(&uri).expect("fits a QR code");
        // Version 5 (37 modules) and the quiet zone: 41 columns, 21 rows.
        assert!(qr.height <= 22, "{}×{} for {uri}", qr.width, qr.height);
        assert!(qr.width <= 49, "{}×{} for {uri}", qr.width, qr.height);
    }

    /// Every parameter spelled out still fits 24 rows (23), leaving one for a title.
    #[test]
    fn the_long_form_fits_23_rows() {
        let uri = format!(
            "otpauth://totp/moat:{}?secret={SECRET}&issuer=moat\
             &algorithm=SHA1&digits=6&period=30",
            user32()
        );
        let qr = render(&uri).expect("fits a QR code");
        // Version 6 (41 modules) and the quiet zone: 45 columns, 23 rows.
        assert!(qr.height <= 23, "{}×{} for {uri}", qr.width, qr.height);
        assert!(qr.width <= 49, "{}×{} for {uri}", qr.width, qr.height);
    }

    #[test]
    fn shape_and_quiet_zone() {
        let qr = render("hello").unwrap();
        // Version 1: 21 modules.
        let cols = 21 + 2 * QUIET;
        assert_eq!(usize::from(qr.width), cols);
        assert_eq!(usize::from(qr.height), cols.div_ceil(2));
        assert_eq!(qr.lines.len(), usize::from(qr.height));
        for line in &qr.lines {
            assert_eq!(line.chars().count(), cols);
            assert!(line.chars().all(|c| "█▀▄ ".contains(c)), "{line:?}");
            // Left and right quiet zones: light in both halves.
            assert!(line.chars().take(QUIET).all(|c| c == '█'), "{line:?}");
            assert!(line.chars().skip(cols - QUIET).all(|c| c == '█'));
        }
        // Top quiet zone (QUIET = 2: the whole first row), and the bottom row's upper
        // half is quiet zone too, its lower half the extra light row.
        assert!(qr.lines[0].chars().all(|c| c == '█'));
        assert!(qr.lines.last().unwrap().chars().all(|c| c == '█'));
    }

    #[test]
    fn modules_round_trip() {
        let text = "otpauth://totp/moat:alice?secret=JBSWY3DPEHPK3PXP&issuer=moat";
        let qr = render(text).unwrap();
        let code = QrCode::with_error_correction_level(text, EcLevel::L).unwrap();
        let n = code.width();
        let grid: Vec<Vec<char>> = qr.lines.iter().map(|l| l.chars().collect()).collect();
        let light_at = |x: usize, y: usize| {
            let c = grid[y / 2][x];
            if y % 2 == 0 {
                c == '█' || c == '▀'
            } else {
                c == '█' || c == '▄'
            }
        };
        for y in 0..n {
            for x in 0..n {
                assert_eq!(
                    light_at(x + QUIET, y + QUIET),
                    code[(x, y)] == Color::Light,
                    "module ({x}, {y})"
                );
            }
        }
    }

    #[test]
    fn too_long_is_none() {
        assert!(render(&"x".repeat(4000)).is_none());
    }
}
