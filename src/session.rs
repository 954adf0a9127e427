//! One logged-in connection's loop: terminal bytes → keys → `App`; the app's commands are
//! checked against the permission engine, run against the store, and answered with
//! messages; each state change is drawn and only the changed cells are sent.
//!
//! The session knows nothing of SSH: it reads [`Event`]s from a channel and writes frames
//! into a bounded queue. The `ssh` room adapts a russh channel to those.

mod account;
mod export;
pub mod live;
mod manage;

use std::sync::Arc;
use std::time::Duration;

use ratatui::Terminal;
use tokio::sync::{mpsc, watch};

use std::collections::HashSet;

use std::collections::BTreeMap;

use crate::auth::password::Hasher;
use crate::auth::{AuthService, Identity, Onboarding};
use crate::config::{AccountsConfig, ModelConfig, SessionConfig};
use crate::domain::{
    pk_text, Grants, ListQuery, Listing, RowFilter, Schema, Sort, TableInfo, Value,
};
use crate::perm::moat_perms;
use crate::perm::{self, Action, Decision, Visibility};
use crate::store::{AuditEntry, AuditFilter, SaveOutcome, Store, StoreError};
use crate::tui::account::Setup;
use crate::tui::app::ModelSummary;
use crate::tui::app::Status;
use crate::tui::app::{AuditPage, AuditQuery};
use crate::tui::backend::AnsiBackend;
use crate::tui::form::FieldKind;
use crate::tui::input::Decoder;
use crate::tui::sanitize::SafeText;
use crate::tui::{view, App, Cmd, Msg};

/// How long the last frame of a session may wait for room in the queue.
const FINISH_WAIT: Duration = Duration::from_secs(3);
/// How long a lone ESC waits for the rest of an escape sequence.
const ESC_TIMEOUT: Duration = Duration::from_millis(25);
/// Terminal size used when the client asks for a 0×0 pty (OpenSSH without a local tty).
pub const DEFAULT_SIZE: (u16, u16) = (80, 24);

/// What the transport tells the session.
#[derive(Debug)]
pub enum Event {
    /// Bytes typed (or pasted) by the user.
    Input(Vec<u8>),
    /// The client's window changed size.
    Resize { cols: u32, rows: u32 },
    /// The client closed the channel or sent EOF.
    Closed,
}

/// A callback that sees every chunk of client input (see [`Context::input_tap`]).
pub type InputTap = Arc<dyn Fn(&[u8]) + Send + Sync>;

/// Shared by every session of a server.
pub struct Context {
    pub store: Store,
    pub schema: Arc<Schema>,
    pub page_size: u32,
    pub max_size: (u16, u16),
    /// Column rules and custom verbs by model (`[models.*]` in config).
    pub rules: BTreeMap<String, ModelConfig>,
    /// Hashes the passwords of accounts created from the console.
    pub hasher: Arc<Hasher>,
    /// Where console exports are written.
    pub export_dir: std::path::PathBuf,
    /// Enrolment, password changes and step-up.
    pub auth: AuthService,
    /// One-time passwords and the step-up window.
    pub accounts: AccountsConfig,
    /// Idle and maximum session time.
    pub timeouts: SessionConfig,
    /// This instance's live sessions (to end them at once).
    pub live: Arc<live::Registry>,
    /// Called with every chunk of client input before it is decoded. Instrumentation for
    /// tests and benchmarks (e.g. proving that a panic stays inside one session); `None`
    /// in production.
    pub input_tap: Option<InputTap>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("tables", &self.schema.tables.len())
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

/// The terminal the client asked for.
#[derive(Clone, Debug)]
pub struct TermInfo {
    pub term: String,
    pub cols: u32,
    pub rows: u32,
}

/// Why a session ended other than by the user quitting.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Context {
    /// Clamp a client-reported size: 0×0 means "unknown", anything larger than the
    /// configured maximum is cut (bounds the memory of the two cell buffers).
    pub fn clamp_size(&self, cols: u32, rows: u32) -> (u16, u16) {
        if cols == 0 || rows == 0 {
            return DEFAULT_SIZE;
        }
        let c = u16::try_from(cols)
            .unwrap_or(u16::MAX)
            .clamp(10, self.max_size.0);
        let r = u16::try_from(rows)
            .unwrap_or(u16::MAX)
            .clamp(3, self.max_size.1);
        (c, r)
    }

    /// Who is acting in a session.
    pub fn actor(&self, who: &Identity, source_ip: &str) -> Actor {
        let mut id = [0u8; 8];
        rand::Rng::fill(&mut rand::thread_rng(), &mut id);
        Actor {
            user_id: who.user_id,
            username: who.username.clone(),
            source_ip: source_ip.to_string(),
            source_key: source_ip.to_string(),
            session_id: id.iter().map(|b| format!("{b:02x}")).collect(),
            background: None,
            // Logging in just proved both factors (or, during set-up, the password).
            guard: account::Guard::new(who.onboarding, now_ms()),
        }
    }

    /// Both factors passed for `who` from `source_ip` (counted as `source_key`): the
    /// session starts now. It is
    /// registered on this instance and in the database (so `moat sessions`, `:sessions`
    /// and other instances see it and can end it), and its clock — step-up freshness,
    /// `max_session_secs` — runs from here, whether or not a console is ever opened.
    pub fn authenticated(&self, who: Identity, source_ip: &str, source_key: &str) -> Authenticated {
        let mut actor = self.actor(&who, source_ip);
        actor.source_key = source_key.to_string();
        let live = self.register(&actor);
        let (shell, _) = watch::channel(false);
        let (done, done_rx) = tokio::sync::oneshot::channel();
        Authenticated {
            who,
            actor,
            live,
            at: tokio::time::Instant::now(),
            shell,
            done: Some(done),
            done_rx: Some(done_rx),
        }
    }

