//! `:keys` (one's own SSH public keys) and a user's keys from `:users` (`K`, for holders of
//! `moat.manage_users`): list them, add one by pasting its OpenSSH line (one's own only;
//! a fresh code first), remove one (the question names its fingerprint and comment;
//! sessions that logged in with it end). The session checks the line and every right.

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};

use super::manage::{ask, keep, load, move_key, run, update, Update, MOVE};
use crate::domain::format_time;
use crate::tui::draw::{placeholder, table_max, LIST_CELL_WIDTH};

/// Room for a fingerprint (`SHA256:` + 43 base64 characters, or an MD5 one).
const FINGERPRINT_WIDTH: usize = 64;
/// A comment is cut to this in the list (the removal question names it whole), so the
/// fingerprint fits beside it at 80 columns.
const COMMENT_WIDTH: usize = 20;
use crate::tui::input::{Key, KeyEvent};
use crate::tui::prompt::PromptFor;
use crate::tui::protocol::{Cmd, KeyEntry, ManageCmd, Msg, Panel, PanelData};
use crate::tui::sanitize::SafeText;
use crate::tui::screen::{Action, Crumb, Hint, Screen};

/// A user's public keys.
#[derive(Clone, Debug)]
pub struct KeysScreen {
    /// `None`: one's own.
    pub user: Option<String>,
    /// Whose keys they are (as the session says).
    pub name: String,
    pub keys: Vec<KeyEntry>,
    pub selected: usize,
    pub loaded: bool,
}

impl KeysScreen {
    /// One's own keys (`None`), or `user`'s.
    pub fn open(user: Option<String>) -> (KeysScreen, Vec<Cmd>) {
        let panel = Panel::Keys(user.clone());
        (
            KeysScreen {
                name: user.clone().unwrap_or_default(),
                user,
                keys: Vec::new(),
                selected: 0,
                loaded: false,
            },
            vec![load(&panel)],
        )
    }

    fn panel(&self) -> Panel {
        Panel::Keys(self.user.clone())
    }

    fn own(&self) -> bool {
        self.user.is_none()
    }
}

impl Screen for KeysScreen {
    fn crumb(&self) -> Crumb {
        match &self.user {
            None => Crumb::text("my keys"),
            Some(name) => Crumb::text(&format!("keys of {name}")),
        }
    }

    fn key(&mut self, k: KeyEvent) -> Action {
        if move_key(k, &mut self.selected, self.keys.len(), true) {
            return Action::None;
        }
        match k.key {
            Key::Char('a') if self.own() => Action::Prompt(PromptFor::AddKey, String::new()),
            Key::Char('l') => Action::cmd(load(&self.panel())),
            Key::Char('x') | Key::Delete => match self.keys.get(self.selected) {
                Some(key) => {
                    let whose = match &self.user {
                        None => "your key".to_string(),
                        Some(name) => format!("the key of {name}"),
                    };
                    let comment = if key.comment.is_empty() {
                        "no comment".to_string()
                    } else {
                        format!("\"{}\"", key.comment)
                    };
                    ask(
                        format!(
                            "Remove {whose} {} ({comment})? Sessions that logged in with it end.",
                            key.fingerprint
                        ),
                        ManageCmd::RemoveKey {
                            user: self.user.clone(),
                            id: key.id,
                        },
                    )
                }
                None => Action::None,
            },
            _ => Action::Ignored,
        }
    }

    fn update(&mut self, msg: &Msg) -> Action {
        match update(&self.panel(), msg) {
            Update::Fill(PanelData::Keys { name, keys, .. }) => {
                let kept = self.keys.get(self.selected).map(|k| k.id);
                self.name = name.clone();
                self.keys = keys.clone();
                self.selected = keep(kept, &self.keys, |k| &k.id, self.selected);
                self.loaded = true;
                Action::None
            }
            Update::Reload(action) => action,
            _ => Action::None,
        }
    }

    fn answer(&mut self, what: &PromptFor, text: &str) -> Action {
        match what {
            PromptFor::AddKey if text.trim().is_empty() => Action::Error("nothing pasted".into()),
            PromptFor::AddKey => run(ManageCmd::AddKey {
                line: text.trim().to_string(),
            }),
            _ => Action::None,
        }
    }

    fn refresh(&mut self) -> Vec<Cmd> {
        vec![load(&self.panel())]
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
        if self.keys.is_empty() {
            let text = match &self.user {
                None => "no keys yet: `a` adds one (paste its `ssh-ed25519 AAAA… comment` line)"
                    .to_string(),
                Some(_) => format!("{} has no keys", SafeText::new(&self.name)),
            };
            placeholder(buf, area, &text);
            return None;
        }
        let rows: Vec<Vec<SafeText>> = self
            .keys
            .iter()
            .map(|k| {
                vec![
                    SafeText::new(&k.comment),
                    SafeText::new(&k.fingerprint),
                    SafeText::new(&k.algorithm),
                    SafeText::new(&format_time(k.added)),
                    SafeText::new(
                        &k.last_used
                            .map(format_time)
                            .unwrap_or_else(|| "never".into()),
                    ),
                ]
            })
            .collect();
        let header = ["comment", "fingerprint", "algorithm", "added", "last used"];
        // The fingerprint whole (`SHA256:` and 43 characters): it is what names a key.
        table_max(buf, area, &header, &rows, self.selected, |c| match c {
            0 => COMMENT_WIDTH,
            1 => FINGERPRINT_WIDTH,
            _ => LIST_CELL_WIDTH,
        });
        None
    }

    fn hints(&self) -> Vec<Hint> {
        let mut hints = MOVE.to_vec();
        hints.extend([
            Hint::new("a", "add").when(self.own()),
            Hint::new("x", "remove").when(!self.keys.is_empty()),
            Hint::new("l", "reload"),
            Hint::new("Esc", "back"),
        ]);
        hints
    }
}
