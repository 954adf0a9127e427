//! Exports the user can get: SFTP on the SSH port serves a user's own exports, read-only,
//! under `exports/`, to the stock `sftp` and `scp` (OpenSSH 9's SFTP mode) and refuses
//! (and audits) everything else, tried with paramiko; expiry; `:exports`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use moat::store::audit::AuditFilter;
use moat::tui::protocol::{ExportEntry, ExportList};
use moat::tui::{App, Cmd, Msg};
use sha2::Digest;

use crate::common::*;
use crate::openssh::{have, write_askpass};

const ENTER: &[u8] = b"\r";

/// Whether the stock `sftp` and `scp` are here (CI installs them and sets
/// `MOAT_TEST_REQUIRE_OPENSSH`, so there a missing one fails instead of skipping).
fn skip_without_sftp() -> bool {
    let missing: Vec<&str> = ["sftp", "scp"].into_iter().filter(|t| !have(t)).collect();
    if missing.is_empty() {
        return false;
    }
    assert!(
        std::env::var_os("MOAT_TEST_REQUIRE_OPENSSH").is_none(),
        "MOAT_TEST_REQUIRE_OPENSSH is set but {} is missing",
        missing.join(" and ")
    );
    eprintln!(
        "SKIPPED: this test needs {} (openssh-client)",
        missing.join(" and ")
    );
    true
}

/// Whether python3 with paramiko is here (CI sets `MOAT_TEST_REQUIRE_PARAMIKO`).
fn skip_without_paramiko() -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import paramiko"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("MOAT_TEST_REQUIRE_PARAMIKO").is_none(),
            "MOAT_TEST_REQUIRE_PARAMIKO is set but python3 -c 'import paramiko' fails"
        );
        eprintln!("SKIPPED: this test needs python3 with paramiko");
    }
    !ok
}

/// What a stock client printed, and how it exited.
struct Run {
    stdout: String,
    stderr: String,
    ok: bool,
}

/// Run `program args…` (the stock `sftp` or `scp`) as `user` against `server` in `cwd`,
/// answering the prompts through SSH_ASKPASS, with `stdin` as its input.
async fn stock(
    server: &TestServer,
    program: &str,
    user: &str,
    args: Vec<String>,
    cwd: &Path,
    stdin: &str,
) -> Run {
    let secrets = tempfile::tempdir().unwrap();
    let askpass = write_askpass(secrets.path(), PASSWORD, &server.next_code(user));
    let port = server.addr.port().to_string();
    let mut all: Vec<String> = vec![
        "-F".into(),
        "/dev/null".into(),
        "-P".into(),
        port,
        "-o".into(),
        "StrictHostKeyChecking=no".into(),
        "-o".into(),
        "UserKnownHostsFile=/dev/null".into(),
        "-o".into(),
        "LogLevel=ERROR".into(),
        "-o".into(),
        "ConnectTimeout=10".into(),
    ];
    all.extend(args);
    let (program, cwd, stdin) = (program.to_string(), cwd.to_path_buf(), stdin.to_string());
    let out = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = std::process::Command::new("timeout")
            .arg("60")
            .arg(&program)
            .args(&all)
            .current_dir(&cwd)
            .env("SSH_ASKPASS", &askpass)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        if let Some(mut input) = child.stdin.take() {
            let _ = input.write_all(stdin.as_bytes());
        }
        child.wait_with_output().expect("wait")
    })
    .await
    .unwrap();
    drop(secrets);
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        ok: out.status.success(),
    }
}

/// Stock `sftp` as `user`, typing `commands` (one a line), in `cwd`.
async fn sftp(server: &TestServer, user: &str, cwd: &Path, commands: &str) -> Run {
    let target = format!("{user}@127.0.0.1");
    stock(server, "sftp", user, vec![target], cwd, commands).await
}

/// Stock `scp` (SFTP mode, OpenSSH 9's default) of `remote` as `user` into `cwd`.
async fn scp(server: &TestServer, user: &str, cwd: &Path, remote: &str) -> Run {
    let args = vec![format!("{user}@127.0.0.1:{remote}"), ".".into()];
    stock(server, "scp", user, args, cwd, "").await
}

/// paramiko's SFTP client as `user` (code `-`: none asked), running `ops`.
async fn paramiko(
    server: &TestServer,
    user: &str,
    password: &str,
    code: &str,
    ops: serde_json::Value,
) -> serde_json::Value {
    script(
        "sftp_client.py",
        &[
            "127.0.0.1".into(),
            server.addr.port().to_string(),
            user.into(),
            password.into(),
            code.into(),
            ops.to_string(),
        ],
    )
    .await
}

