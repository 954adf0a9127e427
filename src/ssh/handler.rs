//! The russh handler: authentication callbacks forwarded to `auth::service`, and the
//! session channel handed to [`super::channel`]. No decisions of its own beyond the order
//! of the two factors.
//!
//! Keyboard-interactive runs two rounds: `Password:` then `Verification code:`. The code
//! is asked even when the password was wrong, so a refusal never tells which factor failed
//! or whether the user exists. A client that sends the password through the `password`
//! method gets "partial success" and is then asked only for the code.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use russh::server::{Auth, ChannelOpenHandle, Msg, Response, Session};
use russh::{Channel, ChannelId, MethodKind, MethodSet};
use tokio::sync::oneshot;

use crate::auth::{AuthService, Identity, PasswordCheck, PendingLogin};
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
    /// The code prompt was sent; `pending` is `None` when the password was wrong.
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
    auth: AuthService,
    sessions: Arc<session::Context>,
    stage: Stage,
    identity: Option<Identity>,
    /// Fired once both factors passed: stops the login-grace timer.
    authenticated: Option<oneshot::Sender<()>>,
    channel_open: bool,
}

impl Handler {
    pub fn new(
        peer: SocketAddr,
        auth: AuthService,
        sessions: Arc<session::Context>,
        authenticated: oneshot::Sender<()>,
    ) -> Handler {
        Handler {
            peer,
            auth,
            sessions,
            stage: Stage::Start,
            identity: None,
            authenticated: Some(authenticated),
            channel_open: false,
        }
    }

    fn accept(&mut self, identity: Identity) -> Auth {
        tracing::info!(user = %identity.username, peer = %self.peer, "login");
        self.identity = Some(identity);
        if let Some(tx) = self.authenticated.take() {
            let _ = tx.send(());
        }
        Auth::Accept
    }

    fn refuse(&mut self, user: &str) -> Auth {
        tracing::info!(user = %user.escape_debug(), peer = %self.peer, "login refused");
        self.stage = Stage::Start;
        Auth::reject()
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

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
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
                let Some(password) = single_answer(response) else {
                    return Ok(self.refuse(user));
                };
                let pending = match self.auth.check_password(user, &password).await {
                    Ok(PasswordCheck::NeedCode(p)) => Some(p),
                    Ok(PasswordCheck::Failed) => None,
                    Err(e) => {
                        tracing::error!(error = %e, "password check failed");
                        None
                    }
                };
                self.stage = Stage::AwaitCode { user: u, pending };
                Ok(prompt(CODE_PROMPT))
            }
            (Stage::AwaitCode { user: u, pending }, Some(response)) if u == user => {
                let code = single_answer(response);
                if let (Some(pending), Some(code)) = (pending, code) {
                    match self.auth.check_code(&pending, &code, now_unix()).await {
                        Ok(Some(identity)) => return Ok(self.accept(identity)),
                        Ok(None) => {}
                        Err(e) => tracing::error!(error = %e, "code check failed"),
                    }
                }
                Ok(self.refuse(user))
            }
            _ => Ok(self.refuse(user)),
        }
    }

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        match self.auth.check_password(user, password).await {
            Ok(PasswordCheck::NeedCode(pending)) => {
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
            Ok(PasswordCheck::Failed) => Ok(self.refuse(user)),
            Err(e) => {
                tracing::error!(error = %e, "password check failed");
                Ok(self.refuse(user))
            }
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
