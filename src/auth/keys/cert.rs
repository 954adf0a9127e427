//! SSH user certificates (OpenSSH's PROTOCOL.certkeys): the rules a certificate meets to
//! stand as the key factor of a login. Time and the client's address are passed in.
//!
//! A certificate is taken when it is signed by a CA listed in `trusted_user_ca_keys`, is a
//! *user* certificate, is valid now (`valid_after <= now < valid_before`), lists at least
//! one principal and one of them stands for the user (the username, or what
//! `[auth.principals]` maps it to), its key and its CA's signature are of kinds moat takes,
//! and its critical options are ones moat can honour: `source-address` is checked against
//! the client's address; `force-command` and `verify-required` (which moat cannot honour:
//! it serves its console, and russh does not show it a FIDO signature's flags) and any
//! unknown option refuse the certificate, as OpenSSH refuses options it does not know.
//! Extensions (`permit-pty`, …) are ignored. Revocation is checked apart (see `revoked`).

use std::net::IpAddr;

use ipnet::IpNet;
use ssh_key::certificate::CertType;
use ssh_key::public::KeyData;
use ssh_key::{Certificate, Fingerprint, HashAlg, PublicKey};

use super::{check_key_data, check_signature_algorithm, fingerprint, KeyError};

/// The CAs whose user certificates moat trusts.
#[derive(Clone, Debug, Default)]
pub struct TrustedCas {
    fingerprints: Vec<Fingerprint>,
}

impl TrustedCas {
    /// Parse `trusted_user_ca_keys`: one public key a line (`#` comments and blank lines
    /// ignored). Every CA key must be of a kind moat takes (an RSA CA of 3072+ bits).
    pub fn parse(text: &str) -> Result<TrustedCas, String> {
        let mut fingerprints = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let key = PublicKey::from_openssh(line)
                .map_err(|_| format!("line {}: not an OpenSSH public key", n + 1))?;
            check_key_data(key.key_data()).map_err(|e| format!("line {}: {e}", n + 1))?;
            fingerprints.push(key.key_data().fingerprint(HashAlg::Sha256));
        }
        if fingerprints.is_empty() {
            return Err("lists no CA key".into());
        }
        Ok(TrustedCas { fingerprints })
    }

    pub fn is_empty(&self) -> bool {
        self.fingerprints.is_empty()
    }

    fn trusts(&self, ca: &KeyData) -> bool {
        let fp = ca.fingerprint(HashAlg::Sha256);
        self.fingerprints.contains(&fp)
    }
}

/// What the audit trail records of a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertFacts {
    pub key_id: String,
    pub serial: u64,
    /// The signing CA's fingerprint.
    pub ca: String,
    /// The certified key's fingerprint.
    pub key: String,
}

impl CertFacts {
    pub fn of(cert: &Certificate) -> CertFacts {
        CertFacts {
            key_id: cert.key_id().chars().take(200).collect(),
            serial: cert.serial(),
            ca: fingerprint(cert.signature_key()),
            key: fingerprint(cert.public_key()),
        }
    }

    /// For audit rows: `certificate "alice@laptop" serial 42 (key SHA256:…, CA SHA256:…)`.
    pub fn describe(&self) -> String {
        format!(
            "certificate {:?} serial {} (key {}, CA {})",
            self.key_id, self.serial, self.key, self.ca
        )
    }
}

/// Why a certificate is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CertRefusal {
    #[error("not signed by a trusted CA")]
    UntrustedCa,
    #[error("its CA signature does not verify")]
    BadSignature,
    #[error("a host certificate")]
    NotUser,
    #[error("not valid yet")]
    NotYetValid,
    #[error("expired")]
    Expired,
    #[error("lists no principal")]
    NoPrincipals,
    #[error("no principal of it stands for this user")]
    Principal,
    #[error("source-address does not allow this client")]
    SourceAddress,
    #[error("critical option `{0}` cannot be honoured")]
    CriticalOption(String),
    #[error("{0}")]
    Key(KeyError),
}

impl CertRefusal {
    /// Whether the refusal is worth an audit row: anything about a certificate our own CA
    /// signed (someone holds it), not a stranger's certificate.
    pub fn from_trusted_ca(&self) -> bool {
        !matches!(self, CertRefusal::UntrustedCa | CertRefusal::BadSignature)
    }
}

