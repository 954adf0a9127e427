//! `moat doctor`: a security self-check for an operator or a deploy pipeline. Every
//! finding has a stable id, a severity, what is wrong (its subject: a file, a user, a
//! network, a column) and the fix. Exit 0 when clean, 1 with findings.
//!
//! The checks: files, the configuration (pure: [`config_findings`]), and the database
//! (users, the audit chain, columns that look like secrets). A finding the operator has
//! weighed is accepted in config, with the reason (`[doctor.accept] id = "why"`): it is
//! still listed, marked accepted, and no longer fails the check.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Serialize;

use crate::config::{Config, Validated};
use crate::domain::{format_time, Schema};
use crate::perm;
use crate::seal;
use crate::ssh::hostkey::HOST_KEY_FILE;
use crate::store::{Store, TotpState, UserFacts};
use crate::tui::sanitize::SafeText;

use super::{CommandError, TerminalSafeJson};

/// The file `serve` writes the first superuser's credentials to when its output is not a
/// terminal (under `keys_dir`).
pub const FIRST_START_FILE: &str = "first-start-credentials.txt";

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Someone can get in, or in further, than the operator meant.
    Critical,
    /// A protection is weaker than it should be.
    Warning,
}

/// One thing to fix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable, for pipelines and for `[doctor.accept]`.
    pub id: &'static str,
    pub severity: Severity,
    /// What it is about: a file, a user, a network, `model.column`, a setting.
    pub subject: String,
    pub problem: String,
    pub fix: String,
    /// The operator's reason, when `[doctor.accept]` names this finding's id.
    pub accepted: Option<String>,
}

fn finding(
    id: &'static str,
    severity: Severity,
    subject: impl Into<String>,
    problem: impl Into<String>,
    fix: impl Into<String>,
) -> Finding {
    Finding {
        id,
        severity,
        subject: subject.into(),
        problem: problem.into(),
        fix: fix.into(),
        accepted: None,
    }
}

/// `moat doctor [--format json]`: run every check and report. `Ok(true)` when nothing
/// but accepted findings is left.
pub async fn doctor(
    config: &Config,
    json: bool,
    now: i64,
    out: &mut impl Write,
) -> Result<bool, CommandError> {
    let v = config.validate()?;
    // The keys are attached if they can be (the audit key checks the chain's MACs); if
    // they cannot, that is a finding, and the rest is checked all the same.
    let store = Store::connect_existing(&config.database_url)
        .await?
        .ok_or_else(|| CommandError::NoDatabase(config.database_shown()))?
        .with_schemas(&config.database_schemas);
    store.migrate().await?;
    let mut findings = config_findings(config, &v);
    let store = match super::unlock(store.clone(), &config.keys_dir, false).await {
        Ok(unlocked) => unlocked,
        Err(e) => {
            findings.push(finding(
                "keys-unusable",
                Severity::Critical,
                config.keys_dir.display().to_string(),
                format!(
                    "the keys in {} cannot be used: {e}",
                    config.keys_dir.display()
                ),
                "fix what the problem says (moat serve refuses to start until then)",
            ));
            store
        }
    };
    findings.extend(file_findings(config));
    findings.extend(database_findings(config, &store, now).await?);
    store.close().await;
    for f in &mut findings {
        f.accepted = config.doctor.accept.get(f.id).cloned();
    }
    findings.sort_by(|a, b| {
        (a.accepted.is_some(), a.severity, a.id, &a.subject).cmp(&(
            b.accepted.is_some(),
            b.severity,
            b.id,
            &b.subject,
        ))
    });
    let open = findings.iter().filter(|f| f.accepted.is_none()).count();
    let database = config.database_shown();
    if json {
        write_json(out, &database, &findings)?;
    } else {
        write_text(out, &database, &findings)?;
    }
    Ok(open == 0)
}

fn write_json(out: &mut impl Write, database: &str, findings: &[Finding]) -> std::io::Result<()> {
    let count = |pred: &dyn Fn(&Finding) -> bool| findings.iter().filter(|f| pred(f)).count();
    let report = serde_json::json!({
        "format": 1,
        "database": database,
        "clean": count(&|f| f.accepted.is_none()) == 0,
        "counts": {
            "critical": count(&|f| f.accepted.is_none() && f.severity == Severity::Critical),
            "warning": count(&|f| f.accepted.is_none() && f.severity == Severity::Warning),
            "accepted": count(&|f| f.accepted.is_some()),
        },
        "findings": findings,
    });
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, TerminalSafeJson);
    report.serialize(&mut ser).map_err(std::io::Error::from)?;
    out.write_all(b"\n")
}