/// Run `tests/scripts/NAME args…` with python3 (a minute at most); the JSON line it
/// printed.
async fn script(name: &str, args: &[String]) -> serde_json::Value {
    let path = format!("{}/tests/scripts/{name}", env!("CARGO_MANIFEST_DIR"));
    let args = args.to_vec();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("timeout")
            .arg("60")
            .arg("python3")
            .arg(path)
            .args(&args)
            .output()
            .expect("python3")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "{e}: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Export `posts` as `user` through the session boundary (as `x` does); the file's name.
async fn export_as(server: &TestServer, user: &str) -> String {
    let actor = session_actor(server, user).await;
    let cmd = Cmd::Export {
        model: "posts".into(),
        query: Default::default(),
    };
    match server.sessions.execute(&actor, cmd).await {
        Some(Msg::Exported { path, rows, .. }) => {
            assert_eq!(rows, 2000);
            path.strip_prefix("exports/")
                .unwrap_or_else(|| panic!("{path}"))
                .to_string()
        }
        other => panic!("export as {user}: {other:?}"),
    }
}

/// Where `user`'s export `name` is on the server.
async fn on_disk(server: &TestServer, user: &str, name: &str) -> PathBuf {
    let id = server.store.user_id(user).await.unwrap().unwrap();
    server.config.export_dir.join(id.to_string()).join(name)
}

fn sha256(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The audit rows about exports, oldest first.
async fn export_audit(server: &TestServer) -> Vec<moat::store::AuditEntry> {
    let filter = AuditFilter {
        model: Some("moat_exports".into()),
        ..Default::default()
    };
    let mut rows: Vec<_> = server
        .store
        .audit_page(&filter, 500)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.entry)
        .collect();
    rows.reverse();
    rows
}

/// An export name made at unix second `secs` (as moat names them).
fn name_at(model: &str, secs: i64, suffix: &str) -> String {
    let stamp = moat::domain::format_time(secs)
        .trim_end_matches(" UTC")
        .replace(['-', ':'], "")
        .replace(' ', "-");
    format!("{model}-{stamp}-{suffix}.csv")
}

on_every_database! {
    async fn stock_sftp_gets_the_export_made_with_x_and_the_bytes_match() {
        if skip_without_sftp() {
            return;
        }
        let server = TestServer::start().await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 200, 30, "xterm").await;
        c.wait_for("post_tags").await;
        c.keys(&[b":", b"posts", ENTER]).await;
        c.wait_for("row 1 of 2,000").await;
        c.send(b"x").await;
        let screen = c.wait_for("exported").await;
        let line = screen
            .lines()
            .find(|l| l.contains("exported"))
            .unwrap()
            .trim()
            .to_string();
        // The notice names the file as SFTP shows it, and how to get it.
        let name = line
            .split(" to exports/")
            .nth(1)
            .and_then(|p| p.split_whitespace().next())
            .unwrap_or_else(|| panic!("{line}"))
            .to_string();
        let port = server.addr.port();
        assert!(line.contains(&format!("sftp -P {port} admin@")), "{line}");
        assert!(line.contains(&format!("to exports/{name} · fetch")), "{line}");
        // `:exports` lists it, with how to fetch it.
        c.keys(&[b":", b"exports", ENTER]).await;
        let screen = c.wait_for("expires").await;
        assert!(screen.contains(&name), "{screen}");
        assert!(screen.contains(&format!("sftp -P {port} admin@HOST")), "{screen}");

        let dir = tempfile::tempdir().unwrap();
        let run = sftp(
            &server,
            "admin",
            dir.path(),
            &format!("ls exports\nget exports/{name}\n"),
        )
        .await;
        assert!(run.stdout.contains(&name), "ls lists it:\n{}\n{}", run.stdout, run.stderr);
        let want = std::fs::read(on_disk(&server, "admin", &name).await).unwrap();
        let got = std::fs::read(dir.path().join(&name))
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr));
        assert!(want.len() > 10_000, "the whole list: {} bytes", want.len());
        assert_eq!(sha256(&got), sha256(&want), "the bytes downloaded are the export's");

        // One audit row for the download, naming the file; and the export's names it too.
        let rows = export_audit(&server).await;
        let downloads: Vec<_> = rows
            .iter()
            .filter(|e| e.action == "export_download" && e.outcome == "success")
            .collect();
        assert_eq!(downloads.len(), 1, "{rows:?}");
        assert_eq!(downloads[0].pk.as_deref(), Some(name.as_str()));
        assert_eq!(downloads[0].actor.as_deref(), Some("admin"));
        let log = server.store.recent_audit(50).await.unwrap();
        assert!(
            log.iter().any(|e| e.action == "export"
                && e.reason.as_deref().is_some_and(|r| r.contains(&name))),
            "{log:?}"
        );
        disconnect(conn).await;
        server.stop().await;
    }
}

