//! Recording a session's console, sealing the recording into the audit chain, retention,
//! and reading a recording back for whoever may replay it.
//!
//! Frames are recorded where they leave the session ([`super::Frames`]): that is where the
//! bytes the client is sent are known exactly, in order, without a dropped frame (a frame
//! the queue refused is neither sent nor recorded; its repaint is both), and where the
//! session's state says what to leave out: keys typed into secret fields and screens that
//! show a secret ([`crate::tui::secrecy`]). The SSH channel below sees the same bytes but
//! not which of them are secret, and the transport stays thin.
//!
//! Each session buffers its asciicast text (about a second's worth) and hands it to the
//! writer thread ([`crate::recording::writer`]); when the session ends the file is synced,
//! and its size and SHA-256 are sealed into the audit chain as a `recording` entry in the
//! same transaction that marks it finished. A recording that cannot be written ends its
//! session: a session nobody could review does not run.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{now_ms, Actor, Context};
use crate::auth::Onboarding;
use crate::config::RecordingConfig;
use crate::perm::{self, moat_perms};
use crate::recording::cast::{self, Header, Kind};
use crate::recording::writer::{Job, Sealed, Writer};
use crate::recording::{self, file, Event, Expected};
use crate::store::recordings::{RECORDINGS_MODEL, REMOVED_ACTION, SEALED_ACTION};
use crate::store::{AuditEntry, NewRecording, RecordingRow, Store, StoreError};
use crate::tui::protocol::{RecordingState, Replay, ReplayMarker};

/// Text waits at most this long before it is handed to the writer.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Text is handed over at once from this much on.
const FLUSH_BYTES: usize = 32 * 1024;
/// Text a session may hold while the writer is behind; past it the session ends.
const MAX_HELD: usize = 1024 * 1024;
/// How long the end of a session waits for its recording to be sealed.
const SEAL_WAIT: Duration = Duration::from_secs(10);
/// What a replay shows where a secret was on screen.
const SECRET_PLACEHOLDER: &str =
    "\x1b[0m\x1b[2J\x1b[1;1Hmoat: a secret is on screen here (a TOTP secret, backup codes or a one-time password); it is not recorded.";
/// Audit rows a replay lists as markers, at most.
const MAX_MARKERS: i64 = 10_000;

/// Recording for a whole server: the writer thread and the settings.
pub struct Recordings {
    writer: Writer,
    pub dir: PathBuf,
    pub record_input: bool,
    pub retention_days: u64,
    /// The most of one recording a replay holds in memory, MiB.
    pub replay_max_mib: u64,
}

impl std::fmt::Debug for Recordings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recordings")
            .field("dir", &self.dir)
            .field("record_input", &self.record_input)
            .finish_non_exhaustive()
    }
}

impl Recordings {
    /// Set up recording as `config` says (`None` when it is off): the directory (0700)
    /// and the writer thread.
    pub fn start(config: &RecordingConfig) -> io::Result<Option<Arc<Recordings>>> {
        if !config.enabled {
            return Ok(None);
        }
        if file::ensure_private_dir(&config.recordings_dir)? {
            tracing::warn!(
                dir = %config.recordings_dir.display(),
                "recordings_dir was readable by others; its mode is now 0700"
            );
        }
        Ok(Some(Arc::new(Recordings {
            writer: Writer::start()?,
            dir: config.recordings_dir.clone(),
            record_input: config.record_input,
            retention_days: config.retention_days,
            replay_max_mib: config.replay_max_mib,
        })))
    }
}

/// What sealing a recording needs, taken by whichever end comes first.
struct SealInfo {
    store: Store,
    session_id: String,
    username: String,
    source_ip: String,
    file: String,
    started_ms: i64,
    size: (u16, u16),
    input: bool,
    /// The write of the recording's row, which the seal must follow.
    registered: Option<tokio::task::JoinHandle<()>>,
}

