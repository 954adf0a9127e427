//! Lockout rules: pure functions of the stored counter, the policy and `now`.
//!
//! Each failed login is counted under three keys — the (username, address) pair, the
//! username, and the address — each with its own limit. Reaching a limit locks that key for
//! a cool-off that grows with every further lockout of the same key (`backoff_factor`,
//! capped at `max_cooloff_secs`). Attempts during a lockout do not extend it unless the
//! policy says so. Failures older than one cool-off are forgotten; a key quiet for a whole
//! maximum cool-off (after its last lockout ended) starts again at the first tier.

use crate::config::LockoutConfig;
use crate::domain::{FailureCounter, LockKey};

/// The lockout policy, from config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub pair_limit: u32,
    pub user_limit: u32,
    pub ip_limit: u32,
    pub cooloff_secs: i64,
    pub backoff_factor: u32,
    pub max_cooloff_secs: i64,
    pub extend_on_attempt: bool,
}

impl From<&LockoutConfig> for Policy {
    fn from(c: &LockoutConfig) -> Policy {
        Policy {
            pair_limit: c.failure_limit,
            user_limit: c.user_failure_limit,
            ip_limit: c.ip_failure_limit,
            cooloff_secs: i64::try_from(c.cooloff_secs).unwrap_or(i64::MAX),
            backoff_factor: c.backoff_factor,
            max_cooloff_secs: i64::try_from(c.max_cooloff_secs).unwrap_or(i64::MAX),
            extend_on_attempt: c.extend_on_attempt,
        }
    }
}

/// What one failure did to a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Counted; not locked.
    Counted,
    /// This failure reached the limit: locked until `until` (unix seconds).
    LockStarted { until: i64, tier: u32 },
    /// The key was already locked (extended only if the policy says so).
    WhileLocked,
}

impl Policy {
    /// The limit for `key` (0: not counted).
    pub fn limit(&self, key: &LockKey) -> u32 {
        match (key.username.is_empty(), key.ip.is_empty()) {
            (false, false) => self.pair_limit,
            (false, true) => self.user_limit,
            _ => self.ip_limit,
        }
    }

    /// How long the lockout of a key at `tier` (0 for its first) lasts.
    pub fn cooloff(&self, tier: u32) -> i64 {
        let factor = i64::from(self.backoff_factor).saturating_pow(tier);
        self.cooloff_secs
            .saturating_mul(factor)
            .min(self.max_cooloff_secs)
    }

    /// The keys a login attempt of `username` from `ip` is counted under. Unknown users
    /// are counted by address only, so guessing names cannot fill the table.
    pub fn keys(&self, username: &str, ip: &str, user_exists: bool) -> Vec<LockKey> {
        let mut keys = vec![LockKey::ip(ip)];
        if user_exists {
            keys.push(LockKey::pair(username, ip));
            keys.push(LockKey::user(username));
        }
        keys.retain(|k| self.limit(k) > 0);
        keys
    }