    /// Run one session's console until the user quits or the client goes away. The
    /// session must still be valid: one ended between authentication and now (on any
    /// instance) gets its reason, never a console.
    pub async fn run(
        &self,
        login: Authenticated,
        term: TermInfo,
        mut events: mpsc::Receiver<Event>,
        out: mpsc::Sender<Vec<u8>>,
    ) -> Result<(), SessionError> {
        let Authenticated {
            who,
            mut actor,
            mut live,
            at: started,
            shell,
            ..
        } = login;
        shell.send_replace(true);
        let (cols, rows) = self.clamp_size(term.cols, term.rows);
        let color = crate::tui::term_has_color(&term.term);
        // Work that outlives a command (an export) reports back through this channel.
        let (background, mut background_rx) = mpsc::channel::<Msg>(16);
        actor.background = Some(background);
        let mut end = live.handle.end.clone();
        if let Some(reason) = self.ended_before_console(&mut live).await {
            let frames = Frames::new(out);
            return self
                .close(&actor, frames, &format!("session ended: {reason}"))
                .await;
        }
        let (mut app, cmds) = match who.onboarding {
            Onboarding::Done => App::new(&who.username, self.page_size, (cols, rows)),
            Onboarding::Enrol => {
                App::for_setup(&who.username, self.page_size, (cols, rows), Setup::Enrol)
            }
            Onboarding::ChangePassword => App::for_setup(
                &who.username,
                self.page_size,
                (cols, rows),
                Setup::ChangePassword,
            ),
        };
        if let Some(left) = who.backup_codes_left {
            app.update(Msg::Notice(format!(
                "Signed in with a backup code: {left} left. Generate new ones before you run out."
            )));
        }
        let mut terminal = Terminal::new(AnsiBackend::new(cols, rows, color))?;
        let mut decoder = Decoder::new();
        let mut frames = Frames::new(out);
        frames.push(AnsiBackend::ENTER.to_vec());
        self.apply(&mut app, &actor, cmds).await;

        // Idle time from the user's input only (our own redraws do not count); the
        // maximum from authentication.
        let mut last_input = tokio::time::Instant::now();
        let mut warned = false;
        while !app.quit {
            frames.draw(&mut terminal, &mut app)?;
            let (at, timer) = live::next_timer(
                &self.timeouts,
                0.0,
                last_input.duration_since(started).as_secs_f64(),
                warned,
            );
            let deadline = started + Duration::from_secs_f64(at.max(0.0));
            let event = tokio::select! {
                e = events.recv() => e.unwrap_or(Event::Closed),
                _ = tokio::time::sleep_until(deadline) => {
                    let reason = match timer {
                        live::Timer::Warn => {
                            warned = true;
                            let text = format!(
                                "No input for a while: this session closes in {} s. Press any key to stay.",
                                self.timeouts.idle_warning_secs
                            );
                            app.status = Some(Status::Error(SafeText::new(&text)));
                            continue;
                        }
                        live::Timer::Idle => "idle timeout: session closed".to_string(),
                        live::Timer::Max => "maximum session time reached: session closed".to_string(),
                    };
                    return self.close(&actor, frames, &reason).await;
                }
                changed = end.changed() => {
                    let reason = match changed {
                        Ok(()) => end.borrow().clone().unwrap_or_default(),
                        Err(_) => String::new(),
                    };
                    return self.close(&actor, frames, &format!("session ended: {reason}")).await;
                }
                _ = tokio::time::sleep(ESC_TIMEOUT), if decoder.has_pending() => {
                    for input in decoder.flush() {
                        let cmds = app.update(Msg::Input(input));
                        self.apply(&mut app, &actor, cmds).await;
                    }
                    continue;
                }
                _ = frames.retry_tick(), if frames.needs_retry() => continue,
                Some(msg) = background_rx.recv() => {
                    let cmds = app.update(msg);
                    self.apply(&mut app, &actor, cmds).await;
                    continue;
                }
            };
            match event {
                Event::Input(bytes) => {
                    if let Some(tap) = &self.input_tap {
                        tap(&bytes);
                    }
                    last_input = tokio::time::Instant::now();
                    live.handle
                        .last_input
                        .store(now_ms() / 1000, std::sync::atomic::Ordering::Relaxed);
                    if std::mem::take(&mut warned) {
                        app.status = None;
                    }
                    for input in decoder.feed(&bytes) {
                        let cmds = app.update(Msg::Input(input));
                        self.apply(&mut app, &actor, cmds).await;
                        if app.quit {
                            break;
                        }
                    }
                }
                Event::Resize { cols, rows } => {
                    let (cols, rows) = self.clamp_size(cols, rows);
                    terminal.backend_mut().set_size(cols, rows);
                    app.update(Msg::Resize { cols, rows });
                }
                Event::Closed => return Ok(()),
            }
        }
        frames.finish(AnsiBackend::LEAVE).await;
        Ok(())
    }

    /// Put a starting session in the live registries (this instance's, and the
    /// database's so the CLI and other instances see it). Leaves both when dropped.
    /// The database row is written off the login's path (it cost 1.4 ms of the first
    /// frame); ending the session waits for it, so the row is never left looking live.
    fn register(&self, actor: &Actor) -> LiveGuard {
        let now_ms = now_ms();
        let handle = self
            .live
            .register(&actor.session_id, actor.user_id, now_ms.div_euclid(1000));
        let store = self.store.clone();
        let (id, user_id) = (actor.session_id.clone(), actor.user_id);
        let (username, source_ip) = (actor.username.clone(), actor.source_ip.clone());
        let registry = Arc::clone(&self.live);
        let recorded = tokio::spawn(async move {
            let row = crate::store::LiveSession {
                id: &id,
                user_id,
                username: &username,
                source_ip: &source_ip,
                now: now_ms.div_euclid(1000),
                now_ms,
            };
            if let Err(e) = store.session_started(&row).await {
                // A session nobody can see or end from outside does not run.
                tracing::error!(error = %e, "could not record a live session; ending it");
                registry.end(&id, "the session could not be registered; try again");
            }
        });
        LiveGuard {
            handle,
            registry: Arc::clone(&self.live),
            store: self.store.clone(),
            recorded: Some(recorded),
        }
    }

    /// Why a session that is about to open its console must not: it was ended since
    /// authentication (asked here, or in the database by the CLI, another instance, a
    /// disable or a 2FA reset), or it cannot be checked. Waits for the session's row.
    async fn ended_before_console(&self, live: &mut LiveGuard) -> Option<String> {
        if let Some(reason) = live.handle.end.borrow().clone() {
            return Some(reason);
        }
        if let Some(recorded) = live.recorded.take() {
            let _ = recorded.await;
        }
        if let Some(reason) = live.handle.end.borrow().clone() {
            return Some(reason);
        }
        match self
            .store
            .sessions_to_end(std::slice::from_ref(&live.handle.id))
            .await
        {
            Ok(asked) => asked.into_iter().next().map(|(_, reason)| {
                if reason.is_empty() {
                    "ended by an administrator".to_string()
                } else {
                    reason
                }
            }),
            Err(e) => {
                tracing::error!(error = %e, "could not check a session before its console");
                Some("the session could not be checked; try again".into())
            }
        }
    }

    /// End the session with `reason` shown on the client's terminal.
    async fn close(
        &self,
        actor: &Actor,
        mut frames: Frames,
        reason: &str,
    ) -> Result<(), SessionError> {
        tracing::info!(user = %actor.username, session = %actor.session_id, reason, "session closed by the server");
        let mut bye = AnsiBackend::LEAVE.to_vec();
        bye.extend_from_slice(format!("moat: {}\r\n", SafeText::new(reason)).as_bytes());
        frames.finish(&bye).await;
        Ok(())
    }

    /// Run commands (and the commands their answers produce) until none are left.
    async fn apply(&self, app: &mut App, actor: &Actor, mut cmds: Vec<Cmd>) {
        while !cmds.is_empty() {
            let mut next = Vec::new();
            for cmd in cmds {
                if let Some(msg) = self.execute(actor, cmd).await {
                    next.extend(app.update(msg));
                }
            }
            cmds = next;
        }
    }

    /// Check and run one command: the boundary every action crosses, whatever the UI
    /// showed. Every store call is preceded by a permission check; every denial is
    /// audited.
    pub async fn execute(&self, actor: &Actor, cmd: Cmd) -> Option<Msg> {
        match self.account_gate(actor, cmd).await {
            Ok(cmd) => self.execute_gated(actor, cmd).await,
            Err(answer) => Some(answer),
        }
    }

