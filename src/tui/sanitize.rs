//! The one gate for untrusted text on its way into a terminal buffer.
//!
//! Database values, usernames, config values and error messages can all carry bytes that a
//! terminal would obey (an `ESC [2J` clears the operator's screen) or that hide and reorder what
//! the operator reads (bidi overrides, zero-width characters). [`sanitize`] replaces each of them
//! with a visible escape written as plain text:
//!
//! - C0 controls, DEL and C1 controls become `\xNN`, so `ESC [31m` is drawn as the text `\x1b[31m`
//!   (newline, carriage return and tab as `\n`, `\r`, `\t`);
//! - characters that show nothing or reorder what is around them become `\u{NNNN}`: every
//!   format character (Unicode General Category Cf: bidi controls, zero-width space and
//!   joiners, BOM, soft hyphen, tag characters, shorthand format controls, musical symbol
//!   beams…), line and paragraph separators (Zl, Zp), and every other Default_Ignorable_Code_Point
//!   (Hangul fillers, variation selectors, combining grapheme joiner…), except the text and emoji
//!   presentation selectors U+FE0E and U+FE0F, which only choose how the character before them
//!   is drawn;
//! - a run of zero-width characters (combining marks) is cut after the fourth, which bounds
//!   "Zalgo" text that would otherwise smear over neighbouring cells.
//!
//! The escapes are meant for the eye, not for decoding: a literal backslash is left alone.
//! [`SafeText`] can only be built through these rules, so code that takes a `SafeText` cannot be
//! handed raw text by mistake; it also bounds its length to 64 KiB.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use icu_properties::props::{DefaultIgnorableCodePoint, GeneralCategory};
use icu_properties::{CodePointMapData, CodePointSetData};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Most bytes of sanitized text a [`SafeText`] line keeps before it is cut with '…'.
const MAX_BYTES: usize = 64 * 1024;
/// Zero-width characters kept in a row; the rest of such a run is dropped.
const MAX_MARKS: usize = 4;
/// What marks a cut.
const ELLIPSIS: char = '…';
/// What a tab becomes in [`SafeText::multiline`].
const TAB: &str = "    ";

/// Text that is safe to draw: only constructed by sanitizing.
#[derive(Clone, Debug, PartialEq, Eq, Default, Hash)]
pub struct SafeText(String);

impl SafeText {
    /// Sanitizes `raw` as a single line: newlines, carriage returns and tabs are escaped too
    /// (a newline shows as `\n`). The result is cut with '…' after 64 KiB.
    pub fn new(raw: &str) -> Self {
        Self::line(raw, false)
    }

    /// Splits `raw` into lines at `\n` or `\r\n`, expands each tab to four spaces and sanitizes
    /// every line as [`SafeText::new`] does (so each line is bounded, not their number). An empty
    /// `raw` gives no lines.
    pub fn multiline(raw: &str) -> Vec<SafeText> {
        raw.lines().map(|line| Self::line(line, true)).collect()
    }

    fn line(raw: &str, expand_tabs: bool) -> Self {
        let mut out = String::with_capacity(raw.len().min(MAX_BYTES));
        if !push_sanitized(&mut out, raw, expand_tabs, MAX_BYTES) {
            out.push(ELLIPSIS);
        }
        Self(out)
    }

    /// The sanitized text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Display width in terminal cells.
    pub fn width(&self) -> usize {
        self.0.width()
    }

    /// This text cut to at most `max_width` cells, ending with '…' when something was cut.
    /// A wide character that would cross the limit is left out rather than split.
    pub fn truncated(&self, max_width: usize) -> SafeText {
        if self.width() <= max_width {
            return self.clone();
        }
        // One cell is kept for the ellipsis.
        let Some(budget) = max_width.checked_sub(1) else {
            return SafeText::default();
        };
        let mut out = String::new();
        let mut used = 0;
        for cluster in clusters(&self.0) {
            used += cluster.width();
            if used > budget {
                break;
            }
            out.push_str(cluster);
        }
        out.push(ELLIPSIS);
        SafeText(out)
    }
}

impl fmt::Display for SafeText {
    /// Honours width and alignment (`{:<20}`), so CLI tables line up.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl AsRef<str> for SafeText {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for SafeText {
    /// Sanitizes, as [`SafeText::new`].
    fn from(raw: &str) -> Self {
        Self::new(raw)
    }
}

impl From<String> for SafeText {
    /// Sanitizes, as [`SafeText::new`].
    fn from(raw: String) -> Self {
        Self::new(&raw)
    }
}

impl From<SafeText> for String {
    fn from(text: SafeText) -> Self {
        text.0
    }
}

