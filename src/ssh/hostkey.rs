//! The server's ed25519 host key: generated on first start into `keys_dir` (file mode
//! 0600, directory 0700), refused if it is readable by group or others.

use std::path::{Path, PathBuf};

use russh::keys::ssh_key::private::{Ed25519Keypair, KeypairData};
use russh::keys::ssh_key::LineEnding;
use russh::keys::PrivateKey;

use crate::seal::{check_private, create_private_dir, KeyError};

/// File name of the host key inside `keys_dir`.
pub const HOST_KEY_FILE: &str = "ssh_host_ed25519_key";

/// Problems with the host key, each naming the file.
#[derive(Debug, thiserror::Error)]
pub enum HostKeyError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("{path}: not a usable private key: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// Load the host key from `dir`, generating it if absent. Returns the key and whether it
/// was created now.
pub fn load_or_generate(dir: &Path) -> Result<(PrivateKey, bool), HostKeyError> {
    let path = dir.join(HOST_KEY_FILE);
    if path.exists() {
        check_private(&path)?;
        let key = russh::keys::load_secret_key(&path, None).map_err(|e| HostKeyError::Invalid {
            path: path.clone(),
            message: e.to_string(),
        })?;
        return Ok((key, false));
    }
    create_private_dir(dir).map_err(|source| HostKeyError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut seed = [0u8; 32];
    rand::Rng::fill(&mut rand::thread_rng(), &mut seed);
    let key = PrivateKey::new(
        KeypairData::Ed25519(Ed25519Keypair::from_seed(&seed)),
        "moat host key",
    )
    .map_err(|e| HostKeyError::Invalid {
        path: path.clone(),
        message: e.to_string(),
    })?;
    // ssh-key creates the file with mode 0600.
    key.write_openssh_file(&path, LineEnding::LF)
        .map_err(|e| HostKeyError::Invalid {
            path: path.clone(),
            message: e.to_string(),
        })?;
    check_private(&path)?;
    Ok((key, true))
}

/// The SHA-256 fingerprint operators compare with what `ssh` shows on first connect.
pub fn fingerprint(key: &PrivateKey) -> String {
    key.public_key()
        .fingerprint(russh::keys::HashAlg::Sha256)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn generates_once_with_private_mode_and_refuses_open_files() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        let (k1, created) = load_or_generate(&keys).unwrap();
        assert!(created);
        let path = keys.join(HOST_KEY_FILE);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (k2, created) = load_or_generate(&keys).unwrap();
        assert!(!created);
        assert_eq!(fingerprint(&k1), fingerprint(&k2));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_generate(&keys).unwrap_err();
        assert!(
            err.to_string().contains("readable by group or others"),
            "{err}"
        );
    }
}
