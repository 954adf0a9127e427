//! The gate: decides, right after TCP accept and before a single SSH byte is sent, whether
//! a source address may talk to moat at all: the allow-list, new-connection rates (per
//! source and global, governor), and caps on connections that have not logged in yet
//! (per source, and in total with OpenSSH-style random early drop, [`EarlyDrop`]).
//!
//! Every per-source count is kept under [`source_key`]: an IPv4 address, or an IPv6
//! network of `[limits] ipv6_prefix` bits.
//!
//! Nothing here does IO; the caller hands in the peer address and drops the socket on a
//! refusal. [`LogThrottle`] keeps a flood of refusals from flooding the log, per source.

mod limits;
pub mod proxy;
mod throttle;

use std::net::{IpAddr, Ipv6Addr};

use ipnet::IpNet;

pub use limits::{EarlyDrop, Gate, Preauth, PreauthGuard, Refusal};
pub use throttle::{LogLine, LogThrottle};

/// The source a per-address limit counts `ip` under, as a network address: an IPv4
/// address is its own key (an IPv4-mapped IPv6 address, as a dual-stack listener reports
/// IPv4 peers, is the IPv4 address it carries); an IPv6 address is keyed by its first
/// `v6_prefix` bits, the rest zeroed, so whoever holds a whole prefix (a /64 is what one
/// site or one cloud VM gets) counts as one source. `v6_prefix` above 128 counts as 128.
pub fn source_key(ip: IpAddr, v6_prefix: u8) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let keep = u32::from(v6_prefix.min(128));
            // A shift by 128 (prefix 0) is out of range: nothing is kept.
            let mask = u128::MAX.checked_shl(128 - keep).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

/// [`source_key`] as text, as lockout counts and the hashing bound key a source: an IPv4
/// address as itself, an IPv6 source as its network (`2001:db8:1:2::/64`).
pub fn source_label(ip: IpAddr, v6_prefix: u8) -> String {
    match source_key(ip, v6_prefix) {
        IpAddr::V6(net) if v6_prefix < 128 => format!("{net}/{v6_prefix}"),
        key => key.to_string(),
    }
}

/// Source networks allowed to connect.
#[derive(Clone, Debug, Default)]
pub struct Allowlist {
    nets: Vec<IpNet>,
}

impl Allowlist {
    pub fn new(nets: Vec<IpNet>) -> Allowlist {
        Allowlist { nets }
    }

    /// True when `ip` is inside one of the networks. An IPv4-mapped IPv6 address
    /// (`::ffff:10.1.2.3`, as a dual-stack listener reports IPv4 peers) is checked as the
    /// IPv4 address it carries.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|net| net.contains(&ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(nets: &[&str]) -> Allowlist {
        Allowlist::new(nets.iter().map(|n| n.parse().unwrap()).collect())
    }

    fn key(ip: &str, prefix: u8) -> String {
        source_key(ip.parse().unwrap(), prefix).to_string()
    }

    #[test]
    fn source_keys_aggregate_ipv6_by_prefix_and_keep_ipv4_per_address() {
        assert_eq!(
            key("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 64),
            "2001:db8:1:2::"
        );
        assert_eq!(key("2001:db8:1:2::1", 64), key("2001:db8:1:2:ffff::9", 64));
        assert_ne!(key("2001:db8:1:2::1", 64), key("2001:db8:1:3::1", 64));
        assert_eq!(key("2001:db8:1:2::1", 48), "2001:db8:1::");
        assert_eq!(key("2001:db8:1:2::1", 56), "2001:db8:1::");
        assert_eq!(key("2001:db8:1:2ff::1", 56), "2001:db8:1:200::");
        assert_eq!(key("2001:db8::1", 128), "2001:db8::1");
        assert_eq!(key("2001:db8::1", 200), "2001:db8::1", "clamped to 128");
        assert_eq!(key("2001:db8::1", 0), "::");
        assert_eq!(key("::1", 64), "::");
        // IPv4, and IPv4 carried in IPv6, are keyed per address whatever the prefix.
        assert_eq!(key("192.0.2.7", 64), "192.0.2.7");
        assert_eq!(key("::ffff:192.0.2.7", 64), "192.0.2.7");
        assert_eq!(key("::ffff:192.0.2.7", 8), "192.0.2.7");
        assert_ne!(key("192.0.2.7", 64), key("192.0.2.8", 64));
    }

    #[test]
    fn ipv4_ipv6_and_mapped() {
        let a = list(&["127.0.0.1/32", "10.0.0.0/8", "2001:db8::/32"]);
        assert!(a.allows("127.0.0.1".parse().unwrap()));
        assert!(!a.allows("127.0.0.2".parse().unwrap()));
        assert!(a.allows("10.200.3.4".parse().unwrap()));
        assert!(
            a.allows("::ffff:10.1.2.3".parse().unwrap()),
            "mapped v4 is v4"
        );
        assert!(!a.allows("::ffff:11.1.2.3".parse().unwrap()));
        assert!(a.allows("2001:db8::1".parse().unwrap()));
        assert!(!a.allows("2001:db9::1".parse().unwrap()));
        assert!(!a.allows("::1".parse().unwrap()));
        assert!(
            !list(&[]).allows("127.0.0.1".parse().unwrap()),
            "empty list allows nobody"
        );
    }
}
