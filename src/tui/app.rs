//! The console: a stack of screens, the overlays on top of them (help, a question, a
//! prompt, a box of text, new backup codes), and the routing of keys and messages.
//!
//! The app never performs IO. Screens ask for data with [`Cmd`]s; the session runs them
//! (after its permission checks) and answers with [`Msg`]s, which the app hands to the
//! screen they are for. Every string from outside is stored as [`SafeText`], so nothing
//! unsanitized can reach a buffer.

use super::backup_codes::BackupCodesBox;
use super::input::{Input, Key, KeyEvent};
use super::prompt::{Prompt, PromptFor, PromptKey};
use super::protocol::{Cmd, ManageMsg, Msg, Setup};
use super::sanitize::SafeText;
use super::screen::{Action, Screen};
use super::screens::{
    AuditScreen, ColumnsScreen, ConflictScreen, FilterScreen, FormScreen, GroupsScreen,
    IndexScreen, KeysScreen, ListScreen, PasswordScreen, RecordScreen, SessionsScreen, UsersScreen,
};
use crate::domain::{group_thousands, key_label, RowCount};

/// The status line: shown until the next key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Error(SafeText),
    Notice(SafeText),
}

/// A screen on the stack, and whether what it shows may be out of date: something was
/// changed while it was underneath, so it refreshes when it is on top again.
#[derive(Clone, Debug)]
pub struct Entry {
    pub screen: Box<dyn Screen>,
    pub stale: bool,
}

impl Entry {
    fn new(screen: Box<dyn Screen>) -> Entry {
        Entry {
            screen,
            stale: false,
        }
    }
}

impl std::ops::Deref for Entry {
    type Target = dyn Screen;
    fn deref(&self) -> &(dyn Screen + 'static) {
        self.screen.as_ref()
    }
}

impl std::ops::DerefMut for Entry {
    fn deref_mut(&mut self) -> &mut (dyn Screen + 'static) {
        self.screen.as_mut()
    }
}

/// The console.
#[derive(Clone, Debug)]
pub struct App {
    pub user: SafeText,
    /// The screens, innermost last; the first is the index (or a set-up screen).
    pub stack: Vec<Entry>,
    /// Ctrl-L asked for the whole terminal to be drawn again.
    pub repaint: bool,
    /// The help box is open, scrolled down this many rows.
    pub help: Option<usize>,
    pub status: Option<Status>,
    pub page_size: u32,
    pub size: (u16, u16),
    pub quit: bool,
    /// The one-line prompt being typed into (the `:` command line, a search, a name).
    pub prompt: Option<Prompt>,
    /// A yes/no question; `y` does the action.
    pub confirm: Option<(SafeText, Action)>,
    /// Text shown once in a box until a key is pressed.
    pub dialog: Option<Vec<SafeText>>,
    /// The box holds a secret (a one-time password): recordings leave it out.
    pub secret_dialog: bool,
    /// An export under way: rows written, of about this many.
    pub export: Option<(u64, Option<RowCount>)>,
    /// Set while the user is being set up: only the account screens are reachable.
    pub setup: Option<Setup>,
    /// New backup codes on screen, waiting for Enter (save) or Esc (drop). On top of
    /// everything, and takes every key while it is there.
    pub backup_codes: Option<BackupCodesBox>,
    /// A warning shown until the user types anything (the idle warning).
    pub warning: Option<SafeText>,
}

impl App {
    /// A new console for `user`, with the commands to run first.
    pub fn new(user: &str, page_size: u32, size: (u16, u16)) -> (App, Vec<Cmd>) {
        let app = App {
            user: SafeText::new(user),
            stack: vec![Entry::new(Box::new(IndexScreen::new(page_size)))],
            repaint: false,
            help: None,
            status: None,
            page_size,
            size,
            quit: false,
            prompt: None,
            confirm: None,
            dialog: None,
            secret_dialog: false,
            export: None,
            setup: None,
            backup_codes: None,
            warning: None,
        };
        (app, vec![Cmd::LoadModels])
    }