    /// Apply one failure at `now` to `key`'s counter (`None`: no failures stored yet).
    pub fn record_failure(
        &self,
        key: &LockKey,
        prev: Option<FailureCounter>,
        now: i64,
    ) -> (FailureCounter, Effect) {
        let mut c = prev.unwrap_or(FailureCounter {
            failures: 0,
            tier: 0,
            first_failure_at: now,
            last_failure_at: now,
            locked_until: None,
        });
        if c.is_locked(now) {
            c.last_failure_at = now;
            if self.extend_on_attempt {
                let until = now.saturating_add(self.cooloff(c.tier.saturating_sub(1)));
                c.locked_until = c.locked_until.max(Some(until));
            }
            return (c, Effect::WhileLocked);
        }
        // Quiet since the last failure or the end of the last lockout, whichever is later.
        let quiet = now.saturating_sub(c.last_failure_at.max(c.locked_until.unwrap_or(i64::MIN)));
        if quiet >= self.max_cooloff_secs {
            c.tier = 0;
        }
        if c.locked_until.is_some() || quiet >= self.cooloff_secs || c.failures == 0 {
            // A lockout ended, or the old failures are stale: count afresh.
            c.failures = 0;
            c.first_failure_at = now;
            c.locked_until = None;
        }
        c.failures = c.failures.saturating_add(1);
        c.last_failure_at = now;
        let limit = self.limit(key);
        if limit > 0 && c.failures >= limit {
            let until = now.saturating_add(self.cooloff(c.tier));
            c.locked_until = Some(until);
            c.tier = c.tier.saturating_add(1);
            return (
                c,
                Effect::LockStarted {
                    until,
                    tier: c.tier,
                },
            );
        }
        (c, Effect::Counted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy::from(&LockoutConfig {
            failure_limit: 3,
            user_failure_limit: 5,
            ip_failure_limit: 10,
            cooloff_secs: 100,
            backoff_factor: 2,
            max_cooloff_secs: 1000,
            extend_on_attempt: false,
        })
    }

    /// Fail `n` times at `now`, threading the counter; returns the last effect.
    fn fail(p: &Policy, key: &LockKey, c: &mut Option<FailureCounter>, n: u32, now: i64) -> Effect {
        let mut effect = Effect::Counted;
        for _ in 0..n {
            let (next, e) = p.record_failure(key, *c, now);
            *c = Some(next);
            effect = e;
        }
        effect
    }

    #[test]
    fn locks_at_the_limit_for_the_cooloff() {
        let p = policy();
        let key = LockKey::pair("alice", "10.0.0.1");
        let mut c = None;
        assert_eq!(fail(&p, &key, &mut c, 2, 1000), Effect::Counted);
        assert!(!c.unwrap().is_locked(1000));
        assert_eq!(
            fail(&p, &key, &mut c, 1, 1000),
            Effect::LockStarted {
                until: 1100,
                tier: 1
            }
        );
        assert!(c.unwrap().is_locked(1099));
        assert!(!c.unwrap().is_locked(1100), "cool-off expires");
    }

    #[test]
    fn attempts_while_locked_do_not_extend_unless_configured() {
        let p = policy();
        let key = LockKey::pair("alice", "10.0.0.1");
        let mut c = None;
        fail(&p, &key, &mut c, 3, 1000);
        assert_eq!(fail(&p, &key, &mut c, 5, 1050), Effect::WhileLocked);
        assert_eq!(c.unwrap().locked_until, Some(1100));

        let extending = Policy {
            extend_on_attempt: true,
            ..p
        };
        let mut c = None;
        fail(&extending, &key, &mut c, 3, 1000);
        fail(&extending, &key, &mut c, 1, 1050);
        assert_eq!(c.unwrap().locked_until, Some(1150));
    }

    #[test]
    fn tiers_double_up_to_the_maximum_and_reset_after_quiet() {
        let p = policy();
        let key = LockKey::user("alice");
        let mut c = None;
        let mut now = 0;
        let mut lengths = Vec::new();
        for _ in 0..6 {
            match fail(&p, &key, &mut c, 5, now) {
                Effect::LockStarted { until, .. } => lengths.push(until - now),
                other => panic!("expected a lockout, got {other:?}"),
            }
            now = c.unwrap().locked_until.unwrap(); // the moment it expires
        }
        assert_eq!(lengths, vec![100, 200, 400, 800, 1000, 1000]);
        // Quiet for a whole maximum cool-off: back to the first tier.
        now += 1000;
        fail(&p, &key, &mut c, 5, now);
        assert_eq!(c.unwrap().locked_until, Some(now + 100));
    }

    #[test]
    fn stale_failures_are_forgotten() {
        let p = policy();
        let key = LockKey::pair("alice", "10.0.0.1");
        let mut c = None;
        fail(&p, &key, &mut c, 2, 0);
        // One cool-off later the two old failures no longer count.
        assert_eq!(fail(&p, &key, &mut c, 2, 100), Effect::Counted);
        assert_eq!(c.unwrap().failures, 2);
        assert_eq!(
            fail(&p, &key, &mut c, 1, 101),
            Effect::LockStarted {
                until: 201,
                tier: 1
            }
        );
    }

    #[test]
    fn limits_by_key_kind_and_unknown_users_by_address_only() {
        let p = policy();
        assert_eq!(p.limit(&LockKey::pair("a", "1.2.3.4")), 3);
        assert_eq!(p.limit(&LockKey::user("a")), 5);
        assert_eq!(p.limit(&LockKey::ip("1.2.3.4")), 10);
        assert_eq!(
            p.keys("ghost", "1.2.3.4", false),
            vec![LockKey::ip("1.2.3.4")]
        );
        assert_eq!(p.keys("a", "1.2.3.4", true).len(), 3);
        let no_user_limit = Policy { user_limit: 0, ..p };
        assert_eq!(no_user_limit.keys("a", "1.2.3.4", true).len(), 2);
    }
}
