//! FIDO (`sk-`) signatures, as OpenSSH's PROTOCOL.u2f defines them.
//!
//! After the authenticator's own signature, an `sk-` signature blob carries a flags byte
//! (0x01 user present: the key was touched; 0x04 user verified: a PIN or biometric) and a
//! counter. The authenticator signs `SHA256(application) || flags || counter ||
//! SHA256(message)`, so a flag cannot be changed without breaking the signature. OpenSSH's
//! sshd refuses a signature without the user-present flag unless the key is marked
//! `no-touch-required`, and one without user verification where `verify-required` is set.
//!
//! [`verify`] applies those rules. At login it cannot be applied yet: russh 0.65 verifies
//! the signature itself (flags included in what is signed) and hands the handler only the
//! key, not the signature, so moat does not see the flags (README: "FIDO keys").

use ssh_key::public::KeyData;
use ssh_key::{Algorithm, Signature};

/// The user touched the authenticator.
pub const USER_PRESENT: u8 = 0x01;
/// The user proved who they are to the authenticator (PIN, biometric).
pub const USER_VERIFIED: u8 = 0x04;

/// The authenticator's report inside an `sk-` signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SkReport {
    pub flags: u8,
    pub counter: u32,
}

impl SkReport {
    pub fn user_present(self) -> bool {
        self.flags & USER_PRESENT != 0
    }

    pub fn user_verified(self) -> bool {
        self.flags & USER_VERIFIED != 0
    }
}

/// Why an `sk-` signature is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SkError {
    #[error("not a FIDO (sk-) signature")]
    NotSk,
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the authenticator was not touched (no user-presence flag)")]
    NoUserPresence,
    #[error("the user was not verified by the authenticator (verify-required)")]
    NoUserVerification,
}

/// The flags and counter of an `sk-` signature (not verified: see [`verify`]).
pub fn report(sig: &Signature) -> Result<SkReport, SkError> {
    if !matches!(
        sig.algorithm(),
        Algorithm::SkEd25519 | Algorithm::SkEcdsaSha2NistP256
    ) {
        return Err(SkError::NotSk);
    }
    let bytes = sig.as_bytes();
    let at = bytes.len().checked_sub(5).ok_or(SkError::NotSk)?;
    let (&flags, counter) = bytes[at..].split_first().ok_or(SkError::NotSk)?;
    let counter: [u8; 4] = counter.try_into().map_err(|_| SkError::NotSk)?;
    Ok(SkReport {
        flags,
        counter: u32::from_be_bytes(counter),
    })
}