on_every_database! {
    async fn only_ones_own_exports_are_served_and_everything_else_is_refused_and_audited() {
        if skip_without_paramiko() || skip_without_sftp() {
            return;
        }
        let mut server = TestServer::start().await;
        server.add_user("carol", true).await;
        let admins = export_as(&server, "admin").await;
        let carols = export_as(&server, "carol").await;
        let admin_file = on_disk(&server, "admin", &admins).await;
        let carol_file = on_disk(&server, "carol", &carols).await;
        let carol_dir = carol_file.parent().unwrap().to_path_buf();
        let admin_bytes = std::fs::read(&admin_file).unwrap();
        let carol_bytes = std::fs::read(&carol_file).unwrap();
        let now = now() as i64;
        // Planted in carol's directory: a symlink to admin's export under a name moat
        // makes, an export past its time to live, and a file moat did not make.
        let link = name_at("posts", now - 5, "eeeeee");
        std::os::unix::fs::symlink(&admin_file, carol_dir.join(&link)).unwrap();
        let expired = name_at("posts", now - 25 * 3600, "ffffff");
        std::fs::write(carol_dir.join(&expired), "old rows\r\n").unwrap();
        std::fs::write(carol_dir.join("notes.txt"), "not an export").unwrap();
        let upload = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(upload.path(), "planted").unwrap();
        let admin_id = server.store.user_id("admin").await.unwrap().unwrap();

        let own = format!("exports/{carols}");
        let theirs = format!("exports/{admins}");
        let refused = serde_json::json!([
            ["read", theirs],
            ["stat", theirs],
            ["read", format!("exports/../{admin_id}/{admins}")],
            ["read", format!("/exports/../../{admin_id}/{admins}")],
            ["read", "/etc/passwd"],
            ["read", "../../../../etc/passwd"],
            ["listdir", ".."],
            ["listdir", "/etc"],
            ["listdir", format!("exports/{admin_id}")],
            ["read", format!("exports/{link}")],
            ["read", format!("exports/{expired}")],
            ["stat", format!("exports/{expired}")],
            ["read", "exports/notes.txt"],
            ["open", "exports/new.csv", "w"],
            ["open", own, "a"],
            ["open", own, "r+"],
            ["open", own, "w"],
            ["remove", own],
            ["rename", own, "exports/renamed.csv"],
            ["mkdir", "exports/d"],
            ["rmdir", "exports"],
            ["chmod", own, "777"],
            ["symlink", "/etc/passwd", "exports/link.csv"],
            ["put", upload.path().display().to_string(), "exports/up.csv"],
            ["readlink", format!("exports/{link}")],
        ]);
        let mut ops = vec![
            serde_json::json!(["listdir", "/"]),
            serde_json::json!(["listdir", "exports"]),
            serde_json::json!(["realpath", "."]),
            serde_json::json!(["read", own]),
        ];
        ops.extend(refused.as_array().unwrap().iter().cloned());
        let report = paramiko(&server, "carol", PASSWORD, &server.next_code("carol"), ops.into()).await;
        assert_eq!(report["sftp"], "ok", "{report}");
        let results = report["results"].as_array().unwrap();
        assert_eq!(results[0], serde_json::json!({"ok": ["exports"]}));
        // Only carol's own export: not admin's, not the symlink, not the expired one.
        assert_eq!(results[1], serde_json::json!({"ok": [carols]}), "{report}");
        assert_eq!(results[2], serde_json::json!({"ok": "/"}));
        assert_eq!(
            results[3]["ok"]["sha256"].as_str(),
            Some(sha256(&carol_bytes).as_str()),
            "{report}"
        );
        for (op, result) in refused.as_array().unwrap().iter().zip(&results[4..]) {
            let err = result["err"].as_str().unwrap_or_else(|| panic!("{op} was served: {result}"));
            assert!(err.contains("Permission denied"), "{op}: {err}");
        }
        // Nothing changed on disk.
        assert_eq!(std::fs::read(&carol_file).unwrap(), carol_bytes);
        assert_eq!(std::fs::read(&admin_file).unwrap(), admin_bytes);
        let mut left: Vec<String> = std::fs::read_dir(&carol_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        let mut expected = vec![carols.clone(), link.clone(), expired.clone(), "notes.txt".into()];
        expected.sort();
        assert_eq!(left, expected);

        // One download audited; the attempt on admin's file and every refusal are denials.
        let rows = export_audit(&server).await;
        let carol_rows: Vec<_> = rows.iter().filter(|e| e.actor.as_deref() == Some("carol")).collect();
        let ok: Vec<_> = carol_rows.iter().filter(|e| e.outcome == "success").collect();
        assert_eq!(ok.len(), 1, "{carol_rows:?}");
        assert_eq!(ok[0].pk.as_deref(), Some(carols.as_str()));
        let denied = |action: &str, pk: &str| {
            carol_rows.iter().any(|e| {
                e.action == action && e.outcome == "denied" && e.pk.as_deref() == Some(pk)
            })
        };
        assert!(denied("export_download", &format!("exports/{admins}")), "{carol_rows:?}");
        assert!(denied("export_download", "/etc/passwd"), "{carol_rows:?}");
        assert!(denied("export_download", &format!("exports/{link}")), "{carol_rows:?}");
        assert!(denied("export_download", &format!("exports/{expired}")), "{carol_rows:?}");
        assert!(denied("export_change", "exports/new.csv"), "{carol_rows:?}");
        assert!(denied("export_change", &format!("exports/{carols}")), "{carol_rows:?}");
        assert!(denied("export_change", "exports/d"), "{carol_rows:?}");

        // The stock scp (SFTP underneath) gets admin's own export, and not carol's.
        let dir = tempfile::tempdir().unwrap();
        let run = scp(&server, "admin", dir.path(), &format!("exports/{admins}")).await;
        assert!(run.ok, "{}\n{}", run.stdout, run.stderr);
        assert_eq!(std::fs::read(dir.path().join(&admins)).unwrap(), admin_bytes);
        let run = scp(&server, "admin", dir.path(), &format!("exports/{carols}")).await;
        assert!(!run.ok, "carol's export went to admin");
        assert!(!dir.path().join(&carols).exists());
        // scp words a refused stat as its own "No such file or directory".
        assert!(run.stderr.contains(&carols), "{}", run.stderr);
        let rows = export_audit(&server).await;
        assert!(rows.iter().any(|e| e.actor.as_deref() == Some("admin")
            && e.outcome == "denied"
            && e.pk.as_deref() == Some(format!("exports/{carols}").as_str())));
        server.stop().await;
    }
}

on_every_database! {
    async fn sftp_needs_the_whole_login_and_ends_with_the_session() {
        if skip_without_paramiko() {
            return;
        }
        let mut server = TestServer::start().await;
        server.add_user("dave", false).await;
        // A one-time password logs in to enrolment only: no SFTP.
        let otp = server.add_one_time_user("olive").await;
        let report = paramiko(&server, "olive", &otp, "-", serde_json::json!([["listdir", "exports"]])).await;
        assert_eq!(report["login"], "ok", "{report}");
        assert_ne!(report["sftp"], "ok", "{report}");
        let rows = export_audit(&server).await;
        assert!(
            rows.iter().any(|e| e.actor.as_deref() == Some("olive")
                && e.outcome == "denied"
                && e.reason.as_deref() == Some("account set-up not finished")),
            "{rows:?}"
        );

        // The password alone (partial success) opens nothing.
        let mut conn = connect(server.addr).await;
        let partial = conn.authenticate_password("dave", PASSWORD).await.unwrap();
        assert!(!partial.success(), "{partial:?}");
        let opened = tokio::time::timeout(Duration::from_secs(5), conn.channel_open_session()).await;
        assert!(!matches!(opened, Ok(Ok(_))), "a channel before the code");
        drop(conn);

        // A full login gets SFTP; ending the session (incident response) ends it.
        let conn = login(&server, "dave").await;
        let channel = conn.channel_open_session().await.unwrap();
        channel.request_subsystem(true, "sftp").await.unwrap();
        let sftp = russh_sftp::client::SftpSession::new(channel.into_stream())
            .await
            .unwrap();
        assert_eq!(sftp.canonicalize(".").await.unwrap(), "/");
        let names: Vec<String> = sftp.read_dir("/").await.unwrap().map(|e| e.file_name()).collect();
        assert_eq!(names, ["exports"]);
        assert!(sftp.read_dir("exports").await.unwrap().next().is_none());
        let id = server
            .store
            .live_sessions(0)
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.username == "dave")
            .expect("the SFTP session is a live session")
            .id;
        let mut out = Vec::new();
        moat::commands::session_end(&server.config, &id, "ops", &mut out).await.unwrap();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let listed = tokio::time::timeout(Duration::from_secs(2), sftp.read_dir("exports")).await;
            if !matches!(listed, Ok(Ok(_))) {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "SFTP outlived its session");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // The connection goes with it.
        let deadline = tokio::time::Instant::now() + WAIT;
        while !conn.is_closed() {
            assert!(tokio::time::Instant::now() < deadline, "the connection outlived its session");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn an_idle_sftp_session_closes_like_a_console() {
    let server = TestServer::start_with(
        |c| {
            c.session.idle_timeout_secs = 2;
            c.session.idle_warning_secs = 1;
        },
        None,
    )
    .await;
    let conn = login(&server, "jane").await;
    let channel = conn.channel_open_session().await.unwrap();
    channel.request_subsystem(true, "sftp").await.unwrap();
    let sftp = russh_sftp::client::SftpSession::new(channel.into_stream())
        .await
        .unwrap();
    // Requests keep it open…
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(900)).await;
        assert_eq!(sftp.canonicalize(".").await.unwrap(), "/");
    }
    // …silence closes it, and the connection with it.
    let deadline = tokio::time::Instant::now() + WAIT;
    while !conn.is_closed() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "an idle SFTP session stayed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn expired_exports_are_deleted_by_housekeeping() {
    let now = now() as i64;
    let old = name_at("posts", now - 25 * 3600, "aaaaaa");
    let fresh = name_at("posts", now - 3600, "bbbbbb");
    let mut root = PathBuf::new();
    let server = TestServer::start_with(
        |c| {
            root = c.export_dir.clone();
            let dir = c.export_dir.join("1");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(&old), "").unwrap();
            std::fs::write(dir.join(&fresh), "").unwrap();
            // Left directly in export_dir by an older moat.
            std::fs::write(c.export_dir.join(&old), "").unwrap();
        },
        None,
    )
    .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while root.join("1").join(&old).exists() || root.join(&old).exists() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "expired exports still there"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(root.join("1").join(&fresh).exists(), "a fresh export stays");
    server.stop().await;
}

