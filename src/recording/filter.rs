//! What of a recording may reach an operator's terminal.
//!
//! A recording file is text an attacker may have written (anyone who can write
//! `recordings_dir`, or an altered backup), and replaying it writes that text into the
//! operator's terminal: OSC 52 would set their clipboard, other sequences retitle the
//! window, answer back, or redefine keys. So a replay lets through only what moat's own
//! ANSI backend writes ([`crate::tui::backend::AnsiBackend`]) and the line that closes a
//! session:
//!
//! - `CSI row;col H`, `CSI … m` (SGR), `CSI [0-2] J`, `CSI [0-2] K`, with numeric
//!   parameters only;
//! - `CSI ? 25 h/l` (cursor), `CSI ? 1049 h/l` (alternate screen), `CSI ? 2004 h/l`
//!   (bracketed paste);
//! - carriage return and line feed;
//! - text, except what the sanitizer escapes (controls, bidi, invisible characters).
//!
//! Anything else is written as visible text (`\x1b]52;…`, `\x07`, `\u{202e}`), as the
//! console writes untrusted strings. Everything moat generates passes unchanged, so for a
//! genuine recording the filter is the identity (tested on every e2e recording).

use std::borrow::Cow;

use crate::tui::sanitize;

/// Longest numeric parameter moat writes (a 24-bit colour component, a row or column).
const MAX_DIGITS: usize = 5;
/// Most parameters in one sequence (an SGR with every modifier and two RGB colours is 20).
const MAX_PARAMS: usize = 32;

/// `data` with everything moat would not have written made visible (borrowed when it is
/// all moat's own).
pub fn output(data: &str) -> Cow<'_, str> {
    let mut out: Option<String> = None;
    let mut i = 0;
    let bytes = data.as_bytes();
    while i < bytes.len() {
        let rest = data.get(i..).unwrap_or_default();
        let Some(c) = rest.chars().next() else {
            break;
        };
        if c == '\x1b' {
            match csi_len(rest) {
                Some(len) if allowed_csi(rest.get(..len).unwrap_or_default()) => {
                    if let Some(o) = out.as_mut() {
                        o.push_str(rest.get(..len).unwrap_or_default());
                    }
                    i += len;
                }
                _ => {
                    // ESC made visible; what followed it is read as plain text (printable
                    // ASCII of a sequence shows as itself, anything else is judged alone).
                    let o = out.get_or_insert_with(|| data.get(..i).unwrap_or_default().into());
                    o.push_str("\\x1b");
                    i += 1;
                }
            }
            continue;
        }
        if c == '\r' || c == '\n' || !sanitize::is_escaped(c) {
            if let Some(o) = out.as_mut() {
                o.push(c);
            }
        } else {
            let o = out.get_or_insert_with(|| data.get(..i).unwrap_or_default().into());
            let mut buf = [0u8; 4];
            o.push_str(&sanitize::sanitize(c.encode_utf8(&mut buf)));
        }
        i += c.len_utf8();
    }
    match out {
        Some(o) => Cow::Owned(o),
        None => Cow::Borrowed(data),
    }
}

/// The length of the CSI sequence at the start of `s` (`ESC [` parameters, intermediates,
/// final byte), or `None` if `s` does not start with a whole one.
fn csi_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    if b.get(1) != Some(&b'[') {
        return None;
    }
    let mut i = 2;
    while matches!(b.get(i), Some(0x20..=0x3f)) {
        i += 1;
        if i > 2 + MAX_PARAMS * (MAX_DIGITS + 1) + 1 {
            return None;
        }
    }
    matches!(b.get(i), Some(0x40..=0x7e)).then_some(i + 1)
}

/// Whether a whole CSI sequence is one moat writes.
fn allowed_csi(seq: &str) -> bool {
    let Some(body) = seq.get(2..seq.len().saturating_sub(1)) else {
        return false;
    };
    let Some(&fin) = seq.as_bytes().last() else {
        return false;
    };
    if let Some(mode) = body.strip_prefix('?') {
        return matches!(fin, b'h' | b'l') && matches!(mode, "25" | "1049" | "2004");
    }
    let params: Vec<&str> = if body.is_empty() {
        Vec::new()
    } else {
        body.split(';').collect()
    };
    let numeric = params.len() <= MAX_PARAMS
        && params
            .iter()
            .all(|p| p.len() <= MAX_DIGITS && p.bytes().all(|b| b.is_ascii_digit()));
    if !numeric {
        return false;
    }
    match fin {
        b'm' => true,
        b'H' => params.len() <= 2,
        b'J' | b'K' => {
            params.len() <= 1 && params.iter().all(|p| matches!(*p, "" | "0" | "1" | "2"))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::backend::AnsiBackend;

    #[test]
    fn moat_output_passes_unchanged() {
        for s in [
            std::str::from_utf8(AnsiBackend::ENTER).unwrap(),
            std::str::from_utf8(AnsiBackend::LEAVE).unwrap(),
            "\x1b[1;1H\x1b[0;1;7;38;2;255;0;10;48;5;236m moat › models ▶ ∅ NULL ▀▄█ 日本\x1b[0m\x1b[2J\x1b[J\x1b[1J\x1b[2K\x1b[K",
            "\x1b[150;400H\x1b[?25h\x1b[?25l",
            "moat: idle timeout: session closed\r\n",
            "\\x1b[31m is how the console shows an escape",
        ] {
            assert!(matches!(output(s), Cow::Borrowed(_)), "{s:?}");
        }
    }

    #[test]
    fn anything_else_is_made_visible() {
        for (raw, shown) in [
            ("\x1b]52;c;ZXZpbA==\x07", "\\x1b]52;c;ZXZpbA==\\x07"),
            ("\x1b]0;pwned\x1b\\", "\\x1b]0;pwned\\x1b\\"),
            ("\x1b[6n", "\\x1b[6n"),
            ("\x1b[21t", "\\x1b[21t"),
            ("\x1b[?1000h", "\\x1b[?1000h"),
            ("\x1b[1;2;3H", "\\x1b[1;2;3H"),
            ("\x1b[3J", "\\x1b[3J"),
            ("\x1b[>c", "\\x1b[>c"),
            ("\x1bP+q\x1b\\", "\\x1bP+q\\x1b\\"),
            ("\x1b[123456m", "\\x1b[123456m"),
            ("a\x1b", "a\\x1b"),
            ("\u{9b}31m", "\\x9b31m"),
            ("x\u{202e}y\u{200b}", "x\\u{202e}y\\u{200b}"),
            ("\x07\x08\t", "\\x07\\x08\\t"),
        ] {
            assert_eq!(output(raw), shown, "{raw:?}");
            // Nothing a terminal obeys is left but moat's own sequences.
            assert!(!output(raw).contains('\x1b'), "{raw:?}");
        }
        // A long run of parameters is not scanned forever, and is refused.
        let long = format!("\x1b[{}m", "1;".repeat(10_000));
        assert!(!output(&long).contains('\x1b'));
    }
}