/// One session's recording.
pub(super) struct Recording {
    recordings: Arc<Recordings>,
    slot: u64,
    started: Instant,
    /// asciicast text not handed to the writer yet.
    pending: Vec<u8>,
    /// When the oldest text in `pending` was written.
    oldest: Option<Instant>,
    /// A secret is on screen: frames are not recorded.
    hidden: bool,
    failed: bool,
    /// Ends the session (the recording failed).
    end: Arc<dyn Fn() + Send + Sync>,
    seal: Option<SealInfo>,
    runtime: tokio::runtime::Handle,
}

impl Context {
    /// Start recording the console of `actor`'s session, `size` cells, for a client that
    /// said it is a `term`; `None` when recording is off.
    pub(super) fn start_recording(
        &self,
        actor: &Actor,
        term: &str,
        size: (u16, u16),
    ) -> Option<Recording> {
        let recordings = Arc::clone(self.recordings.as_ref()?);
        let started_ms = now_ms();
        let name = file::file_name(&actor.session_id, started_ms);
        let term: String = term
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(64)
            .collect();
        let header = cast::header_line(&Header {
            width: size.0,
            height: size.1,
            timestamp: started_ms.div_euclid(1000),
            term: (!term.is_empty()).then_some(term),
            title: Some(format!(
                "moat session {} ({})",
                actor.session_id, actor.username
            )),
        });
        let registry = Arc::clone(&self.live);
        let id = actor.session_id.clone();
        let end: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
            registry.end(&id, "the session could not be recorded; try again later");
        });
        let slot = recordings.writer.slot();
        let failed = {
            let end = Arc::clone(&end);
            let id = actor.session_id.clone();
            recordings
                .writer
                .try_send(Job::Open {
                    slot,
                    path: recordings.dir.join(&name),
                    text: header,
                    on_error: Box::new(move |e| {
                        tracing::error!(session = %id, error = %e, "writing a session recording failed; ending the session");
                        end();
                    }),
                })
                .is_err()
        };
        if failed {
            tracing::error!(session = %actor.session_id, "the recording writer is not keeping up; ending the session");
            end();
        }
        // The row is written off the first frame's path; the seal waits for it.
        let store = self.store.clone();
        let row_end = Arc::clone(&end);
        let (sid, user, ip, file_name) = (
            actor.session_id.clone(),
            actor.username.clone(),
            actor.source_ip.clone(),
            name.clone(),
        );
        let user_id = actor.user_id;
        let record_input = recordings.record_input;
        let registered = tokio::spawn(async move {
            let row = NewRecording {
                session_id: &sid,
                user_id,
                username: &user,
                source_ip: &ip,
                file: &file_name,
                started_ms,
                width: size.0,
                height: size.1,
                input: record_input,
            };
            if let Err(e) = store.recording_started(&row).await {
                tracing::error!(error = %e, "could not register a session recording; ending the session");
                row_end();
            }
        });
        Some(Recording {
            slot,
            started: Instant::now(),
            pending: Vec::with_capacity(4096),
            oldest: None,
            hidden: false,
            failed,
            end,
            seal: Some(SealInfo {
                store: self.store.clone(),
                session_id: actor.session_id.clone(),
                username: actor.username.clone(),
                source_ip: actor.source_ip.clone(),
                file: name,
                started_ms,
                size,
                input: recordings.record_input,
                registered: Some(registered),
            }),
            recordings,
            runtime: tokio::runtime::Handle::current(),
        })
    }
}

