//! The login sequence: lockout check → password (argon2, bounded, off the async threads)
//! → code (TOTP with the replay rule, or a backup code) → counters and audit.
//!
//! Answers never say which factor failed or whether the user exists; the caller shows one
//! generic refusal. Time comes in as `now_ms` (unix milliseconds) from the caller.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use super::keys::KeyRules;
use super::lockout::{Effect, LockScope, Policy};
use super::password::Hasher;
use super::workers::Workers;
use super::{backup, totp};
use crate::domain::log_text;
use crate::metrics::Login;
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
    /// The key or certificate the login used, when a rule asked for one.
    pub key: Option<KeyUse>,
}

/// The public key or certificate a login used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyUse {
    /// The registered key (removing it ends the session); `None` for a certificate.
    pub key_id: Option<i64>,
    /// For the audit trail: `key SHA256:… (#3)`, or the certificate's key id and serial.
    pub what: String,
    /// The key or certificate itself, so that revoking it later ends the session.
    pub credential: Credential,
}

/// The key factor a login presented.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    Key(Box<ssh_key::public::KeyData>),
    Certificate(Box<ssh_key::Certificate>),
}

impl Credential {
    /// Why `list` revokes this key or certificate, if it does.
    pub fn revoked_by(&self, list: &super::keys::RevocationList) -> Option<&'static str> {
        match self {
            Credential::Key(key) => list.revokes_key(key).then_some("its key was revoked"),
            Credential::Certificate(cert) => list.revokes_certificate(cert),
        }
    }
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
    /// The client's address, as audited.
    pub ip: &'a str,
    /// The source it is counted as (lockout keys, known sources, the hashing bound): the
    /// address for IPv4, its network for IPv6 (`[limits] ipv6_prefix`), so rotating
    /// through the addresses of one /64 buys nothing.
    pub source: &'a str,
    pub now_ms: i64,
}

impl Attempt<'_> {
    pub(super) fn now_secs(&self) -> i64 {
        self.now_ms.div_euclid(1000)
    }
}

/// What a failed check was: a login at the door, or a check inside a session.
#[derive(Clone, Copy, Debug)]
enum Checked<'a> {
    Login,
    InSession {
        action: &'a str,
        session_id: &'a str,
    },
}

impl Checked<'_> {
    /// The audit action the failure is recorded under.
    fn action(&self) -> &str {
        match self {
            Checked::Login => "login",
            Checked::InSession { action, .. } => action,
        }
    }

    /// `entry` with the session it happened in, when it happened in one.
    fn label(self, mut entry: AuditEntry) -> AuditEntry {
        if let Checked::InSession { session_id, .. } = self {
            entry.session_id = Some(session_id.to_string());
        }
        entry
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
    /// A key of the attempt was already locked (which one: for the audit row).
    Locked(LockScope),
    /// Too many verifications already running or queued: refused without hashing.
    Busy,
    BadCode,
    Replay,
    /// The password was right but the client never answered the code prompt (it
    /// restarted the round, switched method or hung up): knowing a password without the
    /// second factor is counted and visible.
    NoCode,
    /// The user's rule requires a public key first and none passed on this connection.
    NoKey,
    /// A registered key was offered and accepted for signing, and no valid signature
    /// followed (russh refuses a bad signature without telling the handler; the next
    /// request, or the hang-up, shows it never came).
    BadSignature,
    /// A revoked key or certificate (`revoked_keys`).
    KeyRevoked,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::UnknownUser => "unknown user",
            Reason::BadPassword => "bad password",
            Reason::Disabled => "user disabled",
            Reason::NotEnrolled => "no TOTP device",
            Reason::Expired => "one-time password expired",
            Reason::Locked(LockScope::Pair) => "locked: this username from this address",
            Reason::Locked(LockScope::User) => "locked: this username",
            Reason::Locked(LockScope::Address) => "locked: this address",
            Reason::Busy => "busy",
            Reason::BadCode => "bad code",
            Reason::Replay => "replayed code",
            Reason::NoCode => "password right, no code given",
            Reason::NoKey => "public key required, none given",
            Reason::BadSignature => "key offered, no valid signature",
            Reason::KeyRevoked => "key revoked",
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
    /// The user's rule requires a key and none passed: the round goes on (so it looks
    /// like any other) and is refused at the end.
    missing_key: bool,
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

/// Argon2 verifications running or queued, bounded so that nobody can starve everyone
/// else's logins (capacity = workers + queue):
/// - one source address may hold at most half of the capacity, so a flood from one
///   address always leaves room, while an office behind one NAT can still log in;
/// - a quarter (at least two slots) is reserved for known sources (a pair that logged in
///   recently), so a flood of strangers from many addresses still leaves real users a
///   way in;
/// - one username may hold at most half of that reserve (at least one slot), so an
///   insider who knows a password and loops on it from addresses where they logged in
///   before cannot fill the reserve either, while strangers fill the rest.
#[derive(Debug, Default)]
struct InFlight {
    counts: Mutex<Counts>,
    per_source: usize,
    per_user: usize,
    /// Slots strangers (not known sources) may hold together.
    strangers: usize,
}

#[derive(Debug, Default)]
struct Counts {
    by_source: HashMap<String, usize>,
    by_user: HashMap<String, usize>,
    strangers: usize,
}

/// Gives a verification's slots back when it ends.
struct InFlightMark<'a> {
    set: &'a InFlight,
    source: String,
    user: String,
    known: bool,
}

