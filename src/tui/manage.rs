//! The management screens: users, groups, and the object permissions of one row.
//!
//! One list widget serves every panel; what differs is what its rows are ([`ItemId`]) and
//! which keys do what. Every change goes out as a [`ManageCmd`] that the session checks
//! (`moat.manage_*` permissions, no escalation) before anything is written.

use super::input::{Key, KeyEvent};
use super::sanitize::SafeText;

/// Which management list is shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Panel {
    Users,
    User(String),
    Groups,
    Group(String),
    /// The object permissions on row `pk` of `model`.
    Row {
        model: String,
        pk: String,
    },
    /// Live sessions on every instance (superusers).
    Sessions,
}

impl Panel {
    pub fn title(&self) -> String {
        match self {
            Panel::Users => "users".into(),
            Panel::User(u) => format!("user {u}"),
            Panel::Groups => "groups".into(),
            Panel::Group(g) => format!("group {g}"),
            Panel::Row { model, pk } => format!("{model} #{pk} permissions"),
            Panel::Sessions => "live sessions".into(),
        }
    }

    /// Key hints for the footer.
    pub fn hints(&self) -> &'static str {
        match self {
            Panel::Users => " Enter open  n new  x disable/enable  u unlock  t reset 2FA  Esc back",
            Panel::User(_) => " g add to group  p grant  r remove  Esc back",
            Panel::Groups => " Enter open  n new  Esc back",
            Panel::Group(_) => " m add member  p grant  r remove  Esc back",
            Panel::Row { .. } => " a assign  r remove  Esc back",
            Panel::Sessions => " x end session  l reload  Esc back",
        }
    }
}

/// A user or a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Who {
    User(String),
    Group(String),
}

/// What a row of a management list stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemId {
    User {
        name: String,
        active: bool,
    },
    Group(String),
    /// A model permission of the user or group shown.
    Perm(String),
    /// A member of the group shown.
    Member(String),
    /// An object permission on the row shown.
    Grant {
        to: Who,
        codename: String,
    },
    /// A live session (id, user).
    Session {
        id: String,
        user: String,
    },
    /// Shown for information only (e.g. a permission that comes from a group).
    Info,
}

/// One row: what it is and its cells (raw; sanitized when it arrives).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub id: ItemId,
    pub cells: Vec<String>,
}

/// Management requests; each is checked by the session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManageCmd {
    Load(Panel),
    CreateUser(String),
    CreateGroup(String),
    SetActive {
        user: String,
        active: bool,
    },
    Unlock {
        user: String,
    },
    Membership {
        user: String,
        group: String,
        member: bool,
    },
    ModelPerm {
        to: Who,
        codename: String,
        grant: bool,
    },
    ObjectPerm {
        model: String,
        pk: String,
        to: Who,
        codename: String,
        assign: bool,
    },
    /// Drop the user's TOTP device and backup codes and give them a new one-time password.
    ResetTwoFactor {
        user: String,
    },
    /// End a live session (any instance).
    EndSession {
        id: String,
    },
}

impl ManageCmd {
    /// Whether this changes anything (and so needs a fresh second factor).
    pub fn changes(&self) -> bool {
        !matches!(self, ManageCmd::Load(_))
    }
}

/// Answers to management requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManageMsg {
    Loaded {
        panel: Panel,
        header: Vec<String>,
        items: Vec<Item>,
    },
    /// A change was made: say so, and reload the list on top.
    Changed(String),
    /// Something to show once, in a box (a new user's password and TOTP URI).
    Show(Vec<String>),
}

/// A management list on screen.
#[derive(Clone, Debug)]
pub struct ManageScreen {
    pub panel: Panel,
    pub header: Vec<SafeText>,
    pub items: Vec<(ItemId, Vec<SafeText>)>,
    pub selected: usize,
    pub loaded: bool,
}

/// What a one-line prompt's answer is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PromptFor {
    /// The `:` command line.
    Command,
    /// The `/` search of a list.
    Search,
    /// The filter of the audit viewer.
    AuditFilter,
    /// A from..to range for a list filter.
    Range,
    /// The name of a bulk action (the declared ones listed).
    Bulk(String),
    CreateUser,
    CreateGroup,
    AddToGroup(String),
    AddMember(String),
    Grant(Who),
    Assign {
        model: String,
        pk: String,
    },
    /// A fresh verification code before a sensitive action (what it is for). Masked.
    StepUp(String),
}

impl PromptFor {
    /// Whether what is typed is a secret (shown as dots).
    pub fn masked(&self) -> bool {
        matches!(self, PromptFor::StepUp(_))
    }

