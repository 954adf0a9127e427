//! Drawing: `App` → ratatui buffer. Pure; the only strings drawn are [`SafeText`] (or
//! pieces of one) and moat's own literals.
//!
//! Layout: a title bar on the first row, the screen body, a footer with key hints (or the
//! status message) on the last row. The selected row is marked with a gutter arrow and
//! its first cell in reverse video; the rest of the row is left alone so that moving the
//! cursor repaints a few cells, not two whole rows.

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, Borders, Clear, Widget};
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use super::app::{
    App, CellText, DetailScreen, FieldValue, IndexScreen, ListScreen, Screen, Status,
    LIST_CELL_WIDTH,
};
use super::app::{AuditScreen, ConflictScreen, FilterScreen, HistoryScreen};
use super::form::{FieldKind, FormScreen, TextEditor};
use super::manage::ManageScreen;
use super::sanitize::SafeText;
use crate::domain::{group_thousands, RowCount};

const TITLE: Style = Style::new()
    .fg(Color::White)
    .bg(Color::Blue)
    .add_modifier(Modifier::BOLD);
const HEADER: Style = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
const SELECTED: Style = Style::new().add_modifier(Modifier::REVERSED);
const NULL: Style = Style::new()
    .fg(Color::DarkGray)
    .add_modifier(Modifier::ITALIC);
const DIM: Style = Style::new().fg(Color::DarkGray);
const FOOTER: Style = Style::new().fg(Color::Black).bg(Color::Gray);
const ERROR: Style = Style::new()
    .fg(Color::White)
    .bg(Color::Red)
    .add_modifier(Modifier::BOLD);
const NOTICE: Style = Style::new()
    .fg(Color::Black)
    .bg(Color::Yellow)
    .add_modifier(Modifier::BOLD);
const PROMPT: Style = Style::new()
    .fg(Color::White)
    .bg(Color::DarkGray)
    .add_modifier(Modifier::BOLD);
const GUTTER: &str = "▶";
/// How NULL is shown: distinct from any text by its style (and in monochrome by italics).
const NULL_TEXT: &str = "∅ NULL";

