//! The russh handler: authentication callbacks forwarded to `auth::service`, and the
//! session channel handed to [`super::channel`]. No decisions of its own beyond the order
//! of the two factors and what a round costs.
//!
//! Keyboard-interactive runs two rounds: `Password:` then `Verification code:`. The code
//! is asked even when the password was wrong, so a refusal never tells which factor failed
//! or whether the user exists. A client that sends the password through the `password`
//! method always gets "partial success" — right password or wrong — and is then asked for
//! the code; the decision comes only after the code, exactly as in keyboard-interactive.
//!
//! Every round counts. A round that is abandoned — the client restarts
//! keyboard-interactive or sends another `password` before answering, or hangs up at the
//! code prompt — counts toward `max_auth_tries` and waits the rejection delay like a
//! refusal; one whose password was right is also counted toward lockout and audited
//! (`password right, no code given`), so knowing a password without the second factor
//! is visible to operators.
//!
//! One exception: a valid one-time password of a user who has no TOTP device yet is
//! accepted alone, and the session it opens shows nothing but the enrolment screen.
//!
//! The session exists from the moment both factors pass ([`session::Authenticated`]):
//! it is registered, can be ended, and its clock runs, before any channel is opened.
//!
//! Where a login rule takes keys, `publickey` comes first (see [`keys`]): a key or
//! certificate that passes is answered with partial success, and keyboard-interactive then
//! asks what the user's rule still needs (password and code, or the code alone). A round
//! of password and code without the key a rule requires runs to its end and is refused:
//! moat enforces the order, whatever order the client tries.

mod keys;

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use russh::server::{Auth, ChannelOpenHandle, Msg, Response, Session};
use russh::{Channel, ChannelId, MethodKind, MethodSet};
use tokio::sync::oneshot;

use super::LoginEnd;
use crate::auth::{
    AfterKey, Attempt, AuthService, KeyPass, PasswordCheck, PendingLogin, Reason, Refusal,
};
use crate::domain::log_text;
use crate::session;

/// Prompt texts (tests and the README rely on the words `Password` and `Verification code`).
pub const PASSWORD_PROMPT: &str = "Password: ";
pub const CODE_PROMPT: &str = "Verification code: ";

/// Where a connection is in the login sequence.
#[derive(Debug, Default)]
enum Stage {
    #[default]
    Start,
    /// The password prompt was sent for this user.
    AwaitPassword { user: String },
    /// The code prompt was sent; `pending` is `None` when the password step already failed
    /// (and was counted).
    AwaitCode {
        user: String,
        pending: Option<PendingLogin>,
    },
    /// The `password` method was answered with partial success (whatever the password);
    /// keyboard-interactive asks the code next. `pending` as in `AwaitCode`.
    PasswordDone {
        user: String,
        pending: Option<PendingLogin>,
    },
}

impl Stage {
    /// The user and login of a round whose password was right and whose code is not in.
    fn password_passed(&self) -> Option<&str> {
        match self {
            Stage::AwaitCode {
                user,
                pending: Some(_),
            }
            | Stage::PasswordDone {
                user,
                pending: Some(_),
            } => Some(user),
            _ => None,
        }
    }
}

/// One connection's handler.
pub struct Handler {
    peer: SocketAddr,
    ip: String,
    /// What this connection's attempts are counted as (see `auth::Attempt::source`).
    source: String,
    auth: AuthService,
    sessions: Arc<session::Context>,
    stage: Stage,
    /// The session, from the moment both factors passed until its channel takes it.
    login: Option<session::Authenticated>,
    /// Tells the connection task how the login phase ended.
    login_end: Option<oneshot::Sender<LoginEnd>>,
    failures: u32,
    max_failures: u32,
    /// What every refusal costs; an abandoned round waits it too.
    rejection: Duration,
    /// The key step that passed on this connection (for its user), if any.
    key: Option<KeyPass>,
    /// A key accepted for signing (user, key) whose verified signature has not come yet.
    offer: Option<(String, ssh_key::public::KeyData)>,
    /// The session handed to the channel may use SFTP (fully logged in).
    sftp: bool,
    /// The session as later channels of this connection see it, once its first channel
    /// took it (see [`session::Authenticated::companion`]).
    companion: Option<session::Companion>,
    /// Later channels opened so far (at most [`MAX_BESIDE`]).
    beside: usize,
}

