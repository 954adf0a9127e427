//! `:sessions` (superusers): live sessions on every instance, and ending one.

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};

use super::manage::{ask, keep, load, move_key, update, Update, MOVE};
use crate::domain::{format_duration, format_time};
use crate::tui::draw::{placeholder, table};
use crate::tui::input::{Key, KeyEvent};
use crate::tui::protocol::{Cmd, ManageCmd, Msg, Panel, PanelData, SessionEntry};
use crate::tui::sanitize::SafeText;
use crate::tui::screen::{Action, Crumb, Hint, Screen};

/// Live sessions.
#[derive(Clone, Debug, Default)]
pub struct SessionsScreen {
    pub sessions: Vec<SessionEntry>,
    /// When the list was read (unix seconds), for idle times.
    pub now: i64,
    pub selected: usize,
    pub loaded: bool,
}

impl SessionsScreen {
    pub fn open() -> (SessionsScreen, Vec<Cmd>) {
        (SessionsScreen::default(), vec![load(&Panel::Sessions)])
    }
}

impl Screen for SessionsScreen {
    fn crumb(&self) -> Crumb {
        Crumb::text("live sessions")
    }

    fn key(&mut self, k: KeyEvent) -> Action {
        if move_key(k, &mut self.selected, self.sessions.len(), true) {
            return Action::None;
        }
        match k.key {
            Key::Char('l') => Action::cmd(load(&Panel::Sessions)),
            Key::Char('x') | Key::Delete => match self.sessions.get(self.selected) {
                Some(s) => ask(
                    format!("End session {} of {}?", s.id, s.user),
                    ManageCmd::EndSession { id: s.id.clone() },
                ),
                None => Action::None,
            },
            _ => Action::Ignored,
        }
    }

    fn update(&mut self, msg: &Msg) -> Action {
        match update(&Panel::Sessions, msg) {
            Update::Fill(PanelData::Sessions { now, sessions }) => {
                let kept = self.sessions.get(self.selected).map(|s| s.id.clone());
                self.sessions = sessions.clone();
                self.now = *now;
                self.selected = keep(kept, &self.sessions, |s| &s.id, self.selected);
                self.loaded = true;
                Action::None
            }
            Update::Reload(action) => action,
            _ => Action::None,
        }
    }

    fn refresh(&mut self) -> Vec<Cmd> {
        vec![load(&Panel::Sessions)]
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
        let rows: Vec<Vec<SafeText>> = self
            .sessions
            .iter()
            .map(|s| {
                vec![
                    SafeText::new(&s.id),
                    SafeText::new(&s.user),
                    SafeText::new(&s.source_ip),
                    SafeText::new(&format_time(s.started_at)),
                    SafeText::new(&format_duration(self.now - s.last_input_at)),
                    SafeText::new(if s.ending { "ending" } else { "" }),
                ]
            })
            .collect();
        let header = ["session", "user", "from", "started", "idle", ""];
        table(buf, area, &header, &rows, self.selected);
        None
    }

    fn hints(&self) -> Vec<Hint> {
        let mut hints = MOVE.to_vec();
        hints.extend([
            Hint::new("x", "end session").when(!self.sessions.is_empty()),
            Hint::new("l", "reload"),
            Hint::new("Esc", "back"),
        ]);
        hints
    }
}
