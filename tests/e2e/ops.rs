//! Operability through the `moat` binary, as an operator or a deploy pipeline runs it:
//! `moat doctor` (each finding, and clean once fixed), `moat report users`, commands that
//! refuse to create a database, error and usage lines, a closed pipe, the first start
//! without a terminal, the metrics endpoint and JSON logs, and the systemd unit.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use moat::store::{AuditEntry, Store};
use serde_json::Value;

use crate::cli::{base32_decode, free_port};
use crate::common::*;

/// `moat` in `dir`, with no `MOAT_*` variable from the test's environment.
fn bare(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_moat"));
    cmd.current_dir(dir).env("MOAT_LOG", "warn");
    for (key, _) in std::env::vars() {
        if key.starts_with("MOAT_") && key != "MOAT_LOG" && key != "MOAT_REVISION" {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// `moat --config moat.toml ARGS` in `dir`.
fn run(dir: &Path, args: &[&str]) -> Output {
    bare(dir)
        .args(["--config", "moat.toml"])
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

/// `moat user add NAME --password-stdin [more]`.
fn add_enrolled(dir: &Path, name: &str, more: &[&str]) {
    let mut child = bare(dir)
        .args([
            "--config",
            "moat.toml",
            "user",
            "add",
            name,
            "--password-stdin",
        ])
        .args(more)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long enough password\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

async fn sql(dir: &Path, statements: &[&str]) {
    let store = Store::connect(&format!("sqlite://{}", dir.join("moat.db").display()))
        .await
        .unwrap();
    for s in statements {
        sqlx::query(s).execute(store.pool()).await.unwrap();
    }
    store.close().await;
}

/// `moat doctor --format json`: exit code and the report.
fn doctor(dir: &Path) -> (i32, Value) {
    let out = run(dir, &["doctor", "--format", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {} / {}", text(&out.stdout), text(&out.stderr)));
    (out.status.code().unwrap_or(-1), report)
}

fn assert_clean(dir: &Path, why: &str) {
    let (code, report) = doctor(dir);
    assert_eq!(code, 0, "{why}: {report:#}");
    assert_eq!(report["clean"], true, "{why}");
}

fn assert_finds(dir: &Path, id: &str, subject: &str) {
    let (code, report) = doctor(dir);
    assert_eq!(code, 1, "{id}: {report:#}");
    let found = report["findings"].as_array().unwrap().iter().find(|f| {
        f["id"] == id && f["accepted"].is_null() && f["subject"].as_str().unwrap().contains(subject)
    });
    let f = found.unwrap_or_else(|| panic!("no {id} ({subject}) in {report:#}"));
    for field in ["severity", "problem", "fix"] {
        assert!(
            !f[field].as_str().unwrap_or_default().is_empty(),
            "{id}: {field}"
        );
    }
}

/// A config in `dir`: `listen` on `ip`, then `top` keys, `tail` sections, and the key
/// backup recorded plus `accept` lines.
fn config(dir: &Path, ip: &str, top: &str, tail: &str, accept: &str) {
    std::fs::write(
        dir.join("moat.toml"),
        format!(
            "listen = \"{ip}:2222\"\n{top}\n{tail}\n[doctor.accept]\n\
             secret-key-backup = \"throwaway test keys\"\n{accept}\n"
        ),
    )
    .unwrap();
}

#[tokio::test]
async fn doctor_finds_each_problem_and_is_clean_once_it_is_fixed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let clean_config = || config(d, "127.0.0.1", "", "", "");
    clean_config();
    ok(d, &["migrate"]);
    add_enrolled(d, "admin", &["--superuser"]);
    assert_clean(d, "a fresh install with the defaults");
    let out = run(d, &["doctor"]);
    assert!(out.status.success());
    assert!(
        text(&out.stdout).contains("no findings"),
        "{}",
        text(&out.stdout)
    );

    // The configuration, one problem at a time.
    for (top, tail, id, subject) in [
        (
            "allowlist = [\"0.0.0.0/0\"]",
            "",
            "allowlist-everyone",
            "0.0.0.0/0",
        ),
        ("allowlist = [\"::/0\"]", "", "allowlist-everyone", "::/0"),
        (
            "allowlist = [\"10.0.0.0/6\"]",
            "",
            "allowlist-wide",
            "10.0.0.0/6",
        ),
        (
            "metrics_listen = \"0.0.0.0:9222\"",
            "",
            "metrics-exposed",
            "0.0.0.0:9222",
        ),
        (
            "trusted_proxies = [\"127.0.0.0/8\"]",
            "",
            "trusted-proxies-overlap-allowlist",
            "127.0.0.0/8",
        ),
        ("auth_rejection_ms = 0", "", "auth-rejection-disabled", ""),
        (
            "",
            "[lockout]\nip_failure_limit = 0",
            "lockout-disabled",
            "ip_failure_limit",
        ),
        (
            "",
            "[argon2]\nmemory_kib = 1024\niterations = 1",
            "argon2-below-owasp",
            "memory_kib = 1024",
        ),
    ] {
        config(d, "127.0.0.1", top, tail, "");
        assert_finds(d, id, subject);
        clean_config();
        assert_clean(d, id);
    }

    // Listening everywhere: a finding, until the firewall is named.
    config(d, "0.0.0.0", "", "", "");
    assert_finds(d, "listen-all-addresses", "0.0.0.0:2222");
    let out = run(d, &["doctor"]);
    assert_eq!(out.status.code(), Some(1));
    let shown = text(&out.stdout);
    assert!(
        shown.contains("listen-all-addresses") && shown.contains("fix:"),
        "{shown}"
    );
    config(
        d,
        "0.0.0.0",
        "",
        "",
        "listen-all-addresses = \"nftables drops 2222 except from 10.0.0.0/8\"",
    );
    let (code, report) = doctor(d);
    assert_eq!(code, 0, "{report:#}");
    let accepted = &report["findings"][0];
    assert_eq!(accepted["id"], "listen-all-addresses");
    assert_eq!(
        accepted["accepted"],
        "nftables drops 2222 except from 10.0.0.0/8"
    );
    assert_eq!(report["counts"]["accepted"], 2, "and the key backup");
    clean_config();

    // The keys: no backup recorded, a key file others may read, a first-start file left.
    config(d, "127.0.0.1", "", "", "");
    std::fs::write(
        d.join("moat.toml"),
        std::fs::read_to_string(d.join("moat.toml"))
            .unwrap()
            .replace("secret-key-backup", "other-id"),
    )
    .unwrap();
    assert_finds(d, "secret-key-backup", "secret.key");
    clean_config();
    let key = d.join("keys/secret.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_finds(d, "file-readable-by-others", "secret.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_clean(d, "key file private again");
    let first = d.join("keys").join(moat::commands::FIRST_START_FILE);
    std::fs::write(&first, "password: x").unwrap();
    assert_finds(d, "first-start-credentials-left", "first-start");
    std::fs::remove_file(&first).unwrap();
    assert_clean(d, "first-start file removed");

    // Users.
    ok(d, &["user", "add", "root", "--superuser"]);
    assert_finds(d, "superuser-one-time-password", "root");
    ok(d, &["user", "disable", "root"]);
    assert_clean(d, "the one-time superuser disabled");

    add_enrolled(d, "ops", &["--superuser"]);
    sql(
        d,
        &["DELETE FROM moat_totp_devices WHERE user_id = \
           (SELECT id FROM moat_users WHERE username = 'ops')"],
    )
    .await;
    assert_finds(d, "superuser-without-2fa", "ops");
    ok(d, &["user", "disable", "ops"]);
    assert_clean(d, "the superuser without 2FA disabled");

    add_enrolled(d, "old", &[]);
    sql(
        d,
        &["UPDATE moat_users SET created_at = 0 WHERE username = 'old'"],
    )
    .await;
    assert_finds(d, "dormant-user", "old");
    ok(d, &["user", "disable", "old"]);
    assert_clean(d, "the dormant user disabled");

    config(
        d,
        "127.0.0.1",
        "",
        "[argon2]\nmemory_kib = 1024\niterations = 1",
        "",
    );
    add_enrolled(d, "weak", &[]);
    clean_config();
    assert_finds(d, "weak-password-hash", "weak");
    ok(d, &["user", "disable", "weak"]);
    assert_clean(d, "the weakly hashed user disabled");

    // A Django-style table whose password column a non-superuser may read.
    sql(
        d,
        &[
            "CREATE TABLE auth_user (id INTEGER PRIMARY KEY, username TEXT, password TEXT)",
            "INSERT INTO auth_user VALUES (1, 'alice', 'pbkdf2_sha256$x')",
        ],
    )
    .await;
    add_enrolled(d, "jane", &[]);
    ok(d, &["user", "grant", "jane", "view_auth_user"]);
    assert_finds(d, "secret-column-readable", "auth_user.password");
    config(
        d,
        "127.0.0.1",
        "",
        "[models.auth_user]\nhidden = [\"password\"]",
        "",
    );
    assert_clean(d, "the password column hidden");
    config(
        d,
        "127.0.0.1",
        "",
        "[models.auth_user]\nmasked = [\"password\"]",
        "",
    );
    assert_clean(d, "the password column masked");

    // An audit row changed behind moat's back.
    let store = Store::connect(&format!("sqlite://{}", d.join("moat.db").display()))
        .await
        .unwrap();
    let (id, reason): (i64, Option<String>) =
        sqlx::query_as("SELECT id, reason FROM moat_audit_log ORDER BY id LIMIT 1")
            .fetch_one(store.pool())
            .await
            .unwrap();
    sqlx::query("UPDATE moat_audit_log SET reason = 'nothing happened' WHERE id = ?")
        .bind(id)
        .execute(store.pool())
        .await
        .unwrap();
    assert_finds(d, "audit-chain-broken", "moat_audit_log");
    sqlx::query("UPDATE moat_audit_log SET reason = ? WHERE id = ?")
        .bind(reason)
        .bind(id)
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;
    assert_clean(d, "the audit row restored");
}

#[tokio::test]
async fn report_users_filters_and_formats() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("moat.toml"),
        "[argon2]\nmemory_kib = 64\niterations = 1\nparallelism = 1\n",
    )
    .unwrap();
    ok(d, &["migrate"]);
    add_enrolled(d, "admin", &["--superuser"]);
    ok(d, &["user", "backup-codes", "admin"]);
    ok(d, &["user", "add", "jane"]);
    ok(d, &["group", "add", "ops"]);
    add_enrolled(d, "bob", &["--group", "ops"]);
    ok(d, &["user", "grant", "bob", "moat.view_audit"]);
    sql(
        d,
        &["UPDATE moat_users SET created_at = 0 WHERE username = 'bob'"],
    )
    .await;
    let store = Store::connect(&format!("sqlite://{}", d.join("moat.db").display()))
        .await
        .unwrap();
    let failure = |days_ago: i64| AuditEntry {
        at_ms: (commands_now() - days_ago * 86_400) * 1000,
        actor: Some("jane".into()),
        source_ip: Some("10.0.0.9".into()),
        action: "login".into(),
        outcome: "failure".into(),
        reason: Some("bad password".into()),
        ..AuditEntry::default()
    };
    store
        .audit(&[failure(1), failure(2), failure(40)])
        .await
        .unwrap();
    store
        .record_login_source("admin", "10.0.0.7", commands_now() - 60)
        .await
        .unwrap();
    store.close().await;

    let json = |args: &[&str]| -> Vec<Value> {
        let mut all = vec!["report", "users", "--format", "json"];
        all.extend_from_slice(args);
        let v: Value = serde_json::from_str(&ok(d, &all)).unwrap();
        v["users"].as_array().unwrap().clone()
    };
    let names = |users: &[Value]| -> Vec<String> {
        users
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_string())
            .collect()
    };
    let all = json(&[]);
    assert_eq!(names(&all), ["admin", "bob", "jane"]);
    let [admin, bob, jane] = all.as_slice() else {
        unreachable!()
    };
    assert_eq!(admin["superuser"], true);
    assert_eq!(admin["totp"], "enrolled");
    assert_eq!(admin["backup_codes_left"], 10);
    assert_eq!(admin["last_login_from"], "10.0.0.7");
    assert!(admin["last_login_at"].as_str().unwrap().ends_with("UTC"));
    assert_eq!(bob["groups"], serde_json::json!(["ops"]));
    assert_eq!(bob["model_perms"], 1);
    assert_eq!(bob["last_login_at"], Value::Null);
    assert_eq!(jane["totp"], "none");
    assert_eq!(jane["one_time_password"], "pending");
    assert_eq!(
        jane["failed_logins_30d"], 2,
        "the one 40 days ago is not counted"
    );
    assert_eq!(jane["active"], true);

    assert_eq!(names(&json(&["--superusers"])), ["admin"]);
    assert_eq!(names(&json(&["--no-2fa"])), ["jane"]);
    assert_eq!(names(&json(&["--dormant", "90d"])), ["bob"]);
    assert_eq!(
        names(&json(&["--dormant", "13w", "--no-2fa"])),
        Vec::<String>::new()
    );

    let csv = ok(d, &["report", "users", "--format", "csv"]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(
        lines[0].starts_with("username,superuser,active,groups"),
        "{csv}"
    );
    assert!(lines[3].starts_with("\"jane\",\"no\",\"yes\""), "{csv}");
    assert!(lines[3].contains("\"pending\""), "{csv}");

    let table = ok(d, &["report", "users", "--dormant", "90d"]);
    let rows: Vec<&str> = table.lines().collect();
    assert!(
        rows[0].starts_with("user") && rows[0].contains("last login"),
        "{table}"
    );
    assert_eq!(rows.len(), 2, "{table}");
    assert!(
        rows[1].starts_with("bob") && rows[1].contains("never"),
        "{table}"
    );

    let out = run(d, &["report", "users", "--dormant", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr).trim().lines().count(),
        1,
        "{}",
        text(&out.stderr)
    );
}

fn commands_now() -> i64 {
    moat::commands::now_unix()
}

#[test]
fn commands_refuse_a_database_that_does_not_exist_and_name_the_one_they_use() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for args in [
        &["lockout", "list"][..],
        &["sessions"],
        &["audit", "verify"],
        &["doctor"],
        &["report", "users"],
        &["user", "add", "x"],
        &["group", "list"],
    ] {
        let out = bare(d).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = text(&out.stderr);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(
            lines,
            [
                "moat: database sqlite://moat.db (no config file here: the built-in default; -q hides this line)",
                "moat: no moat database at sqlite://moat.db (run from the directory with moat.toml, \
                 or pass --config; `moat migrate` creates one)",
            ],
            "{args:?}"
        );
        assert!(
            out.stdout.is_empty(),
            "{args:?}: nothing reported as if it were the data"
        );
        assert!(!d.join("moat.db").exists(), "{args:?} created a database");
    }
    let out = bare(d).args(["-q", "lockout", "list"]).output().unwrap();
    assert_eq!(
        text(&out.stderr).lines().count(),
        1,
        "{}",
        text(&out.stderr)
    );

    // Found by looking in the directory: named with where it came from.
    std::fs::write(
        d.join("moat.toml"),
        "database_url = \"sqlite://other.db\"\n",
    )
    .unwrap();
    let out = bare(d).args(["lockout", "list"]).output().unwrap();
    let err = text(&out.stderr);
    assert!(
        err.starts_with("moat: database sqlite://other.db (config moat.toml;"),
        "{err}"
    );
    assert!(
        err.contains("no moat database at sqlite://other.db"),
        "{err}"
    );
    let out = bare(d).arg("migrate").output().unwrap();
    assert!(out.status.success());
    let out = bare(d).args(["lockout", "list"]).output().unwrap();
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("no failed logins recorded"));
    // Given explicitly: not named again.
    let out = bare(d)
        .args(["--config", "moat.toml", "lockout", "list"])
        .output()
        .unwrap();
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));

    // A password in the URL is never shown (the note comes before connecting, which
    // would keep retrying a server that is not there).
    std::fs::write(
        d.join("moat.toml"),
        "database_url = \"postgres://moat:hunter2@127.0.0.1:1/app\"\n",
    )
    .unwrap();
    let mut child = KillOnDrop(
        bare(d)
            .args(["lockout", "list"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut first = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(
        first.contains("postgres://moat:****@127.0.0.1:1/app"),
        "{first}"
    );
    assert!(!first.contains("hunter2"), "{first}");
}

#[test]
fn errors_once_usage_in_one_line_a_closed_pipe_quietly_and_the_version() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The cause once (it used to be `…: No such file or directory (os error 2): No such…`).
    let out = bare(d)
        .args(["--config", "missing.toml", "lockout", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    assert!(err.contains("missing.toml"), "{err}");

    // Config errors: file, line and column.
    std::fs::write(
        d.join("moat.toml"),
        "listen = \"127.0.0.1:2222\"\n\n[limits]\nipv6_prefix = 200\n",
    )
    .unwrap();
    let out = run(d, &["lockout", "list"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("config file moat.toml, line 4, column 1") && err.contains("ipv6_prefix"),
        "{err}"
    );
    std::fs::write(d.join("moat.toml"), "log_format = \"yaml\"\n").unwrap();
    let err = text(&run(d, &["lockout", "list"]).stderr);
    assert!(
        err.contains("line 1, column 14") && err.contains("yaml"),
        "{err}"
    );

    // Usage errors: one line, exit 2.
    for args in [
        &["frobnicate"][..],
        &["user", "add"],
        &["doctor", "--format", "xml"],
        &["lockout", "list", "--bogus"],
    ] {
        let out = bare(d).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("moat: "), "{err}");
    }
    let out = bare(d).arg("--help").output().unwrap();
    assert!(out.status.success() && text(&out.stdout).contains("doctor"));
    let out = bare(d).arg("--version").output().unwrap();
    assert!(out.status.success());
    let version = text(&out.stdout);
    let revision = version
        .trim()
        .strip_prefix(concat!("moat ", env!("CARGO_PKG_VERSION"), " ("))
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{version}"));
    let hex = revision.strip_prefix("git ");
    assert!(
        revision == "unknown revision"
            || hex.is_some_and(|h| h.len() == 12 && h.bytes().all(|b| b.is_ascii_hexdigit())),
        "{version}"
    );

    // A closed pipe: `moat audit export | head -1` ends quietly.
    std::fs::write(d.join("moat.toml"), "").unwrap();
    ok(d, &["migrate"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = Store::connect(&format!("sqlite://{}", d.join("moat.db").display()))
            .await
            .unwrap();
        let entries: Vec<AuditEntry> = (0..3000)
            .map(|i| AuditEntry {
                at_ms: 1_700_000_000_000 + i,
                actor: Some("alice".into()),
                action: "change".into(),
                model: Some("posts".into()),
                pk: Some(i.to_string()),
                after: Some(serde_json::json!({ "title": "x".repeat(100) })),
                outcome: "success".into(),
                ..AuditEntry::default()
            })
            .collect();
        store.audit(&entries).await.unwrap();
        store.close().await;
    });
    let mut child = bare(d)
        .args([
            "--config",
            "moat.toml",
            "audit",
            "export",
            "--format",
            "jsonl",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.starts_with('{'), "{first}");
    drop(stdout);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}: {err}");
    assert!(!err.to_lowercase().contains("broken pipe"), "{err}");
    assert!(!err.lines().any(|l| l.starts_with("moat: ")), "{err}");
}

#[tokio::test]
async fn unknown_codenames_and_tables_are_named_for_what_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("moat.toml"), "").unwrap();
    ok(d, &["migrate"]);
    sql(
        d,
        &[
            "CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT)",
            "INSERT INTO posts VALUES (1, 'hello')",
        ],
    )
    .await;
    ok(d, &["user", "add", "jane"]);
    let out = run(d, &["user", "grant", "jane", "bogus_perm"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("unknown permission `bogus_perm`"), "{err}");
    assert!(
        err.contains("`bogus` is not view, add, change, delete"),
        "{err}"
    );
    assert!(!err.contains("no model"), "{err}");

    let out = run(
        d,
        &[
            "perm",
            "assign",
            "--user",
            "jane",
            "view_posts",
            "nosuch",
            "1",
        ],
    );
    let err = text(&out.stderr);
    assert!(err.contains("no model `nosuch`"), "{err}");
    assert!(
        !err.contains("view_posts"),
        "the codename is not blamed: {err}"
    );
    let out = ok(
        d,
        &[
            "perm",
            "assign",
            "--user",
            "jane",
            "view_posts",
            "posts",
            "1",
        ],
    );
    assert!(out.contains("assigned"), "{out}");
}

/// Lines of a child's output, gathered by a thread.
fn lines_of(r: impl Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// `GET path` from the metrics endpoint: the whole answer.
async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: moat\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

/// The value of the series `name` (with its labels, as written) in a scrape.
fn sample(scrape: &str, name: &str) -> f64 {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{scrape}"))
}

#[tokio::test]
async fn first_start_without_a_terminal_then_metrics_and_json_logs_of_a_session() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (port, metrics_port) = (free_port(), free_port());
    std::fs::write(
        d.join("moat.toml"),
        format!(
            "listen = \"127.0.0.1:{port}\"\nauth_rejection_ms = 20\n\
             metrics_listen = \"127.0.0.1:{metrics_port}\"\nlog_format = \"json\"\n\
             [argon2]\nmemory_kib = 64\niterations = 1\nparallelism = 1\n"
        ),
    )
    .unwrap();
    let mut child = KillOnDrop(
        bare(d)
            .env("MOAT_LOG", "info")
            .args(["--config", "moat.toml", "serve", "--demo"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stdout = lines_of(child.stdout.take().unwrap());
    let stderr = lines_of(child.stderr.take().unwrap());
    let mut banner = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !banner.iter().any(|l: &String| l.contains("listening on")) {
        assert!(Instant::now() < deadline, "serve did not start: {banner:?}");
        if let Ok(line) = stdout.recv_timeout(Duration::from_millis(100)) {
            banner.push(line);
        }
    }
    // The secret went to a private file; the output only names it.
    let file = d.join("keys").join(moat::commands::FIRST_START_FILE);
    let printed = banner.join("\n");
    let named = Path::new("keys").join(moat::commands::FIRST_START_FILE);
    assert!(printed.contains(&named.display().to_string()), "{printed}");
    assert!(
        !printed.contains("password:") && !printed.contains("otpauth"),
        "{printed}"
    );
    assert!(
        printed.contains(&format!(
            "metrics on http://127.0.0.1:{metrics_port}/metrics"
        )),
        "{printed}"
    );
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let credentials = std::fs::read_to_string(&file).unwrap();
    let field = |label: &str| {
        credentials
            .lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("no {label} in {credentials}"))
    };
    let password = field("password:");
    let secret = base32_decode(&field("secret:"));

    // A login and a console, a refused login, and a connection from outside the allowlist.
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let conn = login_at_with(addr, "admin", &password, &code_now(&secret)).await;
    let mut console = Console::open(&conn, 100, 30, "xterm").await;
    console.wait_for("post_tags").await;
    console.send(b"\r").await;
    console.wait_for("row 1 of").await;
    let mut wrong = connect(addr).await;
    assert!(
        !ki_login(&mut wrong, "admin", &["not the password", "000000"])
            .await
            .success
    );
    let outsider = tokio::net::TcpSocket::new_v4().unwrap();
    outsider.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    if let Ok(mut s) = outsider.connect(addr).await {
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 16];
        let got = tokio::time::timeout(WAIT, s.read(&mut buf)).await;
        assert!(
            matches!(got, Ok(Ok(0)) | Ok(Err(_))),
            "no banner for 127.0.0.2"
        );
    }

    let metrics: std::net::SocketAddr = format!("127.0.0.1:{metrics_port}").parse().unwrap();
    let scrape = http_get(metrics, "/metrics").await;
    assert!(scrape.starts_with("HTTP/1.1 200 OK"), "{scrape}");
    for (series, at_least) in [
        ("moat_logins_total{outcome=\"success\"}", 1.0),
        ("moat_logins_total{outcome=\"failure\"}", 1.0),
        ("moat_gate_refusals_total{reason=\"not_allowed\"}", 1.0),
        ("moat_sessions", 1.0),
        ("moat_argon2_wait_seconds_count", 2.0),
        ("moat_keystroke_frame_seconds_count", 1.0),
        ("moat_store_query_seconds_count{kind=\"login\"}", 2.0),
        ("moat_store_query_seconds_count{kind=\"page\"}", 1.0),
        ("moat_audit_appends_total", 2.0),
    ] {
        let v = sample(&scrape, series);
        assert!(
            v >= at_least,
            "{series} = {v}, expected at least {at_least}"
        );
    }
    assert_eq!(
        sample(&scrape, "moat_logins_total{outcome=\"locked\"}"),
        0.0
    );
    let other = http_get(metrics, "/").await;
    assert!(other.starts_with("HTTP/1.1 404"), "{other}");
    assert!(!other.contains("moat_"), "{other}");

    console.send(b"q").await; // back to the index
    console.wait_for("Columns").await;
    console.send(b"q").await;
    console.wait_closed().await;
    disconnect(conn).await;
    let after = http_get(metrics, "/metrics").await;
    let deadline = Instant::now() + WAIT;
    let mut live = sample(&after, "moat_sessions");
    while live != 0.0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        live = sample(&http_get(metrics, "/metrics").await, "moat_sessions");
    }
    assert_eq!(live, 0.0, "the session ended");

    // JSON logs: every line an object; the session's lines carry its id.
    let mut logs: Vec<Value> = Vec::new();
    let deadline = Instant::now() + WAIT;
    loop {
        while let Ok(line) = stderr.recv_timeout(Duration::from_millis(50)) {
            assert!(!line.contains(&password), "a secret in the log: {line}");
            logs.push(serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}")));
        }
        if logs.iter().any(|l| l["message"] == "session closed") || Instant::now() > deadline {
            break;
        }
    }
    let login = logs
        .iter()
        .find(|l| l["message"] == "login")
        .unwrap_or_else(|| panic!("no login line in {logs:#?}"));
    let id = login["session_id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 16, "{login}");
    let closed = logs
        .iter()
        .find(|l| l["message"] == "session closed")
        .unwrap_or_else(|| panic!("no session closed line in {logs:#?}"));
    assert_eq!(closed["span"]["session_id"], id.as_str(), "{closed}");
    assert!(logs.iter().any(|l| l["message"]
        .as_str()
        .unwrap_or_default()
        .contains("superuser `admin` created")
        && l["file"]
            .as_str()
            .is_some_and(|f| f.ends_with(moat::commands::FIRST_START_FILE))));
}

/// The unit in `deploy/` as systemd reads it (with this build's binary in ExecStart, which
/// `verify` requires to exist). Skipped, with a notice, where systemd-analyze is missing.
#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let probe = Command::new("systemd-analyze").arg("--version").output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("NOTICE: systemd-analyze not found: deploy/moat.service not verified");
        return;
    }
    let unit = include_str!("../../deploy/moat.service");
    assert!(unit.contains("ExecStart=/usr/local/bin/moat --config /etc/moat/moat.toml serve"));
    for setting in [
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "CapabilityBoundingSet=\n",
        "SystemCallFilter=@system-service",
        "MemoryDenyWriteExecute=yes",
        "UMask=0077",
    ] {
        assert!(unit.contains(setting), "{setting}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("moat.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/moat", env!("CARGO_BIN_EXE_moat")),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", path.to_str().unwrap()])
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        !err.lines().any(|l| l.contains("moat.service")),
        "systemd-analyze has something to say about the unit:\n{err}"
    );
}