    /// [`Context::execute`] after the account rules passed (or, for a command held for
    /// step-up, after the fresh code was accepted).
    async fn execute_gated(&self, actor: &Actor, cmd: Cmd) -> Option<Msg> {
        // Grants are read afresh for every command, so a revocation takes effect at once.
        let fresh = match self.store.grants(actor.user_id).await {
            Ok(g) => g,
            Err(e) => return Some(Msg::Failed(describe(&e))),
        };
        let g = &fresh;
        let result = match cmd {
            Cmd::Quit => return None,
            account @ (Cmd::BeginEnrolment
            | Cmd::ConfirmEnrolment { .. }
            | Cmd::ChangePassword { .. }
            | Cmd::StepUp { .. }
            | Cmd::StepUpCancel
            | Cmd::BackupCodes
            | Cmd::SaveBackupCodes
            | Cmd::DropBackupCodes) => return Some(self.account(actor, account).await),
            Cmd::Manage(m) => return Some(self.manage(actor, g, m).await),
            Cmd::LoadModels => {
                let models = self
                    .schema
                    .tables
                    .iter()
                    .filter(|t| perm::model_listed(g, &t.name))
                    .map(|t| {
                        let rules = self.rules.get(&t.name);
                        ModelSummary {
                            name: t.name.clone(),
                            label: rules
                                .and_then(|r| r.label.clone())
                                .unwrap_or_else(|| t.name.clone()),
                            columns: t.columns.len(),
                            ordering: rules.and_then(|r| r.ordering.as_deref()).map(|o| Sort {
                                column: o.trim_start_matches('-').to_string(),
                                descending: o.starts_with('-'),
                            }),
                            page_size: rules.and_then(|r| r.page_size),
                            bulk_actions: rules
                                .map(|r| r.bulk.iter().map(|a| a.name.clone()).collect())
                                .unwrap_or_default(),
                        }
                    })
                    .collect();
                return Some(Msg::Models(models));
            }
            Cmd::Count { model, query } => match self.listable(actor, g, &model, &query).await {
                Ok((t, listing)) => self
                    .store
                    .count_rows(&t.table, &listing)
                    .await
                    .map(|count| Msg::Counted {
                        model,
                        query,
                        count,
                    }),
                Err(denied) => return Some(denied),
            },
            Cmd::LoadPage {
                model,
                anchor,
                limit,
                query,
            } => match self.listable(actor, g, &model, &query).await {
                Ok((t, listing)) => self
                    .store
                    .page(&t.table, &anchor, limit, &listing)
                    .await
                    .map(|mut page| {
                        for row in &mut page.rows {
                            t.mask(&mut row.values);
                        }
                        Msg::Page {
                            model,
                            anchor,
                            page,
                        }
                    }),
                Err(denied) => return Some(denied),
            },
            Cmd::AskDelete { model, key } => {
                let checked = self
                    .row_allowed(actor, g, &Action::Delete, &model, &key)
                    .await;
                match checked.and_then(|_| self.full_table(&model)) {
                    Ok(t) => match self.delete_reach(actor, g, t, &key).await {
                        Ok(references) => Ok(Msg::DeleteAsk {
                            model,
                            key,
                            references,
                        }),
                        Err(refused) => return Some(refused),
                    },
                    Err(refused) => return Some(refused),
                }
            }
            Cmd::Delete { model, key } => {
                let checked = self
                    .row_allowed(actor, g, &Action::Delete, &model, &key)
                    .await;
                match checked.and_then(|_| self.full_table(&model)) {
                    Ok(t) => {
                        if let Err(refused) = self.delete_reach(actor, g, t, &key).await {
                            return Some(refused);
                        }
                        let audit = AuditEntry {
                            pk: pk_text(&key),
                            ..actor.audit("delete", &model)
                        };
                        self.store
                            .delete_record(&self.schema, t, &key, audit)
                            .await
                            .map(|()| Msg::Deleted { model, key })
                    }
                    Err(refused) => return Some(refused),
                }
            }
            Cmd::OpenForm { model, key } => match self.open_form(actor, g, model, key).await {
                Ok(msg) | Err(msg) => return Some(msg),
            },
            Cmd::Save {
                model,
                key,
                original,
                values,
                overwrite,
            } => {
                let save = SaveRequest {
                    model,
                    key,
                    original,
                    values,
                    overwrite,
                };
                match self.save(actor, g, save).await {
                    Ok(msg) | Err(msg) => return Some(msg),
                }
            }
            Cmd::DeleteMany { model, keys } => {
                // Every row is checked before any is deleted; then all go, or none.
                for key in &keys {
                    if let Err(denied) = self
                        .row_allowed(actor, g, &Action::Delete, &model, key)
                        .await
                    {
                        return Some(denied);
                    }
                }
                match self.full_table(&model) {
                    Ok(t) => {
                        for key in &keys {
                            if let Err(refused) = self.delete_reach(actor, g, t, key).await {
                                return Some(refused);
                            }
                        }
                        let audit = AuditEntry {
                            reason: Some(format!("bulk delete of {} rows", keys.len())),
                            ..actor.audit("delete", &model)
                        };
                        let count = keys.len();
                        self.store
                            .delete_records(&self.schema, t, &keys, audit)
                            .await
                            .map(|()| Msg::DeletedMany { model, count })
                    }
                    Err(refused) => return Some(refused),
                }
            }
            Cmd::Export { model, query } => {
                return Some(match self.export(actor, g, model, query).await {
                    Ok(msg) | Err(msg) => msg,
                });
            }
            Cmd::LoadDistinct {
                model,
                column,
                query,
            } => {
                let checked = self.listable(actor, g, &model, &query).await;
                match checked {
                    Ok((t, listing)) => {
                        if !t.table.columns.iter().enumerate().any(|(i, c)| {
                            c.name == column && !t.masked.get(i).copied().unwrap_or(true)
                        }) {
                            return Some(Msg::Failed(format!("cannot filter by {column}")));
                        }
                        let kind = t
                            .table
                            .column(&column)
                            .map(FieldKind::of_column)
                            .unwrap_or(FieldKind::Text);
                        self.store
                            .distinct_values(&t.table, &column, &listing, 50)
                            .await
                            .map(|values| Msg::Distinct {
                                model,
                                column,
                                ranged: matches!(
                                    kind,
                                    FieldKind::Date
                                        | FieldKind::Timestamp
                                        | FieldKind::Integer
                                        | FieldKind::Real
                                ),
                                boolean: kind == FieldKind::Boolean,
                                values,
                            })
                    }
                    Err(denied) => return Some(denied),
                }
            }
            Cmd::LoadAudit { query, before_id } => {
                return Some(match self.audit_page(actor, g, query, before_id).await {
                    Ok(msg) | Err(msg) => msg,
                });
            }
            Cmd::Bulk {
                model,
                action,
                keys,
            } => {
                return Some(match self.bulk(actor, g, model, action, keys).await {
                    Ok(msg) | Err(msg) => msg,
                });
            }
            Cmd::LoadHistory { model, key } => {
                match self
                    .row_allowed(actor, g, &Action::View, &model, &key)
                    .await
                {
                    Ok(t) => match pk_text(&key) {
                        Some(pk) => {
                            self.store
                                .record_history(&model, &pk, 200)
                                .await
                                .map(|entries| Msg::History {
                                    lines: history_lines(&t, &entries),
                                    model,
                                    key,
                                })
                        }
                        None => return Some(Msg::Failed("this row has a composite key".into())),
                    },
                    Err(denied) => return Some(denied),
                }
            }
            Cmd::LoadRecord { model, key } => {
                match self
                    .row_allowed(actor, g, &Action::View, &model, &key)
                    .await
                {
                    Ok(t) => self.record_msg(g, &t, model, &key).await,
                    Err(denied) => return Some(denied),
                }
            }
        };
        Some(result.unwrap_or_else(|e| Msg::Failed(describe(&e))))
    }

