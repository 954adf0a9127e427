//! `:users` (every user: superuser, status, lockout, groups) and one user (their groups,
//! model permissions and object permissions, and where each comes from). Every change is
//! a management command the session checks (`moat.manage_users`, `moat.manage_groups`,
//! no escalation) and asks a fresh code for.

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};

use super::manage::{ask, keep, load, move_key, run, typed, update, Update, MOVE};
use crate::tui::draw::{placeholder, table};
use crate::tui::input::{Key, KeyEvent};
use crate::tui::prompt::PromptFor;
use crate::tui::protocol::{ManageCmd, Msg, Panel, PanelData, UserEntry, Who};
use crate::tui::sanitize::SafeText;
use crate::tui::screen::{Action, Crumb, Hint, Screen};

/// Every user.
#[derive(Clone, Debug, Default)]
pub struct UsersScreen {
    pub users: Vec<UserEntry>,
    pub selected: usize,
    pub loaded: bool,
    /// The viewer may reset second factors (a superuser).
    pub superuser: bool,
}

impl UsersScreen {
    pub fn open() -> (UsersScreen, Vec<crate::tui::protocol::Cmd>) {
        (UsersScreen::default(), vec![load(&Panel::Users)])
    }

    fn current(&self) -> Option<&UserEntry> {
        self.users.get(self.selected)
    }
}

impl Screen for UsersScreen {
    fn crumb(&self) -> Crumb {
        Crumb::text("users")
    }

    fn key(&mut self, k: KeyEvent) -> Action {
        if move_key(k, &mut self.selected, self.users.len(), true) {
            return Action::None;
        }
        if k.key == Key::Char('n') {
            return Action::Prompt(PromptFor::CreateUser, String::new());
        }
        let Some(u) = self.current() else {
            return Action::Ignored;
        };
        let name = u.name.clone();
        // Every question names its user by name and id; the command carries the name
        // it was asked about, whatever the list shows by the time it is answered.
        let who = format!("{name} (#{})", u.id);
        match k.key {
            Key::Enter => {
                let (screen, cmds) = UserScreen::open(&name);
                Action::push(screen, cmds)
            }
            Key::Char('x') => {
                let verb = if u.active { "Disable" } else { "Enable" };
                ask(
                    format!("{verb} {who}?"),
                    ManageCmd::SetActive {
                        user: name,
                        active: !u.active,
                    },
                )
            }
            Key::Char('t') => ask(
                format!(
                    "Reset the two-factor setup of {who}? They get a new one-time password, \
                     enrol again, and their sessions end."
                ),
                ManageCmd::ResetTwoFactor { user: name },
            ),
            Key::Char('K') => {
                let (screen, cmds) = super::KeysScreen::open(Some(name));
                Action::push(screen, cmds)
            }
            Key::Char('u') => ask(
                format!("Clear the failed-login counts and lockouts of {who}?"),
                ManageCmd::Unlock { user: name },
            ),
            Key::Char('D') => ask(
                format!(
                    "Delete user {who}? Their account, group memberships, permissions, keys \
                     and second factor go, and their sessions end. The audit trail keeps \
                     what they held."
                ),
                ManageCmd::DeleteUser { user: name },
            ),
            _ => Action::Ignored,
        }
    }

    fn update(&mut self, msg: &Msg) -> Action {
        match update(&Panel::Users, msg) {
            Update::Fill(PanelData::Users { users, superuser }) => {
                // The selection follows its user, not its position.
                let kept = self.current().map(|u| u.name.clone());
                self.users = users.clone();
                self.superuser = *superuser;
                self.selected = keep(kept, &self.users, |u| &u.name, self.selected);
                self.loaded = true;
                Action::None
            }
            Update::Reload(action) => action,
            _ => Action::None,
        }
    }

    fn answer(&mut self, what: &PromptFor, text: &str) -> Action {
        match (what, typed(text)) {
            (PromptFor::CreateUser, Ok(name)) => run(ManageCmd::CreateUser(name)),
            (PromptFor::CreateUser, Err(refused)) => refused,
            _ => Action::None,
        }
    }

    fn refresh(&mut self) -> Vec<crate::tui::protocol::Cmd> {
        vec![load(&Panel::Users)]
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
            .users
            .iter()
            .map(|u| {
                vec![
                    SafeText::new(&u.name),
                    SafeText::new(if u.superuser { "superuser" } else { "" }),
                    SafeText::new(if u.active { "active" } else { "disabled" }),
                    SafeText::new(if u.locked { "locked" } else { "" }),
                    SafeText::new(&u.groups.join(", ")),
                ]
            })
            .collect();
        let header = ["user", "", "status", "lockout", "groups"];
        table(buf, area, &header, &rows, self.selected);
        None
    }

