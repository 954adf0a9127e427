//! Admission: allow-list, then the global and per-source new-connection rates, then the
//! caps on unauthenticated connections (per source and in total).

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::Allowlist;
use crate::config::LimitsConfig;

/// Why a connection was refused before the banner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refusal {
    NotAllowed,
    GlobalRate,
    SourceRate,
    SourcePreauth,
    TotalPreauth,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::NotAllowed => "not in allowlist",
            Refusal::GlobalRate => "global connection rate",
            Refusal::SourceRate => "per-source connection rate",
            Refusal::SourcePreauth => "too many unauthenticated connections from source",
            Refusal::TotalPreauth => "too many unauthenticated connections",
        }
    }
}

/// The admission rules in force (rebuilt on config reload).
#[derive(Debug)]
pub struct Gate {
    allowlist: Allowlist,
    per_source: DefaultKeyedRateLimiter<IpAddr>,
    global: DefaultDirectRateLimiter,
    max_preauth_per_source: u32,
    max_preauth_total: u32,
}

/// Connections not yet logged in, per source. Lives across reloads (guards point at it).
#[derive(Debug, Default)]
pub struct Preauth {
    counts: Mutex<(HashMap<IpAddr, u32>, u32)>,
}

/// Holds one unauthenticated-connection slot until dropped (at login or disconnect).
#[derive(Debug)]
pub struct PreauthGuard {
    preauth: Arc<Preauth>,
    ip: IpAddr,
}

impl Drop for PreauthGuard {
    fn drop(&mut self) {
        if let Ok(mut guard) = self.preauth.counts.lock() {
            let (per_source, total) = &mut *guard;
            *total = total.saturating_sub(1);
            if let Some(n) = per_source.get_mut(&self.ip) {
                *n -= 1;
                if *n == 0 {
                    per_source.remove(&self.ip);
                }
            }
        }
    }
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

impl Gate {
    pub fn new(allowlist: Allowlist, limits: &LimitsConfig) -> Gate {
        Gate {
            allowlist,
            per_source: RateLimiter::keyed(Quota::per_minute(nonzero(
                limits.per_source_per_minute,
            ))),
            global: RateLimiter::direct(Quota::per_second(nonzero(limits.global_per_second))),
            max_preauth_per_source: limits.max_preauth_per_source,
            max_preauth_total: limits.max_preauth_total,
        }
    }

    /// Admit a new connection from `ip`, or say why not. The allow-list is checked first
    /// and the source's own rate before the global one, so a flooding source exhausts only
    /// its own quota, never everyone's.
    pub fn admit(&self, ip: IpAddr, preauth: &Arc<Preauth>) -> Result<PreauthGuard, Refusal> {
        let ip = ip.to_canonical();
        if !self.allowlist.allows(ip) {
            return Err(Refusal::NotAllowed);
        }
        if self.per_source.check_key(&ip).is_err() {
            return Err(Refusal::SourceRate);
        }
        if self.global.check().is_err() {
            return Err(Refusal::GlobalRate);
        }
        // Forget sources idle long enough to be back at a full quota.
        if self.per_source.len() > 4096 {
            self.per_source.retain_recent();
        }
        let mut guard = preauth.counts.lock().map_err(|_| Refusal::TotalPreauth)?;
        let (per_source, total) = &mut *guard;
        if *total >= self.max_preauth_total {
            return Err(Refusal::TotalPreauth);
        }
        let n = per_source.entry(ip).or_insert(0);
        if *n >= self.max_preauth_per_source {
            return Err(Refusal::SourcePreauth);
        }
        *n += 1;
        *total += 1;
        Ok(PreauthGuard {
            preauth: Arc::clone(preauth),
            ip,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(limits: LimitsConfig) -> Gate {
        let allow = Allowlist::new(vec!["127.0.0.0/8".parse().unwrap()]);
        Gate::new(allow, &limits)
    }

    const A: &str = "127.0.0.2";
    const B: &str = "127.0.0.3";

    #[test]
    fn allowlist_first() {
        let g = gate(LimitsConfig::default());
        let p = Arc::new(Preauth::default());
        assert_eq!(
            g.admit("10.0.0.1".parse().unwrap(), &p).unwrap_err(),
            Refusal::NotAllowed
        );
        assert!(g.admit("::ffff:127.0.0.2".parse().unwrap(), &p).is_ok());
    }

    #[test]
    fn preauth_caps_per_source_and_total_release_on_drop() {
        let g = gate(LimitsConfig {
            max_preauth_per_source: 2,
            max_preauth_total: 3,
            ..LimitsConfig::default()
        });
        let p = Arc::new(Preauth::default());
        let a1 = g.admit(A.parse().unwrap(), &p).unwrap();
        let _a2 = g.admit(A.parse().unwrap(), &p).unwrap();
        assert_eq!(
            g.admit(A.parse().unwrap(), &p).unwrap_err(),
            Refusal::SourcePreauth
        );
        let _b1 = g.admit(B.parse().unwrap(), &p).unwrap();
        assert_eq!(
            g.admit(B.parse().unwrap(), &p).unwrap_err(),
            Refusal::TotalPreauth
        );
        drop(a1);
        assert!(g.admit(A.parse().unwrap(), &p).is_ok());
    }

    #[test]
    fn per_source_rate() {
        let g = gate(LimitsConfig {
            per_source_per_minute: 3,
            ..LimitsConfig::default()
        });
        let p = Arc::new(Preauth::default());
        for _ in 0..3 {
            drop(g.admit(A.parse().unwrap(), &p).unwrap());
        }
        assert_eq!(
            g.admit(A.parse().unwrap(), &p).unwrap_err(),
            Refusal::SourceRate
        );
        assert!(
            g.admit(B.parse().unwrap(), &p).is_ok(),
            "other sources unaffected"
        );
    }

    #[test]
    fn a_source_over_its_rate_does_not_use_up_the_global_rate() {
        let g = gate(LimitsConfig {
            per_source_per_minute: 2,
            global_per_second: 3,
            ..LimitsConfig::default()
        });
        let p = Arc::new(Preauth::default());
        for _ in 0..50 {
            let _ = g.admit(A.parse().unwrap(), &p);
        }
        assert!(g.admit(B.parse().unwrap(), &p).is_ok());
    }

    #[test]
    fn global_rate() {
        let g = gate(LimitsConfig {
            global_per_second: 2,
            ..LimitsConfig::default()
        });
        let p = Arc::new(Preauth::default());
        drop(g.admit(A.parse().unwrap(), &p).unwrap());
        drop(g.admit(B.parse().unwrap(), &p).unwrap());
        assert_eq!(
            g.admit("127.0.0.4".parse().unwrap(), &p).unwrap_err(),
            Refusal::GlobalRate
        );
    }
}
