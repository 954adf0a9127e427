//! `:groups` (every group: members, permissions) and one group (its members and model
//! permissions). Changes are management commands the session checks
//! (`moat.manage_groups`, no escalation) and asks a fresh code for.

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};

use super::manage::{ask, keep, load, move_key, run, typed, update, Update, MOVE};
use crate::tui::draw::{placeholder, table};
use crate::tui::input::{Key, KeyEvent};
use crate::tui::prompt::PromptFor;
use crate::tui::protocol::{Cmd, GroupEntry, ManageCmd, Msg, Panel, PanelData, Who};
use crate::tui::sanitize::SafeText;
use crate::tui::screen::{Action, Crumb, Hint, Screen};

/// Every group.
#[derive(Clone, Debug, Default)]
pub struct GroupsScreen {
    pub groups: Vec<GroupEntry>,
    pub selected: usize,
    pub loaded: bool,
}

impl GroupsScreen {
    pub fn open() -> (GroupsScreen, Vec<Cmd>) {
        (GroupsScreen::default(), vec![load(&Panel::Groups)])
    }
}

impl Screen for GroupsScreen {
    fn crumb(&self) -> Crumb {
        Crumb::text("groups")
    }

    fn key(&mut self, k: KeyEvent) -> Action {
        if move_key(k, &mut self.selected, self.groups.len(), true) {
            return Action::None;
        }
        match k.key {
            Key::Char('n') => Action::Prompt(PromptFor::CreateGroup, String::new()),
            Key::Enter => match self.groups.get(self.selected) {
                Some(g) => {
                    let (screen, cmds) = GroupScreen::open(&g.name);
                    Action::push(screen, cmds)
                }
                None => Action::None,
            },
            Key::Char('R') => match self.groups.get(self.selected) {
                Some(g) => Action::Prompt(PromptFor::RenameGroup(g.name.clone()), String::new()),
                None => Action::None,
            },
            Key::Char('D') => match self.groups.get(self.selected) {
                Some(g) => ask(
                    format!(
                        "Delete group {}? Its {} members lose what they held only through it, \
                         and its permissions go. The audit trail keeps what it held.",
                        g.name, g.members
                    ),
                    ManageCmd::DeleteGroup {
                        group: g.name.clone(),
                    },
                ),
                None => Action::None,
            },
            _ => Action::Ignored,
        }
    }

    fn update(&mut self, msg: &Msg) -> Action {
        match update(&Panel::Groups, msg) {
            Update::Fill(PanelData::Groups(groups)) => {
                let kept = self.groups.get(self.selected).map(|g| g.name.clone());
                self.groups = groups.clone();
                self.selected = keep(kept, &self.groups, |g| &g.name, self.selected);
                self.loaded = true;
                Action::None
            }
            Update::Reload(action) => action,
            _ => Action::None,
        }
    }

    fn answer(&mut self, what: &PromptFor, text: &str) -> Action {
        match (what, typed(text)) {
            (PromptFor::CreateGroup, Ok(name)) => run(ManageCmd::CreateGroup(name)),
            (PromptFor::CreateGroup, Err(refused)) => refused,
            (PromptFor::RenameGroup(group), Ok(to)) => ask(
                format!("Rename group {group} to {to}? Members and permissions stay with it."),
                ManageCmd::RenameGroup {
                    group: group.clone(),
                    to,
                },
            ),
            (PromptFor::RenameGroup(_), Err(refused)) => refused,
            _ => Action::None,
        }
    }

    fn refresh(&mut self) -> Vec<Cmd> {
        vec![load(&Panel::Groups)]
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
            .groups
            .iter()
            .map(|g| {
                vec![
                    SafeText::new(&g.name),
                    SafeText::new(&g.members.to_string()),
                    SafeText::new(&g.perms.join(", ")),
                ]
            })
            .collect();
        table(
            buf,
            area,
            &["group", "members", "permissions"],
            &rows,
            self.selected,
        );
        None
    }

