//! Console state and its update rule: `Msg` in, `Cmd` out.
//!
//! The app never performs IO. It asks for data with [`Cmd`]s; the session runs them (after
//! its permission checks) and answers with [`Msg`]s. Every string from outside is stored as
//! [`SafeText`], so nothing unsanitized can reach a buffer.

use super::account::{BackupCodesBox, EnrolScreen, PasswordScreen, Secret, Setup};
use super::form::{EditorAction, Field, FieldKind, FormAction, FormScreen, TextEditor};
use super::input::{Input, Key, KeyEvent};
use super::manage::{ManageAction, ManageCmd, ManageMsg, ManageScreen, Panel, PromptFor};
use super::sanitize::SafeText;
use crate::domain::{
    pk_text, ColumnInfo, Filter, FilterOp, ListQuery, Page, PageAnchor, Record, Reference,
    RowCount, SearchPath, Sort, Value,
};

/// A model as the index lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelSummary {
    /// The model's name (its table name) as the store knows it; used in commands.
    pub name: String,
    /// What the console calls it.
    pub label: String,
    pub columns: usize,
    /// The list's default order (from config).
    pub ordering: Option<Sort>,
    /// Rows per page, when the model sets its own.
    pub page_size: Option<u32>,
    /// Names of the bulk actions the model declares.
    pub bulk_actions: Vec<String>,
}

/// Something that happened: input from the user, or the answer to a [`Cmd`].
#[derive(Clone, Debug, PartialEq)]
pub enum Msg {
    Input(Input),
    /// The terminal now has this many columns and rows.
    Resize {
        cols: u16,
        rows: u16,
    },
    Models(Vec<ModelSummary>),
    Counted {
        model: String,
        query: ListQuery,
        count: RowCount,
    },
    Page {
        model: String,
        anchor: PageAnchor,
        page: Page,
    },
    Record {
        model: String,
        record: Record,
        /// Per field: the model it refers to, when it is a foreign key.
        links: Vec<Option<String>>,
    },
    /// A command failed; the text is shown on the status line.
    Failed(String),
    /// Something the user should know (not an error); shown on the status line.
    Notice(String),
    /// An answer to a management command.
    Manage(ManageMsg),
    /// May this row be deleted? (What refers to it, for the confirmation.)
    DeleteAsk {
        model: String,
        key: Vec<Value>,
        references: Vec<Reference>,
    },
    Deleted {
        model: String,
        key: Vec<Value>,
    },
    DeletedMany {
        model: String,
        count: usize,
    },
    /// A bulk action changed `count` marked rows.
    BulkDone {
        model: String,
        action: String,
        count: usize,
    },
    /// A column's most common values, with counts, for the filter picker. `ranged`: the
    /// column also takes a from..to range; `boolean`: show yes/no.
    Distinct {
        model: String,
        column: String,
        ranged: bool,
        boolean: bool,
        values: Vec<(Value, u64)>,
    },
    /// An export is under way: rows written so far, of about `total`.
    ExportProgress {
        rows: u64,
        total: Option<RowCount>,
    },
    /// An export finished: where the file is (on the server) and how many rows.
    Exported {
        path: String,
        rows: u64,
    },
    /// A page of the audit viewer.
    Audit(Box<AuditPage>),
    /// A row's audit trail, newest first, as lines to show.
    History {
        model: String,
        key: Vec<Value>,
        lines: Vec<String>,
    },
    /// The form's fields: (column, current value, read-only), and per field the model
    /// a foreign key refers to (for the picker).
    Form {
        model: String,
        key: Option<Vec<Value>>,
        fields: Vec<(ColumnInfo, Value, bool)>,
        links: Vec<Option<String>>,
    },
    Saved {
        model: String,
        key: Vec<Value>,
        created: bool,
    },
    /// The database refused the save (a constraint): shown on the form, nothing saved.
    SaveRefused(String),
    /// The row changed since the form was opened.
    Conflict {
        model: String,
        key: Vec<Value>,
        /// (column, what the form opened with, yours, what the row holds now)
        fields: Vec<(String, Value, Value, Value)>,
    },
    /// The TOTP device to enrol: its URI (drawn as a QR) and base32 secret.
    Enrolment {
        uri: Secret,
        secret: Secret,
    },
    /// The enrolment code was right.
    Enrolled,
    /// The password was changed.
    PasswordChanged,
    /// An enrolment code or a new password was refused, and why.
    AccountRefused(String),
    /// The last command needs a fresh verification code first (what it is).
    StepUp(String),
    /// New backup codes to show. They are not saved: the session keeps them until
    /// [`Cmd::SaveBackupCodes`] (the user stored them) or [`Cmd::DropBackupCodes`].
    BackupCodes {
        codes: Vec<Secret>,
    },
    /// The backup codes shown were saved: they work now, the earlier ones no longer do.
    BackupCodesSaved,
}

/// Something the app wants done.
#[derive(Clone, Debug, PartialEq)]
pub enum Cmd {
    LoadModels,
    /// Count the rows of a model that `query` lets through.
    Count {
        model: String,
        query: ListQuery,
    },
    LoadPage {
        model: String,
        anchor: PageAnchor,
        limit: u32,
        query: ListQuery,
    },
    LoadRecord {
        model: String,
        key: Vec<Value>,
    },
    /// Users, groups and permissions (checked by the session like everything else).
    Manage(ManageCmd),
    /// Ask to delete a row: the answer says what refers to it.
    AskDelete {
        model: String,
        key: Vec<Value>,
    },
    Delete {
        model: String,
        key: Vec<Value>,
    },
    /// The most common values of a column of a list (for its filter).
    LoadDistinct {
        model: String,
        column: String,
        query: ListQuery,
    },
    /// Run a declared bulk action on the marked rows: all or none.
    Bulk {
        model: String,
        action: String,
        keys: Vec<Vec<Value>>,
    },
    /// Export the list (as searched and sorted) to a CSV file on the server.
    Export {
        model: String,
        query: ListQuery,
    },
    /// Delete every marked row: all or none.
    DeleteMany {
        model: String,
        keys: Vec<Vec<Value>>,
    },
    /// Audit entries matching `query`, newest first, older than `before_id`.
    LoadAudit {
        query: AuditQuery,
        before_id: Option<i64>,
    },
    /// The audit trail of one row, newest first.
    LoadHistory {
        model: String,
        key: Vec<Value>,
    },
    /// Open the form to edit row `key` (or, with `None`, to create a row).
    OpenForm {
        model: String,
        key: Option<Vec<Value>>,
    },
    /// Save a form. `original` is what the form was opened with: the save is refused as a
    /// conflict if the row changed since (unless `overwrite`).
    Save {
        model: String,
        key: Option<Vec<Value>>,
        original: Vec<(String, Value)>,
        values: Vec<(String, Value)>,
        overwrite: bool,
    },
    /// Set-up: make a TOTP secret to enrol (answered with [`Msg::Enrolment`]).
    BeginEnrolment,
    /// Set-up: the code the user's app shows for the secret being enrolled.
    ConfirmEnrolment {
        code: Secret,
    },
    /// Change the user's password (`current` is `None` in the forced change after
    /// enrolment).
    ChangePassword {
        current: Option<Secret>,
        new: Secret,
        repeat: Secret,
    },
    /// The fresh code asked for by [`Msg::StepUp`]; the held action runs if it is right.
    StepUp {
        code: Secret,
    },
    /// The step-up prompt was cancelled: drop the held action.
    StepUpCancel,
    /// Make new backup codes and show them ([`Msg::BackupCodes`]); nothing is saved yet.
    BackupCodes,
    /// The user stored the codes shown: save them in place of the earlier ones.
    SaveBackupCodes,
    /// The user does not want the codes shown: forget them, keep the earlier ones.
    DropBackupCodes,
    Quit,
}

/// One cell of a list or one field value, ready to draw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CellText {
    Null,
    Text(SafeText),
}

/// Widest a list cell is drawn; cells are cut to this when a page arrives, so a page of
/// long texts costs a few KiB, not the texts' size.
pub const LIST_CELL_WIDTH: usize = 40;