/// Check `cert` for a login as a user whose principals are `principals`, from `source`,
/// at `now` (unix seconds).
pub fn check(
    cert: &Certificate,
    cas: &TrustedCas,
    principals: &[String],
    source: IpAddr,
    now: u64,
) -> Result<CertFacts, CertRefusal> {
    if !cas.trusts(cert.signature_key()) {
        return Err(CertRefusal::UntrustedCa);
    }
    // Signature against the CA (and, again, the window) by ssh-key; the window below
    // first, to say which end failed.
    if now < cert.valid_after() {
        return Err(CertRefusal::NotYetValid);
    }
    if now >= cert.valid_before() {
        return Err(CertRefusal::Expired);
    }
    cert.validate_at(now, cas.fingerprints.iter())
        .map_err(|_| CertRefusal::BadSignature)?;
    check_signature_algorithm(&cert.signature().algorithm()).map_err(CertRefusal::Key)?;
    if cert.cert_type() != CertType::User {
        return Err(CertRefusal::NotUser);
    }
    if cert.valid_principals().is_empty() {
        // OpenSSH reads an empty list as "any user"; moat never does.
        return Err(CertRefusal::NoPrincipals);
    }
    if !cert
        .valid_principals()
        .iter()
        .any(|p| principals.contains(p))
    {
        return Err(CertRefusal::Principal);
    }
    for (name, value) in cert.critical_options().iter() {
        match name.as_str() {
            "source-address" => {
                if !source_allowed(value, source) {
                    return Err(CertRefusal::SourceAddress);
                }
            }
            other => {
                return Err(CertRefusal::CriticalOption(
                    other.chars().take(64).collect(),
                ))
            }
        }
    }
    check_key_data(cert.public_key()).map_err(CertRefusal::Key)?;
    Ok(CertFacts::of(cert))
}

