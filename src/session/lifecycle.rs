//! A session's life: from authentication (registered here and in the database, so it can
//! be listed and ended anywhere) through the console's loop to its end, however it ends.

use std::sync::Arc;
use std::time::Duration;

use ratatui::Terminal;
use tokio::sync::{mpsc, watch};

use super::{live, now_ms, Actor, Context, Event, Frames, SessionError, TermInfo};
use crate::auth::{Credential, Identity, Onboarding};
use crate::store::Store;
use crate::tui::backend::AnsiBackend;
use crate::tui::input::Decoder;
use crate::tui::protocol::Setup;
use crate::tui::sanitize::SafeText;
use crate::tui::{App, Cmd, Msg};

/// How long a lone ESC waits for the rest of an escape sequence.
const ESC_TIMEOUT: Duration = Duration::from_millis(25);
/// The fastest a screen's clock ticks (a replay draws at most this often).
const MIN_CLOCK_MS: u64 = 40;

impl Context {
    /// Both factors passed for `who` from `source_ip` (counted as `source_key`): the
    /// session starts now. It is
    /// registered on this instance and in the database (so `moat sessions`, `:sessions`
    /// and other instances see it and can end it), and its clock — step-up freshness,
    /// `max_session_secs` — runs from here, whether or not a console is ever opened.
    pub fn authenticated(&self, who: Identity, source_ip: &str, source_key: &str) -> Authenticated {
        let mut actor = self.actor(&who, source_ip);
        actor.source_key = source_key.to_string();
        let key_id = who.key.as_ref().and_then(|k| k.key_id);
        let credential = who.key.as_ref().map(|k| k.credential.clone());
        let live = self.register(&actor, key_id, credential);
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
            let mut frames = Frames::new(out);
            return self
                .close(&actor, &mut frames, &format!("session ended: {reason}"))
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
        frames.record(self.start_recording(&actor, &term.term, (cols, rows)));
        frames.push(AnsiBackend::ENTER.to_vec());
        self.apply(&mut app, &actor, cmds).await;

        // Idle time from the user's input only (our own redraws do not count); the
        // maximum from authentication.
        let mut last_input = tokio::time::Instant::now();
        let mut last_refresh = last_input;
        let mut last_clock = last_input;
        let mut warned = false;
        // False after a wake-up that changed nothing (handing the recording to its
        // writer): a draw then would still send the cursor's state, and be recorded.
        let mut redraw = true;
        let mut keystroke = crate::metrics::FrameClock::default();
        let result = loop {
            if app.quit {
                frames.finish(AnsiBackend::LEAVE).await;
                break Ok(());
            }
            if std::mem::replace(&mut redraw, true) {
                frames.secret_on_screen(app.showing_secret());
                if let Err(e) = frames.draw(&mut terminal, &mut app) {
                    break Err(e.into());
                }
                keystroke.drawn();
            }
            let (at, timer) = live::next_timer(
                &self.timeouts,
                0.0,
                last_input.duration_since(started).as_secs_f64(),
                warned,
            );
            let deadline = started + Duration::from_secs_f64(at.max(0.0));
            let flush_at = frames.recording_due();
            let refresh_at = self.refresh_every.map(|every| last_refresh + every);
            let clock_at = app
                .clock_every()
                .map(|ms| last_clock + Duration::from_millis(ms.max(MIN_CLOCK_MS)));
            let event = tokio::select! {
                _ = tokio::time::sleep_until(clock_at.unwrap_or(deadline)), if clock_at.is_some() => {
                    last_clock = tokio::time::Instant::now();
                    let now_ms = u64::try_from(last_clock.duration_since(started).as_millis())
                        .unwrap_or(u64::MAX);
                    let cmds = app.update(Msg::Clock { now_ms });
                    self.apply(&mut app, &actor, cmds).await;
                    continue;
                }
                _ = tokio::time::sleep_until(refresh_at.unwrap_or(deadline)), if refresh_at.is_some() => {
                    last_refresh = tokio::time::Instant::now();
                    let cmds = app.update(Msg::Tick);
                    self.apply(&mut app, &actor, cmds).await;
                    continue;
                }
                e = events.recv() => e.unwrap_or(Event::Closed),
                _ = tokio::time::sleep_until(deadline) => {
                    let reason = match timer {
                        live::Timer::Warn => {
                            warned = true;
                            let text = format!(
                                "No input for a while: this session closes in {} s. Press any key to stay.",
                                self.timeouts.idle_warning_secs
                            );
                            app.update(Msg::Warning(text));
                            continue;
                        }
                        live::Timer::Idle => "idle timeout: session closed".to_string(),
                        live::Timer::Max => "maximum session time reached: session closed".to_string(),
                    };
                    break self.close(&actor, &mut frames, &reason).await;
                }
                changed = end.changed() => {
                    let reason = match changed {
                        Ok(()) => end.borrow().clone().unwrap_or_default(),
                        Err(_) => String::new(),
                    };
                    break self.close(&actor, &mut frames, &format!("session ended: {reason}")).await;
                }
                _ = tokio::time::sleep(ESC_TIMEOUT), if decoder.has_pending() => {
                    for input in decoder.flush() {
                        let cmds = app.update(Msg::Input(input));
                        self.apply(&mut app, &actor, cmds).await;
                    }
                    continue;
                }
                _ = frames.retry_tick(), if frames.needs_retry() => continue,
                _ = tokio::time::sleep_until(flush_at.unwrap_or(deadline)), if flush_at.is_some() => {
                    frames.flush_recording();
                    redraw = false;
                    continue;
                }
                Some(msg) = background_rx.recv() => {
                    let cmds = app.update(msg);
                    self.apply(&mut app, &actor, cmds).await;
                    continue;
                }
            };
            match event {
                Event::Input(bytes) => {
                    keystroke.input();
                    if let Some(tap) = &self.input_tap {
                        tap(&bytes);
                    }
                    last_input = tokio::time::Instant::now();
                    live.handle
                        .last_input
                        .store(now_ms() / 1000, std::sync::atomic::Ordering::Relaxed);
                    warned = false;
                    // Keys that went into a secret field (or opened one: "y" then the
                    // code, in one read) are recorded as stars, if input is recorded.
                    let mut secret = app.typing_secret();
                    for input in decoder.feed(&bytes) {
                        let cmds = app.update(Msg::Input(input));
                        self.apply(&mut app, &actor, cmds).await;
                        secret |= app.typing_secret();
                        if app.quit {
                            break;
                        }
                    }
                    frames.record_input(&bytes, secret);
                }
                Event::Resize { cols, rows } => {
                    let (cols, rows) = self.clamp_size(cols, rows);
                    terminal.backend_mut().set_size(cols, rows);
                    app.update(Msg::Resize { cols, rows });
                    frames.record_resize(cols, rows);
                }
                Event::Closed => break Ok(()),
            }
        };
        // The session is over only once its recording is sealed into the audit chain.
        frames.finish_recording().await;
        result
    }