    /// A console for a user who must finish setting up first (enrol TOTP, or choose a
    /// password): nothing else is reachable until then.
    pub fn for_setup(
        user: &str,
        page_size: u32,
        size: (u16, u16),
        setup: Setup,
    ) -> (App, Vec<Cmd>) {
        let (mut app, _) = App::new(user, page_size, size);
        app.setup = Some(setup);
        match setup {
            Setup::Enrol => {
                app.stack = vec![Entry::new(Box::<super::screens::EnrolScreen>::default())];
                (app, vec![Cmd::BeginEnrolment])
            }
            Setup::ChangePassword => {
                app.stack = vec![Entry::new(Box::new(PasswordScreen::new(true)))];
                (app, Vec::new())
            }
        }
    }

    /// The screen on top.
    pub fn screen(&self) -> Option<&dyn Screen> {
        self.stack.last().map(|e| e.screen.as_ref())
    }

    /// Apply one message; return what to do next.
    pub fn update(&mut self, msg: Msg) -> Vec<Cmd> {
        if let Msg::Input(_) = msg {
            self.warning = None;
        }
        match msg {
            Msg::Input(Input::Key(k)) => self.on_key(k),
            Msg::Input(Input::Paste(text)) => {
                match (self.prompt.as_mut(), self.stack.last_mut()) {
                    (Some(prompt), _) => prompt.paste(&text),
                    (None, Some(top)) => top.paste(&text),
                    (None, None) => {}
                }
                Vec::new()
            }
            Msg::Resize { cols, rows } => {
                self.size = (cols, rows);
                Vec::new()
            }
            Msg::Notice(text) => self.say(Action::Notice(text)),
            Msg::Warning(text) => {
                self.warning = Some(SafeText::new(&text));
                Vec::new()
            }
            Msg::Failed(text) => {
                if text.starts_with("export") {
                    self.export = None;
                }
                self.status = Some(Status::Error(SafeText::new(&text)));
                // Nothing may stay waiting forever: a list stops waiting for its page, and
                // a screen whose first load failed (a denial) is closed again.
                let action = self
                    .stack
                    .last_mut()
                    .map(|s| s.failed())
                    .unwrap_or_default();
                self.apply(action)
            }
            Msg::StepUp(what) => {
                self.status = Some(Status::Notice(SafeText::new(&format!(
                    "{what} needs a fresh verification code"
                ))));
                self.prompt = Some(Prompt::new(PromptFor::StepUp(what), String::new()));
                Vec::new()
            }
            Msg::BackupCodes { codes } => {
                self.status = None;
                self.help = None;
                self.dialog = None;
                self.secret_dialog = false;
                self.backup_codes = Some(BackupCodesBox::new(&codes));
                Vec::new()
            }
            Msg::BackupCodesSaved => {
                self.backup_codes = None;
                self.say(Action::Notice(
                    "backup codes saved: the new ones work now, the earlier ones no longer do"
                        .into(),
                ))
            }
            Msg::Enrolled => {
                self.setup = Some(Setup::ChangePassword);
                self.stack = vec![Entry::new(Box::new(PasswordScreen::new(true)))];
                self.say(Action::Notice(
                    "Code accepted: two-factor authentication is on. Now choose your password."
                        .into(),
                ))
            }
            Msg::PasswordChanged if self.setup.take().is_some() => {
                self.stack = vec![Entry::new(Box::new(IndexScreen::new(self.page_size)))];
                self.status = Some(Status::Notice(SafeText::new(
                    "Password set. Your account is ready.",
                )));
                vec![Cmd::LoadModels]
            }
            Msg::PasswordChanged => {
                self.status = Some(Status::Notice(SafeText::new("password changed")));
                self.route(&msg).0
            }
            Msg::AccountRefused(ref why) | Msg::SaveRefused(ref why) => {
                self.status = Some(Status::Error(SafeText::new(why)));
                self.route(&msg).0
            }
            Msg::ExportProgress { rows, total } => {
                self.export = Some((rows, total));
                Vec::new()
            }
            Msg::Exported {
                path,
                rows,
                columns,
                port,
            } => {
                self.export = None;
                // The file as SFTP shows it, and how to get it (`:exports` says more).
                let text = format!(
                    "exported {} rows of {} to {path} · fetch: sftp -P {port} {}@HOST",
                    group_thousands(rows),
                    column_list(&columns),
                    self.user.as_str()
                );
                self.say(Action::Notice(text))
            }
            Msg::Form { .. }
            | Msg::Distinct { .. }
            | Msg::Conflict { .. }
            | Msg::Columns { .. } => {
                // A form waiting to be reloaded takes its own; otherwise a new screen.
                let (cmds, claimed) = self.route(&msg);
                if claimed {
                    return cmds;
                }
                match opened_by(&msg, self.page_size) {
                    Some(screen) => self.apply(Action::Push(screen, Vec::new())),
                    None => Vec::new(),
                }
            }
            Msg::DeleteAsk {
                model,
                keys,
                labels,
                references,
            } => {
                let ask = super::screens::record::delete_confirmation(
                    &model,
                    &keys,
                    &labels,
                    &references,
                );
                self.apply(ask)
            }
            Msg::Saved { .. }
            | Msg::Deleted { .. }
            | Msg::DeletedMany { .. }
            | Msg::BulkDone { .. } => {
                if let Some(text) = done(&msg) {
                    self.status = Some(Status::Notice(SafeText::new(&text)));
                }
                // Forms and conflicts over the row close; the record or list below shows
                // it as it is now.
                let (mut cmds, claimed) = self.route(&msg);
                if let (Msg::Saved { model, key, .. }, false) = (msg, claimed) {
                    let (record, load) = RecordScreen::open(&model, SafeText::new(&model), key);
                    cmds.extend(self.apply(Action::push(record, load)));
                }
                self.changed();
                cmds
            }
            Msg::Manage(ManageMsg::Changed(ref text)) => {
                self.status = Some(Status::Notice(SafeText::new(text)));
                let cmds = self.route(&msg).0;
                self.changed();
                cmds
            }
            Msg::Manage(ManageMsg::Show(ref lines)) => {
                // What a management command shows once is a one-time password.
                self.dialog = Some(lines.iter().map(|l| SafeText::new(l)).collect());
                self.secret_dialog = true;
                let cmds = self.route(&msg).0;
                self.changed();
                cmds
            }
            Msg::SchemaReloaded { tables } => {
                let text = format!("read the database's tables again: {tables} tables");
                self.status = Some(Status::Notice(SafeText::new(&text)));
                // Every screen reads its data again when shown; the one shown now, now.
                self.changed();
                self.refresh()
            }
            Msg::Open { model, key } => {
                self.close_to_index();
                let label = SafeText::new(&model.label);
                let (list, cmds) = ListScreen::open(&model, label.clone(), None, self.page_size);
                self.push(Box::new(list));
                let Some(key) = key else {
                    return cmds;
                };
                // The list under the record reads its rows when it is shown (its page
                // would arrive while the record is on top, and only the top takes pages).
                if let Some(list) = self.stack.last_mut() {
                    list.stale = true;
                }
                let (record, load) = RecordScreen::open(&model.name, label, key);
                self.push(Box::new(record));
                load
            }
            Msg::OpenRelated { model, filter } => {
                // On top of the record it came from: Esc goes back to it.
                let label = SafeText::new(&model.label);
                let (list, cmds) = ListScreen::related(&model, label, filter, self.page_size);
                self.push(Box::new(list));
                cmds
            }
            Msg::Clock { .. } => {
                let action = self
                    .stack
                    .last_mut()
                    .map(|top| top.update(&msg))
                    .unwrap_or_default();
                self.apply(action)
            }
            Msg::UndoAsk(plan) => {
                let screen = super::screens::UndoScreen::new(*plan);
                self.apply(Action::push(screen, Vec::new()))
            }
            Msg::Undone {
                entry,
                kind,
                ref model,
                ref key,
            } => {
                let text = format!("{} {model} {} (entry {entry})", kind.done(), key_label(key));
                self.status = Some(Status::Notice(SafeText::new(&text)));
                // The confirmation closes; the screen below (the history, the audit
                // viewer) and those under it show the database as it is now.
                let mut cmds = self.route(&msg).0;
                self.changed();
                cmds.extend(self.refresh());
                cmds
            }
            Msg::UndoConflict {
                entry,
                ref model,
                ref key,
                ref fields,
            } => {
                let screen = ConflictScreen::undo(entry, model, key, fields);
                let mut cmds = self.route(&msg).0;
                cmds.extend(self.apply(Action::push(screen, Vec::new())));
                cmds
            }
            Msg::Replay(replay) => {
                let screen = super::screens::ReplayScreen::new(*replay);
                self.apply(Action::push(screen, Vec::new()))
            }
            Msg::Tick => match self.stack.last() {
                // Typing screens keep what is typed; the rest read their data again.
                Some(top) if !top.takes_all_keys() => self.refresh(),
                _ => Vec::new(),
            },
            // The index and every list of a model keep their counts current.
            Msg::Models(_) | Msg::Counted { .. } => {
                let actions: Vec<Action> = self.stack.iter_mut().map(|e| e.update(&msg)).collect();
                self.apply(Action::Many(actions))
            }
            Msg::Page { .. }
            | Msg::Located { .. }
            | Msg::ColumnsSet { .. }
            | Msg::BulkEdit(_)
            | Msg::Now(_)
            | Msg::Record { .. }
            | Msg::Audit(_)
            | Msg::History { .. }
            | Msg::Enrolment { .. }
            | Msg::Exports(_)
            | Msg::Manage(ManageMsg::Loaded(_)) => self.route(&msg).0,
        }
    }

