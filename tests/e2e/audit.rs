//! The audit trail from the command line: verify (intact, and each kind of tampering),
//! head, export; and crash safety: kill -9 the server while 20 sessions edit, restart,
//! and every committed change has its audit row and the chain verifies.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use moat::store::{AuditEntry, Store};

fn moat(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_moat"));
    cmd.current_dir(dir)
        .env("MOAT_LOG", "warn")
        .args(["--config", "moat.toml"]);
    cmd
}

/// `n` audit rows in a database of the current kind (a SQLite file in `dir`, or a fresh
/// PostgreSQL database), with `dir/moat.toml` pointing at it.
async fn trail(dir: &std::path::Path, n: usize) -> Store {
    let url = match current_db() {
        Db::Sqlite => format!("sqlite://{}", dir.join("moat.db").display()),
        Db::Postgres => moat::store::testing::fresh_postgres_url().await.unwrap(),
        Db::Mysql => crate::common::fresh_mysql_url().await,
    };
    std::fs::write(
        dir.join("moat.toml"),
        format!("listen = \"127.0.0.1:1\"\ndatabase_url = \"{url}\"\n"),
    )
    .unwrap();
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let entries: Vec<AuditEntry> = (0..n)
        .map(|i| AuditEntry {
            at_ms: 1_700_000_000_000 + i as i64 * 60_000,
            actor: Some(if i % 2 == 0 { "alice" } else { "bob" }.into()),
            action: "change".into(),
            model: Some(if i % 3 == 0 { "posts" } else { "tags" }.into()),
            pk: Some(i.to_string()),
            after: Some(serde_json::json!({ "n": i })),
            outcome: "success".into(),
            ..AuditEntry::default()
        })
        .collect();
    store.audit(&entries).await.unwrap();
    store
}

on_every_database! {
    async fn verify_head_and_export_from_the_command_line() {
        let dir = tempfile::tempdir().unwrap();
        let store = trail(dir.path(), 12).await;
        let out = moat(dir.path()).args(["audit", "verify"]).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.starts_with("unkeyed chain intact, MACs not checked")
                && stdout.contains(": 12 entries, head 12:"),
            "{stdout}"
        );
        let head = String::from_utf8(
            moat(dir.path())
                .args(["audit", "head"])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        let head = head.trim().to_string();
        assert!(head.starts_with("12:"), "{head}");

        // Export: all, then filtered; one JSON object a line, matching the rows.
        let out = moat(dir.path())
            .args(["audit", "export", "--format", "jsonl"])
            .output()
            .unwrap();
        let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 12);
        assert_eq!(lines[3]["id"], 4);
        assert_eq!(lines[3]["actor"], "bob");
        assert_eq!(lines[3]["after"]["n"], 3);
        let out = moat(dir.path())
            .args([
                "audit",
                "export",
                "--user",
                "alice",
                "--model",
                "posts",
                "--since",
                "2023-11-14 22:19:00",
            ])
            .output()
            .unwrap();
        let ids: Vec<i64> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        assert_eq!(ids, vec![7]);

        // Tampering is named; a cut tail is caught with the recorded head.
        sqlx::query("DELETE FROM moat_audit_log WHERE id > 10")
            .execute(store.pool())
            .await
            .unwrap();
        assert!(moat(dir.path())
            .args(["audit", "verify"])
            .output()
            .unwrap()
            .status
            .success());
        let out = moat(dir.path())
            .args(["audit", "verify", "--head", &head])
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("entry 12, the recorded head"));
        sqlx::query("UPDATE moat_audit_log SET reason = 'nothing to see' WHERE id = 6")
            .execute(store.pool())
            .await
            .unwrap();
        let out = moat(dir.path()).args(["audit", "verify"]).output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("entry 6 was altered") && err.trim().lines().count() == 1,
            "{err}"
        );
    }
}

