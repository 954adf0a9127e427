//! Password hashing with argon2id (PHC strings), parameters from config.
//!
//! Verification reads the parameters from the stored PHC string, so raising the config
//! does not lock out existing users. An unknown user is verified against a dummy hash made
//! with the current parameters, so "no such user" costs the same time as "wrong password".

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHasher, Version};
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
        self.verify_in(phc, password, &mut Vec::new())
    }

    /// [`Hasher::verify`] with argon2's working memory in `blocks`, grown as needed and
    /// kept by the caller: a worker thread reuses one buffer instead of allocating (and
    /// leaving the allocator holding) tens of MiB per verification.
    pub fn verify_in(&self, phc: &str, password: &str, blocks: &mut Vec<Block>) -> bool {
        match PasswordHash::new(phc) {
            Ok(parsed) => verify_phc(&parsed, password, blocks).unwrap_or(false),
            Err(_) => {
                self.verify_dummy_in(password, blocks);
                false
            }
        }
    }

    /// Spend the time of one verification and always fail (unknown users).
    pub fn verify_dummy(&self, password: &str) {
        self.verify_dummy_in(password, &mut Vec::new());
    }

    /// [`Hasher::verify_dummy`] with caller-kept working memory.
    pub fn verify_dummy_in(&self, password: &str, blocks: &mut Vec<Block>) {
        if let Ok(parsed) = PasswordHash::new(&self.dummy) {
            let _ = verify_phc(&parsed, password, blocks);
        }
    }
}

/// Recompute `hash`'s digest of `password` with its own parameters and compare in
/// constant time. `None` when the PHC string is not a usable argon2 hash.
fn verify_phc(hash: &PasswordHash<'_>, password: &str, blocks: &mut Vec<Block>) -> Option<bool> {
    let algorithm = Algorithm::try_from(hash.algorithm).ok()?;
    let version = match hash.version {
        Some(v) => Version::try_from(v).ok()?,
        None => Version::default(),
    };
    let params = Params::try_from(hash).ok()?;
    let expected = hash.hash?;
    let mut salt = [0u8; 64];
    let salt = hash.salt?.decode_b64(&mut salt).ok()?;
    let need = params.block_count();
    if blocks.len() < need {
        blocks.resize(need, Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut blocks[..need])
        .ok()?;
    let diff = out
        .iter()
        .zip(expected.as_bytes())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    Some(diff == 0)
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
        // The reusable-memory path agrees, and keeps its buffer for the next call.
        let mut blocks = Vec::new();
        assert!(h.verify_in(&phc, "correct horse", &mut blocks));
        assert!(!h.verify_in(&phc, "correct horsf", &mut blocks));
        assert_eq!(blocks.len(), 64);
    }

    #[test]
    fn verifies_hashes_made_by_the_argon2_crate_directly() {
        let salt = SaltString::generate(&mut OsRng);
        let argon = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        );
        let phc = argon.hash_password(b"pw", &salt).unwrap().to_string();
        assert!(cheap().verify(&phc, "pw"));
        assert!(!cheap().verify(&phc, "pW"));
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
