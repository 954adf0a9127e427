//! TOTP secrets sealed at rest with XChaCha20-Poly1305, under a 256-bit key that lives in
//! `keys_dir/secret.key` (hex, mode 0600) and never in the database. A dump of the
//! database alone yields no TOTP seeds.
//!
//! A sealed value is `0x01 ‖ nonce (24 bytes) ‖ ciphertext ‖ tag`. The associated data
//! binds it to its place (e.g. the user it belongs to), so a sealed secret copied onto
//! another row does not open.
//!
//! Beside it, `keys_dir/audit.key` (mode 0600, never in the database, never logged) keys
//! the audit trail's HMAC-SHA256 ([`AuditKey`]): with it, someone who can only write the
//! database cannot forge audit entries, even by recomputing the whole hash chain. The
//! file holds the key and the first entry it covers (`from N`): entries before that were
//! written before the key existed. Keeping `from` in the file, not only in the database,
//! means that a database writer cannot move the start of the keyed part.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// File name of the secret key inside `keys_dir`.
pub const SECRET_KEY_FILE: &str = "secret.key";

/// File name of the audit trail's MAC key inside `keys_dir`.
pub const AUDIT_KEY_FILE: &str = "audit.key";

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
    #[error("{path}: not a moat audit key (expected 64 hex digits, then a line `from N`)")]
    MalformedAuditKey { path: PathBuf },
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
    write_new_private(&path, &format!("{}\n", hex(&key))).map_err(io(&path))?;
    Ok(Sealer {
        cipher: XChaCha20Poly1305::new(&key),
    })
}

/// Create `path` holding `text`, mode 0600 from the start; refuses to overwrite.
fn write_new_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The audit trail's MAC key: HMAC-SHA256 (RFC 2104, the RustCrypto `hmac` crate) under
/// 256 random bits, and the first audit entry it covers. Its `Debug` shows no key.
#[derive(Clone)]
pub struct AuditKey {
    hmac: Hmac<Sha256>,
    from: i64,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditKey(from entry {})", self.from)
    }
}

impl AuditKey {
    /// A key from its bytes, covering entries from id `from` on.
    pub fn from_key(key: &[u8; 32], from: i64) -> AuditKey {
        // RFC 2104: a key shorter than the hash's block (64 bytes) is padded with zeros,
        // so the padded block is the same key, and `new` on a full block cannot fail.
        let mut block = hmac::digest::Key::<Hmac<Sha256>>::default();
        for (b, k) in block.iter_mut().zip(key) {
            *b = *k;
        }
        AuditKey {
            hmac: <Hmac<Sha256> as KeyInit>::new(&block),
            from,
        }
    }

    /// A fresh random key covering entries from `from` on (tests).
    pub fn random(from: i64) -> AuditKey {
        let mut key = [0u8; 32];
        rand::RngCore::fill_bytes(&mut OsRng, &mut key);
        AuditKey::from_key(&key, from)
    }

    /// The first entry id this key covers.
    pub fn from(&self) -> i64 {
        self.from
    }

    fn tag(&self, message: &[u8]) -> [u8; 32] {
        self.hmac
            .clone()
            .chain_update(message)
            .finalize()
            .into_bytes()
            .into()
    }

    fn verify(&self, message: &[u8], tag_hex: &str) -> bool {
        // Hex decoded first, then compared in constant time by `verify_slice`.
        let Some(tag) = decode_hex(tag_hex) else {
            return false;
        };
        self.hmac
            .clone()
            .chain_update(message)
            .verify_slice(&tag)
            .is_ok()
    }

    fn entry_message(id: i64, hash: &str) -> Vec<u8> {
        format!("moat audit entry v1\n{id}\n{hash}").into_bytes()
    }

    fn record_message(&self) -> Vec<u8> {
        format!("moat audit key v1\nfrom {}", self.from).into_bytes()
    }

    /// The MAC of audit entry `id` whose chain hash is `hash` (which covers its content
    /// and, through `prev_hash`, every entry before it), as hex.
    pub fn entry_mac(&self, id: i64, hash: &str) -> String {
        hex(&self.tag(&AuditKey::entry_message(id, hash)))
    }

    /// Whether `mac` is entry `id`'s MAC.
    pub fn verify_entry(&self, id: i64, hash: &str, mac: &str) -> bool {
        self.verify(&AuditKey::entry_message(id, hash), mac)
    }

    /// What the database records about this key: where it starts and a MAC of that, so
    /// another instance or command can tell the key it holds is this database's (the
    /// MAC of a fixed text reveals nothing of the key).
    pub fn record(&self) -> String {
        format!("{}:{}", self.from, hex(&self.tag(&self.record_message())))
    }

    /// Whether `record` (see [`AuditKey::record`]) was made by this key, with the same
    /// start.
    pub fn matches_record(&self, record: &str) -> bool {
        match record.split_once(':') {
            Some((from, tag)) => {
                from == self.from.to_string() && self.verify(&self.record_message(), tag)
            }
            None => false,
        }
    }
}

