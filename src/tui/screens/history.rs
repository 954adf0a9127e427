//! A row's history (`H` on a record): its audit entries, newest first, each with the
//! columns it changed (before → after), as far as the viewer may see them.

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;

use super::text::wrapped;
use crate::domain::{format_time, Value};
use crate::tui::draw::{placeholder, putn, row, HEADER};
use crate::tui::input::{Key, KeyEvent};
use crate::tui::protocol::{AuditRow, AuditValue, AuditValues, Change, Cmd, Msg};
use crate::tui::sanitize::SafeText;
use crate::tui::screen::{Action, Crumb, Hint, Screen};

/// What a masked value looks like.
const MASK: &str = "••••";

/// A row's audit trail.
#[derive(Clone, Debug)]
pub struct HistoryScreen {
    pub model: String,
    pub key: Vec<Value>,
    pub lines: Vec<SafeText>,
    pub scroll: usize,
    pub loaded: bool,
    /// Lines after wrapping, and those that fit, from the last draw.
    wrapped: usize,
    visible: usize,
}

impl HistoryScreen {
    /// The history of row `key` of `model`, with the command that loads it.
    pub fn open(model: &str, key: Vec<Value>) -> (HistoryScreen, Vec<Cmd>) {
        let load = Cmd::LoadHistory {
            model: model.to_string(),
            key: key.clone(),
        };
        let screen = HistoryScreen {
            model: model.to_string(),
            key,
            lines: Vec::new(),
            scroll: 0,
            loaded: false,
            wrapped: 0,
            visible: 1,
        };
        (screen, vec![load])
    }
}

impl Screen for HistoryScreen {
    fn crumb(&self) -> Crumb {
        Crumb::text("history")
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

    fn update(&mut self, msg: &Msg) -> Action {
        if let Msg::History {
            model,
            key,
            entries,
        } = msg
        {
            if *model == self.model && *key == self.key {
                self.lines = entries
                    .iter()
                    .flat_map(|e| std::iter::once(heading(e)).chain(change_lines(&e.values)))
                    .map(|l| SafeText::new(&l))
                    .collect();
                self.loaded = true;
            }
        }
        Action::None
    }

    fn refresh(&mut self) -> Vec<Cmd> {
        vec![Cmd::LoadHistory {
            model: self.model.clone(),
            key: self.key.clone(),
        }]
    }

    fn failed(&mut self) -> Action {
        if self.loaded {
            Action::None
        } else {
            Action::Pop
        }
    }

    fn draw(&mut self, buf: &mut Buffer, area: Rect) -> Option<Position> {
        if !self.loaded {
            placeholder(buf, area, "loading…");
            return None;
        }
        if self.lines.is_empty() {
            placeholder(buf, area, "No recorded changes.");
            return None;
        }
        // Long values wrap under their column instead of running off the screen.
        let width = usize::from(area.width.saturating_sub(4));
        let lines = wrapped(&self.lines, width);
        self.wrapped = lines.len();
        self.visible = usize::from(area.height).max(1);
        self.scroll = self.scroll.min(self.wrapped.saturating_sub(self.visible));
        for (i, (line, heading)) in lines
            .iter()
            .skip(self.scroll)
            .take(self.visible)
            .enumerate()
        {
            let style = if *heading { HEADER } else { Style::new() };
            putn(buf, area, area.x + 2, row(area.y, i), line, width, style);
        }
        None
    }

    fn status(&self) -> String {
        "newest first".into()
    }

    fn hints(&self) -> Vec<Hint> {
        vec![
            Hint::new("j/k", "scroll"),
            Hint::help("PgUp PgDn g G", "page, top, bottom"),
            Hint::new("Esc", "back"),
        ]
    }
}

/// An entry's heading: `2026-12-01 10:00:00  alice  change success (why)`.
fn heading(e: &AuditRow) -> String {
    let who = e.actor.as_deref().unwrap_or("?");
    let why = e
        .reason
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    format!(
        "{}  {who}  {} {}{why}",
        format_time(e.at_ms.div_euclid(1000)),
        e.action,
        e.outcome
    )
}

/// A value as the history shows it: text quoted (with escapes), NULL as `∅`.
fn shown(v: &AuditValue) -> String {
    match v {
        AuditValue::Null => "∅".into(),
        AuditValue::Masked => MASK.into(),
        AuditValue::Text(s) => format!("{s:?}"),
        AuditValue::Other(json) => json.clone(),
    }
}

/// The lines of an entry's values, indented under its heading: one per column changed
/// (`title: "old" → "new"`), or the recorded JSON, or why they are not shown.
pub fn change_lines(values: &AuditValues) -> Vec<String> {
    match values {
        AuditValues::None => Vec::new(),
        AuditValues::Changes(changes) => changes.iter().map(change_line).collect(),
        AuditValues::Raw { before, after } => [("before", before), ("after", after)]
            .iter()
            .filter_map(|(label, v)| v.as_ref().map(|v| format!("{label:<10} {v}")))
            .collect(),
        AuditValues::Withheld => vec![
            "values     not shown: you may not view this row (moat.view_audit_values shows them)"
                .into(),
        ],
    }
}

fn change_line(c: &Change) -> String {
    match (&c.before, &c.after) {
        (Some(b), Some(a)) => format!("    {}: {} → {}", c.column, shown(b), shown(a)),
        (Some(b), None) => format!("    {}: {}", c.column, shown(b)),
        (None, Some(a)) => format!("    {}: {}", c.column, shown(a)),
        (None, None) => format!("    {}", c.column),
    }
}
