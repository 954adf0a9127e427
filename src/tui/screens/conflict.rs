//! A save refused because the row changed since the form was opened. One block per field
//! that differs — as it was when the form opened, as the user typed it, as it is now —
//! with the whole values wrapped; fields nobody changed are left out (and counted).
//! `o` overwrites with the user's values (audited as an overwrite); `r` reopens the form on
//! the row as it is now with the user's edits kept aside to put back (Ctrl-Y on a field);
//! Esc goes back to the form as it was.

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;

use crate::domain::Value;
use crate::tui::draw::{putn, row, wrap, DIM, ERROR, HEADER, NOTICE, NULL, NULL_TEXT};
use crate::tui::input::{Key, KeyEvent};
use crate::tui::protocol::{Cmd, Msg};
use crate::tui::sanitize::SafeText;
use crate::tui::screen::{Action, Crumb, Handoff, Hint, Screen};

/// One field of the conflict: (column, opened with, yours, now).
type Field = (String, Value, Value, Value);

/// The conflict screen.
#[derive(Clone, Debug)]
pub struct ConflictScreen {
    pub model: String,
    pub key: Vec<Value>,
    fields: Vec<Field>,
    /// First line drawn, and how many lines the last draw had (for scrolling).
    pub scroll: usize,
    lines: usize,
    visible: usize,
    /// A revert of this audit entry was refused (not a save): the values are what the
    /// entry left, what the revert would write, and now; nothing to overwrite or reload.
    pub undo: Option<i64>,
}

impl ConflictScreen {
    /// From the session's answer: (column, opened with, yours, now) per field.
    pub fn new(model: &str, key: &[Value], fields: &[Field]) -> Self {
        ConflictScreen {
            model: model.to_string(),
            key: key.to_vec(),
            fields: fields.to_vec(),
            scroll: 0,
            lines: 0,
            visible: 1,
            undo: None,
        }
    }

    /// A revert of audit entry `entry` refused because the row changed since: (column,
    /// what the entry left, what the revert would write, now) per column.
    pub fn undo(entry: i64, model: &str, key: &[Value], fields: &[Field]) -> Self {
        ConflictScreen {
            undo: Some(entry),
            ..ConflictScreen::new(model, key, fields)
        }
    }

    /// The fields where the three values are not all the same.
    fn differing(&self) -> impl Iterator<Item = &Field> {
        self.fields
            .iter()
            .filter(|(_, opened, yours, now)| !(opened == yours && yours == now))
    }

    /// The lines to draw at `width` columns: per differing field its name, then each of
    /// its three values wrapped, the ones that differ from when the form opened marked.
    fn layout(&self, width: usize) -> Vec<(String, Style)> {
        let width = width.max(10);
        let headline = match self.undo {
            None => "This row changed since you opened it. Nothing was saved.".to_string(),
            Some(entry) => {
                format!("This row changed since audit entry {entry}. Nothing was reverted.")
            }
        };
        let labels = match self.undo {
            None => ["when you opened it", "yours", "now"],
            Some(_) => ["the entry left", "revert would write", "now"],
        };
        let mut lines = vec![(headline, ERROR), (String::new(), Style::new())];
        for (column, opened, yours, now) in self.differing() {
            lines.push((SafeText::new(column).to_string(), HEADER));
            for (label, v) in [(labels[0], opened), (labels[1], yours), (labels[2], now)] {
                let style = match v {
                    Value::Null => NULL,
                    _ if v != opened => NOTICE,
                    _ => Style::new(),
                };
                let text = match v {
                    Value::Null => NULL_TEXT.to_string(),
                    other => other.to_string(),
                };
                let mut first = true;
                for line in SafeText::multiline(&text) {
                    for piece in wrap(line.as_str(), width.saturating_sub(22)) {
                        let head = if first { label } else { "" };
                        first = false;
                        lines.push((format!("  {head:<19} {piece}"), style));
                    }
                }
            }
            lines.push((String::new(), Style::new()));
        }
        let same = self.fields.len() - self.differing().count();
        if same > 0 && self.undo.is_none() {
            lines.push((
                format!("{same} other fields are as they were when you opened the form."),
                DIM,
            ));
        }
        lines
    }
}

impl Screen for ConflictScreen {
    fn crumb(&self) -> Crumb {
        Crumb::text("conflict")
    }

    fn key(&mut self, k: KeyEvent) -> Action {
        let page = self.visible.max(1);
        let max = self.lines.saturating_sub(self.visible);
        match k.key {
            // A refused revert has nothing to overwrite or reload: it is looked at, then
            // left (the entry's history shows the row as it is).
            Key::Char('o' | 'r') if self.undo.is_some() => {}
            // Overwrite: save yours over what is there now (audited as an overwrite).
            Key::Char('o') => {
                return Action::cmd(Cmd::Save {
                    model: self.model.clone(),
                    key: Some(self.key.clone()),
                    original: self
                        .fields
                        .iter()
                        .map(|(c, _, _, now)| (c.clone(), now.clone()))
                        .collect(),
                    values: self
                        .fields
                        .iter()
                        .map(|(c, _, yours, _)| (c.clone(), yours.clone()))
                        .collect(),
                    overwrite: true,
                })
            }
            // Reload: the form below reopens on the row as it is now, with yours aside.
            Key::Char('r') => {
                return Action::PopWith(Handoff::Reload {
                    model: self.model.clone(),
                    key: self.key.clone(),
                })
            }
            // Back to the form, changes kept.
            Key::Esc => return Action::Pop,
            Key::Down | Key::Char('j') => self.scroll = (self.scroll + 1).min(max),
            Key::Up | Key::Char('k') => self.scroll = self.scroll.saturating_sub(1),
            Key::PageDown | Key::Char(' ') => self.scroll = (self.scroll + page).min(max),
            Key::PageUp => self.scroll = self.scroll.saturating_sub(page),
            _ => {}
        }
        Action::None
    }

    fn update(&mut self, msg: &Msg) -> Action {
        match msg {
            Msg::Saved { model, key, .. } if *model == self.model && *key == self.key => {
                Action::Pop
            }
            _ => Action::None,
        }
    }

    fn takes_all_keys(&self) -> bool {
        true
    }

    fn draw(&mut self, buf: &mut Buffer, area: Rect) -> Option<Position> {
        let width = usize::from(area.width.saturating_sub(4));
        let lines = self.layout(width);
        self.lines = lines.len();
        self.visible = usize::from(area.height).max(1);
        self.scroll = self.scroll.min(self.lines.saturating_sub(self.visible));
        for (i, (text, style)) in lines
            .iter()
            .skip(self.scroll)
            .take(self.visible)
            .enumerate()
        {
            putn(buf, area, area.x + 2, row(area.y, i), text, width, *style);
        }
        None
    }

    fn hints(&self) -> Vec<Hint> {
        if self.undo.is_some() {
            return vec![
                Hint::new("Esc", "back"),
                Hint::help("↑ ↓  PgUp PgDn", "scroll"),
            ];
        }
        vec![
            Hint::new("o", "overwrite with yours"),
            Hint::new("r", "reload theirs"),
            Hint::new("Esc", "back to your form"),
            Hint::help("↑ ↓  PgUp PgDn", "scroll"),
        ]
    }
}
