//! The CLI's commands as library functions, so tests and benchmarks run exactly what an
//! operator runs. Each takes the loaded [`Config`] and writes its report to `out`.
//!
//! Everything a report shows that comes from the database (table and model names, user and
//! group names, keys, audit fields) or from the command line goes through the terminal
//! sanitizer ([`SafeText`]), so a table named with an escape sequence or a bidi override
//! cannot drive the operator's terminal. `audit export` writes JSON instead, with those
//! characters as `\u` escapes (see [`TerminalSafeJson`]).

mod audit;
mod doctor;
mod keys;
mod lockout;
mod perms;
mod recordings;
mod report;
pub mod search_index;
mod serve;
mod sessions;
mod users;

pub use audit::{
    audit_csv_line, audit_export, audit_head, audit_verify, audit_verify_with, ExportArgs,
    TerminalSafeJson, AUDIT_CSV_HEADER,
};
pub use doctor::{config_findings, doctor, Finding, Severity, FIRST_START_FILE};
pub use keys::{key_add, key_list, key_remove};
pub use lockout::{lockout_list, lockout_reset};
pub use perms::{
    config_mentions, group_add, group_delete, group_list, group_rename, perm_list, perm_list_group,
    perm_list_row, set_model_perms, set_object_perm, ObjectPerm,
};
pub use recordings::{session_export, session_replay, sessions_ended};
pub use report::{parse_days, report_users, Format, UserFilter};
pub use serve::{build, migrate, qr_text, serve, Built};
pub use sessions::{session_end, sessions_list};
use users::create_user;
pub use users::{
    backup_codes, reset_2fa, user_add, user_delete, user_list, user_set_active, validate_username,
};

use std::time::{SystemTime, UNIX_EPOCH};

use crate::auth::password::HashError;
use crate::config::{Config, ConfigError};
use crate::domain::{Schema, Value};
use crate::perm;
use crate::seal;
use crate::ssh::hostkey::HostKeyError;
use crate::store::{AuditKeyCheck, KeyCheck, Principal, Store, StoreError};
use crate::tui::sanitize::SafeText;

/// Why a command failed, in one line.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    HostKey(#[from] HostKeyError),
    #[error(transparent)]
    Key(#[from] seal::KeyError),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Usage(String),
    /// The configured database does not exist (or is not moat's), and the command is not
    /// one that creates it.
    #[error(
        "no moat database at {0} (run from the directory with moat.toml, or pass --config; \
         `moat migrate` creates one)"
    )]
    NoDatabase(String),
}

/// Seconds since the epoch: the one place commands read the clock.
pub fn now_unix() -> i64 {
    now_unix_ms().div_euclid(1000)
}

/// Milliseconds since the epoch (audit rows, and the order of a session's start against
/// an operator's invalidation within one second).
pub fn now_unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Open the configured database (created if missing), bring moat's tables up to date and
/// attach the secret key that seals TOTP secrets, creating and adopting it if the
/// database has none yet (see [`unlock`]). For `serve`.
pub async fn open_store(config: &Config) -> Result<Store, CommandError> {
    open(config, true, true).await
}

/// Like [`open_store`] for a database that must exist already ([`CommandError::NoDatabase`]
/// otherwise): for `user add`, which writes TOTP secrets.
pub async fn open_existing_store(config: &Config) -> Result<Store, CommandError> {
    open(config, false, true).await
}

/// For commands that never write a TOTP secret, on a database that must exist already
/// ([`CommandError::NoDatabase`] otherwise: run from the wrong directory, a command must
/// not make an empty database and report on it). A key present is checked, but none is
/// created or adopted (run from another directory, such a command must not tie the
/// database to a key the server does not have).
pub async fn open_admin_store(config: &Config) -> Result<Store, CommandError> {
    open(config, false, false).await
}

