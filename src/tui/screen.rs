//! The one trait every screen implements, and what a screen can ask of the app.
//!
//! A screen holds its own state, handles its own keys and the messages meant for it,
//! draws itself, and lists its keys ([`Hint`]s, each enabled or not by what the user may
//! do). It never performs IO: it returns an [`Action`] — commands for the session, a screen
//! to open, a question to ask — and the app carries it out. To add a screen, copy one file
//! of `screens/`, and open it from another screen with [`Action::Push`].

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};

use super::input::KeyEvent;
use super::prompt::PromptFor;
use super::protocol::{Cmd, Msg};
use super::sanitize::SafeText;
use crate::domain::{Filter, Value};

/// A screen of the console.
pub trait Screen: CloneScreen + std::fmt::Debug + Send {
    /// What this screen adds to the title bar's breadcrumbs.
    fn crumb(&self) -> Crumb;

    /// A key. The app has already given its overlays (help, prompts, questions) and its
    /// own keys (`:`, `?`, Ctrl-C) their turn, unless [`Screen::takes_all_keys`].
    /// [`Action::Ignored`] lets the app apply its default (Esc and `q` go back).
    fn key(&mut self, k: KeyEvent) -> Action;

    /// A message from the session; the screen takes what is meant for it (by model, key,
    /// query) and leaves the rest ([`Action::None`]).
    fn update(&mut self, msg: &Msg) -> Action {
        let _ = msg;
        Action::None
    }

    /// The answer typed into a prompt this screen opened.
    fn answer(&mut self, what: &PromptFor, text: &str) -> Action {
        let _ = (what, text);
        Action::None
    }

    /// What the screen closed above this one handed back.
    fn handoff(&mut self, handoff: Handoff) -> Action {
        let _ = handoff;
        Action::None
    }

    /// Text pasted (bracketed paste), for screens that take typing.
    fn paste(&mut self, text: &str) {
        let _ = text;
    }

    /// Read the screen's data again (Ctrl-R, the refresh timer, or coming back to it after
    /// something changed), keeping the selection on the same row. Screens that hold what
    /// the user typed (forms) do nothing.
    fn refresh(&mut self) -> Vec<Cmd> {
        Vec::new()
    }

    /// A command this screen sent failed: stop waiting, or close a screen whose first
    /// load was refused ([`Action::Pop`]).
    fn failed(&mut self) -> Action {
        Action::None
    }

    /// Draw into `area` (between the title bar and the footer); returns where the
    /// terminal's cursor goes, if anywhere.
    fn draw(&mut self, buf: &mut Buffer, area: Rect) -> Option<Position>;

    /// The footer's left part: where the user is (`row 3 of 2,000`, chips).
    fn status(&self) -> String {
        String::new()
    }

    /// Every key of this screen, for the footer (those marked so) and the `?` help.
    fn hints(&self) -> Vec<Hint>;

    /// Screens that take typing (forms, editors, passwords) get every key, `:`, `?`, `q`
    /// and Esc included.
    fn takes_all_keys(&self) -> bool {
        false
    }

    /// Whether what is typed here is a secret (a password, a code): a session recording
    /// that records input leaves it out.
    fn takes_secrets(&self) -> bool {
        false
    }

    /// Whether the screen shows a secret (a TOTP secret to enrol): a session recording
    /// leaves it out.
    fn shows_secrets(&self) -> bool {
        false
    }

    /// While something on the screen moves by itself (a replay playing): how many
    /// milliseconds apart it wants [`Msg::Clock`]. The session loop sends them; the
    /// screen never reads a clock itself.
    fn clock_every(&self) -> Option<u64> {
        None
    }

    /// Rows the screen needs: when the body is shorter, it may draw over the title bar
    /// too (the enrolment QR code needs every row there is).
    fn min_height(&self) -> u16 {
        0
    }
}

/// Cloning a boxed screen (so the whole console can be cloned, e.g. to draw one state at
/// many sizes in tests). Every screen that is `Clone` has it.
pub trait CloneScreen {
    fn clone_box(&self) -> Box<dyn Screen>;
}

impl<T: Screen + Clone + 'static> CloneScreen for T {
    fn clone_box(&self) -> Box<dyn Screen> {
        Box::new(self.clone())
    }
}

