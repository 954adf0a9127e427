//! `moat user key add|list|remove`: a user's public keys (a login factor where `[auth]`
//! requires `publickey`).

use std::io::Write;

use crate::auth::keys::{parse_public_key, Methods};
use crate::config::Config;
use crate::domain::format_time;
use crate::ops::{self, By};
use crate::store::{KeySelector, NewKey};
use crate::tui::sanitize::SafeText;

use super::{now_unix, now_unix_ms, open_admin_store, user_id, CommandError};

/// `moat user key add NAME 'ssh-ed25519 AAAA… comment'`: check the key (kinds moat takes,
/// RSA of 3072+ bits) and register it for NAME.
pub async fn key_add(
    config: &Config,
    name: &str,
    line: &str,
    operator: &str,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    let key = parse_public_key(line).map_err(|e| CommandError::Usage(e.to_string()))?;
    let store = open_admin_store(config).await?;
    let id = user_id(&store, name).await?;
    let new = NewKey {
        algorithm: &key.algorithm,
        public_key: &key.openssh,
        fingerprint: &key.fingerprint,
        comment: &key.comment,
        now: now_unix(),
    };
    let by = By::Cli { os_user: operator };
    let key_id = ops::add_user_key(&store, by, (id, name), &new, now_unix_ms()).await?;
    writeln!(
        out,
        "key #{key_id} added for {}: {} ({}{})",
        SafeText::new(name),
        key.fingerprint,
        key.algorithm,
        if key.comment.is_empty() {
            String::new()
        } else {
            format!(", {}", SafeText::new(&key.comment))
        }
    )?;
    if !Methods::from_config(&config.auth).is_ok_and(|m| m.uses_keys()) {
        writeln!(
            out,
            "note: no [auth] rule requires publickey, so logins do not use keys yet"
        )?;
    }
    store.close().await;
    Ok(())
}

/// `moat user key list NAME`: id, fingerprint, algorithm, added, last used, comment.
pub async fn key_list(
    config: &Config,
    name: &str,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    let store = open_admin_store(config).await?;
    let id = user_id(&store, name).await?;
    let keys = store.user_keys(id).await?;
    if keys.is_empty() {
        writeln!(out, "{} has no keys", SafeText::new(name))?;
    } else {
        writeln!(
            out,
            "{:<5}  {:<50}  {:<34}  {:<19}  {:<19}  comment",
            "id", "fingerprint", "algorithm", "added", "last used"
        )?;
        for k in keys {
            writeln!(
                out,
                "{:<5}  {:<50}  {:<34}  {:<19}  {:<19}  {}",
                k.id,
                SafeText::new(&k.fingerprint),
                SafeText::new(&k.algorithm),
                format_time(k.created_at),
                k.last_used_at
                    .map(format_time)
                    .unwrap_or_else(|| "never".into()),
                SafeText::new(&k.comment)
            )?;
        }
    }
    store.close().await;
    Ok(())
}

/// `moat user key remove NAME FINGERPRINT|ID`: remove the key; every open session that
/// logged in with it ends (on every instance, within a second).
pub async fn key_remove(
    config: &Config,
    name: &str,
    which: &str,
    operator: &str,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    let selector = KeySelector::parse(which).ok_or_else(|| {
        CommandError::Usage(format!(
            "`{}` is neither a key id (see `moat user key list`) nor a SHA256: fingerprint",
            which.escape_debug()
        ))
    })?;
    let store = open_admin_store(config).await?;
    let id = user_id(&store, name).await?;
    let by = By::Cli { os_user: operator };
    let (key, ended) =
        ops::remove_user_key(&store, by, (id, name), &selector, now_unix_ms()).await?;
    writeln!(
        out,
        "key #{} removed from {} ({}); {ended} open session(s) that used it end within a second",
        key.id,
        SafeText::new(name),
        SafeText::new(&key.fingerprint),
    )?;
    store.close().await;
    Ok(())
}
