//! The audit viewer (`:audit`): who did what, where and when, newest first, filtered by
//! user, model, action, outcome and time; Enter shows one entry whole (its values as far
//! as the viewer may see them, and its hash in the chain). Older entries load as the
//! cursor reaches the end. `u` reverts the selected change or restores the selected
//! delete, when the session offered it.

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;

use super::history::{change_lines, undo_hint};
use super::text::TextScreen;
use crate::domain::format_time;
use unicode_width::UnicodeWidthStr;

use crate::tui::draw::{placeholder, put, putn, row, GUTTER, HEADER, SELECTED};
use crate::tui::input::{Key, KeyEvent};
use crate::tui::prompt::PromptFor;
use crate::tui::protocol::{AuditQuery, AuditRow, AuditValues, Cmd, Msg, UndoKind};
use crate::tui::sanitize::SafeText;
use crate::tui::screen::{Action, Crumb, Hint, Screen};

/// The audit viewer.
#[derive(Clone, Debug, Default)]
pub struct AuditScreen {
    pub query: AuditQuery,
    /// (entry id, its cells in [`COLUMNS`] order, the entry whole)
    pub rows: Vec<(i64, Vec<SafeText>, Vec<SafeText>)>,
    /// Per entry id: what `u` does with it, where the session offered it.
    pub undo: std::collections::HashMap<i64, UndoKind>,
    pub selected: usize,
    pub offset: usize,
    /// The first of the columns after the time drawn (← → scroll sideways).
    pub col_offset: usize,
    pub more: bool,
    pub loaded: bool,
    pub loading: bool,
}

impl AuditScreen {
    /// The viewer with no filter, with the command that loads it.
    pub fn open() -> (AuditScreen, Vec<Cmd>) {
        let load = Cmd::LoadAudit {
            query: AuditQuery::default(),
            before_id: None,
        };
        (AuditScreen::default(), vec![load])
    }
}

impl Screen for AuditScreen {
    fn crumb(&self) -> Crumb {
        Crumb::text("audit")
    }

    fn key(&mut self, k: KeyEvent) -> Action {
        let n = self.rows.len();
        match k.key {
            Key::Down | Key::Char('j') | Key::PageDown => {
                let step = if k.key == Key::PageDown { 10 } else { 1 };
                if self.selected + step >= n && self.more && !self.loading {
                    self.loading = true;
                    self.selected = (self.selected + step).min(n.saturating_sub(1));
                    return Action::cmd(Cmd::LoadAudit {
                        query: self.query.clone(),
                        before_id: self.rows.last().map(|r| r.0),
                    });
                }
                self.selected = (self.selected + step).min(n.saturating_sub(1));
            }
            Key::Up | Key::Char('k') => self.selected = self.selected.saturating_sub(1),
            Key::PageUp => self.selected = self.selected.saturating_sub(10),
            Key::Home | Key::Char('g') => self.selected = 0,
            Key::Left | Key::Char('h') => self.col_offset = self.col_offset.saturating_sub(1),
            Key::Right | Key::Char('l') => {
                self.col_offset = (self.col_offset + 1).min(COLUMNS.len() - 2)
            }
            Key::Enter => {
                if let Some((id, _, details)) = self.rows.get(self.selected) {
                    let entry = TextScreen::new(&format!("entry {id}"), details.clone(), false);
                    return Action::push(entry, Vec::new());
                }
            }
            Key::Char('f') => return Action::Prompt(PromptFor::AuditFilter, self.query.describe()),
            Key::Char('u') => {
                // Sent even when not offered: the session refuses it (and audits).
                if let Some((id, _, _)) = self.rows.get(self.selected) {
                    return Action::cmd(Cmd::AskUndo { entry: *id });
                }
            }
            _ => return Action::Ignored,
        }
        Action::None
    }

    fn update(&mut self, msg: &Msg) -> Action {
        let Msg::Audit(page) = msg else {
            return Action::None;
        };
        if page.query != self.query {
            return Action::None;
        }
        for r in &page.rows {
            match r.undo {
                Some(kind) => self.undo.insert(r.id, kind),
                None => self.undo.remove(&r.id),
            };
        }
        let rows = page.rows.iter().map(|r| {
            let details = details(r).iter().map(|d| SafeText::new(d)).collect();
            (r.id, cells(r), details)
        });
        if page.appended {
            self.rows.extend(rows);
        } else {
            // Read again (a refresh, a new filter): the selection stays on its entry if
            // it is still listed.
            let kept = self.rows.get(self.selected).map(|r| r.0);
            self.rows = rows.collect();
            self.selected = kept
                .and_then(|id| self.rows.iter().position(|r| r.0 == id))
                .unwrap_or(0);
        }
        self.more = page.more;
        self.loaded = true;
        self.loading = false;
        Action::None
    }

    fn answer(&mut self, what: &PromptFor, text: &str) -> Action {
        if *what != PromptFor::AuditFilter {
            return Action::None;
        }
        match AuditQuery::parse(text) {
            Ok(query) => {
                self.query = query.clone();
                self.loading = true;
                Action::cmd(Cmd::LoadAudit {
                    query,
                    before_id: None,
                })
            }
            Err(why) => Action::Error(why),
        }
    }