/// Draw the whole console.
pub fn draw(app: &mut App, frame: &mut Frame) {
    let area = frame.area();
    if area.height < 3 || area.width < 10 {
        // No room for the layout: say so in what room there is.
        let buf = frame.buffer_mut();
        let lines = wrap("moat: make the terminal larger", usize::from(area.width));
        for (line, y) in lines.iter().zip(area.top()..area.bottom()) {
            put(buf, area, area.x, y, line, NOTICE);
        }
        if let Some(b) = &mut app.backup_codes {
            b.shown = false;
        }
        return;
    }
    let body = Rect::new(area.x, area.y + 1, area.width, area.height - 2);
    let footer = Rect::new(area.x, area.bottom() - 1, area.width, 1);
    let mut cursor = None;
    let buf = frame.buffer_mut();
    let crumbs = crumbs(app);
    bar(
        buf,
        Rect::new(area.x, area.y, area.width, 1),
        &crumbs,
        app.user.as_str(),
        TITLE,
    );

    let hints = match app.stack.last_mut() {
        Some(Screen::Index(s)) => {
            draw_index(s, buf, body);
            " Enter open  j/k move  ? help  q quit".to_string()
        }
        Some(Screen::List(s)) => {
            draw_list(s, buf, body);
            let mut search = match &s.query.search {
                Some(term) => format!("  /{}", SafeText::new(term)),
                None => String::new(),
            };
            if s.search_path == crate::domain::SearchPath::ShortTerm {
                search.push_str(" (under 3 characters: scanned, not indexed)");
            }
            for f in &s.query.filters {
                search.push_str(&format!("  [{}]", SafeText::new(&f.to_string())));
            }
            if s.query != crate::domain::ListQuery::default() {
                search.push_str("  Esc clears");
            }
            let marked = match s.marked.len() {
                0 => String::new(),
                n => format!("  {n} marked"),
            };
            if s.picking {
                format!(
                    " {}{search}  Enter picks this row  / search  Esc back",
                    position(s)
                )
            } else {
                format!(
                    " {}{marked}{search}  / search  s sort  e edit  n new  d delete  x export  ? help",
                    position(s)
                )
            }
        }
        Some(Screen::Detail(s)) => {
            draw_detail(s, buf, body);
            format!(
                " line {}/{}  e edit  d delete  H history  o permissions  Tab link  Esc back",
                (s.scroll + 1).min(s.total_lines.max(1)),
                s.total_lines.max(1)
            )
        }
        Some(Screen::Manage(s)) => {
            draw_manage(s, buf, body);
            s.panel.hints().to_string()
        }
        Some(Screen::Form(f)) => {
            cursor = draw_form(f, buf, body);
            " Tab next  Ctrl-S save  Ctrl-N null  Ctrl-U clear  Ctrl-E edit text  Ctrl-P pick  Esc"
                .to_string()
        }
        Some(Screen::Conflict(c)) => {
            draw_conflict(c, buf, body);
            " o overwrite with yours  r reload theirs  Esc back to your form".to_string()
        }
        Some(Screen::History(h)) => {
            draw_history(h, buf, body);
            " newest first  j/k scroll  Esc back".to_string()
        }
        Some(Screen::Editor(e)) => {
            cursor = draw_editor(e, buf, body);
            " arrows move  Enter new line  Ctrl-S keep  Esc drop changes".to_string()
        }
        Some(Screen::Filter(f)) => {
            draw_filter(f, buf, body);
            if f.ranged {
                " Enter filters by this value  r a from..to range  Esc back".to_string()
            } else {
                " Enter filters by this value  Esc back".to_string()
            }
        }
        Some(Screen::Audit(a)) => {
            draw_audit(a, buf, body);
            let filter = match a.query.describe() {
                f if f.is_empty() => String::new(),
                f => format!("  [{}]", SafeText::new(&f)),
            };
            format!(" newest first{filter}  Enter details  f filter  Esc back")
        }
        Some(Screen::Enrol(e)) => {
            // The QR may need every row: it may cover the title bar.
            let tall = u16::try_from(e.qr.len()).unwrap_or(u16::MAX) > body.height;
            let top = if tall { area.y } else { body.y };
            let enrol_area = Rect::new(area.x, top, area.width, footer.y - top);
            cursor = super::account::draw_enrol(e, buf, enrol_area);
            " type the code, Enter to confirm  Ctrl-C leave (set-up continues next login)"
                .to_string()
        }
        Some(Screen::Password(p)) => {
            cursor = super::account::draw_password(p, buf, body);
            if p.forced {
                " Tab next field  Enter confirm  Ctrl-C leave".to_string()
            } else {
                " Tab next field  Enter confirm  Esc cancel".to_string()
            }
        }
        None => String::new(),
    };
    let hints = match &app.backup_codes {
        Some(_) => " Enter I have stored them: save them  Esc drop them".to_string(),
        None => hints,
    };
    if let Some((what, text)) = &app.prompt {
        // What is typed was checked key by key (printable characters only).
        let shown = if what.masked() {
            "•".repeat(text.chars().count())
        } else {
            SafeText::new(text).to_string()
        };
        let line = format!(" {}{shown}█", what.label());
        bar(buf, footer, &line, "Enter ok  Esc cancel", PROMPT);
    } else if let (Some((rows, total)), None) = (app.export, &app.status) {
        bar(buf, footer, &export_progress(rows, total), "", NOTICE);
    } else if let Some((question, _)) = &app.confirm {
        bar(buf, footer, &format!(" {question}  [y/N]"), "", NOTICE);
    } else {
        match &app.status {
            Some(Status::Error(text)) => bar(buf, footer, &format!(" {text}"), "", ERROR),
            Some(Status::Notice(text)) => bar(buf, footer, &format!(" {text}"), "", NOTICE),
            None => bar(buf, footer, &hints, "", FOOTER),
        }
    }
    if let Some(lines) = &app.dialog {
        draw_dialog(buf, area, lines);
    }
    if app.help {
        draw_help(buf, area);
    }
    if let Some(b) = &mut app.backup_codes {
        super::account::draw_backup_codes(b, buf, area);
    }
    if let (Some(p), None, None, false, None) = (
        cursor,
        &app.prompt,
        &app.confirm,
        app.help,
        &app.backup_codes,
    ) {
        frame.set_cursor_position(p);
    }
}

