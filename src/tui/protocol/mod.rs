//! What the console and the session say to each other: [`Cmd`]s out of the console,
//! [`Msg`]s into it, and their payloads as typed data.
//!
//! The session is the security boundary: it checks every `Cmd` and sends data already
//! filtered and masked for the user (hidden columns left out, masked values replaced,
//! values of rows the user may not view withheld). How that data is laid out on screen —
//! widths, wording, colours — is the screens' business alone. This module (with
//! [`App`](super::App), the input decoder and the backend the session loop drives) is all
//! the session knows of the console.

use crate::domain::{
    Capabilities, ColumnInfo, ColumnKind, Filter, ListQuery, Page, PageAnchor, Record, Reference,
    RowCount, Sort, Value,
};

mod manage;
pub use manage::*;

/// The `:` commands, as a mistyped one is answered.
pub const COMMANDS: &str =
    ":MODEL [KEY], :users, :groups, :sessions, :keys, :exports, :audit, :password, :backup-codes, :reload, :q";

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
    /// What the user may do on every row of the model (object permissions may allow more
    /// on some rows: those come with the rows).
    pub caps: Capabilities,
}

/// Rows of another model that refer to a record: `model`'s rows whose `column` holds the
/// record's key (`value`). Django admin's inlines, as a count and a link.
#[derive(Clone, Debug, PartialEq)]
pub struct Related {
    pub model: String,
    /// What the console calls the model.
    pub label: String,
    pub column: String,
    pub value: Value,
    /// How many of those rows the user may see, counted up to [`RELATED_COUNT_LIMIT`].
    pub count: RowCount,
}

/// The display values of the rows a foreign-key column of a page refers to
/// (`authors.name` for `posts.author_id`), one per row of the page: `None` where the value
/// is NULL or names no row the viewer may see.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkNames {
    /// The column, by its index in the page.
    pub column: usize,
    pub names: Vec<Option<String>>,
}

/// Related rows are counted exactly up to this many (`1,000+` beyond): a hot row must not
/// cost a long count each time it is opened.
pub const RELATED_COUNT_LIMIT: u64 = 1_000;