fn give_back(map: &mut HashMap<String, usize>, key: &str) {
    if let Some(n) = map.get_mut(key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(key);
        }
    }
}

impl Drop for InFlightMark<'_> {
    fn drop(&mut self) {
        let mut c = match self.set.counts.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        give_back(&mut c.by_source, &self.source);
        give_back(&mut c.by_user, &self.user);
        if !self.known {
            c.strangers = c.strangers.saturating_sub(1);
        }
    }
}

/// Why [`InFlight::mark`] refused a verification (for the audit row).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Full {
    Source,
    User,
    Strangers,
}

impl InFlight {
    fn new(capacity: usize) -> InFlight {
        let capacity = capacity.max(1);
        // With fewer than three slots nothing can be kept aside.
        let reserve = if capacity >= 3 {
            (capacity / 4).max(2)
        } else {
            0
        };
        InFlight {
            counts: Mutex::new(Counts::default()),
            per_source: (capacity / 2).max(1),
            per_user: (reserve / 2).max(1),
            strangers: (capacity - reserve).max(1),
        }
    }

    /// Take a slot for a verification of `user` from `source` (`known`: the pair is a
    /// known source), or say which bound is reached.
    fn mark(&self, source: &str, user: &str, known: bool) -> Result<InFlightMark<'_>, Full> {
        let mut c = match self.counts.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        if c.by_source.get(source).copied().unwrap_or(0) >= self.per_source {
            return Err(Full::Source);
        }
        if c.by_user.get(user).copied().unwrap_or(0) >= self.per_user {
            return Err(Full::User);
        }
        if !known && c.strangers >= self.strangers {
            return Err(Full::Strangers);
        }
        *c.by_source.entry(source.to_string()).or_insert(0) += 1;
        *c.by_user.entry(user.to_string()).or_insert(0) += 1;
        if !known {
            c.strangers += 1;
        }
        Ok(InFlightMark {
            set: self,
            source: source.to_string(),
            user: user.to_string(),
            known,
        })
    }
}

/// How long the last verifications took, queueing included: a refusal that skips the
/// hash (a locked key) waits as long as one of them, drawn at random, so it has the
/// same distribution of times as a real verification under the same load.
#[derive(Debug, Default)]
struct RecentTimes {
    times: Mutex<std::collections::VecDeque<std::time::Duration>>,
}

impl RecentTimes {
    const KEEP: usize = 64;

    fn note(&self, took: std::time::Duration) {
        let mut t = match self.times.lock() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        };
        if t.len() == Self::KEEP {
            t.pop_front();
        }
        t.push_back(took);
    }

    fn sample(&self) -> Option<std::time::Duration> {
        let t = match self.times.lock() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        };
        if t.is_empty() {
            return None;
        }
        let i = rand::Rng::gen_range(&mut rand::thread_rng(), 0..t.len());
        t.get(i).copied()
    }
}

