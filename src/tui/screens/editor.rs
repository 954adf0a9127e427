//! A multi-line editor for one text field of a form (Ctrl-E).

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;

use crate::tui::draw::{putn, row, ERROR};
use crate::tui::input::{Key, KeyEvent};
use crate::tui::sanitize::SafeText;
use crate::tui::screen::{Action, Crumb, Handoff, Hint, Screen};

/// A multi-line editor for one text field (Ctrl-E in a form): arrows move, Enter breaks
/// the line, Backspace at a line's start joins it to the one above, Ctrl-S keeps the text,
/// Esc drops the changes. Control characters other than line breaks are refused.
#[derive(Clone, Debug)]
pub struct TextEditor {
    /// The form field this edits.
    pub field: usize,
    pub label: SafeText,
    pub lines: Vec<String>,
    pub row: usize,
    /// Cursor column, in characters.
    pub col: usize,
    /// First line drawn (kept by `draw`).
    pub scroll: usize,
    pub error: Option<String>,
}

/// What a key in the editor asks for.
#[derive(Debug, PartialEq)]
pub enum EditorAction {
    None,
    Keep,
    Drop,
}

impl TextEditor {
    pub fn new(field: usize, label: SafeText, text: &str) -> TextEditor {
        let lines: Vec<String> = text.split('\n').map(str::to_string).collect();
        TextEditor {
            field,
            label,
            row: 0,
            col: 0,
            scroll: 0,
            error: None,
            lines: if lines.is_empty() {
                vec![String::new()]
            } else {
                lines
            },
        }
    }

    pub fn text(&self) -> String {
        self.lines.join("\n")
    }

    fn line_len(&self, row: usize) -> usize {
        self.lines.get(row).map_or(0, |l| l.chars().count())
    }

    fn insert(&mut self, text: &str) {
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            self.error = Some("control characters are not accepted".into());
            return;
        }
        for ch in text.chars() {
            if ch == '\n' {
                let at = byte_index(&self.lines[self.row], self.col);
                let rest = self.lines[self.row].split_off(at);
                self.lines.insert(self.row + 1, rest);
                self.row += 1;
                self.col = 0;
            } else {
                let s = if ch == '\t' {
                    "    ".to_string()
                } else {
                    ch.to_string()
                };
                let at = byte_index(&self.lines[self.row], self.col);
                self.lines[self.row].insert_str(at, &s);
                self.col += s.chars().count();
            }
        }
    }

    /// Pasted text, line breaks kept.
    pub fn paste(&mut self, text: &str) {
        self.error = None;
        self.insert(&text.replace("\r\n", "\n").replace('\r', "\n"));
    }

    pub fn key(&mut self, k: KeyEvent) -> EditorAction {
        self.error = None;
        let ctrl = k.mods.ctrl;
        match k.key {
            Key::Char('s') if ctrl => return EditorAction::Keep,
            Key::Esc => return EditorAction::Drop,
            Key::Char(c) if !ctrl && !k.mods.alt => self.insert(&c.to_string()),
            Key::Enter => self.insert("\n"),
            Key::Backspace if self.col > 0 => {
                let at = byte_index(&self.lines[self.row], self.col - 1);
                self.lines[self.row].remove(at);
                self.col -= 1;
            }
            Key::Backspace if self.row > 0 => {
                let line = self.lines.remove(self.row);
                self.row -= 1;
                self.col = self.line_len(self.row);
                self.lines[self.row].push_str(&line);
            }
            Key::Delete if self.col < self.line_len(self.row) => {
                let at = byte_index(&self.lines[self.row], self.col);
                self.lines[self.row].remove(at);
            }
            Key::Delete if self.row + 1 < self.lines.len() => {
                let next = self.lines.remove(self.row + 1);
                self.lines[self.row].push_str(&next);
            }
            Key::Left if self.col > 0 => self.col -= 1,
            Key::Left if self.row > 0 => {
                self.row -= 1;
                self.col = self.line_len(self.row);
            }
            Key::Right if self.col < self.line_len(self.row) => self.col += 1,
            Key::Right if self.row + 1 < self.lines.len() => {
                self.row += 1;
                self.col = 0;
            }
            Key::Up if self.row > 0 => {
                self.row -= 1;
                self.col = self.col.min(self.line_len(self.row));
            }
            Key::Down if self.row + 1 < self.lines.len() => {
                self.row += 1;
                self.col = self.col.min(self.line_len(self.row));
            }
            Key::Home => self.col = 0,
            Key::End => self.col = self.line_len(self.row),
            Key::PageUp => {
                self.row = self.row.saturating_sub(10);
                self.col = self.col.min(self.line_len(self.row));
            }
            Key::PageDown => {
                self.row = (self.row + 10).min(self.lines.len() - 1);
                self.col = self.col.min(self.line_len(self.row));
            }
            _ => {}
        }
        EditorAction::None
    }
}

