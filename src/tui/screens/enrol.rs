//! TOTP enrolment: the QR code (and the secret as text), then the code the app shows. While
//! a user is being set up, this and the password form are the only screens: every other
//! key and command is ignored here, and the session refuses anything else anyway.

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};

use crate::tui::draw::{putn as put, wrap, ERROR};
use crate::tui::input::{Key, KeyEvent};
use crate::tui::protocol::{Cmd, Msg, Secret};
use crate::tui::qr;
use crate::tui::sanitize::SafeText;
use crate::tui::screen::{Action, Crumb, Hint, Screen};

const TEXT: Style = Style::new();
const BOLD: Style = Style::new().add_modifier(Modifier::BOLD);
/// The QR is painted white on black whatever the terminal's theme, so cameras read it.
const QR: Style = Style::new().fg(Color::White).bg(Color::Black);

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

impl Screen for EnrolScreen {
    fn crumb(&self) -> Crumb {
        Crumb::text("two-factor set-up")
    }

    fn key(&mut self, k: KeyEvent) -> Action {
        match EnrolScreen::key(self, k) {
            Some(cmd) => Action::cmd(cmd),
            None => Action::None,
        }
    }

    fn update(&mut self, msg: &Msg) -> Action {
        match msg {
            Msg::Enrolment { uri, secret } => self.show(&uri.0, &secret.0),
            Msg::AccountRefused(why) => self.error = Some(SafeText::new(why)),
            _ => {}
        }
        Action::None
    }

    fn takes_all_keys(&self) -> bool {
        true
    }

    fn takes_secrets(&self) -> bool {
        true
    }

    fn shows_secrets(&self) -> bool {
        true
    }

    fn min_height(&self) -> u16 {
        u16::try_from(self.qr.len()).unwrap_or(u16::MAX)
    }

    fn draw(&mut self, buf: &mut Buffer, area: Rect) -> Option<Position> {
        draw_enrol(self, buf, area)
    }

    fn hints(&self) -> Vec<Hint> {
        vec![
            Hint::new("", "type the code, Enter to confirm"),
            Hint::new("Ctrl-C", "leave (set-up continues next login)"),
        ]
    }
}

/// Draw the enrolment screen in `area`; returns where the cursor goes.
pub(crate) fn draw_enrol(s: &EnrolScreen, buf: &mut Buffer, area: Rect) -> Option<Position> {
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
