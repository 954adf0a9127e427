//! A ratatui backend that renders into a byte buffer of ANSI escape sequences, for
//! sending down an SSH channel.
//!
//! ratatui's `Terminal` diffs each frame against the previous one and hands this backend
//! only the changed cells; the backend adds cursor moves only where cells are not
//! contiguous and style changes only where the style differs, so a cursor move costs a few
//! dozen bytes. In monochrome mode (a client TERM without colours) colours are dropped:
//! text keeps its bold/italic/reverse, and a cell with a background colour is drawn in
//! reverse video so bars and highlights stay visible.
//!
//! The cursor's column after a cell is only known if the terminal agrees with
//! unicode-width on the cell's width. For graphemes where terminals differ (emoji with a
//! variation selector, ZWJ sequences, skin tones, flags, newer emoji, East Asian
//! Ambiguous characters: see [`width_uncertain`]) the next cell is placed with an
//! explicit cursor position, and a wide one is drawn over blanks so that a terminal
//! drawing it narrower shows no stale cell beside it. Plain text costs no extra byte.

use std::fmt::Write as _;
use std::io;

use ratatui::backend::{Backend, ClearType, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use ratatui::style::{Color, Modifier};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Renders frames into bytes; take them with [`AnsiBackend::take_output`].
#[derive(Debug)]
pub struct AnsiBackend {
    out: Vec<u8>,
    size: Size,
    color: bool,
    /// Where the terminal cursor is after what has been written, if known.
    cursor: Option<Position>,
    /// The SGR state last written (None after a reset we did not track).
    style: Option<(Color, Color, Modifier)>,
}

impl AnsiBackend {
    pub fn new(cols: u16, rows: u16, color: bool) -> AnsiBackend {
        AnsiBackend {
            out: Vec::with_capacity(4096),
            size: Size::new(cols, rows),
            color,
            cursor: None,
            style: None,
        }
    }

    /// Bytes that put the client terminal in the state moat draws in: alternate screen,
    /// hidden cursor, bracketed paste on.
    pub const ENTER: &'static [u8] = b"\x1b[?1049h\x1b[?25l\x1b[?2004h\x1b[2J";
    /// Bytes that restore the client terminal when the session ends.
    pub const LEAVE: &'static [u8] = b"\x1b[0m\x1b[?2004l\x1b[?25h\x1b[?1049l";

    /// The terminal changed size; the next draw repaints everything.
    pub fn set_size(&mut self, cols: u16, rows: u16) {
        self.size = Size::new(cols, rows);
        self.cursor = None;
    }

    /// Bytes rendered since the last call.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    fn move_to(&mut self, x: u16, y: u16) {
        if self.cursor != Some(Position::new(x, y)) {
            let _ = write!(Sink(&mut self.out), "\x1b[{};{}H", y + 1, x + 1);
        }
    }

    fn set_style(&mut self, cell: &Cell) {
        let (mut fg, mut bg, mut modifier) = (cell.fg, cell.bg, cell.modifier);
        if !self.color {
            if !matches!(bg, Color::Reset) {
                modifier.toggle(Modifier::REVERSED);
            }
            fg = Color::Reset;
            bg = Color::Reset;
        }
        if self.style == Some((fg, bg, modifier)) {
            return;
        }
        let mut sgr = String::from("\x1b[0");
        for (flag, code) in [
            (Modifier::BOLD, "1"),
            (Modifier::DIM, "2"),
            (Modifier::ITALIC, "3"),
            (Modifier::UNDERLINED, "4"),
            (Modifier::SLOW_BLINK, "5"),
            (Modifier::RAPID_BLINK, "6"),
            (Modifier::REVERSED, "7"),
            (Modifier::HIDDEN, "8"),
            (Modifier::CROSSED_OUT, "9"),
        ] {
            if modifier.contains(flag) {
                sgr.push(';');
                sgr.push_str(code);
            }
        }
        push_color(&mut sgr, fg, false);
        push_color(&mut sgr, bg, true);
        sgr.push('m');
        self.out.extend_from_slice(sgr.as_bytes());
        self.style = Some((fg, bg, modifier));
    }
}

