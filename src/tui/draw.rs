//! What every screen draws with: the styles, clipped writes into the buffer, word wrap,
//! boxes, and the way a value is shown in a cell. Pure; the only strings drawn are
//! [`SafeText`] (or pieces of one) and moat's own literals.
//!
//! Every write goes through [`put`] or [`putn`], which clip to an area and to the buffer,
//! so no terminal size makes a write land outside the buffer (ratatui panics on that) or
//! spill into a neighbouring area.

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, Borders, Clear, Widget};
use unicode_width::UnicodeWidthStr;

use super::sanitize::SafeText;
use crate::domain::Value;

pub const TITLE: Style = Style::new()
    .fg(Color::White)
    .bg(Color::Blue)
    .add_modifier(Modifier::BOLD);
pub const HEADER: Style = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
pub const SELECTED: Style = Style::new().add_modifier(Modifier::REVERSED);
pub const NULL: Style = Style::new()
    .fg(Color::DarkGray)
    .add_modifier(Modifier::ITALIC);
pub const DIM: Style = Style::new().fg(Color::DarkGray);
pub const FOOTER: Style = Style::new().fg(Color::Black).bg(Color::Gray);
pub const ERROR: Style = Style::new()
    .fg(Color::White)
    .bg(Color::Red)
    .add_modifier(Modifier::BOLD);
pub const NOTICE: Style = Style::new()
    .fg(Color::Black)
    .bg(Color::Yellow)
    .add_modifier(Modifier::BOLD);
pub const PROMPT: Style = Style::new()
    .fg(Color::White)
    .bg(Color::DarkGray)
    .add_modifier(Modifier::BOLD);
/// Marks the selected row in the gutter.
pub const GUTTER: &str = "▶";
/// How NULL is shown: distinct from any text by its style (and in monochrome by italics).
pub const NULL_TEXT: &str = "∅ NULL";
/// Width a list column gets before the room left on the screen is shared out.
pub const LIST_CELL_WIDTH: usize = 40;
/// Widest a list cell is ever drawn (when the terminal has room); cells are cut to this
/// when a page arrives, so a page of long texts costs a few KiB, not the texts' size.
pub const LIST_CELL_MAX: usize = 100;

/// Write `text` at (`x`, `y`) clipped to `area` (and to the buffer): never past the
/// area's right edge, nothing at all when the position is outside it.
pub fn put(buf: &mut Buffer, area: Rect, x: u16, y: u16, text: impl AsRef<str>, style: Style) {
    putn(buf, area, x, y, text, usize::MAX, style);
}