    /// The form for row `key` of `model` (`None`: a new row), with what may be changed.
    async fn open_form(
        &self,
        actor: &Actor,
        g: &Grants,
        model: String,
        key: Option<Vec<Value>>,
    ) -> Result<Msg, Msg> {
        let creating = key.is_none();
        let (shown, values) = match &key {
            Some(k) => {
                let t = self
                    .row_allowed(actor, g, &Action::Change, &model, k)
                    .await?;
                let record = self
                    .store
                    .record(&t.table, k)
                    .await
                    .map_err(|e| Msg::Failed(describe(&e)))?;
                let mut values: Vec<Value> = record.fields.into_iter().map(|(_, v)| v).collect();
                t.mask(&mut values);
                (t, values)
            }
            None => {
                self.model_allowed(actor, g, &Action::Add, &model).await?;
                let t = self.table(g, &model)?;
                let n = t.table.columns.len();
                (t, vec![Value::Null; n])
            }
        };
        let fields = shown
            .table
            .columns
            .iter()
            .zip(values)
            .enumerate()
            .map(|(i, (c, v))| (c.clone(), v, !shown.writable(i, creating)))
            .collect();
        let links = shown
            .table
            .columns
            .iter()
            .map(|c| self.link_of(&shown.table, &c.name))
            .collect();
        Ok(Msg::Form {
            model,
            key,
            fields,
            links,
        })
    }

    /// Check a save against permissions and column rules, then write it.
    async fn save(&self, actor: &Actor, g: &Grants, req: SaveRequest) -> Result<Msg, Msg> {
        let SaveRequest {
            model,
            key,
            original,
            values,
            overwrite,
        } = req;
        let creating = key.is_none();
        let shown = match &key {
            Some(k) => {
                self.row_allowed(actor, g, &Action::Change, &model, k)
                    .await?
            }
            None => {
                self.model_allowed(actor, g, &Action::Add, &model).await?;
                self.table(g, &model)?
            }
        };
        let opened = |c: &str| original.iter().find(|(n, _)| n == c).map(|(_, v)| v);
        let mut changes = Vec::new();
        for (column, value) in values {
            let Some(i) = shown.table.columns.iter().position(|c| c.name == column) else {
                return Err(Msg::Failed(format!(
                    "{model} has no column {column} you may see"
                )));
            };
            if shown.writable(i, creating) {
                changes.push((column, value));
            } else if !creating && opened(&column) != Some(&value) {
                let why = format!("{column} is read-only");
                return Err(self
                    .deny(
                        actor,
                        &Action::Change,
                        &model,
                        key.as_ref().and_then(|k| pk_text(k)).as_deref(),
                        &why,
                    )
                    .await);
            }
        }
        let table = self.full_table(&model)?;
        let refused = |e: StoreError| match e {
            StoreError::Constraint(words) => Msg::SaveRefused(words),
            other => Msg::Failed(describe(&other)),
        };
        let Some(key) = key else {
            let audit = actor.audit("add", &model);
            let key = self
                .store
                .insert_record(table, &changes, audit)
                .await
                .map_err(refused)?;
            return Ok(Msg::Saved {
                model,
                key,
                created: true,
            });
        };
        // What the form was opened with, for the columns this user sees as they are.
        let expected: Vec<(String, Value)> = if overwrite {
            Vec::new()
        } else {
            original
                .iter()
                .filter(|(c, _)| {
                    shown
                        .table
                        .columns
                        .iter()
                        .position(|x| &x.name == c)
                        .is_some_and(|i| !shown.masked.get(i).copied().unwrap_or(true))
                })
                .cloned()
                .collect()
        };
        let audit = AuditEntry {
            pk: pk_text(&key),
            ..actor.audit(if overwrite { "overwrite" } else { "change" }, &model)
        };
        match self
            .store
            .update_record(table, &key, &expected, &changes, audit)
            .await
            .map_err(refused)?
        {
            SaveOutcome::Saved(key) => Ok(Msg::Saved {
                model,
                key,
                created: false,
            }),
            SaveOutcome::Unchanged => Ok(Msg::Saved {
                model,
                key,
                created: false,
            }),
            SaveOutcome::Conflict(now) => {
                let yours = |c: &str| changes.iter().find(|(n, _)| n == c).map(|(_, v)| v.clone());
                let fields = now
                    .into_iter()
                    .map(|(c, now_v)| {
                        let opened_v = opened(&c).cloned().unwrap_or(Value::Null);
                        let yours_v = yours(&c).unwrap_or_else(|| opened_v.clone());
                        (c, opened_v, yours_v, now_v)
                    })
                    .collect();
                Ok(Msg::Conflict { model, key, fields })
            }
        }
    }

    /// May `actor` do `action` on `model` as a whole (adding a row)? Denials are audited.
    async fn model_allowed(
        &self,
        actor: &Actor,
        g: &Grants,
        action: &Action,
        model: &str,
    ) -> Result<(), Msg> {
        self.full_table(model)?;
        match perm::decide(g, action, model, &HashSet::new()) {
            Decision::Allow => Ok(()),
            Decision::Deny(reason) => Err(self.deny(actor, action, model, None, &reason).await),
        }
    }

    /// Run a declared bulk action: every marked row checked for `change_<model>` and every
    /// column the action sets checked against the column rules, then all rows changed in
    /// one transaction (or none).
    async fn bulk(
        &self,
        actor: &Actor,
        g: &Grants,
        model: String,
        action: String,
        keys: Vec<Vec<Value>>,
    ) -> Result<Msg, Msg> {
        let declared = self
            .rules
            .get(&model)
            .and_then(|r| r.bulk.iter().find(|a| a.name == action))
            .ok_or_else(|| Msg::Failed(format!("{model} declares no action {action}")))?;
        let mut shown = None;
        for key in &keys {
            shown = Some(
                self.row_allowed(actor, g, &Action::Change, &model, key)
                    .await?,
            );
        }
        let Some(shown) = shown else {
            return Err(Msg::Failed("no rows marked".into()));
        };
        let mut changes = Vec::new();
        for (column, value) in &declared.set {
            let writable = shown
                .table
                .columns
                .iter()
                .position(|c| &c.name == column)
                .is_some_and(|i| shown.writable(i, false));
            if !writable {
                let why = format!("{column} is read-only");
                return Err(self.deny(actor, &Action::Change, &model, None, &why).await);
            }
            let value = match value {
                toml::Value::String(s) => Value::Text(s.clone()),
                toml::Value::Integer(i) => Value::Integer(*i),
                toml::Value::Float(f) => Value::Real(*f),
                toml::Value::Boolean(b) => Value::Integer(i64::from(*b)),
                _ => return Err(Msg::Failed(format!("{column}: unsupported value"))),
            };
            changes.push((column.clone(), value));
        }
        let table = self.full_table(&model)?;
        let audit = AuditEntry {
            reason: Some(format!("bulk action {action} on {} rows", keys.len())),
            ..actor.audit("change", &model)
        };
        let count = self
            .store
            .update_many(table, &keys, &changes, audit)
            .await
            .map_err(|e| match e {
                StoreError::Constraint(words) => {
                    Msg::Failed(format!("{action}: nothing changed: {words}"))
                }
                other => Msg::Failed(describe(&other)),
            })?;
        Ok(Msg::BulkDone {
            model,
            action,
            count,
        })
    }