/// Append `;<code>` for a foreground or background colour (nothing for Reset).
fn push_color(sgr: &mut String, color: Color, background: bool) {
    let base = if background { 40 } else { 30 };
    let code = match color {
        Color::Reset => return,
        Color::Black => base,
        Color::Red => base + 1,
        Color::Green => base + 2,
        Color::Yellow => base + 3,
        Color::Blue => base + 4,
        Color::Magenta => base + 5,
        Color::Cyan => base + 6,
        Color::Gray => base + 7,
        Color::DarkGray => base + 60,
        Color::LightRed => base + 61,
        Color::LightGreen => base + 62,
        Color::LightYellow => base + 63,
        Color::LightBlue => base + 64,
        Color::LightMagenta => base + 65,
        Color::LightCyan => base + 66,
        Color::White => base + 67,
        Color::Indexed(i) => {
            let _ = write!(sgr, ";{};5;{i}", base + 8);
            return;
        }
        Color::Rgb(r, g, b) => {
            let _ = write!(sgr, ";{};2;{r};{g};{b}", base + 8);
            return;
        }
    };
    let _ = write!(sgr, ";{code}");
}

/// Whether terminals may put the cursor somewhere else than unicode-width (and so
/// ratatui) says after drawing `symbol`, one grapheme:
///
/// - variation selectors (U+FE0E text, U+FE0F emoji presentation: `☺️` is 2 columns to
///   unicode-width, 1 to many terminals), zero-width joiner sequences (`👩‍💻`: 2, or 4),
///   skin-tone modifiers and regional-indicator flags;
/// - any grapheme whose width is not the sum of its characters' (how a terminal using
///   `wcwidth` per character counts);
/// - East Asian Ambiguous characters (`…`, `•`, `▶`, box drawing: 1 column, or 2 in a
///   terminal set to treat them as wide);
/// - wide emoji and symbols, which terminals with older Unicode tables draw 1 wide.
///
/// CJK ideographs and kana are wide everywhere and do not count. ASCII never does.
pub fn width_uncertain(symbol: &str) -> bool {
    if symbol.is_ascii() {
        return false;
    }
    let mut sum = 0;
    for c in symbol.chars() {
        if matches!(c,
            '\u{FE0E}' | '\u{FE0F}' | '\u{200D}'
            | '\u{1F1E6}'..='\u{1F1FF}'
            | '\u{1F3FB}'..='\u{1F3FF}')
        {
            return true;
        }
        let width = c.width();
        if width != c.width_cjk() {
            return true;
        }
        let width = width.unwrap_or(0);
        if width == 2 && matches!(c, '\u{2300}'..='\u{2BFF}' | '\u{1F000}'..='\u{1FAFF}') {
            return true;
        }
        sum += width;
    }
    sum != symbol.width()
}

/// `fmt::Write` into a byte vector.
struct Sink<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Sink<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

impl Backend for AnsiBackend {
    type Error = io::Error;