/// Something that happened: input from the user, or the answer to a [`Cmd`].
#[derive(Clone, Debug, PartialEq)]
pub enum Msg {
    Input(crate::tui::input::Input),
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
        page: Box<Page>,
        /// What the user may do on every row of the model, as of this page.
        caps: Capabilities,
        /// Per row of `page`, when object permissions make rows differ (`None`: `caps`
        /// holds for every row).
        row_caps: Option<Vec<Capabilities>>,
        /// The columns of `page` that identify a row: they stay in view when the others
        /// scroll sideways.
        key_columns: Vec<String>,
        /// The kind of each column of `page` (yes/no columns read as yes and no).
        kinds: Vec<ColumnKind>,
        /// The names of the rows the page's foreign keys point at, where the viewer may
        /// see them: the list shows those instead of the keys.
        links: Vec<LinkNames>,
    },
    Record {
        model: String,
        record: Record,
        /// Per field: the model it refers to and that row's display value, when it is a
        /// foreign key the viewer may follow (`"authors: José García"`).
        links: Vec<Option<String>>,
        /// What the user may do on this row.
        caps: Capabilities,
        /// The models whose foreign keys point at this row, that the user may list, with
        /// how many of their rows (that the user may see) do.
        related: Vec<Related>,
    },
    /// A command failed; the text is shown on the status line.
    Failed(String),
    /// Something the user should know (not an error); shown on the status line.
    Notice(String),
    /// Something the user must act on soon (the idle warning); shown as an error until the
    /// next key.
    Warning(String),
    /// An answer to a management command.
    Manage(ManageMsg),
    /// May these rows be deleted? What they are called (their display value, where the
    /// user may see it) and what refers to them, for the confirmation.
    DeleteAsk {
        model: String,
        keys: Vec<Vec<Value>>,
        labels: Vec<Option<String>>,
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
    /// Marking every matching row, and the columns to set on marked rows.
    BulkEdit(BulkMsg),
    /// A bulk action changed `count` marked rows.
    BulkDone {
        model: String,
        action: String,
        count: usize,
    },
    /// A column's most common values, with counts, for the filter picker; the column's
    /// kind says how values read (yes/no) and whether it takes a from..to range.
    Distinct {
        model: String,
        column: String,
        kind: ColumnKind,
        values: Vec<(Value, u64)>,
    },
    /// An export is under way: rows written so far, of about `total`.
    ExportProgress {
        rows: u64,
        total: Option<RowCount>,
    },
    /// An export finished: the file as SFTP shows it (`exports/NAME`), how many rows,
    /// and the port to fetch it on.
    Exported {
        path: String,
        rows: u64,
        /// The columns written, in order (every column the user is shown).
        columns: Vec<String>,
        port: u16,
    },
    /// The user's own exports (`:exports`).
    Exports(ExportList),
    /// A page of the audit viewer.
    Audit(Box<AuditPage>),
    /// A row's audit trail, newest first.
    History {
        model: String,
        key: Vec<Value>,
        entries: Vec<AuditRow>,
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
    /// The database's tables were read again (`:reload`): this many models now.
    SchemaReloaded {
        tables: usize,
    },
    /// The refresh timer (`[console] refresh_secs`): refresh the screen shown.
    Tick,
    /// Answer to [`Cmd::AskUndo`]: what reverting or restoring an audit entry would
    /// write, for the confirmation.
    UndoAsk(Box<UndoPlan>),
    /// An audit entry was reverted or restored ([`Cmd::Undo`]).
    Undone {
        entry: i64,
        kind: UndoKind,
        model: String,
        key: Vec<Value>,
    },
    /// A revert refused because the row changed since the entry: per column (column,
    /// what the entry left, what the revert would write, what the row holds now).
    UndoConflict {
        entry: i64,
        model: String,
        key: Vec<Value>,
        fields: Vec<(String, Value, Value, Value)>,
    },
    /// Answer to [`Cmd::Open`]: the model, and the row's key if one was asked for.
    Open {
        model: Box<ModelSummary>,
        key: Option<Vec<Value>>,
    },
    /// Answer to [`Cmd::Now`]: the time, in unix seconds (the console has no clock of its
    /// own: time is passed in).
    Now(i64),
    /// Answer to [`Cmd::OpenRelated`]: the model, to list with `filter` on.
    OpenRelated {
        model: Box<ModelSummary>,
        filter: Filter,
    },
    /// Answer to [`Cmd::LoadColumns`]: every column of `model` the user is shown, in the
    /// table's order; those the list shows now, in its order; and the model's default.
    Columns {
        model: String,
        all: Vec<String>,
        chosen: Vec<String>,
        default: Vec<String>,
    },
    /// The list's columns were chosen (or reset): the list reads its page again.
    ColumnsSet {
        model: String,
    },
    /// Answer to [`Cmd::Locate`]: row `key` of `model`'s list sits at `cursor`.
    Located {
        model: String,
        key: Vec<Value>,
        cursor: Vec<Value>,
    },
    /// A recorded session to replay (answer to [`Cmd::Replay`]).
    Replay(Box<Replay>),
    /// The replay clock: milliseconds since the session started, sent while the screen
    /// on top asks for it ([`Screen::clock_every`](super::screen::Screen::clock_every)).
    Clock {
        now_ms: u64,
    },
}

/// Something the console wants done.
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
    /// Ask to delete the marked rows: the answer says what refers to them.
    AskDeleteMany {
        model: String,
        keys: Vec<Vec<Value>>,
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
    /// Mark every matching row; set one field on the marked rows (all or none).
    BulkEdit(BulkCmd),
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
    /// Read the database's tables again (superusers): new tables appear, dropped ones go.
    ReloadSchema,
    /// `:MODEL [KEY]`: open a model's list (a model name or label), or one of its rows by
    /// key (as typed: `42`, or `5,3` for a key of two columns).
    Open {
        model: String,
        key: Option<String>,
    },
    /// What time it is (a form's Ctrl-T puts it in a date, time or timestamp field).
    Now,
    /// The column chooser of `model`'s list: which columns there are, which are shown.
    LoadColumns {
        model: String,
    },
    /// Show these columns of `model`'s list, in this order, from now on (`None`: the
    /// model's default again).
    SetColumns {
        model: String,
        columns: Option<Vec<String>>,
    },
    /// `#KEY` in a list: where the row with this key (as typed) sits in the list as
    /// queried, to page there.
    Locate {
        model: String,
        key: String,
        query: ListQuery,
    },
    /// A record's related rows: list `model` filtered to the rows whose `column` holds
    /// `value` (the record's key).
    OpenRelated {
        model: String,
        column: String,
        value: Value,
    },
    /// Replay the recording of ended session `session` (`moat.view_recordings`).
    Replay {
        session: String,
    },
    /// What reverting (a change) or restoring (a delete) audit entry `entry` would write;
    /// answered with [`Msg::UndoAsk`].
    AskUndo {
        entry: i64,
    },
    /// Revert or restore audit entry `entry` (checked again, conflict-checked, step-up).
    Undo {
        entry: i64,
    },
    /// The user's own exports (`:exports`).
    LoadExports,
    /// Delete one of the user's own exports, by its name.
    DeleteExport {
        name: String,
    },
    Quit,
}

/// Bulk edit requests; each is checked by the session.
#[derive(Clone, Debug, PartialEq)]
pub enum BulkCmd {
    /// How many rows of `model` the list as queried has (as the user may see them), to
    /// mark them all: answered with [`BulkMsg::Matching`], or refused over
    /// `[limits] bulk_max_rows`.
    CountMatching { model: String, query: ListQuery },
    /// The keys of every row of `model` the list as queried has (as the user may see
    /// them): answered with [`BulkMsg::Marked`], or refused over the bound.
    MarkAll { model: String, query: ListQuery },
    /// The columns of `model` the user may set on marked rows ([`BulkMsg::Columns`]).
    Columns { model: String },
    /// Set `column` to `value` on rows `keys`: all or none, one audit row each
    /// (answered with [`Msg::BulkDone`]).
    Set {
        model: String,
        column: String,
        value: Value,
        keys: Vec<Vec<Value>>,
    },
}

/// Answers to [`BulkCmd`]s.
#[derive(Clone, Debug, PartialEq)]
pub enum BulkMsg {
    /// `count` rows match `query` (no more than the bound).
    Matching {
        model: String,
        query: ListQuery,
        count: u64,
    },
    /// The keys of the rows matching `query`, to mark.
    Marked {
        model: String,
        query: ListQuery,
        keys: Vec<Vec<Value>>,
    },
    /// The columns the user may set on marked rows, each with the model a foreign key
    /// refers to (for the picker).
    Columns {
        model: String,
        columns: Vec<(ColumnInfo, Option<String>)>,
    },
}

/// The user's own exports, as `:exports` shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportList {
    /// Who they belong to (for the `sftp -P PORT USER@HOST` hint).
    pub user: String,
    /// The port SFTP is served on.
    pub port: u16,
    /// Hours an export is kept.
    pub ttl_hours: u64,
    /// Unix seconds when the list was read (for "expires in").
    pub now: i64,
    /// Newest first.
    pub entries: Vec<ExportEntry>,
}