    /// Start an export of a list (superusers, or `export_<model>` — a verb the model
    /// declares in config). It runs in the background; progress and the result come back
    /// as messages.
    async fn export(
        &self,
        actor: &Actor,
        g: &Grants,
        model: String,
        query: ListQuery,
    ) -> Result<Msg, Msg> {
        let export = Action::Custom("export".into());
        if let Decision::Deny(reason) = perm::decide(g, &export, &model, &HashSet::new()) {
            return Err(self.deny(actor, &export, &model, None, &reason).await);
        }
        let (shown, listing) = self.listable(actor, g, &model, &query).await?;
        let total = self.store.count_rows(&shown.table, &listing).await.ok();
        let audit = AuditEntry {
            reason: Some(format!("export of {model} ({})", query_words(&query))),
            ..actor.audit("export", &model)
        };
        if let Err(e) = self.store.audit(&[audit]).await {
            return Err(Msg::Failed(describe(&e)));
        }
        let job = export::Job {
            store: self.store.clone(),
            shown,
            listing,
            dir: self.export_dir.clone(),
            model,
            now_ms: now_ms(),
            total,
        };
        match &actor.background {
            Some(tx) => {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let done = export::run(job, Some(tx.clone())).await;
                    let _ = tx.send(done).await;
                });
                Ok(Msg::ExportProgress { rows: 0, total })
            }
            None => Ok(export::run(job, None).await),
        }
    }

    /// A record for the detail view: masked values masked, and each set foreign key with
    /// the model it refers to and that row's display value (when the viewer may see it).
    async fn record_msg(
        &self,
        g: &Grants,
        t: &Shown,
        model: String,
        key: &[Value],
    ) -> Result<Msg, StoreError> {
        let mut record = self.store.record(&t.table, key).await?;
        let mut values: Vec<Value> = record.fields.iter().map(|(_, v)| v.clone()).collect();
        t.mask(&mut values);
        for (field, value) in record.fields.iter_mut().zip(values) {
            field.1 = value;
        }
        let mut links = Vec::with_capacity(record.fields.len());
        for (i, (c, v)) in record.fields.iter().enumerate() {
            let masked = t.masked.get(i).copied().unwrap_or(true);
            let target = (!masked).then(|| self.link_of(&t.table, &c.name)).flatten();
            let link = match target {
                Some(target) => {
                    let display = self.display_of(g, &target, v).await;
                    Some(match display {
                        Some(d) => format!("{target}: {d}"),
                        None => target,
                    })
                }
                None => None,
            };
            links.push(link);
        }
        Ok(Msg::Record {
            model,
            record,
            links,
        })
    }

    /// What row `key` of `model` is called: its display column (`[models.<m>] display`,
    /// else its first text column), if the viewer may see that row and column.
    async fn display_of(&self, g: &Grants, model: &str, key: &Value) -> Option<String> {
        if key.is_null() || perm::visibility(g, model) != Visibility::All {
            return None;
        }
        let t = self.table(g, model).ok()?;
        let column = match self.rules.get(model).and_then(|r| r.display.clone()) {
            Some(c) => c,
            None => t
                .table
                .columns
                .iter()
                .find(|c| FieldKind::of_column(c) == FieldKind::Text && c.pk_ordinal == 0)?
                .name
                .clone(),
        };
        let shown = t.only(std::slice::from_ref(&column));
        if shown.masked.first().copied().unwrap_or(true) {
            return None;
        }
        let record = self
            .store
            .record(&shown.table, std::slice::from_ref(key))
            .await
            .ok()?;
        match record.fields.first().map(|(_, v)| v) {
            Some(Value::Text(s)) => Some(s.chars().take(60).collect()),
            Some(Value::Null) | None => None,
            Some(other) => Some(other.to_string()),
        }
    }

    /// The model that `column` of `table` refers to, when it is a single-column foreign
    /// key onto that model's own key (so the value opens the referenced row).
    fn link_of(&self, table: &TableInfo, column: &str) -> Option<String> {
        let fk = table
            .foreign_keys
            .iter()
            .find(|fk| fk.columns.len() == 1 && fk.columns[0] == column)?;
        let target = self.schema.table(&fk.ref_table)?;
        let target_key = target.key_columns();
        let refers_to_key = match fk.ref_columns.as_slice() {
            [] => true,
            [c] => {
                target_key.len() == 1
                    && (target_key[0] == *c
                        || (target_key[0] == "rowid"
                            && target.column(c).is_some_and(|x| x.pk_ordinal == 1)))
            }
            _ => false,
        };
        refers_to_key.then(|| target.name.clone())
    }

    /// The table `model` with every column (for writes and their audit rows).
    fn full_table(&self, model: &str) -> Result<&TableInfo, Msg> {
        self.schema
            .table(model)
            .ok_or_else(|| Msg::Failed(format!("no such model: {model}")))
    }

    /// The table `model` as `actor` may see it: hidden columns left out (they are never
    /// selected), and which of the remaining columns are masked.
    fn table(&self, g: &Grants, model: &str) -> Result<Shown, Msg> {
        let table = self.full_table(model)?;
        let rules = self
            .rules
            .get(model)
            .filter(|r| !r.exempt_groups.iter().any(|x| g.groups.contains(x)));
        let Some(rules) = rules else {
            return Ok(Shown {
                table: table.clone(),
                masked: vec![false; table.columns.len()],
                read_only: vec![false; table.columns.len()],
            });
        };
        let mut shown = table.clone();
        shown.columns.retain(|c| !rules.hidden.contains(&c.name));
        let flag = |list: &Vec<String>| {
            shown
                .columns
                .iter()
                .map(|c| list.contains(&c.name))
                .collect()
        };
        Ok(Shown {
            masked: flag(&rules.masked),
            read_only: flag(&rules.read_only),
            table: shown,
        })
    }

    /// The table `model` and the filter of the rows `actor` may list in it.
    async fn listable(
        &self,
        actor: &Actor,
        g: &Grants,
        model: &str,
        query: &ListQuery,
    ) -> Result<(Shown, Listing), Msg> {
        let t = self.table(g, model)?;
        let filter = match perm::visibility(g, model) {
            Visibility::All => RowFilter::All,
            Visibility::Granted => RowFilter::Granted {
                user_id: actor.user_id,
                codenames: vec![Action::View.codename(model), Action::Change.codename(model)],
            },
            Visibility::Nothing => {
                let reason = format!("no {} permission", Action::View.codename(model));
                return Err(self.deny(actor, &Action::View, model, None, &reason).await);
            }
        };
        // Searching or sorting by a masked column would reveal its values.
        let visible = |c: &str| {
            t.table
                .columns
                .iter()
                .position(|x| x.name == c)
                .is_some_and(|i| !t.masked.get(i).copied().unwrap_or(true))
        };
        if let Some(sort) = &query.sort {
            if !visible(&sort.column) {
                return Err(Msg::Failed(format!("cannot sort by {}", sort.column)));
            }
        }
        if let Some(f) = query.filters.iter().find(|f| !visible(&f.column)) {
            return Err(Msg::Failed(format!("cannot filter by {}", f.column)));
        }
        let search = query.search.as_ref().map(|term| {
            let configured = self
                .rules
                .get(model)
                .map(|r| &r.search)
                .filter(|s| !s.is_empty());
            let columns: Vec<String> = match configured {
                Some(list) => list.iter().filter(|c| visible(c)).cloned().collect(),
                None => t
                    .table
                    .columns
                    .iter()
                    .filter(|c| FieldKind::of_column(c) == FieldKind::Text && visible(&c.name))
                    .map(|c| c.name.clone())
                    .collect(),
            };
            (term.clone(), columns)
        });
        let listing = Listing {
            filter,
            search,
            sort: query.sort.clone(),
            filters: query.filters.clone(),
        };
        // A list shows the model's list columns, when it names them.
        let t = match self
            .rules
            .get(model)
            .map(|r| &r.list)
            .filter(|l| !l.is_empty())
        {
            Some(list) => t.only(list),
            None => t,
        };
        Ok((t, listing))
    }

    /// The table `model`, if `actor` may do `action` on its row `key`.
    async fn row_allowed(
        &self,
        actor: &Actor,
        g: &Grants,
        action: &Action,
        model: &str,
        key: &[Value],
    ) -> Result<Shown, Msg> {
        let t = self.table(g, model)?;
        let pk = pk_text(key);
        let row_perms = match &pk {
            Some(pk) if !g.is_superuser => self
                .store
                .row_perms(actor.user_id, model, pk)
                .await
                .map_err(|e| Msg::Failed(describe(&e)))?,
            _ => HashSet::new(),
        };
        match perm::decide(g, action, model, &row_perms) {
            Decision::Allow => Ok(t),
            Decision::Deny(reason) => Err(self
                .deny(actor, action, model, pk.as_deref(), &reason)
                .await),
        }
    }

    /// Audit a denial and turn it into the message the user sees.
    /// What deleting row `key` of `t` reaches, as the user may see it, or the refusal:
    /// a delete whose `ON DELETE CASCADE` would remove rows of a model the user may not
    /// delete is refused (audited), naming those models; counts of rows in models the
    /// user cannot view in full are left out.
    async fn delete_reach(
        &self,
        actor: &Actor,
        g: &Grants,
        t: &TableInfo,
        key: &[Value],
    ) -> Result<Vec<crate::domain::Reference>, Msg> {
        let mut references = self
            .store
            .references(&self.schema, t, key)
            .await
            .map_err(|e| Msg::Failed(describe(&e)))?;
        let cascading: Vec<String> = references
            .iter()
            .filter(|r| r.on_delete.eq_ignore_ascii_case("CASCADE"))
            .map(|r| r.table.clone())
            .collect();
        let blockers = perm::cascade_blockers(g, &self.schema, &cascading);
        if !blockers.is_empty() {
            let reason = format!(
                "deleting it would also delete rows of {}, which you may not delete",
                blockers.join(", ")
            );
            return Err(self
                .deny(
                    actor,
                    &Action::Delete,
                    &t.name,
                    pk_text(key).as_deref(),
                    &reason,
                )
                .await);
        }
        for r in &mut references {
            if perm::visibility(g, &r.table) != Visibility::All {
                r.count = None;
            }
        }
        Ok(references)
    }

    async fn deny(
        &self,
        actor: &Actor,
        action: &Action,
        model: &str,
        pk: Option<&str>,
        reason: &str,
    ) -> Msg {
        tracing::info!(user = %actor.username, model, pk, reason, "denied");
        let entry = AuditEntry {
            pk: pk.map(str::to_string),
            outcome: "denied".into(),
            reason: Some(reason.to_string()),
            ..actor.audit(action.verb(), model)
        };
        if let Err(e) = self.store.audit(&[entry]).await {
            tracing::error!(error = %e, "auditing a denial failed");
        }
        Msg::Failed(format!("permission denied: {reason}"))
    }
}