/// `moat › posts › #17`
fn crumbs(app: &App) -> String {
    let mut s = String::from(" moat");
    let mut shown_model: Option<&str> = None;
    for screen in &app.stack {
        match screen {
            Screen::Index(_) => s.push_str(" › models"),
            Screen::List(l) => {
                s.push_str(" › ");
                s.push_str(l.label.as_str());
                shown_model = Some(&l.model);
            }
            Screen::Detail(d) => {
                // A record reached through a link names its model.
                if shown_model != Some(d.model.as_str()) {
                    s.push_str(" › ");
                    s.push_str(d.label.as_str());
                    shown_model = Some(&d.model);
                }
                s.push_str(" › #");
                let key: Vec<String> = d.key.iter().map(|v| v.to_string()).collect();
                s.push_str(SafeText::new(&key.join(",")).as_str());
            }
            Screen::Manage(m) => {
                s.push_str(" › ");
                s.push_str(SafeText::new(&m.panel.title()).as_str());
            }
            Screen::Form(f) => s.push_str(if f.key.is_some() {
                " › edit"
            } else {
                " › new"
            }),
            Screen::Conflict(_) => s.push_str(" › conflict"),
            Screen::Enrol(_) => s.push_str(" › two-factor set-up"),
            Screen::Password(_) => s.push_str(" › password"),
            Screen::History(_) => s.push_str(" › history"),
            Screen::Audit(_) => s.push_str(" › audit"),
            Screen::Filter(f) => {
                s.push_str(" › filter ");
                s.push_str(SafeText::new(&f.column).as_str());
            }
            Screen::Editor(e) => {
                s.push_str(" › ");
                s.push_str(e.label.as_str());
            }
        }
    }
    s
}

/// Write `text` at (`x`, `y`) clipped to `area` (and to the buffer): never past the
/// area's right edge, nothing at all when the position is outside it. Every string the
/// console draws goes through here or [`putn`], so no terminal size makes a write land
/// outside the buffer (ratatui panics on that) or spill into a neighbouring area.
fn put(buf: &mut Buffer, area: Rect, x: u16, y: u16, text: impl AsRef<str>, style: Style) {
    putn(buf, area, x, y, text, usize::MAX, style);
}

/// [`put`], at most `max` columns.
pub(super) fn putn(
    buf: &mut Buffer,
    area: Rect,
    x: u16,
    y: u16,
    text: impl AsRef<str>,
    max: usize,
    style: Style,
) {
    let area = area.intersection(*buf.area());
    if !area.contains(Position::new(x, y)) {
        return;
    }
    let room = usize::from(area.right().saturating_sub(x)).min(max);
    buf.set_stringn(x, y, text, room, style);
}