/// One export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportEntry {
    /// The file's name in `exports/`.
    pub name: String,
    pub size: u64,
    /// Unix seconds.
    pub created: i64,
    pub expires: i64,
}

/// A secret typed by the user or shown to them once; its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(pub String);

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret(s.to_string())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({} chars)", self.0.chars().count())
    }
}

/// Where a user being set up is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setup {
    /// No TOTP device yet: enrol one.
    Enrol,
    /// Enrolled; the password is still one-time.
    ChangePassword,
}

// ---------------------------------------------------------------------------------------
// Replaying a recorded session.

/// A recorded session, as the replay screen needs it: every event (output already
/// filtered to moat's own escape sequences) and the session's audit rows as markers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replay {
    pub session_id: String,
    pub user: String,
    /// The terminal's size when the recording started.
    pub width: u16,
    pub height: u16,
    pub events: Vec<crate::recording::Event>,
    pub markers: Vec<ReplayMarker>,
    /// Its file is checked against its seal in the audit chain (`false`: not sealed yet).
    pub sealed: bool,
    /// The file ended mid-flush (its server died): the events are those before.
    pub truncated: bool,
    /// The recording is longer than the server holds for a replay: the events stop here.
    pub cut: Option<crate::recording::Cut>,
}

/// An audit row of the recorded session, at the moment it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayMarker {
    /// Microseconds since the recording started.
    pub at_us: u64,
    pub entry: i64,
    pub action: String,
    pub model: Option<String>,
    pub pk: Option<String>,
    pub outcome: String,
}