/// Which before/after values of an audit entry a viewer sees.
enum AuditValues {
    /// Everything (`moat.view_audit_values`, or a superuser).
    All,
    /// As the viewer sees the row today: hidden columns left out, masked ones masked.
    Shown(Shown),
    /// None: the viewer may not view that model or row.
    Withheld,
}

impl Context {
    /// The values of entry `e` that `g` may see without `moat.view_audit_values`: those
    /// of a row of a model they may view (column rules applied, as in `H`); entries about
    /// moat's own tables (users, groups, sessions) show theirs, which are who-did-what.
    async fn audit_values(&self, actor: &Actor, g: &Grants, e: &AuditEntry) -> AuditValues {
        let Some(model) = e.model.as_deref() else {
            return AuditValues::Withheld;
        };
        if self.schema.table(model).is_none() {
            // moat's own records (who did what to users, groups, sessions), by exact name:
            // a dropped data table called `moatx` is not one of them.
            const MOAT_RECORDS: [&str; 5] = [
                "moat",
                "moat_audit_log",
                "moat_groups",
                "moat_sessions",
                "moat_users",
            ];
            return if MOAT_RECORDS.contains(&model) {
                AuditValues::All
            } else {
                AuditValues::Withheld
            };
        }
        let allowed = match perm::visibility(g, model) {
            Visibility::All => true,
            Visibility::Nothing => false,
            Visibility::Granted => match e.pk.as_deref() {
                Some(pk) => match self.store.row_perms(actor.user_id, model, pk).await {
                    Ok(row) => perm::decide(g, &Action::View, model, &row).is_allowed(),
                    Err(_) => false,
                },
                None => false,
            },
        };
        match (allowed, self.table(g, model)) {
            (true, Ok(t)) => AuditValues::Shown(t),
            _ => AuditValues::Withheld,
        }
    }