/// A rectangle of `w`×`h` (each cut to fit) centred in `area`.
fn centred(area: Rect, w: u16, h: u16) -> Rect {
    let (w, h) = (w.min(area.width), h.min(area.height));
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// A full-width one-line bar with `left` and `right` text.
fn bar(buf: &mut Buffer, area: Rect, left: &str, right: &str, style: Style) {
    buf.set_style(area, style);
    let w = usize::from(area.width);
    let right_w = right.width() + 1;
    let left_max = if right_w < w { w - right_w } else { w };
    putn(buf, area, area.x, area.y, left, left_max, style);
    if right_w < w.saturating_sub(left.width()) {
        let x = area.right() - u16::try_from(right_w).unwrap_or(0);
        putn(buf, area, x, area.y, right, right_w, style);
    }
}

fn draw_index(s: &IndexScreen, buf: &mut Buffer, area: Rect) {
    if !s.loaded {
        put(buf, area, area.x + 2, area.y + 1, "loading…", DIM);
        return;
    }
    if s.models.is_empty() {
        put(
            buf,
            area,
            area.x + 2,
            area.y + 1,
            "No models to show: no tables, or no permission on any of them.",
            DIM,
        );
        return;
    }
    let name_w = s
        .models
        .iter()
        .map(|m| m.1.width())
        .max()
        .unwrap_or(0)
        .clamp(5, 40);
    let y0 = area.y;
    let header = format!("  {:<name_w$}  {:>7}  {:>10}", "Model", "Columns", "Rows");
    putn(
        buf,
        area,
        area.x,
        y0,
        &header,
        usize::from(area.width),
        HEADER,
    );
    let visible = usize::from(area.height.saturating_sub(1));
    let offset = s.selected.saturating_sub(visible.saturating_sub(1));
    for (i, (model, label, count)) in s.models.iter().enumerate().skip(offset).take(visible) {
        let y = y0 + 1 + u16::try_from(i - offset).unwrap_or(0);
        let selected = i == s.selected;
        if selected {
            put(buf, area, area.x, y, GUTTER, Style::new());
        }
        let name = label.truncated(name_w);
        let pad = name_w.saturating_sub(name.width());
        put(
            buf,
            area,
            area.x + 2,
            y,
            format!("{}{}", name.as_str(), " ".repeat(pad)),
            if selected { SELECTED } else { Style::new() },
        );
        let count = count.map(|c| c.to_string()).unwrap_or_else(|| "…".into());
        let rest = format!("  {:>7}  {:>10}", model.columns, count);
        let x = area.x + 2 + u16::try_from(name_w).unwrap_or(0);
        if x < area.right() {
            putn(
                buf,
                area,
                x,
                y,
                rest,
                usize::from(area.right() - x),
                Style::new(),
            );
        }
    }
}

fn draw_list(s: &mut ListScreen, buf: &mut Buffer, area: Rect) {
    let body_rows = usize::from(area.height.saturating_sub(1));
    s.visible = body_rows.max(1);
    if s.rows.is_empty() {
        let text = if s.pending.is_some() {
            "loading…"
        } else {
            "No rows."
        };
        put(buf, area, area.x + 2, area.y + 1, text, DIM);
        if s.columns.is_empty() {
            return;
        }
    }
    // Keep the selection on screen.
    if s.selected < s.offset {
        s.offset = s.selected;
    } else if s.selected >= s.offset + s.visible {
        s.offset = s.selected + 1 - s.visible;
    }
    // Column widths from the header and the rows of this page.
    let widths: Vec<usize> = (0..s.columns.len())
        .map(|c| {
            let head = s.columns.get(c).map_or(0, SafeText::width);
            let cells = s.rows.iter().map(|r| match r.cells.get(c) {
                Some(CellText::Text(t)) => t.width(),
                _ => NULL_TEXT.width(),
            });
            cells
                .chain(std::iter::once(head))
                .max()
                .unwrap_or(1)
                .clamp(1, LIST_CELL_WIDTH)
        })
        .collect();
    let first_col = s.col_offset.min(s.columns.len().saturating_sub(1));
    let right = area.right();
    let mut x = area.x + 2;
    for (c, width) in widths.iter().enumerate().skip(first_col) {
        if x >= right {
            break;
        }
        let w = (*width).min(usize::from(right - x));
        if let Some(h) = s.columns.get(c) {
            let arrow = match &s.query.sort {
                Some(o) if s.column_names.get(c) == Some(&o.column) => {
                    if o.descending {
                        "▼"
                    } else {
                        "▲"
                    }
                }
                _ => "",
            };
            let head = format!(
                "{}{arrow}",
                h.truncated(w.saturating_sub(arrow.len().min(1)))
            );
            putn(buf, area, x, area.y, head, w, HEADER);
        }
        for (i, row) in s.rows.iter().enumerate().skip(s.offset).take(s.visible) {
            let y = area.y + 1 + u16::try_from(i - s.offset).unwrap_or(0);
            let selected = i == s.selected && c == first_col;
            match row.cells.get(c) {
                Some(CellText::Text(t)) => {
                    let t = t.truncated(w);
                    let pad = w.saturating_sub(t.width());
                    let style = if selected { SELECTED } else { Style::new() };
                    put(
                        buf,
                        area,
                        x,
                        y,
                        format!("{}{}", t.as_str(), " ".repeat(pad)),
                        style,
                    );
                }
                _ => {
                    let style = if selected { SELECTED } else { NULL };
                    putn(buf, area, x, y, format!("{NULL_TEXT:<w$}"), w, style);
                }
            }
        }
        x = x.saturating_add(u16::try_from(w + 2).unwrap_or(u16::MAX));
    }
    for (i, row) in s.rows.iter().enumerate().skip(s.offset).take(s.visible) {
        if s.marked.contains(&row.key) {
            let y = area.y + 1 + u16::try_from(i - s.offset).unwrap_or(0);
            put(buf, area, area.x + 1, y, "•", NOTICE);
        }
    }
    if let Some(i) = s.selected.checked_sub(s.offset).filter(|i| *i < s.visible) {
        if !s.rows.is_empty() {
            let y = area.y + 1 + u16::try_from(i).unwrap_or(0);
            put(buf, area, area.x, y, GUTTER, Style::new());
        }
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

/// `row 12 of 2,000`; when the position is unknown (not counted), `last row of 10,000+`
/// or the selected row's key, `key 999950 of 10,000+`.
fn position(s: &ListScreen) -> String {
    let count = s.count.map(|c| c.to_string()).unwrap_or_else(|| "…".into());
    if s.rows.is_empty() {
        return format!("0 of {count} rows");
    }
    let Some(start) = s.start else {
        // Not counted (a big table reached by `G`): the last row, or the selected key.
        if !s.has_after && s.selected + 1 == s.rows.len() {
            return format!("last row of {count}");
        }
        let key = s
            .rows
            .get(s.selected)
            .map(|r| r.key.iter().map(|v| v.to_string()));
        let key = key
            .map(|k| k.collect::<Vec<_>>().join(", "))
            .unwrap_or_default();
        return format!("key {} of {count}", SafeText::new(&key));
    };
    format!(
        "row {} of {count}",
        group_thousands(start + s.selected as u64 + 1)
    )
}

fn draw_detail(s: &mut DetailScreen, buf: &mut Buffer, area: Rect) {
    if !s.loaded {
        put(buf, area, area.x + 2, area.y + 1, "loading…", DIM);
        return;
    }
    let name_w = s
        .fields
        .iter()
        .map(|f| f.0.width())
        .max()
        .unwrap_or(0)
        .clamp(4, 24);
    let value_x = area.x + 2 + u16::try_from(name_w).unwrap_or(24) + 2;
    let value_w = usize::from(area.right().saturating_sub(value_x)).max(1);
    // Lay out every field into (is_first_line_of_field, name, text, style) lines.
    // Lines: (field name and index on a field's first line, text, style).
    type Line<'a> = (Option<(&'a SafeText, usize)>, String, Style);
    let mut lines: Vec<Line> = Vec::new();
    for (i, (name, _decl_type, value)) in s.fields.iter().enumerate() {
        let link = s
            .links
            .get(i)
            .and_then(|l| l.as_ref())
            .map(|(_, _, label)| label);
        match value {
            FieldValue::Null => lines.push((Some((name, i)), NULL_TEXT.into(), NULL)),
            FieldValue::Lines(text) => {
                let mut first = true;
                for line in text {
                    for mut piece in wrap(line.as_str(), value_w) {
                        if first {
                            if let Some(m) = link {
                                // A followable foreign key: say where it goes.
                                piece.push_str(&format!("  → {m}"));
                            }
                        }
                        let n = first.then_some((name, i));
                        first = false;
                        lines.push((n, piece, Style::new()));
                    }
                }
                if first {
                    lines.push((Some((name, i)), String::new(), Style::new()));
                }
            }
        }
    }
    s.total_lines = u16::try_from(lines.len()).unwrap_or(u16::MAX);
    s.visible = area.height.max(1);
    s.scroll = s.scroll.min(s.total_lines.saturating_sub(s.visible));
    for (row, (name, text, style)) in lines
        .iter()
        .skip(usize::from(s.scroll))
        .take(usize::from(area.height))
        .enumerate()
    {
        let y = area.y + u16::try_from(row).unwrap_or(0);
        if let Some((name, field)) = name {
            let style = if s.link == Some(*field) {
                SELECTED
            } else {
                HEADER
            };
            put(
                buf,
                area,
                area.x + 2,
                y,
                name.truncated(name_w).as_str(),
                style,
            );
        }
        putn(buf, area, value_x, y, text, value_w, *style);
    }
}

/// Greedy word wrap by display width; words longer than a line are split.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    let mut line = String::new();
    let mut line_w = 0;
    for word in text.split_inclusive(' ') {
        let word_w = word.width();
        if line_w + word_w.saturating_sub(usize::from(word.ends_with(' '))) > width
            && !line.is_empty()
        {
            out.push(std::mem::take(&mut line).trim_end().to_string());
            line_w = 0;
        }
        if word_w > width {
            for ch in word.chars() {
                let cw = ch.to_string().width();
                if line_w + cw > width && !line.is_empty() {
                    out.push(std::mem::take(&mut line));
                    line_w = 0;
                }
                line.push(ch);
                line_w += cw;
            }
        } else {
            line.push_str(word);
            line_w += word_w;
        }
    }
    if !line.is_empty() || out.is_empty() {
        out.push(line.trim_end().to_string());
    }
    out
}