fn write_text(out: &mut impl Write, database: &str, findings: &[Finding]) -> std::io::Result<()> {
    let open: Vec<&Finding> = findings.iter().filter(|f| f.accepted.is_none()).collect();
    let critical = open
        .iter()
        .filter(|f| f.severity == Severity::Critical)
        .count();
    let accepted = findings.len() - open.len();
    let database = SafeText::new(database);
    if open.is_empty() {
        write!(out, "moat doctor: {database}: no findings")?;
    } else {
        write!(
            out,
            "moat doctor: {database}: {} finding{} ({critical} critical, {} warning{})",
            open.len(),
            if open.len() == 1 { "" } else { "s" },
            open.len() - critical,
            if open.len() - critical == 1 { "" } else { "s" },
        )?;
    }
    if accepted > 0 {
        write!(out, ", {accepted} accepted")?;
    }
    writeln!(out)?;
    for f in findings {
        let severity = match (&f.accepted, f.severity) {
            (Some(_), _) => "accepted",
            (None, Severity::Critical) => "CRITICAL",
            (None, Severity::Warning) => "warning",
        };
        writeln!(out)?;
        writeln!(
            out,
            "{severity:<8}  {}  {}",
            f.id,
            SafeText::new(&f.subject)
        )?;
        writeln!(out, "  problem: {}", SafeText::new(&f.problem))?;
        writeln!(out, "  fix:     {}", SafeText::new(&f.fix))?;
        if let Some(why) = &f.accepted {
            writeln!(out, "  accepted: {}", SafeText::new(why))?;
        }
    }
    Ok(())
}

/// Whether argon2id with `memory_kib` and `iterations` meets one of OWASP's minimum
/// configurations (Password Storage Cheat Sheet: 46 MiB × 1, 19 MiB × 2, 12 MiB × 3,
/// 9 MiB × 4, 7 MiB × 5, one lane).
pub fn argon2_meets_owasp(memory_kib: u32, iterations: u32) -> bool {
    [
        (47_104, 1),
        (19_456, 2),
        (12_288, 3),
        (9_216, 4),
        (7_168, 5),
    ]
    .iter()
    .any(|&(m, t)| memory_kib >= m && iterations >= t)
}

/// IPv4 networks wider than this many leading bits are a finding (a /8 is 16 M
/// addresses); IPv6 networks wider than [`WIDEST_V6`].
const WIDEST_V4: u8 = 8;
const WIDEST_V6: u8 = 32;

