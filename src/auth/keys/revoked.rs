//! `revoked_keys`: keys and certificates that must not log in, whatever else says so.
//!
//! Not OpenSSH's binary KRL (no maintained Rust crate parses it): a text file, one entry a
//! line, `#` comments and blank lines ignored:
//!
//! ```text
//! ssh-ed25519 AAAAC3Nz… lost laptop      # a public key (with or without a comment)
//! SHA256:6WZVJ44bqhAWLVP4Ns0TDkoSQSsZo/h2K+mEvOaNFbw   # a key by its fingerprint
//! serial:42                               # certificates with this serial (any trusted CA)
//! serial:100-199                          # … or in this range
//! id:alice@laptop-2024                    # certificates with this key id
//! ```
//!
//! A revoked key is refused as a registered key, as the key inside a certificate and as a
//! CA (every certificate it signed). A line moat cannot read makes the whole file invalid:
//! `serve` refuses to start, and a file that breaks while moat runs refuses every key and
//! certificate until it is fixed (fail closed, as OpenSSH does with `RevokedKeys`).

use std::collections::HashSet;

use ssh_key::public::KeyData;
use ssh_key::{Certificate, PublicKey};

use super::fingerprint;

/// A parsed revocation list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RevocationList {
    fingerprints: HashSet<String>,
    serials: Vec<(u64, u64)>,
    key_ids: HashSet<String>,
}

impl RevocationList {
    /// Parse the file's text; the error names the first bad line.
    pub fn parse(text: &str) -> Result<RevocationList, String> {
        let mut list = RevocationList::default();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.split_once('#').map_or(raw, |(before, _)| before).trim();
            // A key's comment may hold a `#`; keep whole-line keys whole.
            let line = if raw.trim_start().starts_with('#') {
                ""
            } else if PublicKey::from_openssh(raw.trim()).is_ok() {
                raw.trim()
            } else {
                line
            };
            if line.is_empty() {
                continue;
            }
            let bad = || {
                format!("line {}: `{}` is not a key, SHA256: fingerprint, serial:N, serial:N-M or id:KEYID", n + 1, line.escape_debug())
            };
            if let Some(fp) = line.strip_prefix("SHA256:") {
                if fp.is_empty()
                    || !fp
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c))
                {
                    return Err(bad());
                }
                list.fingerprints
                    .insert(format!("SHA256:{}", fp.trim_end_matches('=')));
            } else if let Some(serials) = line.strip_prefix("serial:") {
                let serials = serials.trim();
                let (lo, hi) = match serials.split_once('-') {
                    Some((lo, hi)) => (lo.trim(), hi.trim()),
                    None => (serials, serials),
                };
                let (Ok(lo), Ok(hi)) = (lo.parse::<u64>(), hi.parse::<u64>()) else {
                    return Err(bad());
                };
                if lo > hi {
                    return Err(bad());
                }
                list.serials.push((lo, hi));
            } else if let Some(id) = line.strip_prefix("id:") {
                list.key_ids.insert(id.trim().to_string());
            } else if let Ok(key) = PublicKey::from_openssh(line) {
                list.fingerprints.insert(fingerprint(key.key_data()));
            } else {
                return Err(bad());
            }
        }
        Ok(list)
    }

    /// Whether `key` (a user key, a certified key or a CA) is revoked.
    pub fn revokes_key(&self, key: &KeyData) -> bool {
        self.fingerprints.contains(&fingerprint(key))
    }

    /// Why `cert` is revoked, if it is: its key, its CA, its serial or its key id.
    pub fn revokes_certificate(&self, cert: &Certificate) -> Option<&'static str> {
        if self.revokes_key(cert.public_key()) {
            Some("its key is revoked")
        } else if self.revokes_key(cert.signature_key()) {
            Some("its CA is revoked")
        } else if self
            .serials
            .iter()
            .any(|(lo, hi)| (*lo..=*hi).contains(&cert.serial()))
        {
            Some("its serial is revoked")
        } else if self.key_ids.contains(cert.key_id()) {
            Some("its key id is revoked")
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(name: &str) -> String {
        let path = format!("{}/tests/data/openssh/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn keys_fingerprints_serials_and_ids() {
        let cert = Certificate::from_openssh(&vector("sshkey-ed25519_1-cert.pub")).unwrap();
        let key = PublicKey::from_openssh(&vector("sshkey-ed25519_1.pub")).unwrap();
        let other = PublicKey::from_openssh(&vector("sshkey-ed25519_sk1.pub")).unwrap();
        let empty = RevocationList::parse("# nothing\n\n").unwrap();
        assert!(!empty.revokes_key(key.key_data()));
        assert_eq!(empty.revokes_certificate(&cert), None);

        let by_line = RevocationList::parse(&vector("sshkey-ed25519_1.pub")).unwrap();
        assert!(by_line.revokes_key(key.key_data()));
        assert!(!by_line.revokes_key(other.key_data()));
        assert_eq!(
            by_line.revokes_certificate(&cert),
            Some("its key is revoked"),
            "the cert certifies ed25519_1"
        );
        let by_fp = RevocationList::parse(&format!(
            "{}  # lost\n",
            vector("sshkey-ed25519_1.fp").trim()
        ))
        .unwrap();
        assert!(by_fp.revokes_key(key.key_data()));

        let serial = cert.serial();
        let by_serial = RevocationList::parse(&format!("serial:{serial}\n")).unwrap();
        assert_eq!(
            by_serial.revokes_certificate(&cert),
            Some("its serial is revoked")
        );
        let range = RevocationList::parse(&format!(
            "serial: {}-{}\n",
            serial.saturating_sub(1),
            serial + 1
        ))
        .unwrap();
        assert!(range.revokes_certificate(&cert).is_some());
        let not_it = RevocationList::parse(&format!("serial:{}\n", serial + 1)).unwrap();
        assert_eq!(not_it.revokes_certificate(&cert), None);
        let by_id = RevocationList::parse(&format!("id:{}\n", cert.key_id())).unwrap();
        assert_eq!(
            by_id.revokes_certificate(&cert),
            Some("its key id is revoked")
        );
        // OpenSSH's vector is self-signed; a CA apart from the key it certifies:
        use crate::auth::keys::cert::tests::{cert_with, key as new_key};
        let (ca, user) = (new_key(), new_key());
        let cert = cert_with(&ca, &user, &["alice"], |_| {});
        let by_ca = RevocationList::parse(&ca.public_key().to_openssh().unwrap()).unwrap();
        assert_eq!(by_ca.revokes_certificate(&cert), Some("its CA is revoked"));
    }

    #[test]
    fn a_bad_line_makes_the_file_invalid() {
        for bad in [
            "ssh-ed25519 garbage",
            "serial:x",
            "serial:9-3",
            "SHA256:",
            "hello",
        ] {
            let err = RevocationList::parse(&format!("# ok\n{bad}\n")).unwrap_err();
            assert!(err.starts_with("line 2:"), "{bad}: {err}");
        }
    }
}