fn draw_manage(s: &ManageScreen, buf: &mut Buffer, area: Rect) {
    if !s.loaded {
        put(buf, area, area.x + 2, area.y + 1, "loading…", DIM);
        return;
    }
    // Column widths from the header and the cells.
    let columns = s.header.len();
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            s.items
                .iter()
                .filter_map(|(_, cells)| cells.get(c).map(SafeText::width))
                .chain(s.header.get(c).map(SafeText::width))
                .max()
                .unwrap_or(1)
                .clamp(1, LIST_CELL_WIDTH)
        })
        .collect();
    let line = |cells: &[SafeText]| {
        let mut out = String::new();
        for (c, w) in widths.iter().enumerate() {
            let cell = cells.get(c).map(|t| t.truncated(*w)).unwrap_or_default();
            out.push_str(cell.as_str());
            out.push_str(&" ".repeat(w.saturating_sub(cell.width()) + 2));
        }
        out
    };
    let width = usize::from(area.width.saturating_sub(2));
    putn(
        buf,
        area,
        area.x + 2,
        area.y,
        line(&s.header),
        width,
        HEADER,
    );
    if s.items.is_empty() {
        put(buf, area, area.x + 2, area.y + 1, "(none)", DIM);
        return;
    }
    let visible = usize::from(area.height.saturating_sub(1));
    let offset = s.selected.saturating_sub(visible.saturating_sub(1));
    for (i, (_, cells)) in s.items.iter().enumerate().skip(offset).take(visible) {
        let y = area.y + 1 + u16::try_from(i - offset).unwrap_or(0);
        let selected = i == s.selected;
        if selected {
            put(buf, area, area.x, y, GUTTER, Style::new());
        }
        let style = if selected { SELECTED } else { Style::new() };
        putn(buf, area, area.x + 2, y, line(cells), width, style);
    }
}