impl Clone for Box<dyn Screen> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// What a screen asks the app to do.
#[derive(Clone, Debug, Default)]
pub enum Action {
    /// Nothing (the key or message was handled, or was not for this screen).
    #[default]
    None,
    /// The key means nothing here: apply the app's default (Esc and `q` go back).
    Ignored,
    /// Send these commands to the session.
    Cmds(Vec<Cmd>),
    /// Open a screen on top, and send these commands.
    Push(Box<dyn Screen>, Vec<Cmd>),
    /// Close this screen.
    Pop,
    /// Close this screen and hand something to the one below.
    PopWith(Handoff),
    /// Ask a yes/no question; `y` does the action.
    Confirm(String, Box<Action>),
    /// Open the one-line prompt, with this text already typed.
    Prompt(PromptFor, String),
    /// Open the one-line prompt empty, with this earlier answer one ↑ away (shown as a
    /// hint).
    PromptRecall(PromptFor, String),
    /// Show lines in a box until a key is pressed.
    Dialog(Vec<SafeText>),
    /// Say something on the status line.
    Notice(String),
    /// Say what went wrong on the status line.
    Error(String),
    /// Leave the console.
    Quit,
    /// Several of the above, in order.
    Many(Vec<Action>),
}

impl Action {
    /// Send one command.
    pub fn cmd(cmd: Cmd) -> Action {
        Action::Cmds(vec![cmd])
    }

    /// Ask `question`; `y` sends `cmd`.
    pub fn confirm(question: impl Into<String>, cmd: Cmd) -> Action {
        Action::Confirm(question.into(), Box::new(Action::cmd(cmd)))
    }

    pub fn push(screen: impl Screen + 'static, cmds: Vec<Cmd>) -> Action {
        Action::Push(Box::new(screen), cmds)
    }
}

/// What a closing screen hands to the one below it.
#[derive(Clone, Debug, PartialEq)]
pub enum Handoff {
    /// A row picked for the focused field of a form (its key as text).
    Picked(String),
    /// The text of field `field`, edited in the multi-line editor.
    Text { field: usize, text: String },
    /// Filter the list by this.
    Filter(Filter),
    /// Show row `key` of `model` as it is now (a conflict's "reload theirs").
    Reload { model: String, key: Vec<Value> },
    /// The item chosen in a menu.
    Chosen(String),
}

/// A breadcrumb: ` › posts › #17`. A screen of a model names the model only when the
/// crumbs before it do not already (a record reached through a link does).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crumb {
    /// The model shown (its name, and its label for the title bar).
    pub model: Option<(String, SafeText)>,
    /// What follows the model's label (`#17`, `edit`, `history`).
    pub text: Option<SafeText>,
}

impl Crumb {
    /// A crumb of its own text.
    pub fn text(text: &str) -> Crumb {
        Crumb {
            model: None,
            text: Some(SafeText::new(text)),
        }
    }

    /// A crumb naming a model (and what of it, if anything).
    pub fn model(name: &str, label: &SafeText, text: Option<&str>) -> Crumb {
        Crumb {
            model: Some((name.to_string(), label.clone())),
            text: text.map(SafeText::new),
        }
    }
}

/// One key of a screen: what it does, and whether the user may use it now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hint {
    pub keys: &'static str,
    pub what: &'static str,
    /// Whether the user may do it (permissions, or the state of the screen). Keys that
    /// are not enabled are left out of the footer and shown greyed in the help.
    pub enabled: bool,
    /// Whether the footer lists it (the help lists every key).
    pub footer: bool,
}

impl Hint {
    /// A key shown in the footer and the help.
    pub const fn new(keys: &'static str, what: &'static str) -> Hint {
        Hint {
            keys,
            what,
            enabled: true,
            footer: true,
        }
    }

    /// A key listed in the help only.
    pub const fn help(keys: &'static str, what: &'static str) -> Hint {
        Hint {
            keys,
            what,
            enabled: true,
            footer: false,
        }
    }

    /// The same key, enabled only when `enabled`.
    pub const fn when(mut self, enabled: bool) -> Hint {
        self.enabled = enabled;
        self
    }
}

/// The keys every list-like screen moves with.
pub const MOVE_HINTS: [Hint; 3] = [
    Hint::help("↑ ↓  j k", "move"),
    Hint::help("g G", "first / last"),
    Hint::help("PgUp PgDn", "page up / down"),
];