/// Verify an `sk-` signature of `message` by `key` as sshd does: the signature (which
/// covers flags and counter) must verify, the user must have touched the key, and with
/// `need_verification` (`verify-required`) must have been verified too.
pub fn verify(
    key: &KeyData,
    message: &[u8],
    sig: &Signature,
    need_verification: bool,
) -> Result<SkReport, SkError> {
    let report = report(sig)?;
    if !matches!(key, KeyData::SkEd25519(_) | KeyData::SkEcdsaSha2NistP256(_)) {
        return Err(SkError::NotSk);
    }
    signature::Verifier::verify(key, message, sig).map_err(|_| SkError::BadSignature)?;
    if !report.user_present() {
        return Err(SkError::NoUserPresence);
    }
    if need_verification && !report.user_verified() {
        return Err(SkError::NoUserVerification);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};
    use ssh_key::private::Ed25519Keypair;
    use ssh_key::public::SkEd25519;
    use ssh_key::{HashAlg, PublicKey, SshSig};

    fn vector(name: &str) -> String {
        let path = format!("{}/tests/data/openssh/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// What an SSHSIG signature signs (the `message` an sk- authenticator hashed).
    fn sshsig_message(sig: &SshSig) -> Vec<u8> {
        SshSig::signed_data(
            sig.namespace(),
            sig.hash_alg(),
            vector("sshsig-signed-data").as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn openssh_sk_vectors_verify_with_their_flags_and_counter() {
        for name in ["ed25519_sk", "ecdsa_sk"] {
            let key = PublicKey::from_openssh(&vector(&format!("sshsig-{name}.pub"))).unwrap();
            let sig = SshSig::from_pem(vector(&format!("sshsig-{name}.sig"))).unwrap();
            assert_eq!(sig.namespace(), vector("sshsig-namespace"));
            assert_eq!(sig.hash_alg(), HashAlg::Sha512);
            // ssh-key agrees the vector is a good signature.
            key.verify(
                &vector("sshsig-namespace"),
                vector("sshsig-signed-data").as_bytes(),
                &sig,
            )
            .unwrap();
            let message = sshsig_message(&sig);
            let report = verify(key.key_data(), &message, sig.signature(), false).unwrap();
            // sk-dummy touches: user present, not verified; its counter is 0x12345678.
            assert_eq!(
                report,
                SkReport {
                    flags: USER_PRESENT,
                    counter: 0x1234_5678
                },
                "{name}"
            );
            assert_eq!(
                verify(key.key_data(), &message, sig.signature(), true),
                Err(SkError::NoUserVerification),
                "{name}: verify-required"
            );
            // The flags are signed: setting the user-verified bit breaks the signature,
            // and so does another message.
            let mut bytes = sig.signature().as_bytes().to_vec();
            let at = bytes.len() - 5;
            bytes[at] |= USER_VERIFIED;
            let forged = Signature::new(sig.signature().algorithm(), bytes).unwrap();
            assert_eq!(report_of(&forged).flags, USER_PRESENT | USER_VERIFIED);
            assert_eq!(
                verify(key.key_data(), &message, &forged, true),
                Err(SkError::BadSignature),
                "{name}: forged flags"
            );
            assert_eq!(
                verify(key.key_data(), b"another message", sig.signature(), false),
                Err(SkError::BadSignature)
            );
        }
    }

    fn report_of(sig: &Signature) -> SkReport {
        report(sig).unwrap()
    }

    /// An sk-ssh-ed25519 key backed by a software Ed25519 key, signing as an
    /// authenticator would with the given flags: untouched signatures can be made.
    fn soft_sk_sign(flags: u8, message: &[u8]) -> (KeyData, Signature) {
        let seed: [u8; 32] = rand::random();
        let pair = Ed25519Keypair::from_seed(&seed);
        let key = KeyData::SkEd25519(SkEd25519::new(pair.public, "ssh:"));
        let counter = 7u32.to_be_bytes();
        let mut signed = Sha256::digest(b"ssh:").to_vec();
        signed.push(flags);
        signed.extend_from_slice(&counter);
        signed.extend_from_slice(&Sha256::digest(message));
        let inner: Signature = signature::Signer::sign(&pair, &signed);
        let mut blob = inner.as_bytes().to_vec();
        blob.push(flags);
        blob.extend_from_slice(&counter);
        (key, Signature::new(Algorithm::SkEd25519, blob).unwrap())
    }

    #[test]
    fn an_untouched_signature_is_refused_however_valid() {
        let (key, sig) = soft_sk_sign(0, b"m");
        assert_eq!(report_of(&sig).flags, 0);
        assert_eq!(
            verify(&key, b"m", &sig, false),
            Err(SkError::NoUserPresence)
        );
        let (key, sig) = soft_sk_sign(USER_PRESENT | USER_VERIFIED, b"m");
        let r = verify(&key, b"m", &sig, true).unwrap();
        assert!(r.user_present() && r.user_verified());
        assert_eq!(r.counter, 7);
    }

    #[test]
    fn non_sk_signatures_and_keys_are_not_sk() {
        let plain = Signature::new(Algorithm::Ed25519, vec![0u8; 64]).unwrap();
        assert_eq!(report(&plain), Err(SkError::NotSk));
        let (_, sig) = soft_sk_sign(USER_PRESENT, b"m");
        let ed = PublicKey::from_openssh(&vector("sshkey-ed25519_1.pub")).unwrap();
        assert_eq!(
            verify(ed.key_data(), b"m", &sig, false),
            Err(SkError::NotSk)
        );
    }
}