    /// Offer `msg` to the screen on top; a screen that closes because of it passes it on
    /// to the one below. Returns the commands, and whether a screen acted on it.
    fn route(&mut self, msg: &Msg) -> (Vec<Cmd>, bool) {
        let mut cmds = Vec::new();
        while let Some(top) = self.stack.last_mut() {
            match top.update(msg) {
                Action::Pop if self.stack.len() > 1 => cmds.extend(self.pop()),
                Action::None | Action::Ignored | Action::Pop => return (cmds, false),
                action => {
                    cmds.extend(self.apply(action));
                    return (cmds, true);
                }
            }
        }
        (cmds, false)
    }

    /// Open `screen` on top.
    fn push(&mut self, screen: Box<dyn Screen>) {
        self.stack.push(Entry::new(screen));
    }

    /// Close the screen on top; the one below refreshes if something changed meanwhile.
    fn pop(&mut self) -> Vec<Cmd> {
        if self.stack.len() < 2 {
            return Vec::new();
        }
        self.stack.pop();
        self.resume()
    }

    /// The screen now on top: if something changed while it was underneath, it reads
    /// its data again.
    fn resume(&mut self) -> Vec<Cmd> {
        match self.stack.last_mut() {
            Some(e) if e.stale => {
                e.stale = false;
                e.screen.refresh()
            }
            _ => Vec::new(),
        }
    }