    fn draw<'a, I>(&mut self, content: I) -> io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        for (x, y, cell) in content {
            self.move_to(x, y);
            self.set_style(cell);
            let symbol = cell.symbol();
            let width = u16::try_from(symbol.width()).unwrap_or(1).max(1);
            let uncertain = width_uncertain(symbol);
            if uncertain && width > 1 {
                // Blank its columns first: a terminal that draws it narrower then shows
                // a blank beside it, as ratatui has it, not what was there before.
                self.out
                    .extend(std::iter::repeat_n(b' ', usize::from(width)));
                self.cursor = None;
                self.move_to(x, y);
            }
            self.out.extend_from_slice(symbol.as_bytes());
            // Where the terminal's cursor is now is its own idea: the next cell says.
            self.cursor = (!uncertain).then(|| Position::new(x.saturating_add(width), y));
        }
        Ok(())
    }

    fn hide_cursor(&mut self) -> io::Result<()> {
        self.out.extend_from_slice(b"\x1b[?25l");
        Ok(())
    }

    fn show_cursor(&mut self) -> io::Result<()> {
        self.out.extend_from_slice(b"\x1b[?25h");
        Ok(())
    }

    fn get_cursor_position(&mut self) -> io::Result<Position> {
        Ok(self.cursor.unwrap_or_default())
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> io::Result<()> {
        let p = position.into();
        self.cursor = None;
        self.move_to(p.x, p.y);
        self.cursor = Some(p);
        Ok(())
    }

    fn clear(&mut self) -> io::Result<()> {
        self.clear_region(ClearType::All)
    }

    fn clear_region(&mut self, clear_type: ClearType) -> io::Result<()> {
        // Erase with default colours, then forget the SGR state.
        self.out.extend_from_slice(b"\x1b[0m");
        self.style = None;
        let seq: &[u8] = match clear_type {
            ClearType::All => b"\x1b[2J",
            ClearType::AfterCursor => b"\x1b[J",
            ClearType::BeforeCursor => b"\x1b[1J",
            ClearType::CurrentLine => b"\x1b[2K",
            ClearType::UntilNewLine => b"\x1b[K",
        };
        self.out.extend_from_slice(seq);
        Ok(())
    }

    fn size(&self) -> io::Result<Size> {
        Ok(self.size)
    }

    fn window_size(&mut self) -> io::Result<WindowSize> {
        Ok(WindowSize {
            columns_rows: self.size,
            pixels: Size::default(),
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::style::Style;
    use ratatui::Terminal;

    fn terminal(color: bool) -> Terminal<AnsiBackend> {
        Terminal::new(AnsiBackend::new(20, 3, color)).unwrap()
    }

    #[test]
    fn only_changed_cells_are_sent() {
        let mut t = terminal(true);
        t.draw(|f| f.buffer_mut().set_string(0, 0, "hello", Style::new()))
            .unwrap();
        let first = t.backend_mut().take_output();
        assert!(String::from_utf8_lossy(&first).contains("hello"));
        t.draw(|f| f.buffer_mut().set_string(0, 0, "hallo", Style::new()))
            .unwrap();
        let second = String::from_utf8(t.backend_mut().take_output()).unwrap();
        assert!(second.contains("\x1b[1;2Ha"), "{second:?}");
        assert!(!second.contains("llo"), "{second:?}");
    }

    #[test]
    fn monochrome_drops_colours_and_reverses_backgrounds() {
        let mut t = terminal(false);
        t.draw(|f| {
            let bar = Style::new().fg(Color::White).bg(Color::Blue);
            f.buffer_mut().set_string(0, 0, "bar", bar);
            f.buffer_mut()
                .set_string(0, 1, "red", Style::new().fg(Color::Red));
        })
        .unwrap();
        let out = String::from_utf8(t.backend_mut().take_output()).unwrap();
        assert!(out.contains("\x1b[0;7mbar"), "{out:?}");
        assert!(!out.contains(";31") && !out.contains(";44"), "{out:?}");
        let mut t = terminal(true);
        t.draw(|f| {
            f.buffer_mut()
                .set_string(0, 1, "red", Style::new().fg(Color::Red))
        })
        .unwrap();
        let out = String::from_utf8(t.backend_mut().take_output()).unwrap();
        assert!(out.contains("\x1b[0;31mred"), "{out:?}");
    }

    /// What a cell costs the next one: the bytes written after `symbol` when `symbol`
    /// and then "ab" are drawn at the start of the first row.
    fn after(symbol: &str) -> String {
        let mut t = terminal(true);
        t.draw(|f| {
            f.buffer_mut()
                .set_string(0, 0, format!("{symbol}ab"), Style::new())
        })
        .unwrap();
        let out = String::from_utf8(t.backend_mut().take_output()).unwrap();
        let (_, rest) = out.split_once(symbol).unwrap_or_default();
        rest.to_string()
    }

    #[test]
    fn which_graphemes_have_an_uncertain_width() {
        for certain in ["a", " ", "é", "ß", "日", "語", "ア", "e\u{301}"] {
            assert!(!width_uncertain(certain), "{certain:?}");
        }
        for uncertain in [
            "☺\u{fe0f}",    // emoji presentation of a text-default symbol
            "⌚\u{fe0e}",   // text presentation of an emoji
            "👩\u{200d}💻", // ZWJ sequence
            "👍\u{1f3fd}",  // skin tone
            "🇫🇷",           // flag
            "🫠",           // a newer emoji
            "…",            // East Asian Ambiguous
            "▶",
            "─",
        ] {
            assert!(width_uncertain(uncertain), "{uncertain:?}");
        }
    }

    #[test]
    fn after_a_cell_of_uncertain_width_the_next_is_placed_explicitly() {
        for symbol in ["☺\u{fe0f}", "👩\u{200d}💻", "👍\u{1f3fd}", "🇫🇷", "…", "•"]
        {
            let next_x = UnicodeWidthStr::width(symbol);
            let expected = format!("\x1b[1;{}Ha", next_x + 1);
            let rest = after(symbol);
            assert!(rest.starts_with(&expected), "{symbol:?} then {rest:?}");
        }
        // Plain and CJK text stays one run of characters.
        assert!(after("é").starts_with("ab"), "{:?}", after("é"));
        assert!(after("日").starts_with("ab"), "{:?}", after("日"));
    }

    #[test]
    fn a_wide_cell_of_uncertain_width_is_drawn_over_blanks() {
        let mut t = terminal(true);
        t.draw(|f| f.buffer_mut().set_string(0, 0, "x☺\u{fe0f}y", Style::new()))
            .unwrap();
        let out = String::from_utf8(t.backend_mut().take_output()).unwrap();
        assert!(out.contains("x  \x1b[1;2H☺\u{fe0f}\x1b[1;4Hy"), "{out:?}");
    }

    #[test]
    fn a_row_scrolled_under_an_emoji_lands_where_ratatui_has_it() {
        // The diff-only case that garbled rows: an emoji moves in, the cells after it
        // change, the column it covers was blank before (so it is not sent again). vt100
        // draws `☺️` 1 column wide and `👩‍💻` 4 wide, unicode-width says 2: the cells
        // after them must still land where ratatui put them.
        for emoji in ["☺\u{fe0f}", "👩\u{200d}💻"] {
            let mut t = terminal(true);
            let mut screen = vt100::Parser::new(3, 20, 0);
            for text in ["a bcdefgh".to_string(), format!("{emoji}cdefghij")] {
                t.draw(|f| f.buffer_mut().set_string(0, 0, &text, Style::new()))
                    .unwrap();
                screen.process(&t.backend_mut().take_output());
            }
            let cells: Vec<&str> = (2..10)
                .map(|x| screen.screen().cell(0, x).map(|c| c.contents()))
                .map(Option::unwrap_or_default)
                .collect();
            assert_eq!(cells.concat(), "cdefghij", "{emoji:?}: {cells:?}");
        }
    }

    #[test]
    fn resize_repaints_everything() {
        let mut t = terminal(true);
        t.draw(|f| f.buffer_mut().set_string(0, 0, "x", Style::new()))
            .unwrap();
        t.backend_mut().take_output();
        t.backend_mut().set_size(30, 4);
        t.draw(|f| f.buffer_mut().set_string(0, 0, "x", Style::new()))
            .unwrap();
        let out = String::from_utf8(t.backend_mut().take_output()).unwrap();
        assert!(out.contains("\x1b[2J") && out.contains('x'), "{out:?}");
    }
}
