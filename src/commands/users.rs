//! `moat user …`: add, list, delete, reset-2fa, enable/disable, backup codes.

use std::io::Write;

use crate::auth::password::{generate_password, Hasher};
use crate::auth::{backup, policy, totp};
use crate::config::Config;
use crate::domain::format_time;
use crate::ops::{self, By};
use crate::store::{NewUser, Store};
use crate::tui::sanitize::SafeText;

use super::{
    group_id, now_unix, now_unix_ms, open_admin_store, open_existing_store, user_id, CommandError,
};

/// A username: 1–32 of `a-z 0-9 . _ -`, starting with a letter or `_`.
pub fn validate_username(name: &str) -> Result<(), CommandError> {
    crate::auth::validate_name(name).map_err(CommandError::Usage)
}

/// Create a user with `password` and an enrolled TOTP device; returns the TOTP secret.
pub(super) async fn create_user(
    config: &Config,
    store: &Store,
    by: By<'_>,
    name: &str,
    superuser: bool,
    password: &str,
) -> Result<Vec<u8>, CommandError> {
    validate_username(name)?;
    let hasher = Hasher::new(config.argon2)?;
    let phc = hasher.hash(password)?;
    let secret = totp::generate_secret();
    let user = NewUser {
        username: name,
        password_hash: &phc,
        is_superuser: superuser,
        totp_secret: Some(&secret),
        must_change_password: false,
        password_expires_at: None,
        now: now_unix(),
    };
    ops::create_user(store, by, &user, now_unix_ms()).await?;
    Ok(secret)
}

/// `moat user add NAME [--superuser] [--group G]... [--password-stdin]`. With a password
/// (checked against the password policy) it enrols TOTP at once and prints one line, the
/// `otpauth://totp/` URI. Without, it prints `one-time password: …`: the first login
/// with it enrols TOTP and sets a password.
pub async fn user_add(
    config: &Config,
    name: &str,
    superuser: bool,
    groups: &[String],
    password: Option<String>,
    operator: &str,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    validate_username(name)?;
    if let Some(p) = &password {
        policy::check(name, p).map_err(|why| CommandError::Usage(format!("password {why}")))?;
    }
    let by = By::Cli { os_user: operator };
    let store = open_existing_store(config).await?;
    let mut group_ids = Vec::new();
    for g in groups {
        group_ids.push((group_id(&store, g).await?, g.clone()));
    }
    let secret = match &password {
        Some(p) => Some(create_user(config, &store, by, name, superuser, p).await?),
        None => {
            let one_time = generate_password();
            let phc = Hasher::new(config.argon2)?.hash(&one_time)?;
            let user = NewUser {
                username: name,
                password_hash: &phc,
                is_superuser: superuser,
                totp_secret: None,
                must_change_password: true,
                password_expires_at: Some(config.accounts.one_time_expiry(now_unix())),
                now: now_unix(),
            };
            ops::create_user(&store, by, &user, now_unix_ms()).await?;
            writeln!(out, "one-time password: {one_time}")?;
            None
        }
    };
    if !group_ids.is_empty() {
        let id = user_id(&store, name).await?;
        ops::set_membership(&store, by, (id, name), &group_ids, true, now_unix_ms()).await?;
    }
    if let Some(secret) = secret {
        writeln!(out, "{}", totp::otpauth_uri(&secret, name))?;
    }
    store.close().await;
    Ok(())
}

/// `moat user reset-2fa NAME`: drop the TOTP device and backup codes, end the user's
/// sessions, and print a new one-time password (the user enrols again).
pub async fn reset_2fa(
    config: &Config,
    name: &str,
    operator: &str,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    let store = open_admin_store(config).await?;
    let id = user_id(&store, name).await?;
    let one_time = generate_password();
    let phc = Hasher::new(config.argon2)?.hash(&one_time)?;
    let expires = config.accounts.one_time_expiry(now_unix());
    let by = By::Cli { os_user: operator };
    ops::reset_second_factor(&store, by, id, name, &phc, expires, now_unix_ms()).await?;
    writeln!(out, "one-time password: {one_time}")?;
    writeln!(
        out,
        "(expires {} UTC; {}'s open sessions end within a second)",
        format_time(expires),
        SafeText::new(name)
    )?;
    store.close().await;
    Ok(())
}

/// `moat user disable|enable NAME`
pub async fn user_set_active(
    config: &Config,
    name: &str,
    active: bool,
    operator: &str,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    let store = open_admin_store(config).await?;
    let id = user_id(&store, name).await?;
    let by = By::Cli { os_user: operator };
    ops::set_active(&store, by, id, name, active, now_unix_ms()).await?;
    writeln!(
        out,
        "user {} {}",
        SafeText::new(name),
        if active { "enabled" } else { "disabled" }
    )?;
    store.close().await;
    Ok(())
}

/// `moat user backup-codes NAME`: replace the user's backup codes with new ones, printed
/// once (only their hashes are stored).
pub async fn backup_codes(
    config: &Config,
    name: &str,
    operator: &str,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    let store = open_admin_store(config).await?;
    let Some(user_id) = store.user_id(name).await? else {
        return Err(CommandError::Usage(format!(
            "no such user: {}",
            name.escape_debug()
        )));
    };
    let codes = backup::generate();
    let hashes: Vec<String> = codes
        .iter()
        .filter_map(|c| backup::normalize(c))
        .map(|n| backup::hash(&n))
        .collect();
    let by = By::Cli { os_user: operator };
    ops::replace_backup_codes(&store, by, user_id, name, &hashes, now_unix_ms()).await?;
    writeln!(
        out,
        "Backup codes for {} (each works once; shown only now):",
        SafeText::new(name)
    )?;
    for code in codes {
        writeln!(out, "  {code}")?;
    }
    store.close().await;
    Ok(())
}