/// Channels a connection may open beside its session's first one (SFTP transfers over
/// an OpenSSH `ControlMaster` connection, say).
const MAX_BESIDE: usize = 4;

impl Handler {
    pub fn new(
        peer: SocketAddr,
        auth: AuthService,
        sessions: Arc<session::Context>,
        login_end: oneshot::Sender<LoginEnd>,
        max_failures: u32,
        rejection: Duration,
        source: String,
    ) -> Handler {
        Handler {
            peer,
            ip: peer.ip().to_canonical().to_string(),
            source,
            auth,
            sessions,
            stage: Stage::Start,
            login: None,
            login_end: Some(login_end),
            failures: 0,
            max_failures,
            rejection,
            key: None,
            offer: None,
            sftp: false,
            companion: None,
            beside: 0,
        }
    }

    fn attempt<'a>(&'a self, user: &'a str) -> Attempt<'a> {
        Attempt {
            username: user,
            ip: &self.ip,
            source: &self.source,
            now_ms: now_ms(),
        }
    }

    fn end_login(&mut self, end: LoginEnd) {
        if let Some(tx) = self.login_end.take() {
            let _ = tx.send(end);
        }
    }

    /// Both factors passed: the session starts now (registered, visible, endable), even
    /// though no channel is open yet.
    async fn accept(&mut self, user: &str, identity: crate::auth::Identity) -> Auth {
        if let Err(e) = self
            .auth
            .record_success(&self.attempt(user), &identity)
            .await
        {
            tracing::error!(error = %e, "recording a login failed");
        }
        let mut login = self
            .sessions
            .authenticated(identity, &self.ip, &self.source);
        tracing::info!(user = %log_text(login.username()), peer = %self.peer, session_id = %login.id(), "login");
        let watch = login.watch();
        self.login = Some(login);
        self.end_login(LoginEnd::Authenticated(watch));
        Auth::Accept
    }

    /// Count and audit a failed step (once per attempt).
    async fn record(&self, user: &str, refusal: Refusal) {
        tracing::info!(
            user = %log_text(user),
            peer = %self.peer,
            reason = refusal.reason.as_str(),
            "login step refused"
        );
        if let Err(e) = self.auth.record_failure(&self.attempt(user), refusal).await {
            tracing::error!(error = %e, "recording a failed login failed");
        }
    }

    /// The generic refusal. After `max_failures` of them the connection is closed.
    fn refuse(&mut self) -> Auth {
        self.stage = Stage::Start;
        self.count_round();
        Auth::reject()
    }

    /// One more failed round on this connection; the last one allowed closes it.
    fn count_round(&mut self) {
        self.failures += 1;
        if self.failures >= self.max_failures {
            self.end_login(LoginEnd::TooManyFailures);
        }
    }

    /// A new round begins while `previous` was under way: that round was abandoned. It
    /// costs what a refusal costs (a counted try and the rejection delay), and one whose
    /// password was right is counted toward lockout and audited. Returns the refusal
    /// when this was the last try the connection had.
    async fn abandon(&mut self, previous: Stage) -> Option<Auth> {
        if matches!(previous, Stage::Start) {
            return None;
        }
        if let Some(user) = previous.password_passed() {
            let refusal = Refusal {
                reason: Reason::NoCode,
                user_exists: true,
            };
            self.record(user, refusal).await;
        }
        tokio::time::sleep(self.rejection).await;
        self.count_round();
        (self.failures >= self.max_failures).then(Auth::reject)
    }

    /// The password step, shared by keyboard-interactive and the `password` method.
    /// `None` when refused (already counted).
    async fn password_step(&mut self, user: &str, password: &str) -> Option<PasswordCheck> {
        let key = self.key_for(user);
        match self
            .auth
            .check_password_after_key(&self.attempt(user), password, key)
            .await
        {
            Ok(PasswordCheck::Failed(refusal)) => {
                self.record(user, refusal).await;
                None
            }
            Ok(passed) => Some(passed),
            Err(e) => {
                tracing::error!(error = %e, "password check failed");
                None
            }
        }
    }

