//! Admission: allow-list, then the global and per-source new-connection rates, then the
//! caps on unauthenticated connections: per source, and in total with random early drop.
//! Every per-source count is kept under [`source_key`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use rand::Rng;

use super::{source_key, Allowlist};
use crate::config::LimitsConfig;

/// Why a connection was refused before the banner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refusal {
    NotAllowed,
    GlobalRate,
    SourceRate,
    SourcePreauth,
    TotalPreauth,
    EarlyDrop,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::NotAllowed => "not in allowlist",
            Refusal::GlobalRate => "global connection rate",
            Refusal::SourceRate => "per-source connection rate",
            Refusal::SourcePreauth => "too many unauthenticated connections from source",
            Refusal::TotalPreauth => "too many unauthenticated connections",
            Refusal::EarlyDrop => "random early drop (many unauthenticated connections)",
        }
    }
}

/// OpenSSH's MaxStartups `start:rate:full`: below `start` unauthenticated connections
/// every new one is let in; from `start` on, one is refused with probability `percent`
/// %, rising linearly to 100 % at `full`; at `full` and above every one is refused. So
/// whoever holds many idle connections cannot make the server refuse every newcomer
/// until the last slot is taken: the closer to full, the more of the flooder's own
/// attempts are refused too. Pure: the random draw is passed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EarlyDrop {
    pub start: u32,
    pub percent: u32,
    pub full: u32,
}

impl EarlyDrop {
    /// The chance, in percent (0–100), that a new connection is refused while `preauth`
    /// connections are unauthenticated. Integer arithmetic as OpenSSH's
    /// `should_drop_connection`.
    pub fn refuse_percent(&self, preauth: u32) -> u32 {
        if preauth < self.start {
            return 0;
        }
        if preauth >= self.full {
            return 100;
        }
        let rate = u64::from(self.percent.min(100));
        // start <= preauth < full here, so the span is at least 1.
        let above = u64::from(preauth - self.start);
        let span = u64::from(self.full - self.start);
        let p = rate + (100 - rate) * above / span;
        u32::try_from(p.min(100)).unwrap_or(100)
    }

    /// Whether to refuse, given `draw`, uniform in `0..100`.
    pub fn refuses(&self, preauth: u32, draw: u32) -> bool {
        draw < self.refuse_percent(preauth)
    }
}

/// The admission rules in force (rebuilt on config reload).
#[derive(Debug)]
pub struct Gate {
    allowlist: Allowlist,
    per_source: DefaultKeyedRateLimiter<IpAddr>,
    global: DefaultDirectRateLimiter,
    max_preauth_per_source: u32,
    early_drop: EarlyDrop,
    version_grace: Duration,
    ipv6_prefix: u8,
}

/// Connections not yet logged in, per source key. Lives across reloads (guards point at
/// it).
#[derive(Debug, Default)]
pub struct Preauth {
    counts: Mutex<(HashMap<IpAddr, u32>, u32)>,
}

impl Preauth {
    /// Connections holding a slot now.
    pub fn total(&self) -> u32 {
        self.counts.lock().map(|c| c.1).unwrap_or(0)
    }
}

/// Holds one unauthenticated-connection slot until dropped (at login or disconnect).
#[derive(Debug)]
pub struct PreauthGuard {
    preauth: Arc<Preauth>,
    key: IpAddr,
}