    /// Something was written: every screen under the top one may show it out of date.
    fn changed(&mut self) {
        let below = self.stack.len().saturating_sub(1);
        for e in &mut self.stack[..below] {
            e.stale = true;
        }
    }

    /// Carry out what a screen asked for.
    fn apply(&mut self, action: Action) -> Vec<Cmd> {
        match action {
            Action::None | Action::Ignored => Vec::new(),
            Action::Cmds(cmds) => cmds,
            Action::Push(screen, cmds) => {
                self.push(screen);
                cmds
            }
            Action::Pop => self.pop(),
            Action::PopWith(handoff) => {
                if self.stack.len() < 2 {
                    return Vec::new();
                }
                self.stack.pop();
                let next = match self.stack.last_mut() {
                    Some(top) => top.handoff(handoff),
                    None => Action::None,
                };
                let mut cmds = self.apply(next);
                cmds.extend(self.resume());
                cmds
            }
            Action::Confirm(question, yes) => {
                self.confirm = Some((SafeText::new(&question), *yes));
                Vec::new()
            }
            Action::Prompt(what, text) => {
                self.prompt = Some(Prompt::new(what, text));
                Vec::new()
            }
            Action::PromptRecall(what, recall) => {
                self.prompt = Some(Prompt::recalling(what, recall));
                Vec::new()
            }
            Action::Dialog(lines) => {
                self.dialog = Some(lines);
                self.secret_dialog = false;
                Vec::new()
            }
            action @ (Action::Notice(_) | Action::Error(_)) => self.say(action),
            Action::Quit => self.quit(),
            Action::Many(actions) => actions.into_iter().flat_map(|a| self.apply(a)).collect(),
        }
    }