/// Load the audit key from `dir`; `None` when the file does not exist.
pub fn load_audit_key(dir: &Path) -> Result<Option<AuditKey>, KeyError> {
    let path = dir.join(AUDIT_KEY_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(KeyError::Io { path, source }),
    };
    check_private(&path)?;
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let key = lines.next().and_then(decode_hex);
    let from = lines
        .next()
        .and_then(|l| l.strip_prefix("from "))
        .and_then(|n| n.trim().parse::<i64>().ok())
        .filter(|n| *n >= 1);
    match (key, from, lines.next()) {
        (Some(key), Some(from), None) => Ok(Some(AuditKey::from_key(&key, from))),
        _ => Err(KeyError::MalformedAuditKey { path }),
    }
}

/// Create a new audit key file in `dir` (directory 0700, file 0600) covering entries from
/// `from` on; refuses to overwrite one.
pub fn create_audit_key(dir: &Path, from: i64) -> Result<AuditKey, KeyError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| KeyError::Io { path, source }
    };
    create_private_dir(dir).map_err(io(dir))?;
    let path = dir.join(AUDIT_KEY_FILE);
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut OsRng, &mut key);
    write_new_private(&path, &format!("{}\nfrom {from}\n", hex(&key))).map_err(io(&path))?;
    Ok(AuditKey::from_key(&key, from))
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
    fn audit_key_macs_are_hmac_sha256() {
        let bytes: [u8; 32] = std::array::from_fn(|i| i as u8);
        let key = AuditKey::from_key(&bytes, 5);
        let hash = "ab".repeat(32);
        // Python: hmac.new(bytes(range(32)), b"moat audit entry v1\n7\n" + hash, sha256)
        let expected = "2b26ca176564714df4bb106eb0e18070f9be8d98fd74f2935baedca684558cbf";
        assert_eq!(key.entry_mac(7, &hash), expected);
        // The zero-padded block key is the key itself (RFC 2104).
        let direct = <Hmac<Sha256> as KeyInit>::new_from_slice(&bytes)
            .unwrap()
            .chain_update(b"moat audit entry v1\n7\n")
            .chain_update(hash.as_bytes())
            .finalize()
            .into_bytes();
        assert_eq!(hex(&direct), expected);
        assert!(key.verify_entry(7, &hash, expected));
        assert!(!key.verify_entry(8, &hash, expected), "bound to the id");
        assert!(
            !key.verify_entry(7, &"cd".repeat(32), expected),
            "bound to the hash"
        );
        assert!(!key.verify_entry(7, &hash, &expected.to_uppercase()[..10]));
        assert!(!key.verify_entry(7, &hash, "not hex"));
        assert!(!AuditKey::random(5).verify_entry(7, &hash, expected));

        assert_eq!(
            key.record(),
            "5:0402ca77567c0d9b8e411a56fa4bbebc8563d2c2ee71ef8788db8ea8e20cf4b7"
        );
        assert!(key.matches_record(&key.record()));
        assert!(
            !AuditKey::from_key(&bytes, 6).matches_record(&key.record()),
            "another start"
        );
        assert!(!AuditKey::random(5).matches_record(&key.record()));
        assert!(!key.matches_record("5"));
        assert_eq!(format!("{key:?}"), "AuditKey(from entry 5)");
    }

    #[test]
    fn audit_key_file_lifecycle() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        assert!(load_audit_key(&keys).unwrap().is_none());
        let created = create_audit_key(&keys, 42).unwrap();
        let path = keys.join(AUDIT_KEY_FILE);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = fs::metadata(&keys).unwrap().permissions().mode() & 0o777;
        assert_eq!(dir_mode, 0o700);
        let loaded = load_audit_key(&keys).unwrap().unwrap();
        assert_eq!(loaded.from(), 42);
        assert_eq!(loaded.entry_mac(1, "h"), created.entry_mac(1, "h"));
        assert!(
            create_audit_key(&keys, 1).is_err(),
            "never overwrites a key"
        );
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.ends_with("\nfrom 42\n"), "{text}");

        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let err = load_audit_key(&keys).unwrap_err().to_string();
        assert!(err.contains("readable by group or others"), "{err}");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let key_line = text.lines().next().unwrap();
        for bad in [
            key_line.to_string(),
            format!("{key_line}\nfrom x\n"),
            format!("{key_line}\nfrom 0\n"),
            format!("{key_line}\nfrom 3\nmore\n"),
            "not hex\nfrom 3\n".to_string(),
        ] {
            fs::write(&path, &bad).unwrap();
            let err = load_audit_key(&keys).unwrap_err().to_string();
            assert!(err.contains("not a moat audit key"), "{bad}: {err}");
            assert!(!err.contains(key_line), "the key is never in a message");
        }
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
