//! The console: a stack of screens, the overlays on top of them (help, a question, a
//! prompt, a box of text, new backup codes), and the routing of keys and messages.
//!
//! The app never performs IO. Screens ask for data with [`Cmd`]s; the session runs them
//! (after its permission checks) and answers with [`Msg`]s, which the app hands to the
//! screen they are for. Every string from outside is stored as [`SafeText`], so nothing
//! unsanitized can reach a buffer.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use super::backup_codes::{draw_backup_codes, BackupCodesBox};
use super::draw::{bar, boxed, putn, wrap, DIM, ERROR, FOOTER, HEADER, NOTICE, PROMPT, TITLE};
use super::input::{Input, Key, KeyEvent};
use super::prompt::{Prompt, PromptFor, PromptKey};
use super::protocol::{Cmd, ManageMsg, Msg, Setup};
use super::sanitize::SafeText;
use super::screen::{Action, Hint, Screen};
use super::screens::{
    AuditScreen, ConflictScreen, FilterScreen, FormScreen, GroupsScreen, IndexScreen,
    PasswordScreen, RecordScreen, SessionsScreen, UsersScreen,
};
use crate::domain::{group_thousands, pk_text, Reference, RowCount, Value};

/// The status line: shown until the next key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Error(SafeText),
    Notice(SafeText),
}

/// The `:` commands, for the help and for a mistyped one.
const COMMANDS: &str = ":users, :groups, :sessions, :audit, :password, :backup-codes, :q";

