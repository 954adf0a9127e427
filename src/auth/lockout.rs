//! Lockout rules: pure functions of the stored counter, the policy and `now`.
//!
//! Each failed login is counted under three keys — the (username, address) pair, the
//! username, and the address — each with its own limit. Reaching a limit locks that key for
//! a cool-off that grows with every further lockout of the same key (`backoff_factor`,
//! capped at `max_cooloff_secs`). Attempts during a lockout do not extend it unless the
//! policy says so. Failures older than one cool-off are forgotten; a key quiet for a whole
//! maximum cool-off (after its last lockout ended) starts again at the first tier.
//!
//! Two rules keep the lockout from being a kill switch in a stranger's hands:
//! - a *known source* — a (username, address) pair that logged in successfully within
//!   `known_source_secs` — is blocked only by its own pair's lock, never by the lock of
//!   the username or of the address that strangers can trip ([`Policy::blocking`]);
//! - an attempt refused because a key is already locked is not counted again (the caller
//!   does not call [`Policy::record_failure`] for it), so hammering a locked address
//!   cannot spill over into the username's count.
//!
//! Per-address limits can be raised for networks where many people share one address (a
//! NAT, a bastion): `address_limits`, first matching network wins.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::config::LockoutConfig;
use crate::domain::{FailureCounter, LockKey};

/// The lockout policy, from config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub pair_limit: u32,
    pub user_limit: u32,
    pub ip_limit: u32,
    pub cooloff_secs: i64,
    pub backoff_factor: u32,
    pub max_cooloff_secs: i64,
    pub extend_on_attempt: bool,
    /// How long a successful login keeps its (username, address) pair a known source
    /// (0: no pair is ever known, every lock applies to everyone).
    pub known_source_secs: i64,
    /// Per-address limits for networks (first match wins), instead of `ip_limit`.
    pub address_limits: Vec<(IpNet, u32)>,
}

impl From<&LockoutConfig> for Policy {
    /// `address_limits` entries that do not parse are skipped here; `Config::validate`
    /// refuses them before a policy is ever built.
    fn from(c: &LockoutConfig) -> Policy {
        Policy {
            pair_limit: c.failure_limit,
            user_limit: c.user_failure_limit,
            ip_limit: c.ip_failure_limit,
            cooloff_secs: i64::try_from(c.cooloff_secs).unwrap_or(i64::MAX),
            backoff_factor: c.backoff_factor,
            max_cooloff_secs: i64::try_from(c.max_cooloff_secs).unwrap_or(i64::MAX),
            extend_on_attempt: c.extend_on_attempt,
            known_source_secs: i64::try_from(c.known_source_days.saturating_mul(86_400))
                .unwrap_or(i64::MAX),
            address_limits: c
                .address_limits
                .iter()
                .filter_map(|a| Some((a.net.trim().parse::<IpNet>().ok()?, a.limit)))
                .collect(),
        }
    }
}

/// Which of an attempt's keys refused it (recorded in the audit row, never shown).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockScope {
    /// This username from this address.
    Pair,
    /// The username, from every address.
    User,
    /// The address, for every username.
    Address,
}

impl LockScope {
    pub fn of(key: &LockKey) -> LockScope {
        match (key.username.is_empty(), key.ip.is_empty()) {
            (false, false) => LockScope::Pair,
            (false, true) => LockScope::User,
            _ => LockScope::Address,
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
        match LockScope::of(key) {
            LockScope::Pair => self.pair_limit,
            LockScope::User => self.user_limit,
            LockScope::Address => self.address_limit(&key.ip),
        }
    }

    /// The per-address limit of `ip`: its network's in `address_limits`, else `ip_limit`.
    pub fn address_limit(&self, ip: &str) -> u32 {
        let Ok(addr) = ip.parse::<IpAddr>() else {
            return self.ip_limit;
        };
        let addr = addr.to_canonical();
        self.address_limits
            .iter()
            .find(|(net, _)| net.contains(&addr))
            .map_or(self.ip_limit, |(_, limit)| *limit)
    }

    /// Whether a pair whose last successful login was at `last_success` (unix seconds)
    /// is a known source at `now`.
    pub fn is_known_source(&self, last_success: Option<i64>, now: i64) -> bool {
        self.known_source_secs > 0
            && last_success.is_some_and(|t| now.saturating_sub(t) < self.known_source_secs)
    }

    /// The key that refuses an attempt at `now`, given the stored counters of its keys:
    /// `None` lets it through. A known source is refused only by its own pair's lock.
    pub fn blocking<'a>(
        &self,
        counters: &'a [(LockKey, FailureCounter)],
        known_source: bool,
        now: i64,
    ) -> Option<&'a LockKey> {
        counters
            .iter()
            .filter(|(key, _)| !known_source || LockScope::of(key) == LockScope::Pair)
            .find(|(_, c)| c.is_locked(now))
            .map(|(key, _)| key)
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
            known_source_days: 0,
            address_limits: Vec::new(),
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
            ..p.clone()
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

