//! The PROXY protocol, version 2 (haproxy's binary header), as sent by a TCP load
//! balancer in front of moat: the first bytes of the connection say which client the
//! proxy is forwarding, so the allow-list, rate limits and lockout apply to the client's
//! address instead of the proxy's.
//!
//! Only sources in `trusted_proxies` may send one. Pure: [`parse`] reads a header from
//! bytes; the SSH front does the reading (and refuses a header from anyone else).
//!
//! Layout (all big-endian): 12-byte [`SIGNATURE`]; version/command byte (`0x2_`: version
//! 2; low nibble 0 = LOCAL, 1 = PROXY); family/protocol byte (`0x11` TCP over IPv4,
//! `0x21` TCP over IPv6, others unspecified); a u16 length of what follows; then, for
//! TCP, source address, destination address, source port, destination port; then TLVs,
//! which moat skips.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The first 12 bytes of every version 2 header.
pub const SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// Bytes before the variable part: signature, version/command, family, length.
pub const FIXED_LEN: usize = 16;
/// Longest header accepted (the u16 length allows 64 KiB of TLVs; nobody needs that).
pub const MAX_LEN: usize = FIXED_LEN + 1024;

/// A parsed header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Bytes the header takes, to consume before the SSH stream starts.
    pub len: usize,
    /// The client the proxy forwards; `None` for a LOCAL connection (the proxy's own
    /// health check) or an unspecified family: the connection's own address stands.
    pub source: Option<SocketAddr>,
}

/// Why bytes are not a usable header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Not a PROXY v2 header at all (e.g. an SSH client speaking first).
    NotProxy,
    /// More bytes are needed: at least this many in all.
    Incomplete(usize),
    /// A v2 signature with something wrong after it.
    Malformed(&'static str),
}

/// Whether `bytes` (possibly only the first few of a stream) could start a header.
pub fn starts_like_header(bytes: &[u8]) -> bool {
    let n = bytes.len().min(SIGNATURE.len());
    bytes[..n] == SIGNATURE[..n]
}

/// Parse a header at the start of `bytes`.
pub fn parse(bytes: &[u8]) -> Result<Header, Error> {
    if !starts_like_header(bytes) {
        return Err(Error::NotProxy);
    }
    let Some(fixed) = bytes.get(..FIXED_LEN) else {
        return Err(Error::Incomplete(FIXED_LEN));
    };
    let version_command = fixed[12];
    let family = fixed[13];
    let rest = usize::from(u16::from_be_bytes([fixed[14], fixed[15]]));
    let len = FIXED_LEN + rest;
    if version_command >> 4 != 2 {
        return Err(Error::Malformed("not version 2"));
    }
    if len > MAX_LEN {
        return Err(Error::Malformed("header longer than 1 KiB"));
    }
    let Some(body) = bytes.get(FIXED_LEN..len) else {
        return Err(Error::Incomplete(len));
    };
    let source = match version_command & 0x0f {
        0x0 => None, // LOCAL: the proxy speaking for itself
        0x1 => match family {
            0x11 => {
                let b = body
                    .get(..12)
                    .ok_or(Error::Malformed("short IPv4 addresses"))?;
                let ip = Ipv4Addr::new(b[0], b[1], b[2], b[3]);
                Some(SocketAddr::new(
                    IpAddr::V4(ip),
                    u16::from_be_bytes([b[8], b[9]]),
                ))
            }
            0x21 => {
                let b = body
                    .get(..36)
                    .ok_or(Error::Malformed("short IPv6 addresses"))?;
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&b[..16]);
                Some(SocketAddr::new(
                    IpAddr::V6(Ipv6Addr::from(octets)),
                    u16::from_be_bytes([b[32], b[33]]),
                ))
            }
            // UNSPEC, UNIX sockets, UDP: no client address to use.
            _ => None,
        },
        _ => return Err(Error::Malformed("unknown command")),
    };
    Ok(Header { len, source })
}

/// A header for `source` → `destination` (tests, benchmarks and tools that play proxy).
pub fn encode(source: SocketAddr, destination: SocketAddr) -> Vec<u8> {
    let mut out = SIGNATURE.to_vec();
    out.push(0x21); // version 2, PROXY
    match (source, destination) {
        (SocketAddr::V4(s), SocketAddr::V4(d)) => {
            out.push(0x11);
            out.extend_from_slice(&12u16.to_be_bytes());
            out.extend_from_slice(&s.ip().octets());
            out.extend_from_slice(&d.ip().octets());
            out.extend_from_slice(&s.port().to_be_bytes());
            out.extend_from_slice(&d.port().to_be_bytes());
        }
        (s, d) => {
            let v6 = |a: SocketAddr| match a.ip() {
                IpAddr::V4(ip) => ip.to_ipv6_mapped(),
                IpAddr::V6(ip) => ip,
            };
            out.push(0x21);
            out.extend_from_slice(&36u16.to_be_bytes());
            out.extend_from_slice(&v6(s).octets());
            out.extend_from_slice(&v6(d).octets());
            out.extend_from_slice(&s.port().to_be_bytes());
            out.extend_from_slice(&d.port().to_be_bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv4_and_ipv6_round_trip_and_extra_bytes_stay() {
        let h = encode(addr("10.9.8.7:5555"), addr("192.0.2.1:2222"));
        let mut stream = h.clone();
        stream.extend_from_slice(b"SSH-2.0-OpenSSH_9.6\r\n");
        assert_eq!(
            parse(&stream),
            Ok(Header {
                len: 28,
                source: Some(addr("10.9.8.7:5555"))
            })
        );
        let h6 = encode(addr("[2001:db8::5]:4000"), addr("[2001:db8::1]:2222"));
        assert_eq!(parse(&h6).unwrap().source, Some(addr("[2001:db8::5]:4000")));
        assert_eq!(parse(&h6).unwrap().len, 52);
    }

    #[test]
    fn incomplete_local_and_malformed() {
        let h = encode(addr("10.9.8.7:5555"), addr("192.0.2.1:2222"));
        assert_eq!(parse(&h[..5]), Err(Error::Incomplete(16)));
        assert_eq!(parse(&h[..20]), Err(Error::Incomplete(28)));
        assert_eq!(parse(b"SSH-2.0-x\r\n"), Err(Error::NotProxy));
        assert!(starts_like_header(&h[..3]));
        assert!(!starts_like_header(b"SSH"));

        let mut local = h.clone();
        local[12] = 0x20;
        assert_eq!(
            parse(&local).unwrap().source,
            None,
            "LOCAL: the proxy itself"
        );
        let mut v1 = h.clone();
        v1[12] = 0x11;
        assert_eq!(parse(&v1), Err(Error::Malformed("not version 2")));
        let mut short = h.clone();
        short[15] = 4;
        assert_eq!(parse(&short), Err(Error::Malformed("short IPv4 addresses")));
        let mut huge = h.clone();
        huge[14] = 0xff;
        assert_eq!(
            parse(&huge),
            Err(Error::Malformed("header longer than 1 KiB"))
        );
        let mut unix = h;
        unix[13] = 0x31;
        assert_eq!(parse(&unix).unwrap().source, None);
    }
}