#[test]
fn export_ttl_hours_must_be_positive() {
    let config = moat::config::Config {
        export_ttl_hours: 0,
        ..moat::config::Config::default()
    };
    let err = config.validate().unwrap_err().to_string();
    assert!(err.contains("export_ttl_hours"), "{err}");
    assert_eq!(moat::config::Config::default().export_ttl_hours, 24);
}

fn render(app: &mut App) -> String {
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
    terminal.draw(|f| app.draw(f)).unwrap();
    terminal.backend().to_string()
}

fn typed(app: &mut App, text: &str) -> Vec<Cmd> {
    use moat::tui::input::{Input, Key, KeyEvent};
    let mut cmds = Vec::new();
    for c in text.chars() {
        let k = match c {
            '\r' => Key::Enter,
            c => Key::Char(c),
        };
        cmds = app.update(Msg::Input(Input::Key(KeyEvent::plain(k))));
    }
    cmds
}

/// `:exports` with two exports, and `d` asking about the selected one by name.
#[test]
fn exports_screen() {
    let (mut app, _) = App::new("alice", 100, (80, 24));
    assert_eq!(typed(&mut app, ":exports\r"), vec![Cmd::LoadExports]);
    let created = 1_796_121_000; // 2026-12-01 10:30:00 UTC
    app.update(Msg::Exports(ExportList {
        user: "alice".into(),
        port: 2222,
        ttl_hours: 24,
        now: created + 3600,
        entries: vec![
            ExportEntry {
                name: "posts-20261201-103000-ab12cd.csv".into(),
                size: 1_234_567,
                created,
                expires: created + 24 * 3600,
            },
            ExportEntry {
                name: "authors-20261201-091500-00ff00.csv".into(),
                size: 880,
                created: created - 4500,
                expires: created - 4500 + 24 * 3600,
            },
        ],
    }));
    insta::assert_snapshot!(render(&mut app));
    typed(&mut app, "j");
    typed(&mut app, "d");
    insta::assert_snapshot!("exports_screen_delete_asks", render(&mut app));
    let cmds = typed(&mut app, "y");
    assert_eq!(
        cmds,
        vec![
            Cmd::DeleteExport {
                name: "authors-20261201-091500-00ff00.csv".into()
            },
            Cmd::LoadExports
        ]
    );
}

