//! One logged-in connection's loop: terminal bytes → keys → `App`; the app's commands are
//! checked against the permission engine, run against the store, and answered with
//! messages; each state change is drawn and only the changed cells are sent.
//!
//! The session knows nothing of SSH: it reads [`Event`]s from a channel and writes frames
//! into a bounded queue. The `ssh` room adapts a russh channel to those.

use std::sync::Arc;
use std::time::Duration;

use ratatui::Terminal;
use tokio::sync::mpsc;

use crate::auth::Identity;
use crate::domain::{Schema, TableInfo};
use crate::perm::{self, Action, Actor, Decision};
use crate::store::{Store, StoreError};
use crate::tui::app::ModelSummary;
use crate::tui::backend::AnsiBackend;
use crate::tui::input::Decoder;
use crate::tui::{view, App, Cmd, Msg};

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

    /// Run one session until the user quits or the client goes away.
    pub async fn run(
        &self,
        who: Identity,
        term: TermInfo,
        mut events: mpsc::Receiver<Event>,
        out: mpsc::Sender<Vec<u8>>,
    ) -> Result<(), SessionError> {
        let (cols, rows) = self.clamp_size(term.cols, term.rows);
        let color = crate::tui::term_has_color(&term.term);
        let actor = Actor {
            is_superuser: who.is_superuser,
        };
        let (mut app, cmds) = App::new(&who.username, self.page_size, (cols, rows));
        if let Some(left) = who.backup_codes_left {
            app.update(Msg::Notice(format!(
                "Signed in with a backup code: {left} left. Generate new ones before you run out."
            )));
        }
        let mut terminal = Terminal::new(AnsiBackend::new(cols, rows, color))?;
        let mut decoder = Decoder::new();
        let mut frames = Frames::new(out);
        frames.push(AnsiBackend::ENTER.to_vec());
        self.apply(&mut app, actor, cmds).await;

        while !app.quit {
            frames.draw(&mut terminal, &mut app)?;
            let event = tokio::select! {
                e = events.recv() => e.unwrap_or(Event::Closed),
                _ = tokio::time::sleep(ESC_TIMEOUT), if decoder.has_pending() => {
                    for input in decoder.flush() {
                        let cmds = app.update(Msg::Input(input));
                        self.apply(&mut app, actor, cmds).await;
                    }
                    continue;
                }
                _ = frames.retry_tick(), if frames.needs_retry() => continue,
            };
            match event {
                Event::Input(bytes) => {
                    if let Some(tap) = &self.input_tap {
                        tap(&bytes);
                    }
                    for input in decoder.feed(&bytes) {
                        let cmds = app.update(Msg::Input(input));
                        self.apply(&mut app, actor, cmds).await;
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

    /// Run commands (and the commands their answers produce) until none are left.
    async fn apply(&self, app: &mut App, actor: Actor, mut cmds: Vec<Cmd>) {
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

    /// Check and run one command. Every store call is preceded by a permission check.
    async fn execute(&self, actor: Actor, cmd: Cmd) -> Option<Msg> {
        let result = match cmd {
            Cmd::Quit => return None,
            Cmd::LoadModels => {
                let models = self
                    .schema
                    .tables
                    .iter()
                    .filter(|t| perm::decide(actor, Action::View, &t.name).is_allowed())
                    .map(|t| ModelSummary {
                        name: t.name.clone(),
                        columns: t.columns.len(),
                    })
                    .collect();
                return Some(Msg::Models(models));
            }
            Cmd::Count { model } => match self.table(actor, &model) {
                Ok(t) => self
                    .store
                    .count_rows(t)
                    .await
                    .map(|count| Msg::Counted { model, count }),
                Err(denied) => return Some(denied),
            },
            Cmd::LoadPage {
                model,
                anchor,
                limit,
            } => match self.table(actor, &model) {
                Ok(t) => self
                    .store
                    .page(t, &anchor, limit)
                    .await
                    .map(|page| Msg::Page {
                        model,
                        anchor,
                        page,
                    }),
                Err(denied) => return Some(denied),
            },
            Cmd::LoadRecord { model, key } => match self.table(actor, &model) {
                Ok(t) => self
                    .store
                    .record(t, &key)
                    .await
                    .map(|record| Msg::Record { model, record }),
                Err(denied) => return Some(denied),
            },
        };
        Some(result.unwrap_or_else(|e| Msg::Failed(describe(&e))))
    }

    /// The introspected table `model`, if it exists and `actor` may view it.
    fn table(&self, actor: Actor, model: &str) -> Result<&TableInfo, Msg> {
        let Some(t) = self.schema.table(model) else {
            return Err(Msg::Failed(format!("no such model: {model}")));
        };
        match perm::decide(actor, Action::View, model) {
            Decision::Allow => Ok(t),
            Decision::Deny(reason) => {
                tracing::info!(model, reason, "denied");
                Err(Msg::Failed(format!("permission denied: {reason}")))
            }
        }
    }
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
    async fn finish(&mut self, last: &[u8]) {
        let mut bytes = std::mem::take(&mut self.pending);
        bytes.extend_from_slice(last);
        let _ = self.out.send(bytes).await;
    }
}