    fn refresh(&mut self) -> Vec<Cmd> {
        self.loading = true;
        vec![Cmd::LoadAudit {
            query: self.query.clone(),
            before_id: None,
        }]
    }

    fn failed(&mut self) -> Action {
        self.loading = false;
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
        if self.rows.is_empty() {
            placeholder(buf, area, "No entries match.");
            return None;
        }
        let visible = usize::from(area.height.saturating_sub(1)).max(1);
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + visible {
            self.offset = self.selected + 1 - visible;
        }
        // The time always shows; the other columns in order of what matters most
        // (outcome first), scrolled sideways from `col_offset`.
        let shown: Vec<usize> = std::iter::once(0)
            .chain((1..COLUMNS.len()).skip(self.col_offset))
            .collect();
        let room = usize::from(area.width.saturating_sub(2));
        let mut layout = Vec::new();
        let mut x = 0;
        for c in shown {
            if x >= room {
                break;
            }
            let natural = self
                .rows
                .iter()
                .map(|r| r.1.get(c).map_or(0, SafeText::width))
                .chain(std::iter::once(COLUMNS[c].0.len()))
                .max()
                .unwrap_or(1)
                .min(COLUMNS[c].1);
            let w = natural.min(room - x);
            layout.push((c, x, w));
            x += w + 2;
        }
        let line = |cells: &dyn Fn(usize) -> String| {
            let mut out = String::new();
            for (c, at, w) in &layout {
                out.push_str(&" ".repeat(at.saturating_sub(out.width())));
                let cell = SafeText::new(&cells(*c)).truncated(*w);
                out.push_str(cell.as_str());
            }
            out
        };
        let width = room;
        putn(
            buf,
            area,
            area.x + 2,
            area.y,
            line(&|c| COLUMNS[c].0.to_string()),
            width,
            HEADER,
        );
        for (i, (_, cells, _)) in self.rows.iter().enumerate().skip(self.offset).take(visible) {
            let y = row(area.y + 1, i - self.offset);
            let selected = i == self.selected;
            if selected {
                put(buf, area, area.x, y, GUTTER, Style::new());
            }
            let style = if selected { SELECTED } else { Style::new() };
            let text = line(&|c| {
                cells
                    .get(c)
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default()
            });
            putn(buf, area, area.x + 2, y, text, width, style);
        }
        None
    }

    fn status(&self) -> String {
        match self.query.describe() {
            f if f.is_empty() => "newest first".into(),
            f => format!("newest first  [{}]", SafeText::new(&f)),
        }
    }

    fn hints(&self) -> Vec<Hint> {
        vec![
            Hint::help("↑ ↓  j k", "move (older entries load at the end)"),
            Hint::new("Enter", "details"),
            Hint::help("← →  h l", "scroll the columns after the time"),
            Hint::new("f", "filter"),
            undo_hint(
                self.rows
                    .get(self.selected)
                    .and_then(|r| self.undo.get(&r.0).copied()),
            ),
            Hint::new("Esc", "back"),
        ]
    }
}

/// What an entry is about: `posts #17`, `post_tags (5, 3)`, `posts`, or nothing.
fn what(r: &AuditRow) -> String {
    match (&r.model, &r.pk) {
        // A composite key is recorded as a tuple (see `domain::key_text`).
        (Some(m), Some(pk)) if pk.starts_with('(') && pk.ends_with(')') => format!("{m} {pk}"),
        (Some(m), Some(pk)) => format!("{m} #{pk}"),
        (Some(m), None) => m.clone(),
        _ => String::new(),
    }
}

/// The list's columns in the order they are drawn (what matters most first, the time
/// always), with the widest each is drawn.
const COLUMNS: [(&str, usize); 6] = [
    ("time (UTC)", 19),
    ("outcome", 12),
    ("action", 16),
    ("on", 28),
    ("by", 20),
    ("why", 200),
];

/// An entry's cells, in [`COLUMNS`] order.
fn cells(r: &AuditRow) -> Vec<SafeText> {
    let time = format_time(r.at_ms.div_euclid(1000));
    vec![
        SafeText::new(time.trim_end_matches(" UTC")),
        SafeText::new(&r.outcome),
        SafeText::new(&r.action),
        SafeText::new(&what(r)),
        SafeText::new(r.actor.as_deref().unwrap_or("-")),
        SafeText::new(r.reason.as_deref().unwrap_or("")),
    ]
}

/// The entry whole, a field a line.
fn details(r: &AuditRow) -> Vec<String> {
    let what = what(r);
    let mut lines = vec![
        format!("entry      {}", r.id),
        format!("time       {}", format_time(r.at_ms.div_euclid(1000))),
        format!("actor      {}", r.actor.as_deref().unwrap_or("-")),
        format!("from       {}", r.source_ip.as_deref().unwrap_or("-")),
        format!("session    {}", r.session_id.as_deref().unwrap_or("-")),
        format!("action     {} {what}", r.action),
        format!("outcome    {}", r.outcome),
    ];
    if let Some(reason) = &r.reason {
        lines.push(format!("reason     {reason}"));
    }
    let changes = change_lines(&r.values);
    if matches!(r.values, AuditValues::Changes(_)) && !changes.is_empty() {
        lines.push("changes".into());
    }
    lines.extend(changes);
    lines.push(format!("hash       {}", r.hash));
    lines
}