/// The checks of the configuration alone.
pub fn config_findings(config: &Config, v: &Validated) -> Vec<Finding> {
    use Severity::*;
    let mut out = Vec::new();
    for net in &v.allowlist {
        if net.prefix_len() == 0 {
            out.push(finding(
                "allowlist-everyone",
                Critical,
                net.to_string(),
                format!("allowlist contains {net}: every address may reach the login prompt"),
                "list only the networks your operators connect from (allowlist = \
                 [\"10.20.0.0/16\"]); a bastion's address is enough behind one",
            ));
        } else if matches!(net, IpNet::V4(_)) && net.prefix_len() < WIDEST_V4
            || matches!(net, IpNet::V6(_)) && net.prefix_len() < WIDEST_V6
        {
            out.push(finding(
                "allowlist-wide",
                Warning,
                net.to_string(),
                format!(
                    "allowlist contains {net}, wider than a /{} ({} addresses and more)",
                    if matches!(net, IpNet::V4(_)) {
                        WIDEST_V4
                    } else {
                        WIDEST_V6
                    },
                    if matches!(net, IpNet::V4(_)) {
                        "16 million"
                    } else {
                        "an ISP's"
                    },
                ),
                "narrow it to the networks operators actually connect from",
            ));
        }
    }
    if v.listen.ip().is_unspecified() {
        out.push(finding(
            "listen-all-addresses",
            Warning,
            format!("listen = {}", v.listen),
            format!(
                "moat listens on every address of the host ({}), so only the allowlist \
                 stands between the internet and the SSH port",
                v.listen
            ),
            format!(
                "listen on the address operators use (listen = \"10.0.0.5:{port}\"), or \
                 firewall port {port} too and say so: [doctor.accept] \
                 listen-all-addresses = \"nftables drops {port} except from 10.0.0.0/8\"",
                port = v.listen.port()
            ),
        ));
    }
    if let Some(m) = v.metrics_listen.filter(|m| !m.ip().is_loopback()) {
        out.push(finding(
            "metrics-exposed",
            Warning,
            format!("metrics_listen = {m}"),
            format!(
                "the metrics endpoint listens on {m}, off the loopback: anyone who reaches \
                 it learns login and lockout rates"
            ),
            "metrics_listen = \"127.0.0.1:9222\" and scrape through the host, or firewall \
             it to the scraper and accept: [doctor.accept] metrics-exposed = \"…\"",
        ));
    }
    let a = &config.argon2;
    if !argon2_meets_owasp(a.memory_kib, a.iterations) {
        out.push(finding(
            "argon2-below-owasp",
            Critical,
            format!(
                "[argon2] memory_kib = {}, iterations = {}",
                a.memory_kib, a.iterations
            ),
            "new password hashes are cheaper to guess than OWASP's minimum for argon2id",
            "memory_kib = 19456 and iterations = 2 (the defaults), or more",
        ));
    }
    for proxy in &v.trusted_proxies {
        for allowed in &v.allowlist {
            if proxy.contains(allowed) || allowed.contains(proxy) {
                out.push(finding(
                    "trusted-proxies-overlap-allowlist",
                    Warning,
                    format!("{proxy} / {allowed}"),
                    format!(
                        "trusted_proxies {proxy} overlaps allowlist {allowed}: a client \
                         there may send a PROXY header and claim any source address \
                         (past the allowlist, the per-source limits and lockout)"
                    ),
                    "list only the load balancers' own addresses in trusted_proxies (/32 \
                     or /128 each), none of the clients' networks",
                ));
            }
        }
    }
    if config.auth_rejection_ms == 0 {
        out.push(finding(
            "auth-rejection-disabled",
            Warning,
            "auth_rejection_ms = 0",
            "a refused login is answered at once: guessing is as fast as the network, and \
             timing can tell which step failed",
            "auth_rejection_ms = 1000 (the default)",
        ));
    }
    let l = &config.lockout;
    for (key, off) in [
        ("lockout.user_failure_limit", l.user_failure_limit == 0),
        ("lockout.ip_failure_limit", l.ip_failure_limit == 0),
        ("lockout.cooloff_secs", l.cooloff_secs == 0),
    ] {
        if off {
            out.push(finding(
                "lockout-disabled",
                Warning,
                format!("{key} = 0"),
                match key {
                    "lockout.cooloff_secs" => {
                        "a lockout lasts no time at all: guessing never stops".to_string()
                    }
                    _ => format!("{key} is 0: that failure count is not kept"),
                },
                "set it back (defaults: user_failure_limit = 10, ip_failure_limit = 20, \
                 cooloff_secs = 900)",
            ));
        }
    }
    for a in l.address_limits.iter().filter(|a| a.limit == 0) {
        out.push(finding(
            "lockout-disabled",
            Warning,
            format!("lockout.address_limits {}", a.net),
            format!("failures from {} are not counted per address at all", a.net),
            "give the network a high limit instead of 0 (e.g. 500)",
        ));
    }
    out
}

