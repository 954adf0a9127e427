//! What the management screens (users, groups, sessions, a row's permissions) share: one
//! selectable table, answers that reload the panel, prompts that must not be empty.

use crate::tui::input::{Key, KeyEvent};
use crate::tui::protocol::{Cmd, ManageCmd, ManageMsg, Msg, Panel, PanelData};
use crate::tui::screen::{Action, Hint};

/// The command that (re)loads `panel`.
pub fn load(panel: &Panel) -> Cmd {
    Cmd::Manage(ManageCmd::Load(panel.clone()))
}

/// Move `selected` among `n` rows for a movement key; whether the key was one. `home`:
/// whether `g` means "first" on this screen (not where it names an action).
pub fn move_key(k: KeyEvent, selected: &mut usize, n: usize, home: bool) -> bool {
    match k.key {
        Key::Down | Key::Char('j') => *selected = (*selected + 1).min(n.saturating_sub(1)),
        Key::Up | Key::Char('k') => *selected = selected.saturating_sub(1),
        Key::Home => *selected = 0,
        Key::Char('g') if home => *selected = 0,
        Key::End | Key::Char('G') => *selected = n.saturating_sub(1),
        _ => return false,
    }
    true
}

/// What a management message means for the screen showing `panel`: its data (to fill
/// the table with), or a reload after a change.
pub enum Update<'a> {
    Fill(&'a PanelData),
    Reload(Action),
    Other,
}

pub fn update<'a>(panel: &Panel, msg: &'a Msg) -> Update<'a> {
    match msg {
        Msg::Manage(ManageMsg::Loaded(data)) if data.panel() == *panel => Update::Fill(data),
        // A change was made (the app says what): show the panel as it is now.
        Msg::Manage(ManageMsg::Changed(_) | ManageMsg::Show(_)) => {
            Update::Reload(Action::cmd(load(panel)))
        }
        _ => Update::Other,
    }
}

/// Where the selection goes when a table is read again: to the row it was on (`kept`, by
/// its key), else where it was, within the rows there are. A selection follows its row,
/// never its position: after a user is disabled and the list re-sorted, `x` must not
/// land on someone else.
pub fn keep<T, K: PartialEq + ?Sized>(
    kept: Option<impl std::borrow::Borrow<K>>,
    rows: &[T],
    key: impl Fn(&T) -> &K,
    selected: usize,
) -> usize {
    kept.and_then(|k| rows.iter().position(|r| key(r) == k.borrow()))
        .unwrap_or(selected)
        .min(rows.len().saturating_sub(1))
}

/// A typed name or codename, trimmed; an empty answer is refused.
pub fn typed(text: &str) -> Result<String, Action> {
    match text.trim() {
        "" => Err(Action::Error("nothing typed".into())),
        t => Ok(t.to_string()),
    }
}

/// Send a management command.
pub fn run(cmd: ManageCmd) -> Action {
    Action::cmd(Cmd::Manage(cmd))
}

/// Ask `question`; `y` sends the management command.
pub fn ask(question: String, cmd: ManageCmd) -> Action {
    Action::confirm(question, Cmd::Manage(cmd))
}

/// The movement keys of a management table, for the help.
pub const MOVE: [Hint; 2] = [
    Hint::help("↑ ↓  j k", "move"),
    Hint::help("Home G", "first / last"),
];