impl CellText {
    /// A single-line rendering of a value for a list (newlines shown as `\n`), cut to
    /// [`LIST_CELL_WIDTH`].
    pub fn line(v: &Value) -> CellText {
        let text = match v {
            Value::Null => return CellText::Null,
            Value::Text(s) => SafeText::new(s),
            other => SafeText::new(&other.to_string()),
        };
        CellText::Text(text.truncated(LIST_CELL_WIDTH))
    }
}

/// The model index: the first screen.
#[derive(Clone, Debug, Default)]
pub struct IndexScreen {
    pub models: Vec<(ModelSummary, SafeText, Option<RowCount>)>,
    pub selected: usize,
    pub loaded: bool,
}

/// A row of a list.
#[derive(Clone, Debug, PartialEq)]
pub struct ListRow {
    pub key: Vec<Value>,
    /// Where this row sits in the list's order (what page anchors hold).
    pub cursor: Vec<Value>,
    pub cells: Vec<CellText>,
}

/// Where the cursor goes when a requested page arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Land {
    First,
    Last,
    At(usize),
    /// This many rows before the end of the page.
    FromEnd(usize),
}

/// A model's rows, one keyset page at a time.
#[derive(Clone, Debug)]
pub struct ListScreen {
    pub model: String,
    pub label: SafeText,
    pub columns: Vec<SafeText>,
    pub rows: Vec<ListRow>,
    pub has_before: bool,
    pub has_after: bool,
    pub selected: usize,
    /// First row drawn (kept by `draw` so the selection stays visible).
    pub offset: usize,
    /// First column drawn (horizontal scroll).
    pub col_offset: usize,
    pub count: Option<RowCount>,
    /// Absolute index of `rows[0]` in the whole list, when known.
    pub start: Option<u64>,
    /// A page request is in flight: where the cursor lands when it arrives.
    pub pending: Option<(PageAnchor, Land)>,
    /// Rows that fit on screen, from the last draw (for PgUp/PgDn).
    pub visible: usize,
    /// The search and order in force.
    pub query: ListQuery,
    /// The columns' names as the store knows them (for sorting).
    pub column_names: Vec<String>,
    /// Keys of the rows marked with Space, for bulk actions.
    pub marked: Vec<Vec<Value>>,
    /// Opened from a form to pick a row: Enter puts its key into the form's field.
    pub picking: bool,
    /// Rows per page.
    pub limit: u32,
    /// What Esc goes back to (the model's default order).
    pub default_query: ListQuery,
    /// The model's declared bulk actions.
    pub bulk_actions: Vec<String>,
    /// How the last page's search ran (index, scan, too short for the index).
    pub search_path: SearchPath,
}

/// Every field of one record.
#[derive(Clone, Debug)]
pub struct DetailScreen {
    pub model: String,
    pub label: SafeText,
    pub key: Vec<Value>,
    /// Field name, declared type, value lines.
    pub fields: Vec<(SafeText, SafeText, FieldValue)>,
    pub scroll: u16,
    /// Lines that fit on screen and lines in total, from the last draw.
    pub visible: u16,
    pub total_lines: u16,
    pub loaded: bool,
    /// Per field: (referenced model, key value, label) for a foreign key that is set.
    pub links: Vec<Option<(String, Value, SafeText)>>,
    /// The selected link (a field index), chosen with Tab, followed with Enter.
    pub link: Option<usize>,
}

/// A field's value in the detail view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldValue {
    Null,
    /// Text split into lines (wrapped at draw time).
    Lines(Vec<SafeText>),
}

/// The status line: shown until the next key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Error(SafeText),
    Notice(SafeText),
}

/// The screens, innermost last.
#[derive(Clone, Debug)]
pub enum Screen {
    Index(IndexScreen),
    List(Box<ListScreen>),
    Detail(DetailScreen),
    Manage(ManageScreen),
    Form(FormScreen),
    Conflict(ConflictScreen),
    History(HistoryScreen),
    Audit(AuditScreen),
    Filter(FilterScreen),
    Editor(TextEditor),
    Enrol(Box<EnrolScreen>),
    Password(PasswordScreen),
}

/// Choosing a filter for one column of the list below.
#[derive(Clone, Debug)]
pub struct FilterScreen {
    pub model: String,
    pub column: String,
    pub ranged: bool,
    /// (value, label with its count)
    pub values: Vec<(Value, SafeText)>,
    pub selected: usize,
}

/// A page of audit entries for the viewer.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditPage {
    pub query: AuditQuery,
    /// (id, one-line summary, detail lines)
    pub rows: Vec<(i64, String, Vec<String>)>,
    pub more: bool,
    /// Older entries to add below the ones shown (not a fresh list).
    pub appended: bool,
}

/// What the audit viewer shows: `user=… model=… action=… outcome=… since=…`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub user: Option<String>,
    pub model: Option<String>,
    pub action: Option<String>,
    pub outcome: Option<String>,
    /// `YYYY-MM-DD[ HH:MM:SS]` or unix seconds.
    pub since: Option<String>,
}

impl AuditQuery {
    /// Parse `key=value` words (`since=2026-11-01`); an empty text clears every filter.
    pub fn parse(text: &str) -> Result<AuditQuery, String> {
        let mut q = AuditQuery::default();
        for word in text.split_whitespace() {
            let (k, v) = word.split_once('=').ok_or_else(|| {
                format!("`{word}`: use key=value (user, model, action, outcome, since)")
            })?;
            let slot = match k {
                "user" => &mut q.user,
                "model" => &mut q.model,
                "action" => &mut q.action,
                "outcome" => &mut q.outcome,
                "since" => &mut q.since,
                other => {
                    return Err(format!(
                        "unknown filter `{other}` (user, model, action, outcome, since)"
                    ))
                }
            };
            *slot = Some(v.to_string());
        }
        Ok(q)
    }

    pub fn describe(&self) -> String {
        [
            ("user", &self.user),
            ("model", &self.model),
            ("action", &self.action),
            ("outcome", &self.outcome),
            ("since", &self.since),
        ]
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
        .collect::<Vec<_>>()
        .join(" ")
    }
}

/// The audit viewer (`:audit`).
#[derive(Clone, Debug, Default)]
pub struct AuditScreen {
    pub query: AuditQuery,
    pub rows: Vec<(i64, SafeText, Vec<SafeText>)>,
    pub selected: usize,
    pub offset: usize,
    pub more: bool,
    pub loaded: bool,
    pub loading: bool,
}

/// A row's audit trail.
#[derive(Clone, Debug)]
pub struct HistoryScreen {
    pub model: String,
    pub key: Vec<Value>,
    pub lines: Vec<SafeText>,
    pub scroll: usize,
    pub loaded: bool,
}

/// A save refused because the row changed: theirs, yours, and what is there now.
#[derive(Clone, Debug)]
pub struct ConflictScreen {
    pub model: String,
    pub key: Vec<Value>,
    /// (column, opened with, yours, now)
    pub rows: Vec<(SafeText, SafeText, SafeText, SafeText)>,
    yours: Vec<(String, Value)>,
    now: Vec<(String, Value)>,
}

/// What `y` does to a question.
#[derive(Clone, Debug, PartialEq)]
pub enum OnYes {
    Run(Vec<Cmd>),
    /// Close the form on top, dropping its changes.
    DiscardForm,
}

/// The console.
#[derive(Clone, Debug)]
pub struct App {
    pub user: SafeText,
    pub stack: Vec<Screen>,
    pub help: bool,
    pub status: Option<Status>,
    pub page_size: u32,
    pub size: (u16, u16),
    pub quit: bool,
    /// A one-line prompt being typed into (the `:` command line, a name, a codename).
    pub prompt: Option<(PromptFor, String)>,
    /// A yes/no question; `y` runs the commands.
    pub confirm: Option<(SafeText, OnYes)>,
    /// Text shown once in a box until a key is pressed.
    pub dialog: Option<Vec<SafeText>>,
    /// An export under way: rows written, of about this many.
    pub export: Option<(u64, Option<RowCount>)>,
    /// Set while the user is being set up: only the account screens are reachable.
    pub setup: Option<Setup>,
    /// New backup codes on screen, waiting for Enter (save) or Esc (drop). On top of
    /// everything, and takes every key while it is there.
    pub backup_codes: Option<BackupCodesBox>,
}

