//! What surrounds every screen: the title bar with the breadcrumbs and the user, the
//! footer (the screen's keys, or the status, a question, a prompt, an export's progress),
//! and the boxes drawn over everything (a dialog, the help, new backup codes).

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use super::app::{App, Status};
use super::backup_codes::draw_backup_codes;
use super::draw::{bar, boxed, putn, wrap, DIM, ERROR, FOOTER, HEADER, NOTICE, PROMPT, TITLE};
use super::sanitize::SafeText;
use super::screen::Hint;
use crate::domain::{group_thousands, RowCount};

impl App {
    /// Draw the whole console: the title bar, the screen on top, the footer (its keys, or
    /// the status, a question, a prompt), and the overlays.
    pub fn draw(&mut self, frame: &mut Frame) {
        let area = frame.area();
        if area.height < 3 || area.width < 10 {
            // No room for the layout: say so in what room there is.
            let buf = frame.buffer_mut();
            let lines = wrap("moat: make the terminal larger", usize::from(area.width));
            for (line, y) in lines.iter().zip(area.top()..area.bottom()) {
                putn(buf, area, area.x, y, line, usize::MAX, NOTICE);
            }
            if let Some(b) = &mut self.backup_codes {
                b.shown = false;
            }
            return;
        }
        let body = Rect::new(area.x, area.y + 1, area.width, area.height - 2);
        let footer = Rect::new(area.x, area.bottom() - 1, area.width, 1);
        let crumbs = self.crumbs();
        let buf = frame.buffer_mut();
        bar(
            buf,
            Rect::new(area.x, area.y, area.width, 1),
            &crumbs,
            self.user.as_str(),
            TITLE,
        );
        let (cursor, hints) = match self.stack.last_mut() {
            Some(top) => {
                // A screen that needs more rows than the body may cover the title bar.
                let room = if top.min_height() > body.height {
                    Rect::new(area.x, area.y, area.width, footer.y - area.y)
                } else {
                    body
                };
                let cursor = top.draw(buf, room);
                (
                    cursor,
                    footer_line(&top.status(), &top.hints(), usize::from(area.width)),
                )
            }
            None => (None, String::new()),
        };
        let hints = match &self.backup_codes {
            Some(_) => " Enter I have stored them: save them  Esc drop them".to_string(),
            None => hints,
        };
        if let Some(p) = &self.prompt {
            // What is typed was checked key by key (printable characters only).
            let shown = if p.what.masked() {
                "•".repeat(p.text.chars().count())
            } else {
                SafeText::new(&p.text).to_string()
            };
            // A long line (a pasted key) shows its end, where typing happens.
            let room = usize::from(area.width)
                .saturating_sub(p.what.label().width() + 24)
                .max(8);
            let shown = if shown.width() > room {
                let tail: String = shown
                    .chars()
                    .rev()
                    .scan(0, |w, c| {
                        *w += unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
                        (*w < room).then_some(c)
                    })
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                format!("…{tail}")
            } else {
                shown
            };
            let line = format!(" {}{shown}█", p.what.label());
            let keys = match &p.recall {
                Some(r) if p.text.is_empty() => {
                    format!("↑ {}  Enter ok  Esc cancel", SafeText::new(r).truncated(24))
                }
                _ => "Enter ok  Esc cancel".to_string(),
            };
            bar(buf, footer, &line, &keys, PROMPT);
        } else if let (Some((rows, total)), None) = (self.export, &self.status) {
            bar(buf, footer, &export_progress(rows, total), "", NOTICE);
        } else if let Some((question, _)) = &self.confirm {
            let line = format!(" {question}  [y/N]");
            if line.width() <= usize::from(footer.width) {
                bar(buf, footer, &line, "", NOTICE);
            } else {
                // Too long for one line: the whole question in a box, wrapped.
                let width = usize::from(area.width.saturating_sub(6)).clamp(10, 76);
                let lines: Vec<(String, Style)> = wrap(question.as_str(), width)
                    .into_iter()
                    .map(|l| (l, Style::new()))
                    .collect();
                boxed(buf, area, " confirm ", &lines);
                bar(buf, footer, " y: yes   any other key: no", "", NOTICE);
            }
        } else {
            match (&self.status, &self.warning) {
                (Some(Status::Error(text)), _) | (None, Some(text)) => {
                    bar(buf, footer, &format!(" {text}"), "", ERROR)
                }
                (Some(Status::Notice(text)), _) => {
                    bar(buf, footer, &format!(" {text}"), "", NOTICE)
                }
                (None, None) => bar(buf, footer, &hints, "", FOOTER),
            }
        }
        if let Some(lines) = &self.dialog {
            let lines: Vec<(String, Style)> = lines
                .iter()
                .map(|l| (l.as_str().to_string(), Style::new()))
                .collect();
            boxed(buf, area, " any key closes ", &lines);
        }
        if let Some(skip) = self.help {
            let hints = self.stack.last().map(|s| s.hints()).unwrap_or_default();
            draw_help(buf, area, &hints, skip);
        }
        if let Some(b) = &mut self.backup_codes {
            draw_backup_codes(b, buf, area);
        }
        let overlaid = self.prompt.is_some()
            || self.confirm.is_some()
            || self.help.is_some()
            || self.backup_codes.is_some();
        if let (Some(p), false) = (cursor, overlaid) {
            frame.set_cursor_position(p);
        }
    }