    fn locked_until(until: i64) -> FailureCounter {
        FailureCounter {
            failures: 10,
            tier: 1,
            first_failure_at: 0,
            last_failure_at: 0,
            locked_until: Some(until),
        }
    }

    #[test]
    fn a_known_source_is_blocked_only_by_its_own_pair() {
        let p = Policy {
            known_source_secs: 30 * 86_400,
            ..policy()
        };
        let now = 1_000_000;
        // Strangers locked the username and the (shared NAT) address.
        let by_strangers = [
            (LockKey::user("admin"), locked_until(now + 100)),
            (LockKey::ip("10.0.0.1"), locked_until(now + 100)),
        ];
        assert_eq!(
            p.blocking(&by_strangers, false, now),
            Some(&LockKey::user("admin")),
            "an unknown source is refused"
        );
        assert_eq!(
            p.blocking(&by_strangers, true, now),
            None,
            "admin's usual address still gets in"
        );
        // The pair's own limit still applies to the known source.
        let own = [
            (LockKey::user("admin"), locked_until(now + 100)),
            (LockKey::pair("admin", "10.0.0.1"), locked_until(now + 100)),
        ];
        assert_eq!(
            p.blocking(&own, true, now),
            Some(&LockKey::pair("admin", "10.0.0.1"))
        );
        // Expired locks refuse nobody.
        assert_eq!(p.blocking(&by_strangers, false, now + 100), None);
    }

    #[test]
    fn a_source_is_known_for_the_configured_time_after_a_success() {
        let p = Policy {
            known_source_secs: 100,
            ..policy()
        };
        assert!(p.is_known_source(Some(1000), 1000));
        assert!(p.is_known_source(Some(1000), 1099));
        assert!(!p.is_known_source(Some(1000), 1100), "expired");
        assert!(!p.is_known_source(None, 1000), "never logged in");
        let off = Policy {
            known_source_secs: 0,
            ..p
        };
        assert!(!off.is_known_source(Some(1000), 1000), "0 turns it off");
    }

    #[test]
    fn address_limits_raise_the_limit_for_shared_networks() {
        let p = Policy {
            address_limits: vec![
                ("10.1.0.0/16".parse().unwrap(), 200),
                ("10.0.0.0/8".parse().unwrap(), 50),
                ("2001:db8::/32".parse().unwrap(), 0),
            ],
            ..policy()
        };
        assert_eq!(p.limit(&LockKey::ip("10.1.2.3")), 200, "first match wins");
        assert_eq!(p.limit(&LockKey::ip("10.9.9.9")), 50);
        assert_eq!(p.limit(&LockKey::ip("::ffff:10.9.9.9")), 50, "mapped is v4");
        assert_eq!(p.limit(&LockKey::ip("192.0.2.1")), 10, "default");
        assert_eq!(p.limit(&LockKey::ip("2001:db8::5")), 0);
        // A limit of 0 means the address is not counted at all.
        assert_eq!(p.keys("ghost", "2001:db8::5", false), Vec::<LockKey>::new());
        // Pair and username limits are untouched.
        assert_eq!(p.limit(&LockKey::pair("a", "10.1.2.3")), 3);
        // A bastion's users locking its address: a limit of 200 takes 200 failures.
        let key = LockKey::ip("10.1.2.3");
        let mut c = None;
        assert_eq!(fail(&p, &key, &mut c, 199, 0), Effect::Counted);
        assert!(matches!(
            fail(&p, &key, &mut c, 1, 0),
            Effect::LockStarted { .. }
        ));
    }
}
