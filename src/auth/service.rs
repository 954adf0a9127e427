//! The login sequence: lockout check → password (argon2, bounded, off the async threads)
//! → code (TOTP with the replay rule, or a backup code) → counters and audit.
//!
//! Answers never say which factor failed or whether the user exists; the caller shows one
//! generic refusal. Time comes in as `now_ms` (unix milliseconds) from the caller.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use super::lockout::{Effect, Policy};
use super::password::Hasher;
use super::workers::Workers;
use super::{backup, totp};
use crate::domain::LockKey;
use crate::store::{AuditEntry, Store, StoreError};

/// Who a session belongs to once both factors passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub user_id: i64,
    pub username: String,
    pub is_superuser: bool,
    /// Set when the login used a backup code: how many unused codes are left.
    pub backup_codes_left: Option<u32>,
    /// What the user must do before the console opens (first login, reset 2FA).
    pub onboarding: Onboarding,
}

/// Steps a user must take before anything else is reachable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Onboarding {
    /// Nothing: the console opens.
    #[default]
    Done,
    /// Logged in with a one-time password and no TOTP device: enrol one (QR, confirm a
    /// code), then choose a password.
    Enrol,
    /// TOTP is enrolled but the password is still one-time: choose a new one.
    ChangePassword,
}

/// One login attempt: who, from where, when.
#[derive(Clone, Copy, Debug)]
pub struct Attempt<'a> {
    pub username: &'a str,
    pub ip: &'a str,
    pub now_ms: i64,
}

impl Attempt<'_> {
    pub(super) fn now_secs(&self) -> i64 {
        self.now_ms.div_euclid(1000)
    }
}

/// Why a login was refused. Internal: recorded in the audit trail, never shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    UnknownUser,
    BadPassword,
    Disabled,
    NotEnrolled,
    /// A one-time password past its expiry.
    Expired,
    Locked,
    /// Too many verifications already running or queued: refused without hashing.
    Busy,
    BadCode,
    Replay,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::UnknownUser => "unknown user",
            Reason::BadPassword => "bad password",
            Reason::Disabled => "user disabled",
            Reason::NotEnrolled => "no TOTP device",
            Reason::Expired => "one-time password expired",
            Reason::Locked => "locked",
            Reason::Busy => "busy",
            Reason::BadCode => "bad code",
            Reason::Replay => "replayed code",
        }
    }
}

/// A refused step, with what the failure bookkeeping needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub reason: Reason,
    pub user_exists: bool,
}

/// A TOTP device a code is checked against.
pub(super) struct Device<'a> {
    pub user_id: i64,
    pub secret: &'a [u8],
    pub last_step: Option<i64>,
}

/// A code accepted by [`AuthService::spend_code`].
pub(super) struct Spent {
    /// Set when it was a backup code: how many unused ones are left.
    pub backup_codes_left: Option<u32>,
}

/// A login whose password was right and whose code is still to be checked. `Debug`
/// leaves the secret out.
#[derive(Clone)]
pub struct PendingLogin {
    identity: Identity,
    secret: Vec<u8>,
    last_step: Option<i64>,
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
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
    /// A valid one-time password of a user without a TOTP device: logged in with the
    /// password alone, straight into enrolment (nothing else is reachable).
    Enrol(Identity),
    /// Refused. The caller still asks for a code and then refuses, so every failure
    /// looks the same.
    Failed(Refusal),
}

/// Verifications running or queued per source address. One address may use at most
/// half of the capacity (workers + queue), so a flood from one address always leaves room
/// for everyone else, while an office behind one NAT can still log in together.
#[derive(Debug, Default)]
struct InFlight {
    counts: Mutex<HashMap<String, usize>>,
    limit: usize,
}

/// Gives a source's slot back when its verification ends.
struct InFlightMark<'a> {
    set: &'a InFlight,
    ip: String,
}

impl Drop for InFlightMark<'_> {
    fn drop(&mut self) {
        if let Ok(mut m) = self.set.counts.lock() {
            if let Some(n) = m.get_mut(&self.ip) {
                *n -= 1;
                if *n == 0 {
                    m.remove(&self.ip);
                }
            }
        }
    }
}

impl InFlight {
    fn new(limit: usize) -> InFlight {
        InFlight {
            counts: Mutex::new(HashMap::new()),
            limit: limit.max(1),
        }
    }

    fn mark(&self, ip: &str) -> Option<InFlightMark<'_>> {
        let mut counts = self.counts.lock().ok()?;
        let n = counts.entry(ip.to_string()).or_insert(0);
        if *n >= self.limit {
            return None;
        }
        *n += 1;
        Some(InFlightMark {
            set: self,
            ip: ip.to_string(),
        })
    }
}