    /// Put a notice or an error on the status line.
    fn say(&mut self, action: Action) -> Vec<Cmd> {
        self.status = match action {
            Action::Notice(text) => Some(Status::Notice(SafeText::new(&text))),
            Action::Error(text) => Some(Status::Error(SafeText::new(&text))),
            _ => return Vec::new(),
        };
        Vec::new()
    }

    fn on_key(&mut self, k: KeyEvent) -> Vec<Cmd> {
        if k == KeyEvent::ctrl('l') {
            // Draw the whole terminal again (it was scribbled on); nothing else changes.
            self.repaint = true;
            return Vec::new();
        }
        if self.backup_codes.is_some() {
            return self.backup_codes_key(k);
        }
        if let Some(top) = self.help {
            // ↓ ↑ scroll a help taller than the terminal; any other key closes it.
            let rows = self.help_rows();
            self.help = match k.key {
                Key::Down | Key::Char('j') => Some((top + 1).min(rows.saturating_sub(1))),
                Key::Up | Key::Char('k') => Some(top.saturating_sub(1)),
                Key::PageDown | Key::Char(' ') => Some((top + 10).min(rows.saturating_sub(1))),
                Key::PageUp => Some(top.saturating_sub(10)),
                _ => None,
            };
            return Vec::new();
        }
        if self.dialog.take().is_some() {
            self.secret_dialog = false;
            return Vec::new();
        }
        if let Some((_, yes)) = self.confirm.take() {
            if k == KeyEvent::char('y') {
                return self.apply(yes);
            }
            self.status = Some(Status::Notice(SafeText::new("cancelled")));
            return Vec::new();
        }
        if k.key == Key::F(1) {
            // Help, also where typed keys are text (forms, prompts) and `?` is a character.
            self.help = Some(0);
            return Vec::new();
        }
        if self.setup.is_some() {
            // Only the set-up screen on top sees keys; Ctrl-C leaves.
            if k == KeyEvent::ctrl('c') || k == KeyEvent::ctrl('d') {
                return self.quit();
            }
            self.status = None;
            let action = self.stack.last_mut().map(|s| s.key(k)).unwrap_or_default();
            return match action {
                Action::Cmds(cmds) => cmds,
                _ => Vec::new(),
            };
        }
        if self.prompt.is_some() {
            return self.prompt_key(k);
        }
        let Some(top) = self.stack.last_mut() else {
            return Vec::new();
        };
        if top.takes_all_keys() {
            self.status = None;
            let action = top.key(k);
            return self.apply(action);
        }
        self.status = None;
        let plain = k.mods.plain();
        match k.key {
            Key::Char(':') if plain => {
                self.prompt = Some(Prompt::new(PromptFor::Command, String::new()));
                return Vec::new();
            }
            Key::Char('?') if plain => {
                self.help = Some(0);
                return Vec::new();
            }
            Key::Char('c') if k.mods.ctrl => return self.quit(),
            Key::Char('r') if k.mods.ctrl => return self.refresh(),
            _ => {}
        }
        match top.key(k) {
            // The screen has no use for it: Esc and `q` go back (`q` quits at the index).
            Action::Ignored => match k.key {
                Key::Esc => self.back(),
                Key::Char('q') if plain && self.stack.len() <= 1 => self.quit(),
                Key::Char('q') if plain => self.back(),
                _ => Vec::new(),
            },
            action => self.apply(action),
        }
    }

