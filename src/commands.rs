//! The CLI's commands as library functions, so tests and benchmarks run exactly what an
//! operator runs. Each takes the loaded [`Config`] and writes its report to `out`.
//!
//! Everything a report shows that comes from the database (table and model names, user and
//! group names, keys, audit fields) or from the command line goes through the terminal
//! sanitizer ([`SafeText`]), so a table named with an escape sequence or a bidi override
//! cannot drive the operator's terminal. `audit export` writes JSON instead, with those
//! characters as `\u` escapes (see [`TerminalSafeJson`]).

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use qrcode::render::unicode::Dense1x2;
use qrcode::QrCode;
use tokio::net::TcpListener;

use crate::auth::lockout::Policy;
use crate::auth::password::{generate_password, HashError, Hasher};
use crate::auth::{backup, policy, totp, AuthService};
use crate::config::{Config, ConfigError, Validated};
use crate::domain::{format_time, Schema, Value};
use crate::perm;
use crate::seal;
use crate::session;
use crate::ssh::hostkey::{self, HostKeyError};
use crate::ssh::{self, Live, Server};
use crate::store::{
    demo, AuditEntry, AuditKeyCheck, KeyCheck, NewUser, Principal, Store, StoreError,
};
use crate::tui::sanitize::{self, SafeText};

pub mod search_index;

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

/// Open the configured database, bring moat's tables up to date and attach the secret
/// key that seals TOTP secrets, creating and adopting it if the database has none yet
/// (see [`unlock`]). For `serve` and `user add`, which write TOTP secrets.
pub async fn open_store(config: &Config) -> Result<Store, CommandError> {
    let store = Store::connect(&config.database_url)
        .await?
        .with_schemas(&config.database_schemas);
    store.migrate().await?;
    unlock(store, &config.keys_dir, true).await
}

