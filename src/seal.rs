//! TOTP secrets sealed at rest with XChaCha20-Poly1305, under a 256-bit key that lives in
//! `keys_dir/secret.key` (hex, mode 0600) and never in the database. A dump of the
//! database alone yields no TOTP seeds.
//!
//! A sealed value is `0x01 ‖ nonce (24 bytes) ‖ ciphertext ‖ tag`. The associated data
//! binds it to its place (e.g. the user it belongs to), so a sealed secret copied onto
//! another row does not open.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

/// File name of the secret key inside `keys_dir`.
pub const SECRET_KEY_FILE: &str = "secret.key";

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

/// Seals and opens values under one key. Its `Debug` shows nothing of the key.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

/// A value that does not open: wrong key, wrong place, or damaged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("sealed value does not open with this key")]
pub struct OpenError;

/// Problems with the key file, each naming it.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is readable by group or others (mode {mode:o}); run `chmod 600 {path}`")]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("{path}: not a moat secret key (expected 64 hex digits)")]
    Malformed { path: PathBuf },
}

impl Sealer {
    pub fn from_key(key: &[u8; 32]) -> Sealer {
        Sealer {
            cipher: XChaCha20Poly1305::new(key.into()),
        }
    }

    /// A sealer under a fresh random key (tests, in-memory stores).
    pub fn random() -> Sealer {
        Sealer {
            cipher: XChaCha20Poly1305::new(&XChaCha20Poly1305::generate_key(&mut OsRng)),
        }
    }

    /// Seal `plain`, bound to `aad`.
    pub fn seal(&self, plain: &[u8], aad: &[u8]) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        // Encryption only fails for inputs of more than 256 GiB.
        let sealed = self
            .cipher
            .encrypt(&nonce, Payload { msg: plain, aad })
            .unwrap_or_default();
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Open a value sealed with [`Sealer::seal`] under the same `aad`.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, OpenError> {
        let [VERSION, rest @ ..] = sealed else {
            return Err(OpenError);
        };
        if rest.len() < NONCE_LEN {
            return Err(OpenError);
        }
        let (nonce, msg) = rest.split_at(NONCE_LEN);
        self.cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg, aad })
            .map_err(|_| OpenError)
    }
}

/// Load the key from `dir`; `None` when the file does not exist.
pub fn load_key(dir: &Path) -> Result<Option<Sealer>, KeyError> {
    let path = dir.join(SECRET_KEY_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(KeyError::Io { path, source }),
    };
    check_private(&path)?;
    let key = decode_hex(text.trim()).ok_or(KeyError::Malformed { path })?;
    Ok(Some(Sealer::from_key(&key)))
}

/// Create a new key file in `dir` (directory 0700, file 0600); refuses to overwrite one.
pub fn create_key(dir: &Path) -> Result<Sealer, KeyError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| KeyError::Io { path, source }
    };
    create_private_dir(dir).map_err(io(dir))?;
    let path = dir.join(SECRET_KEY_FILE);
    let key = XChaCha20Poly1305::generate_key(&mut OsRng);
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&path).map_err(io(&path))?;
    file.write_all(format!("{hex}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io(&path))?;
    Ok(Sealer {
        cipher: XChaCha20Poly1305::new(&key),
    })
}

fn decode_hex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, b) in key.iter_mut().enumerate() {
        *b = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(key)
}

/// Create `dir` (and parents) and make it private to the owner.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Refuse a key file that group or others may read.
#[cfg(unix)]
pub fn check_private(path: &Path) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(path)
        .map_err(|source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::TooOpen {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn check_private(_path: &Path) -> Result<(), KeyError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn seal_open_and_binding() {
        let s = Sealer::random();
        let sealed = s.seal(b"seed bytes", b"user 1");
        assert!(!sealed.windows(10).any(|w| w == b"seed bytes"));
        assert_eq!(s.open(&sealed, b"user 1").unwrap(), b"seed bytes");
        assert_eq!(
            s.open(&sealed, b"user 2"),
            Err(OpenError),
            "bound to its place"
        );
        assert_eq!(Sealer::random().open(&sealed, b"user 1"), Err(OpenError));
        let mut damaged = sealed.clone();
        *damaged.last_mut().unwrap() ^= 1;
        assert_eq!(s.open(&damaged, b"user 1"), Err(OpenError));
        assert_eq!(s.open(&[], b""), Err(OpenError));
        assert_eq!(s.open(&[1, 2, 3], b""), Err(OpenError));
        // Two seals of one value differ (fresh nonce each time).
        assert_ne!(s.seal(b"x", b""), s.seal(b"x", b""));
        assert_eq!(format!("{s:?}"), "Sealer(..)");
    }

    #[test]
    fn key_file_lifecycle() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        assert!(load_key(&keys).unwrap().is_none());
        let created = create_key(&keys).unwrap();
        let path = keys.join(SECRET_KEY_FILE);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let loaded = load_key(&keys).unwrap().unwrap();
        let sealed = created.seal(b"abc", b"");
        assert_eq!(loaded.open(&sealed, b"").unwrap(), b"abc");
        assert!(create_key(&keys).is_err(), "never overwrites a key");

        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_key(&keys).unwrap_err().to_string();
        assert!(err.contains("readable by group or others"), "{err}");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&path, "not hex\n").unwrap();
        let err = load_key(&keys).unwrap_err().to_string();
        assert!(err.contains("not a moat secret key"), "{err}");
    }
}