    /// `moat › posts › #17`: each screen's crumb; a model is named once, where it starts.
    fn crumbs(&self) -> String {
        let mut s = String::from(" moat");
        let mut shown_model: Option<String> = None;
        for screen in self.stack.iter().map(|e| &e.screen) {
            let crumb = screen.crumb();
            if let Some((name, label)) = crumb.model {
                if shown_model.as_deref() != Some(name.as_str()) {
                    s.push_str(" › ");
                    s.push_str(label.as_str());
                    shown_model = Some(name);
                }
            }
            if let Some(text) = crumb.text {
                s.push_str(" › ");
                s.push_str(text.as_str());
            }
        }
        s
    }
}

/// Whether a hint is the one that opens the help (`?`, or F1 where `?` is typed as text).
fn is_help(keys: &str) -> bool {
    keys == "?" || keys == "F1"
}

/// The footer: where the user is, then the keys they may use now.
/// Hints are taken in the screen's order while they fit in `width` columns; `? help` (or
/// `F1 help`), when the screen offers it, is kept at the end (the help lists every key).
fn footer_line(status: &str, hints: &[Hint], width: usize) -> String {
    let text = |h: &Hint| match (h.keys, h.what) {
        ("", what) => what.to_string(),
        (keys, "") => keys.to_string(),
        (keys, what) => format!("{keys} {what}"),
    };
    let shown: Vec<&Hint> = hints.iter().filter(|h| h.footer && h.enabled).collect();
    let help = shown.iter().find(|h| is_help(h.keys)).map(|h| text(h));
    let mut line = format!(" {status}");
    let reserve = help.as_ref().map_or(0, |h| h.width() + 2);
    for h in shown.iter().filter(|h| !is_help(h.keys)) {
        let part = text(h);
        let sep = if line.trim().is_empty() { "" } else { "  " };
        if line.width() + sep.len() + part.width() + reserve > width {
            break;
        }
        line.push_str(sep);
        line.push_str(&part);
    }
    if let Some(help) = help {
        let sep = if line.trim().is_empty() { "" } else { "  " };
        line.push_str(sep);
        line.push_str(&help);
    }
    line
}

/// The keys every screen shares, after its own in the help.
const GLOBAL_KEYS: [(&str, &str); 10] = [
    (":MODEL [KEY]", "open a model, or one of its rows"),
    (":", "users groups sessions audit q"),
    (":", "password backup-codes keys (yours)"),
    (":reload", "read the database's tables again (superusers)"),
    ("Ctrl-R", "read this screen again"),
    ("Ctrl-L", "draw the terminal again"),
    ("?", "this help"),
    ("F1", "this help, also while typing in a form or prompt"),
    ("q", "back; at the index, quit"),
    ("Ctrl-C", "quit"),
];

