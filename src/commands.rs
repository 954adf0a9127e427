//! The CLI's commands as library functions, so tests and benchmarks run exactly what an
//! operator runs. Each takes the loaded [`Config`] and writes its report to `out`.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use qrcode::render::unicode::Dense1x2;
use qrcode::QrCode;
use tokio::net::TcpListener;

use crate::auth::password::{generate_password, HashError, Hasher};
use crate::auth::{totp, AuthService};
use crate::config::{Config, ConfigError, Validated};
use crate::gate::Allowlist;
use crate::session;
use crate::ssh::hostkey::{self, HostKeyError};
use crate::ssh::{self, Server};
use crate::store::{demo, NewUser, Store, StoreError};

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
    let server = Arc::new(Server {
        ssh: Arc::new(ssh::ssh_config(host_key, v.auth_rejection)),
        allowlist: Allowlist::new(v.allowlist),
        login_grace: v.login_grace,
        auth: AuthService::new(store.clone(), hasher),
        sessions,
    });
    Ok(Built {
        server,
        store,
        host_key_fingerprint: fingerprint,
    })
}

/// `moat serve [--demo]`: migrate, load demo data, create the first superuser if there
/// is no user, then serve until `shutdown`.
pub async fn serve(
    config: &Config,
    demo_data: bool,
    out: &mut (impl Write + Send),
    shutdown: impl std::future::Future<Output = ()>,
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
    built.server.serve(listener, shutdown).await?;
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
    fn qr_renders_half_blocks() {
        let qr = qr_text("otpauth://totp/moat:admin?secret=AAAA&issuer=moat").unwrap();
        assert!(qr.contains('▀') || qr.contains('▄') || qr.contains('█'));
        assert!(qr.lines().count() > 10);
    }
}