/// Whether `source` is in a `source-address` list (comma-separated CIDRs or addresses).
/// A list with an entry moat cannot read allows nobody.
fn source_allowed(list: &str, source: IpAddr) -> bool {
    let source = source.to_canonical();
    let mut nets = Vec::new();
    for item in list.split(',') {
        let item = item.trim();
        let net = item
            .parse::<IpNet>()
            .or_else(|_| item.parse::<IpAddr>().map(IpNet::from));
        match net {
            Ok(net) => nets.push(net),
            Err(_) => return false,
        }
    }
    nets.iter().any(|n| n.contains(&source))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ssh_key::certificate::Builder;
    use ssh_key::private::{Ed25519Keypair, KeypairData};
    use ssh_key::PrivateKey;

    const NOW: u64 = 1_800_000_000;

    pub(crate) fn key() -> PrivateKey {
        let seed: [u8; 32] = rand::random();
        PrivateKey::new(KeypairData::Ed25519(Ed25519Keypair::from_seed(&seed)), "").unwrap()
    }

    pub(crate) fn cert_with(
        ca: &PrivateKey,
        user: &PrivateKey,
        principals: &[&str],
        edit: impl FnOnce(&mut Builder),
    ) -> Certificate {
        let nonce: [u8; 32] = rand::random();
        let mut b = Builder::new(
            nonce.to_vec(),
            user.public_key().key_data().clone(),
            NOW - 60,
            NOW + 3600,
        )
        .unwrap();
        b.serial(42).unwrap();
        b.key_id("alice@laptop").unwrap();
        for p in principals {
            b.valid_principal(*p).unwrap();
        }
        edit(&mut b);
        b.sign(ca).unwrap()
    }

    fn cas(ca: &PrivateKey) -> TrustedCas {
        TrustedCas::parse(&ca.public_key().to_openssh().unwrap()).unwrap()
    }

    fn alice() -> Vec<String> {
        vec!["alice".to_string()]
    }

    fn here() -> IpAddr {
        "127.0.0.1".parse().unwrap()
    }

    #[test]
    fn a_good_certificate_passes_with_its_facts() {
        let (ca, user) = (key(), key());
        let cert = cert_with(&ca, &user, &["alice"], |_| {});
        let facts = check(&cert, &cas(&ca), &alice(), here(), NOW).unwrap();
        assert_eq!(facts.key_id, "alice@laptop");
        assert_eq!(facts.serial, 42);
        assert_eq!(facts.ca, fingerprint(ca.public_key().key_data()));
        assert!(
            facts.describe().contains("serial 42"),
            "{}",
            facts.describe()
        );
    }

    #[test]
    fn time_principals_ca_and_type_are_checked() {
        let (ca, user, other_ca) = (key(), key(), key());
        let cert = cert_with(&ca, &user, &["alice"], |_| {});
        let trusted = cas(&ca);
        assert_eq!(
            check(&cert, &trusted, &alice(), here(), NOW + 3600),
            Err(CertRefusal::Expired)
        );
        assert_eq!(
            check(&cert, &trusted, &alice(), here(), NOW - 61),
            Err(CertRefusal::NotYetValid)
        );
        assert_eq!(
            check(&cert, &trusted, &["bob".to_string()], here(), NOW),
            Err(CertRefusal::Principal)
        );
        assert_eq!(
            check(&cert, &cas(&other_ca), &alice(), here(), NOW),
            Err(CertRefusal::UntrustedCa)
        );
        // A certificate that claims a trusted CA but was signed by another key.
        let forged = cert_with(&other_ca, &user, &["alice"], |_| {});
        assert_eq!(
            check(&forged, &trusted, &alice(), here(), NOW),
            Err(CertRefusal::UntrustedCa)
        );
        let none = cert_with(&ca, &user, &[], |b| {
            b.all_principals_valid().unwrap();
        });
        assert_eq!(
            check(&none, &trusted, &alice(), here(), NOW),
            Err(CertRefusal::NoPrincipals)
        );
        let host = cert_with(&ca, &user, &["alice"], |b| {
            b.cert_type(CertType::Host).unwrap();
        });
        assert_eq!(
            check(&host, &trusted, &alice(), here(), NOW),
            Err(CertRefusal::NotUser)
        );
        // A mapped principal stands for the user.
        let mapped = cert_with(&ca, &user, &["a.smith"], |_| {});
        let principals = vec!["a.smith".to_string()];
        assert!(check(&mapped, &trusted, &principals, here(), NOW).is_ok());
        assert_eq!(
            check(&mapped, &trusted, &alice(), here(), NOW),
            Err(CertRefusal::Principal)
        );
    }

    #[test]
    fn critical_options_are_honoured_or_refuse() {
        let (ca, user) = (key(), key());
        let trusted = cas(&ca);
        let from = cert_with(&ca, &user, &["alice"], |b| {
            b.critical_option("source-address", "10.0.0.0/8,127.0.0.1")
                .unwrap();
        });
        assert!(check(&from, &trusted, &alice(), here(), NOW).is_ok());
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert!(check(&from, &trusted, &alice(), mapped, NOW).is_ok());
        assert_eq!(
            check(&from, &trusted, &alice(), "192.0.2.1".parse().unwrap(), NOW),
            Err(CertRefusal::SourceAddress)
        );
        let junk = cert_with(&ca, &user, &["alice"], |b| {
            b.critical_option("source-address", "10.0.0.0/8,nonsense")
                .unwrap();
        });
        assert_eq!(
            check(&junk, &trusted, &alice(), "10.1.1.1".parse().unwrap(), NOW),
            Err(CertRefusal::SourceAddress)
        );
        for option in ["force-command", "verify-required", "x-unknown@example.com"] {
            let c = cert_with(&ca, &user, &["alice"], |b| {
                b.critical_option(option, "").unwrap();
            });
            assert_eq!(
                check(&c, &trusted, &alice(), here(), NOW),
                Err(CertRefusal::CriticalOption(option.into())),
                "{option}"
            );
        }
    }

    #[test]
    fn trusted_ca_files_are_checked() {
        assert!(TrustedCas::parse("# none\n").is_err());
        assert!(TrustedCas::parse("ssh-ed25519 junk").is_err());
        let rsa_1024 = format!(
            "{}/tests/data/openssh/sshkey-rsa_1.pub",
            env!("CARGO_MANIFEST_DIR")
        );
        let err = TrustedCas::parse(&std::fs::read_to_string(rsa_1024).unwrap()).unwrap_err();
        assert!(err.contains("3072"), "{err}");
    }
}
