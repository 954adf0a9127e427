//! Password hashing with argon2id (PHC strings), parameters from config.
//!
//! Verification reads the parameters from the stored PHC string, so raising the config
//! does not lock out existing users. An unknown user is verified against a dummy hash made
//! with the current parameters, so "no such user" costs the same time as "wrong password".

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use std::time::{Duration, Instant};

use rand::Rng;

use crate::config::Argon2Config;

/// Argon2id with fixed parameters, plus a dummy hash for timing equalisation.
#[derive(Clone)]
pub struct Hasher {
    argon: Argon2<'static>,
    dummy: String,
    typical: Duration,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("params", self.argon.params())
            .finish()
    }
}

/// The configured argon2 parameters were refused by the algorithm.
#[derive(Debug, thiserror::Error)]
#[error("argon2: {0}")]
pub struct HashError(String);

impl Hasher {
    pub fn new(cfg: Argon2Config) -> Result<Hasher, HashError> {
        let params = Params::new(cfg.memory_kib, cfg.iterations, cfg.parallelism, None)
            .map_err(|e| HashError(e.to_string()))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut hasher = Hasher {
            argon,
            dummy: String::new(),
            typical: Duration::ZERO,
        };
        hasher.dummy = hasher.hash(&generate_password())?;
        let started = Instant::now();
        hasher.verify_dummy("");
        hasher.typical = started.elapsed();
        Ok(hasher)
    }

    /// How long one verification took when this hasher was made: what a refusal that
    /// skips hashing (a locked account) waits, so it times like one that does not.
    pub fn typical_verify_time(&self) -> Duration {
        self.typical
    }

    /// Hash `password` with a fresh random salt into a PHC string.
    pub fn hash(&self, password: &str) -> Result<String, HashError> {
        let salt = SaltString::generate(&mut OsRng);
        self.argon
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| HashError(e.to_string()))
    }

    /// True when `password` matches the PHC string `phc`. A malformed `phc` never matches.
    pub fn verify(&self, phc: &str, password: &str) -> bool {
        match PasswordHash::new(phc) {
            Ok(parsed) => self
                .argon
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => {
                self.verify_dummy(password);
                false
            }
        }
    }

    /// Spend the time of one verification and always fail (unknown users).
    pub fn verify_dummy(&self, password: &str) {
        let _ = self.verify(&self.dummy, password);
    }
}

/// A random password for generated accounts: 24 characters from an unambiguous alphabet
/// in groups of six (about 120 bits).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY3467";
    let mut rng = rand::thread_rng();
    let mut out = String::with_capacity(27);
    for i in 0..24 {
        if i > 0 && i % 6 == 0 {
            out.push('-');
        }
        let idx = rng.gen_range(0..ALPHABET.len());
        out.push(char::from(ALPHABET[idx]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Hasher {
        Hasher::new(Argon2Config {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
            ..Argon2Config::default()
        })
        .unwrap()
    }

    #[test]
    fn hash_and_verify() {
        let h = cheap();
        let phc = h.hash("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        assert!(h.verify(&phc, "correct horse"));
        assert!(!h.verify(&phc, "correct horsf"));
        assert!(!h.verify("not a phc string", "x"));
    }

    #[test]
    fn verification_uses_the_stored_parameters() {
        let old = cheap().hash("pw").unwrap();
        let newer = Hasher::new(Argon2Config {
            memory_kib: 128,
            iterations: 2,
            parallelism: 1,
            ..Argon2Config::default()
        })
        .unwrap();
        assert!(newer.verify(&old, "pw"));
    }

    #[test]
    fn generated_passwords_differ() {
        let a = generate_password();
        assert_eq!(a.len(), 27);
        assert_ne!(a, generate_password());
    }
}