on_every_database! {
    async fn deleting_from_exports_takes_only_ones_own_file() {
        let mut server = TestServer::start().await;
        server.add_user("erin", true).await;
        let admins = export_as(&server, "admin").await;
        let erins = export_as(&server, "erin").await;
        let erin = session_actor(&server, "erin").await;
        // Another user's name is refused (and audited), and their file stays.
        let answer = server
            .sessions
            .execute(&erin, Cmd::DeleteExport { name: admins.clone() })
            .await;
        assert!(matches!(answer, Some(Msg::Failed(_))), "{answer:?}");
        assert!(on_disk(&server, "admin", &admins).await.exists());
        let answer = server
            .sessions
            .execute(&erin, Cmd::DeleteExport { name: "../1".into() })
            .await;
        assert!(matches!(answer, Some(Msg::Failed(_))), "{answer:?}");
        // Her own goes, audited.
        let answer = server.sessions.execute(&erin, Cmd::LoadExports).await;
        let Some(Msg::Exports(list)) = answer else { panic!("{answer:?}") };
        assert_eq!(list.entries.len(), 1);
        assert_eq!(list.entries[0].name, erins);
        assert_eq!(list.entries[0].expires, list.entries[0].created + 24 * 3600);
        let answer = server
            .sessions
            .execute(&erin, Cmd::DeleteExport { name: erins.clone() })
            .await;
        assert!(matches!(answer, Some(Msg::Notice(_))), "{answer:?}");
        assert!(!on_disk(&server, "erin", &erins).await.exists());
        let rows = export_audit(&server).await;
        assert!(rows.iter().any(|e| e.action == "export_delete"
            && e.outcome == "success"
            && e.pk.as_deref() == Some(erins.as_str())));
        assert!(rows.iter().any(|e| e.action == "export_delete"
            && e.outcome == "denied"
            && e.pk.as_deref() == Some(admins.as_str())));
        server.stop().await;
    }
}

