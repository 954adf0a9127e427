//! A row's history (`H` on a record): its audit entries, newest first, each with the
//! columns it changed (before → after), as far as the viewer may see them. `j`/`k` move
//! between entries (the selected one is marked); `u` reverts the selected change or
//! restores the selected delete, when the session offered it (see
//! [`super::undo::UndoScreen`]).

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;

use super::text::wrapped;
use crate::domain::{format_time, Value};
use crate::tui::draw::{placeholder, put, putn, row, GUTTER, HEADER};
use crate::tui::input::{Key, KeyEvent};
use crate::tui::protocol::{AuditRow, AuditValue, AuditValues, Change, Cmd, Msg, UndoKind};
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
    /// Per entry: its id and what `u` does with it (`None`: not offered).
    pub entries: Vec<(i64, Option<UndoKind>)>,
    /// Per line of `lines`: the entry it belongs to.
    line_entry: Vec<usize>,
    /// The entry selected (`u` acts on it).
    pub selected: usize,
    /// Lines after wrapping, and those that fit, from the last draw.
    wrapped: usize,
    visible: usize,
    /// Per entry: its first line after wrapping, from the last draw.
    starts: Vec<usize>,
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
            entries: Vec::new(),
            line_entry: Vec::new(),
            selected: 0,
            wrapped: 0,
            visible: 1,
            starts: Vec::new(),
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
        let last = self.entries.len().saturating_sub(1);
        match k.key {
            // Entry by entry: the selected one's heading goes to the top.
            Key::Down | Key::Char('j') | Key::Up | Key::Char('k') => {
                self.selected = if matches!(k.key, Key::Down | Key::Char('j')) {
                    (self.selected + 1).min(last)
                } else {
                    self.selected.saturating_sub(1)
                };
                self.scroll = self.starts.get(self.selected).copied().unwrap_or(0);
            }
            Key::Char('u') => {
                return match self.entries.get(self.selected) {
                    // Sent even when not offered: the session refuses it (and audits).
                    Some((id, _)) => Action::cmd(Cmd::AskUndo { entry: *id }),
                    None => Action::None,
                };
            }
            // Line by line; the selection follows to the entry at the top.
            Key::PageDown | Key::Char(' ') => self.scroll += page,
            Key::PageUp => self.scroll = self.scroll.saturating_sub(page),
            Key::Home | Key::Char('g') => self.scroll = 0,
            Key::End | Key::Char('G') => self.scroll = max,
            _ => return Action::Ignored,
        }
        self.scroll = self.scroll.min(max);
        if !matches!(k.key, Key::Down | Key::Char('j') | Key::Up | Key::Char('k')) {
            self.selected = self
                .starts
                .iter()
                .rposition(|s| *s <= self.scroll)
                .unwrap_or(0);
        }
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
                // Read again (after a revert): the selection stays on its entry.
                let kept = self.entries.get(self.selected).map(|e| e.0);
                self.lines.clear();
                self.line_entry.clear();
                for (i, e) in entries.iter().enumerate() {
                    for line in std::iter::once(heading(e)).chain(change_lines(&e.values)) {
                        self.lines.push(SafeText::new(&line));
                        self.line_entry.push(i);
                    }
                }
                self.entries = entries.iter().map(|e| (e.id, e.undo)).collect();
                self.selected = kept
                    .and_then(|id| self.entries.iter().position(|e| e.0 == id))
                    .unwrap_or(0);
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
        let mut lines = Vec::new();
        self.starts = vec![0; self.entries.len()];
        for (i, line) in self.lines.iter().enumerate() {
            let entry = self.line_entry.get(i).copied().unwrap_or(0);
            if i == 0 || self.line_entry.get(i - 1) != Some(&entry) {
                if let Some(s) = self.starts.get_mut(entry) {
                    *s = lines.len();
                }
            }
            lines.extend(wrapped(std::slice::from_ref(line), width));
        }
        self.wrapped = lines.len();
        self.visible = usize::from(area.height).max(1);
        self.scroll = self.scroll.min(self.wrapped.saturating_sub(self.visible));
        let marked = self.starts.get(self.selected).copied();
        for (i, (line, heading)) in lines
            .iter()
            .enumerate()
            .skip(self.scroll)
            .take(self.visible)
        {
            let y = row(area.y, i - self.scroll);
            let style = if *heading { HEADER } else { Style::new() };
            if marked == Some(i) {
                put(buf, area, area.x, y, GUTTER, Style::new());
            }
            putn(buf, area, area.x + 2, y, line, width, style);
        }
        None
    }

    fn status(&self) -> String {
        "newest first".into()
    }

    fn hints(&self) -> Vec<Hint> {
        let undo = self.entries.get(self.selected).and_then(|e| e.1);
        vec![
            Hint::new("j/k", "entry"),
            Hint::help("PgUp PgDn g G", "page, top, bottom"),
            undo_hint(undo),
            Hint::new("Esc", "back"),
        ]
    }
}

/// The `u` key as an entry offers it: enabled only when the session said the viewer
/// may revert or restore it.
pub fn undo_hint(undo: Option<UndoKind>) -> Hint {
    match undo {
        Some(UndoKind::Revert) => Hint::new("u", "revert this change"),
        Some(UndoKind::Restore) => Hint::new("u", "restore this row"),
        None => Hint::new("u", "revert or restore").when(false),
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