/// The files that hold secrets: key files under `keys_dir`, the SQLite database, a
/// first-start credentials file left behind.
fn file_findings(config: &Config) -> Vec<Finding> {
    let mut out = Vec::new();
    let keys = &config.keys_dir;
    let mut files: Vec<PathBuf> = [HOST_KEY_FILE, seal::SECRET_KEY_FILE, seal::AUDIT_KEY_FILE]
        .iter()
        .map(|f| keys.join(f))
        .collect();
    if let Some(db) = sqlite_path(&config.database_url) {
        for suffix in ["", "-wal", "-shm"] {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            files.push(PathBuf::from(name));
        }
    }
    for file in &files {
        if let Some(mode) = mode(file).filter(|m| m & 0o077 != 0) {
            out.push(finding(
                "file-readable-by-others",
                Severity::Critical,
                file.display().to_string(),
                format!(
                    "{} is mode {mode:o}: group or others may read (or change) it",
                    file.display()
                ),
                format!("chmod 600 {}", file.display()),
            ));
        }
    }
    if config.database_url.contains('@') {
        if let Some(cfg) = config.origin.file.as_deref() {
            if mode(cfg).is_some_and(|m| m & 0o004 != 0) && url_has_password(config) {
                out.push(finding(
                    "file-readable-by-others",
                    Severity::Critical,
                    cfg.display().to_string(),
                    format!(
                        "{} holds the database password and everyone on the host may read it",
                        cfg.display()
                    ),
                    format!(
                        "chmod 640 {} (owner and moat's group), or pass the URL as \
                         MOAT_DATABASE_URL from a root-only environment file",
                        cfg.display()
                    ),
                ));
            }
        }
    }
    let first = keys.join(FIRST_START_FILE);
    if first.exists() {
        out.push(finding(
            "first-start-credentials-left",
            Severity::Warning,
            first.display().to_string(),
            "the first superuser's password and TOTP secret are still on disk",
            format!(
                "once admin has logged in (or the secret is in a password manager): rm {}",
                first.display()
            ),
        ));
    }
    if keys.join(seal::SECRET_KEY_FILE).exists() {
        out.push(finding(
            "secret-key-backup",
            Severity::Warning,
            keys.join(seal::SECRET_KEY_FILE).display().to_string(),
            "no backup of the secret and audit keys is recorded: a database restored \
             without them locks every user out and cannot prove its audit trail",
            "copy secret.key and audit.key somewhere other than the database's backups, \
             then record where: [doctor.accept] secret-key-backup = \"vault kv/moat, 2026-01-02\"",
        ));
    }
    out
}

fn url_has_password(config: &Config) -> bool {
    url::Url::parse(&config.database_url).is_ok_and(|u| u.password().is_some())
}

/// The SQLite file of `url`, if it names one.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(path))
}

#[cfg(unix)]
fn mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o777)
}

#[cfg(not(unix))]
fn mode(_: &Path) -> Option<u32> {
    None
}

/// Column names that usually hold a credential or a session (Django's
/// `auth_user.password`, `django_session.session_data`, API tokens…).
const SECRET_NAMES: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "session_data",
    "session_key",
    "private_key",
    "credential",
    "otp",
];

/// Whether a column named `name` looks like it holds a secret.
pub fn looks_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_NAMES.iter().any(|s| {
        // `otp` as a word only (not `footprint`), the rest anywhere in the name.
        if *s == "otp" {
            name.split(|c: char| !c.is_ascii_alphanumeric())
                .any(|w| w == "otp")
        } else {
            name.contains(s)
        }
    })
}