/// The rows of the help: the screen's own keys (`?` is among the shared ones), with
/// whether the user may use each now, then the keys every screen shares.
fn help_rows(hints: &[Hint]) -> Vec<(&str, &str, bool)> {
    let mut rows: Vec<(&str, &str, bool)> = hints
        .iter()
        .map(|h| (h.keys, h.what, h.enabled))
        .filter(|(k, _, _)| !k.is_empty() && !is_help(k))
        .collect();
    rows.extend(GLOBAL_KEYS.iter().map(|(k, w)| (*k, *w, true)));
    rows
}

impl App {
    /// How many rows the help of the screen on top has (for scrolling it).
    pub(super) fn help_rows(&self) -> usize {
        let hints = self.stack.last().map(|s| s.hints()).unwrap_or_default();
        help_rows(&hints).len()
    }
}

/// The help box, scrolled down `skip` rows: the screen's keys (those the user may not use
/// now greyed), then the keys every screen shares. A help taller than the terminal says
/// that ↓ shows more.
fn draw_help(buf: &mut ratatui::buffer::Buffer, area: Rect, hints: &[Hint], skip: usize) {
    let rows = help_rows(hints);
    let h = u16::try_from(rows.len().saturating_add(4)).unwrap_or(u16::MAX);
    let widest = rows.iter().map(|(_, w, _)| w.width()).max().unwrap_or(0) + 18;
    let w = u16::try_from(widest.max(50)).unwrap_or(u16::MAX);
    let rect = super::draw::centred(area, w, h);
    let (x, y, w) = (rect.x, rect.y, rect.width);
    // Rows 2 .. bottom-1 hold keys; keep the last screenful in view.
    let fits = usize::from(rect.height.saturating_sub(3)).max(1);
    let skip = skip.min(rows.len().saturating_sub(fits));
    let below = rows.len() > skip + fits;
    let title = match (skip > 0, below) {
        (false, false) => " Keys — any key closes ",
        (false, true) => " Keys — ↓ more, any other key closes ",
        (true, true) => " Keys — ↑ ↓ more, any other key closes ",
        (true, false) => " Keys — ↑ more, any other key closes ",
    };
    ratatui::widgets::Widget::render(ratatui::widgets::Clear, rect, buf);
    ratatui::widgets::Widget::render(
        ratatui::widgets::Block::default()
            .borders(ratatui::widgets::Borders::ALL)
            .title(title),
        rect,
        buf,
    );
    for (i, (keys, what, enabled)) in rows.iter().skip(skip).enumerate() {
        let row = super::draw::row(y + 2, i);
        if row + 1 >= rect.bottom() {
            break;
        }
        let (key_style, what_style) = if *enabled {
            (HEADER, Style::new())
        } else {
            (DIM, DIM)
        };
        putn(buf, rect, x + 2, row, keys, 12, key_style);
        let width = usize::from(w.saturating_sub(17));
        putn(buf, rect, x + 15, row, what, width, what_style);
    }
}

/// `exporting… 1,000 of 2,000 rows [#####     ]`
fn export_progress(rows: u64, total: Option<RowCount>) -> String {
    let done = group_thousands(rows);
    match total {
        Some(RowCount::Exact(n)) if n > 0 => {
            let filled = usize::try_from(u128::from(rows.min(n)) * 20 / u128::from(n))
                .unwrap_or(20)
                .min(20);
            format!(
                " exporting… {done} of {} rows [{}{}]",
                group_thousands(n),
                "#".repeat(filled),
                " ".repeat(20 - filled)
            )
        }
        Some(t) => format!(" exporting… {done} of {t} rows"),
        None => format!(" exporting… {done} rows"),
    }
}