    pub fn label(&self) -> &'static str {
        match self {
            PromptFor::Command => ":",
            PromptFor::Search => "search (^ for a prefix): ",
            PromptFor::AuditFilter => "filter (user= model= action= outcome= since=): ",
            PromptFor::Range => "range from..to: ",
            PromptFor::Bulk(_) => "action for the marked rows: ",
            PromptFor::CreateUser => "new user name: ",
            PromptFor::CreateGroup => "new group name: ",
            PromptFor::AddToGroup(_) => "add to group: ",
            PromptFor::AddMember(_) => "add member (username): ",
            PromptFor::Grant(_) => "grant permission (e.g. view_posts): ",
            PromptFor::Assign { .. } => "assign (user NAME CODENAME | group NAME CODENAME): ",
            PromptFor::StepUp(_) => "Verification code (step-up): ",
        }
    }

    /// The command the typed `text` asks for, or why not.
    pub fn command(&self, text: &str) -> Result<ManageCmd, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("nothing typed".into());
        }
        Ok(match self {
            PromptFor::Command
            | PromptFor::Search
            | PromptFor::AuditFilter
            | PromptFor::Range
            | PromptFor::Bulk(_)
            | PromptFor::StepUp(_) => return Err("not a management prompt".into()),
            PromptFor::CreateUser => ManageCmd::CreateUser(text.into()),
            PromptFor::CreateGroup => ManageCmd::CreateGroup(text.into()),
            PromptFor::AddToGroup(user) => ManageCmd::Membership {
                user: user.clone(),
                group: text.into(),
                member: true,
            },
            PromptFor::AddMember(group) => ManageCmd::Membership {
                user: text.into(),
                group: group.clone(),
                member: true,
            },
            PromptFor::Grant(to) => ManageCmd::ModelPerm {
                to: to.clone(),
                codename: text.into(),
                grant: true,
            },
            PromptFor::Assign { model, pk } => {
                let words: Vec<&str> = text.split_whitespace().collect();
                let to = match words.as_slice() {
                    ["user", name, _] => Who::User((*name).into()),
                    ["group", name, _] => Who::Group((*name).into()),
                    _ => return Err("type: user NAME CODENAME, or group NAME CODENAME".into()),
                };
                ManageCmd::ObjectPerm {
                    model: model.clone(),
                    pk: pk.clone(),
                    to,
                    codename: words[2].into(),
                    assign: true,
                }
            }
        })
    }
}

/// What a key on a management list asks for.
pub enum ManageAction {
    None,
    Open(Panel),
    Prompt(PromptFor),
    Confirm(String, ManageCmd),
    Run(ManageCmd),
}

impl ManageScreen {
    pub fn new(panel: Panel) -> ManageScreen {
        ManageScreen {
            panel,
            header: Vec::new(),
            items: Vec::new(),
            selected: 0,
            loaded: false,
        }
    }

    /// Fill the list with a fresh answer (keeping the cursor where it was, if it can).
    pub fn fill(&mut self, header: Vec<String>, items: Vec<Item>) {
        self.header = header.iter().map(|h| SafeText::new(h)).collect();
        self.items = items
            .into_iter()
            .map(|i| (i.id, i.cells.iter().map(|c| SafeText::new(c)).collect()))
            .collect();
        self.selected = self.selected.min(self.items.len().saturating_sub(1));
        self.loaded = true;
    }

    pub fn key(&mut self, k: KeyEvent) -> ManageAction {
        let n = self.items.len();
        match k.key {
            Key::Down | Key::Char('j') => {
                self.selected = (self.selected + 1).min(n.saturating_sub(1))
            }
            Key::Up | Key::Char('k') => self.selected = self.selected.saturating_sub(1),
            Key::Home | Key::Char('g') if !matches!(self.panel, Panel::User(_)) => {
                self.selected = 0
            }
            Key::End | Key::Char('G') => self.selected = n.saturating_sub(1),
            _ => return self.panel_key(k),
        }
        ManageAction::None
    }

    fn selected_id(&self) -> Option<&ItemId> {
        self.items.get(self.selected).map(|(id, _)| id)
    }