/// An export made by `user` through the console: its name and its bytes on disk.
async fn exported(server: &TestServer, user: &str) -> (String, Vec<u8>) {
    let name = export_as(server, user).await;
    let bytes = std::fs::read(on_disk(server, user, &name).await).unwrap();
    (name, bytes)
}

/// paramiko on one connection, as OpenSSH's `ControlMaster` uses it: the console first,
/// then SFTP on a second channel (the user's own exports, the bytes as on disk), then a
/// second console (refused, with the reason); closing the console ends the connection and
/// the SFTP beside it.
#[tokio::test]
async fn sftp_beside_the_console_on_one_connection() {
    if skip_without_paramiko() {
        return;
    }
    let server = TestServer::start().await;
    let (name, bytes) = exported(&server, "admin").await;
    let report = script(
        "sftp_beside_console.py",
        &[
            "127.0.0.1".into(),
            server.addr.port().to_string(),
            "admin".into(),
            PASSWORD.into(),
            server.next_code("admin"),
            format!("exports/{name}"),
        ],
    )
    .await;
    assert_eq!(report["login"], "ok", "{report}");
    assert!(
        report["console"].as_str().unwrap().contains("posts"),
        "{report}"
    );
    assert_eq!(report["sftp"], "ok", "{report}");
    assert_eq!(report["listdir"], serde_json::json!([name]), "{report}");
    assert_eq!(
        report["read"]["sha256"].as_str(),
        Some(sha256(&bytes).as_str())
    );
    let second = report["second_console"].as_str().unwrap();
    assert!(second.contains("one console per connection"), "{report}");
    let after = report["after_console"].as_str().unwrap();
    assert!(
        after.starts_with("err"),
        "SFTP outlived its console: {report}"
    );
    // The download was audited in the console's session.
    let rows = export_audit(&server).await;
    let ok: Vec<_> = rows.iter().filter(|e| e.outcome == "success").collect();
    assert_eq!(ok.len(), 1, "{rows:?}");
    assert_eq!(ok[0].pk.as_deref(), Some(name.as_str()));
    server.stop().await;
}