    fn hints(&self) -> Vec<Hint> {
        let any = self.current().is_some();
        let mut hints = MOVE.to_vec();
        hints.extend([
            Hint::new("Enter", "open").when(any),
            Hint::new("n", "new"),
            Hint::new("x", "disable/enable").when(any),
            Hint::new("u", "unlock").when(any),
            Hint::new("K", "keys").when(any),
            Hint::new("t", "reset 2FA").when(any && self.superuser),
            // Only a superuser may delete a superuser.
            Hint::new("D", "delete").when(
                self.current()
                    .is_some_and(|u| self.superuser || !u.superuser),
            ),
            Hint::new("Esc", "back"),
        ]);
        hints
    }
}

/// One row of a user's screen: what it stands for and its cells.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Item {
    Group(String),
    /// A model permission of the user's own (removable here).
    Perm(String),
    /// Shown for information (a permission that comes from a group, an object permission).
    Info,
}

/// One user: their groups and permissions.
#[derive(Clone, Debug)]
pub struct UserScreen {
    pub name: String,
    items: Vec<(Item, Vec<SafeText>)>,
    pub selected: usize,
    pub loaded: bool,
}

impl UserScreen {
    pub fn open(name: &str) -> (UserScreen, Vec<crate::tui::protocol::Cmd>) {
        let screen = UserScreen {
            name: name.to_string(),
            items: Vec::new(),
            selected: 0,
            loaded: false,
        };
        (screen, vec![load(&Panel::User(name.to_string()))])
    }

    fn panel(&self) -> Panel {
        Panel::User(self.name.clone())
    }
}

impl Screen for UserScreen {
    fn crumb(&self) -> Crumb {
        Crumb::text(&format!("user {}", self.name))
    }

    fn key(&mut self, k: KeyEvent) -> Action {
        // `g` adds to a group here, so it does not jump to the top.
        if move_key(k, &mut self.selected, self.items.len(), false) {
            return Action::None;
        }
        let user = self.name.clone();
        match k.key {
            Key::Char('g') => Action::Prompt(PromptFor::AddToGroup(user), String::new()),
            Key::Char('p') => Action::Prompt(PromptFor::Grant(Who::User(user)), String::new()),
            Key::Char('r') | Key::Delete => match self.items.get(self.selected) {
                Some((Item::Group(g), _)) => ask(
                    format!("Remove {user} from group {g}?"),
                    ManageCmd::Membership {
                        user,
                        group: g.clone(),
                        member: false,
                    },
                ),
                Some((Item::Perm(c), _)) => ask(
                    format!("Revoke {c} from {user}?"),
                    ManageCmd::ModelPerm {
                        to: Who::User(user),
                        codename: c.clone(),
                        grant: false,
                    },
                ),
                _ => Action::None,
            },
            _ => Action::Ignored,
        }
    }

    fn update(&mut self, msg: &Msg) -> Action {
        match update(&self.panel(), msg) {
            Update::Fill(PanelData::User {
                groups,
                model_perms,
                object_perms,
                ..
            }) => {
                let cells = |v: [&str; 3]| v.iter().map(|c| SafeText::new(c)).collect();
                let mut items: Vec<(Item, Vec<SafeText>)> = groups
                    .iter()
                    .map(|g| (Item::Group(g.clone()), cells(["group", g, ""])))
                    .collect();
                for (codename, via) in model_perms {
                    let item = if via == "direct" {
                        Item::Perm(codename.clone())
                    } else {
                        Item::Info
                    };
                    let from = format!("via {via}");
                    items.push((item, cells(["permission", codename, &from])));
                }
                for (codename, model, pk, via) in object_perms {
                    let what = format!("{codename} {model} #{pk}");
                    let from = format!("via {via}");
                    items.push((Item::Info, cells(["on a row", &what, &from])));
                }
                let kept = self
                    .items
                    .get(self.selected)
                    .map(|(id, c)| (id.clone(), c.clone()));
                self.items = items;
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
            PromptFor::AddToGroup(user) => run(ManageCmd::Membership {
                user: user.clone(),
                group: text,
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

    fn refresh(&mut self) -> Vec<crate::tui::protocol::Cmd> {
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
        let rows: Vec<Vec<SafeText>> = self.items.iter().map(|(_, c)| c.clone()).collect();
        table(buf, area, &["kind", "name", "from"], &rows, self.selected);
        None
    }

    fn hints(&self) -> Vec<Hint> {
        let removable = matches!(
            self.items.get(self.selected),
            Some((Item::Group(_) | Item::Perm(_), _))
        );
        let mut hints = MOVE.to_vec();
        hints.extend([
            Hint::new("g", "add to group"),
            Hint::new("p", "grant"),
            Hint::new("r", "remove").when(removable),
            Hint::new("Esc", "back"),
        ]);
        hints
    }
}
