//! One logged-in connection's loop: terminal bytes → keys → `App`; the app's commands are
//! checked against the permission engine, run against the store, and answered with
//! messages; each state change is drawn and only the changed cells are sent.
//!
//! The session knows nothing of SSH: it reads [`Event`]s from a channel and writes frames
//! into a bounded queue. The `ssh` room adapts a russh channel to those.
//!
//! - `lifecycle`: from authentication to the end of the console: registration, the loop,
//!   timeouts, closing; `frames`: the bounded queue of drawn frames; `live`: this
//!   instance's registry of sessions and the poll that ends them from elsewhere.
//! - `dispatch`: the boundary every command crosses (account rules, fresh grants), one arm
//!   per command.
//! - `checks`: what a user sees of a table and may do to a model or row, and the audited
//!   denial; `records`, `audit`, `export`, `manage`, `account`: the handlers.
//! - `exports`: a user's own exports, handed out read-only over SFTP (the session that
//!   asks for the `sftp` subsystem instead of a console), their expiry, `:exports`.
//! - `recording`: the session's recording (fed by `frames`), its seal in the audit
//!   chain, retention, and reading a recording back for a replay.

// Handlers and checks answer with a `Msg` whichever way they go (`Ok`: the answer, `Err`:
// the refusal to show), so the error side is as large as an answer by design; it is moved
// once per command.
#![allow(clippy::result_large_err)]

mod account;
mod audit;
mod bulk;
mod checks;
mod dispatch;
pub mod export;
pub mod exports;
mod frames;
mod lifecycle;
mod lists;
pub mod live;
mod manage;
pub mod recording;
mod records;
mod undo;

pub use crate::perm::columns::MASK;
pub use lifecycle::{Authenticated, Companion, Watch};

use crate::perm::columns::Shown;
use frames::Frames;
use records::SaveRequest;

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::auth::password::Hasher;
use crate::auth::{AuthService, Identity};
use crate::config::{AccountsConfig, ModelConfig, SessionConfig};
use crate::domain::Schema;
use crate::store::{AuditEntry, Store, StoreError};
use crate::tui::Msg;

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
    /// The tables the console shows, as last introspected (re-read on SIGHUP and
    /// `:reload`).
    pub schema: Arc<SchemaCell>,
    pub page_size: u32,
    pub max_size: (u16, u16),
    /// Column rules and custom verbs by model (`[models.*]` in config).
    pub rules: BTreeMap<String, ModelConfig>,
    /// The groups `[auth.groups]` gives login rules (not renamed or deleted from the
    /// console while the config names them).
    pub auth_groups: Vec<String>,
    /// Hashes the passwords of accounts created from the console.
    pub hasher: Arc<Hasher>,
    /// Where console exports are written.
    pub export_dir: std::path::PathBuf,
    /// How long exports are kept, and the port they are fetched on (SFTP).
    pub exports: exports::Exports,
    /// Enrolment, password changes and step-up.
    pub auth: AuthService,
    /// One-time passwords and the step-up window.
    pub accounts: AccountsConfig,
    /// Idle and maximum session time.
    pub timeouts: SessionConfig,
    /// How often the screen shown is refreshed (`[console] refresh_secs`), if at all.
    pub refresh_every: Option<std::time::Duration>,
    /// This instance's live sessions (to end them at once).
    pub live: Arc<live::Registry>,
    /// Session recording (`None` when `[recording] enabled = false`).
    pub recordings: Option<Arc<recording::Recordings>>,
    /// Called with every chunk of client input before it is decoded. Instrumentation for
    /// tests and benchmarks (e.g. proving that a panic stays inside one session); `None`
    /// in production.
    pub input_tap: Option<InputTap>,
    /// The most rows "mark all matching" marks (`[limits] bulk_max_rows`).
    pub bulk_max_rows: u64,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("tables", &self.schema().tables.len())
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

/// The schema every session of a server reads, replaced whole when it is re-read: a
/// command works on the snapshot it took, so a reload never changes a table under it.
#[derive(Debug, Default)]
pub struct SchemaCell(std::sync::RwLock<Arc<Schema>>);

impl SchemaCell {
    pub fn new(schema: Schema) -> SchemaCell {
        SchemaCell(std::sync::RwLock::new(Arc::new(schema)))
    }

    /// The schema now.
    pub fn get(&self) -> Arc<Schema> {
        match self.0.read() {
            Ok(s) => Arc::clone(&s),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Replace it.
    pub fn set(&self, schema: Schema) {
        match self.0.write() {
            Ok(mut s) => *s = Arc::new(schema),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(schema),
        }
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
    /// The tables the console shows, as last introspected.
    pub fn schema(&self) -> Arc<Schema> {
        self.schema.get()
    }

    /// Introspect the database again (new tables appear, dropped ones go) and check the
    /// `[models.*]` rules against it; a schema the rules do not fit is refused and the
    /// old one kept. Returns the number of tables.
    pub async fn reload_schema(&self) -> Result<usize, String> {
        let schema = self
            .store
            .introspect()
            .await
            .map_err(|e| format!("reading the schema failed: {e}"))?;
        crate::config::validate_models(&self.rules, &schema).map_err(|e| e.to_string())?;
        let n = schema.tables.len();
        self.schema.set(schema);
        Ok(n)
    }

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
}

impl Actor {
    /// This actor, as the shared operations ([`crate::ops`]) audit them.
    pub(crate) fn by(&self) -> crate::ops::By<'_> {
        crate::ops::By::Session {
            username: &self.username,
            source_ip: &self.source_ip,
            session_id: &self.session_id,
        }
    }

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