impl Recording {
    fn at_us(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    fn push(&mut self, kind: Kind, data: &str) {
        if self.failed {
            return;
        }
        let at = self.at_us();
        cast::push_event(&mut self.pending, at, kind, data);
        self.oldest.get_or_insert_with(Instant::now);
        if self.pending.len() >= FLUSH_BYTES {
            self.flush();
        }
    }

    /// Bytes queued towards the client.
    pub(super) fn output(&mut self, bytes: &[u8]) {
        if self.hidden {
            return;
        }
        // The backend writes UTF-8; anything else would be written as U+FFFD.
        let text = String::from_utf8_lossy(bytes);
        self.push(Kind::Output, &text);
    }

    /// Bytes the user typed; `secret` if any of them went into a secret field.
    pub(super) fn input(&mut self, bytes: &[u8], secret: bool) {
        if !self.recordings.record_input {
            return;
        }
        let text = String::from_utf8_lossy(bytes);
        if secret {
            let stars = "*".repeat(text.chars().count());
            self.push(Kind::Input, &stars);
        } else {
            self.push(Kind::Input, &text);
        }
    }

    /// The size the console now draws at.
    pub(super) fn resize(&mut self, cols: u16, rows: u16) {
        self.push(Kind::Resize, &format!("{cols}x{rows}"));
    }

    /// Whether a secret is on screen. Returns true when one just left it: the caller
    /// must repaint the whole screen, so the recording has it all again.
    pub(super) fn secret_on_screen(&mut self, shown: bool) -> bool {
        match (self.hidden, shown) {
            (false, true) => {
                self.push(Kind::Marker, "secret on screen: not recorded");
                self.push(Kind::Output, SECRET_PLACEHOLDER);
                self.hidden = true;
                false
            }
            (true, false) => {
                self.hidden = false;
                self.push(Kind::Marker, "recording again");
                true
            }
            _ => false,
        }
    }

    /// When text waiting must be handed over.
    pub(super) fn due(&self) -> Option<Instant> {
        self.oldest.map(|t| t + FLUSH_EVERY)
    }

    /// Hand the text waiting to the writer (kept if its queue is full).
    pub(super) fn flush(&mut self) {
        if self.pending.is_empty() || self.failed {
            self.oldest = None;
            return;
        }
        let text = std::mem::take(&mut self.pending);
        match self.recordings.writer.try_send(Job::Append {
            slot: self.slot,
            text,
        }) {
            Ok(()) => {
                self.oldest = None;
                self.pending = Vec::with_capacity(4096);
            }
            Err((Job::Append { text, .. }, false)) if text.len() < MAX_HELD => {
                // The writer is behind: keep it, try again in a second.
                self.pending = text;
                self.oldest = Some(Instant::now());
            }
            Err(_) => self.fail("the recording writer is not keeping up"),
        }
    }

    fn fail(&mut self, why: &str) {
        if !self.failed {
            tracing::error!(why, "a session recording failed; ending the session");
            self.failed = true;
            self.pending = Vec::new();
            self.oldest = None;
            (self.end)();
        }
    }

    /// The session ended: hand over the rest, finish the file and seal it (waiting for
    /// the seal, so the session is over only once its recording is in the chain).
    pub(super) async fn finish(mut self) {
        let deadline = Instant::now() + SEAL_WAIT;
        while !self.pending.is_empty() && !self.failed && Instant::now() < deadline {
            self.flush();
            if !self.pending.is_empty() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let Some(mut job) = self.finish_job(Some(tx)) else {
            return;
        };
        // Finishing must not be lost to a full queue: wait for room (the writer drains
        // it), but never on a queue whose thread is gone.
        loop {
            match self.recordings.writer.try_send(job) {
                Ok(()) => break,
                Err((_, true)) => {
                    tracing::error!("the recording writer is gone; a recording stays unsealed");
                    return;
                }
                Err((back, false)) if Instant::now() < deadline => {
                    job = back;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(_) => {
                    tracing::error!("the recording writer is stuck; a recording stays unsealed until housekeeping");
                    return;
                }
            }
        }
        let _ = tokio::time::timeout(SEAL_WAIT, rx).await;
    }

    /// The job that finishes the file (the rest of the text handed over first); the seal
    /// runs on the runtime once the writer has finished, and `sealed` is told then.
    /// `None` if the recording was finished already.
    fn finish_job(&mut self, sealed: Option<tokio::sync::oneshot::Sender<()>>) -> Option<Job> {
        let info = self.seal.take()?;
        if !self.pending.is_empty() && !self.failed {
            self.flush();
        }
        let runtime = self.runtime.clone();
        let done = Box::new(move |result: io::Result<Sealed>| {
            runtime.spawn(async move {
                seal(info, result, None).await;
                if let Some(tx) = sealed {
                    let _ = tx.send(());
                }
            });
        });
        Some(Job::Finish {
            slot: self.slot,
            done,
        })
    }
}

impl Drop for Recording {
    /// A session that ended without [`Recording::finish`] (a panic, an error): finish and
    /// seal without waiting. Should the writer's queue be full, the recording is sealed by
    /// housekeeping later (as interrupted).
    fn drop(&mut self) {
        if let Some(job) = self.finish_job(None) {
            if self.recordings.writer.try_send(job).is_err() {
                tracing::error!("a recording could not be finished; housekeeping will seal it");
            }
        }
    }
}

/// Seal the recording `info` describes with what the writer said (or, for an orphan,
/// what its file holds: `interrupted`).
async fn seal(mut info: SealInfo, result: io::Result<Sealed>, interrupted: Option<&str>) {
    if let Some(registered) = info.registered.take() {
        let _ = registered.await;
    }
    let ended_ms = now_ms();
    let mut after = serde_json::json!({
        "file": info.file,
        "started_ms": info.started_ms,
        "ended_ms": ended_ms,
        "width": info.size.0,
        "height": info.size.1,
        "input_recorded": info.input,
    });
    let (sealed, outcome, reason) = match &result {
        Ok(s) => {
            after["size"] = s.size.into();
            after["sha256"] = s.sha256.clone().into();
            (
                Some((s.size, s.sha256.as_str())),
                if interrupted.is_some() {
                    "interrupted"
                } else {
                    "success"
                },
                interrupted.map(str::to_string),
            )
        }
        Err(e) => (
            None,
            "failure",
            Some(format!(
                "the recording could not be finished ({})",
                e.kind()
            )),
        ),
    };
    let entry = AuditEntry {
        at_ms: ended_ms,
        actor: Some(info.username.clone()),
        source_ip: Some(info.source_ip.clone()),
        session_id: Some(info.session_id.clone()),
        action: SEALED_ACTION.into(),
        model: Some(RECORDINGS_MODEL.into()),
        pk: Some(info.session_id.clone()),
        after: Some(after),
        outcome: outcome.into(),
        reason,
        ..AuditEntry::default()
    };
    match info
        .store
        .seal_recording(&info.session_id, ended_ms, sealed, &entry)
        .await
    {
        Ok(true) => {}
        Ok(false) => tracing::warn!(session = %info.session_id, "a recording was sealed already"),
        Err(e) => {
            tracing::error!(session = %info.session_id, error = %e, "could not seal a session recording")
        }
    }
}

/// Where a recording stands against the audit trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SealState {
    /// Its `recording` entry holds the file's size and SHA-256, and the file matches.
    Sealed { entry: i64 },
    /// Not sealed yet: its session is live, or its server stopped before sealing it
    /// (housekeeping seals it a day later).
    Unsealed,
}

/// Why a recording cannot be handed out.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the recording of session {0} was removed (retention)")]
    Removed(String),
    #[error("the recording of session {0} could not be finished, so there is none to show")]
    Failed(String),
    #[error("{0}; refusing it (see `moat audit verify`)")]
    Altered(recording::Finding),
    #[error("the audit entry sealing the recording of session {0} is missing or not moat's")]
    NoSeal(String),
    #[error("{0}")]
    Read(#[from] recording::ReadError),
}

/// Find the recording of session `id` (or a unique prefix) and check it against the
/// audit trail: its file must be what its `recording` entry says. An unsealed one (a
/// session still running, or one whose server stopped) is handed out as such.
pub async fn checked_recording(
    store: &Store,
    dir: &Path,
    id: &str,
) -> Result<(RecordingRow, PathBuf, SealState), RecordingError> {
    let row = store.find_recording(id).await?;
    let id = row.session_id.clone();
    if row.removed_ms.is_some() || store.recording_entry(&id, REMOVED_ACTION).await?.is_some() {
        return Err(RecordingError::Removed(id));
    }
    if !file::valid_name(&row.file) {
        return Err(RecordingError::Altered(recording::Finding::BadName {
            session_id: id,
        }));
    }
    let path = dir.join(&row.file);
    let entry = store.recording_entry(&id, SEALED_ACTION).await?;
    let Some(entry) = entry else {
        if row.ended_ms.is_some() {
            // The table says sealed, the chain has no seal: one of them was altered.
            return Err(RecordingError::NoSeal(id));
        }
        return Ok((row, path, SealState::Unsealed));
    };
    let after = entry.entry.after.clone().unwrap_or_default();
    let Some(expected) = Expected::from_entry(entry.id, &id, &after) else {
        return Err(RecordingError::Failed(id));
    };
    if expected.file != row.file {
        return Err(RecordingError::NoSeal(id));
    }
    let check = {
        let (dir, expected) = (dir.to_path_buf(), expected.clone());
        tokio::task::spawn_blocking(move || recording::check_file(&dir, &expected))
            .await
            .unwrap_or_else(|_| {
                Some(recording::Finding::Unreadable {
                    session_id: id.clone(),
                    why: "the check stopped".into(),
                })
            })
    };
    match check {
        None => Ok((row, path, SealState::Sealed { entry: entry.id })),
        Some(finding) => Err(RecordingError::Altered(finding)),
    }
}

/// What the audit trail says must be in `recordings_dir`: every sealed recording not
/// removed since.
pub async fn expected_recordings(store: &Store) -> Result<Vec<Expected>, StoreError> {
    let mut expected: Vec<Expected> = Vec::new();
    for row in store.recording_entries().await? {
        let Some(id) = row.entry.pk.clone() else {
            continue;
        };
        if row.entry.action == REMOVED_ACTION {
            expected.retain(|e| e.session_id != id);
        } else if let Some(e) = row
            .entry
            .after
            .as_ref()
            .and_then(|after| Expected::from_entry(row.id, &id, after))
        {
            expected.retain(|old| old.session_id != id);
            expected.push(e);
        }
    }
    Ok(expected)
}

/// What there is to replay of a session, from its recording's row (`None`: not recorded).
pub fn recording_state(rec: Option<&RecordingRow>) -> RecordingState {
    match rec {
        None => RecordingState::None,
        Some(r) if r.removed_ms.is_some() => RecordingState::Removed,
        Some(r) => match (r.ended_ms, r.size) {
            (None, _) => RecordingState::Unsealed,
            (Some(_), None) => RecordingState::Failed,
            (Some(_), Some(size)) => RecordingState::Sealed {
                size,
                input: r.input,
            },
        },
    }
}

/// An audit row of a recorded session, placed on the recording's time line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    /// Microseconds since the recording started (0 for rows before it, such as the login).
    pub at_us: u64,
    pub entry: i64,
    pub action: String,
    pub model: Option<String>,
    pub pk: Option<String>,
    pub outcome: String,
}

/// A recording as a replay screen needs it: every event (output filtered for the
/// terminal) and the session's audit rows as markers.
#[derive(Clone, Debug)]
pub struct RecordingView {
    pub session_id: String,
    pub username: String,
    pub header: Header,
    pub events: Vec<Event>,
    pub truncated: bool,
    /// The recording is longer than a replay holds: its events stop here.
    pub cut: Option<recording::Cut>,
    pub seal: SealState,
    pub markers: Vec<Marker>,
}

impl Context {
    /// The recording of session `id` for `actor` to replay: needs `moat.view_recordings`
    /// (or superuser), read afresh; refused during account set-up. Every look, and every
    /// refusal, is audited. A recording that does not match its seal is refused.
    pub async fn recording_view(&self, actor: &Actor, id: &str) -> Result<RecordingView, String> {
        let setup = match actor.guard.lock() {
            Ok(g) => g.onboarding != Onboarding::Done,
            Err(p) => p.into_inner().onboarding != Onboarding::Done,
        };
        let decision = if setup {
            perm::Decision::Deny("account set-up not finished".into())
        } else {
            match self.store.grants(actor.user_id).await {
                Ok(g) => perm::decide_moat(&g, moat_perms::VIEW_RECORDINGS),
                Err(e) => return Err(super::describe(&e)),
            }
        };
        let audit = |outcome: &str, reason: Option<String>| AuditEntry {
            pk: Some(id.to_string()),
            outcome: outcome.into(),
            reason,
            ..actor.audit("view_recording", RECORDINGS_MODEL)
        };
        if let perm::Decision::Deny(why) = decision {
            tracing::info!(user = %actor.username, session = id, why, "denied");
            if let Err(e) = self
                .store
                .audit(&[audit("denied", Some(why.clone()))])
                .await
            {
                tracing::error!(error = %e, "auditing a denial failed");
            }
            return Err(format!("permission denied: {why}"));
        }
        let Some(recordings) = &self.recordings else {
            return Err("session recording is off on this server".into());
        };
        let (row, path, seal) = match checked_recording(&self.store, &recordings.dir, id).await {
            Ok(found) => found,
            Err(e) => {
                let why = e.to_string();
                if let Err(e) = self
                    .store
                    .audit(&[audit("failure", Some(why.clone()))])
                    .await
                {
                    tracing::error!(error = %e, "auditing a replay failed");
                }
                return Err(why);
            }
        };
        let max_mib = recordings.replay_max_mib;
        let loaded = tokio::task::spawn_blocking(move || recording::load(&path, max_mib))
            .await
            .map_err(|_| "the recording could not be read".to_string())?
            .map_err(|e| e.to_string())?;
        let rows = self
            .store
            .session_audit_rows(&row.session_id, MAX_MARKERS)
            .await
            .map_err(|e| super::describe(&e))?;
        let markers = rows
            .into_iter()
            .map(|r| Marker {
                at_us: u64::try_from(r.entry.at_ms.saturating_sub(row.started_ms))
                    .unwrap_or(0)
                    .saturating_mul(1000),
                entry: r.id,
                action: r.entry.action,
                model: r.entry.model,
                pk: r.entry.pk,
                outcome: r.entry.outcome,
            })
            .collect();
        let mut entry = audit("success", None);
        entry.pk = Some(row.session_id.clone());
        if let Err(e) = self.store.audit(&[entry]).await {
            tracing::error!(error = %e, "auditing a replay failed");
            return Err(super::describe(&e));
        }
        Ok(RecordingView {
            session_id: row.session_id,
            username: row.username,
            header: loaded.header,
            events: loaded.events,
            truncated: loaded.truncated,
            cut: loaded.cut,
            seal,
            markers,
        })
    }

