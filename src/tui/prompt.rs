//! The one-line prompt at the bottom of the screen: the `:` command line, a search, a
//! name, a step-up code. What was typed goes to the screen that opened the prompt
//! ([`Screen::answer`](super::screen::Screen::answer)); the `:` line and the step-up code
//! are the app's own.

use super::input::{Key, KeyEvent};
use super::protocol::Who;

/// Longest line a prompt takes.
pub const MAX_PROMPT: usize = 200;
/// Longest public key line the key prompt takes (an RSA key of 8192 bits fits); the
/// session's check refuses anything longer than it reads.
pub const MAX_KEY_LINE: usize = 4096;

/// What a prompt's answer is for.
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
    /// A public key line to add (`:keys`).
    AddKey,
    /// `#` in a list: the key of the row to jump to.
    Jump,
    /// A new name for this group.
    RenameGroup(String),
}

impl PromptFor {
    /// Whether what is typed is a secret (shown as dots).
    pub fn masked(&self) -> bool {
        matches!(self, PromptFor::StepUp(_))
    }

    pub fn label(&self) -> &'static str {
        match self {
            PromptFor::Command => ":",
            PromptFor::Search => "search (^abc: starts with abc, exact case): ",
            PromptFor::AuditFilter => "filter (user= model= action= outcome= since=): ",
            PromptFor::Range => "range from..to: ",
            PromptFor::CreateUser => "new user name: ",
            PromptFor::CreateGroup => "new group name: ",
            PromptFor::AddToGroup(_) => "add to group: ",
            PromptFor::AddMember(_) => "add member (username): ",
            PromptFor::Grant(_) => "grant permission (e.g. view_posts): ",
            PromptFor::Assign { .. } => "assign (user NAME CODENAME | group NAME CODENAME): ",
            PromptFor::StepUp(_) => "Verification code (step-up): ",
            PromptFor::AddKey => "paste public key: ",
            PromptFor::Jump => "jump to key (a,b for a key of two columns): ",
            PromptFor::RenameGroup(_) => "rename group to: ",
        }
    }

    /// The longest answer taken.
    pub fn max_len(&self) -> usize {
        match self {
            PromptFor::AddKey => MAX_KEY_LINE,
            _ => MAX_PROMPT,
        }
    }
}

/// An open prompt: what it is for and what has been typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt {
    pub what: PromptFor,
    pub text: String,
    /// An earlier answer ↑ brings back (the search in force).
    pub recall: Option<String>,
}

/// What a key does to an open prompt.
#[derive(Debug, PartialEq, Eq)]
pub enum PromptKey {
    /// Still typing.
    Editing,
    /// Esc: closed without an answer.
    Cancelled,
    /// Enter: closed with this answer.
    Done(String),
}

impl Prompt {
    pub fn new(what: PromptFor, text: String) -> Prompt {
        Prompt {
            what,
            text,
            recall: None,
        }
    }

    /// An empty prompt with `recall` one ↑ away.
    pub fn recalling(what: PromptFor, recall: String) -> Prompt {
        Prompt {
            what,
            text: String::new(),
            recall: (!recall.is_empty()).then_some(recall),
        }
    }

    /// Edit the line: printable characters only, at most [`PromptFor::max_len`].
    pub fn key(&mut self, k: KeyEvent) -> PromptKey {
        match k.key {
            Key::Esc => return PromptKey::Cancelled,
            Key::Enter => return PromptKey::Done(std::mem::take(&mut self.text)),
            Key::Backspace => {
                self.text.pop();
            }
            Key::Up => {
                if let Some(r) = &self.recall {
                    self.text = r.clone();
                }
            }
            Key::Char('u') if k.mods.ctrl => self.text.clear(),
            Key::Char(c)
                if !k.mods.ctrl
                    && !k.mods.alt
                    && !c.is_control()
                    && self.text.chars().count() < self.what.max_len() =>
            {
                self.text.push(c);
            }
            _ => {}
        }
        PromptKey::Editing
    }

    /// Pasted text: its printable characters, up to the limit.
    pub fn paste(&mut self, text: &str) {
        let room = self
            .what
            .max_len()
            .saturating_sub(self.text.chars().count());
        self.text
            .extend(text.chars().filter(|c| !c.is_control()).take(room));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_is_printable_and_bounded() {
        let mut p = Prompt::new(PromptFor::Search, String::new());
        for c in ['a', '\u{1b}', 'b'] {
            p.key(KeyEvent::plain(Key::Char(c)));
        }
        assert_eq!(p.text, "ab");
        p.paste(&"x\ny".repeat(300));
        assert_eq!(p.text.chars().count(), MAX_PROMPT);
        assert!(!p.text.contains('\n'));
        assert_eq!(p.key(KeyEvent::ctrl('u')), PromptKey::Editing);
        assert_eq!(p.text, "");
        p.key(KeyEvent::plain(Key::Char('z')));
        assert_eq!(
            p.key(KeyEvent::plain(Key::Enter)),
            PromptKey::Done("z".into())
        );
        assert_eq!(p.key(KeyEvent::plain(Key::Esc)), PromptKey::Cancelled);
    }
}
