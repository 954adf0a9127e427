//! The confirmation of a revert or a restore (`u` on an entry in `H` or `:audit`): it
//! names the target — model, key, audit entry — and every column and value that will be
//! written (for a revert, with the value the row must still hold). `y` asks the session
//! to do it (after a fresh verification code, like a delete); Esc or `n` goes back.

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;

use crate::domain::{key_label, Value};
use crate::tui::draw::{blob_summary, putn, row, DIM, HEADER, NOTICE, NULL, NULL_TEXT};
use crate::tui::input::{Key, KeyEvent};
use crate::tui::protocol::{Cmd, Msg, UndoKind, UndoPlan};
use crate::tui::sanitize::SafeText;
use crate::tui::screen::{Action, Crumb, Hint, Screen};

/// The confirmation.
#[derive(Clone, Debug)]
pub struct UndoScreen {
    pub plan: UndoPlan,
    pub scroll: usize,
    lines: usize,
    visible: usize,
}

impl UndoScreen {
    pub fn new(plan: UndoPlan) -> UndoScreen {
        UndoScreen {
            plan,
            scroll: 0,
            lines: 0,
            visible: 1,
        }
    }

    /// Whether `msg` answers this confirmation's entry.
    fn answers(&self, msg: &Msg) -> bool {
        match msg {
            Msg::Undone { entry, .. } | Msg::UndoConflict { entry, .. } => {
                *entry == self.plan.entry
            }
            _ => false,
        }
    }

    /// The lines to draw: the question, then per column its value (and, for a revert, the
    /// value the row must still hold).
    fn layout(&self) -> Vec<(String, Style)> {
        let p = &self.plan;
        let target = format!(
            "{} {}",
            SafeText::new(&p.model),
            SafeText::new(&key_label(&p.key))
        );
        let mut lines = match p.kind {
            UndoKind::Revert => vec![
                (
                    format!("Revert audit entry {} on {target}?", p.entry),
                    HEADER,
                ),
                (
                    "Writes back these values, if the row still holds what the entry left:"
                        .to_string(),
                    Style::new(),
                ),
            ],
            UndoKind::Restore => vec![
                (
                    format!("Restore {target}, deleted in audit entry {}?", p.entry),
                    HEADER,
                ),
                (
                    "The row is inserted again with its key and these values:".to_string(),
                    Style::new(),
                ),
            ],
        };
        lines.push((String::new(), Style::new()));
        let width = p
            .values
            .iter()
            .map(|(c, _)| SafeText::new(c).width())
            .max()
            .unwrap_or(0)
            .min(30);
        for (column, value) in &p.values {
            let name = SafeText::new(column).truncated(width);
            let pad = " ".repeat(width.saturating_sub(name.width()));
            let style = if value.is_null() { NULL } else { Style::new() };
            lines.push((format!("  {name}{pad}  {}", shown(value)), style));
            if let Some((_, now)) = p.expected.iter().find(|(c, _)| c == column) {
                let blank = " ".repeat(width);
                lines.push((format!("  {blank}  (now {})", shown(now)), DIM));
            }
        }
        if p.hidden_left > 0 {
            lines.push((String::new(), Style::new()));
            lines.push((
                match p.hidden_left {
                    1 => "1 column it changed is hidden from you: left as it is.".to_string(),
                    n => format!("{n} columns it changed are hidden from you: left as they are."),
                },
                NOTICE,
            ));
        }
        lines
    }
}

/// A value on one line: text as it is (escaped), NULL as `∅ NULL`, bytes as their size
/// and first bytes.
fn shown(v: &Value) -> String {
    match v {
        Value::Null => NULL_TEXT.to_string(),
        Value::Text(s) => SafeText::new(&format!("{s:?}")).to_string(),
        Value::Blob(b) => blob_summary(b),
        other => SafeText::new(&other.to_string()).to_string(),
    }
}

impl Screen for UndoScreen {
    fn crumb(&self) -> Crumb {
        Crumb::text(self.plan.kind.verb())
    }

    fn key(&mut self, k: KeyEvent) -> Action {
        let max = self.lines.saturating_sub(self.visible);
        match k.key {
            Key::Char('y') => {
                return Action::cmd(Cmd::Undo {
                    entry: self.plan.entry,
                })
            }
            Key::Char('n') | Key::Esc => return Action::Pop,
            Key::Down | Key::Char('j') => self.scroll = (self.scroll + 1).min(max),
            Key::Up | Key::Char('k') => self.scroll = self.scroll.saturating_sub(1),
            _ => return Action::Ignored,
        }
        Action::None
    }

    fn update(&mut self, msg: &Msg) -> Action {
        if self.answers(msg) {
            Action::Pop
        } else {
            Action::None
        }
    }

    fn failed(&mut self) -> Action {
        Action::Pop
    }

    fn draw(&mut self, buf: &mut Buffer, area: Rect) -> Option<Position> {
        let width = usize::from(area.width.saturating_sub(4));
        let lines = self.layout();
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

    fn status(&self) -> String {
        format!("entry {}", self.plan.entry)
    }

    fn hints(&self) -> Vec<Hint> {
        let yes = match self.plan.kind {
            UndoKind::Revert => Hint::new("y", "revert"),
            UndoKind::Restore => Hint::new("y", "restore"),
        };
        vec![yes, Hint::new("Esc", "cancel"), Hint::help("j/k", "scroll")]
    }
}