// ---------------------------------------------------------------------------------------
// The audit trail.

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

    /// The query as the words [`AuditQuery::parse`] reads.
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

/// A page of the audit viewer, newest first.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditPage {
    pub query: AuditQuery,
    pub rows: Vec<AuditRow>,
    /// Older entries exist beyond this page.
    pub more: bool,
    /// Older entries to add below the ones shown (not a fresh list).
    pub appended: bool,
}

/// One audit entry, as the viewer may see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRow {
    pub id: i64,
    pub at_ms: i64,
    pub actor: Option<String>,
    pub source_ip: Option<String>,
    pub session_id: Option<String>,
    pub action: String,
    pub model: Option<String>,
    pub pk: Option<String>,
    pub outcome: String,
    pub reason: Option<String>,
    pub values: AuditValues,
    /// The entry's hash in the chain (hex).
    pub hash: String,
    /// What the viewer may do with the entry (`u`): revert it, restore its row, or
    /// nothing (`None`: not offered).
    pub undo: Option<UndoKind>,
}

/// What `u` does with an audit entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UndoKind {
    /// Write a change's before values back (the columns it changed).
    Revert,
    /// Insert a deleted row again, with its key and the values it had.
    Restore,
}

impl UndoKind {
    /// `revert` or `restore`: the verb on screen and the audit action.
    pub fn verb(self) -> &'static str {
        match self {
            UndoKind::Revert => "revert",
            UndoKind::Restore => "restore",
        }
    }

    /// `reverted` or `restored`.
    pub fn done(self) -> &'static str {
        match self {
            UndoKind::Revert => "reverted",
            UndoKind::Restore => "restored",
        }
    }
}

/// What reverting or restoring an entry would do, for the confirmation.
#[derive(Clone, Debug, PartialEq)]
pub struct UndoPlan {
    pub entry: i64,
    pub kind: UndoKind,
    pub model: String,
    pub key: Vec<Value>,
    /// The columns that will be written and their values (a masked value is never here:
    /// a revert or restore that would write one is refused).
    pub values: Vec<(String, Value)>,
    /// Revert: for each column written, the value the row must still hold (the entry's
    /// after value), or the revert is refused as a conflict.
    pub expected: Vec<(String, Value)>,
    /// How many columns the entry changed that are hidden from the viewer (left as they
    /// are).
    pub hidden_left: usize,
}

/// The before/after values of an audit entry, as far as the viewer may see them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuditValues {
    /// The entry holds none.
    None,
    /// Column by column, as the viewer sees the row today: hidden columns left out,
    /// masked ones masked.
    Changes(Vec<Change>),
    /// The recorded JSON as it is (`moat.view_audit_values`, or a superuser).
    Raw {
        before: Option<String>,
        after: Option<String>,
    },
    /// The entry holds values the viewer may not see.
    Withheld,
}

/// One column of an audit entry. A side is `None` when the entry has no values on that
/// side (a create has no before, a delete no after).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub column: String,
    pub before: Option<AuditValue>,
    pub after: Option<AuditValue>,
}

/// A value recorded in the audit trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuditValue {
    Null,
    /// The column is masked for the viewer.
    Masked,
    Text(String),
    /// A number, boolean or structure, as JSON.
    Other(String),
}