    fn hints(&self) -> Vec<Hint> {
        let mut hints = MOVE.to_vec();
        hints.extend([
            Hint::new("Enter", "open").when(!self.groups.is_empty()),
            Hint::new("n", "new"),
            Hint::new("R", "rename").when(!self.groups.is_empty()),
            Hint::new("D", "delete").when(!self.groups.is_empty()),
            Hint::new("Esc", "back"),
        ]);
        hints
    }
}

/// One row of a group's screen.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Item {
    Member(String),
    Perm(String),
}

/// One group: its members and permissions.
#[derive(Clone, Debug)]
pub struct GroupScreen {
    pub name: String,
    items: Vec<Item>,
    pub selected: usize,
    pub loaded: bool,
}

impl GroupScreen {
    pub fn open(name: &str) -> (GroupScreen, Vec<Cmd>) {
        let screen = GroupScreen {
            name: name.to_string(),
            items: Vec::new(),
            selected: 0,
            loaded: false,
        };
        (screen, vec![load(&Panel::Group(name.to_string()))])
    }
}

impl Screen for GroupScreen {
    fn crumb(&self) -> Crumb {
        Crumb::text(&format!("group {}", self.name))
    }

    fn key(&mut self, k: KeyEvent) -> Action {
        if move_key(k, &mut self.selected, self.items.len(), true) {
            return Action::None;
        }
        let group = self.name.clone();
        match k.key {
            Key::Char('m') => Action::Prompt(PromptFor::AddMember(group), String::new()),
            Key::Char('p') => Action::Prompt(PromptFor::Grant(Who::Group(group)), String::new()),
            Key::Char('r') | Key::Delete => match self.items.get(self.selected) {
                Some(Item::Member(u)) => ask(
                    format!("Remove {u} from group {group}?"),
                    ManageCmd::Membership {
                        user: u.clone(),
                        group,
                        member: false,
                    },
                ),
                Some(Item::Perm(c)) => ask(
                    format!("Revoke {c} from group {group}?"),
                    ManageCmd::ModelPerm {
                        to: Who::Group(group),
                        codename: c.clone(),
                        grant: false,
                    },
                ),
                None => Action::None,
            },
            _ => Action::Ignored,
        }
    }

    fn update(&mut self, msg: &Msg) -> Action {
        match update(&Panel::Group(self.name.clone()), msg) {
            Update::Fill(PanelData::Group { members, perms, .. }) => {
                let kept = self.items.get(self.selected).cloned();
                self.items = members
                    .iter()
                    .map(|u| Item::Member(u.clone()))
                    .chain(perms.iter().map(|c| Item::Perm(c.clone())))
                    .collect();
                self.selected = keep(kept, &self.items, |i| i, self.selected);
                self.loaded = true;
                Action::None
            }
            Update::Reload(action) => action,
            _ => Action::None,
        }
    }

    fn answer(&mut self, what: &PromptFor, text: &str) -> Action {
        let text = match typed(text) {
            Ok(t) => t,
            Err(refused) => return refused,
        };
        match what {
            PromptFor::AddMember(group) => run(ManageCmd::Membership {
                user: text,
                group: group.clone(),
                member: true,
            }),
            PromptFor::Grant(to) => run(ManageCmd::ModelPerm {
                to: to.clone(),
                codename: text,
                grant: true,
            }),
            _ => Action::None,
        }
    }

    fn refresh(&mut self) -> Vec<Cmd> {
        vec![load(&Panel::Group(self.name.clone()))]
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
            .items
            .iter()
            .map(|i| match i {
                Item::Member(u) => vec![SafeText::new("member"), SafeText::new(u)],
                Item::Perm(c) => vec![SafeText::new("permission"), SafeText::new(c)],
            })
            .collect();
        table(buf, area, &["kind", "name"], &rows, self.selected);
        None
    }

    fn hints(&self) -> Vec<Hint> {
        let mut hints = MOVE.to_vec();
        hints.extend([
            Hint::new("m", "add member"),
            Hint::new("p", "grant"),
            Hint::new("r", "remove").when(!self.items.is_empty()),
            Hint::new("Esc", "back"),
        ]);
        hints
    }
}
