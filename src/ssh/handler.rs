//! The russh handler: authentication callbacks forwarded to `auth::service`, and the
//! session channel handed to [`super::channel`]. No decisions of its own beyond the order
//! of the two factors.
//!
//! Keyboard-interactive runs two rounds: `Password:` then `Verification code:`. The code
//! is asked even when the password was wrong, so a refusal never tells which factor failed
//! or whether the user exists. A client that sends the password through the `password`
//! method gets "partial success" and is then asked only for the code.
//!
//! One exception: a valid one-time password of a user who has no TOTP device yet is
//! accepted alone, and the session it opens shows nothing but the enrolment screen.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use russh::server::{Auth, ChannelOpenHandle, Msg, Response, Session};
use russh::{Channel, ChannelId, MethodKind, MethodSet};
use tokio::sync::oneshot;

use super::LoginEnd;
use crate::auth::{Attempt, AuthService, Identity, PasswordCheck, PendingLogin, Refusal};
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
    /// The `password` method succeeded partially; keyboard-interactive asks the code.
    PasswordPassed { user: String, pending: PendingLogin },
}

/// One connection's handler.
pub struct Handler {
    peer: SocketAddr,
    ip: String,
    auth: AuthService,
    sessions: Arc<session::Context>,
    stage: Stage,
    identity: Option<Identity>,
    /// Tells the connection task how the login phase ended.
    login_end: Option<oneshot::Sender<LoginEnd>>,
    failures: u32,
    max_failures: u32,
    channel_open: bool,
}

impl Handler {
    pub fn new(
        peer: SocketAddr,
        auth: AuthService,
        sessions: Arc<session::Context>,
        login_end: oneshot::Sender<LoginEnd>,
        max_failures: u32,
    ) -> Handler {
        Handler {
            peer,
            ip: peer.ip().to_canonical().to_string(),
            auth,
            sessions,
            stage: Stage::Start,
            identity: None,
            login_end: Some(login_end),
            failures: 0,
            max_failures,
            channel_open: false,
        }
    }

    fn attempt<'a>(&'a self, user: &'a str) -> Attempt<'a> {
        Attempt {
            username: user,
            ip: &self.ip,
            now_ms: now_ms(),
        }
    }

    fn end_login(&mut self, end: LoginEnd) {
        if let Some(tx) = self.login_end.take() {
            let _ = tx.send(end);
        }
    }

    /// Both factors passed.
    async fn accept(&mut self, user: &str, identity: Identity) -> Auth {
        tracing::info!(user = %identity.username, peer = %self.peer, "login");
        if let Err(e) = self
            .auth
            .record_success(&self.attempt(user), &identity)
            .await
        {
            tracing::error!(error = %e, "recording a login failed");
        }
        self.identity = Some(identity);
        self.end_login(LoginEnd::Authenticated);
        Auth::Accept
    }

    /// Count and audit a failed step (once per attempt).
    async fn record(&self, user: &str, refusal: Refusal) {
        tracing::info!(
            user = %user.escape_debug(),
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
        self.failures += 1;
        if self.failures >= self.max_failures {
            self.end_login(LoginEnd::TooManyFailures);
        }
        Auth::reject()
    }

    /// The password step, shared by keyboard-interactive and the `password` method.
    /// `None` when refused (already counted).
    async fn password_step(&mut self, user: &str, password: &str) -> Option<PasswordCheck> {
        match self
            .auth
            .check_password(&self.attempt(user), password)
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
    ) -> Option<Identity> {
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
            (Stage::PasswordPassed { user: u, pending }, None) if u == user => {
                self.stage = Stage::AwaitCode {
                    user: u,
                    pending: Some(pending),
                };
                Ok(prompt(CODE_PROMPT))
            }
            (_, None) => {
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
                let code = single_answer(response);
                if let (Some(pending), Some(code)) = (pending, code) {
                    if let Some(identity) = self.code_step(user, &pending, &code).await {
                        return Ok(self.accept(user, identity).await);
                    }
                }
                Ok(self.refuse())
            }
            _ => Ok(self.refuse()),
        }
    }

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        match self.password_step(user, password).await {
            Some(PasswordCheck::Enrol(identity)) => Ok(self.accept(user, identity).await),
            Some(PasswordCheck::NeedCode(pending)) => {
                self.stage = Stage::PasswordPassed {
                    user: user.into(),
                    pending,
                };
                Ok(Auth::Reject {
                    proceed_with_methods: Some(MethodSet::from(
                        &[MethodKind::KeyboardInteractive][..],
                    )),
                    partial_success: true,
                })
            }
            Some(PasswordCheck::Failed(_)) | None => Ok(self.refuse()),
        }
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        // One console per connection; russh only calls this after authentication.
        let Some(identity) = self.identity.clone().filter(|_| !self.channel_open) else {
            reply
                .reject(russh::ChannelOpenFailure::AdministrativelyProhibited)
                .await;
            return Ok(());
        };
        self.channel_open = true;
        reply.accept().await;
        tokio::spawn(super::channel::drive(
            channel,
            identity,
            self.peer,
            Arc::clone(&self.sessions),
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
