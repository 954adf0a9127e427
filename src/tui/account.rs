//! The account screens: TOTP enrolment (QR, secret, code) and the password form (forced
//! after a one-time password, or chosen from the console with `:password`).
//!
//! While a user is being set up (`App::setup`), these are the only screens: every other
//! key and command is ignored here, and the session refuses anything else anyway.

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};

use super::app::Cmd;
use super::input::{Key, KeyEvent};
use super::qr;
use super::sanitize::SafeText;
use super::view::{putn as put, wrap};

/// Longest password or code accepted into a field.
const MAX_FIELD: usize = 1024;

/// Where a user being set up is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setup {
    /// No TOTP device yet: enrol one.
    Enrol,
    /// Enrolled; the password is still one-time.
    ChangePassword,
}

/// A secret typed by the user; its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(pub String);

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret(s.to_string())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({} chars)", self.0.chars().count())
    }
}

/// The enrolment screen. `Debug` leaves the secret, URI and code out.
#[derive(Clone, Default)]
pub struct EnrolScreen {
    /// Half-block rows of the QR code (moat's own characters only).
    pub qr: Vec<String>,
    pub qr_width: u16,
    /// The base32 secret, in groups of four.
    pub secret: SafeText,
    pub uri: SafeText,
    pub code: String,
    pub error: Option<SafeText>,
}

impl std::fmt::Debug for EnrolScreen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrolScreen")
            .field("shown", &!self.qr.is_empty())
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl EnrolScreen {
    /// Show the device to enrol.
    pub fn show(&mut self, uri: &str, secret_base32: &str) {
        if let Some(block) = qr::render(uri) {
            self.qr = block.lines;
            self.qr_width = block.width;
        }
        let grouped: Vec<String> = secret_base32
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        self.secret = SafeText::new(&grouped.join(" "));
        self.uri = SafeText::new(uri);
    }

    /// A key: digits build the code, Enter sends it.
    pub fn key(&mut self, k: KeyEvent) -> Option<Cmd> {
        match k.key {
            Key::Char(c) if c.is_ascii_digit() && self.code.len() < 8 => self.code.push(c),
            Key::Char('u') if k.mods.ctrl => self.code.clear(),
            Key::Backspace => {
                self.code.pop();
            }
            Key::Enter if !self.code.is_empty() => {
                return Some(Cmd::ConfirmEnrolment {
                    code: Secret(std::mem::take(&mut self.code)),
                })
            }
            _ => {}
        }
        None
    }
}

/// The password form.
#[derive(Clone, Debug)]
pub struct PasswordScreen {
    /// Forced (after a one-time password): no current password asked, no way out but on.
    pub forced: bool,
    /// (label, typed) for each field.
    pub fields: Vec<(&'static str, Secret)>,
    pub focus: usize,
    pub error: Option<SafeText>,
}

impl PasswordScreen {
    pub fn new(forced: bool) -> PasswordScreen {
        let mut fields = Vec::new();
        if !forced {
            fields.push(("Current password", Secret::default()));
        }
        fields.push(("New password", Secret::default()));
        fields.push(("New password again", Secret::default()));
        PasswordScreen {
            forced,
            fields,
            focus: 0,
            error: None,
        }
    }

    /// A bracketed paste (a password manager) goes into the focused field.
    pub fn paste(&mut self, text: &str) {
        if let Some((_, f)) = self.fields.get_mut(self.focus) {
            let room = MAX_FIELD.saturating_sub(f.0.chars().count());
            f.0.extend(text.chars().filter(|c| !c.is_control()).take(room));
        }
    }

    /// A key; `Some(None)` means "close the form", `Some(Some(cmd))` submits.
    pub fn key(&mut self, k: KeyEvent) -> Option<Option<Cmd>> {
        let last = self.fields.len().saturating_sub(1);
        match k.key {
            Key::Esc if !self.forced => return Some(None),
            Key::Tab | Key::Down => self.focus = (self.focus + 1).min(last),
            Key::BackTab | Key::Up => self.focus = self.focus.saturating_sub(1),
            Key::Enter if self.focus < last => self.focus += 1,
            Key::Enter => return Some(Some(self.submit())),
            Key::Char('s') if k.mods.ctrl => return Some(Some(self.submit())),
            Key::Char('u') if k.mods.ctrl => {
                if let Some((_, f)) = self.fields.get_mut(self.focus) {
                    f.0.clear();
                }
            }
            Key::Backspace => {
                if let Some((_, f)) = self.fields.get_mut(self.focus) {
                    f.0.pop();
                }
            }
            Key::Char(c) if !k.mods.ctrl && !k.mods.alt && !c.is_control() => {
                if let Some((_, f)) = self.fields.get_mut(self.focus) {
                    if f.0.chars().count() < MAX_FIELD {
                        f.0.push(c);
                    }
                }
            }
            _ => {}
        }
        None
    }

    fn submit(&mut self) -> Cmd {
        let mut values: Vec<Secret> = self.fields.iter().map(|(_, s)| s.clone()).collect();
        let repeat = values.pop().unwrap_or_default();
        let new = values.pop().unwrap_or_default();
        let current = values.pop();
        Cmd::ChangePassword {
            current,
            new,
            repeat,
        }
    }