    /// A page of the audit viewer (needs `moat.view_audit`): who did what, where and
    /// when for every model; before/after values only where the viewer may view the row
    /// (hidden columns left out, masked ones masked, as in lists), or all of them with
    /// `moat.view_audit_values`.
    async fn audit_page(
        &self,
        actor: &Actor,
        g: &Grants,
        query: AuditQuery,
        before_id: Option<i64>,
    ) -> Result<Msg, Msg> {
        if let Decision::Deny(reason) = perm::decide_moat(g, moat_perms::VIEW_AUDIT) {
            return Err(self
                .deny(actor, &Action::View, "moat_audit_log", None, &reason)
                .await);
        }
        let since_ms = match &query.since {
            Some(t) => Some(
                crate::domain::parse_time(t)
                    .ok_or_else(|| Msg::Failed(format!("since: `{t}` is not a time (YYYY-MM-DD)")))?
                    .saturating_mul(1000),
            ),
            None => None,
        };
        let filter = AuditFilter {
            since_ms,
            actor: query.user.clone(),
            model: query.model.clone(),
            action: query.action.clone(),
            outcome: query.outcome.clone(),
            before_id,
        };
        const PAGE: i64 = 200;
        let rows = self
            .store
            .audit_page(&filter, PAGE + 1)
            .await
            .map_err(|e| Msg::Failed(describe(&e)))?;
        let more = rows.len() > PAGE as usize;
        let all_values = perm::decide_moat(g, moat_perms::VIEW_AUDIT_VALUES).is_allowed();
        let mut page = Vec::with_capacity(rows.len().min(PAGE as usize));
        for row in rows.into_iter().take(PAGE as usize) {
            let e = &row.entry;
            let values = if all_values {
                AuditValues::All
            } else {
                self.audit_values(actor, g, e).await
            };
            let what = match (&e.model, &e.pk) {
                (Some(m), Some(pk)) => format!("{m} #{pk}"),
                (Some(m), None) => m.clone(),
                _ => String::new(),
            };
            let line = format!(
                "{}  {:<12} {:<14} {:<24} {}{}",
                crate::domain::format_time(e.at_ms.div_euclid(1000)),
                e.actor.as_deref().unwrap_or("-"),
                e.action,
                what,
                e.outcome,
                e.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            );
            let mut details = vec![
                format!("entry      {}", row.id),
                format!(
                    "time       {}",
                    crate::domain::format_time(e.at_ms.div_euclid(1000))
                ),
                format!("actor      {}", e.actor.as_deref().unwrap_or("-")),
                format!("from       {}", e.source_ip.as_deref().unwrap_or("-")),
                format!("session    {}", e.session_id.as_deref().unwrap_or("-")),
                format!("action     {} {what}", e.action),
                format!("outcome    {}", e.outcome),
            ];
            if let Some(r) = &e.reason {
                details.push(format!("reason     {r}"));
            }
            match values {
                AuditValues::Shown(t) => details.extend(
                    history_lines(&t, std::slice::from_ref(e))
                        .into_iter()
                        .skip(1),
                ),
                AuditValues::All => {
                    for (label, v) in [("before", &e.before), ("after", &e.after)] {
                        if let Some(v) = v {
                            details.push(format!("{label:<10} {v}"));
                        }
                    }
                }
                AuditValues::Withheld if e.before.is_some() || e.after.is_some() => details.push(
                    "values     not shown: you may not view this row (moat.view_audit_values shows them)"
                        .into(),
                ),
                AuditValues::Withheld => {}
            }
            details.push(format!("hash       {}", row.hash));
            page.push((row.id, line, details));
        }
        let rows = page;
        Ok(Msg::Audit(Box::new(AuditPage {
            query,
            rows,
            more,
            appended: before_id.is_some(),
        })))
    }
}

/// A list query in words, for the audit trail.
fn query_words(q: &ListQuery) -> String {
    let mut parts = Vec::new();
    if let Some(s) = &q.search {
        parts.push(format!("search {s:?}"));
    }
    if let Some(o) = &q.sort {
        parts.push(format!(
            "sorted by {}{}",
            o.column,
            if o.descending { " desc" } else { "" }
        ));
    }
    if parts.is_empty() {
        "all rows".into()
    } else {
        parts.join(", ")
    }
}

/// Audit entries as lines: a heading per entry, then one line per changed column, with
/// hidden columns left out and masked ones masked.
fn history_lines(t: &Shown, entries: &[AuditEntry]) -> Vec<String> {
    let value = |column: &str, v: Option<&serde_json::Value>| -> Option<String> {
        let i = t.table.columns.iter().position(|c| c.name == column)?; // hidden: skip
        Some(match v {
            None | Some(serde_json::Value::Null) => "∅".into(),
            Some(_) if t.masked.get(i).copied().unwrap_or(true) => MASK.into(),
            Some(serde_json::Value::String(s)) => format!("{s:?}"),
            Some(other) => other.to_string(),
        })
    };
    let mut lines = Vec::new();
    for e in entries {
        let who = e.actor.as_deref().unwrap_or("?");
        let why = e
            .reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        lines.push(format!(
            "{}  {who}  {} {}{why}",
            crate::domain::format_time(e.at_ms.div_euclid(1000)),
            e.action,
            e.outcome
        ));
        let object = |v: &Option<serde_json::Value>| match v {
            Some(serde_json::Value::Object(m)) => Some(m.clone()),
            _ => None,
        };
        let (before, after) = (object(&e.before), object(&e.after));
        let mut columns: Vec<&String> = before
            .iter()
            .chain(after.iter())
            .flat_map(|m| m.keys())
            .collect();
        columns.sort();
        columns.dedup();
        for c in columns {
            let b = before.as_ref().map(|m| m.get(c));
            let a = after.as_ref().map(|m| m.get(c));
            let (Some(b), Some(a)) = (value(c, b.flatten()), value(c, a.flatten())) else {
                continue;
            };
            let line = match (before.is_some(), after.is_some()) {
                (true, true) => format!("    {c}: {b} → {a}"),
                (true, false) => format!("    {c}: {b}"),
                _ => format!("    {c}: {a}"),
            };
            lines.push(line);
        }
    }
    lines
}

/// A save as the form sent it.
struct SaveRequest {
    model: String,
    key: Option<Vec<Value>>,
    original: Vec<(String, Value)>,
    values: Vec<(String, Value)>,
    overwrite: bool,
}

/// A table as one user sees it.
struct Shown {
    table: TableInfo,
    /// Per column of `table`: whether its values are masked.
    masked: Vec<bool>,
    /// Per column of `table`: whether the column rules make it read-only.
    read_only: Vec<bool>,
}

/// What a masked value looks like.
pub const MASK: &str = "••••";

impl Shown {
    /// Only the columns named in `names`, in that order.
    fn only(self, names: &[String]) -> Shown {
        let mut out = Shown {
            table: TableInfo {
                columns: Vec::new(),
                ..self.table.clone()
            },
            masked: Vec::new(),
            read_only: Vec::new(),
        };
        for name in names {
            if let Some(i) = self.table.columns.iter().position(|c| &c.name == name) {
                out.table.columns.push(self.table.columns[i].clone());
                out.masked.push(self.masked.get(i).copied().unwrap_or(true));
                out.read_only
                    .push(self.read_only.get(i).copied().unwrap_or(true));
            }
        }
        out
    }