/// Runs the factors against the store.
#[derive(Clone, Debug)]
pub struct AuthService {
    pub(super) store: Store,
    pub(super) hasher: Arc<Hasher>,
    pub(super) workers: Workers,
    in_flight: Arc<InFlight>,
    policy: Arc<RwLock<Policy>>,
}

impl AuthService {
    /// `max_concurrent` 0 means one verification per CPU core.
    pub fn new(
        store: Store,
        hasher: Arc<Hasher>,
        policy: Policy,
        max_concurrent: u32,
        max_queued: u32,
    ) -> AuthService {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = match usize::try_from(max_concurrent) {
            Ok(0) | Err(_) => cores,
            Ok(n) => n,
        };
        let queue = usize::try_from(max_queued).unwrap_or(usize::MAX);
        AuthService {
            store,
            hasher,
            workers: Workers::new(threads, queue),
            in_flight: Arc::new(InFlight::new(threads.saturating_add(queue) / 2)),
            policy: Arc::new(RwLock::new(policy)),
        }
    }

    pub fn hasher(&self) -> &Hasher {
        &self.hasher
    }

    /// Replace the lockout policy (config reload).
    pub fn set_policy(&self, policy: Policy) {
        if let Ok(mut p) = self.policy.write() {
            *p = policy;
        }
    }

