//! The gate: decides, right after TCP accept and before a single SSH byte is sent, whether
//! a source address may talk to moat at all: the allow-list, new-connection rates (per
//! source and global, governor), and caps on connections that have not logged in yet
//! (per source, and in total with OpenSSH-style random early drop, [`EarlyDrop`]).
//!
//! Nothing here does IO; the caller hands in the peer address and drops the socket on a
//! refusal. [`LogThrottle`] keeps a flood of refusals from flooding the log.

mod limits;
pub mod proxy;
mod throttle;

use std::net::IpAddr;

use ipnet::IpNet;

pub use limits::{EarlyDrop, Gate, Preauth, PreauthGuard, Refusal};
pub use throttle::LogThrottle;

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
