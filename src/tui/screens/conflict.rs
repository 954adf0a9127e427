//! A save refused because the row changed since the form was opened: each field as it was
//! when the form opened, as the user typed it, and as it is now. `o` overwrites with the
//! user's values (audited as an overwrite), `r` drops them and shows the row as it is,
//! Esc goes back to the form with the user's changes kept.

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;

use crate::domain::Value;
use crate::tui::draw::{putn, row, ERROR, HEADER, LIST_CELL_WIDTH, NOTICE};
use crate::tui::input::{Key, KeyEvent};
use crate::tui::protocol::{Cmd, Msg};
use crate::tui::sanitize::SafeText;
use crate::tui::screen::{Action, Crumb, Handoff, Hint, Screen};

/// The conflict screen.
#[derive(Clone, Debug)]
pub struct ConflictScreen {
    pub model: String,
    pub key: Vec<Value>,
    /// (column, opened with, yours, now)
    pub rows: Vec<(SafeText, SafeText, SafeText, SafeText)>,
    yours: Vec<(String, Value)>,
    now: Vec<(String, Value)>,
}

impl ConflictScreen {
    /// From the session's answer: (column, opened with, yours, now) per field.
    pub fn new(model: &str, key: &[Value], fields: &[(String, Value, Value, Value)]) -> Self {
        let text = |v: &Value| match v {
            Value::Null => SafeText::new("∅ NULL"),
            other => SafeText::new(&other.to_string()).truncated(LIST_CELL_WIDTH),
        };
        ConflictScreen {
            rows: fields
                .iter()
                .map(|(c, opened, yours, now)| {
                    (SafeText::new(c), text(opened), text(yours), text(now))
                })
                .collect(),
            yours: fields
                .iter()
                .map(|(c, _, y, _)| (c.clone(), y.clone()))
                .collect(),
            now: fields
                .iter()
                .map(|(c, _, _, n)| (c.clone(), n.clone()))
                .collect(),
            model: model.to_string(),
            key: key.to_vec(),
        }
    }
}

impl Screen for ConflictScreen {
    fn crumb(&self) -> Crumb {
        Crumb::text("conflict")
    }

    fn key(&mut self, k: KeyEvent) -> Action {
        match k.key {
            // Overwrite: save yours over what is there now (audited as an overwrite).
            Key::Char('o') => Action::cmd(Cmd::Save {
                model: self.model.clone(),
                key: Some(self.key.clone()),
                original: self.now.clone(),
                values: self.yours.clone(),
                overwrite: true,
            }),
            // Reload: drop yours (the form closes too), show the row as it is now.
            Key::Char('r') => Action::PopWith(Handoff::Reload {
                model: self.model.clone(),
                key: self.key.clone(),
            }),
            // Back to the form, changes kept.
            Key::Esc => Action::Pop,
            _ => Action::None,
        }
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
        putn(
            buf,
            area,
            area.x + 2,
            area.y,
            "This row changed since you opened it. Nothing was saved.",
            usize::from(area.width.saturating_sub(4)),
            ERROR,
        );
        let w = usize::from(area.width.saturating_sub(6)) / 4;
        let cols = ["field", "when you opened it", "yours", "now"];
        for (j, h) in cols.iter().enumerate() {
            let x = area.x + 2 + u16::try_from(j * (w + 1)).unwrap_or(0);
            putn(buf, area, x, area.y + 2, h, w, HEADER);
        }
        for (i, (name, opened, yours, now)) in self.rows.iter().enumerate() {
            let y = row(area.y + 3, i);
            if y >= area.bottom() {
                break;
            }
            let differs = opened != now || yours != opened;
            for (j, cell) in [name, opened, yours, now].iter().enumerate() {
                let x = area.x + 2 + u16::try_from(j * (w + 1)).unwrap_or(0);
                let style = if differs && j > 0 {
                    NOTICE
                } else {
                    Style::new()
                };
                putn(buf, area, x, y, cell.truncated(w).as_str(), w, style);
            }
        }
        None
    }

    fn hints(&self) -> Vec<Hint> {
        vec![
            Hint::new("o", "overwrite with yours"),
            Hint::new("r", "reload theirs"),
            Hint::new("Esc", "back to your form"),
        ]
    }
}