impl App {
    /// A new console for `user`, with the commands to run first.
    pub fn new(user: &str, page_size: u32, size: (u16, u16)) -> (App, Vec<Cmd>) {
        let app = App {
            user: SafeText::new(user),
            stack: vec![Screen::Index(IndexScreen::default())],
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
                app.stack = vec![Screen::Enrol(Box::default())];
                (app, vec![Cmd::BeginEnrolment])
            }
            Setup::ChangePassword => {
                app.stack = vec![Screen::Password(PasswordScreen::new(true))];
                (app, Vec::new())
            }
        }
    }

    /// A message of the account screens.
    fn on_account(&mut self, msg: Msg) -> Vec<Cmd> {
        match msg {
            Msg::Enrolment { uri, secret } => {
                if let Some(Screen::Enrol(e)) = self.stack.last_mut() {
                    e.show(&uri.0, &secret.0);
                }
            }
            Msg::Enrolled => {
                self.setup = Some(Setup::ChangePassword);
                self.stack = vec![Screen::Password(PasswordScreen::new(true))];
                self.status = Some(Status::Notice(SafeText::new(
                    "Code accepted: two-factor authentication is on. Now choose your password.",
                )));
            }
            Msg::PasswordChanged => {
                if self.setup.take().is_some() {
                    self.stack = vec![Screen::Index(IndexScreen::default())];
                    self.status = Some(Status::Notice(SafeText::new(
                        "Password set. Your account is ready.",
                    )));
                    return vec![Cmd::LoadModels];
                }
                if let Some(Screen::Password(_)) = self.stack.last() {
                    self.stack.pop();
                }
                self.status = Some(Status::Notice(SafeText::new("password changed")));
            }
            Msg::AccountRefused(why) => {
                match self.stack.last_mut() {
                    Some(Screen::Enrol(e)) => e.error = Some(SafeText::new(&why)),
                    Some(Screen::Password(p)) => p.refused(&why),
                    _ => {}
                }
                self.status = Some(Status::Error(SafeText::new(&why)));
            }
            Msg::StepUp(what) => {
                self.status = Some(Status::Notice(SafeText::new(&format!(
                    "{what} needs a fresh verification code"
                ))));
                self.prompt = Some((PromptFor::StepUp(what), String::new()));
            }
            Msg::BackupCodes { codes } => {
                self.help = false;
                self.dialog = None;
                self.backup_codes = Some(BackupCodesBox::new(&codes));
            }
            Msg::BackupCodesSaved => {
                self.backup_codes = None;
                self.status = Some(Status::Notice(SafeText::new(
                    "backup codes saved: the new ones work now, the earlier ones no longer do",
                )));
            }
            _ => {}
        }
        Vec::new()
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

    /// A key while the user is being set up: only the account screen on top sees it.
    fn setup_key(&mut self, k: KeyEvent) -> Vec<Cmd> {
        if k == KeyEvent::ctrl('c') || k == KeyEvent::ctrl('d') {
            return self.quit();
        }
        self.status = None;
        match self.stack.last_mut() {
            Some(Screen::Enrol(e)) => e.key(k).into_iter().collect(),
            Some(Screen::Password(p)) => p.key(k).flatten().into_iter().collect(),
            _ => Vec::new(),
        }
    }

    /// The screen on top.
    pub fn screen(&self) -> Option<&Screen> {
        self.stack.last()
    }

    /// Apply one message; return what to do next.
    pub fn update(&mut self, msg: Msg) -> Vec<Cmd> {
        match msg {
            Msg::Input(Input::Key(k)) => self.on_key(k),
            Msg::Input(Input::Paste(text)) => {
                match (self.prompt.as_mut(), self.stack.last_mut()) {
                    (Some((_, line)), _) => {
                        line.extend(text.chars().filter(|c| !c.is_control()).take(200));
                    }
                    (None, Some(Screen::Form(form))) => form.paste(&text),
                    (None, Some(Screen::Editor(editor))) => editor.paste(&text),
                    (None, Some(Screen::Password(p))) => p.paste(&text),
                    _ => {}
                }
                Vec::new()
            }
            Msg::Resize { cols, rows } => {
                self.size = (cols, rows);
                Vec::new()
            }
            Msg::Models(models) => self.on_models(models),
            msg @ (Msg::Enrolment { .. }
            | Msg::Enrolled
            | Msg::PasswordChanged
            | Msg::AccountRefused(_)
            | Msg::StepUp(_)
            | Msg::BackupCodes { .. }
            | Msg::BackupCodesSaved) => self.on_account(msg),
            Msg::Counted {
                model,
                query,
                count,
            } => {
                self.on_count(&model, &query, count);
                Vec::new()
            }
            Msg::Page {
                model,
                anchor,
                page,
            } => {
                self.on_page(&model, anchor, page);
                Vec::new()
            }
            Msg::Record {
                model,
                record,
                links,
            } => {
                self.on_record(&model, record, links);
                Vec::new()
            }
            Msg::Notice(text) => {
                self.status = Some(Status::Notice(SafeText::new(&text)));
                Vec::new()
            }
            Msg::Manage(m) => self.on_manage(m),
            Msg::DeleteAsk {
                model,
                key,
                references,
            } => {
                self.confirm = Some((
                    SafeText::new(&delete_question(&model, &key, &references)),
                    OnYes::Run(vec![Cmd::Delete { model, key }]),
                ));
                Vec::new()
            }
            Msg::Deleted { model, key } => self.on_deleted(&model, &key),
            Msg::Distinct {
                model,
                column,
                ranged,
                boolean,
                values,
            } => {
                let values = values
                    .into_iter()
                    .map(|(v, n)| {
                        let shown = match (&v, boolean) {
                            (Value::Null, _) => "∅ NULL".to_string(),
                            (Value::Integer(0), true) => "no".into(),
                            (Value::Integer(_), true) => "yes".into(),
                            (other, _) => other.to_string(),
                        };
                        let label = SafeText::new(&format!(
                            "{shown}  ({})",
                            crate::domain::group_thousands(n)
                        ));
                        (v, label.truncated(60))
                    })
                    .collect();
                self.stack.push(Screen::Filter(FilterScreen {
                    model,
                    column,
                    ranged,
                    values,
                    selected: 0,
                }));
                Vec::new()
            }
            Msg::ExportProgress { rows, total } => {
                self.export = Some((rows, total));
                Vec::new()
            }
            Msg::Exported { path, rows } => {
                self.export = None;
                let text = format!(
                    "exported {} rows to {path}",
                    crate::domain::group_thousands(rows)
                );
                self.status = Some(Status::Notice(SafeText::new(&text)));
                Vec::new()
            }
            Msg::BulkDone {
                model,
                action,
                count,
            } => {
                let cmds = match self.stack.last_mut() {
                    Some(Screen::List(l)) if l.model == model => {
                        l.marked.clear();
                        let reload = match l.rows.first() {
                            Some(first) => {
                                let at = l.selected;
                                l.request(PageAnchor::From(first.cursor.clone()), Land::At(at))
                            }
                            None => l.request(PageAnchor::First, Land::First),
                        };
                        vec![reload]
                    }
                    _ => Vec::new(),
                };
                let text = format!("{action}: {count} rows of {model} changed");
                self.status = Some(Status::Notice(SafeText::new(&text)));
                cmds
            }
            Msg::DeletedMany { model, count } => {
                let cmds = match self.stack.last_mut() {
                    Some(Screen::List(l)) if l.model == model => {
                        l.marked.clear();
                        let key = l
                            .rows
                            .get(l.selected)
                            .map(|r| r.key.clone())
                            .unwrap_or_default();
                        self.on_deleted(&model, &key)
                    }
                    _ => Vec::new(),
                };
                self.status = Some(Status::Notice(SafeText::new(&format!(
                    "deleted {count} rows of {model}"
                ))));
                cmds
            }
            Msg::Audit(page) => {
                let AuditPage {
                    query,
                    rows,
                    more,
                    appended,
                } = *page;
                if let Some(Screen::Audit(a)) = self.stack.last_mut() {
                    if a.query == query {
                        let rows = rows.into_iter().map(|(id, line, details)| {
                            let details = details.iter().map(|d| SafeText::new(d)).collect();
                            (id, SafeText::new(&line), details)
                        });
                        if appended {
                            a.rows.extend(rows);
                        } else {
                            a.rows = rows.collect();
                            a.selected = 0;
                            a.offset = 0;
                        }
                        a.more = more;
                        a.loaded = true;
                        a.loading = false;
                    }
                }
                Vec::new()
            }
            Msg::History { model, key, lines } => {
                if let Some(Screen::History(h)) = self.stack.last_mut() {
                    if h.model == model && h.key == key {
                        h.lines = lines.iter().map(|l| SafeText::new(l)).collect();
                        h.loaded = true;
                    }
                }
                Vec::new()
            }
            Msg::Form {
                model,
                key,
                fields,
                links,
            } => {
                let label = SafeText::new(&model);
                let fields = fields
                    .iter()
                    .zip(links.into_iter().chain(std::iter::repeat(None)))
                    .map(|((col, value, read_only), link)| {
                        let mut f = Field::new(col, value, *read_only);
                        f.link = link;
                        f
                    })
                    .collect();
                self.stack
                    .push(Screen::Form(FormScreen::new(model, label, key, fields)));
                Vec::new()
            }
            Msg::Saved {
                model,
                key,
                created,
            } => self.on_saved(model, key, created),
            Msg::SaveRefused(message) => {
                if let Some(Screen::Form(f)) = self.stack.last_mut() {
                    f.blame(&message);
                }
                self.status = Some(Status::Error(SafeText::new(&message)));
                Vec::new()
            }
            Msg::Conflict { model, key, fields } => {
                let text = |v: &Value| match v {
                    Value::Null => SafeText::new("∅ NULL"),
                    other => SafeText::new(&other.to_string()).truncated(LIST_CELL_WIDTH),
                };
                let screen = ConflictScreen {
                    rows: fields
                        .iter()
                        .map(|(c, opened, yours, now)| {
                            (SafeText::new(c), text(opened), text(yours), text(now))
                        })
                        .collect(),
                    yours: fields
                        .iter()
                        .map(|(c, _, y, _)| (c.clone(), y.clone()))
                        .collect(),
                    now: fields
                        .iter()
                        .map(|(c, _, _, n)| (c.clone(), n.clone()))
                        .collect(),
                    model,
                    key,
                };
                self.stack.push(Screen::Conflict(screen));
                Vec::new()
            }
            Msg::Failed(text) => {
                if text.starts_with("export") {
                    self.export = None;
                }
                self.status = Some(Status::Error(SafeText::new(&text)));
                // Nothing may stay waiting forever: a list stops waiting for its page, and
                // a screen whose first load failed (a denial) is closed again.
                match self.stack.last_mut() {
                    Some(Screen::List(l)) => l.pending = None,
                    Some(Screen::Manage(m)) if !m.loaded => {
                        self.stack.pop();
                    }
                    Some(Screen::Detail(d)) if !d.loaded => {
                        self.stack.pop();
                    }
                    Some(Screen::History(h)) if !h.loaded => {
                        self.stack.pop();
                    }
                    Some(Screen::Audit(a)) if !a.loaded => {
                        self.stack.pop();
                    }
                    _ => {}
                }
                Vec::new()
            }
        }
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
        if let Some((_, on_yes)) = self.confirm.take() {
            return if k == KeyEvent::plain(Key::Char('y')) {
                match on_yes {
                    OnYes::Run(cmds) => cmds,
                    OnYes::DiscardForm => {
                        if matches!(self.stack.last(), Some(Screen::Form(_))) {
                            self.stack.pop();
                        }
                        Vec::new()
                    }
                }
            } else {
                self.status = Some(Status::Notice(SafeText::new("cancelled")));
                Vec::new()
            };
        }
        if self.setup.is_some() {
            return self.setup_key(k);
        }
        if self.prompt.is_some() {
            return self.prompt_key(k);
        }
        if let Some(Screen::Password(p)) = self.stack.last_mut() {
            self.status = None;
            return match p.key(k) {
                Some(Some(cmd)) => vec![cmd],
                Some(None) => {
                    self.stack.pop();
                    Vec::new()
                }
                None => Vec::new(),
            };
        }
        if let Some(Screen::Form(_)) = self.stack.last() {
            self.status = None;
            return self.form_key(k);
        }
        if let Some(Screen::Editor(e)) = self.stack.last_mut() {
            match e.key(k) {
                EditorAction::None => {}
                EditorAction::Drop => {
                    self.stack.pop();
                }
                EditorAction::Keep => {
                    let (field, text) = (e.field, e.text());
                    self.stack.pop();
                    if let Some(Screen::Form(form)) = self.stack.last_mut() {
                        form.set_text(field, text);
                    }
                }
            }
            return Vec::new();
        }
        if let Some(Screen::Conflict(_)) = self.stack.last() {
            return self.conflict_key(k);
        }
        self.status = None;
        let plain = !k.mods.ctrl && !k.mods.alt;
        match k.key {
            Key::Char(':') if plain => {
                self.prompt = Some((PromptFor::Command, String::new()));
                return Vec::new();
            }
            Key::Char('?') if plain => {
                self.help = true;
                return Vec::new();
            }
            Key::Char('c') if k.mods.ctrl => return self.quit(),
            Key::Char('/') if plain && matches!(self.stack.last(), Some(Screen::List(_))) => {
                let current = match self.stack.last() {
                    Some(Screen::List(l)) => l.query.search.clone().unwrap_or_default(),
                    _ => String::new(),
                };
                self.prompt = Some((PromptFor::Search, current));
                return Vec::new();
            }
            Key::Esc => {
                // Esc first drops a search or sort, then goes back.
                let page_size = self.page_size;
                if let Some(Screen::List(l)) = self.stack.last_mut() {
                    if l.query != l.default_query {
                        l.query = l.default_query.clone();
                        return l.requery();
                    }
                }
                let _ = page_size;
                return self.back();
            }
            Key::Char('q') if plain => {
                return if self.stack.len() <= 1 {
                    self.quit()
                } else {
                    self.back()
                };
            }
            _ => {}
        }
        if k.key == Key::Enter {
            if let Some(Screen::List(l)) = self.stack.last() {
                if l.picking {
                    let picked = l.rows.get(l.selected).and_then(|r| pk_text(&r.key));
                    self.stack.pop();
                    if let (Some(pk), Some(Screen::Form(form))) = (picked, self.stack.last_mut()) {
                        form.set_focused(&pk);
                    }
                    return Vec::new();
                }
            }
        }
        let page_size = self.page_size;
        let action = match self.stack.last_mut() {
            Some(Screen::Index(s)) => index_key(s, k, page_size),
            Some(Screen::List(s)) => list_key(s, k),
            Some(Screen::Detail(s)) => detail_key(s, k),
            Some(
                Screen::Form(_)
                | Screen::Conflict(_)
                | Screen::Editor(_)
                | Screen::Enrol(_)
                | Screen::Password(_),
            ) => Action::None, // handled above
            Some(Screen::Audit(a)) => audit_key(a, k, &mut self.prompt, &mut self.dialog),
            Some(Screen::Filter(f)) => match k.key {
                Key::Down | Key::Char('j') => {
                    f.selected = (f.selected + 1).min(f.values.len().saturating_sub(1));
                    Action::None
                }
                Key::Up | Key::Char('k') => {
                    f.selected = f.selected.saturating_sub(1);
                    Action::None
                }
                Key::Char('r') if f.ranged => {
                    self.prompt = Some((PromptFor::Range, String::new()));
                    Action::None
                }
                Key::Enter => match f.values.get(f.selected) {
                    Some((v, _)) => {
                        let filter = Filter {
                            column: f.column.clone(),
                            op: FilterOp::Equals(v.clone()),
                        };
                        return self.apply_filter(filter);
                    }
                    None => Action::None,
                },
                _ => Action::None,
            },
            Some(Screen::History(h)) => {
                match k.key {
                    Key::Down | Key::Char('j') => {
                        h.scroll = (h.scroll + 1).min(h.lines.len().saturating_sub(1))
                    }
                    Key::Up | Key::Char('k') => h.scroll = h.scroll.saturating_sub(1),
                    Key::Home | Key::Char('g') => h.scroll = 0,
                    _ => {}
                }
                Action::None
            }
            Some(Screen::Manage(s)) => match s.key(k) {
                ManageAction::None => Action::None,
                ManageAction::Open(panel) => open_panel(panel),
                ManageAction::Prompt(what) => {
                    self.prompt = Some((what, String::new()));
                    Action::None
                }
                ManageAction::Confirm(question, cmd) => {
                    self.confirm =
                        Some((SafeText::new(&question), OnYes::Run(vec![Cmd::Manage(cmd)])));
                    Action::None
                }
                ManageAction::Run(cmd) => Action::Cmds(vec![Cmd::Manage(cmd)]),
            },
            None => Action::None,
        };
        match action {
            Action::None => Vec::new(),
            Action::Cmds(cmds) => cmds,
            Action::Push(screen, cmds) => {
                self.stack.push(*screen);
                cmds
            }
            Action::Confirm(question, cmd) => {
                self.confirm = Some((SafeText::new(&question), OnYes::Run(vec![cmd])));
                Vec::new()
            }
            Action::Prompt(what) => {
                self.prompt = Some((what, String::new()));
                Vec::new()
            }
        }
    }

    /// A key while a prompt is open: edit the line, Enter submits, Esc cancels.
    fn prompt_key(&mut self, k: KeyEvent) -> Vec<Cmd> {
        let Some((what, text)) = self.prompt.as_mut() else {
            return Vec::new();
        };
        match k.key {
            Key::Esc => {
                let step_up = matches!(what, PromptFor::StepUp(_));
                self.prompt = None;
                if step_up {
                    self.status = Some(Status::Notice(SafeText::new("cancelled")));
                    return vec![Cmd::StepUpCancel];
                }
            }
            Key::Backspace => {
                text.pop();
            }
            Key::Char('u') if k.mods.ctrl => text.clear(),
            Key::Char(c)
                if !k.mods.ctrl && !k.mods.alt && !c.is_control() && text.chars().count() < 200 =>
            {
                text.push(c);
            }
            Key::Enter => {
                let (what, text) = (what.clone(), std::mem::take(text));
                self.prompt = None;
                if what == PromptFor::Command {
                    return self.command_line(&text);
                }
                if let PromptFor::StepUp(_) = what {
                    return vec![Cmd::StepUp { code: Secret(text) }];
                }
                if what == PromptFor::AuditFilter {
                    return match (AuditQuery::parse(&text), self.stack.last_mut()) {
                        (Ok(query), Some(Screen::Audit(a))) => {
                            a.query = query.clone();
                            a.loading = true;
                            vec![Cmd::LoadAudit {
                                query,
                                before_id: None,
                            }]
                        }
                        (Err(why), _) => {
                            self.status = Some(Status::Error(SafeText::new(&why)));
                            Vec::new()
                        }
                        _ => Vec::new(),
                    };
                }
                if let PromptFor::Bulk(_) = &what {
                    let Some(Screen::List(l)) = self.stack.last() else {
                        return Vec::new();
                    };
                    let name = text.trim();
                    if !l.bulk_actions.iter().any(|a| a == name) {
                        let why = format!(
                            "no action `{name}` (declared: {})",
                            l.bulk_actions.join(", ")
                        );
                        self.status = Some(Status::Error(SafeText::new(&why)));
                        return Vec::new();
                    }
                    let question = format!(
                        "Apply {name} to the {} marked rows of {}?",
                        l.marked.len(),
                        l.model
                    );
                    let cmd = Cmd::Bulk {
                        model: l.model.clone(),
                        action: name.to_string(),
                        keys: l.marked.clone(),
                    };
                    self.confirm = Some((SafeText::new(&question), OnYes::Run(vec![cmd])));
                    return Vec::new();
                }
                if what == PromptFor::Range {
                    let Some(Screen::Filter(f)) = self.stack.last() else {
                        return Vec::new();
                    };
                    return match parse_range(&text) {
                        Some((from, to)) => {
                            let filter = Filter {
                                column: f.column.clone(),
                                op: FilterOp::Range { from, to },
                            };
                            self.apply_filter(filter)
                        }
                        None => {
                            let why = "type from..to (either side may be empty), e.g. 2024-01-01..2024-07-01";
                            self.status = Some(Status::Error(SafeText::new(why)));
                            Vec::new()
                        }
                    };
                }
                if what == PromptFor::Search {
                    if let Some(Screen::List(l)) = self.stack.last_mut() {
                        let term = text.trim();
                        l.query.search = (!term.is_empty()).then(|| term.to_string());
                        return l.requery();
                    }
                    return Vec::new();
                }
                return match what.command(&text) {
                    Ok(cmd) => vec![Cmd::Manage(cmd)],
                    Err(why) => {
                        self.status = Some(Status::Error(SafeText::new(&why)));
                        Vec::new()
                    }
                };
            }
            _ => {}
        }
        Vec::new()
    }

    /// Run a `:` command.
    fn command_line(&mut self, line: &str) -> Vec<Cmd> {
        let action = match line.trim() {
            "q" | "quit" => return self.quit(),
            "users" => open_panel(Panel::Users),
            "audit" => {
                let load = Cmd::LoadAudit {
                    query: AuditQuery::default(),
                    before_id: None,
                };
                Action::Push(Box::new(Screen::Audit(AuditScreen::default())), vec![load])
            }
            "groups" => open_panel(Panel::Groups),
            "sessions" => open_panel(Panel::Sessions),
            "password" => {
                self.stack
                    .push(Screen::Password(PasswordScreen::new(false)));
                return Vec::new();
            }
            "backup-codes" => return vec![Cmd::BackupCodes],
            other => {
                let text = format!(
                    "unknown command :{other} (try :users, :groups, :sessions, :audit, \
                     :password, :backup-codes, :q)"
                );
                self.status = Some(Status::Error(SafeText::new(&text)));
                return Vec::new();
            }
        };
        match action {
            Action::Push(screen, cmds) => {
                self.stack.push(*screen);
                cmds
            }
            _ => Vec::new(),
        }
    }

    fn form_key(&mut self, k: KeyEvent) -> Vec<Cmd> {
        let Some(Screen::Form(form)) = self.stack.last_mut() else {
            return Vec::new();
        };
        match form.key(k) {
            FormAction::None => Vec::new(),
            FormAction::Edit => {
                if let Some(f) = form.fields.get(form.focus) {
                    let editor = TextEditor::new(form.focus, f.label.clone(), &f.text);
                    self.stack.push(Screen::Editor(editor));
                }
                Vec::new()
            }
            FormAction::Pick(model) => {
                // Pick a row of `model` for the focused field.
                let mut list = ListScreen::new(model.clone(), SafeText::new(&model), None);
                list.picking = true;
                list.limit = self.page_size;
                let first = list.request(PageAnchor::First, Land::First);
                let count = list.count_cmd();
                self.stack.push(Screen::List(Box::new(list)));
                vec![first, count]
            }
            FormAction::Cancel => {
                if form.dirty() {
                    self.confirm =
                        Some((SafeText::new("Discard your changes?"), OnYes::DiscardForm));
                } else {
                    self.stack.pop();
                }
                Vec::new()
            }
            FormAction::Save => match form.validate() {
                Err(why) => {
                    self.status = Some(Status::Error(SafeText::new(&why)));
                    Vec::new()
                }
                Ok(values) => {
                    let original = form
                        .fields
                        .iter()
                        .map(|f| (f.name.clone(), f.original.clone()))
                        .collect();
                    vec![Cmd::Save {
                        model: form.model.clone(),
                        key: form.key.clone(),
                        original,
                        values,
                        overwrite: false,
                    }]
                }
            },
        }
    }

    fn conflict_key(&mut self, k: KeyEvent) -> Vec<Cmd> {
        let Some(Screen::Conflict(c)) = self.stack.last() else {
            return Vec::new();
        };
        match k.key {
            // Overwrite: save yours over what is there now (audited as an overwrite).
            Key::Char('o') => {
                let cmd = Cmd::Save {
                    model: c.model.clone(),
                    key: Some(c.key.clone()),
                    original: c.now.clone(),
                    values: c.yours.clone(),
                    overwrite: true,
                };
                vec![cmd]
            }
            // Reload: drop yours, show the row as it is now.
            Key::Char('r') => {
                let load = Cmd::LoadRecord {
                    model: c.model.clone(),
                    key: c.key.clone(),
                };
                self.stack.pop(); // the conflict
                if matches!(self.stack.last(), Some(Screen::Form(_))) {
                    self.stack.pop();
                }
                if let Some(Screen::Detail(d)) = self.stack.last_mut() {
                    d.loaded = false;
                }
                vec![load]
            }
            Key::Esc => {
                self.stack.pop(); // back to the form, changes kept
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// Close the filter picker and filter the list below by `filter` (replacing any
    /// filter on the same column).
    fn apply_filter(&mut self, filter: Filter) -> Vec<Cmd> {
        if matches!(self.stack.last(), Some(Screen::Filter(_))) {
            self.stack.pop();
        }
        match self.stack.last_mut() {
            Some(Screen::List(l)) => {
                l.query.filters.retain(|f| f.column != filter.column);
                l.query.filters.push(filter);
                l.requery()
            }
            _ => Vec::new(),
        }
    }

    /// A form was saved: close it (and a conflict over it) and show the record.
    fn on_saved(&mut self, model: String, key: Vec<Value>, created: bool) -> Vec<Cmd> {
        while matches!(
            self.stack.last(),
            Some(Screen::Form(_) | Screen::Conflict(_))
        ) {
            self.stack.pop();
        }
        let pk = pk_text(&key).unwrap_or_default();
        let verb = if created { "created" } else { "saved" };
        self.status = Some(Status::Notice(SafeText::new(&format!(
            "{verb} {model} #{pk}"
        ))));
        let load = Cmd::LoadRecord {
            model: model.clone(),
            key: key.clone(),
        };
        match self.stack.last_mut() {
            Some(Screen::Detail(d)) if d.model == model && d.key == key => {
                d.loaded = false;
            }
            _ => {
                let detail = DetailScreen::new(model.clone(), SafeText::new(&model), key);
                self.stack.push(Screen::Detail(detail));
            }
        }
        vec![load]
    }

    /// A row was deleted: leave its record, and reload the list around where it was.
    fn on_deleted(&mut self, model: &str, key: &[Value]) -> Vec<Cmd> {
        let pk = pk_text(key).unwrap_or_default();
        self.status = Some(Status::Notice(SafeText::new(&format!(
            "deleted {model} #{pk}"
        ))));
        if matches!(self.stack.last(), Some(Screen::Detail(d)) if d.model == model && d.key == key)
        {
            self.stack.pop();
        }
        let Some(Screen::List(list)) = self.stack.last_mut() else {
            return Vec::new();
        };
        if list.model != model {
            return Vec::new();
        }
        // Reload the same page in place; the cursor stays where the row was.
        let at = list.selected;
        let cmd = match list.rows.first() {
            Some(first) => {
                let anchor = PageAnchor::From(first.cursor.clone());
                list.request(anchor, Land::At(at))
            }
            None => list.request(PageAnchor::First, Land::First),
        };
        let count = list.count_cmd();
        vec![cmd, count]
    }

    fn on_manage(&mut self, m: ManageMsg) -> Vec<Cmd> {
        match m {
            ManageMsg::Loaded {
                panel,
                header,
                items,
            } => {
                if let Some(Screen::Manage(s)) = self.stack.last_mut() {
                    if s.panel == panel {
                        s.fill(header, items);
                    }
                }
                Vec::new()
            }
            ManageMsg::Changed(text) => {
                self.status = Some(Status::Notice(SafeText::new(&text)));
                match self.stack.last() {
                    Some(Screen::Manage(s)) => vec![Cmd::Manage(ManageCmd::Load(s.panel.clone()))],
                    _ => Vec::new(),
                }
            }
            ManageMsg::Show(lines) => {
                self.dialog = Some(lines.iter().map(|l| SafeText::new(l)).collect());
                match self.stack.last() {
                    Some(Screen::Manage(s)) => vec![Cmd::Manage(ManageCmd::Load(s.panel.clone()))],
                    _ => Vec::new(),
                }
            }
        }
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

    fn on_models(&mut self, models: Vec<ModelSummary>) -> Vec<Cmd> {
        let Some(Screen::Index(index)) = self.stack.first_mut() else {
            return Vec::new();
        };
        let cmds = models
            .iter()
            .map(|m| Cmd::Count {
                model: m.name.clone(),
                query: ListQuery::default(),
            })
            .collect();
        index.models = models
            .into_iter()
            .map(|m| {
                let label = SafeText::new(&m.label);
                (m, label, None)
            })
            .collect();
        index.selected = 0;
        index.loaded = true;
        cmds
    }

    fn on_count(&mut self, model: &str, query: &ListQuery, count: RowCount) {
        for screen in &mut self.stack {
            match screen {
                Screen::Index(index) if query.search.is_none() => {
                    for entry in index.models.iter_mut().filter(|e| e.0.name == model) {
                        entry.2 = Some(count);
                    }
                }
                Screen::List(list) if list.model == model && list.query.search == query.search => {
                    list.count = Some(count)
                }
                _ => {}
            }
        }
    }

    fn on_page(&mut self, model: &str, anchor: PageAnchor, page: Page) {
        let Some(Screen::List(list)) = self.stack.last_mut() else {
            return;
        };
        if list.model != model {
            return;
        }
        let land = match list.pending.take() {
            Some((wanted, land)) if wanted == anchor => land,
            // A stale answer (the user moved on): ignore it.
            _ => return,
        };
        let old_len = list.rows.len() as u64;
        list.columns = page.columns.iter().map(|c| SafeText::new(c)).collect();
        list.column_names = page.columns.clone();
        list.rows = page
            .rows
            .into_iter()
            .map(|r| ListRow {
                cells: r.values.iter().map(CellText::line).collect(),
                key: r.key,
                cursor: r.cursor,
            })
            .collect();
        list.has_before = page.has_before;
        list.has_after = page.has_after;
        list.search_path = page.search_path;
        let len = list.rows.len();
        list.start = match anchor {
            PageAnchor::First => Some(0),
            PageAnchor::After(_) => list.start.map(|s| s + old_len),
            PageAnchor::From(_) => {
                if list.start == Some(0) {
                    list.has_before = false;
                }
                list.start
            }
            PageAnchor::Before(_) => list.start.and_then(|s| s.checked_sub(len as u64)),
            PageAnchor::Last => match list.count {
                Some(RowCount::Exact(n)) => n.checked_sub(len as u64),
                _ => None,
            },
        };
        if !list.has_before {
            list.start = Some(0);
        }
        list.selected = match land {
            Land::First => 0,
            Land::Last => len.saturating_sub(1),
            Land::At(i) => i.min(len.saturating_sub(1)),
            Land::FromEnd(n) => len.saturating_sub(n),
        };
        list.offset = match land {
            Land::First => 0,
            _ => list.offset.min(list.selected),
        };
    }

    fn on_record(&mut self, model: &str, record: Record, links: Vec<Option<String>>) {
        let Some(Screen::Detail(detail)) = self.stack.last_mut() else {
            return;
        };
        if detail.model != model || detail.key != record.key {
            return;
        }
        detail.fields = record
            .fields
            .iter()
            .map(|(col, value)| {
                let shown = match value {
                    Value::Null => FieldValue::Null,
                    // JSON is shown indented, one member a line.
                    Value::Text(s) if FieldKind::of_column(col) == FieldKind::Json => {
                        let pretty = serde_json::from_str::<serde_json::Value>(s)
                            .ok()
                            .and_then(|v| serde_json::to_string_pretty(&v).ok());
                        FieldValue::Lines(SafeText::multiline(pretty.as_deref().unwrap_or(s)))
                    }
                    Value::Text(s) => FieldValue::Lines(SafeText::multiline(s)),
                    Value::Blob(b) => FieldValue::Lines(vec![SafeText::new(&blob_summary(b))]),
                    other => FieldValue::Lines(vec![SafeText::new(&other.to_string())]),
                };
                (
                    SafeText::new(&col.name),
                    SafeText::new(&col.decl_type),
                    shown,
                )
            })
            .collect();
        detail.links = record
            .fields
            .iter()
            .zip(links.into_iter().chain(std::iter::repeat(None)))
            .map(|((_, value), link)| {
                link.filter(|_| !value.is_null()).map(|l| {
                    // "authors: José García" → the model, and the label kept for drawing.
                    let model = l
                        .split_once(": ")
                        .map_or(l.as_str(), |(m, _)| m)
                        .to_string();
                    (model, value.clone(), SafeText::new(&l))
                })
            })
            .collect();
        detail.link = None;
        detail.loaded = true;
        detail.scroll = 0;
    }
}

/// `from..to`, either side may be empty; whole numbers and numbers are compared as
/// numbers, anything else as text (dates and timestamps sort as text).
fn parse_range(text: &str) -> Option<(Option<Value>, Option<Value>)> {
    let (from, to) = text.trim().split_once("..")?;
    let value = |s: &str| -> Option<Value> {
        let s = s.trim();
        if s.is_empty() {
            None
        } else if let Ok(i) = s.parse::<i64>() {
            Some(Value::Integer(i))
        } else if let Ok(r) = s.parse::<f64>() {
            Some(Value::Real(r))
        } else {
            Some(Value::Text(s.to_string()))
        }
    };
    let (from, to) = (value(from), value(to));
    (from.is_some() || to.is_some()).then_some((from, to))
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

/// `<N bytes> 00 ff …` with the first 32 bytes in hex.
fn blob_summary(b: &[u8]) -> String {
    let mut s = format!("<{} bytes>", b.len());
    for byte in b.iter().take(32) {
        s.push_str(&format!(" {byte:02x}"));
    }
    if b.len() > 32 {
        s.push_str(" …");
    }
    s
}

/// What a screen's key handler asks of the app.
enum Action {
    None,
    Cmds(Vec<Cmd>),
    Push(Box<Screen>, Vec<Cmd>),
    /// Ask first; `y` runs the command.
    Confirm(String, Cmd),
    /// Open a one-line prompt.
    Prompt(PromptFor),
}

fn index_key(s: &mut IndexScreen, k: KeyEvent, page_size: u32) -> Action {
    let n = s.models.len();
    match k.key {
        Key::Down | Key::Char('j') => s.selected = (s.selected + 1).min(n.saturating_sub(1)),
        Key::Up | Key::Char('k') => s.selected = s.selected.saturating_sub(1),
        Key::Home | Key::Char('g') => s.selected = 0,
        Key::End | Key::Char('G') => s.selected = n.saturating_sub(1),
        Key::Enter | Key::Right | Key::Char('l') => {
            if let Some((m, label, count)) = s.models.get(s.selected) {
                let mut list = ListScreen::new(m.name.clone(), label.clone(), *count);
                list.limit = m.page_size.unwrap_or(page_size);
                list.bulk_actions = m.bulk_actions.clone();
                list.default_query = ListQuery {
                    sort: m.ordering.clone(),
                    ..ListQuery::default()
                };
                list.query = list.default_query.clone();
                let cmds = vec![
                    Cmd::LoadPage {
                        model: m.name.clone(),
                        anchor: PageAnchor::First,
                        limit: list.limit,
                        query: list.query.clone(),
                    },
                    list.count_cmd(),
                ];
                return Action::Push(Box::new(Screen::List(Box::new(list))), cmds);
            }
        }
        _ => {}
    }
    Action::None
}

fn list_key(s: &mut ListScreen, k: KeyEvent) -> Action {
    if s.pending.is_some() {
        return Action::None; // a page is on its way; keys would act on stale rows
    }
    let page = isize::try_from(s.visible.max(1)).unwrap_or(1);
    let cmd = match k.key {
        Key::Down | Key::Char('j') => s.move_by(1),
        Key::Up | Key::Char('k') => s.move_by(-1),
        Key::PageDown => s.move_by(page),
        Key::Char('f') if k.mods.ctrl => s.move_by(page),
        Key::PageUp => s.move_by(-page),
        Key::Char('b') if k.mods.ctrl => s.move_by(-page),
        Key::Home | Key::Char('g') if s.has_before => {
            Some(s.request(PageAnchor::First, Land::First))
        }
        Key::Home | Key::Char('g') => {
            s.selected = 0;
            None
        }
        Key::End | Key::Char('G') if s.has_after => Some(s.request(PageAnchor::Last, Land::Last)),
        Key::End | Key::Char('G') => {
            s.selected = s.rows.len().saturating_sub(1);
            None
        }
        Key::Left | Key::Char('h') => {
            s.col_offset = s.col_offset.saturating_sub(1);
            None
        }
        Key::Right | Key::Char('l') => {
            s.col_offset = (s.col_offset + 1).min(s.columns.len().saturating_sub(1));
            None
        }
        Key::Char('n') => {
            return Action::Cmds(vec![Cmd::OpenForm {
                model: s.model.clone(),
                key: None,
            }]);
        }
        Key::Char('f') => {
            let Some(column) = s.column_names.get(s.col_offset).cloned() else {
                return Action::None;
            };
            return Action::Cmds(vec![Cmd::LoadDistinct {
                model: s.model.clone(),
                column,
                query: s.query.clone(),
            }]);
        }
        Key::Char('x') => {
            return Action::Cmds(vec![Cmd::Export {
                model: s.model.clone(),
                query: s.query.clone(),
            }]);
        }
        Key::Char('s') => {
            // Sort by the first column shown (← → choose it); again to reverse.
            let Some(column) = s.column_names.get(s.col_offset).cloned() else {
                return Action::None;
            };
            let descending =
                matches!(&s.query.sort, Some(o) if o.column == column && !o.descending);
            s.query.sort = Some(Sort { column, descending });
            return Action::Cmds(s.requery());
        }
        Key::Char('e') => {
            return match s.rows.get(s.selected) {
                Some(row) => Action::Cmds(vec![Cmd::OpenForm {
                    model: s.model.clone(),
                    key: Some(row.key.clone()),
                }]),
                None => Action::None,
            };
        }
        Key::Char(' ') => {
            if let Some(row) = s.rows.get(s.selected) {
                match s.marked.iter().position(|k| *k == row.key) {
                    Some(i) => {
                        s.marked.remove(i);
                    }
                    None => s.marked.push(row.key.clone()),
                }
            }
            s.move_by(1)
        }
        Key::Char('a') if !s.marked.is_empty() && !s.bulk_actions.is_empty() => {
            return Action::Prompt(PromptFor::Bulk(s.bulk_actions.join(", ")));
        }
        Key::Char('d') if !s.marked.is_empty() => {
            return Action::Confirm(
                format!("Delete the {} marked rows of {}?", s.marked.len(), s.model),
                Cmd::DeleteMany {
                    model: s.model.clone(),
                    keys: s.marked.clone(),
                },
            );
        }
        Key::Char('d') => {
            return match s.rows.get(s.selected) {
                Some(row) => Action::Cmds(vec![Cmd::AskDelete {
                    model: s.model.clone(),
                    key: row.key.clone(),
                }]),
                None => Action::None,
            };
        }
        Key::Enter => {
            if let Some(row) = s.rows.get(s.selected) {
                let detail = DetailScreen::new(s.model.clone(), s.label.clone(), row.key.clone());
                let load = Cmd::LoadRecord {
                    model: s.model.clone(),
                    key: row.key.clone(),
                };
                return Action::Push(Box::new(Screen::Detail(detail)), vec![load]);
            }
            None
        }
        _ => None,
    };
    match cmd {
        Some(c) => Action::Cmds(vec![c]),
        None => Action::None,
    }
}

/// Keys of the audit viewer: move, Enter shows an entry, f filters; moving past the last
/// row loads older entries.
fn audit_key(
    a: &mut AuditScreen,
    k: KeyEvent,
    prompt: &mut Option<(PromptFor, String)>,
    dialog: &mut Option<Vec<SafeText>>,
) -> Action {
    let n = a.rows.len();
    match k.key {
        Key::Down | Key::Char('j') | Key::PageDown => {
            let step = if k.key == Key::PageDown { 10 } else { 1 };
            if a.selected + step >= n && a.more && !a.loading {
                a.loading = true;
                a.selected = (a.selected + step).min(n.saturating_sub(1));
                return Action::Cmds(vec![Cmd::LoadAudit {
                    query: a.query.clone(),
                    before_id: a.rows.last().map(|r| r.0),
                }]);
            }
            a.selected = (a.selected + step).min(n.saturating_sub(1));
        }
        Key::Up | Key::Char('k') => a.selected = a.selected.saturating_sub(1),
        Key::PageUp => a.selected = a.selected.saturating_sub(10),
        Key::Home | Key::Char('g') => a.selected = 0,
        Key::Enter => {
            if let Some((_, _, details)) = a.rows.get(a.selected) {
                *dialog = Some(details.clone());
            }
        }
        Key::Char('f') => *prompt = Some((PromptFor::AuditFilter, a.query.describe())),
        _ => {}
    }
    Action::None
}

/// Open a management panel and load it.
fn open_panel(panel: Panel) -> Action {
    let load = Cmd::Manage(ManageCmd::Load(panel.clone()));
    Action::Push(
        Box::new(Screen::Manage(ManageScreen::new(panel))),
        vec![load],
    )
}

fn detail_key(s: &mut DetailScreen, k: KeyEvent) -> Action {
    if k == KeyEvent::plain(Key::Char('H')) {
        let history = HistoryScreen {
            model: s.model.clone(),
            key: s.key.clone(),
            lines: Vec::new(),
            scroll: 0,
            loaded: false,
        };
        let load = Cmd::LoadHistory {
            model: s.model.clone(),
            key: s.key.clone(),
        };
        return Action::Push(Box::new(Screen::History(history)), vec![load]);
    }
    if matches!(k.key, Key::Tab | Key::BackTab) {
        // Select the next (or previous) foreign key that is set.
        let linked: Vec<usize> = (0..s.links.len())
            .filter(|i| s.links[*i].is_some())
            .collect();
        let at = s.link.and_then(|l| linked.iter().position(|i| *i == l));
        s.link = match (at, k.key == Key::Tab) {
            (None, true) => linked.first().copied(),
            (None, false) => linked.last().copied(),
            (Some(p), true) => linked.get(p + 1).copied(),
            (Some(p), false) => p.checked_sub(1).and_then(|q| linked.get(q).copied()),
        };
        return Action::None;
    }
    if k.key == Key::Enter {
        let Some((model, value, _)) = s.link.and_then(|i| s.links.get(i).cloned().flatten()) else {
            return Action::None;
        };
        let detail = DetailScreen::new(model.clone(), SafeText::new(&model), vec![value.clone()]);
        let load = Cmd::LoadRecord {
            model,
            key: vec![value],
        };
        return Action::Push(Box::new(Screen::Detail(detail)), vec![load]);
    }
    if k == KeyEvent::plain(Key::Char('e')) {
        return Action::Cmds(vec![Cmd::OpenForm {
            model: s.model.clone(),
            key: Some(s.key.clone()),
        }]);
    }
    if k == KeyEvent::plain(Key::Char('d')) {
        return Action::Cmds(vec![Cmd::AskDelete {
            model: s.model.clone(),
            key: s.key.clone(),
        }]);
    }
    if k == KeyEvent::plain(Key::Char('o')) {
        // The object permissions of this row.
        return match pk_text(&s.key) {
            Some(pk) => open_panel(Panel::Row {
                model: s.model.clone(),
                pk,
            }),
            None => Action::None,
        };
    }
    scroll_detail(s, k);
    Action::None
}

fn scroll_detail(s: &mut DetailScreen, k: KeyEvent) {
    let max = s.total_lines.saturating_sub(s.visible);
    let page = s.visible.max(1);
    s.scroll = match k.key {
        Key::Down | Key::Char('j') => s.scroll.saturating_add(1),
        Key::Up | Key::Char('k') => s.scroll.saturating_sub(1),
        Key::PageDown | Key::Char(' ') => s.scroll.saturating_add(page),
        Key::PageUp => s.scroll.saturating_sub(page),
        Key::Home | Key::Char('g') => 0,
        Key::End | Key::Char('G') => max,
        _ => s.scroll,
    }
    .min(max);
}

impl ListScreen {
    pub fn new(model: String, label: SafeText, count: Option<RowCount>) -> ListScreen {
        ListScreen {
            model,
            label,
            columns: Vec::new(),
            rows: Vec::new(),
            has_before: false,
            has_after: false,
            selected: 0,
            offset: 0,
            col_offset: 0,
            count,
            start: None,
            pending: Some((PageAnchor::First, Land::First)),
            visible: 10,
            query: ListQuery::default(),
            column_names: Vec::new(),
            marked: Vec::new(),
            picking: false,
            limit: 100,
            default_query: ListQuery::default(),
            bulk_actions: Vec::new(),
            search_path: SearchPath::Scan,
        }
    }

    /// Ask for the page at `anchor`; the cursor lands at `land` when it arrives.
    pub fn request(&mut self, anchor: PageAnchor, land: Land) -> Cmd {
        let limit = self.limit;
        self.pending = Some((anchor.clone(), land));
        Cmd::LoadPage {
            model: self.model.clone(),
            anchor,
            limit,
            query: self.query.clone(),
        }
    }

    /// Count the rows of this list (as searched).
    pub fn count_cmd(&self) -> Cmd {
        Cmd::Count {
            model: self.model.clone(),
            query: self.query.clone(),
        }
    }

    /// Search or sort changed: start over from the first row.
    fn requery(&mut self) -> Vec<Cmd> {
        self.count = None;
        self.start = Some(0);
        self.rows.clear();
        self.selected = 0;
        self.offset = 0;
        vec![
            self.request(PageAnchor::First, Land::First),
            self.count_cmd(),
        ]
    }

    /// Move the cursor by `delta` rows, fetching the neighbouring page when it leaves
    /// this one.
    fn move_by(&mut self, delta: isize) -> Option<Cmd> {
        let len = self.rows.len();
        let target = isize::try_from(self.selected)
            .unwrap_or(0)
            .saturating_add(delta);
        if target < 0 {
            if let (true, Some(first)) = (self.has_before, self.rows.first()) {
                let anchor = PageAnchor::Before(first.cursor.clone());
                return Some(self.request(anchor, Land::FromEnd(target.unsigned_abs())));
            }
            self.selected = 0;
        } else if target.unsigned_abs() >= len {
            if let (true, Some(last)) = (self.has_after, self.rows.last()) {
                let anchor = PageAnchor::After(last.cursor.clone());
                return Some(self.request(anchor, Land::At(target.unsigned_abs() - len)));
            }
            self.selected = len.saturating_sub(1);
        } else {
            self.selected = target.unsigned_abs();
        }
        None
    }
}

impl DetailScreen {
    pub fn new(model: String, label: SafeText, key: Vec<Value>) -> DetailScreen {
        DetailScreen {
            model,
            label,
            key,
            fields: Vec::new(),
            scroll: 0,
            visible: 1,
            total_lines: 0,
            loaded: false,
            links: Vec::new(),
            link: None,
        }
    }
}
