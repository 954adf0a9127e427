//! Live sessions: the in-process registry that can end a session at once, the watcher
//! that keeps `moat_sessions` in step with it (so `moat sessions` and other instances see
//! who is on, and can end them), and the idle and maximum-time rules.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::auth::{AuthService, Credential};
use crate::config::SessionConfig;
use crate::store::Store;

/// How often the watcher asks the database which sessions must end.
pub const POLL: Duration = Duration::from_secs(1);
/// How often it records that this instance's sessions are alive.
pub const HEARTBEAT_SECS: i64 = 10;
/// A session whose instance has not been heard from for this long is not listed as live.
pub const STALE_SECS: i64 = 3 * HEARTBEAT_SECS;
/// How often old rows are pruned, and how long ended sessions are kept.
const PRUNE_EVERY_SECS: i64 = 3600;
const KEEP_ENDED_SECS: i64 = 30 * 24 * 3600;

struct Entry {
    user_id: i64,
    /// The key or certificate the login presented, if a rule asked for one.
    credential: Option<Credential>,
    last_input: Arc<AtomicI64>,
    end: watch::Sender<Option<String>>,
}

/// This instance's live sessions.
#[derive(Default)]
pub struct Registry {
    sessions: Mutex<HashMap<String, Entry>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Registry({} sessions)", self.len())
    }
}

/// A registered session's side: it learns here why it must end, and records input.
pub struct Handle {
    pub id: String,
    pub end: watch::Receiver<Option<String>>,
    pub last_input: Arc<AtomicI64>,
}

impl Registry {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        match self.sessions.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    pub fn register(
        &self,
        id: &str,
        user_id: i64,
        now: i64,
        credential: Option<Credential>,
    ) -> Handle {
        let (tx, rx) = watch::channel(None);
        let last_input = Arc::new(AtomicI64::new(now));
        crate::metrics::global().session_started();
        self.map().insert(
            id.to_string(),
            Entry {
                user_id,
                credential,
                last_input: Arc::clone(&last_input),
                end: tx,
            },
        );
        Handle {
            id: id.to_string(),
            end: rx,
            last_input,
        }
    }

    pub fn remove(&self, id: &str) {
        if self.map().remove(id).is_some() {
            crate::metrics::global().session_ended();
        }
    }

