//! Lines of text to read: wrapped to the terminal's width, scrolled with ↑ ↓ PgUp PgDn.
//! One audit entry whole (Enter in `:audit`) is shown this way, long before → after values
//! included.

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;

use crate::tui::draw::{putn, row, wrap, HEADER};
use crate::tui::input::{Key, KeyEvent};
use crate::tui::sanitize::SafeText;
use crate::tui::screen::{Action, Crumb, Hint, Screen};

/// Text to read.
#[derive(Clone, Debug)]
pub struct TextScreen {
    crumb: String,
    /// The lines.
    pub lines: Vec<SafeText>,
    /// Whether lines that start without a space are headings (drawn as such).
    headings: bool,
    pub scroll: usize,
    /// Lines after wrapping, and those that fit, from the last draw.
    wrapped: usize,
    visible: usize,
}

impl TextScreen {
    pub fn new(crumb: &str, lines: Vec<SafeText>, headings: bool) -> TextScreen {
        TextScreen {
            crumb: crumb.to_string(),
            lines,
            headings,
            scroll: 0,
            wrapped: 0,
            visible: 1,
        }
    }
}

/// `lines` wrapped to `width`; a continuation keeps its line's indentation (plus two), so
/// a long value stays under its field.
pub fn wrapped(lines: &[SafeText], width: usize) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for line in lines {
        let text = line.as_str();
        let indent = text.len() - text.trim_start().len();
        let heading = indent == 0;
        let mut first = true;
        let pad = " ".repeat(indent + 2);
        for piece in wrap(text.trim_start(), width.saturating_sub(indent + 2).max(8)) {
            let lead = if first { &pad[..indent] } else { pad.as_str() };
            out.push((format!("{lead}{piece}"), heading && first));
            first = false;
        }
    }
    out
}

impl Screen for TextScreen {
    fn crumb(&self) -> Crumb {
        Crumb::text(&self.crumb)
    }

    fn key(&mut self, k: KeyEvent) -> Action {
        let max = self.wrapped.saturating_sub(self.visible);
        let page = self.visible.max(1);
        self.scroll = match k.key {
            Key::Down | Key::Char('j') => self.scroll + 1,
            Key::Up | Key::Char('k') => self.scroll.saturating_sub(1),
            Key::PageDown | Key::Char(' ') => self.scroll + page,
            Key::PageUp => self.scroll.saturating_sub(page),
            Key::Home | Key::Char('g') => 0,
            Key::End | Key::Char('G') => max,
            _ => return Action::Ignored,
        }
        .min(max);
        Action::None
    }

    fn draw(&mut self, buf: &mut Buffer, area: Rect) -> Option<Position> {
        let width = usize::from(area.width.saturating_sub(4));
        let lines = wrapped(&self.lines, width);
        self.wrapped = lines.len();
        self.visible = usize::from(area.height).max(1);
        self.scroll = self.scroll.min(self.wrapped.saturating_sub(self.visible));
        for (i, (text, heading)) in lines
            .iter()
            .skip(self.scroll)
            .take(self.visible)
            .enumerate()
        {
            let style = if *heading && self.headings {
                HEADER
            } else {
                Style::new()
            };
            putn(buf, area, area.x + 2, row(area.y, i), text, width, style);
        }
        None
    }

    fn status(&self) -> String {
        format!(
            "line {}/{}",
            (self.scroll + 1).min(self.wrapped.max(1)),
            self.wrapped.max(1)
        )
    }

    fn hints(&self) -> Vec<Hint> {
        vec![
            Hint::new("j/k", "scroll"),
            Hint::help("PgUp PgDn g G", "page, top, bottom"),
            Hint::new("Esc", "back"),
        ]
    }
}