/// Over russh at a low level: SFTP beside a console ends when the session is ended
/// (incident response); a login still enrolling gets no SFTP beside its set-up screen;
/// and a connection may open only a few channels beside its session.
#[tokio::test]
async fn sftp_beside_the_console_ends_with_the_session_and_is_bounded() {
    let mut server = TestServer::start().await;
    server.add_user("dave", false).await;

    let conn = login(&server, "dave").await;
    let console = Console::open(&conn, 100, 30, "xterm").await;
    let channel = conn.channel_open_session().await.unwrap();
    channel.request_subsystem(true, "sftp").await.unwrap();
    let sftp = russh_sftp::client::SftpSession::new(channel.into_stream())
        .await
        .unwrap();
    let names: Vec<String> = sftp
        .read_dir("/")
        .await
        .unwrap()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names, ["exports"]);
    // Only a few more channels: the 4 beside the console are served, a 5th is refused.
    let mut extra = Vec::new();
    for _ in 0..3 {
        extra.push(conn.channel_open_session().await.expect("a channel beside"));
    }
    let refused = tokio::time::timeout(Duration::from_secs(5), conn.channel_open_session()).await;
    assert!(
        !matches!(refused, Ok(Ok(_))),
        "a 5th channel beside the console"
    );
    let id = server
        .store
        .live_sessions(0)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.username == "dave")
        .expect("dave's session")
        .id;
    let mut out = Vec::new();
    moat::commands::session_end(&server.config, &id, "ops", &mut out)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let listed = tokio::time::timeout(Duration::from_secs(2), sftp.read_dir("exports")).await;
        if !matches!(listed, Ok(Ok(_))) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "SFTP outlived its session"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    while !conn.is_closed() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the connection outlived its session"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop((console, extra));

    // A one-time password's login is enrolling: nothing beside its set-up screen.
    let otp = server.add_one_time_user("olive").await;
    let mut conn = connect(server.addr).await;
    let outcome = ki_login(&mut conn, "olive", &[otp.as_str()]).await;
    assert!(outcome.success, "{:?}", outcome.failure);
    let _setup = Console::open(&conn, 100, 30, "xterm").await;
    let channel = conn.channel_open_session().await.unwrap();
    channel.request_subsystem(true, "sftp").await.unwrap();
    let refused = tokio::time::timeout(
        Duration::from_secs(5),
        russh_sftp::client::SftpSession::new(channel.into_stream()),
    )
    .await;
    assert!(
        !matches!(refused, Ok(Ok(_))),
        "SFTP beside an enrolling login"
    );
    let rows = export_audit(&server).await;
    assert!(
        rows.iter().any(|e| e.actor.as_deref() == Some("olive")
            && e.outcome == "denied"
            && e.reason.as_deref() == Some("account set-up not finished")),
        "{rows:?}"
    );
    server.stop().await;
}

/// The stock client with `ControlMaster`: `ssh -M` holds the console, and a later `sftp`
/// through its control socket (no login of its own) rides the same connection and gets
/// the export.
#[tokio::test]
async fn stock_sftp_through_a_control_master_beside_the_console() {
    if skip_without_sftp() {
        return;
    }
    let server = TestServer::start().await;
    let (name, want) = exported(&server, "admin").await;
    let dir = tempfile::tempdir().unwrap();
    let askpass = write_askpass(dir.path(), PASSWORD, &server.next_code("admin"));
    let socket = dir.path().join("master.sock");
    let common = |program: &str| {
        let mut c = std::process::Command::new(program);
        c.args(["-F", "/dev/null", "-o", "StrictHostKeyChecking=no"])
            .args(["-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"])
            .arg("-o")
            .arg(format!("ControlPath={}", socket.display()))
            .env("SSH_ASKPASS", &askpass)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0")
            .env("TERM", "xterm")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        c
    };
    // The master: a console (a pty forced, input from a pipe kept open).
    let mut master = common("ssh")
        .args([
            "-M",
            "-tt",
            "-p",
            &server.addr.port().to_string(),
            "admin@127.0.0.1",
        ])
        .spawn()
        .expect("ssh");
    let deadline = std::time::Instant::now() + WAIT;
    while !socket.exists() {
        assert!(std::time::Instant::now() < deadline, "no control socket");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Wait for the console to be open: its session is live.
    let deadline = std::time::Instant::now() + WAIT;
    while server.store.live_sessions(0).await.unwrap().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no console");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut sftp = common("sftp");
    sftp.args([
        "-b",
        "-",
        "-P",
        &server.addr.port().to_string(),
        "admin@127.0.0.1",
    ])
    .current_dir(dir.path());
    let commands = format!("ls exports\nget exports/{name}\n");
    let out = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = sftp.spawn().expect("sftp");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(commands.as_bytes())
            .unwrap();
        child.wait_with_output().expect("sftp output")
    })
    .await
    .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let got = std::fs::read(dir.path().join(&name)).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    assert_eq!(sha256(&got), sha256(&want));
    // One session only: the sftp rode the console's connection.
    assert_eq!(server.store.live_sessions(0).await.unwrap().len(), 1);
    let _ = master.kill();
    let _ = master.wait();
    server.stop().await;
}