impl Drop for PreauthGuard {
    fn drop(&mut self) {
        if let Ok(mut guard) = self.preauth.counts.lock() {
            let (per_source, total) = &mut *guard;
            *total = total.saturating_sub(1);
            if let Some(n) = per_source.get_mut(&self.key) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    per_source.remove(&self.key);
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
        let full = limits.max_preauth_total;
        Gate {
            allowlist,
            per_source: RateLimiter::keyed(Quota::per_minute(nonzero(
                limits.per_source_per_minute,
            ))),
            global: RateLimiter::direct(Quota::per_second(nonzero(limits.global_per_second))),
            max_preauth_per_source: limits.max_preauth_per_source,
            early_drop: EarlyDrop {
                start: limits.preauth_drop_start.min(full),
                percent: limits.preauth_drop_percent.min(100),
                full,
            },
            version_grace: Duration::from_millis(limits.version_grace_ms),
            ipv6_prefix: limits.ipv6_prefix,
        }
    }

    /// How long a new connection has to send its SSH version line.
    pub fn version_grace(&self) -> Duration {
        self.version_grace
    }

    /// The key the per-source limits count `ip` under ([`source_key`] with this gate's
    /// IPv6 prefix).
    pub fn source_key(&self, ip: IpAddr) -> IpAddr {
        source_key(ip, self.ipv6_prefix)
    }

    /// [`Gate::source_key`] as text, for the per-source counts kept outside the gate
    /// (lockout, the hashing bound): an IPv4 address as itself, an IPv6 source as its
    /// network (`2001:db8:1:2::/64`).
    pub fn source_label(&self, ip: IpAddr) -> String {
        super::source_label(ip, self.ipv6_prefix)
    }

    /// Admit a new connection from `ip`, or say why not (random early drop drawn from the
    /// thread's generator).
    pub fn admit(&self, ip: IpAddr, preauth: &Arc<Preauth>) -> Result<PreauthGuard, Refusal> {
        self.admit_with(ip, preauth, || rand::thread_rng().gen_range(0..100))
            .inspect_err(|r| crate::metrics::global().refused((*r).into()))
    }

    /// [`Gate::admit`] with the early-drop draw (uniform in `0..100`) from `draw`, asked
    /// only when the count of unauthenticated connections is in the early-drop range.
    /// The allow-list is checked first and the source's own rate before the global one,
    /// so a flooding source exhausts only its own quota, never everyone's; a source over
    /// its own cap is refused before any draw.
    pub fn admit_with(
        &self,
        ip: IpAddr,
        preauth: &Arc<Preauth>,
        draw: impl FnOnce() -> u32,
    ) -> Result<PreauthGuard, Refusal> {
        let ip = ip.to_canonical();
        if !self.allowlist.allows(ip) {
            return Err(Refusal::NotAllowed);
        }
        let key = self.source_key(ip);
        if self.per_source.check_key(&key).is_err() {
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
        if *total >= self.early_drop.full {
            return Err(Refusal::TotalPreauth);
        }
        if per_source.get(&key).copied().unwrap_or(0) >= self.max_preauth_per_source {
            return Err(Refusal::SourcePreauth);
        }
        if *total >= self.early_drop.start && self.early_drop.refuses(*total, draw()) {
            return Err(Refusal::EarlyDrop);
        }
        *per_source.entry(key).or_insert(0) += 1;
        *total += 1;
        Ok(PreauthGuard {
            preauth: Arc::clone(preauth),
            key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(limits: LimitsConfig) -> Gate {
        let allow = Allowlist::new(vec![
            "127.0.0.0/8".parse().unwrap(),
            "2001:db8::/32".parse().unwrap(),
        ]);
        Gate::new(allow, &limits)
    }

    fn never() -> u32 {
        panic!("no draw expected below the early-drop start")
    }

    #[test]
    fn source_labels_name_the_ipv6_network_and_the_ipv4_address() {
        let g = gate(LimitsConfig::default());
        assert_eq!(g.source_label("10.1.2.3".parse().unwrap()), "10.1.2.3");
        assert_eq!(
            g.source_label("::ffff:10.1.2.3".parse().unwrap()),
            "10.1.2.3"
        );
        assert_eq!(
            g.source_label("2001:db8:1:2:aaaa:bbbb:cccc:dddd".parse().unwrap()),
            "2001:db8:1:2::/64"
        );
    }

    #[test]
    fn early_drop_rises_linearly_from_start_to_full() {
        let d = EarlyDrop {
            start: 10,
            percent: 30,
            full: 100,
        };
        assert_eq!(d.refuse_percent(0), 0);
        assert_eq!(d.refuse_percent(9), 0);
        assert_eq!(d.refuse_percent(10), 30);
        assert_eq!(d.refuse_percent(55), 65);
        assert_eq!(d.refuse_percent(99), 99);
        assert_eq!(d.refuse_percent(100), 100);
        assert_eq!(d.refuse_percent(u32::MAX), 100);
        assert!(d.refuses(10, 29));
        assert!(!d.refuses(10, 30));
        assert!(!d.refuses(9, 0));
        assert!(d.refuses(100, 99));
        // start = full: a hard cap, no randomness.
        let cap = EarlyDrop {
            start: 5,
            percent: 0,
            full: 5,
        };
        assert_eq!(cap.refuse_percent(4), 0);
        assert_eq!(cap.refuse_percent(5), 100);
        // percent 0: certainty is still reached at full.
        let zero = EarlyDrop {
            start: 0,
            percent: 0,
            full: 4,
        };
        assert_eq!(
            [0, 1, 2, 3, 4].map(|n| zero.refuse_percent(n)),
            [0, 25, 50, 75, 100]
        );
    }

    #[test]
    fn admission_draws_only_in_the_early_drop_range() {
        let g = gate(LimitsConfig {
            max_preauth_total: 4,
            preauth_drop_start: 2,
            preauth_drop_percent: 50,
            ..LimitsConfig::default()
        });
        let p = Arc::new(Preauth::default());
        let a = |g: &Gate, draw: u32| g.admit_with(A.parse().unwrap(), &p, move || draw);
        let s1 = g.admit_with(A.parse().unwrap(), &p, never).unwrap();
        let s2 = g.admit_with(B.parse().unwrap(), &p, never).unwrap();
        // Two held: refused with probability 50 %.
        assert_eq!(a(&g, 49).unwrap_err(), Refusal::EarlyDrop);
        let s3 = a(&g, 50).unwrap();
        // Three held: 75 %.
        assert_eq!(a(&g, 74).unwrap_err(), Refusal::EarlyDrop);
        let s4 = a(&g, 75).unwrap();
        // Full: refused whatever the draw (and without one).
        assert_eq!(
            g.admit_with(B.parse().unwrap(), &p, never).unwrap_err(),
            Refusal::TotalPreauth
        );
        assert_eq!(p.total(), 4);
        drop(s4);
        drop(s3);
        assert_eq!(p.total(), 2, "refusals hold no slot");
        drop((s1, s2));
        assert_eq!(p.total(), 0);
    }

    /// The flood: ten sources each open as many idle connections as the per-source
    /// cap allows. With only a hard cap they take every slot and the next newcomer is
    /// refused; with early drop a part of the flood is refused on the way up and the
    /// newcomer gets a fair chance.
    #[test]
    fn ten_sources_at_their_cap_leave_room_for_a_newcomer() {
        use rand::{rngs::StdRng, SeedableRng};
        let flood = |limits: LimitsConfig, seed: u64| {
            let g = gate(limits);
            let p = Arc::new(Preauth::default());
            let mut rng = StdRng::seed_from_u64(seed);
            let mut held = Vec::new();
            for source in 2..12u8 {
                for _ in 0..limits.max_preauth_per_source {
                    let ip = IpAddr::from([127, 0, 0, source]);
                    if let Ok(slot) = g.admit_with(ip, &p, || rng.gen_range(0..100)) {
                        held.push(slot);
                    }
                }
            }
            let newcomer: IpAddr = "127.0.0.99".parse().unwrap();
            let got_in = (0..1000)
                .filter(|_| g.admit_with(newcomer, &p, || rng.gen_range(0..100)).is_ok())
                .count();
            (held.len(), got_in)
        };
        let hard_cap = LimitsConfig {
            preauth_drop_start: 100,
            per_source_per_minute: 100_000,
            global_per_second: 100_000,
            ..LimitsConfig::default()
        };
        let (held, got_in) = flood(hard_cap, 1);
        assert_eq!((held, got_in), (100, 0), "the hard cap alone is full");
        for seed in 0..20 {
            let (held, got_in) = flood(
                LimitsConfig {
                    preauth_drop_start: LimitsConfig::default().preauth_drop_start,
                    ..hard_cap
                },
                seed,
            );
            assert!(held < 100, "seed {seed}: {held} held");
            // About 35 % expected; each try is independent (refusals hold no slot).
            assert!(got_in > 100, "seed {seed}: {got_in} of 1000 got in");
        }
    }

    #[test]
    fn ipv6_sources_are_counted_per_prefix_and_mapped_ipv4_as_ipv4() {
        let g = gate(LimitsConfig {
            max_preauth_per_source: 2,
            ..LimitsConfig::default()
        });
        let p = Arc::new(Preauth::default());
        let ok = |ip: &str| g.admit_with(ip.parse().unwrap(), &p, never);
        let _a = ok("2001:db8:0:1::1").unwrap();
        let _b = ok("2001:db8:0:1:ffff:ffff:ffff:ffff").unwrap();
        assert_eq!(
            ok("2001:db8:0:1::abcd").unwrap_err(),
            Refusal::SourcePreauth,
            "a third address in the same /64"
        );
        let _c = ok("2001:db8:0:2::1").expect("another /64 is another source");
        let _d = ok("127.0.0.2").unwrap();
        let _e = ok("::ffff:127.0.0.2").unwrap();
        assert_eq!(
            ok("127.0.0.2").unwrap_err(),
            Refusal::SourcePreauth,
            "mapped IPv4 is the same source as IPv4"
        );
        assert!(ok("127.0.0.3").is_ok(), "IPv4 is keyed per address");

        let wide = gate(LimitsConfig {
            max_preauth_per_source: 1,
            ipv6_prefix: 48,
            ..LimitsConfig::default()
        });
        let _f = wide
            .admit_with("2001:db8:0:1::1".parse().unwrap(), &p, never)
            .unwrap();
        assert_eq!(
            wide.admit_with("2001:db8:0:2::1".parse().unwrap(), &p, never)
                .unwrap_err(),
            Refusal::SourcePreauth,
            "one /48"
        );
    }

    #[test]
    fn the_per_source_rate_is_counted_per_ipv6_prefix() {
        let g = gate(LimitsConfig {
            per_source_per_minute: 3,
            ..LimitsConfig::default()
        });
        let p = Arc::new(Preauth::default());
        for host in 1..=3 {
            let ip = format!("2001:db8:7:7::{host}").parse().unwrap();
            drop(g.admit_with(ip, &p, never).unwrap());
        }
        assert_eq!(
            g.admit_with("2001:db8:7:7::99".parse().unwrap(), &p, never)
                .unwrap_err(),
            Refusal::SourceRate,
            "fresh addresses in the same /64 share its rate"
        );
        assert!(g
            .admit_with("2001:db8:7:8::1".parse().unwrap(), &p, never)
            .is_ok());
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
