//! Drawing a list: which columns fit and how wide (the key columns pinned, the cursor's
//! column kept in view), then the header and the rows.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

use super::ListScreen;
use crate::tui::draw::{
    placeholder, put, putn, row, CellText, GUTTER, HEADER, LIST_CELL_MAX, LIST_CELL_WIDTH, NOTICE,
    NULL, NULL_TEXT, SELECTED,
};
use crate::tui::sanitize::SafeText;

/// Where each column is drawn: (column index, x, width), key columns first.
fn layout(s: &mut ListScreen, area: Rect) -> Vec<(usize, u16, usize)> {
    let n = s.columns.len();
    // What each column needs: its header (and the sort mark), its cells on this page.
    let natural: Vec<usize> = (0..n)
        .map(|c| {
            let sorted =
                matches!(&s.query.sort, Some(o) if s.column_names.get(c) == Some(&o.column));
            let head = s.columns.get(c).map_or(0, SafeText::width) + usize::from(sorted);
            s.rows
                .iter()
                .map(|r| r.cells.get(c).unwrap_or(&CellText::Null).width())
                .chain(std::iter::once(head))
                .max()
                .unwrap_or(1)
                .clamp(1, LIST_CELL_MAX)
        })
        .collect();
    let base = |c: usize| natural[c].min(LIST_CELL_WIDTH);
    let room = usize::from(area.width.saturating_sub(2));
    let scrolling: Vec<usize> = (0..n).filter(|c| !s.pinned.contains(c)).collect();
    // Keep the cursor's column in view: scroll so it is the last that fits, if need be.
    if let Some(at) = scrolling.iter().position(|c| *c == s.col_cursor) {
        let pinned_w: usize = s.pinned.iter().map(|c| base(*c) + 2).sum();
        if at < s.col_offset {
            s.col_offset = at;
        }
        while s.col_offset < at {
            let used: usize = pinned_w
                + scrolling[s.col_offset..=at]
                    .iter()
                    .map(|c| base(*c) + 2)
                    .sum::<usize>();
            if used <= room {
                break;
            }
            s.col_offset += 1;
        }
    }
    s.col_offset = s.col_offset.min(scrolling.len().saturating_sub(1));
    let shown: Vec<usize> = s
        .pinned
        .iter()
        .copied()
        .chain(scrolling.iter().skip(s.col_offset).copied())
        .collect();
    // Widths: each column its base width while they fit; then the room left goes to the
    // columns cut short, in order, up to what they need.
    let mut widths: Vec<(usize, usize)> = Vec::new();
    let mut used = 0;
    for c in shown {
        if used >= room {
            break;
        }
        let w = base(c).min(room - used);
        widths.push((c, w));
        used += w + 2;
    }
    let mut spare = room.saturating_sub(used);
    for (c, w) in widths.iter_mut() {
        let more = natural[*c].saturating_sub(*w).min(spare);
        *w += more;
        spare -= more;
    }
    let mut x = area.x + 2;
    widths
        .into_iter()
        .map(|(c, w)| {
            let at = x;
            x = x.saturating_add(u16::try_from(w + 2).unwrap_or(u16::MAX));
            (c, at, w)
        })
        .collect()
}

pub(super) fn draw_list(s: &mut ListScreen, buf: &mut Buffer, area: Rect) {
    let body_rows = usize::from(area.height.saturating_sub(1));
    s.visible = body_rows.max(1);
    if s.rows.is_empty() {
        let text = if s.pending.is_some() {
            "loading…"
        } else if s.unreadable && s.picking {
            "Nothing to pick from: the line below says why. Esc, and type the key instead."
        } else if s.unreadable {
            "The rows could not be read: the line below says why."
        } else {
            "No rows."
        };
        placeholder(buf, area, text);
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
    for (c, x, w) in layout(s, area) {
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
            // The column cursor's column has its header reversed.
            let style = if c == s.col_cursor {
                HEADER.add_modifier(ratatui::style::Modifier::REVERSED)
            } else {
                HEADER
            };
            putn(buf, area, x, area.y, head, w, style);
        }
        for (i, r) in s.rows.iter().enumerate().skip(s.offset).take(s.visible) {
            let y = row(area.y + 1, i - s.offset);
            // The selected row shows its cell in the cursor's column reversed.
            let selected = i == s.selected && c == s.col_cursor;
            match r.cells.get(c) {
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
    }
    for (i, r) in s.rows.iter().enumerate().skip(s.offset).take(s.visible) {
        if s.marked.contains(&r.key) {
            put(
                buf,
                area,
                area.x + 1,
                row(area.y + 1, i - s.offset),
                "•",
                NOTICE,
            );
        }
    }
    if let Some(i) = s.selected.checked_sub(s.offset).filter(|i| *i < s.visible) {
        if !s.rows.is_empty() {
            put(buf, area, area.x, row(area.y + 1, i), GUTTER, Style::new());
        }
    }
}