    /// The code step; `None` when refused (already counted).
    async fn code_step(
        &mut self,
        user: &str,
        pending: &PendingLogin,
        code: &str,
    ) -> Option<crate::auth::Identity> {
        match self
            .auth
            .check_code(pending, &self.attempt(user), code)
            .await
        {
            Ok(Ok(identity)) => Some(identity),
            Ok(Err(reason)) => {
                let refusal = Refusal {
                    reason,
                    user_exists: true,
                };
                self.record(user, refusal).await;
                None
            }
            Err(e) => {
                tracing::error!(error = %e, "code check failed");
                None
            }
        }
    }
}

impl Drop for Handler {
    /// A client that hangs up at the code prompt after a right password is counted and
    /// audited like one that restarts the round.
    fn drop(&mut self) {
        if let Some((user, key)) = self.offer.take() {
            self.unsigned_offer(user, key);
        }
        let Some(user) = self.stage.password_passed().map(str::to_string) else {
            return;
        };
        let (auth, ip, source) = (self.auth.clone(), self.ip.clone(), self.source.clone());
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let a = Attempt {
                    username: &user,
                    ip: &ip,
                    source: &source,
                    now_ms: now_ms(),
                };
                let refusal = Refusal {
                    reason: Reason::NoCode,
                    user_exists: true,
                };
                if let Err(e) = auth.record_failure(&a, refusal).await {
                    tracing::error!(error = %e, "recording an abandoned login failed");
                }
            });
        }
    }
}

fn prompt(text: &'static str) -> Auth {
    Auth::Partial {
        name: Cow::Borrowed(""),
        instructions: Cow::Borrowed(""),
        prompts: Cow::Owned(vec![(Cow::Borrowed(text), false)]),
    }
}