    /// A key while new backup codes are on screen: Enter saves them (only if the last
    /// draw showed them whole), Esc drops them; nothing else gets past the box.
    fn backup_codes_key(&mut self, k: KeyEvent) -> Vec<Cmd> {
        if k == KeyEvent::ctrl('c') || k == KeyEvent::ctrl('d') {
            return self.quit();
        }
        let shown = self.backup_codes.as_ref().is_some_and(|b| b.shown);
        match k.key {
            // Not on screen whole: the box says to make the terminal larger.
            Key::Enter if shown => vec![Cmd::SaveBackupCodes],
            Key::Esc => {
                self.backup_codes = None;
                vec![Cmd::DropBackupCodes]
            }
            _ => Vec::new(),
        }
    }

    /// A key while a prompt is open: edit the line, Enter answers, Esc cancels.
    fn prompt_key(&mut self, k: KeyEvent) -> Vec<Cmd> {
        let Some(prompt) = self.prompt.as_mut() else {
            return Vec::new();
        };
        match prompt.key(k) {
            PromptKey::Editing => Vec::new(),
            PromptKey::Cancelled => {
                let step_up = matches!(prompt.what, PromptFor::StepUp(_));
                self.prompt = None;
                if step_up {
                    self.status = Some(Status::Notice(SafeText::new("cancelled")));
                    return vec![Cmd::StepUpCancel];
                }
                Vec::new()
            }
            PromptKey::Done(text) => {
                let what = prompt.what.clone();
                self.prompt = None;
                match what {
                    PromptFor::Command => self.command_line(&text),
                    PromptFor::StepUp(_) => {
                        // "… needs a fresh verification code" is answered now; what the
                        // held command does next speaks for itself.
                        self.status = None;
                        vec![Cmd::StepUp {
                            code: super::protocol::Secret(text),
                        }]
                    }
                    what => {
                        let action = match self.stack.last_mut() {
                            Some(top) => top.answer(&what, &text),
                            None => Action::None,
                        };
                        self.apply(action)
                    }
                }
            }
        }
    }

    /// Run a `:` command.
    /// A `:` command that opens a screen replaces everything above the index with it
    /// (no trail of breadcrumbs from one command to the next).
    fn command_line(&mut self, line: &str) -> Vec<Cmd> {
        let (s, cmds): (Box<dyn Screen>, Vec<Cmd>) = match line.trim() {
            "q" | "quit" => return self.quit(),
            "users" => boxed(UsersScreen::open()),
            "audit" => boxed(AuditScreen::open()),
            "groups" => boxed(GroupsScreen::open()),
            "sessions" => boxed(SessionsScreen::open()),
            "keys" => boxed(KeysScreen::open(None)),
            "exports" => boxed(super::screens::ExportsScreen::open()),
            "password" => (Box::new(PasswordScreen::new(false)), Vec::new()),
            "backup-codes" => return vec![Cmd::BackupCodes],
            "reload" => return vec![Cmd::ReloadSchema],
            "" => return Vec::new(),
            other => {
                // `:posts`, `:posts 42`: the session knows the models and their keys.
                let mut words = other.splitn(2, char::is_whitespace);
                let model = words.next().unwrap_or_default().to_string();
                let key = words.next().map(|k| k.trim().to_string());
                return vec![Cmd::Open { model, key }];
            }
        };
        self.close_to_index();
        self.apply(Action::Push(s, cmds))
    }

