//! Public keys and SSH user certificates as a login factor: which keys moat takes, how they
//! are named (OpenSSH's `SHA256:…` fingerprints), the login rules (`[auth] require`), the
//! certificate rules, the revocation list and FIDO (`sk-`) signatures.
//!
//! Pure: time, the client's address and file contents come in as arguments. The login
//! sequence that uses them is `auth::service` (its `keys` part).
//!
//! Keys moat takes: Ed25519, ECDSA on P-256 and P-384, RSA of at least 3072 bits (and only
//! with SHA-2 signatures, `rsa-sha2-256`/`-512`), and the FIDO `sk-ssh-ed25519@openssh.com`
//! and `sk-ecdsa-sha2-nistp256@openssh.com`. DSA, P-521 and SHA-1 RSA are refused.

pub mod cert;
pub mod methods;
pub mod revoked;
pub mod rules;
pub mod sk;

use ssh_key::public::KeyData;
use ssh_key::{Algorithm, EcdsaCurve, HashAlg, PublicKey};

pub use cert::{CertFacts, CertRefusal, TrustedCas};
pub use methods::{Factors, Methods};
pub use revoked::RevocationList;
pub use rules::KeyRules;

/// RSA keys shorter than this are refused (NIST SP 800-57: 3072 bits for 128-bit security).
pub const MIN_RSA_BITS: u32 = 3072;

/// The longest key line `key add` takes (an RSA 16384-bit key is about 2,800 characters).
const MAX_LINE: usize = 16 * 1024;
/// The longest comment kept with a key.
const MAX_COMMENT: usize = 200;

/// Why a key is not taken.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("not an OpenSSH public key (expected `ssh-ed25519 AAAA… comment`)")]
    Unreadable,
    #[error("a key line with options: give the key alone (`ssh-ed25519 AAAA… comment`)")]
    Options,
    #[error("this is a certificate, not a key: trust its CA with `trusted_user_ca_keys` instead")]
    Certificate,
    #[error("{0} keys are not accepted (use ed25519, ecdsa P-256/P-384, RSA of 3072+ bits, or a FIDO sk- key)")]
    Algorithm(String),
    #[error("RSA key of {0} bits: at least 3072 are required")]
    RsaTooShort(u32),
    #[error("ssh-rsa signatures (SHA-1) are not accepted: use rsa-sha2-256 or rsa-sha2-512")]
    Sha1,
    #[error("the key line is longer than {MAX_LINE} characters")]
    TooLong,
}

/// Whether moat takes keys of this kind (for user keys, certified keys and CA keys).
pub fn check_key_data(key: &KeyData) -> Result<(), KeyError> {
    match key {
        KeyData::Ed25519(_) | KeyData::SkEd25519(_) | KeyData::SkEcdsaSha2NistP256(_) => Ok(()),
        KeyData::Ecdsa(k) if matches!(k.curve(), EcdsaCurve::NistP256 | EcdsaCurve::NistP384) => {
            Ok(())
        }
        KeyData::Rsa(k) if k.key_size() >= MIN_RSA_BITS => Ok(()),
        KeyData::Rsa(k) => Err(KeyError::RsaTooShort(k.key_size())),
        KeyData::Certificate(_) => Err(KeyError::Certificate),
        other => Err(KeyError::Algorithm(other.algorithm().as_str().to_string())),
    }
}

/// Whether a signature algorithm a client names is acceptable: RSA only with SHA-2.
pub fn check_signature_algorithm(algorithm: &Algorithm) -> Result<(), KeyError> {
    match algorithm {
        Algorithm::Rsa { hash: None } => Err(KeyError::Sha1),
        _ => Ok(()),
    }
}

/// A key's name as OpenSSH prints it (`SHA256:` and unpadded base64).
pub fn fingerprint(key: &KeyData) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// A key as an operator gives it to `moat user key add`, checked and normalised.
#[derive(Clone, Debug)]
pub struct ParsedKey {
    pub key: PublicKey,
    /// The algorithm's OpenSSH name (`ssh-ed25519`, `sk-ssh-ed25519@openssh.com`, …).
    pub algorithm: String,
    /// The key in OpenSSH's one-line form, without its comment.
    pub openssh: String,
    pub fingerprint: String,
    pub comment: String,
}