/// [`put`], at most `max` columns.
pub fn putn(
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

/// The `i`th row below `top`, as a terminal row (saturating).
pub fn row(top: u16, i: usize) -> u16 {
    top.saturating_add(u16::try_from(i).unwrap_or(u16::MAX))
}

/// A rectangle of `w`×`h` (each cut to fit) centred in `area`.
pub fn centred(area: Rect, w: u16, h: u16) -> Rect {
    let (w, h) = (w.min(area.width), h.min(area.height));
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// A full-width one-line bar with `left` and `right` text.
pub fn bar(buf: &mut Buffer, area: Rect, left: &str, right: &str, style: Style) {
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

/// `loading…` (or another word) where a screen's body starts.
pub fn placeholder(buf: &mut Buffer, area: Rect, text: &str) {
    put(buf, area, area.x + 2, area.y + 1, text, DIM);
}

/// A box with `title` in the middle of `area`, cleared, holding `lines`; returns its
/// rectangle.
pub fn boxed(buf: &mut Buffer, area: Rect, title: &str, lines: &[(String, Style)]) -> Rect {
    let inner = lines.iter().map(|(l, _)| l.width()).max().unwrap_or(0) + 4;
    // At least 20 wide when the terminal is; never wider or taller than it.
    let w = u16::try_from(inner.max(20).max(title.width() + 4)).unwrap_or(u16::MAX);
    let h = u16::try_from(lines.len().saturating_add(4)).unwrap_or(u16::MAX);
    let rect = centred(area, w, h);
    Clear.render(rect, buf);
    Block::default()
        .borders(Borders::ALL)
        .title(title)
        .render(rect, buf);
    for (i, (line, style)) in lines.iter().enumerate() {
        let y = row(rect.y + 2, i);
        if y + 1 >= rect.bottom() {
            break;
        }
        putn(
            buf,
            rect,
            rect.x + 2,
            y,
            line,
            usize::from(rect.width.saturating_sub(4)),
            *style,
        );
    }
    rect
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

/// `text` cut to `width` columns and padded with spaces to exactly that width.
pub fn padded(text: &SafeText, width: usize) -> String {
    let t = text.truncated(width);
    format!(
        "{}{}",
        t.as_str(),
        " ".repeat(width.saturating_sub(t.width()))
    )
}

/// One cell of a list, ready to draw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CellText {
    Null,
    Text(SafeText),
}

impl CellText {
    /// A single-line rendering of a value for a list (newlines shown as `\n`), cut to
    /// [`LIST_CELL_MAX`].
    pub fn line(v: &Value) -> CellText {
        let text = match v {
            Value::Null => return CellText::Null,
            Value::Text(s) => SafeText::new(s),
            other => SafeText::new(&other.to_string()),
        };
        CellText::Text(text.truncated(LIST_CELL_MAX))
    }

    /// Its width on screen.
    pub fn width(&self) -> usize {
        match self {
            CellText::Null => NULL_TEXT.width(),
            CellText::Text(t) => t.width(),
        }
    }
}

/// `<N bytes> 00 ff …` with the first 32 bytes in hex.
pub fn blob_summary(b: &[u8]) -> String {
    let mut s = format!("<{} bytes>", b.len());
    for byte in b.iter().take(32) {
        s.push_str(&format!(" {byte:02x}"));
    }
    if b.len() > 32 {
        s.push_str(" …");
    }
    s
}

/// A table of cells with a header, one row selected: what the management screens draw.
/// Column widths come from the header and the cells (each at most [`LIST_CELL_WIDTH`]);
/// the list scrolls so the selection stays visible.
pub fn table(
    buf: &mut Buffer,
    area: Rect,
    header: &[&str],
    rows: &[Vec<SafeText>],
    selected: usize,
) {
    table_max(buf, area, header, rows, selected, |_| LIST_CELL_WIDTH);
}

/// [`table`], column `c` at most `max(c)` wide (an identifier shown whole: a key's
/// fingerprint).
pub fn table_max(
    buf: &mut Buffer,
    area: Rect,
    header: &[&str],
    rows: &[Vec<SafeText>],
    selected: usize,
    max: impl Fn(usize) -> usize,
) {
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .filter_map(|cells| cells.get(c).map(SafeText::width))
                .chain(header.get(c).map(|h| h.width()))
                .max()
                .unwrap_or(1)
                .clamp(1, max(c).max(1))
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
    let head: Vec<SafeText> = header.iter().map(|h| SafeText::new(h)).collect();
    putn(buf, area, area.x + 2, area.y, line(&head), width, HEADER);
    if rows.is_empty() {
        placeholder(buf, area, "(none)");
        return;
    }
    let visible = usize::from(area.height.saturating_sub(1));
    let offset = selected.saturating_sub(visible.saturating_sub(1));
    for (i, cells) in rows.iter().enumerate().skip(offset).take(visible) {
        let y = row(area.y + 1, i - offset);
        let is_selected = i == selected;
        if is_selected {
            put(buf, area, area.x, y, GUTTER, Style::new());
        }
        let style = if is_selected { SELECTED } else { Style::new() };
        putn(buf, area, area.x + 2, y, line(cells), width, style);
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
