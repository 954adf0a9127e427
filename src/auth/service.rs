//! The login sequence: password (argon2, off the async threads), then the TOTP code with
//! the replay rule. Answers never say which factor failed or whether the user exists; the
//! caller shows one generic refusal.

use std::sync::Arc;

use super::password::Hasher;
use super::totp;
use crate::store::{Store, StoreError};

/// Who a session belongs to once both factors passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub user_id: i64,
    pub username: String,
    pub is_superuser: bool,
}

/// A login whose password was right and whose code is still to be checked.
#[derive(Clone, Debug)]
pub struct PendingLogin {
    identity: Identity,
    secret: Vec<u8>,
    last_step: Option<i64>,
}

impl PendingLogin {
    pub fn username(&self) -> &str {
        &self.identity.username
    }
}

/// Outcome of the password step.
#[derive(Debug)]
pub enum PasswordCheck {
    /// Password right; ask for the code.
    NeedCode(PendingLogin),
    /// Wrong password, unknown, disabled or not enrolled user: the caller still asks for a
    /// code and then refuses, so the failure looks the same whichever it was.
    Failed,
}

/// Runs the factors against the store.
#[derive(Clone, Debug)]
pub struct AuthService {
    store: Store,
    hasher: Arc<Hasher>,
}

impl AuthService {
    pub fn new(store: Store, hasher: Arc<Hasher>) -> AuthService {
        AuthService { store, hasher }
    }

    pub fn hasher(&self) -> &Hasher {
        &self.hasher
    }

    /// Check a password. Unknown users are verified against a dummy hash (same cost).
    pub async fn check_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<PasswordCheck, StoreError> {
        let user = self.store.login_user(username).await?;
        let hasher = Arc::clone(&self.hasher);
        let password = password.to_owned();
        let phc = user.as_ref().map(|u| u.password_hash.clone());
        let matches = tokio::task::spawn_blocking(move || match phc {
            Some(phc) => hasher.verify(&phc, &password),
            None => {
                hasher.verify_dummy(&password);
                false
            }
        })
        .await
        .unwrap_or(false);
        let Some(user) = user else {
            return Ok(PasswordCheck::Failed);
        };
        // A user without a confirmed TOTP device cannot log in until enrolment exists as
        // a screen of its own (first-login enrolment issue); never password-only.
        match (matches, user.is_active, user.totp) {
            (true, true, Some(device)) if device.confirmed => {
                Ok(PasswordCheck::NeedCode(PendingLogin {
                    identity: Identity {
                        user_id: user.id,
                        username: user.username,
                        is_superuser: user.is_superuser,
                    },
                    secret: device.secret,
                    last_step: device.last_step,
                }))
            }
            _ => Ok(PasswordCheck::Failed),
        }
    }

    /// Check the code of a pending login at `now` (unix seconds). On success the step is
    /// recorded atomically, so the same code cannot open a second session.
    pub async fn check_code(
        &self,
        pending: &PendingLogin,
        code: &str,
        now: u64,
    ) -> Result<Option<Identity>, StoreError> {
        let Ok(step) = totp::verify(&pending.secret, code, now, pending.last_step) else {
            return Ok(None);
        };
        if self
            .store
            .accept_totp_step(pending.identity.user_id, step)
            .await?
        {
            Ok(Some(pending.identity.clone()))
        } else {
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Argon2Config;
    use crate::store::test_support::memory_store;
    use crate::store::NewUser;

    async fn service_with_alice() -> (AuthService, Vec<u8>) {
        let store = memory_store().await;
        let hasher = Arc::new(
            Hasher::new(Argon2Config {
                memory_kib: 64,
                iterations: 1,
                parallelism: 1,
            })
            .unwrap(),
        );
        let secret = totp::generate_secret();
        let phc = hasher.hash("hunter2hunter2").unwrap();
        store
            .create_user(&NewUser {
                username: "alice",
                password_hash: &phc,
                is_superuser: false,
                totp_secret: Some(&secret),
                must_change_password: false,
                now: 0,
            })
            .await
            .unwrap();
        (AuthService::new(store, hasher), secret)
    }

    #[tokio::test]
    async fn password_then_code_then_replay_refused() {
        let (auth, secret) = service_with_alice().await;
        let now = 1_700_000_000;
        let PasswordCheck::NeedCode(pending) = auth
            .check_password("alice", "hunter2hunter2")
            .await
            .unwrap()
        else {
            panic!("password should pass");
        };
        let code = totp::code_at(&secret, totp::step_at(now));
        assert!(
            auth.check_code(&pending, "000000", now)
                .await
                .unwrap()
                .is_none()
                || code == "000000"
        );
        let id = auth
            .check_code(&pending, &code, now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(id.username, "alice");
        // Same code again, even via a fresh password check: replay.
        let PasswordCheck::NeedCode(again) = auth
            .check_password("alice", "hunter2hunter2")
            .await
            .unwrap()
        else {
            panic!()
        };
        assert!(auth.check_code(&again, &code, now).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn wrong_password_and_unknown_user_fail_alike() {
        let (auth, _) = service_with_alice().await;
        assert!(matches!(
            auth.check_password("alice", "nope").await.unwrap(),
            PasswordCheck::Failed
        ));
        assert!(matches!(
            auth.check_password("mallory", "hunter2hunter2")
                .await
                .unwrap(),
            PasswordCheck::Failed
        ));
    }
}