    /// Put a starting session in the live registries (this instance's, and the
    /// database's so the CLI and other instances see it). Leaves both when dropped.
    /// The database row is written off the login's path (it cost 1.4 ms of the first
    /// frame); ending the session waits for it, so the row is never left looking live.
    /// `key_id` is the registered key the login used: removing it ends the session.
    fn register(
        &self,
        actor: &Actor,
        key_id: Option<i64>,
        credential: Option<Credential>,
    ) -> LiveGuard {
        let now_ms = now_ms();
        let handle = self.live.register(
            &actor.session_id,
            actor.user_id,
            now_ms.div_euclid(1000),
            credential,
        );
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
                key_id,
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
    pub(super) async fn ended_before_console(&self, live: &mut LiveGuard) -> Option<String> {
        if let Some(reason) = live.handle.end.borrow().clone() {
            return Some(reason);
        }
        if let Some(recorded) = live.recorded.take() {
            let _ = recorded.await;
        }
        if let Some(reason) = live.handle.end.borrow().clone() {
            return Some(reason);
        }
        self.ended_in_database(&live.handle.id).await
    }

    /// Why session `id` must end, if the database says so (an end asked by the CLI or
    /// another instance, a disabled user, a reset second factor, not yet passed on by
    /// the once-a-second watcher); an unanswered check counts as an end.
    pub(super) async fn ended_in_database(&self, id: &str) -> Option<String> {
        match self.store.sessions_to_end(&[id.to_string()]).await {
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
        frames: &mut Frames,
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

    /// Whether this session may ask for SFTP instead of a console: only once both
    /// factors passed (not a one-time password that leads to enrolment).
    pub fn may_transfer(&self) -> bool {
        self.who.onboarding == crate::auth::Onboarding::Done
    }

    /// What a second channel on this session's connection may be served with: SFTP
    /// beside the console (OpenSSH's `ControlMaster` sends a later `sftp` or `scp` over
    /// the open connection), as this session's user and under its end.
    pub fn companion(&self) -> Companion {
        Companion {
            onboarded: self.may_transfer(),
            actor: self.actor.clone(),
            started: self.at,
            end: self.live.end(),
            last_input: self.live.last_input(),
        }
    }

    /// Its parts, for a session that asked for SFTP instead of a console (see
    /// [`Context::transfer`]).
    pub(super) fn into_parts(
        self,
    ) -> (
        Identity,
        Actor,
        LiveGuard,
        tokio::time::Instant,
        watch::Sender<bool>,
    ) {
        (self.who, self.actor, self.live, self.at, self.shell)
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

/// A session as a later channel on its connection sees it (see
/// [`Authenticated::companion`]): who it is and when it ends. It holds no place in the
/// registries: the session's first channel does, and the connection closes with it.
#[derive(Clone, Debug)]
pub struct Companion {
    /// Both factors passed (not a login that is still enrolling).
    pub(super) onboarded: bool,
    pub(super) actor: Actor,
    pub(super) started: tokio::time::Instant,
    pub(super) end: watch::Receiver<Option<String>>,
    pub(super) last_input: Arc<std::sync::atomic::AtomicI64>,
}

impl Companion {
    /// The session's id (as in `moat sessions` and its audit rows).
    pub fn id(&self) -> &str {
        &self.actor.session_id
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

/// A session's place in the live registries; leaving them when the session ends,
/// however it ends (a panic included).
pub(super) struct LiveGuard {
    handle: live::Handle,
    registry: Arc<live::Registry>,
    store: Store,
    /// The write of the session's row, which its end must follow.
    recorded: Option<tokio::task::JoinHandle<()>>,
}

impl LiveGuard {
    /// Where the session's last input time is kept (for idle times in `:sessions`).
    pub(super) fn last_input(&self) -> Arc<std::sync::atomic::AtomicI64> {
        Arc::clone(&self.handle.last_input)
    }

    /// Why the session must end, once someone asks.
    pub(super) fn end(&self) -> watch::Receiver<Option<String>> {
        self.handle.end.clone()
    }
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
