//! A ratatui backend that renders into a byte buffer of ANSI escape sequences, for
//! sending down an SSH channel.
//!
//! ratatui's `Terminal` diffs each frame against the previous one and hands this backend
//! only the changed cells; the backend adds cursor moves only where cells are not
//! contiguous and style changes only where the style differs, so a cursor move costs a few
//! dozen bytes. In monochrome mode (a client TERM without colours) colours are dropped:
//! text keeps its bold/italic/reverse, and a cell with a background colour is drawn in
//! reverse video so bars and highlights stay visible.

use std::fmt::Write as _;
use std::io;

use ratatui::backend::{Backend, ClearType, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use ratatui::style::{Color, Modifier};

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
            self.out.extend_from_slice(symbol.as_bytes());
            let width = u16::try_from(unicode_width::UnicodeWidthStr::width(symbol)).unwrap_or(1);
            self.cursor = Some(Position::new(x.saturating_add(width.max(1)), y));
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