    /// [`Context::recording_view`] for the console's replay screen.
    pub(super) async fn replay(&self, actor: &Actor, id: &str) -> Result<Replay, String> {
        let view = self.recording_view(actor, id).await?;
        Ok(Replay {
            session_id: view.session_id,
            user: view.username,
            width: view.header.width,
            height: view.header.height,
            events: view.events,
            markers: view
                .markers
                .into_iter()
                .map(|m| ReplayMarker {
                    at_us: m.at_us,
                    entry: m.entry,
                    action: m.action,
                    model: m.model,
                    pk: m.pk,
                    outcome: m.outcome,
                })
                .collect(),
            sealed: matches!(view.seal, SealState::Sealed { .. }),
            truncated: view.truncated,
            cut: view.cut,
        })
    }

    /// Hourly, for as long as the server runs: remove recordings past retention, seal the
    /// recordings of sessions whose server died before sealing them, and delete expired
    /// exports.
    pub async fn recording_housekeeping(self: Arc<Context>) {
        let mut ticker = tokio::time::interval(Duration::from_secs(3600));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let now = now_ms();
            match self.seal_orphans(now).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(n, "sealed the recordings of sessions whose server stopped")
                }
                Err(e) => tracing::warn!(error = %e, "could not seal orphaned recordings"),
            }
            match self.apply_retention(now).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(n, "removed recordings past retention"),
                Err(e) => tracing::warn!(error = %e, "could not apply recording retention"),
            }
            match self.remove_expired_exports(now).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(n, "removed expired exports"),
                Err(e) => tracing::warn!(error = %e, "could not remove expired exports"),
            }
        }
    }

    /// Remove the recordings that ended more than `retention_days` before `now_ms`, each
    /// with a `recording_removed` audit entry (so `audit verify` no longer expects it).
    /// The age is the seal's, as the audit chain holds it, not the table's alone.
    pub async fn apply_retention(&self, now_ms: i64) -> Result<usize, StoreError> {
        let Some(recordings) = &self.recordings else {
            return Ok(0);
        };
        if recordings.retention_days == 0 {
            return Ok(0);
        }
        let days = i64::try_from(recordings.retention_days).unwrap_or(i64::MAX);
        let cutoff = now_ms.saturating_sub(days.saturating_mul(86_400_000));
        let mut removed = 0;
        for row in self.store.expired_recordings(cutoff).await? {
            let id = row.session_id.clone();
            let Some(seal) = self.store.recording_entry(&id, SEALED_ACTION).await? else {
                continue;
            };
            if seal.entry.at_ms >= cutoff {
                tracing::warn!(session = %id, "moat_recordings says a recording is older than its seal; not removing it");
                continue;
            }
            let file_state = if !file::valid_name(&row.file) {
                "not removed: the name is not one moat makes"
            } else {
                match std::fs::remove_file(recordings.dir.join(&row.file)) {
                    Ok(()) => "removed",
                    Err(e) if e.kind() == io::ErrorKind::NotFound => "already missing",
                    Err(e) => {
                        tracing::warn!(session = %id, error = %e, "could not remove an expired recording");
                        continue;
                    }
                }
            };
            let entry = AuditEntry {
                at_ms: now_ms,
                actor: Some("moat".into()),
                action: REMOVED_ACTION.into(),
                model: Some(RECORDINGS_MODEL.into()),
                pk: Some(id.clone()),
                before: Some(serde_json::json!({
                    "file": row.file,
                    "size": row.size,
                    "sha256": row.sha256,
                })),
                after: Some(serde_json::json!({ "file": file_state })),
                outcome: "success".into(),
                reason: Some(format!(
                    "retention: ended more than {} days ago",
                    recordings.retention_days
                )),
                ..AuditEntry::default()
            };
            if self.store.recording_removed(&id, now_ms, &entry).await? {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Seal, as `interrupted`, the recordings left unsealed by a session that is over
    /// (ended at least five minutes before `now_ms`, or gone): their server died. A dead
    /// instance's sessions are ended after a day of silence, so that is when theirs are
    /// sealed. The file is sealed as it is, up to its last flush.
    pub async fn seal_orphans(&self, now_ms: i64) -> Result<usize, StoreError> {
        let Some(recordings) = &self.recordings else {
            return Ok(0);
        };
        let mut sealed = 0;
        for row in self
            .store
            .unsealed_recordings(now_ms.div_euclid(1000) - 300)
            .await?
        {
            if !file::valid_name(&row.file) {
                continue;
            }
            let path = recordings.dir.join(&row.file);
            let result = tokio::task::spawn_blocking(move || file::digest(&path))
                .await
                .unwrap_or_else(|_| Err(io::Error::other("the digest stopped")))
                .map(|(size, sha256)| Sealed { size, sha256 });
            let info = SealInfo {
                store: self.store.clone(),
                session_id: row.session_id.clone(),
                username: row.username.clone(),
                source_ip: row.source_ip.clone(),
                file: row.file.clone(),
                started_ms: row.started_ms,
                size: (
                    u16::try_from(row.width).unwrap_or(0),
                    u16::try_from(row.height).unwrap_or(0),
                ),
                input: row.input,
                registered: None,
            };
            seal(
                info,
                result,
                Some("its server stopped before the session ended; sealed as found"),
            )
            .await;
            sealed += 1;
        }
        Ok(sealed)
    }
}
