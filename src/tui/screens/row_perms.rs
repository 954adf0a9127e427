//! Who holds permissions on one row (`o` on a record), and assigning or removing them
//! (`moat.manage_permissions`, no escalation: the session checks).

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};

use super::manage::{ask, keep, load, move_key, run, typed, update, Update, MOVE};
use crate::tui::draw::{placeholder, table};
use crate::tui::input::{Key, KeyEvent};
use crate::tui::prompt::PromptFor;
use crate::tui::protocol::{Cmd, ManageCmd, Msg, Panel, PanelData, Who};
use crate::tui::sanitize::SafeText;
use crate::tui::screen::{Action, Crumb, Hint, Screen};

/// The object permissions on row `pk` of `model`.
#[derive(Clone, Debug)]
pub struct RowPermsScreen {
    pub model: String,
    pub pk: String,
    pub grants: Vec<(Who, String)>,
    pub selected: usize,
    pub loaded: bool,
}

impl RowPermsScreen {
    pub fn open(model: &str, pk: &str) -> (RowPermsScreen, Vec<Cmd>) {
        let screen = RowPermsScreen {
            model: model.to_string(),
            pk: pk.to_string(),
            grants: Vec::new(),
            selected: 0,
            loaded: false,
        };
        let cmds = vec![load(&screen.panel())];
        (screen, cmds)
    }

    fn panel(&self) -> Panel {
        Panel::Row {
            model: self.model.clone(),
            pk: self.pk.clone(),
        }
    }
}

/// `user NAME CODENAME` or `group NAME CODENAME`.
fn parse_assign(text: &str) -> Option<(Who, String)> {
    match text.split_whitespace().collect::<Vec<_>>().as_slice() {
        ["user", name, codename] => Some((Who::User((*name).into()), (*codename).into())),
        ["group", name, codename] => Some((Who::Group((*name).into()), (*codename).into())),
        _ => None,
    }
}

impl Screen for RowPermsScreen {
    fn crumb(&self) -> Crumb {
        Crumb::text(&format!("{} #{} permissions", self.model, self.pk))
    }

    fn key(&mut self, k: KeyEvent) -> Action {
        if move_key(k, &mut self.selected, self.grants.len(), true) {
            return Action::None;
        }
        match k.key {
            Key::Char('a') => Action::Prompt(
                PromptFor::Assign {
                    model: self.model.clone(),
                    pk: self.pk.clone(),
                },
                String::new(),
            ),
            Key::Char('r') | Key::Delete => match self.grants.get(self.selected) {
                Some((to, codename)) => ask(
                    format!("Remove {codename} on {} #{}?", self.model, self.pk),
                    ManageCmd::ObjectPerm {
                        model: self.model.clone(),
                        pk: self.pk.clone(),
                        to: to.clone(),
                        codename: codename.clone(),
                        assign: false,
                    },
                ),
                None => Action::None,
            },
            _ => Action::Ignored,
        }
    }

    fn update(&mut self, msg: &Msg) -> Action {
        match update(&self.panel(), msg) {
            Update::Fill(PanelData::Row { grants, .. }) => {
                let kept = self.grants.get(self.selected).cloned();
                self.grants = grants.clone();
                self.selected = keep(kept, &self.grants, |g| g, self.selected);
                self.loaded = true;
                Action::None
            }
            Update::Reload(action) => action,
            _ => Action::None,
        }
    }

    fn answer(&mut self, what: &PromptFor, text: &str) -> Action {
        let PromptFor::Assign { model, pk } = what else {
            return Action::None;
        };
        let text = match typed(text) {
            Ok(t) => t,
            Err(refused) => return refused,
        };
        match parse_assign(&text) {
            Some((to, codename)) => run(ManageCmd::ObjectPerm {
                model: model.clone(),
                pk: pk.clone(),
                to,
                codename,
                assign: true,
            }),
            None => Action::Error("type: user NAME CODENAME, or group NAME CODENAME".into()),
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
        let rows: Vec<Vec<SafeText>> = self
            .grants
            .iter()
            .map(|(to, codename)| {
                let (kind, name) = match to {
                    Who::User(n) => ("user", n),
                    Who::Group(n) => ("group", n),
                };
                vec![
                    SafeText::new(kind),
                    SafeText::new(name),
                    SafeText::new(codename),
                ]
            })
            .collect();
        table(
            buf,
            area,
            &["to", "name", "permission"],
            &rows,
            self.selected,
        );
        None
    }

    fn hints(&self) -> Vec<Hint> {
        let mut hints = MOVE.to_vec();
        hints.extend([
            Hint::new("a", "assign"),
            Hint::new("r", "remove").when(!self.grants.is_empty()),
            Hint::new("Esc", "back"),
        ]);
        hints
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assign_prompt_parses_who_and_codename() {
        let mut s = RowPermsScreen::open("posts", "17").0;
        let what = PromptFor::Assign {
            model: "posts".into(),
            pk: "17".into(),
        };
        match s.answer(&what, "group editors change_posts") {
            Action::Cmds(cmds) => assert_eq!(
                cmds,
                vec![Cmd::Manage(ManageCmd::ObjectPerm {
                    model: "posts".into(),
                    pk: "17".into(),
                    to: Who::Group("editors".into()),
                    codename: "change_posts".into(),
                    assign: true
                })]
            ),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            s.answer(&what, "editors change_posts"),
            Action::Error(_)
        ));
        assert!(matches!(s.answer(&what, "   "), Action::Error(_)));
    }
}