/// Open the configured database: created if missing with `create`, else it must be
/// moat's already; migrated; keys attached (created and adopted with `adopt`).
async fn open(config: &Config, create: bool, adopt: bool) -> Result<Store, CommandError> {
    let store = if create {
        Store::connect(&config.database_url).await?
    } else {
        Store::connect_existing(&config.database_url)
            .await?
            .ok_or_else(|| CommandError::NoDatabase(config.database_shown()))?
    };
    let store = store.with_schemas(&config.database_schemas);
    store.migrate().await?;
    unlock(store, &config.keys_dir, adopt).await
}

/// Attach the keys in `keys_dir` to `store`: the secret key that seals TOTP secrets and
/// the audit key that MACs audit entries (see [`unlock_audit`]).
///
/// Secret key: with `adopt`, a database that holds no sealed secret yet gets a key
/// (created if missing) and older plaintext secrets are sealed. A missing key on a
/// database that has sealed secrets, or a key that is not this database's, is an error
/// that names the file: moat never silently starts over (that would lock every user out
/// and re-enrol nobody).
pub async fn unlock(
    store: Store,
    keys_dir: &std::path::Path,
    adopt: bool,
) -> Result<Store, CommandError> {
    let store = unlock_secret(store, keys_dir, adopt).await?;
    unlock_audit(store, keys_dir, adopt).await
}

/// Attach the audit key in `keys_dir` to `store`.
///
/// With `adopt` (`serve`, `user add`) and no key file, on a database whose trail is not
/// keyed yet, the key is created (mode 0600) covering the entries from the next one on,
/// and recorded in the database (where it starts and a MAC of that, never the key). A key
/// file is checked against that record; a missing key on a keyed database, or another
/// database's key, is an error naming the file, for every command that may write audit
/// entries: entries written without the key would fail verification. Without `adopt` a
/// key file the database has no record of is used but not recorded.
pub async fn unlock_audit(
    store: Store,
    keys_dir: &std::path::Path,
    adopt: bool,
) -> Result<Store, CommandError> {
    let path = keys_dir.join(seal::AUDIT_KEY_FILE);
    let wrong = || {
        CommandError::Usage(format!(
            "{} is not the audit key this database's trail is keyed with (another \
             database's key, or its `from` line was changed). Restore the original key \
             file.",
            path.display()
        ))
    };
    let key = match seal::load_audit_key(keys_dir)? {
        Some(key) => key,
        None if store.audit_keyed().await? => {
            return Err(CommandError::Usage(format!(
                "{} is missing, but this database's audit trail is keyed with it. Copy it \
                 from the instance that made it (beside its secret.key) or restore it from \
                 your backup: entries written without it would fail `moat audit verify`.",
                path.display()
            )))
        }
        None if adopt => match store
            .start_keyed_chain(|from| seal::create_audit_key(keys_dir, from))
            .await??
        {
            crate::store::KeyedStart::Started(key) => {
                tracing::info!(
                    from = key.from(),
                    "created the audit key; entries from here on carry its MAC"
                );
                return Ok(store.with_audit_key(key));
            }
            // Another instance sharing this keys_dir may just have made it.
            crate::store::KeyedStart::AlreadyKeyed => match seal::load_audit_key(keys_dir)? {
                Some(key) => key,
                None => return Err(wrong()),
            },
        },
        None => return Ok(store),
    };
    match store.adopt_audit_key(&key, adopt).await? {
        AuditKeyCheck::Matches | AuditKeyCheck::Recorded | AuditKeyCheck::NotRecorded => {
            Ok(store.with_audit_key(key))
        }
        AuditKeyCheck::WrongKey => Err(wrong()),
    }
}

