//! The password form: forced after a one-time password (no current password asked, no
//! way out but on), or chosen from the console with `:password`.

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Modifier, Style};

use crate::tui::draw::{putn as put, ERROR};
use crate::tui::input::{Key, KeyEvent};
use crate::tui::protocol::{Cmd, Msg, Secret};
use crate::tui::sanitize::SafeText;
use crate::tui::screen::{Action, Crumb, Hint, Screen};

/// Longest password accepted into a field.
const MAX_FIELD: usize = 1024;

const TEXT: Style = Style::new();
const BOLD: Style = Style::new().add_modifier(Modifier::BOLD);

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

impl Screen for PasswordScreen {
    fn crumb(&self) -> Crumb {
        Crumb::text("password")
    }

    fn key(&mut self, k: KeyEvent) -> Action {
        match PasswordScreen::key(self, k) {
            Some(Some(cmd)) => Action::cmd(cmd),
            Some(None) => Action::Pop,
            None => Action::None,
        }
    }

    fn update(&mut self, msg: &Msg) -> Action {
        match msg {
            Msg::AccountRefused(why) => {
                self.refused(why);
                Action::None
            }
            Msg::PasswordChanged if !self.forced => Action::Pop,
            _ => Action::None,
        }
    }

    fn paste(&mut self, text: &str) {
        PasswordScreen::paste(self, text);
    }

    fn takes_all_keys(&self) -> bool {
        true
    }

    fn takes_secrets(&self) -> bool {
        true
    }

    fn draw(&mut self, buf: &mut Buffer, area: Rect) -> Option<Position> {
        draw_password(self, buf, area)
    }

    fn hints(&self) -> Vec<Hint> {
        vec![
            Hint::new("Tab", "next field"),
            Hint::new("Enter", "confirm"),
            if self.forced {
                Hint::new("Ctrl-C", "leave")
            } else {
                Hint::new("Esc", "cancel")
            },
        ]
    }
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
    use crate::tui::screens::enrol::{draw_enrol, EnrolScreen};

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