    /// After a refusal: clear the new passwords and focus the first of them.
    pub fn refused(&mut self, why: &str) {
        self.error = Some(SafeText::new(why));
        let first_new = usize::from(!self.forced);
        for (_, f) in self.fields.iter_mut().skip(first_new) {
            f.0.clear();
        }
        if why.contains("current password") {
            if let Some((_, f)) = self.fields.first_mut() {
                f.0.clear();
            }
            self.focus = 0;
        } else {
            self.focus = first_new;
        }
    }
}

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

const TEXT: Style = Style::new();
const BOLD: Style = Style::new().add_modifier(Modifier::BOLD);
const ERROR: Style = Style::new()
    .fg(Color::White)
    .bg(Color::Red)
    .add_modifier(Modifier::BOLD);
/// The QR is painted white on black whatever the terminal's theme, so cameras read it.
const QR: Style = Style::new().fg(Color::White).bg(Color::Black);

/// Draw the enrolment screen in `area`; returns where the cursor goes.
pub fn draw_enrol(s: &EnrolScreen, buf: &mut Buffer, area: Rect) -> Option<Position> {
    for (i, line) in s.qr.iter().enumerate() {
        let y = area.y + u16::try_from(i).unwrap_or(u16::MAX);
        if y >= area.bottom() {
            break;
        }
        put(buf, area, area.x, y, line, usize::from(area.width), QR);
    }
    let x = if s.qr.is_empty() {
        area.x + 1
    } else {
        area.x + s.qr_width + 2
    };
    let width = usize::from(area.right().saturating_sub(x + 1)).max(10);
    let mut lines: Vec<(String, Style)> = vec![
        ("Set up two-factor authentication".into(), BOLD),
        (String::new(), TEXT),
    ];
    let para = |lines: &mut Vec<(String, Style)>, text: &str, style: Style| {
        lines.extend(wrap(text, width).into_iter().map(|l| (l, style)));
    };
    para(
        &mut lines,
        "1. Scan the QR code with an authenticator app, or type this secret:",
        TEXT,
    );
    para(&mut lines, s.secret.as_str(), BOLD);
    lines.push((String::new(), TEXT));
    para(
        &mut lines,
        "2. Type the 6-digit code the app shows, then Enter:",
        TEXT,
    );
    let code_line = lines.len();
    lines.push((format!("   code: {}", s.code), BOLD));
    lines.push((String::new(), TEXT));
    if let Some(e) = &s.error {
        para(&mut lines, e.as_str(), ERROR);
        lines.push((String::new(), TEXT));
    }
    para(
        &mut lines,
        &format!("URI: {}", s.uri),
        Style::new().fg(Color::DarkGray),
    );
    let mut cursor = None;
    for (i, (text, style)) in lines.iter().enumerate() {
        let y = area.y + u16::try_from(i).unwrap_or(u16::MAX);
        if y >= area.bottom() {
            break;
        }
        put(buf, area, x, y, text, width, *style);
        if i == code_line {
            let cx = x + u16::try_from(9 + s.code.len()).unwrap_or(0);
            cursor = Some(Position::new(cx.min(area.right().saturating_sub(1)), y));
        }
    }
    cursor
}

/// Draw the password form in `area`; returns where the cursor goes.
pub fn draw_password(s: &PasswordScreen, buf: &mut Buffer, area: Rect) -> Option<Position> {
    let x = area.x + 2;
    let width = usize::from(area.width.saturating_sub(4));
    let mut y = area.y + 1;
    let title = if s.forced {
        "Choose your own password to finish setting up your account."
    } else {
        "Change your password."
    };
    put(buf, area, x, y, title, width, BOLD);
    y += 1;
    let rule = format!(
        "At least {} characters, not your username, not a common password.",
        crate::domain::MIN_PASSWORD_LEN
    );
    put(buf, area, x, y, rule, width, TEXT);
    y += 2;
    let label_w = s.fields.iter().map(|(l, _)| l.len()).max().unwrap_or(0) + 2;
    let mut cursor = None;
    for (i, (label, value)) in s.fields.iter().enumerate() {
        if y >= area.bottom() {
            break;
        }
        let style = if i == s.focus { BOLD } else { TEXT };
        put(buf, area, x, y, format!("{label}:"), width, style);
        let n = value.0.chars().count();
        let dots: String = "•".repeat(n.min(width.saturating_sub(label_w + 1)));
        let vx = x + u16::try_from(label_w).unwrap_or(0);
        put(
            buf,
            area,
            vx,
            y,
            &dots,
            width.saturating_sub(label_w),
            style,
        );
        if i == s.focus {
            let cx = vx + u16::try_from(dots.chars().count()).unwrap_or(0);
            cursor = Some(Position::new(cx.min(area.right().saturating_sub(1)), y));
        }
        y += 1;
    }
    if let Some(e) = &s.error {
        y += 1;
        if y < area.bottom() {
            put(buf, area, x, y, e.as_str(), width, ERROR);
        }
    }
    cursor
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_areas_never_write_outside_the_buffer() {
        let mut enrol = EnrolScreen::default();
        enrol.show(
            "otpauth://totp/moat:olive?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=moat",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
        );
        enrol.error = Some(SafeText::new("that code does not match"));
        let mut password = PasswordScreen::new(false);
        password.error = Some(SafeText::new("too short"));
        for (w, h) in [(10, 1), (10, 2), (10, 3), (12, 4), (45, 5), (80, 24)] {
            let area = Rect::new(0, 0, w, h);
            let mut buf = Buffer::empty(area);
            draw_enrol(&enrol, &mut buf, area);
            draw_password(&password, &mut buf, area);
        }
    }
}