/// Like [`open_store`], for commands that never write a TOTP secret: a key present is
/// checked, but none is created or adopted (run from another directory, such a command
/// must not tie the database to a key the server does not have).
pub async fn open_admin_store(config: &Config) -> Result<Store, CommandError> {
    let store = Store::connect(&config.database_url)
        .await?
        .with_schemas(&config.database_schemas);
    store.migrate().await?;
    unlock(store, &config.keys_dir, false).await
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

/// A running server's parts, built from config (used by `serve`, tests and benchmarks).
pub struct Built {
    pub server: Arc<Server>,
    pub store: Store,
    pub host_key_fingerprint: String,
}

/// Build the server from validated config and an open store: host key, hasher, schema.
pub async fn build(config: &Config, store: Store) -> Result<Built, CommandError> {
    let v: Validated = config.validate()?;
    let (host_key, _) = hostkey::load_or_generate(&config.keys_dir)?;
    let fingerprint = hostkey::fingerprint(&host_key);
    let hasher = Arc::new(Hasher::new(config.argon2)?);
    let schema = Arc::new(store.introspect().await?);
    config.validate_models(&schema)?;
    let auth = AuthService::new(
        store.clone(),
        Arc::clone(&hasher),
        Policy::from(&config.lockout),
        config.argon2.max_concurrent,
        config.argon2.max_queued,
    );
    let sessions = Arc::new(session::Context {
        store: store.clone(),
        schema,
        page_size: config.page_size,
        max_size: (config.max_cols, config.max_rows),
        rules: config.models.clone(),
        hasher,
        export_dir: config.export_dir.clone(),
        auth: auth.clone(),
        accounts: config.accounts,
        timeouts: config.session,
        live: Arc::default(),
        input_tap: None,
    });
    let server = Arc::new(Server::new(
        Arc::new(ssh::ssh_config(host_key, v.auth_rejection)),
        auth,
        sessions,
        Live::from_config(config)?,
    ));
    Ok(Built {
        server,
        store,
        host_key_fingerprint: fingerprint,
    })
}

/// `moat serve [--demo]`: migrate, load demo data, create the first superuser if there
/// is no user, then serve until `shutdown`. Each item of `reloads` is a freshly loaded
/// configuration (SIGHUP): its live settings are applied, or it is refused and the old
/// ones kept.
pub async fn serve(
    config: &Config,
    demo_data: bool,
    out: &mut (impl Write + Send),
    shutdown: impl std::future::Future<Output = ()>,
    mut reloads: tokio::sync::mpsc::Receiver<Result<Config, ConfigError>>,
) -> Result<(), CommandError> {
    let v = config.validate()?;
    let store = open_store(config).await?;
    if demo_data {
        match demo::load(&store).await? {
            demo::DemoOutcome::Created { rows } => {
                writeln!(out, "moat: demo data loaded ({rows} rows)")?
            }
            demo::DemoOutcome::AlreadyPresent => writeln!(out, "moat: demo data already present")?,
        }
    }
    if store.user_count().await? == 0 {
        bootstrap_admin(config, &store, v.listen, out).await?;
    }
    let built = build(config, store).await?;
    let listener = TcpListener::bind(v.listen).await?;
    writeln!(
        out,
        "moat: listening on {} (host key {})",
        listener.local_addr()?,
        built.host_key_fingerprint
    )?;
    out.flush()?;
    let server = Arc::clone(&built.server);
    let reloader = tokio::spawn(async move {
        while let Some(loaded) = reloads.recv().await {
            match loaded.and_then(|c| server.reload(&c)) {
                Ok(()) => tracing::info!(
                    "configuration reloaded (allowlist, limits, lockout, login grace; \
                     other keys apply at restart)"
                ),
                Err(e) => {
                    tracing::error!(error = %e, "configuration reload refused; keeping the old one")
                }
            }
        }
    });
    built.server.serve(listener, shutdown).await?;
    reloader.abort();
    built.store.close().await;
    writeln!(out, "moat: stopped")?;
    Ok(())
}

/// Create superuser `admin` with a random password and TOTP, and print them once.
async fn bootstrap_admin(
    config: &Config,
    store: &Store,
    listen: SocketAddr,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    let password = generate_password();
    let secret = create_user(config, store, "admin", true, &password).await?;
    let uri = totp::otpauth_uri(&secret, "admin");
    writeln!(
        out,
        "moat: no users yet, so superuser `admin` was created. This is shown once:"
    )?;
    writeln!(out)?;
    writeln!(out, "  password: {password}")?;
    writeln!(out, "  TOTP:     {uri}")?;
    writeln!(out, "  secret:   {}", totp::secret_base32(&secret))?;
    writeln!(out)?;
    if let Some(qr) = qr_text(&uri) {
        writeln!(out, "{qr}")?;
    }
    writeln!(
        out,
        "Scan the code (or type the secret) into an authenticator app, then connect:"
    )?;
    writeln!(out)?;
    writeln!(out, "  ssh -p {} admin@{}", listen.port(), listen.ip())?;
    writeln!(out)?;
    Ok(())
}

/// A QR code of `text` in Unicode half blocks, light on dark (reads on dark terminals).
pub fn qr_text(text: &str) -> Option<String> {
    let code = QrCode::new(text.as_bytes()).ok()?;
    Some(
        code.render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}

/// A username: 1–32 of `a-z 0-9 . _ -`, starting with a letter or `_`.
pub fn validate_username(name: &str) -> Result<(), CommandError> {
    crate::auth::validate_name(name).map_err(CommandError::Usage)
}

/// Create a user with `password` and an enrolled TOTP device; returns the TOTP secret.
async fn create_user(
    config: &Config,
    store: &Store,
    name: &str,
    superuser: bool,
    password: &str,
) -> Result<Vec<u8>, CommandError> {
    validate_username(name)?;
    let hasher = Hasher::new(config.argon2)?;
    let phc = hasher.hash(password)?;
    let secret = totp::generate_secret();
    store
        .create_user(&NewUser {
            username: name,
            password_hash: &phc,
            is_superuser: superuser,
            totp_secret: Some(&secret),
            must_change_password: false,
            password_expires_at: None,
            now: now_unix(),
        })
        .await?;
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
    let store = open_store(config).await?;
    let mut group_ids = Vec::new();
    for g in groups {
        group_ids.push(group_id(&store, g).await?);
    }
    let secret = match &password {
        Some(p) => Some(create_user(config, &store, name, superuser, p).await?),
        None => {
            let one_time = generate_password();
            let phc = Hasher::new(config.argon2)?.hash(&one_time)?;
            store
                .create_user(&NewUser {
                    username: name,
                    password_hash: &phc,
                    is_superuser: superuser,
                    totp_secret: None,
                    must_change_password: true,
                    password_expires_at: Some(config.accounts.one_time_expiry(now_unix())),
                    now: now_unix(),
                })
                .await?;
            writeln!(out, "one-time password: {one_time}")?;
            None
        }
    };
    if !group_ids.is_empty() {
        let id = user_id(&store, name).await?;
        let audit = cli_audit(
            operator,
            "user_groups",
            "moat_users",
            name,
            serde_json::json!({ "groups": groups }),
        );
        store.add_memberships(id, &group_ids, &audit).await?;
    }
    store
        .audit(&[cli_audit(
            operator,
            "user_add",
            "moat_users",
            name,
            serde_json::json!({ "superuser": superuser, "one_time_password": secret.is_none() }),
        )])
        .await?;
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
    let mut audit = cli_audit(
        operator,
        "reset_2fa",
        "moat_users",
        name,
        serde_json::json!({ "one_time_password_expires": expires }),
    );
    audit.reason = Some("TOTP device and backup codes removed".into());
    store
        .reset_second_factor(id, &phc, expires, now_unix(), &audit)
        .await?;
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

/// `moat sessions [list]`: live sessions on every instance.
pub async fn sessions_list(config: &Config, out: &mut impl Write) -> Result<(), CommandError> {
    let store = open_admin_store(config).await?;
    let now = now_unix();
    let rows = store.live_sessions(now - session::live::STALE_SECS).await?;
    if rows.is_empty() {
        writeln!(out, "no live sessions")?;
    } else {
        let shown: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    SafeText::new(&r.id),
                    SafeText::new(&r.username),
                    SafeText::new(&r.source_ip),
                )
            })
            .collect();
        let user_w = shown
            .iter()
            .map(|(_, n, _)| n.as_str().chars().count())
            .max()
            .unwrap_or(0)
            .max(4);
        let from_w = shown
            .iter()
            .map(|(_, _, ip)| ip.as_str().chars().count())
            .max()
            .unwrap_or(0)
            .max(4);
        writeln!(
            out,
            "{:<16}  {:<user_w$}  {:<from_w$}  {:<23}  idle",
            "session", "user", "from", "started"
        )?;
        for (r, (id, name, from)) in rows.iter().zip(shown) {
            let ending = if r.end_requested { "  (ending)" } else { "" };
            writeln!(
                out,
                "{id:<16}  {name:<user_w$}  {from:<from_w$}  {:<23}  {}{ending}",
                format_time(r.started_at),
                crate::domain::format_duration(now - r.last_input_at)
            )?;
        }
    }
    store.close().await;
    Ok(())
}