/// "Busy" refusals are audited, at most one row per [`BUSY_AUDIT_EVERY_MS`], carrying
/// how many were refused since the last row: a flood cannot flood the audit table.
const BUSY_AUDIT_EVERY_MS: i64 = 10_000;

#[derive(Debug, Default)]
struct BusyLog {
    last_ms: Option<i64>,
    since: u64,
}

impl BusyLog {
    /// Note a refusal at `now_ms`; `Some(n)` when a row is due, covering `n` refusals.
    fn note(&mut self, now_ms: i64) -> Option<u64> {
        self.since += 1;
        if self
            .last_ms
            .is_some_and(|t| now_ms.saturating_sub(t) < BUSY_AUDIT_EVERY_MS)
        {
            return None;
        }
        self.last_ms = Some(now_ms);
        Some(std::mem::take(&mut self.since))
    }
}

/// Runs the factors against the store.
#[derive(Clone, Debug)]
pub struct AuthService {
    pub(super) store: Store,
    pub(super) hasher: Arc<Hasher>,
    pub(super) workers: Workers,
    in_flight: Arc<InFlight>,
    busy: Arc<Mutex<BusyLog>>,
    took: Arc<RecentTimes>,
    policy: Arc<RwLock<Arc<Policy>>>,
    /// `[auth]`, trusted CAs and revoked keys; replaced whole on a config reload (a login
    /// works on the rules it started with).
    keys: Arc<RwLock<Arc<KeyRules>>>,
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
            in_flight: Arc::new(InFlight::new(threads.saturating_add(queue))),
            busy: Arc::new(Mutex::new(BusyLog::default())),
            took: Arc::new(RecentTimes::default()),
            policy: Arc::new(RwLock::new(Arc::new(policy))),
            keys: Arc::default(),
        }
    }

    /// This service with `[auth]` rules, trusted CAs and revoked keys (default: password
    /// and code for everyone, no keys).
    pub fn with_key_rules(self, rules: KeyRules) -> AuthService {
        self.set_key_rules(rules);
        self
    }

    /// Replace the `[auth]` rules, trusted CAs and revocation list (config reload): the
    /// next login is held to them.
    pub fn set_key_rules(&self, rules: KeyRules) {
        match self.keys.write() {
            Ok(mut k) => *k = Arc::new(rules),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(rules),
        }
    }

    /// The revocation list now (read again if its file changed); `None` when it cannot
    /// be read: open sessions are not ended over a file the operator is rewriting (new
    /// logins with keys are refused meanwhile).
    pub fn revocation_list(&self) -> Option<Arc<super::keys::RevocationList>> {
        self.key_rules().revocations().ok()
    }

    /// The key rules now.
    pub(super) fn key_rules(&self) -> Arc<KeyRules> {
        match self.keys.read() {
            Ok(k) => Arc::clone(&k),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    pub fn hasher(&self) -> &Hasher {
        &self.hasher
    }

    /// Replace the lockout policy (config reload).
    pub fn set_policy(&self, policy: Policy) {
        match self.policy.write() {
            Ok(mut p) => *p = Arc::new(policy),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(policy),
        }
    }

    fn policy(&self) -> Arc<Policy> {
        match self.policy.read() {
            Ok(p) => Arc::clone(&p),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Whether this attempt's (username, address) pair is a known source: the user
    /// exists and logged in successfully from this address recently.
    pub(super) async fn known_source(
        &self,
        a: &Attempt<'_>,
        user_exists: bool,
    ) -> Result<bool, StoreError> {
        if !user_exists {
            return Ok(false);
        }
        let last = self.store.last_success_from(a.username, a.source).await?;
        Ok(self.policy().is_known_source(last, a.now_secs()))
    }

    /// Which key of this attempt is locked, if any (a locked key never reaches argon2).
    /// A known source is refused only by its own pair's lock.
    pub(super) async fn locked(
        &self,
        a: &Attempt<'_>,
        user_exists: bool,
        known_source: bool,
    ) -> Result<Option<LockScope>, StoreError> {
        let policy = self.policy();
        let keys = policy.keys(a.username, a.source, user_exists);
        let counters = self.store.failure_counters(&keys).await?;
        Ok(policy
            .blocking(&counters, known_source, a.now_secs())
            .map(LockScope::of))
    }

    /// The password step, on a connection where no key passed.
    pub async fn check_password(
        &self,
        a: &Attempt<'_>,
        password: &str,
    ) -> Result<PasswordCheck, StoreError> {
        self.check_password_after_key(a, password, None).await
    }

    /// The password step; `key` is the key step that passed on this connection, if any.
    /// A user whose rule requires a key and who has none goes on to the code like anyone
    /// else, and is refused at the end (`public key required, none given`).
    pub async fn check_password_after_key(
        &self,
        a: &Attempt<'_>,
        password: &str,
        key: Option<&KeyPass>,
    ) -> Result<PasswordCheck, StoreError> {
        let user = self.store.login_user(a.username).await?;
        let exists = user.is_some();
        let refuse = |reason| {
            Ok(PasswordCheck::Failed(Refusal {
                reason,
                user_exists: exists,
            }))
        };
        let known = self.known_source(a, exists).await?;
        if let Some(scope) = self.locked(a, exists, known).await? {
            // Take as long as a verification does now (queueing included), without
            // doing one: a locked account must not be told apart by its timing.
            let like = self
                .took
                .sample()
                .unwrap_or_else(|| self.hasher.typical_verify_time());
            tokio::time::sleep(like).await;
            return refuse(Reason::Locked(scope));
        }
        let phc = user.as_ref().map(|u| u.password_hash.clone());
        let Some(matches) = self.verify_bounded(a, known, phc, password).await else {
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
        let key_use = key.filter(|k| k.user_id == user.id).map(|k| k.used.clone());
        let missing_key = key_use.is_none() && self.factors_of(&user).await?.publickey;
        let identity = |onboarding| Identity {
            user_id: user.id,
            username: user.username.clone(),
            is_superuser: user.is_superuser,
            backup_codes_left: None,
            onboarding,
            key: key_use.clone(),
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
                missing_key,
            })),
            _ if user.must_change_password && missing_key => refuse(Reason::NoKey),
            _ if user.must_change_password => Ok(PasswordCheck::Enrol(identity(Onboarding::Enrol))),
            _ => refuse(Reason::NotEnrolled),
        }
    }

    /// Verify on the argon2 workers; `None` when refused as busy (this source or this
    /// username holds its share already, strangers fill theirs, or the queue is full).
    pub(super) async fn verify_bounded(
        &self,
        a: &Attempt<'_>,
        known_source: bool,
        phc: Option<String>,
        password: &str,
    ) -> Option<bool> {
        let user: String = a.username.chars().take(64).collect();
        let _mark = match self.in_flight.mark(a.source, &user, known_source) {
            Ok(mark) => mark,
            Err(full) => {
                tracing::debug!(?full, "verification refused as busy");
                return None;
            }
        };
        let hasher = Arc::clone(&self.hasher);
        let password = password.to_owned();
        let started = std::time::Instant::now();
        let matches = self
            .workers
            .run(move |blocks| match phc {
                Some(phc) => hasher.verify_in(&phc, &password, blocks),
                None => {
                    hasher.verify_dummy_in(&password, blocks);
                    false
                }
            })
            .await;
        if matches.is_some() {
            self.took.note(started.elapsed());
        }
        matches
    }

    /// The code step: a TOTP code (replay rule) or an unused backup code.
    pub async fn check_code(
        &self,
        pending: &PendingLogin,
        a: &Attempt<'_>,
        code: &str,
    ) -> Result<Result<Identity, Reason>, StoreError> {
        let known = self.known_source(a, true).await?;
        if let Some(scope) = self.locked(a, true, known).await? {
            return Ok(Err(Reason::Locked(scope)));
        }
        let device = Device {
            user_id: pending.identity.user_id,
            secret: &pending.secret,
            last_step: pending.last_step,
        };
        let spent = self.spend_code(&device, code, a.now_secs()).await?;
        if spent.is_ok() && pending.missing_key {
            return Ok(Err(Reason::NoKey));
        }
        Ok(spent.map(|spent| Identity {
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
    /// started). Not counted: `Busy` refusals (they did no work; audited at most once per
    /// 10 s with a count) and refusals of an already locked key (audited with the key, so
    /// hammering a locked address never adds to the username's count).
    ///
    /// A lockout started here never ends live sessions: failed guesses are a stranger's
    /// doing, and ending the real user's session would hand strangers a kill switch.
    /// Operators end sessions (disable, 2FA reset, `moat sessions end`).
    pub async fn record_failure(
        &self,
        a: &Attempt<'_>,
        refusal: Refusal,
    ) -> Result<(), StoreError> {
        self.record_failure_noting(a, refusal, None).await
    }

    /// [`Self::record_failure`], with `note` (which key, which certificate) after the
    /// reason in the audit row.
    pub async fn record_failure_noting(
        &self,
        a: &Attempt<'_>,
        refusal: Refusal,
        note: Option<&str>,
    ) -> Result<(), StoreError> {
        self.record_failure_as(a, refusal, note, Checked::Login)
            .await
    }

    /// A failed check inside a logged-in session (a wrong step-up code, a wrong current
    /// password on `:password`): it counts towards lockout exactly like a failed login,
    /// but the audit trail names what was checked and in which session, so an incident
    /// responder does not read it as a stranger at the door.
    pub async fn record_session_failure(
        &self,
        a: &Attempt<'_>,
        refusal: Refusal,
        action: &str,
        session_id: &str,
    ) -> Result<(), StoreError> {
        self.record_failure_as(a, refusal, None, Checked::InSession { action, session_id })
            .await
    }

    async fn record_failure_as(
        &self,
        a: &Attempt<'_>,
        refusal: Refusal,
        note: Option<&str>,
        checked: Checked<'_>,
    ) -> Result<(), StoreError> {
        let reason = match note {
            Some(note) => format!("{}: {note}", refusal.reason.as_str()),
            None => refusal.reason.as_str().to_string(),
        };
        crate::metrics::global().login(match refusal.reason {
            Reason::Busy => Login::Busy,
            Reason::Locked(_) => Login::Locked,
            _ => Login::Failure,
        });
        match refusal.reason {
            Reason::Busy => {
                let due = match self.busy.lock() {
                    Ok(mut b) => b.note(a.now_ms),
                    Err(poisoned) => poisoned.into_inner().note(a.now_ms),
                };
                if let Some(n) = due {
                    let reason = format!(
                        "busy: hashing capacity full ({n} login(s) refused without a verification since the last such entry)"
                    );
                    let mut entry = self.entry(a, "login", "busy", &reason);
                    // One row stands for many sources and names: name none of them.
                    entry.actor = None;
                    entry.source_ip = None;
                    self.store.audit(&[entry]).await?;
                }
                return Ok(());
            }
            Reason::Locked(_) => {
                let entry = checked.label(self.entry(a, checked.action(), "failure", &reason));
                return self.store.audit(&[entry]).await;
            }
            _ => {}
        }
        let policy = self.policy();
        let keys = policy.keys(a.username, a.source, refusal.user_exists);
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
        let mut entries = vec![checked.label(self.entry(a, checked.action(), "failure", &reason))];
        for (key, until, tier) in started {
            crate::metrics::global().lockout_started();
            tracing::warn!(key = %log_text(&key.to_string()), until, tier, "lockout started");
            entries.push(checked.label(self.entry(
                a,
                "lockout",
                "started",
                &format!("{key} locked for {} s (lockout #{tier})", until - now),
            )));
        }
        self.store.audit(&entries).await
    }

    /// Clear the (username, address) counter, make the pair a known source, and audit
    /// the login.
    pub async fn record_success(&self, a: &Attempt<'_>, who: &Identity) -> Result<(), StoreError> {
        crate::metrics::global().login(Login::Success);
        self.store
            .record_login_source(a.username, a.source, a.now_secs())
            .await?;
        let onboarding = match who.onboarding {
            Onboarding::Done => "",
            Onboarding::Enrol => "one-time password: TOTP enrolment and a new password required",
            Onboarding::ChangePassword => "one-time password: a new password required",
        };
        let note = match (&who.key, onboarding) {
            (Some(k), "") => k.what.clone(),
            (Some(k), o) => format!("{}; {o}", k.what),
            (None, o) => o.to_string(),
        };
        let mut entries = vec![self.entry(a, "login", "success", &note)];
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

mod keys;
pub use keys::{AfterKey, KeyCheck, KeyPass};

#[cfg(test)]
mod tests;
