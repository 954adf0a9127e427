//! The column chooser of a list (`c`): which of the model's columns the list shows, in
//! what order. Kept for the user by the session (in moat's own tables); `r` goes back to
//! the model's default (config `list`, else every column). Only columns the user may see
//! are offered: the session sends no others.

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;

use crate::tui::draw::{put, putn, row, GUTTER, HEADER, SELECTED};
use crate::tui::input::{Key, KeyEvent};
use crate::tui::protocol::Cmd;
use crate::tui::sanitize::SafeText;
use crate::tui::screen::{Action, Crumb, Hint, Screen};

/// The chooser: every column, shown ones first in their order, then the others.
#[derive(Clone, Debug)]
pub struct ColumnsScreen {
    pub model: String,
    /// (column, shown)
    pub items: Vec<(String, bool)>,
    pub default: Vec<String>,
    pub selected: usize,
}

impl ColumnsScreen {
    /// The chooser for `model`: `chosen` shown in their order, the rest of `all` after
    /// them in the table's order, not shown.
    pub fn new(model: &str, all: &[String], chosen: &[String], default: &[String]) -> Self {
        ColumnsScreen {
            model: model.to_string(),
            items: arranged(all, chosen),
            default: default.to_vec(),
            selected: 0,
        }
    }

    /// The columns to show, in order.
    pub fn shown(&self) -> Vec<String> {
        self.items
            .iter()
            .filter(|(_, on)| *on)
            .map(|(c, _)| c.clone())
            .collect()
    }

    /// Move the selected column one place up (`-1`) or down (`1`).
    fn shift(&mut self, by: isize) {
        let to = self.selected.checked_add_signed(by);
        if let Some(to) = to.filter(|t| *t < self.items.len()) {
            self.items.swap(self.selected, to);
            self.selected = to;
        }
    }
}

/// `chosen` (those of `all`) in their order, shown; then the rest of `all`, not shown.
fn arranged(all: &[String], chosen: &[String]) -> Vec<(String, bool)> {
    chosen
        .iter()
        .filter(|c| all.contains(c))
        .map(|c| (c.clone(), true))
        .chain(
            all.iter()
                .filter(|c| !chosen.contains(c))
                .map(|c| (c.clone(), false)),
        )
        .collect()
}

impl Screen for ColumnsScreen {
    fn crumb(&self) -> Crumb {
        Crumb::text("columns")
    }

    fn key(&mut self, k: KeyEvent) -> Action {
        let last = self.items.len().saturating_sub(1);
        match k.key {
            Key::Down | Key::Char('j') => self.selected = (self.selected + 1).min(last),
            Key::Up | Key::Char('k') => self.selected = self.selected.saturating_sub(1),
            Key::Char('J') => self.shift(1),
            Key::Char('K') => self.shift(-1),
            Key::Char(' ') => {
                if let Some((_, on)) = self.items.get_mut(self.selected) {
                    *on = !*on;
                }
            }
            Key::Char('r') => {
                return Action::Many(vec![
                    Action::cmd(Cmd::SetColumns {
                        model: self.model.clone(),
                        columns: None,
                    }),
                    Action::Pop,
                ]);
            }
            Key::Enter => {
                let shown = self.shown();
                if shown.is_empty() {
                    return Action::Error(
                        "a list needs at least one column (Space shows one)".into(),
                    );
                }
                return Action::Many(vec![
                    Action::cmd(Cmd::SetColumns {
                        model: self.model.clone(),
                        columns: Some(shown),
                    }),
                    Action::Pop,
                ]);
            }
            _ => return Action::Ignored,
        }
        Action::None
    }

    fn draw(&mut self, buf: &mut Buffer, area: Rect) -> Option<Position> {
        let head = format!(
            "columns of the list, in order (default: {})",
            SafeText::new(&self.default.join(", "))
        );
        putn(
            buf,
            area,
            area.x + 2,
            area.y,
            head,
            usize::from(area.width.saturating_sub(4)),
            HEADER,
        );
        let visible = usize::from(area.height.saturating_sub(1)).max(1);
        let offset = self.selected.saturating_sub(visible - 1);
        let w = usize::from(area.width.saturating_sub(4));
        for (i, (name, on)) in self.items.iter().enumerate().skip(offset).take(visible) {
            let y = row(area.y + 1, i - offset);
            let selected = i == self.selected;
            if selected {
                put(buf, area, area.x, y, GUTTER, Style::new());
            }
            let style = if selected { SELECTED } else { Style::new() };
            let mark = if *on { "[x]" } else { "[ ]" };
            let line = format!(
                "{mark} {}",
                SafeText::new(name).truncated(w.saturating_sub(4))
            );
            putn(buf, area, area.x + 2, y, line, w, style);
        }
        None
    }

    fn hints(&self) -> Vec<Hint> {
        vec![
            Hint::help("↑ ↓  j k", "move"),
            Hint::new("Space", "show/hide"),
            Hint::new("K J", "move up/down"),
            Hint::new("Enter", "keep"),
            Hint::new("r", "reset to the default"),
            Hint::new("Esc", "cancel"),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn chosen_first_in_their_order_then_the_rest_hidden() {
        let s = ColumnsScreen::new(
            "posts",
            &names(&["id", "title", "body", "status"]),
            &names(&["status", "id", "gone"]),
            &names(&["id", "title"]),
        );
        assert_eq!(
            s.items,
            vec![
                ("status".into(), true),
                ("id".into(), true),
                ("title".into(), false),
                ("body".into(), false)
            ]
        );
        assert_eq!(s.shown(), names(&["status", "id"]));
    }

    #[test]
    fn moving_and_toggling_changes_what_is_kept() {
        let mut s = ColumnsScreen::new(
            "posts",
            &names(&["id", "title", "body"]),
            &names(&["id", "title"]),
            &names(&["id", "title"]),
        );
        let key = |c| KeyEvent::plain(Key::Char(c));
        s.key(key('J')); // id below title
        assert_eq!(s.shown(), names(&["title", "id"]));
        s.key(key('j'));
        s.key(key(' ')); // body shown
        assert_eq!(s.shown(), names(&["title", "id", "body"]));
        s.key(key('K'));
        assert_eq!(s.shown(), names(&["title", "body", "id"]));
        // Nothing shown: refused, nothing sent.
        for c in [' ', 'k', ' ', 'j', 'j', ' '] {
            s.key(key(c));
        }
        assert!(s.shown().is_empty());
        assert!(matches!(
            s.key(KeyEvent::plain(Key::Enter)),
            Action::Error(_)
        ));
    }
}
