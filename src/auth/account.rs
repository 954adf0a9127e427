//! What a logged-in user does to their own account: confirm a TOTP enrolment, change the
//! password, and prove a fresh second factor before a sensitive action (step-up).
//!
//! Like the login sequence these run against the store with time passed in, and every
//! refusal comes back as a sentence for the screen (never a secret).

use super::service::{Device, Reason, Refusal};
use super::{policy, totp, Attempt, AuthService};
use crate::store::{AuditEntry, StoreError};

/// Who is acting, from where, in which session, and when.
#[derive(Clone, Copy, Debug)]
pub struct Acting<'a> {
    pub user_id: i64,
    pub username: &'a str,
    pub ip: &'a str,
    /// The source the login was counted as (see [`Attempt::source`]).
    pub source: &'a str,
    pub session_id: &'a str,
    pub now_ms: i64,
}

impl Acting<'_> {
    fn attempt(&self) -> Attempt<'_> {
        Attempt {
            username: self.username,
            ip: self.ip,
            source: self.source,
            now_ms: self.now_ms,
        }
    }

    fn now_secs(&self) -> i64 {
        self.now_ms.div_euclid(1000)
    }

    fn audit(&self, action: &str, outcome: &str, reason: &str) -> AuditEntry {
        AuditEntry {
            at_ms: self.now_ms,
            actor: Some(self.username.to_string()),
            source_ip: Some(self.ip.to_string()),
            session_id: Some(self.session_id.to_string()),
            action: action.into(),
            model: Some("moat_users".into()),
            pk: Some(self.username.to_string()),
            outcome: outcome.into(),
            reason: (!reason.is_empty()).then(|| reason.to_string()),
            ..AuditEntry::default()
        }
    }
}

/// The refusal shown for a wrong, replayed or locked code.
pub const CODE_REFUSED: &str = "verification code refused: type the current code from your app";

impl AuthService {
    /// Confirm enrolment of `secret` with a `code` the user's app shows: the device is
    /// stored (sealed) with the code's step as the last accepted one.
    pub async fn confirm_enrolment(
        &self,
        who: &Acting<'_>,
        secret: &[u8],
        code: &str,
    ) -> Result<Result<(), String>, StoreError> {
        let now = u64::try_from(who.now_secs()).unwrap_or(0);
        let Ok(step) = totp::verify(secret, code, now, None) else {
            self.store
                .audit(&[who.audit("totp_enrol", "failure", "bad code")])
                .await?;
            return Ok(Err(
                "that code does not match: check the app's clock and type the code it shows now"
                    .into(),
            ));
        };
        let audit = who.audit("totp_enrol", "success", "TOTP device enrolled");
        match self
            .store
            .confirm_totp(who.user_id, secret, step, who.now_secs(), &audit)
            .await
        {
            Ok(()) => Ok(Ok(())),
            Err(StoreError::Conflict(why)) => Ok(Err(why)),
            Err(e) => Err(e),
        }
    }

    /// Change the user's password. `current` is checked when given (a password change
    /// from the console; a forced change after enrolment has just proved both factors).
    /// The new password must pass [`policy::check`] and be typed twice alike.
    pub async fn change_password(
        &self,
        who: &Acting<'_>,
        current: Option<&str>,
        new: &str,
        repeat: &str,
    ) -> Result<Result<(), String>, StoreError> {
        if new != repeat {
            return Ok(Err("the two new passwords differ".into()));
        }
        if let Err(why) = policy::check(who.username, new) {
            return Ok(Err(format!("new password {why}")));
        }
        if let Some(current) = current {
            let stored = self
                .store
                .login_user(who.username)
                .await?
                .map(|u| u.password_hash);
            // A logged-in session's pair is a known source: only its own lock applies.
            if self.locked(&who.attempt(), true, true).await?.is_some() {
                return Ok(Err("too many failed attempts: try again later".into()));
            }
            match self
                .verify_bounded(&who.attempt(), true, stored, current)
                .await
            {
                Some(true) => {}
                Some(false) => {
                    let refusal = Refusal {
                        reason: Reason::BadPassword,
                        user_exists: true,
                    };
                    self.record_session_failure(
                        &who.attempt(),
                        refusal,
                        "password_change",
                        who.session_id,
                    )
                    .await?;
                    return Ok(Err("current password is wrong".into()));
                }
                None => return Ok(Err("busy: try again in a moment".into())),
            }
            if current == new {
                return Ok(Err("the new password is the current one".into()));
            }
        }
        let hasher = std::sync::Arc::clone(&self.hasher);
        let owned = new.to_string();
        let Some(hashed) = self.workers.run(move |_| hasher.hash(&owned)).await else {
            return Ok(Err("busy: try again in a moment".into()));
        };
        let phc = hashed.map_err(|e| StoreError::Conflict(e.to_string()))?;
        let audit = who.audit("password_change", "success", "other sessions ended");
        let forced = current.is_none();
        match self
            .store
            .set_password(
                who.user_id,
                &phc,
                forced,
                who.session_id,
                who.now_secs(),
                &audit,
            )
            .await
        {
            Ok(()) => Ok(Ok(())),
            Err(StoreError::Conflict(why)) => Ok(Err(why)),
            Err(e) => Err(e),
        }
    }

    /// Step-up: check a fresh second factor (a TOTP code, replay rule included, or a
    /// backup code) before a sensitive action. A wrong code counts towards lockout like
    /// a failed login.
    pub async fn step_up(
        &self,
        who: &Acting<'_>,
        code: &str,
    ) -> Result<Result<(), String>, StoreError> {
        let a = who.attempt();
        // A logged-in session's pair is a known source: only its own lock applies.
        if self.locked(&a, true, true).await?.is_some() {
            return Ok(Err(CODE_REFUSED.into()));
        }
        let user = self.store.login_user(who.username).await?;
        let Some(device) = user.as_ref().and_then(|u| u.totp.as_ref()) else {
            return Ok(Err("no TOTP device enrolled".into()));
        };
        let device = Device {
            user_id: who.user_id,
            secret: &device.secret,
            last_step: device.last_step,
        };
        match self.spend_code(&device, code, who.now_secs()).await? {
            Ok(spent) => {
                let note = match spent.backup_codes_left {
                    Some(left) => format!("with a backup code ({left} left)"),
                    None => String::new(),
                };
                self.store
                    .audit(&[who.audit("step_up", "success", &note)])
                    .await?;
                Ok(Ok(()))
            }
            Err(reason) => {
                let refusal = Refusal {
                    reason,
                    user_exists: true,
                };
                self.record_session_failure(&a, refusal, "step_up", who.session_id)
                    .await?;
                Ok(Err(CODE_REFUSED.into()))
            }
        }
    }
}