    fn panel_key(&mut self, k: KeyEvent) -> ManageAction {
        let selected = self.selected_id().cloned();
        match (&self.panel, k.key, selected) {
            (Panel::Users, Key::Enter, Some(ItemId::User { name, .. })) => {
                ManageAction::Open(Panel::User(name))
            }
            (Panel::Users, Key::Char('n'), _) => ManageAction::Prompt(PromptFor::CreateUser),
            (Panel::Users, Key::Char('x'), Some(ItemId::User { name, active })) => {
                let verb = if active { "Disable" } else { "Enable" };
                ManageAction::Confirm(
                    format!("{verb} user {name}?"),
                    ManageCmd::SetActive {
                        user: name,
                        active: !active,
                    },
                )
            }
            (Panel::Users, Key::Char('t'), Some(ItemId::User { name, .. })) => {
                ManageAction::Confirm(
                    format!(
                        "Reset the two-factor setup of {name}? They get a new one-time password, \
                         enrol again, and their sessions end."
                    ),
                    ManageCmd::ResetTwoFactor { user: name },
                )
            }
            (Panel::Sessions, Key::Char('x') | Key::Delete, Some(ItemId::Session { id, user })) => {
                ManageAction::Confirm(
                    format!("End session {id} of {user}?"),
                    ManageCmd::EndSession { id },
                )
            }
            (Panel::Sessions, Key::Char('l'), _) => {
                ManageAction::Run(ManageCmd::Load(Panel::Sessions))
            }
            (Panel::Users, Key::Char('u'), Some(ItemId::User { name, .. })) => {
                ManageAction::Confirm(
                    format!("Clear the failed-login counts and lockouts of {name}?"),
                    ManageCmd::Unlock { user: name },
                )
            }
            (Panel::Groups, Key::Enter, Some(ItemId::Group(name))) => {
                ManageAction::Open(Panel::Group(name))
            }
            (Panel::Groups, Key::Char('n'), _) => ManageAction::Prompt(PromptFor::CreateGroup),
            (Panel::User(u), Key::Char('g'), _) => {
                ManageAction::Prompt(PromptFor::AddToGroup(u.clone()))
            }
            (Panel::User(u), Key::Char('p'), _) => {
                ManageAction::Prompt(PromptFor::Grant(Who::User(u.clone())))
            }
            (Panel::Group(g), Key::Char('m'), _) => {
                ManageAction::Prompt(PromptFor::AddMember(g.clone()))
            }
            (Panel::Group(g), Key::Char('p'), _) => {
                ManageAction::Prompt(PromptFor::Grant(Who::Group(g.clone())))
            }
            (Panel::Row { model, pk }, Key::Char('a'), _) => {
                ManageAction::Prompt(PromptFor::Assign {
                    model: model.clone(),
                    pk: pk.clone(),
                })
            }
            (panel, Key::Char('r') | Key::Delete, Some(id)) => match removal(panel, id) {
                Some((question, cmd)) => ManageAction::Confirm(question, cmd),
                None => ManageAction::None,
            },
            _ => ManageAction::None,
        }
    }
}

/// The question and command that remove `id` from `panel`.
fn removal(panel: &Panel, id: ItemId) -> Option<(String, ManageCmd)> {
    Some(match (panel, id) {
        (Panel::User(u), ItemId::Group(g)) => (
            format!("Remove {u} from group {g}?"),
            ManageCmd::Membership {
                user: u.clone(),
                group: g,
                member: false,
            },
        ),
        (Panel::User(u), ItemId::Perm(c)) => (
            format!("Revoke {c} from {u}?"),
            ManageCmd::ModelPerm {
                to: Who::User(u.clone()),
                codename: c,
                grant: false,
            },
        ),
        (Panel::Group(g), ItemId::Member(u)) => (
            format!("Remove {u} from group {g}?"),
            ManageCmd::Membership {
                user: u,
                group: g.clone(),
                member: false,
            },
        ),
        (Panel::Group(g), ItemId::Perm(c)) => (
            format!("Revoke {c} from group {g}?"),
            ManageCmd::ModelPerm {
                to: Who::Group(g.clone()),
                codename: c,
                grant: false,
            },
        ),
        (Panel::Row { model, pk }, ItemId::Grant { to, codename }) => (
            format!("Remove {codename} on {model} #{pk}?"),
            ManageCmd::ObjectPerm {
                model: model.clone(),
                pk: pk.clone(),
                to,
                codename,
                assign: false,
            },
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assign_prompt_parses_who_and_codename() {
        let p = PromptFor::Assign {
            model: "posts".into(),
            pk: "17".into(),
        };
        assert_eq!(
            p.command("group editors change_posts").unwrap(),
            ManageCmd::ObjectPerm {
                model: "posts".into(),
                pk: "17".into(),
                to: Who::Group("editors".into()),
                codename: "change_posts".into(),
                assign: true
            }
        );
        assert!(p.command("editors change_posts").is_err());
        assert!(PromptFor::CreateUser.command("   ").is_err());
    }

    #[test]
    fn removal_asks_first() {
        let mut s = ManageScreen::new(Panel::User("jane".into()));
        s.fill(
            vec!["kind".into(), "name".into()],
            vec![Item {
                id: ItemId::Perm("view_posts".into()),
                cells: vec!["permission".into(), "view_posts".into()],
            }],
        );
        match s.key(KeyEvent::plain(Key::Char('r'))) {
            ManageAction::Confirm(q, ManageCmd::ModelPerm { grant: false, .. }) => {
                assert!(q.contains("Revoke view_posts from jane"))
            }
            _ => panic!("expected a confirmation"),
        }
    }
}