    pub fn len(&self) -> usize {
        self.map().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// End session `id` here, if it runs on this instance.
    pub fn end(&self, id: &str, reason: &str) -> bool {
        self.map()
            .get(id)
            .map(|e| e.end.send(Some(reason.to_string())).is_ok())
            .unwrap_or(false)
    }

    /// End every session here whose key or certificate `revoked` says is revoked, with
    /// that reason; returns how many.
    pub fn end_revoked(&self, revoked: impl Fn(&Credential) -> Option<&'static str>) -> usize {
        self.map()
            .values()
            .filter_map(|e| Some((e, revoked(e.credential.as_ref()?)?)))
            .filter(|(e, why)| {
                let reason =
                    format!("session ended: the key or certificate it used was revoked ({why})");
                e.end.send(Some(reason)).is_ok()
            })
            .count()
    }

    /// End every session of `user_id` on this instance.
    pub fn end_user(&self, user_id: i64, reason: &str) -> usize {
        self.map()
            .values()
            .filter(|e| e.user_id == user_id)
            .filter(|e| e.end.send(Some(reason.to_string())).is_ok())
            .count()
    }

    /// End every session (shutdown).
    pub fn end_all(&self, reason: &str) {
        for e in self.map().values() {
            let _ = e.end.send(Some(reason.to_string()));
        }
    }

    fn snapshot(&self) -> Vec<(String, i64)> {
        self.map()
            .iter()
            .map(|(id, e)| (id.clone(), e.last_input.load(Ordering::Relaxed)))
            .collect()
    }
}

/// End, every [`POLL`], the sessions whose key or certificate the revocation list now
/// revokes (`revoked_keys` is re-read when the file changes, and replaced on SIGHUP).
/// Runs until the task is dropped.
pub async fn watch_revocations(registry: Arc<Registry>, auth: AuthService) {
    let mut ticker = tokio::time::interval(POLL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        // The list is read once a tick, outside the registry's lock.
        let Some(list) = auth.revocation_list() else {
            continue;
        };
        let ended = registry.end_revoked(|c| c.revoked_by(&list));
        if ended > 0 {
            tracing::info!(
                sessions = ended,
                "sessions ended: their key or certificate was revoked"
            );
        }
    }
}

/// Keep the registry and `moat_sessions` in step until the task is dropped: end the
/// sessions someone asked to end (from any instance or the CLI), heartbeat, and once an
/// hour close the rows of crashed instances and delete ended ones older than 30 days.
pub async fn watch_sessions(registry: Arc<Registry>, store: Store, now: impl Fn() -> i64) {
    let mut ticker = tokio::time::interval(POLL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_beat: Option<i64> = None;
    let mut last_prune: Option<i64> = None;
    loop {
        ticker.tick().await;
        let t = now();
        if last_prune.is_none_or(|p| t.saturating_sub(p) >= PRUNE_EVERY_SECS) {
            last_prune = Some(t);
            // A day of silence is a crashed instance, not a slow heartbeat.
            if let Err(e) = store
                .prune_sessions(t - 24 * 3600, t - KEEP_ENDED_SECS)
                .await
            {
                tracing::warn!(error = %e, "could not prune old sessions");
            }
        }
        let sessions = registry.snapshot();
        if sessions.is_empty() {
            continue;
        }
        let asked = if last_beat.is_none_or(|b| t.saturating_sub(b) >= HEARTBEAT_SECS) {
            last_beat = Some(t);
            store.session_heartbeat(&sessions, t).await
        } else {
            let ids: Vec<String> = sessions.into_iter().map(|(id, _)| id).collect();
            store.sessions_to_end(&ids).await
        };
        match asked {
            Ok(asked) => {
                for (id, reason) in asked {
                    let reason = if reason.is_empty() {
                        "ended by an administrator".to_string()
                    } else {
                        reason
                    };
                    registry.end(&id, &reason);
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not poll the live-session registry"),
        }
    }
}

/// What the clock says to do next in a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// Show the idle warning at this instant.
    Warn,
    /// Close for inactivity.
    Idle,
    /// Close: the session reached its maximum duration.
    Max,
}

/// The next timer of a session that started at `started` (seconds, any epoch), last saw
/// input at `last_input`, and has `warned` already; returns (when, what).
pub fn next_timer(
    rules: &SessionConfig,
    started: f64,
    last_input: f64,
    warned: bool,
) -> (f64, Timer) {
    let idle_at = last_input + rules.idle_timeout_secs as f64;
    let warn_at = idle_at - rules.idle_warning_secs as f64;
    let max_at = started + rules.max_session_secs as f64;
    let idle = if warned || rules.idle_warning_secs == 0 {
        (idle_at, Timer::Idle)
    } else {
        (warn_at, Timer::Warn)
    };
    if max_at <= idle.0 {
        (max_at, Timer::Max)
    } else {
        idle
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: SessionConfig = SessionConfig {
        idle_timeout_secs: 900,
        idle_warning_secs: 60,
        max_session_secs: 8 * 3600,
    };

    #[test]
    fn idle_warns_then_closes_and_max_wins_when_sooner() {
        assert_eq!(next_timer(&RULES, 0.0, 0.0, false), (840.0, Timer::Warn));
        assert_eq!(next_timer(&RULES, 0.0, 0.0, true), (900.0, Timer::Idle));
        // Input moves the idle deadline.
        assert_eq!(next_timer(&RULES, 0.0, 500.0, false), (1340.0, Timer::Warn));
        // Near the maximum, the maximum comes first, however busy the user is.
        let late = 8.0 * 3600.0 - 100.0;
        assert_eq!(next_timer(&RULES, 0.0, late, false), (28_800.0, Timer::Max));
        let no_warning = SessionConfig {
            idle_warning_secs: 0,
            ..RULES
        };
        assert_eq!(
            next_timer(&no_warning, 0.0, 0.0, false),
            (900.0, Timer::Idle)
        );
    }

    #[test]
    fn registry_ends_by_id_user_and_all() {
        let r = Registry::default();
        let a = r.register("a", 1, 0, None);
        let b = r.register("b", 2, 0, None);
        let c = r.register("c", 2, 0, None);
        assert!(r.end("a", "bye"));
        assert_eq!(a.end.borrow().as_deref(), Some("bye"));
        assert!(!r.end("zz", "bye"));
        assert_eq!(r.end_user(2, "disabled"), 2);
        assert_eq!(c.end.borrow().as_deref(), Some("disabled"));
        r.remove("a");
        assert_eq!(r.len(), 2);
        b.last_input.store(42, Ordering::Relaxed);
        assert!(r.snapshot().contains(&("b".to_string(), 42)));
        r.end_all("shutdown");
        assert_eq!(b.end.borrow().as_deref(), Some("shutdown"));
    }
}
