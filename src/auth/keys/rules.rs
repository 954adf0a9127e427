//! The key rules a server runs with: `[auth]`, the trusted CAs (read at start) and the
//! revocation list (read again whenever the file changes, so revoking needs no restart).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::{Methods, RevocationList, TrustedCas};
use crate::config::{Config, ConfigError};

/// `[auth]`, `trusted_user_ca_keys` and `revoked_keys`, loaded.
#[derive(Debug, Default)]
pub struct KeyRules {
    pub methods: Methods,
    pub cas: TrustedCas,
    revoked: Option<Revoked>,
}

#[derive(Debug)]
struct Revoked {
    path: PathBuf,
    /// The list as last read, and the file's (modification time, length) then.
    cache: Mutex<Option<(Stamp, Arc<RevocationList>)>>,
}

type Stamp = (Option<SystemTime>, u64);

impl KeyRules {
    /// Load from config: the CA file must exist and list CA keys moat takes, and the
    /// revocation list must read; the error names the key and the file.
    pub fn load(config: &Config) -> Result<KeyRules, ConfigError> {
        let methods = Methods::from_config(&config.auth)
            .map_err(|(key, message)| ConfigError::Auth { key, message })?;
        let cas = match &config.trusted_user_ca_keys {
            None => TrustedCas::default(),
            Some(path) => TrustedCas::parse(&read(path)?).map_err(|m| ConfigError::Invalid {
                key: "trusted_user_ca_keys",
                message: format!("{}: {m}", path.display()),
            })?,
        };
        let revoked = match &config.revoked_keys {
            None => None,
            Some(path) => {
                let r = Revoked {
                    path: path.clone(),
                    cache: Mutex::new(None),
                };
                r.list().map_err(|m| ConfigError::Invalid {
                    key: "revoked_keys",
                    message: m,
                })?;
                Some(r)
            }
        };
        Ok(KeyRules {
            methods,
            cas,
            revoked,
        })
    }

    /// The revocation list now (empty when none is configured). An error (the file is
    /// gone, unreadable or has a bad line) means every key must be refused.
    pub fn revocations(&self) -> Result<Arc<RevocationList>, String> {
        match &self.revoked {
            None => Ok(Arc::default()),
            Some(r) => r.list(),
        }
    }
}

impl Revoked {
    fn list(&self) -> Result<Arc<RevocationList>, String> {
        let meta =
            std::fs::metadata(&self.path).map_err(|e| format!("{}: {e}", self.path.display()))?;
        let stamp = (meta.modified().ok(), meta.len());
        let mut cache = match self.cache.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some((at, list)) = cache.as_ref() {
            if *at == stamp {
                return Ok(Arc::clone(list));
            }
        }
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        let list = Arc::new(
            RevocationList::parse(&text).map_err(|m| format!("{}: {m}", self.path.display()))?,
        );
        *cache = Some((stamp, Arc::clone(&list)));
        Ok(list)
    }
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_checked_at_load_and_the_list_is_reread_when_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pub");
        let revoked = dir.path().join("revoked");
        let vectors = format!("{}/tests/data/openssh", env!("CARGO_MANIFEST_DIR"));
        let key = std::fs::read_to_string(format!("{vectors}/sshkey-ed25519_1.pub")).unwrap();
        std::fs::write(&ca, &key).unwrap();
        std::fs::write(&revoked, "# nothing yet\n").unwrap();
        let config = |ca: &Path, revoked: &Path| Config {
            auth: crate::config::AuthConfig {
                require: vec!["publickey".into(), "totp".into()],
                ..Default::default()
            },
            trusted_user_ca_keys: Some(ca.to_path_buf()),
            revoked_keys: Some(revoked.to_path_buf()),
            ..Config::default()
        };
        let rules = KeyRules::load(&config(&ca, &revoked)).unwrap();
        assert!(!rules.cas.is_empty());
        let parsed = ssh_key::PublicKey::from_openssh(&key).unwrap();
        assert!(!rules.revocations().unwrap().revokes_key(parsed.key_data()));

        // Revoking takes effect without a restart.
        std::fs::write(&revoked, format!("# lost\n{key}")).unwrap();
        assert!(rules.revocations().unwrap().revokes_key(parsed.key_data()));
        // A broken or missing file refuses everything (the caller fails closed).
        std::fs::write(&revoked, "what is this\n").unwrap();
        assert!(rules.revocations().unwrap_err().contains("line 1"));
        std::fs::remove_file(&revoked).unwrap();
        assert!(rules.revocations().is_err());

        let missing = KeyRules::load(&config(&dir.path().join("nope"), &ca)).unwrap_err();
        assert!(missing.to_string().contains("nope"), "{missing}");
        let err = KeyRules::load(&config(&ca, &dir.path().join("gone"))).unwrap_err();
        assert!(err.to_string().contains("revoked_keys"), "{err}");
    }
}