/// The single answer of a keyboard-interactive round, if there is exactly one.
fn single_answer(response: Response<'_>) -> Option<String> {
    let mut answers = response.take(2).collect::<Vec<_>>();
    if answers.len() != 1 {
        return None;
    }
    answers
        .pop()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// The one place the SSH front reads the clock; rules get it passed in.
pub(super) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl russh::server::Handler for Handler {
    type Error = russh::Error;

    async fn auth_keyboard_interactive<'a>(
        &'a mut self,
        user: &str,
        _submethods: &str,
        response: Option<Response<'a>>,
    ) -> Result<Auth, Self::Error> {
        match (std::mem::take(&mut self.stage), response) {
            (Stage::PasswordDone { user: u, pending }, None) if u == user => {
                self.stage = Stage::AwaitCode { user: u, pending };
                Ok(prompt(CODE_PROMPT))
            }
            (previous, None) => {
                if let Some(refused) = self.settle_offer() {
                    return Ok(refused);
                }
                if let Some(refused) = self.abandon(previous).await {
                    return Ok(refused);
                }
                // After a key: the code alone, when the user's rule asks no password.
                if let Some(pass) = self.key_for(user).cloned() {
                    match self.auth.after_key(&pass).await {
                        Ok(AfterKey::Code(pending)) => {
                            self.stage = Stage::AwaitCode {
                                user: user.into(),
                                pending: Some(pending),
                            };
                            return Ok(prompt(CODE_PROMPT));
                        }
                        Ok(AfterKey::Password) => {}
                        Err(e) => {
                            tracing::error!(error = %e, "reading the step after a key failed")
                        }
                    }
                }
                self.stage = Stage::AwaitPassword { user: user.into() };
                Ok(prompt(PASSWORD_PROMPT))
            }
            (Stage::AwaitPassword { user: u }, Some(response)) if u == user => {
                let passed = match single_answer(response) {
                    Some(password) => self.password_step(user, &password).await,
                    None => None,
                };
                let pending = match passed {
                    // A one-time password of a user with no TOTP yet: straight in, to
                    // the enrolment screen only.
                    Some(PasswordCheck::Enrol(identity)) => {
                        return Ok(self.accept(user, identity).await)
                    }
                    Some(PasswordCheck::NeedCode(pending)) => Some(pending),
                    Some(PasswordCheck::Failed(_)) | None => None,
                };
                self.stage = Stage::AwaitCode { user: u, pending };
                Ok(prompt(CODE_PROMPT))
            }
            (Stage::AwaitCode { user: u, pending }, Some(response)) if u == user => {
                match (pending, single_answer(response)) {
                    (Some(pending), Some(code)) => {
                        if let Some(identity) = self.code_step(user, &pending, &code).await {
                            return Ok(self.accept(user, identity).await);
                        }
                    }
                    // No answer, or several: the right password still gave no code.
                    (Some(_), None) => {
                        let refusal = Refusal {
                            reason: Reason::NoCode,
                            user_exists: true,
                        };
                        self.record(user, refusal).await;
                    }
                    (None, _) => {}
                }
                Ok(self.refuse())
            }
            (previous, Some(_)) => {
                // An answer to a prompt this connection did not send (or for another
                // user): refused, and a right password left behind is still counted.
                if let Some(user) = previous.password_passed() {
                    let refusal = Refusal {
                        reason: Reason::NoCode,
                        user_exists: true,
                    };
                    self.record(user, refusal).await;
                }
                Ok(self.refuse())
            }
        }
    }

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        if let Some(refused) = self.settle_offer() {
            return Ok(refused);
        }
        let previous = std::mem::take(&mut self.stage);
        if let Some(refused) = self.abandon(previous).await {
            return Ok(refused);
        }
        let pending = match self.password_step(user, password).await {
            Some(PasswordCheck::Enrol(identity)) => return Ok(self.accept(user, identity).await),
            Some(PasswordCheck::NeedCode(pending)) => Some(pending),
            Some(PasswordCheck::Failed(_)) | None => None,
        };
        // Right or wrong, the same answer: the code is asked next, and only then decided.
        self.stage = Stage::PasswordDone {
            user: user.into(),
            pending,
        };
        Ok(Auth::Reject {
            proceed_with_methods: Some(MethodSet::from(&[MethodKind::KeyboardInteractive][..])),
            partial_success: true,
        })
    }

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: russh::server::PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(self.key_offered(user, offer).await)
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: russh::server::VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(self.key_verified(user, key).await)
    }

    async fn auth_openssh_certificate(
        &mut self,
        user: &str,
        certificate: &russh::keys::Certificate,
    ) -> Result<Auth, Self::Error> {
        Ok(self.certificate_verified(user, certificate).await)
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        // One session per connection, served on its first channel; later ones may have
        // SFTP beside it. russh only calls this after authentication.
        let Some(login) = self.login.take() else {
            match &self.companion {
                Some(session) if self.beside < MAX_BESIDE => {
                    self.beside += 1;
                    let session = session.clone();
                    reply.accept().await;
                    let span = tracing::info_span!("session", session_id = %session.id());
                    tokio::spawn(tracing::Instrument::instrument(
                        super::channel::beside(channel, session, Arc::clone(&self.sessions)),
                        span,
                    ));
                }
                _ => {
                    reply
                        .reject(russh::ChannelOpenFailure::AdministrativelyProhibited)
                        .await;
                }
            }
            return Ok(());
        };
        self.sftp = login.may_transfer();
        self.companion = Some(login.companion());
        reply.accept().await;
        // Every line logged for the session carries its id (`log_format = "json"`: in `span`).
        let span = tracing::info_span!("session", session_id = %login.id());
        tokio::spawn(tracing::Instrument::instrument(
            super::channel::drive(channel, login, self.peer, Arc::clone(&self.sessions)),
            span,
        ));
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _cols: u32,
        _rows: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)?;
        Ok(())
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)?;
        Ok(())
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        // The channel serves it (`channel`, then `sftp`); a session still setting up
        // its account is refused there too, and audited.
        if name == "sftp" && self.sftp {
            session.channel_success(channel)?;
        } else {
            session.channel_failure(channel)?;
        }
        Ok(())
    }

    async fn window_change_request(
        &mut self,
        channel: ChannelId,
        _cols: u32,
        _rows: u32,
        _pix_width: u32,
        _pix_height: u32,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)?;
        Ok(())
    }
}