    /// Close every screen above the index.
    fn close_to_index(&mut self) {
        self.stack.truncate(1);
    }

    /// Read the data of the screen on top again (Ctrl-R, the refresh timer), keeping its
    /// selection by key.
    fn refresh(&mut self) -> Vec<Cmd> {
        match self.stack.last_mut() {
            Some(top) => {
                top.stale = false;
                top.screen.refresh()
            }
            None => Vec::new(),
        }
    }

    /// How often the screen on top wants [`Msg::Clock`] (milliseconds), if at all.
    pub fn clock_every(&self) -> Option<u64> {
        self.stack.last().and_then(|top| top.clock_every())
    }

    /// Whether the terminal must be drawn whole (Ctrl-L); asking clears it.
    pub fn take_repaint(&mut self) -> bool {
        std::mem::take(&mut self.repaint)
    }

    fn quit(&mut self) -> Vec<Cmd> {
        self.quit = true;
        vec![Cmd::Quit]
    }

    fn back(&mut self) -> Vec<Cmd> {
        self.pop()
    }
}

/// The screen a message opens: a form, a filter picker, a conflict.
fn opened_by(msg: &Msg, page_size: u32) -> Option<Box<dyn Screen>> {
    Some(match msg {
        Msg::Form {
            model,
            key,
            fields,
            links,
        } => Box::new(FormScreen::from_msg(
            model,
            key.clone(),
            fields,
            links,
            page_size,
        )),
        Msg::Distinct {
            model,
            column,
            kind,
            values,
        } => Box::new(FilterScreen::new(model, column, *kind, values)),
        Msg::Conflict { model, key, fields } => Box::new(ConflictScreen::new(model, key, fields)),
        Msg::Columns {
            model,
            all,
            chosen,
            default,
        } => Box::new(ColumnsScreen::new(model, all, chosen, default)),
        _ => return None,
    })
}

/// A screen and its first commands, boxed.
fn boxed<S: Screen + 'static>((screen, cmds): (S, Vec<Cmd>)) -> (Box<dyn Screen>, Vec<Cmd>) {
    (Box::new(screen), cmds)
}

/// What the status line says after a write.
fn done(msg: &Msg) -> Option<String> {
    Some(match msg {
        Msg::Saved {
            model,
            key,
            created,
        } => {
            let verb = if *created { "created" } else { "saved" };
            format!("{verb} {model} {}", key_label(key))
        }
        Msg::Deleted { model, key } => {
            format!("deleted {model} {}", key_label(key))
        }
        Msg::DeletedMany { model, count } => {
            format!("deleted {} rows of {model}", group_thousands(*count as u64))
        }
        Msg::BulkDone {
            model,
            action,
            count,
        } => format!(
            "{action}: {} rows of {model} changed",
            group_thousands(*count as u64)
        ),
        _ => return None,
    })
}

/// The columns of an export, as its notice names them: `3 columns (id, title, body)`, the
/// first six named (the notice must leave room for how to fetch the file).
fn column_list(columns: &[String]) -> String {
    const NAMED: usize = 6;
    let mut names = columns
        .iter()
        .take(NAMED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if columns.len() > NAMED {
        names.push_str(", …");
    }
    match columns.len() {
        1 => format!("1 column ({names})"),
        n => format!("{n} columns ({names})"),
    }
}

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;

#[cfg(test)]
mod done_tests {
    use super::*;

    /// What a bulk write says it did counts as the rest of the screen counts.
    #[test]
    fn bulk_counts_are_grouped() {
        let deleted = Msg::DeletedMany {
            model: "posts".into(),
            count: 10_000,
        };
        assert_eq!(
            done(&deleted).as_deref(),
            Some("deleted 10,000 rows of posts")
        );
        let changed = Msg::BulkDone {
            model: "posts".into(),
            action: "archive".into(),
            count: 1_234,
        };
        assert_eq!(
            done(&changed).as_deref(),
            Some("archive: 1,234 rows of posts changed")
        );
    }
}
