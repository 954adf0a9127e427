//! New backup codes, in a box over everything until the user says they stored them.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};

use super::draw::{putn as put, wrap, ERROR};
use super::protocol::Secret;
use super::sanitize::SafeText;

const TEXT: Style = Style::new();
const BOLD: Style = Style::new().add_modifier(Modifier::BOLD);

/// New backup codes, in a box until the user says they stored them: Enter asks the
/// session to save them (and only then do they replace the earlier codes), Esc drops
/// them. Keys are taken only once the last draw showed every code whole, so a terminal
/// too small for the box (or a resize in between) cannot confirm codes nobody saw.
/// `Debug` leaves the codes out.
#[derive(Clone, Default)]
pub struct BackupCodesBox {
    pub codes: Vec<SafeText>,
    /// Whether the last draw showed every code and the keys, whole.
    pub shown: bool,
}

impl std::fmt::Debug for BackupCodesBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupCodesBox")
            .field("codes", &self.codes.len())
            .field("shown", &self.shown)
            .finish()
    }
}

impl BackupCodesBox {
    pub fn new(codes: &[Secret]) -> BackupCodesBox {
        BackupCodesBox {
            codes: codes.iter().map(|c| SafeText::new(&c.0)).collect(),
            shown: false,
        }
    }
}

/// What the backup-codes box says above the codes, and the keys below them.
const BACKUP_INTRO: &str = "Your new backup codes. Each works once, in place of a code from \
                            your app. They are not saved yet: your earlier codes keep \
                            working until you press Enter.";
const BACKUP_KEYS: [&str; 2] = [
    "Enter  I have stored them: use these from now on",
    "Esc    drop them and keep the earlier codes",
];
/// Widest the box's text is wrapped to.
const BACKUP_TEXT_WIDTH: usize = 60;

/// The lines of the backup-codes box with its text wrapped to `width` columns.
fn backup_lines(b: &BackupCodesBox, width: usize) -> Vec<(String, Style)> {
    let mut lines: Vec<(String, Style)> = wrap(BACKUP_INTRO, width)
        .into_iter()
        .map(|l| (l, TEXT))
        .collect();
    lines.push((String::new(), TEXT));
    lines.extend(b.codes.iter().map(|c| (format!("  {c}"), BOLD)));
    lines.push((String::new(), TEXT));
    for k in BACKUP_KEYS {
        lines.extend(wrap(k, width).into_iter().map(|l| (l, TEXT)));
    }
    lines
}

/// Draw the backup-codes box over `area` and record whether it was shown whole. When it
/// does not fit, what fits of a request to enlarge the terminal is drawn instead.
pub fn draw_backup_codes(b: &mut BackupCodesBox, buf: &mut Buffer, area: Rect) {
    use ratatui::widgets::{Block, Borders, Clear, Widget};
    use unicode_width::UnicodeWidthStr;
    let code_w = b.codes.iter().map(|c| c.width() + 2).max().unwrap_or(0);
    // Text is wrapped to what the terminal leaves inside the border and a margin.
    let text_w = usize::from(area.width.saturating_sub(4)).min(BACKUP_TEXT_WIDTH);
    let lines = backup_lines(b, text_w.max(1));
    let inner_w = lines.iter().map(|(l, _)| l.width()).max().unwrap_or(0);
    let need_h = lines.len() + 3;
    b.shown = text_w >= code_w && need_h <= usize::from(area.height);
    if !b.shown {
        // What it would take at the widest: say so, in whatever room there is.
        let full = backup_lines(b, BACKUP_TEXT_WIDTH);
        let w = full.iter().map(|(l, _)| l.width()).max().unwrap_or(0) + 4;
        let text = format!(
            "New backup codes are waiting (not saved yet). Make the terminal at least \
             {w}×{} to see them; Esc drops them.",
            full.len() + 3
        );
        Clear.render(area, buf);
        for (line, y) in wrap(&text, usize::from(area.width).max(1))
            .iter()
            .zip(area.top()..area.bottom())
        {
            put(buf, area, area.x, y, line, usize::from(area.width), ERROR);
        }
        return;
    }
    let w = u16::try_from(inner_w + 4)
        .unwrap_or(u16::MAX)
        .min(area.width);
    let h = u16::try_from(need_h).unwrap_or(u16::MAX).min(area.height);
    let rect = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    Clear.render(rect, buf);
    Block::default()
        .borders(Borders::ALL)
        .title(" new backup codes ")
        .render(rect, buf);
    for ((text, style), y) in lines.iter().zip(rect.y + 2..rect.bottom() - 1) {
        put(buf, rect, rect.x + 2, y, text, inner_w, *style);
    }
}