/// SFTP beside a session whose console has not opened yet, right after the session was
/// ended from the command line (the end is in the database; this instance learns it on
/// its next poll): refused at once, as a console or a first-channel SFTP would be.
#[tokio::test]
async fn beside_is_refused_right_after_an_end_in_the_database() {
    let server = TestServer::start().await;
    let conn = login(&server, "jane").await;
    let first = conn.channel_open_session().await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    let id = loop {
        let live = server.store.live_sessions(0).await.unwrap();
        if let Some(r) = live.into_iter().find(|r| r.username == "jane") {
            break r.id;
        }
        assert!(tokio::time::Instant::now() < deadline, "no session row");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut out = Vec::new();
    moat::commands::session_end(&server.config, &id, "ops", &mut out)
        .await
        .unwrap();
    let ended_at = std::time::Instant::now();
    let channel = conn.channel_open_session().await.unwrap();
    channel.request_subsystem(true, "sftp").await.unwrap();
    let served = tokio::time::timeout(
        Duration::from_secs(5),
        russh_sftp::client::SftpSession::new(channel.into_stream()),
    )
    .await;
    let listed = match served {
        Ok(Ok(sftp)) => {
            let r = sftp.read_dir("exports").await.map(|d| d.count());
            let first_ok = ended_at.elapsed();
            let mut last_ok = first_ok;
            while ended_at.elapsed() < Duration::from_secs(10) {
                match tokio::time::timeout(Duration::from_secs(1), sftp.read_dir("exports")).await {
                    Ok(Ok(_)) => last_ok = ended_at.elapsed(),
                    _ => break,
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            format!(
                "served after the end: read_dir {r:?} at {first_ok:?}, last served at {last_ok:?}"
            )
        }
        other => format!("refused: {:?}", other.map(|r| r.map(|_| ()))),
    };
    eprintln!("beside after a database end: {listed}");
    drop(first);
    assert!(listed.starts_with("refused"), "{listed}");
    server.stop().await;
}

/// SFTP on a new channel of `conn` now: `served: …` (what listing `exports` gave), or
/// `refused`.
async fn sftp_beside_now(conn: &Conn) -> String {
    let Ok(Ok(ch)) =
        tokio::time::timeout(Duration::from_secs(3), conn.channel_open_session()).await
    else {
        return "refused".into();
    };
    let _ = ch.request_subsystem(true, "sftp").await;
    let opened = tokio::time::timeout(
        Duration::from_secs(3),
        russh_sftp::client::SftpSession::new(ch.into_stream()),
    )
    .await;
    match opened {
        Ok(Ok(s)) => format!(
            "served: {:?}",
            s.read_dir("exports").await.map(|d| d.count())
        ),
        _ => "refused".into(),
    }
}

/// The console quits (or its first channel closes before any console): a channel opened
/// beside it afterwards, and one open already, get nothing.
#[tokio::test]
async fn beside_gets_nothing_once_the_console_is_gone() {
    let server = TestServer::start().await;
    let conn = login(&server, "admin").await;
    let mut c = Console::open(&conn, 100, 30, "xterm").await;
    c.wait_for("moat › models").await;
    let channel = conn.channel_open_session().await.unwrap();
    channel.request_subsystem(true, "sftp").await.unwrap();
    let sftp = russh_sftp::client::SftpSession::new(channel.into_stream())
        .await
        .unwrap();
    assert!(sftp.read_dir("exports").await.is_ok());
    c.send(b"q").await;
    c.wait_closed().await;
    // At once, before the connection is cut.
    let late = sftp_beside_now(&conn).await;
    let old = tokio::time::timeout(Duration::from_secs(3), sftp.read_dir("exports")).await;
    eprintln!(
        "late beside: {late}; open beside: {:?}",
        old.as_ref().map(|r| r.is_ok())
    );
    assert_eq!(late, "refused");
    assert!(!matches!(old, Ok(Ok(_))), "SFTP outlived the console");
    let deadline = tokio::time::Instant::now() + WAIT;
    while !conn.is_closed() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the connection outlived its console"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The first channel closed before any console: nothing beside it.
    let conn = login(&server, "jane").await;
    let first = conn.channel_open_session().await.unwrap();
    first.close().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let late = sftp_beside_now(&conn).await;
    eprintln!("beside a closed first channel: {late}");
    assert_eq!(late, "refused");
    server.stop().await;
}