async fn unlock_secret(
    store: Store,
    keys_dir: &std::path::Path,
    adopt: bool,
) -> Result<Store, CommandError> {
    let path = keys_dir.join(seal::SECRET_KEY_FILE);
    let sealer = match seal::load_key(keys_dir)? {
        Some(sealer) => match store.check_key(&sealer).await? {
            KeyCheck::Fresh | KeyCheck::Matches => sealer,
            KeyCheck::WrongKey => {
                return Err(CommandError::Usage(format!(
                    "{} is not the secret key this database was set up with: the TOTP \
                     secrets do not open with it. Restore the original key file (moat will \
                     not re-enrol users on its own).",
                    path.display()
                )))
            }
        },
        None if store.holds_sealed_secrets().await? => {
            return Err(CommandError::Usage(format!(
                "{} is missing, but this database holds TOTP secrets sealed with it. \
                 Restore the key file from your backup (moat will not re-enrol users on its \
                 own; `moat user reset-2fa NAME` re-enrols one user deliberately).",
                path.display()
            )))
        }
        None if adopt => seal::create_key(keys_dir)?,
        None => return Ok(store),
    };
    if adopt {
        let sealed = store.adopt_key(&sealer).await?;
        if sealed > 0 {
            tracing::info!(sealed, "sealed TOTP secrets that were stored in plaintext");
        }
    }
    Ok(store.with_sealer(sealer))
}

/// Check that `codename` names a permission that exists (see [`perm::check_codename`]).
pub fn check_codename(
    config: &Config,
    schema: &Schema,
    codename: &str,
) -> Result<(), CommandError> {
    perm::check_codename(schema, &config.models, codename).map_err(CommandError::Usage)
}

/// The key of row `pk` of `model`, checked to exist.
async fn existing_row(
    store: &Store,
    schema: &Schema,
    model: &str,
    pk: &str,
) -> Result<(), CommandError> {
    let table = schema
        .table(model)
        .ok_or_else(|| CommandError::Usage(format!("no model `{}`", model.escape_debug())))?;
    let keys = table.key_columns();
    let [key] = keys.as_slice() else {
        return Err(CommandError::Usage(format!(
            "{model} has a composite key: object permissions need a single-column key"
        )));
    };
    let integer = key == "rowid"
        || table
            .column(key)
            .is_some_and(|c| c.decl_type.to_ascii_uppercase().contains("INT"));
    let value = if integer {
        Value::Integer(pk.parse().map_err(|_| {
            CommandError::Usage(format!(
                "`{}` is not a key of {model} (an integer)",
                pk.escape_debug()
            ))
        })?)
    } else {
        Value::Text(pk.to_string())
    };
    match store.record(table, &[value]).await {
        Ok(_) => Ok(()),
        Err(StoreError::NotFound(_)) => Err(CommandError::Usage(format!(
            "{model} has no row with key {}",
            pk.escape_debug()
        ))),
        Err(e) => Err(e.into()),
    }
}

async fn user_id(store: &Store, name: &str) -> Result<i64, CommandError> {
    store
        .user_id(name)
        .await?
        .ok_or_else(|| CommandError::Usage(format!("no such user: {}", name.escape_debug())))
}

async fn group_id(store: &Store, name: &str) -> Result<i64, CommandError> {
    store
        .group_id(name)
        .await?
        .ok_or_else(|| CommandError::Usage(format!("no such group: {}", name.escape_debug())))
}

/// Whom a permission command is about.
#[derive(Clone, Debug)]
pub enum Target {
    User(String),
    Group(String),
}

impl Target {
    async fn principal(&self, store: &Store) -> Result<Principal, CommandError> {
        Ok(match self {
            Target::User(u) => Principal::User(user_id(store, u).await?),
            Target::Group(g) => Principal::Group(group_id(store, g).await?),
        })
    }

    /// The user's or group's name.
    fn name(&self) -> &str {
        match self {
            Target::User(n) | Target::Group(n) => n,
        }
    }

    /// `user NAME` or `group NAME`.
    fn describe(&self) -> String {
        match self {
            Target::User(u) => format!("user {u}"),
            Target::Group(g) => format!("group {g}"),
        }
    }

    /// [`Target::describe`], sanitized for the terminal.
    fn shown(&self) -> SafeText {
        SafeText::new(&self.describe())
    }
}
