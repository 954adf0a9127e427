//! `:sessions`: live sessions on every instance and ending one (superusers), and ended
//! sessions with their recordings to replay (superusers and `moat.view_recordings`; a
//! holder of that permission alone sees only the ended tab).

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};

use super::manage::{ask, keep, load, move_key, update, Update, MOVE};
use crate::domain::{format_duration, format_time};
use crate::tui::draw::{placeholder, put, table, DIM};
use crate::tui::input::{Key, KeyEvent};
use crate::tui::protocol::{Cmd, EndedEntry, ManageCmd, Msg, Panel, PanelData, SessionEntry};
use crate::tui::sanitize::SafeText;
use crate::tui::screen::{Action, Crumb, Hint, Screen};

/// Which list is shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tab {
    #[default]
    Live,
    Ended,
}

/// Live sessions, and ended ones.
#[derive(Clone, Debug, Default)]
pub struct SessionsScreen {
    pub sessions: Vec<SessionEntry>,
    /// When the list was read (unix seconds), for idle times.
    pub now: i64,
    pub selected: usize,
    pub loaded: bool,
    pub tab: Tab,
    /// The viewer may see live sessions (superusers).
    pub live: bool,
    /// The viewer may replay recordings: the ended tab is offered.
    pub replay: bool,
    pub ended: Vec<EndedEntry>,
    pub ended_selected: usize,
    pub ended_loaded: bool,
}

impl SessionsScreen {
    pub fn open() -> (SessionsScreen, Vec<Cmd>) {
        (SessionsScreen::default(), vec![load(&Panel::Sessions)])
    }
}

impl Screen for SessionsScreen {
    fn crumb(&self) -> Crumb {
        Crumb::text(match self.tab {
            Tab::Live => "live sessions",
            Tab::Ended => "ended sessions",
        })
    }

    fn key(&mut self, k: KeyEvent) -> Action {
        if k.key == Key::Tab || k.key == Key::BackTab {
            return self.switch();
        }
        if self.tab == Tab::Ended {
            return self.ended_key(k);
        }
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
        if let Update::Fill(PanelData::Ended(ended)) = update(&Panel::Ended, msg) {
            let kept = self.ended.get(self.ended_selected).map(|s| s.id.clone());
            self.ended = ended.clone();
            self.ended_selected = keep(kept, &self.ended, |s| &s.id, self.ended_selected);
            self.ended_loaded = true;
            return Action::None;
        }
        match update(&Panel::Sessions, msg) {
            Update::Fill(PanelData::Sessions {
                now,
                sessions,
                live,
                replay,
            }) => {
                let kept = self.sessions.get(self.selected).map(|s| s.id.clone());
                self.sessions = sessions.clone();
                self.now = *now;
                self.selected = keep(kept, &self.sessions, |s| &s.id, self.selected);
                let first = !self.loaded;
                self.loaded = true;
                self.live = *live;
                self.replay = *replay;
                if !self.live && self.replay && self.tab == Tab::Live {
                    // No live list for this viewer: the ended sessions are the screen.
                    self.tab = Tab::Ended;
                    if first {
                        return Action::cmd(load(&Panel::Ended));
                    }
                }
                Action::None
            }
            Update::Reload(action) => action,
            _ => Action::None,
        }
    }

    fn refresh(&mut self) -> Vec<Cmd> {
        match self.tab {
            Tab::Live => vec![load(&Panel::Sessions)],
            Tab::Ended => vec![load(&Panel::Ended)],
        }
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
        let area = self.draw_tabs(buf, area);
        if self.tab == Tab::Ended {
            self.draw_ended(buf, area);
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
        let ended = self.tab == Tab::Ended;
        let replayable = self
            .ended
            .get(self.ended_selected)
            .is_some_and(|e| e.recording.replayable());
        hints.extend([
            Hint::new("Enter", "replay").when(ended && replayable),
            Hint::new("x", "end session").when(!ended && !self.sessions.is_empty()),
            Hint::new("Tab", if ended { "live" } else { "ended" }).when(self.live && self.replay),
            Hint::new("l", "reload"),
            Hint::new("Esc", "back"),
        ]);
        hints
    }
}

impl SessionsScreen {
    /// Tab: the other list, if the viewer may see both.
    fn switch(&mut self) -> Action {
        if !(self.live && self.replay) {
            return Action::Ignored;
        }
        self.tab = match self.tab {
            Tab::Live => Tab::Ended,
            Tab::Ended => Tab::Live,
        };
        Action::Cmds(self.refresh())
    }

    fn ended_key(&mut self, k: KeyEvent) -> Action {
        if move_key(k, &mut self.ended_selected, self.ended.len(), true) {
            return Action::None;
        }
        match k.key {
            Key::Char('l') => Action::cmd(load(&Panel::Ended)),
            Key::Enter => match self.ended.get(self.ended_selected) {
                Some(e) if e.recording.replayable() => Action::cmd(Cmd::Replay {
                    session: e.id.clone(),
                }),
                Some(e) => Action::Error(format!(
                    "no recording of session {} to replay: {}",
                    e.id,
                    e.recording.describe()
                )),
                None => Action::None,
            },
            _ => Action::Ignored,
        }
    }

    /// The tab line (when there are two lists); returns the area below it.
    fn draw_tabs(&self, buf: &mut Buffer, area: Rect) -> Rect {
        if !(self.live && self.replay) || area.height < 2 {
            return area;
        }
        let (live, ended) = match self.tab {
            Tab::Live => ("[live]", " ended "),
            Tab::Ended => (" live ", "[ended]"),
        };
        put(
            buf,
            area,
            area.x + 1,
            area.y,
            format!("{live}  {ended}   Tab switches"),
            DIM,
        );
        Rect::new(area.x, area.y + 1, area.width, area.height - 1)
    }

    fn draw_ended(&self, buf: &mut Buffer, area: Rect) {
        if !self.ended_loaded {
            placeholder(buf, area, "loading…");
            return;
        }
        if self.ended.is_empty() {
            placeholder(buf, area, "no ended sessions");
            return;
        }
        let rows: Vec<Vec<SafeText>> = self
            .ended
            .iter()
            .map(|s| {
                let length = match s.ended_ms {
                    Some(end) => format_duration((end - s.started_ms).div_euclid(1000)),
                    None => "?".into(),
                };
                vec![
                    SafeText::new(&s.id),
                    SafeText::new(&s.user),
                    SafeText::new(&s.source_ip),
                    SafeText::new(&format_time(s.started_ms.div_euclid(1000))),
                    SafeText::new(&length),
                    SafeText::new(&s.recording.describe()),
                ]
            })
            .collect();
        let header = ["session", "user", "from", "started", "length", "recording"];
        table(buf, area, &header, &rows, self.ended_selected);
    }
}