/// The form; returns where the terminal cursor goes (in the focused field).
fn draw_form(f: &mut FormScreen, buf: &mut Buffer, area: Rect) -> Option<Position> {
    let label_w = f
        .fields
        .iter()
        .map(|x| x.label.width())
        .max()
        .unwrap_or(4)
        .clamp(4, 24);
    let x0 = area.x + 2;
    let value_x = x0 + u16::try_from(label_w).unwrap_or(24) + 2;
    let value_w = usize::from(area.right().saturating_sub(value_x + 1)).max(8);
    // Each field takes one line, plus one for its error.
    let heights: Vec<usize> = f
        .fields
        .iter()
        .map(|x| 1 + usize::from(x.error.is_some()))
        .collect();
    let top_of = |i: usize| heights[..i].iter().sum::<usize>();
    let rows = usize::from(area.height.saturating_sub(1));
    let focus_top = top_of(f.focus);
    if focus_top < f.scroll {
        f.scroll = focus_top;
    } else if focus_top + heights.get(f.focus).copied().unwrap_or(1) > f.scroll + rows {
        f.scroll = focus_top + heights.get(f.focus).copied().unwrap_or(1) - rows;
    }
    if let Some(e) = &f.error {
        putn(
            buf,
            area,
            x0,
            area.y,
            e.as_str(),
            usize::from(area.width.saturating_sub(4)),
            ERROR,
        );
    }
    let mut cursor = None;
    let mut line = 0usize;
    for (i, field) in f.fields.iter().enumerate() {
        let focused = i == f.focus;
        for part in 0..heights[i] {
            if line >= f.scroll && line - f.scroll < rows {
                let y = area.y + 1 + u16::try_from(line - f.scroll).unwrap_or(0);
                if part == 0 {
                    let label_style = if focused { SELECTED } else { HEADER };
                    put(
                        buf,
                        area,
                        x0,
                        y,
                        field.label.truncated(label_w).as_str(),
                        label_style,
                    );
                    let (text, style) = if field.null {
                        (NULL_TEXT.to_string(), NULL)
                    } else if field.read_only {
                        (field.text.clone(), DIM)
                    } else {
                        (field.text.clone(), Style::new())
                    };
                    // Scroll long text so the cursor stays in view.
                    let chars: Vec<char> = text.chars().collect();
                    let start = field.cursor.saturating_sub(value_w.saturating_sub(1));
                    let shown: String = chars.iter().skip(start).collect();
                    let safe = SafeText::new(&shown).truncated(value_w);
                    putn(buf, area, value_x, y, safe.as_str(), value_w, style);
                    let link = field
                        .link
                        .as_ref()
                        .map(|m| format!("→ {} (Ctrl-P picks)", SafeText::new(m)));
                    let choices = (field.kind == FieldKind::Choice).then(|| {
                        let labels: Vec<String> = field
                            .choices
                            .iter()
                            .map(|c| SafeText::new(c).as_str().to_string())
                            .collect();
                        format!("{} (Space)", labels.join(" | "))
                    });
                    let hint = match (&link, &choices, field.read_only) {
                        (_, _, true) => "read-only",
                        (Some(l), _, false) => l.as_str(),
                        (None, Some(c), false) => c.as_str(),
                        (None, None, false) => field.kind.hint(),
                    };
                    let hint_x =
                        value_x.saturating_add(u16::try_from(safe.width() + 2).unwrap_or(0));
                    if hint_x.saturating_add(4) < area.right() {
                        putn(
                            buf,
                            area,
                            hint_x,
                            y,
                            hint,
                            usize::from(area.right() - hint_x),
                            DIM,
                        );
                    }
                    if focused && !field.read_only {
                        let before: String = chars
                            .iter()
                            .skip(start)
                            .take(field.cursor - start.min(field.cursor))
                            .collect();
                        let cx = value_x + u16::try_from(before.width()).unwrap_or(0);
                        cursor = Some(Position::new(cx.min(area.right().saturating_sub(1)), y));
                    }
                } else if let Some(e) = &field.error {
                    putn(
                        buf,
                        area,
                        value_x,
                        y,
                        SafeText::new(e).as_str(),
                        value_w,
                        ERROR,
                    );
                }
            }
            line += 1;
        }
    }
    cursor
}