    fn policy(&self) -> Policy {
        match self.policy.read() {
            Ok(p) => *p,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }

    /// Is any key of this attempt locked? (A locked key never reaches argon2.)
    pub(super) async fn locked(
        &self,
        a: &Attempt<'_>,
        user_exists: bool,
    ) -> Result<bool, StoreError> {
        let keys = self.policy().keys(a.username, a.ip, user_exists);
        let now = a.now_secs();
        Ok(self
            .store
            .failure_counters(&keys)
            .await?
            .iter()
            .any(|(_, c)| c.is_locked(now)))
    }

    /// The password step.
    pub async fn check_password(
        &self,
        a: &Attempt<'_>,
        password: &str,
    ) -> Result<PasswordCheck, StoreError> {
        let user = self.store.login_user(a.username).await?;
        let exists = user.is_some();
        let refuse = |reason| {
            Ok(PasswordCheck::Failed(Refusal {
                reason,
                user_exists: exists,
            }))
        };
        if self.locked(a, exists).await? {
            // Take as long as a verification would, without doing one.
            tokio::time::sleep(self.hasher.typical_verify_time()).await;
            return refuse(Reason::Locked);
        }
        let phc = user.as_ref().map(|u| u.password_hash.clone());
        let Some(matches) = self.verify_bounded(a.ip, phc, password).await else {
            return refuse(Reason::Busy);
        };
        let Some(user) = user else {
            return refuse(Reason::UnknownUser);
        };
        if !matches {
            return refuse(Reason::BadPassword);
        }
        if !user.is_active {
            return refuse(Reason::Disabled);
        }
        if user.password_expires_at.is_some_and(|t| a.now_secs() >= t) {
            return refuse(Reason::Expired);
        }
        let identity = |onboarding| Identity {
            user_id: user.id,
            username: user.username.clone(),
            is_superuser: user.is_superuser,
            backup_codes_left: None,
            onboarding,
        };
        // Password alone is enough only for a one-time password of a user who has no
        // TOTP device yet, and only to reach the enrolment screen.
        match &user.totp {
            Some(device) if device.confirmed => Ok(PasswordCheck::NeedCode(PendingLogin {
                identity: identity(if user.must_change_password {
                    Onboarding::ChangePassword
                } else {
                    Onboarding::Done
                }),
                secret: device.secret.clone(),
                last_step: device.last_step,
            })),
            _ if user.must_change_password => Ok(PasswordCheck::Enrol(identity(Onboarding::Enrol))),
            _ => refuse(Reason::NotEnrolled),
        }
    }

    /// Verify on the argon2 workers; `None` when refused as busy (this source already has
    /// a verification running, or the queue is full).
    pub(super) async fn verify_bounded(
        &self,
        ip: &str,
        phc: Option<String>,
        password: &str,
    ) -> Option<bool> {
        let _mark = self.in_flight.mark(ip)?;
        let hasher = Arc::clone(&self.hasher);
        let password = password.to_owned();
        self.workers
            .run(move |blocks| match phc {
                Some(phc) => hasher.verify_in(&phc, &password, blocks),
                None => {
                    hasher.verify_dummy_in(&password, blocks);
                    false
                }
            })
            .await
    }

    /// The code step: a TOTP code (replay rule) or an unused backup code.
    pub async fn check_code(
        &self,
        pending: &PendingLogin,
        a: &Attempt<'_>,
        code: &str,
    ) -> Result<Result<Identity, Reason>, StoreError> {
        if self.locked(a, true).await? {
            return Ok(Err(Reason::Locked));
        }
        let device = Device {
            user_id: pending.identity.user_id,
            secret: &pending.secret,
            last_step: pending.last_step,
        };
        Ok(self
            .spend_code(&device, code, a.now_secs())
            .await?
            .map(|spent| Identity {
                backup_codes_left: spent.backup_codes_left,
                ..pending.identity.clone()
            }))
    }

    /// Check and spend `code` for `device`: a TOTP code (its step becomes the last
    /// accepted one) or an unused backup code (used up).
    pub(super) async fn spend_code(
        &self,
        device: &Device<'_>,
        code: &str,
        now_secs: i64,
    ) -> Result<Result<Spent, Reason>, StoreError> {
        if let Some(normalized) = backup::normalize(code) {
            let hash = backup::hash(&normalized);
            let left = self
                .store
                .use_backup_code(device.user_id, &hash, now_secs)
                .await?;
            return Ok(match left {
                Some(left) => Ok(Spent {
                    backup_codes_left: Some(left),
                }),
                None => Err(Reason::BadCode),
            });
        }
        let now = u64::try_from(now_secs).unwrap_or(0);
        match totp::verify(device.secret, code, now, device.last_step) {
            Err(totp::CodeError::Invalid) => Ok(Err(Reason::BadCode)),
            Err(totp::CodeError::Replay) => Ok(Err(Reason::Replay)),
            Ok(step) if self.store.accept_totp_step(device.user_id, step).await? => Ok(Ok(Spent {
                backup_codes_left: None,
            })),
            Ok(_) => Ok(Err(Reason::Replay)),
        }
    }

    /// Count a refused attempt under its lockout keys and audit it (and any lockout it
    /// started). `Busy` refusals are neither counted nor audited: they did no work.
    pub async fn record_failure(
        &self,
        a: &Attempt<'_>,
        refusal: Refusal,
    ) -> Result<(), StoreError> {
        if refusal.reason == Reason::Busy {
            return Ok(());
        }
        let policy = self.policy();
        let keys = policy.keys(a.username, a.ip, refusal.user_exists);
        let now = a.now_secs();
        let mut started = Vec::new();
        self.store
            .update_failure_counters(&keys, |key, prev| {
                let (next, effect) = policy.record_failure(key, prev, now);
                if let Effect::LockStarted { until, tier } = effect {
                    started.push((key.clone(), until, tier));
                }
                next
            })
            .await?;
        let mut entries = vec![self.entry(a, "login", "failure", refusal.reason.as_str())];
        for (key, until, tier) in started {
            tracing::warn!(%key, until, tier, "lockout started");
            if key.ip.is_empty() && !key.username.is_empty() && refusal.user_exists {
                // The user is locked out everywhere: their open sessions end too.
                if let Some(id) = self.store.user_id(&key.username).await? {
                    self.store
                        .request_user_sessions_end(id, "account locked out", now)
                        .await?;
                }
            }
            entries.push(self.entry(
                a,
                "lockout",
                "started",
                &format!("{key} locked for {} s (lockout #{tier})", until - now),
            ));
        }
        self.store.audit(&entries).await
    }

    /// Clear the (username, address) counter and audit the login.
    pub async fn record_success(&self, a: &Attempt<'_>, who: &Identity) -> Result<(), StoreError> {
        self.store
            .clear_failure_counter(&LockKey::pair(a.username, a.ip))
            .await?;
        let note = match who.onboarding {
            Onboarding::Done => "",
            Onboarding::Enrol => "one-time password: TOTP enrolment and a new password required",
            Onboarding::ChangePassword => "one-time password: a new password required",
        };
        let mut entries = vec![self.entry(a, "login", "success", note)];
        if let Some(left) = who.backup_codes_left {
            entries.push(self.entry(
                a,
                "backup_code",
                "used",
                &format!("{left} unused backup codes left"),
            ));
        }
        self.store.audit(&entries).await
    }

    pub(super) fn entry(
        &self,
        a: &Attempt<'_>,
        action: &str,
        outcome: &str,
        reason: &str,
    ) -> AuditEntry {
        AuditEntry {
            at_ms: a.now_ms,
            // What the client typed as a username, bounded (it may be an attacker's junk).
            actor: Some(a.username.chars().take(64).collect()),
            source_ip: Some(a.ip.to_string()),
            action: action.into(),
            outcome: outcome.into(),
            reason: (!reason.is_empty()).then(|| reason.to_string()),
            ..AuditEntry::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Argon2Config, LockoutConfig};
    use crate::store::test_support::memory_store;
    use crate::store::NewUser;

    const NOW_MS: i64 = 1_700_000_000_000;

    async fn service_with_alice(policy: Policy) -> (AuthService, Vec<u8>) {
        let store = memory_store().await;
        let hasher = Arc::new(
            Hasher::new(Argon2Config {
                memory_kib: 64,
                iterations: 1,
                parallelism: 1,
                ..Argon2Config::default()
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
                password_expires_at: None,
                now: 0,
            })
            .await
            .unwrap();
        (AuthService::new(store, hasher, policy, 0, 16), secret)
    }

    fn attempt(user: &str) -> Attempt<'_> {
        Attempt {
            username: user,
            ip: "10.0.0.1",
            now_ms: NOW_MS,
        }
    }

    fn default_policy() -> Policy {
        Policy::from(&LockoutConfig::default())
    }

    #[tokio::test]
    async fn password_then_code_then_replay_refused() {
        let (auth, secret) = service_with_alice(default_policy()).await;
        let a = attempt("alice");
        let PasswordCheck::NeedCode(pending) =
            auth.check_password(&a, "hunter2hunter2").await.unwrap()
        else {
            panic!("password should pass");
        };
        let code = totp::code_at(&secret, totp::step_at((NOW_MS / 1000) as u64));
        let id = auth.check_code(&pending, &a, &code).await.unwrap().unwrap();
        assert_eq!(id.username, "alice");
        assert_eq!(
            auth.check_code(&pending, &a, &code).await.unwrap(),
            Err(Reason::Replay)
        );
    }

    #[tokio::test]
    async fn wrong_password_and_unknown_user_fail_alike_to_the_caller() {
        let (auth, _) = service_with_alice(default_policy()).await;
        let bad = auth
            .check_password(&attempt("alice"), "nope")
            .await
            .unwrap();
        let ghost = auth
            .check_password(&attempt("ghost"), "hunter2hunter2")
            .await
            .unwrap();
        assert!(matches!(
            bad,
            PasswordCheck::Failed(Refusal {
                reason: Reason::BadPassword,
                ..
            })
        ));
        assert!(matches!(
            ghost,
            PasswordCheck::Failed(Refusal {
                reason: Reason::UnknownUser,
                ..
            })
        ));
    }

    #[tokio::test]
    async fn a_locked_user_is_refused_without_hashing_even_with_the_right_password() {
        let policy = Policy {
            pair_limit: 2,
            ..default_policy()
        };
        let (auth, _) = service_with_alice(policy).await;
        let a = attempt("alice");
        for _ in 0..2 {
            let PasswordCheck::Failed(r) = auth.check_password(&a, "nope").await.unwrap() else {
                panic!()
            };
            auth.record_failure(&a, r).await.unwrap();
        }
        let r = auth.check_password(&a, "hunter2hunter2").await.unwrap();
        assert!(
            matches!(
                r,
                PasswordCheck::Failed(Refusal {
                    reason: Reason::Locked,
                    ..
                })
            ),
            "{r:?}"
        );
        // Audited: two failures, one lockout.
        let log = auth.store.recent_audit(10).await.unwrap();
        assert_eq!(log.iter().filter(|e| e.action == "lockout").count(), 1);
        assert_eq!(
            log.iter()
                .filter(|e| e.reason.as_deref() == Some("bad password"))
                .count(),
            2
        );
        // After the cool-off the right password works again.
        let later = Attempt {
            now_ms: NOW_MS + 901_000,
            ..a
        };
        assert!(matches!(
            auth.check_password(&later, "hunter2hunter2").await.unwrap(),
            PasswordCheck::NeedCode(_)
        ));
    }

    #[tokio::test]
    async fn one_source_gets_at_most_half_of_the_hashing_capacity() {
        let (auth, _) = service_with_alice(default_policy()).await;
        let a = attempt("alice");
        // This address already uses its half of the capacity: refused at once.
        let marks: Vec<_> = (0..auth.in_flight.limit)
            .map(|_| auth.in_flight.mark(a.ip).unwrap())
            .collect();
        let r = auth.check_password(&a, "hunter2hunter2").await.unwrap();
        assert!(matches!(
            r,
            PasswordCheck::Failed(Refusal {
                reason: Reason::Busy,
                ..
            })
        ));
        // Another address is not affected.
        let other = Attempt {
            ip: "10.0.0.2",
            ..a
        };
        assert!(matches!(
            auth.check_password(&other, "hunter2hunter2").await.unwrap(),
            PasswordCheck::NeedCode(_)
        ));
        drop(marks);
        let r = auth.check_password(&a, "hunter2hunter2").await.unwrap();
        assert!(matches!(r, PasswordCheck::NeedCode(_)));
        // Busy refusals are not counted against the user.
        auth.record_failure(
            &a,
            Refusal {
                reason: Reason::Busy,
                user_exists: true,
            },
        )
        .await
        .unwrap();
        assert!(auth.store.list_failure_counters().await.unwrap().is_empty());
    }
}