    /// May a form change column `i`? Not if masked, read-only by rule, or (editing) a key
    /// column, or (creating) the auto-numbered integer key.
    fn writable(&self, i: usize, creating: bool) -> bool {
        let Some(col) = self.table.columns.get(i) else {
            return false;
        };
        let key = self.table.key_columns().contains(&col.name);
        // SQLite's INTEGER PRIMARY KEY (the rowid), or a PostgreSQL key with a default
        // (identity, serial): the database numbers new rows.
        let auto_key = self.table.primary_key.len() == 1
            && key
            && (col.decl_type.eq_ignore_ascii_case("INTEGER")
                || (col.pg_type.is_some() && col.default.is_some()));
        let hidden_value = self.masked.get(i).copied().unwrap_or(true);
        let ruled = self.read_only.get(i).copied().unwrap_or(true);
        let locked_key = if creating { auto_key } else { key };
        !(hidden_value || ruled || locked_key)
    }

    /// Replace the values of masked columns (NULL stays NULL).
    fn mask(&self, values: &mut [Value]) {
        for (value, masked) in values.iter_mut().zip(&self.masked) {
            if *masked && !value.is_null() {
                *value = Value::Text(MASK.into());
            }
        }
    }
}

impl Actor {
    /// The audit row of a successful `action` on `model` by this actor (fill in the rest).
    pub(crate) fn audit(&self, action: &str, model: &str) -> AuditEntry {
        AuditEntry {
            at_ms: now_ms(),
            actor: Some(self.username.clone()),
            source_ip: Some(self.source_ip.clone()),
            session_id: Some(self.session_id.clone()),
            action: action.into(),
            model: Some(model.into()),
            outcome: "success".into(),
            ..AuditEntry::default()
        }
    }
}

/// A session from the moment both factors passed, before (and until) its console opens.
/// Dropping it ends the session (its registry entry and database row).
pub struct Authenticated {
    who: Identity,
    actor: Actor,
    live: LiveGuard,
    /// When authentication succeeded: the session's clock starts here.
    at: tokio::time::Instant,
    /// Set once the console opens (the shell request).
    shell: watch::Sender<bool>,
    /// Tells the transport that the session's channel is done (sent, or dropped).
    done: Option<tokio::sync::oneshot::Sender<()>>,
    /// The transport's side of `done`, handed out once by [`Authenticated::watch`].
    done_rx: Option<tokio::sync::oneshot::Receiver<()>>,
}

impl Authenticated {
    pub fn username(&self) -> &str {
        &self.who.username
    }

    /// The session's id (as in `moat sessions` and its audit rows).
    pub fn id(&self) -> &str {
        &self.actor.session_id
    }

    /// What the transport watches until the console opens (and, once, whether the
    /// session's channel is done).
    pub fn watch(&mut self) -> Watch {
        Watch {
            end: self.live.handle.end.clone(),
            shell: self.shell.subscribe(),
            done: self.done_rx.take(),
        }
    }

    /// The signal the channel gives when it is done with the session (the console ended,
    /// or the channel asked for something else): the transport then closes the
    /// connection, so no authenticated connection outlives its session.
    pub fn take_done(&mut self) -> Option<tokio::sync::oneshot::Sender<()>> {
        self.done.take()
    }
}

impl std::fmt::Debug for Authenticated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticated")
            .field("user", &self.who.username)
            .field("session", &self.actor.session_id)
            .finish_non_exhaustive()
    }
}

/// An authenticated session as the transport sees it before the console opens.
#[derive(Debug)]
pub struct Watch {
    /// Why the session must end, once someone asks (closed when the session is gone).
    pub end: watch::Receiver<Option<String>>,
    /// `true` once the console opened; from then on the session ends itself.
    pub shell: watch::Receiver<bool>,
    /// Fires (or closes) when the session's channel is done with it.
    pub done: Option<tokio::sync::oneshot::Receiver<()>>,
}

/// Who is acting in a session. Their grants are read afresh for every command.
#[derive(Clone, Debug)]
pub struct Actor {
    pub user_id: i64,
    pub username: String,
    pub source_ip: String,
    /// The source the login was counted as for lockout (the address, or its IPv6
    /// network): step-up and password checks count under the same key.
    pub source_key: String,
    /// Random id of this session, written into its audit rows.
    pub session_id: String,
    /// Where background work (an export) sends its messages; `None` runs it inline.
    pub background: Option<mpsc::Sender<Msg>>,
    /// Set-up and step-up state, shared by this session's clones of the actor.
    pub guard: Arc<std::sync::Mutex<account::Guard>>,
}

/// Unix milliseconds, for audit rows.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A store error in words for the status line (no SQL text, no internals).
fn describe(e: &StoreError) -> String {
    match e {
        StoreError::NotFound(what) => format!("not found: {what}"),
        StoreError::Conflict(what) => what.clone(),
        other => {
            tracing::warn!(error = %other, "store error in session");
            "the database could not answer; try again".into()
        }
    }
}

/// A session's place in the live registries; leaving them when the session ends,
/// however it ends (a panic included).
struct LiveGuard {
    handle: live::Handle,
    registry: Arc<live::Registry>,
    store: Store,
    /// The write of the session's row, which its end must follow.
    recorded: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.registry.remove(&self.handle.id);
        let (store, id) = (self.store.clone(), self.handle.id.clone());
        let recorded = self.recorded.take();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Some(recorded) = recorded {
                    let _ = recorded.await;
                }
                if let Err(e) = store.session_ended(&id, now_ms() / 1000).await {
                    tracing::warn!(error = %e, "could not record the end of a session");
                }
            });
        }
    }
}

/// The bounded frame queue towards the client. A frame that does not fit is dropped and
/// the next draw repaints the whole screen, so the client never shows a half-applied diff.
struct Frames {
    out: mpsc::Sender<Vec<u8>>,
    /// Bytes not yet queued (a dropped frame's replacement is a full repaint).
    pending: Vec<u8>,
    repaint: bool,
}

impl Frames {
    fn new(out: mpsc::Sender<Vec<u8>>) -> Frames {
        Frames {
            out,
            pending: Vec::new(),
            repaint: false,
        }
    }

    fn push(&mut self, bytes: Vec<u8>) {
        self.pending.extend(bytes);
        self.try_send();
    }

    fn try_send(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        match self.out.try_send(std::mem::take(&mut self.pending)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => self.repaint = true,
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    fn needs_retry(&self) -> bool {
        self.repaint
    }

    async fn retry_tick(&self) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    fn draw(
        &mut self,
        terminal: &mut Terminal<AnsiBackend>,
        app: &mut App,
    ) -> Result<(), std::io::Error> {
        if std::mem::take(&mut self.repaint) {
            terminal.clear()?;
        }
        terminal.draw(|frame| view::draw(app, frame))?;
        let bytes = terminal.backend_mut().take_output();
        if !bytes.is_empty() {
            self.push(bytes);
        }
        Ok(())
    }

    /// Queue the last bytes (restoring the client's terminal), waiting for room: unlike
    /// a frame, they must not be dropped.
    /// Queue the last bytes; a client that stopped reading gets a few seconds, not
    /// forever, so an ended session always goes away.
    async fn finish(&mut self, last: &[u8]) {
        let mut bytes = std::mem::take(&mut self.pending);
        bytes.extend_from_slice(last);
        let _ = tokio::time::timeout(FINISH_WAIT, self.out.send(bytes)).await;
    }
}