/// The core rule: `raw` with every control, bidi and invisible character escaped and overlong
/// runs of zero-width characters cut. Borrowed when nothing had to change. Not length-bounded; use
/// [`SafeText`] for that.
pub fn sanitize(raw: &str) -> Cow<'_, str> {
    let mut marks = 0;
    if raw.chars().all(|c| action(c, &mut marks) == Action::Keep) {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len() + 16);
    push_sanitized(&mut out, raw, false, usize::MAX);
    Cow::Owned(out)
}

/// Whether [`sanitize`] writes `c` as an escape (a control, bidi, format or other invisible
/// character). For output formats with escapes of their own, such as JSON, which can write the
/// same characters their own way.
pub fn is_escaped(c: char) -> bool {
    c.is_control() || is_invisible(c)
}

/// What becomes of one character.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    Keep,
    Drop,
    /// Written as `\n`, `\r`, `\t` or `\xNN`.
    Control,
    /// Written as `\u{NNNN}`.
    Unicode,
}

/// Decides for `c`; `marks` counts the zero-width characters directly before it.
fn action(c: char, marks: &mut usize) -> Action {
    let action = if c.is_control() {
        Action::Control
    } else if is_invisible(c) {
        Action::Unicode
    } else if c.width() == Some(0) {
        *marks += 1;
        return if *marks > MAX_MARKS {
            Action::Drop
        } else {
            Action::Keep
        };
    } else {
        Action::Keep
    };
    *marks = 0;
    action
}

/// Characters that show nothing or reorder their neighbours, decided from the Unicode
/// Character Database (through ICU4X's tables, which follow each Unicode release) rather than
/// a hand-kept list: General Category Cf (format), Zl and Zp (line and paragraph separators),
/// and Default_Ignorable_Code_Point (which adds the Hangul fillers, variation selectors and the
/// unassigned code points reserved as ignorable). U+FE0E and U+FE0F stay: they pick text or
/// emoji presentation for the character before them and hide nothing.
fn is_invisible(c: char) -> bool {
    // Fast path: nothing below U+00AD (soft hyphen) is a format or ignorable character
    // (controls are handled before this is asked).
    if c < '\u{AD}' || matches!(c, '\u{FE0E}' | '\u{FE0F}') {
        return false;
    }
    let category = CodePointMapData::<GeneralCategory>::new().get(c);
    matches!(
        category,
        GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    ) || CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
}

/// Appends `raw`, sanitized, to `out`; stops before `out` would grow past `limit` bytes and then
/// returns false. With `expand_tabs`, a tab becomes four spaces instead of an escape.
fn push_sanitized(out: &mut String, raw: &str, expand_tabs: bool, limit: usize) -> bool {
    let mut marks = 0;
    for c in raw.chars() {
        let before = out.len();
        if expand_tabs && c == '\t' {
            marks = 0;
            out.push_str(TAB);
        } else {
            match action(c, &mut marks) {
                Action::Keep => out.push(c),
                Action::Drop => {}
                Action::Control => push_control_escape(out, c),
                Action::Unicode => out.extend(c.escape_unicode()),
            }
        }
        if out.len() > limit {
            out.truncate(before);
            return false;
        }
    }
    true
}

/// Writes control character `c` as `\n`, `\r`, `\t` or `\xNN`.
fn push_control_escape(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str(r"\n"),
        '\r' => out.push_str(r"\r"),
        '\t' => out.push_str(r"\t"),
        // Writing to a String cannot fail.
        _ => _ = write!(out, "\\x{:02x}", u32::from(c)),
    }
}

/// Splits `s` before every character that takes up room, so zero-width marks stay with the
/// character they modify and a cut never separates them.
fn clusters(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = s;
    std::iter::from_fn(move || {
        let mut chars = rest.char_indices();
        chars.next()?;
        let end = chars
            .find(|&(_, c)| c.width() != Some(0))
            .map_or(rest.len(), |(i, _)| i);
        let (cluster, tail) = rest.split_at_checked(end)?;
        rest = tail;
        Some(cluster)
    })
}

#[cfg(test)]
mod tests {

    #[test]
    fn display_pads_for_cli_tables() {
        assert_eq!(format!("[{:<7}]", SafeText::new("olive")), "[olive  ]");
        assert_eq!(format!("[{:>7}]", SafeText::new("a\x1b")), "[  a\\x1b]");
    }

    use super::*;