/// Parse one `authorized_keys`-style line without options: `ALGORITHM BASE64 [COMMENT]`.
pub fn parse_public_key(line: &str) -> Result<ParsedKey, KeyError> {
    let line = line.trim();
    if line.len() > MAX_LINE {
        return Err(KeyError::TooLong);
    }
    let first = line.split_whitespace().next().unwrap_or_default();
    if first.contains("-cert-v01@openssh.com") {
        return Err(KeyError::Certificate);
    }
    let key = match PublicKey::from_openssh(line) {
        Ok(key) => key,
        // `no-touch-required ssh-ed25519 AAAA…`, `from="…" ssh-rsa …`: options first.
        Err(_) if Algorithm::new(first).is_err() && line.split_whitespace().count() >= 3 => {
            return Err(KeyError::Options)
        }
        Err(_) => return Err(KeyError::Unreadable),
    };
    check_key_data(key.key_data())?;
    let comment: String = key
        .comment()
        .as_str_lossy()
        .chars()
        .take(MAX_COMMENT)
        .collect();
    let bare = PublicKey::new(key.key_data().clone(), "");
    let openssh = bare.to_openssh().map_err(|_| KeyError::Unreadable)?;
    Ok(ParsedKey {
        algorithm: key.algorithm().as_str().to_string(),
        fingerprint: fingerprint(key.key_data()),
        openssh: openssh.trim().to_string(),
        comment,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(name: &str) -> String {
        let path = format!("{}/tests/data/openssh/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn openssh_vectors_parse_with_openssh_fingerprints() {
        for (key, fp, algorithm) in [
            ("sshkey-ed25519_1.pub", "sshkey-ed25519_1.fp", "ssh-ed25519"),
            (
                "sshkey-ed25519_sk1.pub",
                "sshkey-ed25519_sk1.fp",
                "sk-ssh-ed25519@openssh.com",
            ),
            (
                "sshkey-ecdsa_sk1.pub",
                "sshkey-ecdsa_sk1.fp",
                "sk-ecdsa-sha2-nistp256@openssh.com",
            ),
        ] {
            let parsed = parse_public_key(&vector(key)).unwrap();
            assert_eq!(parsed.fingerprint, vector(fp).trim(), "{key}");
            assert_eq!(parsed.algorithm, algorithm);
            assert!(!parsed.openssh.contains(' ') || parsed.openssh.split(' ').count() == 2);
            // The stored form parses back to the same key.
            let again = parse_public_key(&parsed.openssh).unwrap();
            assert_eq!(again.fingerprint, parsed.fingerprint);
        }
        let p256 = parse_public_key(&vector("sshkey-ecdsa_1.pub")).unwrap();
        assert_eq!(p256.algorithm, "ecdsa-sha2-nistp256");
    }

    #[test]
    fn weak_and_unsupported_keys_and_certificates_are_refused() {
        // OpenSSH's rsa_1 is 1024 bits.
        assert_eq!(
            parse_public_key(&vector("sshkey-rsa_1.pub")).unwrap_err(),
            KeyError::RsaTooShort(1024)
        );
        assert_eq!(
            parse_public_key(&vector("sshkey-ed25519_1-cert.pub")).unwrap_err(),
            KeyError::Certificate
        );
        assert_eq!(
            parse_public_key(&format!(
                "no-touch-required {}",
                vector("sshkey-ed25519_1.pub")
            ))
            .unwrap_err(),
            KeyError::Options
        );
        assert_eq!(
            parse_public_key("ssh-ed25519 notbase64!! x").unwrap_err(),
            KeyError::Unreadable
        );
        assert_eq!(parse_public_key("").unwrap_err(), KeyError::Unreadable);
        assert_eq!(
            parse_public_key(&"A".repeat(MAX_LINE + 1)).unwrap_err(),
            KeyError::TooLong
        );
        let ours = |name: &str| {
            let path = format!("{}/tests/data/keys/{name}", env!("CARGO_MANIFEST_DIR"));
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
        };
        assert!(
            matches!(
                parse_public_key(&ours("dsa.pub")),
                Err(KeyError::Algorithm(_))
            ),
            "{:?}",
            parse_public_key(&ours("dsa.pub"))
        );
        assert_eq!(
            parse_public_key(&ours("ecdsa_p521.pub")).unwrap_err(),
            KeyError::Algorithm("ecdsa-sha2-nistp521".into())
        );
        assert_eq!(
            parse_public_key(&ours("rsa_3072.pub")).unwrap().algorithm,
            "ssh-rsa"
        );
        assert_eq!(
            parse_public_key(&ours("ecdsa_p384.pub")).unwrap().algorithm,
            "ecdsa-sha2-nistp384"
        );
    }

    #[test]
    fn sha1_rsa_signatures_are_refused() {
        assert_eq!(
            check_signature_algorithm(&Algorithm::Rsa { hash: None }),
            Err(KeyError::Sha1)
        );
        assert!(check_signature_algorithm(&Algorithm::Rsa {
            hash: Some(HashAlg::Sha512)
        })
        .is_ok());
        assert!(check_signature_algorithm(&Algorithm::Ed25519).is_ok());
    }

    #[test]
    fn comments_are_kept_bounded() {
        let line = format!(
            "{} {}",
            vector("sshkey-ed25519_1.pub").trim(),
            "x".repeat(500)
        );
        let parsed = parse_public_key(&line).unwrap();
        assert!(parsed.comment.len() <= MAX_COMMENT);
        assert!(!parsed.openssh.contains("xxx"));
    }
}