/// `moat sessions end ID`: ask the session to end (whichever instance runs it notices
/// within a second and tells its user).
pub async fn session_end(
    config: &Config,
    id: &str,
    operator: &str,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    let store = open_admin_store(config).await?;
    let audit = AuditEntry {
        at_ms: now_unix_ms(),
        actor: Some(format!("cli:{operator}")),
        action: "session_end".into(),
        model: Some("moat_sessions".into()),
        outcome: "requested".into(),
        ..AuditEntry::default()
    };
    let reason = format!("ended by {operator} (command line)");
    let (full, user) = match store.request_session_end(id, &reason, &audit).await {
        Err(StoreError::NotFound(what)) => return Err(CommandError::Usage(what)),
        other => other?,
    };
    writeln!(
        out,
        "session {} of {} ended",
        SafeText::new(&full),
        SafeText::new(&user)
    )?;
    store.close().await;
    Ok(())
}

/// `moat migrate`: apply moat's migrations and report.
pub async fn migrate(config: &Config, out: &mut impl Write) -> Result<(), CommandError> {
    let store = open_admin_store(config).await?;
    writeln!(
        out,
        "moat: database is up to date ({})",
        SafeText::new(&config.database_url)
    )?;
    store.close().await;
    Ok(())
}

/// An audit row for a management command run from the CLI by `operator`.
fn cli_audit(
    operator: &str,
    action: &str,
    model: &str,
    pk: &str,
    after: serde_json::Value,
) -> AuditEntry {
    AuditEntry {
        at_ms: now_unix_ms(),
        actor: Some(format!("cli:{operator}")),
        action: action.into(),
        model: Some(model.into()),
        pk: Some(pk.into()),
        after: Some(after),
        outcome: "success".into(),
        ..AuditEntry::default()
    }
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

    /// `user NAME` or `group NAME`, as the audit trail records it.
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

/// `moat group add NAME [--perm CODENAME]...`
pub async fn group_add(
    config: &Config,
    name: &str,
    perms: &[String],
    operator: &str,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    validate_username(name)?;
    let store = open_admin_store(config).await?;
    let schema = store.introspect().await?;
    for p in perms {
        check_codename(config, &schema, p)?;
    }
    let audit = cli_audit(
        operator,
        "group_add",
        "moat_groups",
        name,
        serde_json::json!({ "perms": perms }),
    );
    store.create_group(name, perms, now_unix(), &audit).await?;
    writeln!(
        out,
        "group {} created with {} permissions",
        SafeText::new(name),
        perms.len()
    )?;
    store.close().await;
    Ok(())
}

/// `moat group grant|revoke NAME CODENAME...` and `moat user grant|revoke NAME CODENAME...`
pub async fn set_model_perms(
    config: &Config,
    target: &Target,
    codenames: &[String],
    grant: bool,
    operator: &str,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    if codenames.is_empty() {
        return Err(CommandError::Usage("name at least one permission".into()));
    }
    let store = open_admin_store(config).await?;
    let schema = store.introspect().await?;
    for c in codenames {
        check_codename(config, &schema, c)?;
    }
    let principal = target.principal(&store).await?;
    let (action, model, name) = match target {
        Target::User(u) => (
            if grant { "user_grant" } else { "user_revoke" },
            "moat_users",
            u,
        ),
        Target::Group(g) => (
            if grant { "group_grant" } else { "group_revoke" },
            "moat_groups",
            g,
        ),
    };
    let audit = cli_audit(
        operator,
        action,
        model,
        name,
        serde_json::json!({ "perms": codenames }),
    );
    let n = store
        .set_model_perms(principal, codenames, grant, &audit)
        .await?;
    let verb = if grant { "granted to" } else { "revoked from" };
    writeln!(out, "{n} permissions {verb} {}", target.shown())?;
    store.close().await;
    Ok(())
}

/// One object permission: `codename` on row `pk` of `model`, for `target`.
#[derive(Clone, Debug)]
pub struct ObjectPerm {
    pub target: Target,
    pub codename: String,
    pub model: String,
    pub pk: String,
}

/// `moat perm assign|remove (--user U | --group G) CODENAME MODEL PK`
pub async fn set_object_perm(
    config: &Config,
    perm: &ObjectPerm,
    assign: bool,
    operator: &str,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    let ObjectPerm {
        target,
        codename,
        model,
        pk,
    } = perm;
    let (codename, model, pk) = (codename.as_str(), model.as_str(), pk.as_str());
    let store = open_admin_store(config).await?;
    let schema = store.introspect().await?;
    check_codename(config, &schema, codename)?;
    crate::perm::check_object_codename(codename, model).map_err(CommandError::Usage)?;
    if assign {
        existing_row(&store, &schema, model, pk).await?;
    }
    let principal = target.principal(&store).await?;
    let action = if assign { "perm_assign" } else { "perm_remove" };
    let audit = cli_audit(
        operator,
        action,
        model,
        pk,
        serde_json::json!({ "to": target.describe(), "codename": codename }),
    );
    let changed = store
        .set_object_perm(principal, codename, model, pk, assign, &audit)
        .await?;
    let what = match (assign, changed) {
        (true, true) => "assigned",
        (true, false) => "was already assigned",
        (false, true) => "removed",
        (false, false) => "was not assigned",
    };
    writeln!(
        out,
        "{} on {} {} {what} ({})",
        SafeText::new(codename),
        SafeText::new(model),
        SafeText::new(pk),
        target.shown()
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
    let action = if active {
        "user_enable"
    } else {
        "user_disable"
    };
    let audit = cli_audit(
        operator,
        action,
        "moat_users",
        name,
        serde_json::json!({ "active": active }),
    );
    store
        .set_user_active(id, active, now_unix(), &audit)
        .await?;
    writeln!(
        out,
        "user {} {}",
        SafeText::new(name),
        if active { "enabled" } else { "disabled" }
    )?;
    store.close().await;
    Ok(())
}

/// `moat group list`
pub async fn group_list(config: &Config, out: &mut impl Write) -> Result<(), CommandError> {
    let store = open_admin_store(config).await?;
    let groups = store.list_groups().await?;
    if groups.is_empty() {
        writeln!(out, "no groups")?;
    }
    for g in groups {
        writeln!(out, "{}", SafeText::new(&g.name))?;
        writeln!(out, "  members:     {}", or_none(&g.members))?;
        writeln!(out, "  permissions: {}", or_none(&g.perms))?;
    }
    store.close().await;
    Ok(())
}

/// `items` sanitized and joined with commas, or `-`.
fn or_none(items: &[String]) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items
            .iter()
            .map(|item| String::from(SafeText::new(item)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `moat perm list --user U`
pub async fn perm_list(
    config: &Config,
    user: &str,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    let store = open_admin_store(config).await?;
    let id = user_id(&store, user).await?;
    let l = store.perm_listing(id).await?;
    writeln!(
        out,
        "{}: {}{}",
        SafeText::new(user),
        if l.is_active { "active" } else { "disabled" },
        if l.is_superuser {
            ", superuser (every permission)"
        } else {
            ""
        }
    )?;
    writeln!(out, "groups: {}", or_none(&l.groups))?;
    writeln!(out, "model permissions:")?;
    for (codename, via) in &l.model_perms {
        let (codename, via) = (SafeText::new(codename), SafeText::new(via));
        writeln!(out, "  {codename:<32} via {via}")?;
    }
    writeln!(out, "object permissions:")?;
    for (codename, model, pk, via) in &l.object_perms {
        let [codename, model, pk, via] = [codename, model, pk, via].map(|s| SafeText::new(s));
        writeln!(out, "  {codename:<32} {model} {pk}  via {via}")?;
    }
    store.close().await;
    Ok(())
}

/// `moat audit verify [--head ID:HASH]`: walk the chain; an error names the first bad
/// entry.
pub async fn audit_verify(
    config: &Config,
    head: Option<&str>,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    let head = match head {
        Some(h) => {
            let (id, hash) = h
                .split_once(':')
                .and_then(|(i, hash)| Some((i.parse::<i64>().ok()?, hash)))
                .ok_or_else(|| {
                    CommandError::Usage(format!("--head wants ID:HASH, got `{}`", h.escape_debug()))
                })?;
            Some((id, hash))
        }
        None => None,
    };
    // Neither key is needed to check the plain chain: the TOTP key is not loaded, and the
    // audit key is used if present (checked against the trail, never created).
    let store = Store::connect(&config.database_url)
        .await?
        .with_schemas(&config.database_schemas);
    store.migrate().await?;
    let key_path = config.keys_dir.join(seal::AUDIT_KEY_FILE);
    let store = match seal::load_audit_key(&config.keys_dir)? {
        Some(key) => store.with_audit_key(key),
        None => store,
    };
    let result = store.verify_audit(head).await?;
    store.close().await;
    let v = result.map_err(|e| CommandError::Usage(format!("audit trail broken: {e}")))?;
    let head = match &v.head {
        Some((id, hash)) => format!("{} entries, head {id}:{}", v.rows, SafeText::new(hash)),
        None => "no entries yet".to_string(),
    };
    match v.keyed_from {
        None => writeln!(
            out,
            "unkeyed chain intact, MACs not checked ({} is absent): {head}",
            SafeText::new(&key_path.display().to_string())
        )?,
        Some(from) => {
            let before = u64::try_from(from - 1).unwrap_or(0).min(v.rows);
            let keyed = v.rows - before;
            let keyed = if keyed == 0 {
                format!("no entry since the audit key was made (it covers entries from {from} on)")
            } else if before == 0 {
                "every entry's MAC verified with the audit key".to_string()
            } else {
                format!(
                    "MACs verified from entry {from} on; the {before} entries before it predate \
                     the audit key and have none (they are covered through the chain by the \
                     MACs after them)"
                )
            };
            writeln!(out, "audit trail intact: {head}; {keyed}")?
        }
    }
    Ok(())
}

/// `moat audit head`: the last entry's id and hash, to store somewhere else.
pub async fn audit_head(config: &Config, out: &mut impl Write) -> Result<(), CommandError> {
    let store = open_admin_store(config).await?;
    match store.audit_head().await? {
        Some((id, hash)) => writeln!(out, "{id}:{}", SafeText::new(&hash))?,
        None => writeln!(out, "0:{}", crate::store::audit::GENESIS)?,
    }
    store.close().await;
    Ok(())
}

/// What `moat audit export` selects.
#[derive(Clone, Debug, Default)]
pub struct ExportArgs {
    pub since: Option<String>,
    pub user: Option<String>,
    pub model: Option<String>,
}

/// `moat audit export --format jsonl [--since T] [--user U] [--model M]`: one JSON object
/// a line, streamed; progress on `progress` every 100,000 rows.
pub async fn audit_export(
    config: &Config,
    args: &ExportArgs,
    out: &mut impl Write,
    progress: &mut impl Write,
) -> Result<(), CommandError> {
    let since_ms = match &args.since {
        Some(t) => Some(
            crate::domain::parse_time(t)
                .ok_or_else(|| {
                    CommandError::Usage(format!(
                        "--since: `{}` is not a time (YYYY-MM-DD[ HH:MM:SS] or unix seconds)",
                        t.escape_debug()
                    ))
                })?
                .saturating_mul(1000),
        ),
        None => None,
    };
    let filter = crate::store::AuditFilter {
        since_ms,
        actor: args.user.clone(),
        model: args.model.clone(),
        ..Default::default()
    };
    let store = open_admin_store(config).await?;
    let n = store
        .export_audit(&filter, |row| {
            let e = &row.entry;
            let line = serde_json::json!({
                "id": row.id,
                "at": format_time(e.at_ms.div_euclid(1000)),
                "at_ms": e.at_ms,
                "actor": e.actor,
                "source_ip": e.source_ip,
                "session_id": e.session_id,
                "action": e.action,
                "model": e.model,
                "pk": e.pk,
                "before": e.before,
                "after": e.after,
                "outcome": e.outcome,
                "reason": e.reason,
                "prev_hash": row.prev_hash,
                "hash": row.hash,
            });
            write_json_line(out, &line).map_err(|e| StoreError::Conflict(e.to_string()))?;
            if row.id % 100_000 == 0 {
                let _ = writeln!(progress, "moat: exported up to entry {}…", row.id);
            }
            Ok(())
        })
        .await?;
    let _ = writeln!(progress, "moat: exported {n} entries");
    store.close().await;
    Ok(())
}

/// Write `value` as one line of JSON with [`TerminalSafeJson`].
fn write_json_line(out: &mut impl Write, value: &serde_json::Value) -> std::io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, TerminalSafeJson);
    serde::Serialize::serialize(value, &mut ser).map_err(std::io::Error::from)?;
    out.write_all(b"\n")
}

/// JSON as serde_json writes it compactly, except that every character the terminal
/// sanitizer would escape (DEL, C1 controls, bidi, format and other invisible characters;
/// serde_json itself escapes only C0) is written as a `\uXXXX` escape. A parser reads the
/// same value; a terminal shown the lines gets nothing it would obey or hide.
pub struct TerminalSafeJson;

impl serde_json::ser::Formatter for TerminalSafeJson {
    fn write_string_fragment<W>(&mut self, writer: &mut W, fragment: &str) -> std::io::Result<()>
    where
        W: ?Sized + Write,
    {
        let mut plain = 0;
        for (i, c) in fragment.char_indices() {
            if sanitize::is_escaped(c) {
                writer.write_all(fragment.get(plain..i).unwrap_or_default().as_bytes())?;
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
                plain = i + c.len_utf8();
            }
        }
        writer.write_all(fragment.get(plain..).unwrap_or_default().as_bytes())
    }
}

/// `moat lockout list`: every failure counter, locked ones first: the key (which scope
/// is locked: a username from an address, a username, an address), its failures, how
/// many lockouts it has had (each lasts longer), the last failure, and until when it is
/// locked. Why a login was refused is in the audit trail (`locked: this username`, …).
pub async fn lockout_list(config: &Config, out: &mut impl Write) -> Result<(), CommandError> {
    let store = open_admin_store(config).await?;
    let now = now_unix();
    let rows = store.list_failure_counters().await?;
    if rows.is_empty() {
        writeln!(out, "no failed logins recorded")?;
    } else {
        writeln!(
            out,
            "{:<40} {:>8} {:>8}  {:<23}  locked until",
            "key", "failures", "lockouts", "last failure"
        )?;
        for (key, c) in rows {
            let locked = match c.locked_until {
                Some(t) if t > now => format_time(t),
                _ => "-".into(),
            };
            let key = SafeText::new(&key.to_string());
            writeln!(
                out,
                "{key:<40} {:>8} {:>8}  {:<23}  {locked}",
                c.failures,
                c.tier,
                format_time(c.last_failure_at)
            )?;
        }
    }
    store.close().await;
    Ok(())
}

/// `moat lockout reset [--user U] [--ip IP]`: forget failure counters (both given: only
/// those naming both). Audited as done from the command line by `operator`.
pub async fn lockout_reset(
    config: &Config,
    user: Option<&str>,
    ip: Option<&str>,
    operator: &str,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    if user.is_none() && ip.is_none() {
        return Err(CommandError::Usage(
            "lockout reset needs --user, --ip or both".into(),
        ));
    }
    // Counts are kept per source: an IPv6 address is counted as its network
    // ([limits] ipv6_prefix), so `--ip 2001:db8:1:2::5` resets `2001:db8:1:2::/64`.
    let source = match ip {
        Some(ip) => {
            let addr = ip
                .parse::<std::net::IpAddr>()
                .or_else(|_| ip.parse::<ipnet::IpNet>().map(|n| n.addr()))
                .map_err(|_| {
                    CommandError::Usage(format!("`{}` is not an IP address", ip.escape_debug()))
                })?;
            Some(crate::gate::source_label(addr, config.limits.ipv6_prefix))
        }
        None => None,
    };
    let ip = source.as_deref();
    let store = open_admin_store(config).await?;
    let n = store.reset_failure_counters(user, ip).await?;
    let what = match (user, ip) {
        (Some(u), Some(i)) => format!("user {u} from {i}"),
        (Some(u), None) => format!("user {u}"),
        (None, Some(i)) => format!("address {i}"),
        (None, None) => String::new(),
    };
    store
        .audit(&[AuditEntry {
            at_ms: now_unix_ms(),
            actor: Some(format!("cli:{operator}")),
            action: "lockout_reset".into(),
            outcome: "success".into(),
            reason: Some(format!("{what}: {n} counters removed")),
            ..AuditEntry::default()
        }])
        .await?;
    writeln!(out, "reset {n} counters for {}", SafeText::new(&what))?;
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
    let audit = AuditEntry {
        at_ms: now_unix_ms(),
        actor: Some(format!("cli:{operator}")),
        action: "backup_codes".into(),
        model: Some("moat_users".into()),
        pk: Some(user_id.to_string()),
        outcome: "generated".into(),
        reason: Some(format!(
            "{} new codes for {name}; old ones revoked",
            hashes.len()
        )),
        ..AuditEntry::default()
    };
    store.replace_backup_codes(user_id, &hashes, &audit).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn json_lines_escape_what_a_terminal_would_obey_and_keep_the_value() {
        let raw = "a\x1b[2J\x7f\u{9b}\u{202e}\u{e0041}\u{3164}é日\"\\";
        let value = serde_json::json!({ "model": raw });
        let mut out = Vec::new();
        write_json_line(&mut out, &value).unwrap();
        let line = String::from_utf8(out).unwrap();
        assert_eq!(
            line,
            "{\"model\":\"a\\u001b[2J\\u007f\\u009b\\u202e\\udb40\\udc41\\u3164é日\\\"\\\\\"}\n"
        );
        let back: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn qr_renders_half_blocks() {
        let qr = qr_text("otpauth://totp/moat:admin?secret=AAAA&issuer=moat").unwrap();
        assert!(qr.contains('▀') || qr.contains('▄') || qr.contains('█'));
        assert!(qr.lines().count() > 10);
    }
}