async fn database_findings(
    config: &Config,
    store: &Store,
    now: i64,
) -> Result<Vec<Finding>, CommandError> {
    use Severity::*;
    let mut out = Vec::new();
    let since_ms = (now - 30 * 86_400).saturating_mul(1000);
    let users = store.user_facts(since_ms).await?;
    for u in users.iter().filter(|u| u.is_superuser && u.is_active) {
        let name = &u.username;
        if u.one_time_password {
            let expired = u.password_expires_at.is_some_and(|t| t <= now);
            out.push(finding(
                "superuser-one-time-password",
                Critical,
                name.clone(),
                format!(
                    "superuser {name} has a pending one-time password{}: until its first \
                     login it is the whole credential, and whoever holds it becomes {name}",
                    if expired { " (expired)" } else { "" }
                ),
                format!(
                    "have {name} log in and enrol now; if the password may have leaked, \
                     `moat user reset-2fa {name}` (a new one) or `moat user disable {name}`"
                ),
            ));
        } else if u.totp != TotpState::Enrolled {
            out.push(finding(
                "superuser-without-2fa",
                Critical,
                name.clone(),
                format!(
                    "superuser {name} has no confirmed TOTP device ({})",
                    u.totp.as_str()
                ),
                format!("`moat user reset-2fa {name}`: they enrol at their next login"),
            ));
        }
    }
    let days = config.doctor.dormant_days;
    if days > 0 {
        let cutoff = now - i64::try_from(days.saturating_mul(86_400)).unwrap_or(i64::MAX);
        for u in users.iter().filter(|u| u.is_active && dormant(u, cutoff)) {
            let name = &u.username;
            out.push(finding(
                "dormant-user",
                Warning,
                name.clone(),
                match &u.last_login {
                    Some((at, _)) => format!(
                        "{name} has not logged in for more than {days} days (last: {})",
                        format_time(*at)
                    ),
                    None => format!(
                        "{name} has never logged in (created {})",
                        format_time(u.created_at)
                    ),
                },
                format!(
                    "`moat user disable {name}` if they no longer need access \
                     ([doctor] dormant_days sets the age)"
                ),
            ));
        }
    }
    for (name, phc) in store.password_hashes().await? {
        let weak = argon2::PasswordHash::new(&phc)
            .ok()
            .and_then(|h| argon2::Params::try_from(&h).ok())
            .is_some_and(|p| !argon2_meets_owasp(p.m_cost(), p.t_cost()));
        if weak {
            out.push(finding(
                "weak-password-hash",
                Warning,
                name.clone(),
                format!(
                    "{name}'s password hash was made with argon2 parameters below OWASP's \
                     minimum (hashes keep the parameters they were made with)"
                ),
                format!(
                    "{name} sets a new password (`:password` in the console), or \
                     `moat user reset-2fa {name}` issues a one-time password hashed anew"
                ),
            ));
        }
    }
    match store.verify_audit(None).await? {
        Ok(_) => {}
        Err(e) => out.push(finding(
            "audit-chain-broken",
            Critical,
            "moat_audit_log",
            format!("the audit chain does not verify: {e}"),
            "run `moat audit verify` for the details; restore the trail from a backup and \
             find out who could write the database",
        )),
    }
    let schema = store.introspect().await?;
    out.extend(secret_columns(config, store, &schema, &users).await?);
    Ok(out)
}

/// Whether `u` has not logged in since `cutoff` (never: created before it).
fn dormant(u: &UserFacts, cutoff: i64) -> bool {
    match &u.last_login {
        Some((at, _)) => *at < cutoff,
        None => u.created_at < cutoff,
    }
}

