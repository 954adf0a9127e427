//! `moat serve` (build the server from config, bootstrap the first superuser) and
//! `moat migrate`.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use qrcode::render::unicode::Dense1x2;
use qrcode::QrCode;
use tokio::net::TcpListener;

use crate::auth::keys::KeyRules;
use crate::auth::lockout::Policy;
use crate::auth::password::{generate_password, Hasher};
use crate::auth::{totp, AuthService};
use crate::config::{Config, ConfigError, Validated};
use crate::demo;
use crate::session;
use crate::ssh::hostkey::{self};
use crate::ssh::{self, Live, Server};
use crate::store::Store;
use crate::tui::sanitize::SafeText;

use super::{create_user, open_store, CommandError};

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
    let schema = store.introspect().await?;
    config.validate_models(&schema)?;
    let schema = Arc::new(session::SchemaCell::new(schema));
    let auth = AuthService::new(
        store.clone(),
        Arc::clone(&hasher),
        Policy::from(&config.lockout),
        config.argon2.max_concurrent,
        config.argon2.max_queued,
    )
    .with_key_rules(KeyRules::load(config)?);
    let sessions = Arc::new(session::Context {
        store: store.clone(),
        schema,
        page_size: config.page_size,
        max_size: (config.max_cols, config.max_rows),
        rules: config.models.clone(),
        auth_groups: config.auth.groups.keys().cloned().collect(),
        hasher,
        export_dir: config.export_dir.clone(),
        exports: session::exports::Exports::new(config.export_ttl_hours),
        auth: auth.clone(),
        accounts: config.accounts,
        timeouts: config.session,
        refresh_every: (config.console.refresh_secs > 0)
            .then(|| std::time::Duration::from_secs(config.console.refresh_secs)),
        live: Arc::default(),
        recordings: session::recording::Recordings::start(&config.recording)?,
        input_tap: None,
        bulk_max_rows: config.limits.bulk_max_rows,
    });
    let server = Arc::new(Server::new(
        Arc::new(ssh::ssh_config(
            host_key,
            v.auth_rejection,
            auth.takes_keys(),
        )),
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
/// is no user (its credentials shown on `out` when it is a `terminal`, else written to a
/// private file, see [`bootstrap_admin`]), then serve until `shutdown` (and the metrics
/// endpoint, when `metrics_listen` is set). Each item of `reloads` is a freshly loaded
/// configuration (SIGHUP): its live settings are applied, or it is refused and the old
/// ones kept.
pub async fn serve(
    config: &Config,
    demo_data: bool,
    terminal: bool,
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
        bootstrap_admin(config, &store, v.listen, terminal, out).await?;
    }
    let built = build(config, store).await?;
    let listener = TcpListener::bind(v.listen).await?;
    let metrics = match v.metrics_listen {
        Some(addr) => {
            let listener = TcpListener::bind(addr).await.map_err(|e| {
                std::io::Error::new(e.kind(), format!("metrics_listen {addr}: {e}"))
            })?;
            writeln!(
                out,
                "moat: metrics on http://{}/metrics",
                listener.local_addr()?
            )?;
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(crate::metrics::http::serve(
                listener,
                crate::metrics::global(),
                async {
                    let _ = stopped.await;
                },
            ));
            Some((stop, task))
        }
        None => None,
    };
    // Last: what scripts and tests wait for.
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
                    "configuration reloaded (allowlist, limits, lockout, login grace, \
                     [auth], trusted CAs, revoked keys; other keys apply at restart)"
                ),
                Err(e) => {
                    tracing::error!(error = %e, "configuration reload refused; keeping the old one")
                }
            }
            // New tables appear, dropped ones go; open sessions keep running and see
            // them at their next command.
            match server.sessions.reload_schema().await {
                Ok(n) => tracing::info!(tables = n, "schema re-read"),
                Err(e) => {
                    tracing::error!(error = %e, "schema re-read refused; keeping the old one")
                }
            }
        }
    });
    built.server.serve(listener, shutdown).await?;
    reloader.abort();
    if let Some((stop, task)) = metrics {
        let _ = stop.send(());
        let _ = task.await;
    }
    built.store.close().await;
    writeln!(out, "moat: stopped")?;
    Ok(())
}

/// Create superuser `admin` with a random password and TOTP, and show them once: on a
/// `terminal`, printed; otherwise (systemd, docker: `out` ends up in a journal) written to
/// `keys_dir/first-start-credentials.txt`, mode 0600, and only that file's path is printed
/// and logged.
async fn bootstrap_admin(
    config: &Config,
    store: &Store,
    listen: SocketAddr,
    terminal: bool,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    let password = generate_password();
    let by = crate::ops::By::Cli {
        os_user: "moat-serve",
    };
    let secret = create_user(config, store, by, "admin", true, &password).await?;
    let uri = totp::otpauth_uri(&secret, "admin");
    let mut text = String::new();
    text.push_str("  password: ");
    text.push_str(&password);
    text.push_str("\n  TOTP:     ");
    text.push_str(&uri);
    text.push_str("\n  secret:   ");
    text.push_str(&totp::secret_base32(&secret));
    text.push_str("\n\n");
    if let Some(qr) = qr_text(&uri) {
        text.push_str(&qr);
        text.push('\n');
    }
    text.push_str(&format!(
        "Scan the code (or type the secret) into an authenticator app, then connect:\n\n  \
         ssh -p {} admin@{}\n\n",
        listen.port(),
        listen.ip()
    ));
    if terminal {
        writeln!(
            out,
            "moat: no users yet, so superuser `admin` was created. This is shown once:"
        )?;
        writeln!(out)?;
        write!(out, "{text}")?;
        return Ok(());
    }
    let path = config.keys_dir.join(super::doctor::FIRST_START_FILE);
    write_private(
        &path,
        &format!("moat: superuser `admin` was created at first start:\n\n{text}Delete this file once admin has logged in.\n"),
    )?;
    tracing::info!(file = %path.display(), "no users yet: superuser `admin` created; its password and TOTP secret are in this file (mode 0600)");
    writeln!(
        out,
        "moat: no users yet, so superuser `admin` was created; its password and TOTP secret \
         are in {} (mode 0600): read it, then delete it",
        SafeText::new(&path.display().to_string())
    )?;
    Ok(())
}

/// Write `text` to `path`, readable by its owner only whatever the umask (an older file
/// of that name is replaced).
fn write_private(path: &std::path::Path, text: &str) -> Result<(), CommandError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let _ = std::fs::remove_file(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
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

/// `moat migrate`: apply moat's migrations and report.
pub async fn migrate(config: &Config, out: &mut impl Write) -> Result<(), CommandError> {
    let store = super::open(config, true, false).await?;
    writeln!(
        out,
        "moat: database is up to date ({})",
        SafeText::new(&config.database_shown())
    )?;
    store.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qr_renders_half_blocks() {
        let qr = qr_text("otpauth://totp/moat:admin?secret=AAAA&issuer=moat").unwrap();
        assert!(qr.contains('▀') || qr.contains('▄') || qr.contains('█'));
        assert!(qr.lines().count() > 10);
    }
}