impl Screen for TextEditor {
    fn crumb(&self) -> Crumb {
        Crumb {
            model: None,
            text: Some(self.label.clone()),
        }
    }

    fn key(&mut self, k: KeyEvent) -> Action {
        match TextEditor::key(self, k) {
            EditorAction::None => Action::None,
            EditorAction::Drop => Action::Pop,
            EditorAction::Keep => Action::PopWith(Handoff::Text {
                field: self.field,
                text: self.text(),
            }),
        }
    }

    fn paste(&mut self, text: &str) {
        TextEditor::paste(self, text);
    }

    fn takes_all_keys(&self) -> bool {
        true
    }

    fn draw(&mut self, buf: &mut Buffer, area: Rect) -> Option<Position> {
        draw_editor(self, buf, area)
    }

    fn hints(&self) -> Vec<Hint> {
        vec![
            Hint::new("arrows", "move"),
            Hint::new("Enter", "new line"),
            Hint::new("Ctrl-S", "keep"),
            Hint::new("Esc", "drop changes"),
        ]
    }
}

/// The editor; returns where the cursor goes.
fn draw_editor(e: &mut TextEditor, buf: &mut Buffer, area: Rect) -> Option<Position> {
    if let Some(err) = &e.error {
        let err = SafeText::new(err);
        putn(
            buf,
            area,
            area.x + 2,
            area.y,
            err.as_str(),
            usize::from(area.width),
            ERROR,
        );
    }
    let rows = usize::from(area.height.saturating_sub(1)).max(1);
    if e.row < e.scroll {
        e.scroll = e.row;
    } else if e.row >= e.scroll + rows {
        e.scroll = e.row + 1 - rows;
    }
    let width = usize::from(area.width.saturating_sub(4)).max(1);
    let mut cursor = None;
    for (i, line) in e.lines.iter().enumerate().skip(e.scroll).take(rows) {
        let y = row(area.y + 1, i - e.scroll);
        let chars: Vec<char> = line.chars().collect();
        // Scroll a long line sideways so the cursor stays visible.
        let start = if i == e.row {
            e.col.saturating_sub(width.saturating_sub(1))
        } else {
            0
        };
        let shown: String = chars.iter().skip(start).collect();
        let safe = SafeText::new(&shown).truncated(width);
        putn(buf, area, area.x + 2, y, safe.as_str(), width, Style::new());
        if i == e.row {
            let before: String = chars
                .iter()
                .skip(start)
                .take(e.col - start.min(e.col))
                .collect();
            let x = area.x + 2 + u16::try_from(SafeText::new(&before).width()).unwrap_or(0);
            cursor = Some(Position::new(x.min(area.right().saturating_sub(1)), y));
        }
    }
    cursor
}

/// The byte index of character `chars` of `s` (its end when past it).
pub(super) fn byte_index(s: &str, chars: usize) -> usize {
    s.char_indices().nth(chars).map_or(s.len(), |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(e: &mut TextEditor, ks: &[KeyEvent]) {
        for k in ks {
            e.key(*k);
        }
    }

    #[test]
    fn lines_break_join_and_move() {
        let mut e = TextEditor::new(0, SafeText::new("body"), "ab\ncd");
        keys(
            &mut e,
            &[KeyEvent::plain(Key::Right), KeyEvent::plain(Key::Enter)],
        );
        assert_eq!(e.text(), "a\nb\ncd");
        keys(&mut e, &[KeyEvent::plain(Key::Backspace)]);
        assert_eq!(e.text(), "ab\ncd");
        keys(
            &mut e,
            &[
                KeyEvent::plain(Key::Down),
                KeyEvent::plain(Key::End),
                KeyEvent::plain(Key::Char('!')),
            ],
        );
        assert_eq!(e.text(), "ab\ncd!");
        e.paste("x\r\ny\x1b[2J");
        assert!(e.error.is_some());
        assert_eq!(e.text(), "ab\ncd!", "a refused paste changes nothing");
        e.paste("\nmore\tline");
        assert_eq!(e.text(), "ab\ncd!\nmore    line");
        assert_eq!(e.key(KeyEvent::ctrl('s')), EditorAction::Keep);
        assert_eq!(e.key(KeyEvent::plain(Key::Esc)), EditorAction::Drop);
    }
}