/// The console.
#[derive(Clone, Debug)]
pub struct App {
    pub user: SafeText,
    /// The screens, innermost last; the first is the index (or a set-up screen).
    pub stack: Vec<Box<dyn Screen>>,
    pub help: bool,
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
            stack: vec![Box::new(IndexScreen::new(page_size))],
            help: false,
            status: None,
            page_size,
            size,
            quit: false,
            prompt: None,
            confirm: None,
            dialog: None,
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
                app.stack = vec![Box::<super::screens::EnrolScreen>::default()];
                (app, vec![Cmd::BeginEnrolment])
            }
            Setup::ChangePassword => {
                app.stack = vec![Box::new(PasswordScreen::new(true))];
                (app, Vec::new())
            }
        }
    }

    /// The screen on top.
    pub fn screen(&self) -> Option<&dyn Screen> {
        self.stack.last().map(|s| s.as_ref())
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
                self.help = false;
                self.dialog = None;
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
                self.stack = vec![Box::new(PasswordScreen::new(true))];
                self.say(Action::Notice(
                    "Code accepted: two-factor authentication is on. Now choose your password."
                        .into(),
                ))
            }
            Msg::PasswordChanged if self.setup.take().is_some() => {
                self.stack = vec![Box::new(IndexScreen::new(self.page_size))];
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
            Msg::Exported { path, rows } => {
                self.export = None;
                let text = format!("exported {} rows to {path}", group_thousands(rows));
                self.say(Action::Notice(text))
            }
            Msg::Form {
                model,
                key,
                fields,
                links,
            } => {
                let form = FormScreen::from_msg(&model, key, &fields, &links, self.page_size);
                self.apply(Action::push(form, Vec::new()))
            }
            Msg::Distinct {
                model,
                column,
                ranged,
                boolean,
                values,
            } => {
                let filter = FilterScreen::new(&model, &column, ranged, boolean, &values);
                self.apply(Action::push(filter, Vec::new()))
            }
            Msg::Conflict { model, key, fields } => {
                let conflict = ConflictScreen::new(&model, &key, &fields);
                self.apply(Action::push(conflict, Vec::new()))
            }
            Msg::DeleteAsk {
                model,
                key,
                references,
            } => {
                let question = delete_question(&model, &key, &references);
                self.apply(Action::confirm(question, Cmd::Delete { model, key }))
            }
            Msg::Saved {
                ref model,
                ref key,
                created,
            } => {
                let pk = pk_text(key).unwrap_or_default();
                let verb = if created { "created" } else { "saved" };
                self.status = Some(Status::Notice(SafeText::new(&format!(
                    "{verb} {model} #{pk}"
                ))));
                // Forms and conflicts over it close; the record or list below shows it.
                let (cmds, claimed) = self.route(&msg);
                if claimed {
                    return cmds;
                }
                let label = SafeText::new(model);
                let (record, load) = RecordScreen::open(model, label, key.clone());
                self.apply(Action::push(record, load))
            }
            Msg::Deleted { ref model, ref key } => {
                let pk = pk_text(key).unwrap_or_default();
                self.status = Some(Status::Notice(SafeText::new(&format!(
                    "deleted {model} #{pk}"
                ))));
                self.route(&msg).0
            }
            Msg::DeletedMany { ref model, count } => {
                let text = format!("deleted {count} rows of {model}");
                self.status = Some(Status::Notice(SafeText::new(&text)));
                self.route(&msg).0
            }
            Msg::BulkDone {
                ref model,
                ref action,
                count,
            } => {
                let text = format!("{action}: {count} rows of {model} changed");
                self.status = Some(Status::Notice(SafeText::new(&text)));
                self.route(&msg).0
            }
            Msg::Manage(ManageMsg::Changed(ref text)) => {
                self.status = Some(Status::Notice(SafeText::new(text)));
                self.route(&msg).0
            }
            Msg::Manage(ManageMsg::Show(ref lines)) => {
                self.dialog = Some(lines.iter().map(|l| SafeText::new(l)).collect());
                self.route(&msg).0
            }
            // The index and every list of a model keep their counts current.
            Msg::Models(_) | Msg::Counted { .. } => {
                let actions: Vec<Action> = self.stack.iter_mut().map(|s| s.update(&msg)).collect();
                self.apply(Action::Many(actions))
            }
            Msg::Page { .. }
            | Msg::Record { .. }
            | Msg::Audit(_)
            | Msg::History { .. }
            | Msg::Enrolment { .. }
            | Msg::Manage(ManageMsg::Loaded(_)) => self.route(&msg).0,
        }
    }

    /// Offer `msg` to the screen on top; a screen that closes because of it passes it on
    /// to the one below. Returns the commands, and whether a screen acted on it.
    fn route(&mut self, msg: &Msg) -> (Vec<Cmd>, bool) {
        while let Some(top) = self.stack.last_mut() {
            match top.update(msg) {
                Action::Pop if self.stack.len() > 1 => {
                    self.stack.pop();
                }
                Action::None | Action::Ignored | Action::Pop => return (Vec::new(), false),
                action => return (self.apply(action), true),
            }
        }
        (Vec::new(), false)
    }

    /// Carry out what a screen asked for.
    fn apply(&mut self, action: Action) -> Vec<Cmd> {
        match action {
            Action::None | Action::Ignored => Vec::new(),
            Action::Cmds(cmds) => cmds,
            Action::Push(screen, cmds) => {
                self.stack.push(screen);
                cmds
            }
            Action::Pop => {
                self.back();
                Vec::new()
            }
            Action::PopWith(handoff) => {
                if self.stack.len() < 2 {
                    return Vec::new();
                }
                self.stack.pop();
                let next = match self.stack.last_mut() {
                    Some(top) => top.handoff(handoff),
                    None => Action::None,
                };
                self.apply(next)
            }
            Action::Confirm(question, yes) => {
                self.confirm = Some((SafeText::new(&question), *yes));
                Vec::new()
            }
            Action::Prompt(what, text) => {
                self.prompt = Some(Prompt::new(what, text));
                Vec::new()
            }
            Action::Dialog(lines) => {
                self.dialog = Some(lines);
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
        if self.backup_codes.is_some() {
            return self.backup_codes_key(k);
        }
        if self.help {
            self.help = false;
            return Vec::new();
        }
        if self.dialog.take().is_some() {
            return Vec::new();
        }
        if let Some((_, yes)) = self.confirm.take() {
            if k == KeyEvent::char('y') {
                return self.apply(yes);
            }
            self.status = Some(Status::Notice(SafeText::new("cancelled")));
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
                self.help = true;
                return Vec::new();
            }
            Key::Char('c') if k.mods.ctrl => return self.quit(),
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
                    PromptFor::StepUp(_) => vec![Cmd::StepUp {
                        code: super::protocol::Secret(text),
                    }],
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
    fn command_line(&mut self, line: &str) -> Vec<Cmd> {
        let action = match line.trim() {
            "q" | "quit" => return self.quit(),
            "users" => {
                let (s, cmds) = UsersScreen::open();
                Action::push(s, cmds)
            }
            "audit" => {
                let (s, cmds) = AuditScreen::open();
                Action::push(s, cmds)
            }
            "groups" => {
                let (s, cmds) = GroupsScreen::open();
                Action::push(s, cmds)
            }
            "sessions" => {
                let (s, cmds) = SessionsScreen::open();
                Action::push(s, cmds)
            }
            "password" => Action::push(PasswordScreen::new(false), Vec::new()),
            "backup-codes" => Action::cmd(Cmd::BackupCodes),
            other => Action::Error(format!("unknown command :{other} (try {COMMANDS})")),
        };
        self.apply(action)
    }

    fn quit(&mut self) -> Vec<Cmd> {
        self.quit = true;
        vec![Cmd::Quit]
    }

    fn back(&mut self) -> Vec<Cmd> {
        if self.stack.len() > 1 {
            self.stack.pop();
        }
        Vec::new()
    }

    /// Draw the whole console: the title bar, the screen on top, the footer (its keys, or
    /// the status, a question, a prompt), and the overlays.
    pub fn draw(&mut self, frame: &mut Frame) {
        let area = frame.area();
        if area.height < 3 || area.width < 10 {
            // No room for the layout: say so in what room there is.
            let buf = frame.buffer_mut();
            let lines = wrap("moat: make the terminal larger", usize::from(area.width));
            for (line, y) in lines.iter().zip(area.top()..area.bottom()) {
                putn(buf, area, area.x, y, line, usize::MAX, NOTICE);
            }
            if let Some(b) = &mut self.backup_codes {
                b.shown = false;
            }
            return;
        }
        let body = Rect::new(area.x, area.y + 1, area.width, area.height - 2);
        let footer = Rect::new(area.x, area.bottom() - 1, area.width, 1);
        let crumbs = self.crumbs();
        let buf = frame.buffer_mut();
        bar(
            buf,
            Rect::new(area.x, area.y, area.width, 1),
            &crumbs,
            self.user.as_str(),
            TITLE,
        );
        let (cursor, hints) = match self.stack.last_mut() {
            Some(top) => {
                // A screen that needs more rows than the body may cover the title bar.
                let room = if top.min_height() > body.height {
                    Rect::new(area.x, area.y, area.width, footer.y - area.y)
                } else {
                    body
                };
                let cursor = top.draw(buf, room);
                (cursor, footer_line(&top.status(), &top.hints()))
            }
            None => (None, String::new()),
        };
        let hints = match &self.backup_codes {
            Some(_) => " Enter I have stored them: save them  Esc drop them".to_string(),
            None => hints,
        };
        if let Some(p) = &self.prompt {
            // What is typed was checked key by key (printable characters only).
            let shown = if p.what.masked() {
                "•".repeat(p.text.chars().count())
            } else {
                SafeText::new(&p.text).to_string()
            };
            let line = format!(" {}{shown}█", p.what.label());
            bar(buf, footer, &line, "Enter ok  Esc cancel", PROMPT);
        } else if let (Some((rows, total)), None) = (self.export, &self.status) {
            bar(buf, footer, &export_progress(rows, total), "", NOTICE);
        } else if let Some((question, _)) = &self.confirm {
            bar(buf, footer, &format!(" {question}  [y/N]"), "", NOTICE);
        } else {
            match (&self.status, &self.warning) {
                (Some(Status::Error(text)), _) | (None, Some(text)) => {
                    bar(buf, footer, &format!(" {text}"), "", ERROR)
                }
                (Some(Status::Notice(text)), _) => {
                    bar(buf, footer, &format!(" {text}"), "", NOTICE)
                }
                (None, None) => bar(buf, footer, &hints, "", FOOTER),
            }
        }
        if let Some(lines) = &self.dialog {
            let lines: Vec<(String, Style)> = lines
                .iter()
                .map(|l| (l.as_str().to_string(), Style::new()))
                .collect();
            boxed(buf, area, " any key closes ", &lines);
        }
        if self.help {
            let hints = self.stack.last().map(|s| s.hints()).unwrap_or_default();
            draw_help(buf, area, &hints);
        }
        if let Some(b) = &mut self.backup_codes {
            draw_backup_codes(b, buf, area);
        }
        let overlaid = self.prompt.is_some()
            || self.confirm.is_some()
            || self.help
            || self.backup_codes.is_some();
        if let (Some(p), false) = (cursor, overlaid) {
            frame.set_cursor_position(p);
        }
    }

    /// `moat › posts › #17`: each screen's crumb; a model is named once, where it starts.
    fn crumbs(&self) -> String {
        let mut s = String::from(" moat");
        let mut shown_model: Option<String> = None;
        for screen in &self.stack {
            let crumb = screen.crumb();
            if let Some((name, label)) = crumb.model {
                if shown_model.as_deref() != Some(name.as_str()) {
                    s.push_str(" › ");
                    s.push_str(label.as_str());
                    shown_model = Some(name);
                }
            }
            if let Some(text) = crumb.text {
                s.push_str(" › ");
                s.push_str(text.as_str());
            }
        }
        s
    }
}

/// The footer: where the user is, then the keys they may use now.
fn footer_line(status: &str, hints: &[Hint]) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !status.is_empty() {
        parts.push(status.to_string());
    }
    for h in hints.iter().filter(|h| h.footer && h.enabled) {
        parts.push(match (h.keys, h.what) {
            ("", what) => what.to_string(),
            (keys, "") => keys.to_string(),
            (keys, what) => format!("{keys} {what}"),
        });
    }
    format!(" {}", parts.join("  "))
}

/// The keys every screen shares, after its own in the help.
const GLOBAL_KEYS: [(&str, &str); 5] = [
    (":", "users groups sessions audit q"),
    (":", "password backup-codes (yours)"),
    ("?", "this help"),
    ("q", "back; at the index, quit"),
    ("Ctrl-C", "quit"),
];

/// The help box: the screen's keys (those the user may not use now greyed), then the keys
/// every screen shares.
fn draw_help(buf: &mut ratatui::buffer::Buffer, area: Rect, hints: &[Hint]) {
    // The screen's own keys (`?` is among the shared ones), then the shared ones.
    let mut rows: Vec<(&str, &str, bool)> = hints
        .iter()
        .map(|h| (h.keys, h.what, h.enabled))
        .filter(|(k, _, _)| !k.is_empty() && *k != "?")
        .collect();
    rows.extend(GLOBAL_KEYS.iter().map(|(k, w)| (*k, *w, true)));
    let h = u16::try_from(rows.len().saturating_add(4)).unwrap_or(u16::MAX);
    let widest = rows.iter().map(|(_, w, _)| w.width()).max().unwrap_or(0) + 18;
    let w = u16::try_from(widest.max(50)).unwrap_or(u16::MAX);
    let rect = super::draw::centred(area, w, h);
    let (x, y, w) = (rect.x, rect.y, rect.width);
    ratatui::widgets::Widget::render(ratatui::widgets::Clear, rect, buf);
    ratatui::widgets::Widget::render(
        ratatui::widgets::Block::default()
            .borders(ratatui::widgets::Borders::ALL)
            .title(" Keys — any key closes "),
        rect,
        buf,
    );
    for (i, (keys, what, enabled)) in rows.iter().enumerate() {
        let row = super::draw::row(y + 2, i);
        if row + 1 >= rect.bottom() {
            break;
        }
        let (key_style, what_style) = if *enabled {
            (HEADER, Style::new())
        } else {
            (DIM, DIM)
        };
        putn(buf, rect, x + 2, row, keys, 12, key_style);
        let width = usize::from(w.saturating_sub(17));
        putn(buf, rect, x + 15, row, what, width, what_style);
    }
}

/// `exporting… 1,000 of 2,000 rows [#####     ]`
fn export_progress(rows: u64, total: Option<RowCount>) -> String {
    let done = group_thousands(rows);
    match total {
        Some(RowCount::Exact(n)) if n > 0 => {
            let filled = usize::try_from(u128::from(rows.min(n)) * 20 / u128::from(n))
                .unwrap_or(20)
                .min(20);
            format!(
                " exporting… {done} of {} rows [{}{}]",
                group_thousands(n),
                "#".repeat(filled),
                " ".repeat(20 - filled)
            )
        }
        Some(t) => format!(" exporting… {done} of {t} rows"),
        None => format!(" exporting… {done} rows"),
    }
}

/// "Delete posts #17? 3 comments are deleted with it. …"
fn delete_question(model: &str, key: &[Value], references: &[Reference]) -> String {
    let pk = pk_text(key).unwrap_or_default();
    let mut q = format!("Delete {model} #{pk}?");
    for r in references {
        let what = match r.on_delete.to_ascii_uppercase().as_str() {
            "CASCADE" => "deleted with it",
            "SET NULL" | "SET DEFAULT" => "unlinked",
            _ => "in the way: the delete will be refused",
        };
        match r.count {
            Some(count) => {
                let rows = if count == RowCount::Exact(1) {
                    "row"
                } else {
                    "rows"
                };
                q.push_str(&format!(" {count} {rows} of {} {what}.", r.table));
            }
            // The viewer may not see how many rows that model has.
            None => q.push_str(&format!(" Rows of {} {what}.", r.table)),
        }
    }
    q
}