fn draw_history(h: &HistoryScreen, buf: &mut Buffer, area: Rect) {
    if !h.loaded {
        put(buf, area, area.x + 2, area.y + 1, "loading…", DIM);
        return;
    }
    if h.lines.is_empty() {
        put(
            buf,
            area,
            area.x + 2,
            area.y + 1,
            "No recorded changes.",
            DIM,
        );
        return;
    }
    let width = usize::from(area.width.saturating_sub(4));
    for (i, line) in h
        .lines
        .iter()
        .skip(h.scroll)
        .take(usize::from(area.height))
        .enumerate()
    {
        let y = area.y + u16::try_from(i).unwrap_or(0);
        let style = if line.as_str().starts_with(' ') {
            Style::new()
        } else {
            HEADER
        };
        putn(buf, area, area.x + 2, y, line.as_str(), width, style);
    }
}

/// The multi-line editor; returns where the cursor goes.
fn draw_editor(e: &mut TextEditor, buf: &mut Buffer, area: Rect) -> Option<Position> {
    if let Some(err) = &e.error {
        putn(
            buf,
            area,
            area.x + 2,
            area.y,
            SafeText::new(err).as_str(),
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
        let y = area.y + 1 + u16::try_from(i - e.scroll).unwrap_or(0);
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

fn draw_filter(f: &FilterScreen, buf: &mut Buffer, area: Rect) {
    put(buf, area, area.x + 2, area.y, "most common values", HEADER);
    if f.values.is_empty() {
        put(buf, area, area.x + 2, area.y + 1, "No rows.", DIM);
        return;
    }
    let visible = usize::from(area.height.saturating_sub(1)).max(1);
    let offset = f.selected.saturating_sub(visible - 1);
    for (i, (_, label)) in f.values.iter().enumerate().skip(offset).take(visible) {
        let y = area.y + 1 + u16::try_from(i - offset).unwrap_or(0);
        let selected = i == f.selected;
        if selected {
            put(buf, area, area.x, y, GUTTER, Style::new());
        }
        let style = if selected { SELECTED } else { Style::new() };
        putn(
            buf,
            area,
            area.x + 2,
            y,
            label.as_str(),
            usize::from(area.width.saturating_sub(4)),
            style,
        );
    }
}

fn draw_audit(a: &mut AuditScreen, buf: &mut Buffer, area: Rect) {
    if !a.loaded {
        put(buf, area, area.x + 2, area.y + 1, "loading…", DIM);
        return;
    }
    if a.rows.is_empty() {
        put(buf, area, area.x + 2, area.y + 1, "No entries match.", DIM);
        return;
    }
    let visible = usize::from(area.height).max(1);
    if a.selected < a.offset {
        a.offset = a.selected;
    } else if a.selected >= a.offset + visible {
        a.offset = a.selected + 1 - visible;
    }
    let width = usize::from(area.width.saturating_sub(2));
    for (i, (_, line, _)) in a.rows.iter().enumerate().skip(a.offset).take(visible) {
        let y = area.y + u16::try_from(i - a.offset).unwrap_or(0);
        let selected = i == a.selected;
        if selected {
            put(buf, area, area.x, y, GUTTER, Style::new());
        }
        let style = if selected { SELECTED } else { Style::new() };
        putn(buf, area, area.x + 2, y, line.as_str(), width, style);
    }
}

fn draw_conflict(c: &ConflictScreen, buf: &mut Buffer, area: Rect) {
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
    for (i, (name, opened, yours, now)) in c.rows.iter().enumerate() {
        let y = area.y + 3 + u16::try_from(i).unwrap_or(0);
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
}

/// A box of text in the middle of the screen (closed by any key).
fn draw_dialog(buf: &mut Buffer, area: Rect, lines: &[SafeText]) {
    let inner = lines.iter().map(SafeText::width).max().unwrap_or(0) + 4;
    // At least 20 wide when the terminal is; never wider or taller than it.
    let w = u16::try_from(inner.max(20)).unwrap_or(u16::MAX);
    let h = u16::try_from(lines.len().saturating_add(4)).unwrap_or(u16::MAX);
    let rect = centred(area, w, h);
    Clear.render(rect, buf);
    Block::default()
        .borders(Borders::ALL)
        .title(" any key closes ")
        .render(rect, buf);
    for (i, line) in lines.iter().enumerate() {
        let y = rect.y + 2 + u16::try_from(i).unwrap_or(0);
        if y + 1 >= rect.bottom() {
            break;
        }
        putn(
            buf,
            rect,
            rect.x + 2,
            y,
            line.as_str(),
            usize::from(rect.width.saturating_sub(4)),
            Style::new(),
        );
    }
}

const HELP: &[(&str, &str)] = &[
    ("↑ ↓  j k", "move"),
    ("g  G", "first / last"),
    ("PgUp PgDn", "page up / down"),
    ("← →  h l", "scroll columns"),
    ("Enter", "open model / record"),
    ("Esc", "back"),
    ("/", "search (^abc: prefix); Esc clears"),
    ("s", "sort by first column shown"),
    ("e  n", "edit record / new record"),
    ("d", "delete (asks first)"),
    ("Space", "mark rows; d deletes the marked"),
    ("f", "filter by first column shown"),
    ("x", "export the list to a CSV file"),
    ("o", "a record's permissions"),
    ("H", "a record's history"),
    (":", "users groups sessions audit q"),
    (":", "password backup-codes (yours)"),
    ("?", "this help"),
    ("q", "back; at the index, quit"),
    ("Ctrl-C", "quit"),
];

fn draw_help(buf: &mut Buffer, area: Rect) {
    let h = u16::try_from(HELP.len().saturating_add(4)).unwrap_or(u16::MAX);
    let rect = centred(area, 50, h);
    let (x, y, w) = (rect.x, rect.y, rect.width);
    Clear.render(rect, buf);
    Block::default()
        .borders(Borders::ALL)
        .title(" Keys — any key closes ")
        .render(rect, buf);
    for (i, (keys, what)) in HELP.iter().enumerate() {
        let row = y + 2 + u16::try_from(i).unwrap_or(0);
        if row + 1 >= rect.bottom() {
            break;
        }
        putn(buf, rect, x + 2, row, keys, 12, HEADER);
        putn(
            buf,
            rect,
            x + 15,
            row,
            what,
            usize::from(w.saturating_sub(17)),
            Style::new(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_words_and_splits_long_ones() {
        assert_eq!(wrap("hello world foo", 11), vec!["hello world", "foo"]);
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 5), vec![""]);
        assert_eq!(
            wrap("日本語テキスト", 5),
            vec!["日本", "語テ", "キス", "ト"]
        );
    }
}