/// `moat audit verify` in `dir`: success, stdout, stderr.
fn verify(dir: &std::path::Path) -> (bool, String, String) {
    let out = moat(dir).args(["audit", "verify"]).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

on_every_database! {
    async fn verify_fails_on_json_that_is_not_what_moat_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let store = trail(dir.path(), 6).await;
        let set = |sql: &'static str| {
            let pool = store.pool().clone();
            async move { sqlx::raw_sql(sql).execute(&pool).await.unwrap(); }
        };
        assert!(verify(dir.path()).0);

        // Text in a column that was NULL, which does not parse.
        set("UPDATE moat_audit_log SET before_json = 'not json at all <script>' WHERE id = 3").await;
        let (ok, _, err) = verify(dir.path());
        assert!(!ok);
        assert!(
            err.contains("entry 3 was altered: its before_json is not JSON moat wrote")
                && err.trim().lines().count() == 1,
            "{err}"
        );
        set("UPDATE moat_audit_log SET before_json = NULL WHERE id = 3").await;
        assert!(verify(dir.path()).0);

        // A key twice: the value moat wrote last, a forged one first.
        set(r#"UPDATE moat_audit_log SET after_json = '{"n":99,"n":4}' WHERE id = 5"#).await;
        let (ok, _, err) = verify(dir.path());
        assert!(!ok);
        assert!(err.contains("entry 5 was altered") && err.contains("key twice"), "{err}");
        set(r#"UPDATE moat_audit_log SET after_json = '{"n": 4}' WHERE id = 5"#).await;
        let (ok, _, err) = verify(dir.path());
        assert!(!ok && err.contains("entry 5 was altered (its hash"), "{err}");
    }
}

/// What a database-only attacker does after editing entries: recompute every chain hash
/// from entry `from` on (the hash function is public; the key is not).
async fn rehash(store: &Store, from: i64) {
    use sqlx::Row;
    let rows = sqlx::query(
        "SELECT id, at_ms, actor, source_ip, session_id, action, model, pk, before_json, \
         after_json, outcome, reason, hash FROM moat_audit_log ORDER BY id",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    let json = |t: Option<String>| t.map(|t| serde_json::from_str(&t).unwrap());
    // MySQL's LONGTEXT columns arrive as bytes.
    let text = |r: &sqlx::any::AnyRow, c: &str| moat::store::sql::text(r, c).unwrap();
    let mut prev = moat::store::audit::GENESIS.to_string();
    for r in &rows {
        let id: i64 = r.get("id");
        if id < from {
            prev = r.get("hash");
            continue;
        }
        let e = AuditEntry {
            at_ms: r.get("at_ms"),
            actor: r.get("actor"),
            source_ip: r.get("source_ip"),
            session_id: r.get("session_id"),
            action: r.get("action"),
            model: r.get("model"),
            pk: text(r, "pk"),
            before: json(text(r, "before_json")),
            after: json(text(r, "after_json")),
            outcome: r.get("outcome"),
            reason: text(r, "reason"),
        };
        let hash = moat::store::audit::row_hash(id, &e, &prev);
        sqlx::query(
            &store
                .dialect()
                .sql("UPDATE moat_audit_log SET prev_hash = ?, hash = ? WHERE id = ?"),
        )
        .bind(&prev)
        .bind(&hash)
        .bind(id)
        .execute(store.pool())
        .await
        .unwrap();
        prev = hash;
    }
}

on_every_database! {
    async fn the_keyed_chain_from_the_command_line() {
        let dir = tempfile::tempdir().unwrap();
        // Four entries from before the audit key existed.
        let store = trail(dir.path(), 4).await;
        // On SQLite the pool is closed while the CLI processes below write the file: a
        // file opened and closed in this process meanwhile would drop the pool's POSIX
        // locks on it, and the database then reads as malformed (seen under load).
        let store = if current_db() == Db::Sqlite {
            store.close().await;
            None
        } else {
            Some(store)
        };
        let mut config = std::fs::read_to_string(dir.path().join("moat.toml")).unwrap();
        config.push_str("[argon2]\nmemory_kib = 64\niterations = 1\nparallelism = 1\n");
        std::fs::write(dir.path().join("moat.toml"), config).unwrap();
        let (ok, stdout, _) = verify(dir.path());
        assert!(ok && stdout.starts_with("unkeyed chain intact, MACs not checked"), "{stdout}");

        // The first command that sets moat up makes the key (0600, next to secret.key),
        // and every entry from then on carries a MAC.
        let mut child = moat(dir.path())
            .args(["user", "add", "ops", "--password-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(b"a long enough password 1\n").unwrap();
        let added = child.wait_with_output().unwrap();
        assert!(added.status.success(), "{added:?}");
        let key_path = dir.path().join("keys").join("audit.key");
        let key_text = std::fs::read_to_string(&key_path).unwrap();
        let key_hex = key_text.lines().next().unwrap().to_string();
        assert_eq!(key_text.lines().nth(1), Some("from 5"), "{key_text}");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        for output in [&added.stdout, &added.stderr] {
            assert!(!String::from_utf8_lossy(output).contains(&key_hex), "the key was printed");
        }
        let out = moat(dir.path()).args(["group", "add", "support"]).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        let (ok, stdout, err) = verify(dir.path());
        assert!(ok, "{err}");
        assert!(
            stdout.starts_with("audit trail intact: ")
                && stdout.contains("MACs verified from entry 5 on; the 4 entries before it predate the audit key"),
            "{stdout}"
        );
        let head = stdout
            .split("head ")
            .nth(1)
            .and_then(|h| h.split(';').next())
            .unwrap()
            .to_string();
        let store = if let Some(store) = store {
            store
        } else {
            let db = std::fs::read(dir.path().join("moat.db")).unwrap();
            let wal = std::fs::read(dir.path().join("moat.db-wal")).unwrap_or_default();
            for bytes in [db, wal] {
                assert!(
                    !bytes.windows(key_hex.len()).any(|w| w == key_hex.as_bytes()),
                    "the key is in the database"
                );
            }
            Store::connect(&format!("sqlite://{}", dir.path().join("moat.db").display()))
                .await
                .unwrap()
        };

        // What MACs cannot see: the tail cut. A head kept elsewhere does.
        let last: i64 = head.split(':').next().unwrap().parse().unwrap();
        sqlx::query(&format!("DELETE FROM moat_audit_log WHERE id = {last}"))
            .execute(store.pool())
            .await
            .unwrap();
        let (ok, _, err) = verify(dir.path());
        assert!(ok, "{err}");
        let out = moat(dir.path()).args(["audit", "verify", "--head", &head]).output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("entry {last}, the recorded head")), "{err}");

        // A database-only attacker edits an entry and recomputes the chain: the plain
        // chain holds, the MACs do not.
        sqlx::query("UPDATE moat_audit_log SET actor = 'mallory' WHERE id = 2")
            .execute(store.pool())
            .await
            .unwrap();
        rehash(&store, 2).await;
        let (ok, _, err) = verify(dir.path());
        assert!(!ok);
        assert!(
            err.contains("audit trail broken: entry 5 has a MAC that does not match")
                && err.trim().lines().count() == 1,
            "{err}"
        );
        // Without the key file, verification can only vouch for the plain chain, and says so.
        let aside = dir.path().join("audit.key.aside");
        std::fs::rename(&key_path, &aside).unwrap();
        let (ok, stdout, _) = verify(dir.path());
        assert!(ok && stdout.starts_with("unkeyed chain intact, MACs not checked"), "{stdout}");
        // And a command that would write entries refuses to, naming the file.
        let out = moat(dir.path()).args(["group", "add", "other"]).output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("audit.key is missing") && err.contains("keyed with it"), "{err}");
        std::fs::rename(&aside, &key_path).unwrap();

        // MACs stripped, to pass the rewritten entries off as older than the key: the key
        // file says where the keyed part starts, not the database.
        sqlx::query("UPDATE moat_audit_log SET mac = NULL WHERE id >= 5")
            .execute(store.pool())
            .await
            .unwrap();
        let (ok, _, err) = verify(dir.path());
        assert!(!ok);
        assert!(err.contains("entry 5 has no MAC, though the audit key covers every entry from 5 on"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_twenty_sessions_edit_loses_no_audit_row() {
    const SESSIONS: usize = 20;
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        dir.path().join("moat.toml"),
        format!(
            "listen = \"127.0.0.1:{port}\"\nauth_rejection_ms = 20\n\
             [argon2]\nmemory_kib = 64\niterations = 1\nparallelism = 1\nmax_queued = 64\n\
             [limits]\nmax_preauth_per_source = 100\nper_source_per_minute = 1000\n"
        ),
    )
    .unwrap();
    let store = Store::connect(&format!(
        "sqlite://{}",
        dir.path().join("moat.db").display()
    ))
    .await
    .unwrap();
    store.migrate().await.unwrap();
    // The server started below finds this key in its default keys_dir (./keys).
    let store = moat::commands::unlock(store, &dir.path().join("keys"), true)
        .await
        .unwrap();
    moat::demo::load(&store).await.unwrap();
    let hash = moat::auth::password::Hasher::new(TEST_ARGON2)
        .unwrap()
        .hash(PASSWORD)
        .unwrap();
    let mut secrets = Vec::new();
    for i in 0..SESSIONS {
        let secret = moat::auth::totp::generate_secret();
        store
            .create_user(&moat::store::NewUser {
                username: &format!("editor{i}"),
                password_hash: &hash,
                is_superuser: true,
                totp_secret: Some(&secret),
                must_change_password: false,
                password_expires_at: None,
                now: 0,
            })
            .await
            .unwrap();
        secrets.push(secret);
    }
    store.close().await;

    let mut server = KillOnDrop(
        moat(dir.path())
            .arg("serve")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Each session edits its own tag over and over.
    let mut tasks = Vec::new();
    for (i, secret) in secrets.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let conn = login_at(addr, &format!("editor{i}"), &code_now(&secret)).await;
            let mut c = Console::open(&conn, 100, 30, "xterm").await;
            c.wait_for("post_tags").await;
            c.keys(&[b"j", b"j", b"j", b"j", b"\r"]).await;
            c.wait_for("row 1 of 40").await;
            for _ in 0..i {
                c.send(b"j").await;
            }
            c.wait_for(&format!("row {} of 40", i + 1)).await;
            c.send(b"\r").await;
            c.wait_for("line 1/").await;
            for n in 0.. {
                c.send(b"e").await;
                if tokio::time::timeout(Duration::from_secs(5), c.wait_for("› edit"))
                    .await
                    .is_err()
                {
                    return;
                }
                c.send(b"\x15").await;
                c.send(format!("s{i}-{n}").as_bytes()).await;
                c.send(b"\x13").await;
                if tokio::time::timeout(Duration::from_secs(5), c.wait_for("saved tags"))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(20), t).await;
    }

    // Restart: the database opens, every committed value has its audit row, the chain holds.
    let mut server = KillOnDrop(
        moat(dir.path())
            .arg("serve")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(Instant::now() < deadline, "server did not restart");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = server.kill();
    let _ = server.wait();
    let store = Store::connect(&format!(
        "sqlite://{}",
        dir.path().join("moat.db").display()
    ))
    .await
    .unwrap();
    let names: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, name FROM tags WHERE name LIKE 's%-%' ORDER BY id")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert!(
        names.len() >= SESSIONS / 2,
        "the sessions saved something: {names:?}"
    );
    for (id, name) in &names {
        let audited: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM moat_audit_log WHERE model = 'tags' AND pk = ? AND action = 'change' \
             AND json_extract(after_json, '$.name') = ?",
        )
        .bind(id.to_string())
        .bind(name)
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(audited, 1, "tags #{id} = {name} has no audit row");
    }
    let verified = store.verify_audit(None).await.unwrap();
    assert!(verified.is_ok(), "{verified:?}");
}

on_every_database! {
    async fn the_console_viewer_filters_and_hides_what_the_viewer_may_not_see() {
        let mut server = TestServer::start_with(
            |c| {
                c.models.insert(
                    "authors".into(),
                    moat::config::ModelConfig {
                        hidden: vec!["email".into()],
                        ..Default::default()
                    },
                );
            },
            None,
        )
        .await;
        server
            .store
            .audit(&[AuditEntry {
                at_ms: 1,
                actor: Some("hr-bot".into()),
                action: "change".into(),
                model: Some("authors".into()),
                pk: Some("3".into()),
                before: Some(serde_json::json!({ "name": "Old", "email": "old@secret.example" })),
                after: Some(serde_json::json!({ "name": "New", "email": "new@secret.example" })),
                outcome: "success".into(),
                ..AuditEntry::default()
            }])
            .await
            .unwrap();
        server.add_user("auditor", false).await;
        // Values of authors rows need viewing authors; the hidden column stays out.
        let perms = ["moat.view_audit".to_string(), "view_authors".to_string()];
        moat::commands::set_model_perms(
            &server.config,
            &moat::commands::Target::User("auditor".into()),
            &perms,
            true,
            "t",
            &mut Vec::new(),
        )
        .await
        .unwrap();

        let conn = login(&server, "auditor").await;
        let mut c = Console::open(&conn, 140, 30, "xterm").await;
        c.wait_for("authors").await;
        c.send(b":").await;
        c.send(b"audit\r").await;
        c.wait_for("hr-bot").await;
        c.send(b"f").await;
        c.send(b"action=change\r").await;
        let list = c.wait_for("[action=change]").await;
        assert!(!list.contains("login"), "filtered:\n{list}");
        c.send(b"\r").await;
        let details = c.wait_for("hash").await;
        assert!(details.contains("name: \"Old\" → \"New\""), "{details}");
        assert!(
            !details.contains("secret.example"),
            "a hidden column leaked:\n{details}"
        );

        // Without moat.view_audit the viewer is refused (and the refusal audited).
        let jane = login(&server, "jane").await;
        let mut j = Console::open(&jane, 120, 24, "xterm").await;
        j.wait_for("no permission on any").await;
        j.send(b":").await;
        j.send(b"audit\r").await;
        j.wait_for("no moat.view_audit permission").await;
        server.stop().await;
    }
}

/// The audit entries `user` is shown for action `change`, as the session sends them.
async fn change_entries(server: &TestServer, user: &str) -> Vec<moat::tui::protocol::AuditRow> {
    let actor = session_actor(server, user).await;
    let query = moat::tui::protocol::AuditQuery {
        action: Some("change".into()),
        ..Default::default()
    };
    match server
        .sessions
        .execute(
            &actor,
            moat::tui::Cmd::LoadAudit {
                query,
                before_id: None,
            },
        )
        .await
    {
        Some(moat::tui::Msg::Audit(page)) => page.rows,
        other => panic!("no audit page: {other:?}"),
    }
}

on_every_database! {
    async fn audit_values_are_shown_only_to_those_who_may_view_the_row() {
        let mut server = TestServer::start().await;
        server
            .store
            .audit(&[AuditEntry {
                at_ms: 1,
                actor: Some("editor".into()),
                action: "change".into(),
                model: Some("posts".into()),
                pk: Some("42".into()),
                before: Some(serde_json::json!({ "title": "Embargoed: Q3 layoffs" })),
                after: Some(serde_json::json!({ "title": "Company picnic" })),
                outcome: "success".into(),
                ..AuditEntry::default()
            }])
            .await
            .unwrap();
        for (user, perms) in [
            ("auditor", vec!["moat.view_audit"]),
            ("olga", vec!["moat.view_audit"]),
            ("valerie", vec!["moat.view_audit", "moat.view_audit_values"]),
        ] {
            server.add_user(user, false).await;
            let perms: Vec<String> = perms.iter().map(|p| p.to_string()).collect();
            moat::commands::set_model_perms(
                &server.config,
                &moat::commands::Target::User(user.into()),
                &perms,
                true,
                "t",
                &mut Vec::new(),
            )
            .await
            .unwrap();
        }
        // olga may view post 42 alone, by object permission.
        moat::commands::set_object_perm(
            &server.config,
            &moat::commands::ObjectPerm {
                target: moat::commands::Target::User("olga".into()),
                codename: "view_posts".into(),
                model: "posts".into(),
                pk: "42".into(),
            },
            true,
            "t",
            &mut Vec::new(),
        )
        .await
        .unwrap();

        // No posts permission: who did what, where and when, but not the values.
        let auditor = change_entries(&server, "auditor").await;
        let row = &auditor[0];
        assert_eq!(
            (row.model.as_deref(), row.pk.as_deref(), row.actor.as_deref()),
            (Some("posts"), Some("42"), Some("editor"))
        );
        let text = format!("{row:?}");
        assert!(!text.contains("Embargoed") && !text.contains("picnic"), "{text}");
        assert_eq!(row.values, moat::tui::protocol::AuditValues::Withheld);
        // The row's viewer sees them; so does moat.view_audit_values.
        for user in ["olga", "valerie"] {
            let text = format!("{:?}", change_entries(&server, user).await[0].values);
            assert!(text.contains("Embargoed") && text.contains("picnic"), "{user}: {text}");
        }
        server.stop().await;
    }
}