/// Columns that look like secrets and that some active non-superuser may read: no
/// `hidden` or `masked` rule covers them for that user.
async fn secret_columns(
    config: &Config,
    store: &Store,
    schema: &Schema,
    users: &[UserFacts],
) -> Result<Vec<Finding>, CommandError> {
    let mut readers: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for u in users.iter().filter(|u| u.is_active && !u.is_superuser) {
        let Some(id) = store.user_id(&u.username).await? else {
            continue;
        };
        let grants = store.grants(id).await?;
        for table in &schema.tables {
            if perm::visibility(&grants, &table.name) == perm::Visibility::Nothing {
                continue;
            }
            let shown = perm::columns::shown(table, config.models.get(&table.name), &grants.groups);
            for c in table.columns.iter().filter(|c| looks_secret(&c.name)) {
                if shown.visible(&c.name) {
                    readers
                        .entry((table.name.clone(), c.name.clone()))
                        .or_default()
                        .push(u.username.clone());
                }
            }
        }
    }
    Ok(readers
        .into_iter()
        .map(|((model, column), who)| {
            let shown: Vec<&str> = who.iter().take(5).map(String::as_str).collect();
            let more = who.len().saturating_sub(shown.len());
            finding(
                "secret-column-readable",
                Severity::Critical,
                format!("{model}.{column}"),
                format!(
                    "{model}.{column} looks like a secret and {} may read it: {}{}",
                    if who.len() == 1 {
                        "a user who is not a superuser"
                    } else {
                        "users who are not superusers"
                    },
                    shown.join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                ),
                format!(
                    "[models.\"{model}\"] hidden = [\"{column}\"] (or masked) in moat.toml; \
                     exempt_groups lets a group see it"
                ),
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(config: &Config) -> Vec<&'static str> {
        let v = config.validate().unwrap();
        config_findings(config, &v).iter().map(|f| f.id).collect()
    }

    #[test]
    fn the_defaults_have_no_configuration_findings() {
        assert!(ids(&Config::default()).is_empty());
    }

    #[test]
    fn each_configuration_finding_and_its_fix() {
        let with = |toml: &str| ids(&Config::from_toml(toml).unwrap());
        assert_eq!(with("allowlist = [\"0.0.0.0/0\"]"), ["allowlist-everyone"]);
        assert_eq!(with("allowlist = [\"::/0\"]"), ["allowlist-everyone"]);
        assert_eq!(with("allowlist = [\"10.0.0.0/7\"]"), ["allowlist-wide"]);
        assert!(
            with("allowlist = [\"10.0.0.0/8\"]").is_empty(),
            "a /8 is the limit"
        );
        assert_eq!(with("allowlist = [\"2001::/16\"]"), ["allowlist-wide"]);
        assert!(with("allowlist = [\"2001:db8::/32\"]").is_empty());
        assert_eq!(with("listen = \"0.0.0.0:2222\""), ["listen-all-addresses"]);
        assert_eq!(with("listen = \"[::]:2222\""), ["listen-all-addresses"]);
        assert_eq!(
            with("metrics_listen = \"0.0.0.0:9222\""),
            ["metrics-exposed"]
        );
        assert!(with("metrics_listen = \"127.0.0.1:9222\"").is_empty());
        assert_eq!(
            with("[argon2]\nmemory_kib = 8192\niterations = 2"),
            ["argon2-below-owasp"]
        );
        assert!(with("[argon2]\nmemory_kib = 12288\niterations = 3").is_empty());
        assert_eq!(
            with("trusted_proxies = [\"127.0.0.0/8\"]"),
            ["trusted-proxies-overlap-allowlist"]
        );
        assert!(with("trusted_proxies = [\"10.0.0.5/32\"]").is_empty());
        assert_eq!(with("auth_rejection_ms = 0"), ["auth-rejection-disabled"]);
        assert_eq!(
            with("[lockout]\nuser_failure_limit = 0\nip_failure_limit = 0"),
            ["lockout-disabled", "lockout-disabled"]
        );
        assert_eq!(with("[lockout]\ncooloff_secs = 0"), ["lockout-disabled"]);
        assert_eq!(
            with("[lockout]\naddress_limits = [{ net = \"10.0.0.0/8\", limit = 0 }]"),
            ["lockout-disabled"]
        );
    }

    #[test]
    fn the_production_sample_is_valid_and_has_no_configuration_finding() {
        let sample = Config::from_toml(include_str!("../../deploy/moat.toml")).unwrap();
        assert!(ids(&sample).is_empty());
        let v = sample.validate().unwrap();
        assert!(
            !v.listen.ip().is_loopback(),
            "listens where operators reach it"
        );
        assert!(v.metrics_listen.is_some_and(|m| m.ip().is_loopback()));
        assert!(v.allowlist.iter().all(|n| match n {
            IpNet::V4(n) => n.addr().is_private(),
            IpNet::V6(_) => false,
        }));
    }

    #[test]
    fn owasp_minimums() {
        assert!(argon2_meets_owasp(19_456, 2));
        assert!(argon2_meets_owasp(47_104, 1));
        assert!(argon2_meets_owasp(7_168, 5));
        assert!(!argon2_meets_owasp(19_456, 1));
        assert!(!argon2_meets_owasp(64, 1));
        assert!(!argon2_meets_owasp(7_000, 9));
    }

    #[test]
    fn secret_looking_names() {
        for name in [
            "password",
            "password_hash",
            "PASSWD",
            "session_data",
            "api_key",
            "stripe_apikey",
            "access_token",
            "client_secret",
            "otp",
            "totp_secret",
        ] {
            assert!(looks_secret(name), "{name}");
        }
        assert!(!looks_secret("title"));
        assert!(!looks_secret("footprint"));
        assert!(!looks_secret("author_id"));
    }

    #[test]
    fn sqlite_paths() {
        assert_eq!(
            sqlite_path("sqlite://moat.db"),
            Some(PathBuf::from("moat.db"))
        );
        assert_eq!(
            sqlite_path("sqlite:///var/lib/moat/moat.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/moat/moat.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://u@h/db"), None);
    }
}
