//! The CLI's commands as library functions, so tests and benchmarks run exactly what an
//! operator runs. Each takes the loaded [`Config`] and writes its report to `out`.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use qrcode::render::unicode::Dense1x2;
use qrcode::QrCode;
use tokio::net::TcpListener;

use crate::auth::lockout::Policy;
use crate::auth::password::{generate_password, HashError, Hasher};
use crate::auth::{backup, totp, AuthService};
use crate::config::{Config, ConfigError, Validated};
use crate::session;
use crate::ssh::hostkey::{self, HostKeyError};
use crate::ssh::{self, Live, Server};
use crate::store::{demo, AuditEntry, NewUser, Store, StoreError};

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
    Hash(#[from] HashError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Usage(String),
}

/// Seconds since the epoch: the one place commands read the clock.
pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Open the configured database and bring moat's tables up to date.
pub async fn open_store(config: &Config) -> Result<Store, CommandError> {
    let store = Store::connect(&config.database_url).await?;
    store.migrate().await?;
    Ok(store)
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
    let sessions = Arc::new(session::Context {
        store: store.clone(),
        schema,
        page_size: config.page_size,
        max_size: (config.max_cols, config.max_rows),
        input_tap: None,
    });
    let auth = AuthService::new(
        store.clone(),
        hasher,
        Policy::from(&config.lockout),
        config.argon2.max_concurrent,
        config.argon2.max_queued,
    );
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
        match demo::load(store.pool()).await.map_err(StoreError::from)? {
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
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if first_ok && rest_ok && name.len() <= 32 {
        Ok(())
    } else {
        Err(CommandError::Usage(format!(
            "invalid username `{}`: use 1-32 of a-z 0-9 . _ - starting with a letter",
            name.escape_debug()
        )))
    }
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
            now: now_unix(),
        })
        .await?;
    Ok(secret)
}

/// Minimum length of a password chosen by an operator.
pub const MIN_PASSWORD_LEN: usize = 12;

/// `moat user add NAME [--superuser] [--password-stdin]`. With a password given, prints
/// one line: the `otpauth://totp/` URI. Otherwise generates a password and prints it too.
pub async fn user_add(
    config: &Config,
    name: &str,
    superuser: bool,
    password: Option<String>,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    let store = open_store(config).await?;
    let generated = password.is_none();
    let password = match password {
        Some(p) if p.chars().count() < MIN_PASSWORD_LEN => {
            return Err(CommandError::Usage(format!(
                "password too short: at least {MIN_PASSWORD_LEN} characters"
            )))
        }
        Some(p) => p,
        None => generate_password(),
    };
    let secret = create_user(config, &store, name, superuser, &password).await?;
    if generated {
        writeln!(out, "password: {password}")?;
    }
    writeln!(out, "{}", totp::otpauth_uri(&secret, name))?;
    store.close().await;
    Ok(())
}

/// `moat migrate`: apply moat's migrations and report.
pub async fn migrate(config: &Config, out: &mut impl Write) -> Result<(), CommandError> {
    let store = open_store(config).await?;
    writeln!(
        out,
        "moat: database is up to date ({})",
        config.database_url
    )?;
    store.close().await;
    Ok(())
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn format_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `moat lockout list`: every failure counter, locked ones first.
pub async fn lockout_list(config: &Config, out: &mut impl Write) -> Result<(), CommandError> {
    let store = open_store(config).await?;
    let now = now_unix();
    let rows = store.list_failure_counters().await?;
    if rows.is_empty() {
        writeln!(out, "no failed logins recorded")?;
    } else {
        writeln!(out, "{:<40} {:>8}  locked until", "key", "failures")?;
        for (key, c) in rows {
            let locked = match c.locked_until {
                Some(t) if t > now => format_time(t),
                _ => "-".into(),
            };
            let key = crate::tui::sanitize::SafeText::new(&key.to_string());
            writeln!(out, "{key:<40} {:>8}  {locked}", c.failures)?;
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
    if let Some(ip) = ip {
        ip.parse::<std::net::IpAddr>().map_err(|_| {
            CommandError::Usage(format!("`{}` is not an IP address", ip.escape_debug()))
        })?;
    }
    let store = open_store(config).await?;
    let n = store.reset_failure_counters(user, ip).await?;
    let what = match (user, ip) {
        (Some(u), Some(i)) => format!("user {u} from {i}"),
        (Some(u), None) => format!("user {u}"),
        (None, Some(i)) => format!("address {i}"),
        (None, None) => String::new(),
    };
    store
        .audit(&[AuditEntry {
            at_ms: now_unix().saturating_mul(1000),
            actor: Some(format!("cli:{operator}")),
            action: "lockout_reset".into(),
            outcome: "success".into(),
            reason: Some(format!("{what}: {n} counters removed")),
            ..AuditEntry::default()
        }])
        .await?;
    writeln!(out, "reset {n} counters for {what}")?;
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
    let store = open_store(config).await?;
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
        at_ms: now_unix().saturating_mul(1000),
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
        "Backup codes for {name} (each works once; shown only now):"
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
    }

    #[test]
    fn times() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(
            format_time(1_764_115_200 + 3_723),
            "2025-11-26 01:02:03 UTC"
        );
    }

    #[test]
    fn qr_renders_half_blocks() {
        let qr = qr_text("otpauth://totp/moat:admin?secret=AAAA&issuer=moat").unwrap();
        assert!(qr.contains('▀') || qr.contains('▄') || qr.contains('█'));
        assert!(qr.lines().count() > 10);
    }
}