/// The one-time password column of `user list`: `-`, `pending until T` or `expired T`.
fn one_time_state(one_time: bool, expires: Option<i64>, now: i64) -> String {
    match (one_time, expires) {
        (false, _) => "-".into(),
        (true, None) => "pending".into(),
        (true, Some(t)) if t <= now => format!("expired {}", format_time(t)),
        (true, Some(t)) => format!("pending until {}", format_time(t)),
    }
}

/// `moat user list`: every user with superuser and active flags, 2FA state, last login
/// (when, from where), one-time password pending or expired (and when), and groups.
/// `moat report users` has the full audit report (permissions, backup codes, failures).
pub async fn user_list(
    config: &Config,
    now: i64,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    let store = open_admin_store(config).await?;
    let users = store.user_facts(now.saturating_mul(1000)).await?;
    store.close().await;
    if users.is_empty() {
        writeln!(out, "no users")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<20} {:<5} {:<6} {:<11} {:<46} {:<37} groups",
        "user", "super", "active", "2fa", "last login", "one-time password"
    )?;
    for u in &users {
        let last = match &u.last_login {
            Some((at, ip)) => format!("{} from {}", format_time(*at), ip),
            None => "never".into(),
        };
        let groups = if u.groups.is_empty() {
            "-".to_string()
        } else {
            u.groups.join(", ")
        };
        writeln!(
            out,
            "{:<20} {:<5} {:<6} {:<11} {:<46} {:<37} {}",
            SafeText::new(&u.username).to_string(),
            if u.is_superuser { "yes" } else { "no" },
            if u.is_active { "yes" } else { "no" },
            u.totp.as_str(),
            SafeText::new(&last).to_string(),
            one_time_state(u.one_time_password, u.password_expires_at, now),
            SafeText::new(&groups),
        )?;
    }
    Ok(())
}

/// How long `user delete` waits for the user's open sessions to close after disabling
/// them, before it removes the account.
const DELETE_WAIT_MS: u64 = 5_000;

/// `moat user delete NAME --yes`: remove the user with their group memberships, model and
/// object permissions, keys, TOTP device and backup codes; their open sessions end first
/// (the account is disabled, audited as such, and the command waits up to 5 s for the
/// sessions to close). Refused for the last active superuser, and without `--yes` (the
/// refusal says what would go; nothing is changed).
pub async fn user_delete(
    config: &Config,
    name: &str,
    yes: bool,
    operator: &str,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    let store = open_admin_store(config).await?;
    let id = user_id(&store, name).await?;
    if store.is_last_superuser(id).await? {
        return Err(CommandError::Usage(format!(
            "refused: {} is the last active superuser (make another superuser first)",
            name.escape_debug()
        )));
    }
    let held = store.perm_listing(id).await?;
    if !yes {
        return Err(CommandError::Usage(format!(
            "deleting user {} removes their account, group memberships ({}), {} model and {} \
             object permissions, keys and second factor, and ends their sessions; nothing \
             was changed: run again with --yes to delete",
            name.escape_debug(),
            if held.groups.is_empty() {
                "none".to_string()
            } else {
                held.groups.join(", ").escape_debug().to_string()
            },
            held.model_perms.len(),
            held.object_perms.len(),
        )));
    }
    let by = By::Cli { os_user: operator };
    let mut ended = 0;
    if held.is_active {
        let before = open_sessions(&store, name).await?;
        ops::set_active(&store, by, id, name, false, now_unix_ms()).await?;
        ended = before;
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(DELETE_WAIT_MS);
        while open_sessions(&store, name).await? > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    ops::delete_user(&store, by, (id, name), &held, now_unix_ms()).await?;
    writeln!(
        out,
        "user {} deleted (memberships, permissions, keys and second factor removed; {} open \
         sessions ended)",
        SafeText::new(name),
        ended
    )?;
    store.close().await;
    Ok(())
}

/// How many live sessions `user` has on any instance heard from lately.
async fn open_sessions(store: &Store, user: &str) -> Result<usize, CommandError> {
    let since = now_unix() - crate::session::live::STALE_SECS;
    Ok(store
        .live_sessions(since)
        .await?
        .iter()
        .filter(|s| s.username == user)
        .count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_time_passwords_say_pending_or_expired_and_when() {
        assert_eq!(one_time_state(false, Some(5), 10), "-");
        assert_eq!(one_time_state(true, None, 10), "pending");
        assert_eq!(
            one_time_state(true, Some(5), 10),
            "expired 1970-01-01 00:00:05 UTC"
        );
        assert_eq!(
            one_time_state(true, Some(86_400), 10),
            "pending until 1970-01-02 00:00:00 UTC"
        );
    }

    #[test]
    fn usernames() {
        for ok in ["admin", "jane.doe", "_svc", "a1-b2"] {
            assert!(validate_username(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Admin", "1abc", "a b", "a\x1b", &"a".repeat(33), "ünï"] {
            assert!(validate_username(bad).is_err(), "{bad:?}");
        }
        assert!(validate_username("Bad")
            .unwrap_err()
            .to_string()
            .contains("invalid name"));
    }
}