    fn clean(raw: &str) -> String {
        sanitize(raw).into_owned()
    }

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        for raw in ["", "hello world", "naïve café", "日本語", "a\u{301}"] {
            assert!(
                matches!(sanitize(raw), Cow::Borrowed(s) if s == raw),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn c0_controls_and_del_are_escaped() {
        assert_eq!(clean("a\0b\x07c\x08d\x1b\x7f"), r"a\x00b\x07c\x08d\x1b\x7f");
        assert_eq!(clean("line\nnext\r\ttab"), r"line\nnext\r\ttab");
        assert_eq!(SafeText::new("a\r\nb").as_str(), r"a\r\nb");
    }

    #[test]
    fn escape_sequences_become_visible_text() {
        assert_eq!(clean("\x1b[2J"), r"\x1b[2J");
        assert_eq!(clean("\x1b[31mred"), r"\x1b[31mred");
        assert_eq!(clean("\x1b]0;title\x07"), r"\x1b]0;title\x07");
        assert_eq!(clean("\x1bPq#0\x1b\\"), r"\x1bPq#0\x1b\");
    }

    #[test]
    fn c1_controls_are_escaped() {
        assert_eq!(clean("a\u{9b}31mb"), r"a\x9b31mb");
        assert_eq!(clean("\u{80}\u{9f}"), r"\x80\x9f");
    }

    #[test]
    fn bidi_and_invisible_characters_are_escaped() {
        assert_eq!(clean("abc\u{202e}txt.exe"), r"abc\u{202e}txt.exe");
        assert_eq!(
            clean("\u{2066}x\u{2069}\u{200e}\u{200f}\u{61c}"),
            r"\u{2066}x\u{2069}\u{200e}\u{200f}\u{61c}"
        );
        assert_eq!(clean("ad\u{200d}min"), r"ad\u{200d}min");
        assert_eq!(
            clean("\u{200b}\u{200c}\u{2060}\u{feff}\u{180e}\u{ad}"),
            r"\u{200b}\u{200c}\u{2060}\u{feff}\u{180e}\u{ad}"
        );
        assert_eq!(clean("a\u{E0041}"), r"a\u{e0041}");
    }

    #[test]
    fn format_characters_are_escaped_by_general_category() {
        // Shorthand format controls and musical symbol beams/phrasing (Cf), which no hand-kept
        // list had.
        for c in ('\u{1BCA0}'..='\u{1BCA3}').chain('\u{1D173}'..='\u{1D17A}') {
            let escaped = format!("a\\u{{{:x}}}b", u32::from(c));
            assert_eq!(clean(&format!("a{c}b")), escaped, "U+{:04X}", u32::from(c));
        }
        // More Cf: Arabic number sign, Syriac abbreviation mark, Mongolian vowel separator,
        // invisible times, Egyptian hieroglyph format controls, language tag.
        for c in [
            '\u{600}',
            '\u{70f}',
            '\u{180e}',
            '\u{2062}',
            '\u{13430}',
            '\u{e0001}',
        ] {
            assert_eq!(clean(&c.to_string()), format!("\\u{{{:x}}}", u32::from(c)));
        }
    }

    #[test]
    fn line_and_paragraph_separators_are_escaped() {
        assert_eq!(clean("a\u{2028}b\u{2029}c"), r"a\u{2028}b\u{2029}c");
    }

    #[test]
    fn default_ignorable_characters_are_escaped() {
        // Hangul fillers: letters (Lo) that draw as blank space, so a name can look empty
        // or padded.
        for c in ['\u{115F}', '\u{1160}', '\u{3164}', '\u{FFA0}'] {
            let escaped = format!("ad\\u{{{:x}}}min", u32::from(c));
            assert_eq!(
                clean(&format!("ad{c}min")),
                escaped,
                "U+{:04X}",
                u32::from(c)
            );
        }
        // Combining grapheme joiner, Khmer inherent vowels, Mongolian free variation
        // selectors, variation selectors (they can carry hidden bytes), and ignorable code
        // points not yet assigned.
        for c in [
            '\u{34f}',
            '\u{17b4}',
            '\u{180b}',
            '\u{fe00}',
            '\u{e0100}',
            '\u{e01ef}',
            '\u{2065}',
            '\u{e0fff}',
        ] {
            assert_eq!(
                clean(&format!("x{c}")),
                format!("x\\u{{{:x}}}", u32::from(c))
            );
        }
        // Text and emoji presentation selectors only choose a glyph: kept.
        assert_eq!(
            clean("\u{2764}\u{fe0f}\u{263a}\u{fe0e}"),
            "\u{2764}\u{fe0f}\u{263a}\u{fe0e}"
        );
    }

    #[test]
    fn visible_text_is_not_taken_for_format_characters() {
        for raw in [
            "Hangul 한글 \u{1100}\u{1161}",
            "Arabic العربية",
            "math ∑∫",
            "NBSP\u{a0}x",
        ] {
            assert_eq!(clean(raw), raw);
        }
    }

    #[test]
    fn long_runs_of_combining_marks_are_cut() {
        let zalgo = format!("e{}x", "\u{301}".repeat(50));
        assert_eq!(clean(&zalgo), format!("e{}x", "\u{301}".repeat(MAX_MARKS)));
        // An escape breaks a run: the marks after it count afresh.
        let split = format!("e{m}\u{200b}{m}", m = "\u{301}".repeat(4));
        assert_eq!(
            clean(&split),
            format!("e{m}\\u{{200b}}{m}", m = "\u{301}".repeat(4))
        );
    }

    #[test]
    fn no_control_survives_in_latin1() {
        for c in '\0'..='\u{a0}' {
            let out = SafeText::new(&format!("x{c}y"));
            assert!(
                !out.as_str().chars().any(char::is_control),
                "{c:?} -> {out:?}"
            );
        }
    }

    #[test]
    fn wide_characters_and_truncation() {
        let text = SafeText::new("日本語");
        assert_eq!(text.width(), 6);
        assert_eq!(text.truncated(6), text);
        assert_eq!(text.truncated(5).as_str(), "日本…");
        assert_eq!(text.truncated(5).width(), 5);
        assert_eq!(text.truncated(4).as_str(), "日…");
        assert_eq!(text.truncated(4).width(), 3);
        assert_eq!(text.truncated(2).as_str(), "…");
        assert_eq!(text.truncated(1).as_str(), "…");
        assert_eq!(text.truncated(0).as_str(), "");
    }

    #[test]
    fn truncation_never_exceeds_the_width() {
        let samples = [
            "plain ascii",
            "日本語とEnglish",
            "e\u{301}\u{302}x\u{300}",
            "\u{644}\u{627}\u{644}\u{627}ab",
            "\u{2764}\u{fe0f}\u{2764}x\u{263a}\u{fe0e}",
            "\u{1100}\u{1161}\u{11a8}\u{1100}",
            "👍🏽 ok 🇩🇪",
            "\x1b[1m\u{202e}",
        ];
        for sample in samples {
            let text = SafeText::new(sample);
            for max in 0..=text.width() + 1 {
                let cut = text.truncated(max);
                assert!(cut.width() <= max, "{sample:?} at {max}: {cut:?}");
                assert_eq!(
                    cut == text,
                    text.width() <= max,
                    "{sample:?} at {max}: {cut:?}"
                );
            }
        }
    }

    #[test]
    fn truncation_keeps_marks_with_their_base() {
        let text = SafeText::new("e\u{301}e\u{301}e\u{301}");
        assert_eq!(text.width(), 3);
        assert_eq!(text.truncated(2).as_str(), "e\u{301}…");
        assert_eq!(SafeText::new("hello").truncated(4).as_str(), "hel…");
    }

    #[test]
    fn emoji() {
        let text = SafeText::new("ok 👍 done");
        assert_eq!(text.as_str(), "ok 👍 done");
        assert_eq!(text.width(), 10);
        assert_eq!(text.truncated(4).as_str(), "ok …");
        assert_eq!(text.truncated(5).as_str(), "ok …");
        assert_eq!(text.truncated(6).as_str(), "ok 👍…");
        // Emoji joined by ZWJ fall apart into their parts, with the joiner visible.
        assert_eq!(clean("👨\u{200d}👩"), r"👨\u{200d}👩");
    }

    #[test]
    fn multiline_splits_and_expands_tabs() {
        let lines = SafeText::multiline("one\r\n\ttwo\nthree\x1b[K\r\n");
        let lines: Vec<&str> = lines.iter().map(SafeText::as_str).collect();
        assert_eq!(lines, ["one", "    two", r"three\x1b[K"]);
        assert!(SafeText::multiline("").is_empty());
        assert_eq!(SafeText::multiline("a\r b")[0].as_str(), r"a\r b");
    }

    #[test]
    fn length_is_bounded() {
        let huge = "a".repeat(MAX_BYTES * 3);
        let text = SafeText::new(&huge);
        assert_eq!(text.as_str().len(), MAX_BYTES + ELLIPSIS.len_utf8());
        assert!(text.as_str().ends_with(ELLIPSIS));
        // Escapes are never cut in half.
        let text = SafeText::from("\x1b".repeat(MAX_BYTES).as_str());
        assert!(text.as_str().trim_end_matches(ELLIPSIS).ends_with(r"\x1b"));
        assert!(text.as_str().len() <= MAX_BYTES + ELLIPSIS.len_utf8());
        // Exactly at the limit: no cut.
        assert_eq!(
            SafeText::from("b".repeat(MAX_BYTES)).as_str().len(),
            MAX_BYTES
        );
    }

    #[test]
    fn conversions() {
        let text = SafeText::from(String::from("x\x07"));
        assert_eq!(text.to_string(), r"x\x07");
        assert_eq!(String::from(text), r"x\x07");
    }
}
