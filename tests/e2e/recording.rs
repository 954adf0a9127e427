//! Session recordings end to end: a session browses and edits over SSH; its recording
//! is the bytes the client got, exports as asciicast v2 (read by `asciinema` itself when
//! installed), replays into a terminal emulator to the client's last screen, is sealed in
//! the audit chain (`audit verify` fails once a byte changes or the file goes), leaves
//! step-up codes and backup codes out, is removed by retention (audited, verify still
//! passes), is refused to users without `moat.view_recordings`, and a hostile file gets
//! nothing past the replay filter.

use std::io::Read;
use std::process::Command;
use std::time::Duration;

use crate::common::*;
use moat::commands::{self, Target};
use moat::recording::{Event, Header, Kind, Reader};
use moat::store::recordings::{REMOVED_ACTION, SEALED_ACTION};

const ENTER: &[u8] = b"\r";
const DOWN: &[u8] = b"j";
const SAVE: &[u8] = b"\x13"; // Ctrl-S
const CLEAR: &[u8] = b"\x15"; // Ctrl-U
const QUIT: &[u8] = b"\x03"; // Ctrl-C

/// What a test keeps of a recorded session.
struct Recorded {
    id: String,
    /// Every byte the client received.
    received: Vec<u8>,
    /// The client's screen before it quit.
    last_screen: String,
}

/// The session id of the only recording of `user` (the newest).
async fn recording_of(server: &TestServer, user: &str) -> String {
    // `user` is one of the tests' own names.
    sqlx::query_scalar(&format!(
        "SELECT session_id FROM moat_recordings WHERE username = '{user}' ORDER BY started_ms DESC"
    ))
    .fetch_one(server.store.pool())
    .await
    .expect("a recording row")
}

/// The `recording` audit entry of session `id`, once it is sealed.
async fn sealed(server: &TestServer, id: &str) -> moat::store::AuditRow {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(row) = server
            .store
            .recording_entry(id, SEALED_ACTION)
            .await
            .unwrap()
        {
            return row;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the recording of {id} was never sealed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn path_of(server: &TestServer, entry: &moat::store::AuditRow) -> std::path::PathBuf {
    let file = entry.entry.after.as_ref().unwrap()["file"]
        .as_str()
        .unwrap();
    server.config.recording.recordings_dir.join(file)
}

/// The header and events of the recording at `path`.
fn read(path: &std::path::Path) -> (Header, Vec<Event>) {
    let (header, reader) = Reader::open(path).unwrap();
    (header, reader.map(Result::unwrap).collect())
}

/// The recording's whole text, decompressed.
fn text(path: &std::path::Path) -> String {
    let mut s = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut s)
        .unwrap();
    s
}

/// admin browses tags at 120x40, resizes to 100x30, opens tag #3, edits and saves it,
/// and quits.
async fn browse_and_edit(server: &TestServer) -> Recorded {
    let conn = login(server, "admin").await;
    let mut c = Console::open(&conn, 120, 40, "xterm-256color").await;
    c.wait_for("post_tags").await;
    for _ in 0..4 {
        c.send(DOWN).await;
    }
    c.send(ENTER).await;
    c.wait_for("row 1 of").await;
    c.keys(&[b"/", b"r", ENTER]).await;
    c.wait_for("Esc clears").await;
    c.send(b"\x1b").await;
    c.wait_until("the search cleared", |s| !s.contains("Esc clears"))
        .await;
    c.resize(100, 30).await;
    c.keys(&[DOWN, DOWN]).await;
    c.wait_for("row 3 of").await;
    c.send(ENTER).await;
    c.wait_for("line 1/").await;
    c.send(b"e").await;
    c.wait_for("› edit").await;
    c.keys(&[CLEAR, "Recorded ✓".as_bytes(), SAVE]).await;
    c.wait_for("saved tags #3").await;
    c.settle(Duration::from_millis(300)).await;
    let last_screen = c.screen();
    c.send(QUIT).await;
    c.wait_closed().await;
    disconnect(conn).await;
    let id = recording_of(server, "admin").await;
    Recorded {
        id,
        received: c.received,
        last_screen,
    }
}

/// `moat sessions export ID` run in-process: (stdout, stderr) or the error.
async fn export(server: &TestServer, id: &str) -> Result<(String, String), String> {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    commands::session_export(&server.config, id, &mut out, &mut err)
        .await
        .map_err(|e| e.to_string())?;
    Ok((
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    ))
}

/// `moat audit verify` run in-process: its report, or the error.
async fn verify(server: &TestServer) -> Result<String, String> {
    let mut out = Vec::new();
    let done = commands::audit_verify(&server.config, None, &mut out).await;
    let out = String::from_utf8(out).unwrap();
    done.map(|()| out.clone())
        .map_err(|e| format!("{e}\n{out}"))
}

/// Check `export` is asciicast v2 as the spec has it: a header object (version 2, width,
/// height), then `[time, code, data]` arrays with times that never go back.
fn parse_asciicast(export: &str) -> (serde_json::Value, Vec<(f64, String, String)>) {
    let mut lines = export.lines();
    let header: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(header["version"], 2);
    assert!(
        header["width"].is_u64() && header["height"].is_u64(),
        "{header}"
    );
    let mut last = 0.0;
    let events: Vec<(f64, String, String)> = lines
        .map(|l| {
            let e: (f64, String, String) = serde_json::from_str(l).unwrap_or_else(|e| {
                panic!("not an asciicast event ({e}): {l}");
            });
            assert!(e.0 >= last, "time goes back at {l}");
            assert!(["o", "i", "r", "m"].contains(&e.1.as_str()), "{l}");
            last = e.0;
            e
        })
        .collect();
    (header, events)
}

/// Replay `events` into a terminal of the header's size, up to the bytes that leave the
/// console (the alternate screen ends there): the screen the client had before it quit.
fn replayed_screen(header: &Header, events: &[Event]) -> String {
    let mut term = vt100::Parser::new(header.height, header.width, 0);
    for e in events {
        match e.kind {
            Kind::Resize => {
                let (cols, rows) = e.size().unwrap();
                term.screen_mut().set_size(rows, cols);
            }
            Kind::Output if e.data.contains("\x1b[?1049l") => break,
            Kind::Output => term.process(e.data.as_bytes()),
            Kind::Input | Kind::Marker => {}
        }
    }
    term.screen().contents()
}

on_every_database! {
    async fn a_session_is_recorded_byte_for_byte_and_replays_to_its_last_screen() {
        let server = TestServer::start().await;
        let session = browse_and_edit(&server).await;
        let entry = sealed(&server, &session.id).await;
        let path = path_of(&server, &entry);

        // The file: 0600 in a 0700 directory, asciicast v2 of the session's size.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(&server.config.recording.recordings_dir), 0o700);
        }
        let (header, events) = read(&path);
        assert_eq!((header.width, header.height), (120, 40));
        assert_eq!(header.term.as_deref(), Some("xterm-256color"));
        assert!(events.iter().any(|e| e.size() == Some((100, 30))), "the resize");
        assert!(!events.iter().any(|e| e.kind == Kind::Input), "input is not recorded by default");

        // Byte for byte what the client got (no secret was on screen).
        let output: Vec<u8> = events
            .iter()
            .filter(|e| e.kind == Kind::Output)
            .flat_map(|e| e.data.as_bytes().to_vec())
            .collect();
        assert!(output == session.received, "the recording differs from what the client received");
        // Everything moat wrote passes the replay filter unchanged.
        for e in &events {
            assert!(
                matches!(moat::recording::filter::output(&e.data), std::borrow::Cow::Borrowed(_)),
                "{:?}",
                e.data
            );
        }
        assert_eq!(replayed_screen(&header, &events), session.last_screen);
        assert!(session.last_screen.contains("Recorded ✓"));

        // The export is asciicast v2, with the same events.
        let (exported, note) = export(&server, &session.id[..6]).await.unwrap();
        assert!(note.contains("exported"), "{note}");
        assert!(!exported.contains('\x1b'), "escapes are JSON escapes in the file");
        let (h, evs) = parse_asciicast(&exported);
        assert_eq!((h["width"].as_u64(), h["height"].as_u64()), (Some(120), Some(40)));
        assert_eq!(evs.len(), events.len());
        let exported_output: String = evs.iter().filter(|e| e.1 == "o").map(|e| e.2.as_str()).collect();
        assert_eq!(exported_output.as_bytes(), &session.received[..]);

        // Sealed: the audit entry holds the file's size and SHA-256; verify checks them.
        let after = entry.entry.after.clone().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(after["size"].as_u64(), Some(bytes.len() as u64));
        let sha: String = {
            use sha2::Digest;
            sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect()
        };
        assert_eq!(after["sha256"].as_str(), Some(sha.as_str()));
        assert_eq!(entry.entry.session_id.as_deref(), Some(session.id.as_str()));
        assert_eq!(entry.entry.actor.as_deref(), Some("admin"));
        let report = verify(&server).await.unwrap();
        assert!(report.contains("recordings intact: 1"), "{report}");

        // One byte changed: verify fails naming the session, and export refuses it.
        let mut altered = bytes.clone();
        let mid = altered.len() / 2;
        altered[mid] ^= 0x01;
        std::fs::write(&path, &altered).unwrap();
        let err = verify(&server).await.unwrap_err();
        assert!(err.contains(&session.id) && err.contains("altered"), "{err}");
        let refused = export(&server, &session.id).await.unwrap_err();
        assert!(refused.contains("altered"), "{refused}");
        // Deleted: the same, as missing.
        std::fs::remove_file(&path).unwrap();
        let err = verify(&server).await.unwrap_err();
        assert!(err.contains(&session.id) && err.contains("missing"), "{err}");
        std::fs::write(&path, &bytes).unwrap();
        assert!(verify(&server).await.is_ok());

        // Listed among ended sessions, with its size.
        let mut out = Vec::new();
        commands::sessions_ended(&server.config, 10, &mut out).await.unwrap();
        let listed = String::from_utf8(out).unwrap();
        assert!(listed.contains(&session.id) && listed.contains("KiB"), "{listed}");
        server.stop().await;
    }
}

on_every_database! {
    async fn input_is_not_recorded_by_default_and_secrets_never_are() {
        for record_input in [false, true] {
            let server = TestServer::start_with(
                |c| {
                    c.accounts.step_up_secs = 0;
                    c.recording.record_input = record_input;
                },
                None,
            )
            .await;
            let conn = login(&server, "jane").await;
            let mut c = Console::open(&conn, 100, 30, "xterm").await;
            c.wait_for("moat › models").await;
            c.keys(&[b":", b"backup-codes", ENTER]).await;
            c.wait_for("Verification code (step-up)").await;
            let code = server.next_code("jane");
            c.send(code.as_bytes()).await;
            c.send(ENTER).await;
            let shown = c.wait_for("Esc    drop them").await;
            let codes: Vec<String> = shown
                .split(|ch: char| ch.is_whitespace() || ch == '│')
                .filter(|w| w.len() == 19 && w.matches('-').count() == 3)
                .map(str::to_string)
                .collect();
            assert_eq!(codes.len(), 10, "{shown}");
            c.send(b"\x1b").await;
            c.wait_until("the codes gone", |s| !s.contains("Esc    drop them")).await;
            c.settle(Duration::from_millis(300)).await;
            let last_screen = c.screen();
            c.send(QUIT).await;
            c.wait_closed().await;
            disconnect(conn).await;

            let id = recording_of(&server, "jane").await;
            let path = path_of(&server, &sealed(&server, &id).await);
            let all = text(&path);
            assert!(!all.contains(&code), "the step-up code is in the recording");
            for backup in &codes {
                assert!(!all.contains(backup.as_str()), "a backup code is in the recording");
            }
            let (header, events) = read(&path);
            assert!(events.iter().any(|e| e.kind == Kind::Marker && e.data.contains("secret")));
            let inputs: Vec<&str> = events
                .iter()
                .filter(|e| e.kind == Kind::Input)
                .map(|e| e.data.as_str())
                .collect();
            if record_input {
                assert!(inputs.contains(&"backup-codes"), "{inputs:?}");
                assert!(inputs.contains(&"******"), "the code, as stars: {inputs:?}");
            } else {
                assert!(inputs.is_empty(), "{inputs:?}");
            }
            // Once the codes left the screen it was repainted whole: the replay ends on
            // the client's last screen all the same.
            assert_eq!(replayed_screen(&header, &events), last_screen);
            server.stop().await;
        }
    }
}

on_every_database! {
    async fn retention_removes_old_recordings_and_says_so_and_verify_still_passes() {
        let server = TestServer::start_with(|c| c.recording.retention_days = 30, None).await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 80, 24, "xterm").await;
        c.wait_for("post_tags").await;
        c.send(QUIT).await;
        c.wait_closed().await;
        disconnect(conn).await;
        let id = recording_of(&server, "admin").await;
        let path = path_of(&server, &sealed(&server, &id).await);
        let now = moat::commands::now_unix_ms();
        assert_eq!(server.sessions.apply_retention(now).await.unwrap(), 0);

        // Making the table say it is old is not enough: the age is the seal's.
        sqlx::query("UPDATE moat_recordings SET ended_ms = 0")
            .execute(server.store.pool())
            .await
            .unwrap();
        assert_eq!(server.sessions.apply_retention(now).await.unwrap(), 0);
        assert!(path.exists());

        // 31 days on.
        let later = now + 31 * 86_400_000;
        assert_eq!(server.sessions.apply_retention(later).await.unwrap(), 1);
        assert!(!path.exists(), "the file is removed");
        assert_eq!(server.sessions.apply_retention(later).await.unwrap(), 0, "once");
        let removed = server.store.recording_entry(&id, REMOVED_ACTION).await.unwrap().unwrap();
        assert!(removed.entry.reason.as_deref().unwrap_or_default().contains("retention"), "{removed:?}");
        let report = verify(&server).await.unwrap();
        assert!(!report.contains("recordings intact"), "nothing left to check: {report}");
        let refused = export(&server, &id).await.unwrap_err();
        assert!(refused.contains("removed"), "{refused}");
        let mut out = Vec::new();
        commands::sessions_ended(&server.config, 10, &mut out).await.unwrap();
        assert!(String::from_utf8(out).unwrap().contains("removed (retention)"));
        server.stop().await;
    }
}

on_every_database! {
    async fn only_superusers_and_view_recordings_holders_get_a_recording() {
        let mut server = TestServer::start().await;
        let session = browse_and_edit(&server).await;
        sealed(&server, &session.id).await;
        server.add_user("auditor", false).await;
        // moat.view_audit shows the trail, not the consoles.
        commands::set_model_perms(
            &server.config,
            &Target::User("auditor".into()),
            &["moat.view_audit".to_string(), "moat.view_audit_values".to_string()],
            true,
            "t",
            &mut Vec::new(),
        )
        .await
        .unwrap();
        for user in ["jane", "auditor"] {
            let actor = session_actor(&server, user).await;
            let refused = server.sessions.recording_view(&actor, &session.id).await.unwrap_err();
            assert!(refused.starts_with("permission denied"), "{user}: {refused}");
        }
        let denied: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM moat_audit_log WHERE action = 'view_recording' AND outcome = 'denied'",
        )
        .fetch_one(server.store.pool())
        .await
        .unwrap();
        assert_eq!(denied, 2, "each refusal is audited");

        // Granted: the events, checked against the seal, and the session's audit rows as
        // markers on its time line (the save among them).
        commands::set_model_perms(
            &server.config,
            &Target::User("auditor".into()),
            &["moat.view_recordings".to_string()],
            true,
            "t",
            &mut Vec::new(),
        )
        .await
        .unwrap();
        let actor = session_actor(&server, "auditor").await;
        let view = server.sessions.recording_view(&actor, &session.id).await.unwrap();
        assert!(matches!(view.seal, moat::session::recording::SealState::Sealed { .. }));
        assert_eq!((view.header.width, view.header.height), (120, 40));
        assert_eq!(replayed_screen(&view.header, &view.events), session.last_screen);
        let save = view
            .markers
            .iter()
            .find(|m| m.action == "change" && m.model.as_deref() == Some("tags"))
            .expect("the save is a marker");
        let duration = view.events.last().unwrap().at_us;
        assert!(save.at_us > 0 && save.at_us <= duration, "{save:?} within {duration}");
        // The superuser too (read afresh from the database, not from the actor).
        let admin = session_actor(&server, "admin").await;
        assert!(server.sessions.recording_view(&admin, &session.id).await.is_ok());
        // Revoked: refused again at once.
        commands::set_model_perms(
            &server.config,
            &Target::User("auditor".into()),
            &["moat.view_recordings".to_string()],
            false,
            "t",
            &mut Vec::new(),
        )
        .await
        .unwrap();
        assert!(server.sessions.recording_view(&actor, &session.id).await.is_err());
        server.stop().await;
    }
}

/// A recording file written by someone else, with `events`, registered (unsealed) as
/// the recording of session `id`.
async fn planted(server: &TestServer, id: &str, file: &str, events: &[(Kind, &str)]) {
    let mut text = moat::recording::cast::header_line(&Header {
        width: 80,
        height: 24,
        timestamp: 0,
        term: Some("xterm\x1b]0;x\x07".into()),
        title: None,
    });
    for (i, (kind, data)) in events.iter().enumerate() {
        moat::recording::cast::push_event(&mut text, i as u64 * 1000, *kind, data);
    }
    let mut bytes = Vec::new();
    moat::recording::file::Members::default()
        .member(&text, &mut bytes)
        .unwrap();
    if moat::recording::file::valid_name(file) {
        std::fs::write(server.config.recording.recordings_dir.join(file), bytes).unwrap();
    }
    let uid = server.store.user_id("jane").await.unwrap().unwrap();
    // Its session is live: the housekeeping pass that runs as the server starts (and
    // under load may come after this) seals only the recordings of sessions that are gone.
    let now = i64::try_from(now()).unwrap();
    server
        .store
        .session_started(&moat::store::LiveSession {
            id,
            user_id: uid,
            username: "jane",
            source_ip: "127.0.0.1",
            now,
            now_ms: now * 1000,
            key_id: None,
        })
        .await
        .unwrap();
    server
        .store
        .recording_started(&moat::store::NewRecording {
            session_id: id,
            user_id: uid,
            username: "jane",
            source_ip: "127.0.0.1",
            file,
            started_ms: 0,
            width: 80,
            height: 24,
            input: false,
        })
        .await
        .unwrap();
}

on_every_database! {
    async fn a_hostile_recording_gets_nothing_past_the_filter() {
        let server = TestServer::start().await;
        let hostile = "\x1b[2J\x1b]52;c;Y3VybCBldmlsIHwgc2g=\x07\x1b]0;owned\x1b\\\x1b[6n\u{9b}31m\u{202e}ok";
        planted(
            &server,
            "abcdef0123456789",
            "20250101-000000-abcdef0123456789.cast.gz",
            &[(Kind::Output, hostile), (Kind::Input, "\x1b[200~rm -rf\x1b[201~")],
        )
        .await;
        let (exported, note) = export(&server, "abcdef01").await.unwrap();
        assert!(note.contains("not sealed"), "{note}");
        let (header, events) = parse_asciicast(&exported);
        assert_eq!(header["env"]["TERM"], "xterm\u{1b}]0;x\u{7}", "kept as data, JSON-escaped");
        assert!(!exported.contains('\x1b') && !exported.contains('\u{9b}') && !exported.contains('\u{202e}'));
        let shown = &events[0].2;
        assert!(shown.starts_with("\x1b[2J\\x1b]52;c;"), "moat's own sequence stays, OSC 52 is text: {shown:?}");
        assert!(!shown[4..].contains('\x1b'), "{shown:?}");
        assert!(!events[1].2.contains('\x1b'));

        let (mut out, mut err) = (Vec::new(), Vec::new());
        commands::session_replay(&server.config, "abcdef01", 1000.0, &mut out, &mut err)
            .await
            .unwrap();
        let played = String::from_utf8(out).unwrap();
        assert!(played.starts_with("\x1b[2J\\x1b]52"), "{played:?}");
        assert!(played.ends_with(std::str::from_utf8(moat::tui::backend::AnsiBackend::LEAVE).unwrap()));
        let visible = played.replace("\x1b[2J", "").replace(std::str::from_utf8(moat::tui::backend::AnsiBackend::LEAVE).unwrap(), "");
        assert!(!visible.contains('\x1b') && !visible.contains('\u{9b}'), "{visible:?}");

        // A name that leaves the directory is never opened.
        planted(&server, "0123456789abcdef", "../../moat.db", &[]).await;
        let refused = export(&server, "01234567").await.unwrap_err();
        assert!(refused.contains("names no file"), "{refused}");
        server.stop().await;
    }
}

/// The export through the binary, read back by asciinema itself (`asciinema cat`, which
/// parses the file and writes its output events), when it is installed (CI installs it).
#[tokio::test]
async fn asciinema_reads_the_export() {
    let asciinema = Command::new("asciinema").arg("--version").output();
    if !asciinema.is_ok_and(|o| o.status.success()) {
        assert!(
            std::env::var_os("MOAT_TEST_REQUIRE_ASCIINEMA").is_none(),
            "asciinema is required here"
        );
        eprintln!("asciinema not installed: export not checked against it");
        return;
    }
    let server = TestServer::start().await;
    let session = browse_and_edit(&server).await;
    sealed(&server, &session.id).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("moat.toml"),
        format!(
            "database_url = \"{}\"\nkeys_dir = \"{}\"\n[recording]\nrecordings_dir = \"{}\"\n",
            server.config.database_url,
            server.config.keys_dir.display(),
            server.config.recording.recordings_dir.display()
        ),
    )
    .unwrap();
    let export = Command::new(env!("CARGO_BIN_EXE_moat"))
        .current_dir(dir.path())
        .env("MOAT_LOG", "warn")
        .args(["--config", "moat.toml", "sessions", "export", &session.id])
        .output()
        .unwrap();
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let cast = dir.path().join("s.cast");
    std::fs::write(&cast, &export.stdout).unwrap();
    let cat = Command::new("asciinema")
        .arg("cat")
        .arg(&cast)
        .output()
        .unwrap();
    assert!(
        cat.status.success(),
        "{}",
        String::from_utf8_lossy(&cat.stderr)
    );
    assert!(
        cat.stdout == session.received,
        "asciinema cat gives what the client received"
    );
    server.stop().await;
}

/// `kill -9` of the server mid-session: the recording holds every frame the client got
/// until a second before, and once the session is known to be over (a dead instance's
/// rows are closed after a day of silence) it is sealed as interrupted and verifies.
#[tokio::test]
async fn a_server_killed_mid_session_leaves_a_readable_recording_that_is_sealed_later() {
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
             [argon2]\nmemory_kib = 64\niterations = 1\nparallelism = 1\n"
        ),
    )
    .unwrap();
    let config = moat::config::Config {
        database_url: format!("sqlite://{}", dir.path().join("moat.db").display()),
        keys_dir: dir.path().join("keys"),
        recording: moat::config::RecordingConfig {
            recordings_dir: dir.path().join("recordings"),
            ..moat::config::RecordingConfig::default()
        },
        ..moat::config::Config::load(Some(&dir.path().join("moat.toml")), []).unwrap()
    };
    let store = commands::open_store(&config).await.unwrap();
    moat::demo::load(&store).await.unwrap();
    let secret = moat::auth::totp::generate_secret();
    let hash = moat::auth::password::Hasher::new(TEST_ARGON2)
        .unwrap()
        .hash(PASSWORD)
        .unwrap();
    store
        .create_user(&moat::store::NewUser {
            username: "alice",
            password_hash: &hash,
            is_superuser: true,
            totp_secret: Some(&secret),
            must_change_password: false,
            password_expires_at: None,
            now: 0,
        })
        .await
        .unwrap();
    store.close().await;
    let mut server = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_moat"))
            .current_dir(dir.path())
            .env("MOAT_LOG", "warn")
            .args(["--config", "moat.toml", "serve"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let conn = login_at(addr, "alice", &code_now(&secret)).await;
    let mut c = Console::open(&conn, 100, 30, "xterm").await;
    c.wait_for("post_tags").await;
    c.keys(&[DOWN, DOWN, DOWN, ENTER]).await;
    c.wait_for("row 1 of").await;
    c.keys(&[DOWN, DOWN]).await;
    c.wait_for("row 3 of").await;
    // More than the flush interval with nothing new: everything so far is on disk.
    c.settle(Duration::from_millis(1500)).await;
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    let received = c.received.clone();

    let store = commands::open_store(&config).await.unwrap();
    let id: String = sqlx::query_scalar("SELECT session_id FROM moat_recordings")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let file: String = sqlx::query_scalar("SELECT file FROM moat_recordings")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let (header, events) = read(&config.recording.recordings_dir.join(&file));
    assert_eq!((header.width, header.height), (100, 30));
    let output: Vec<u8> = events
        .iter()
        .filter(|e| e.kind == Kind::Output)
        .flat_map(|e| e.data.as_bytes().to_vec())
        .collect();
    assert!(
        output == received,
        "the recording holds every frame sent before the quiet second"
    );
    assert!(store
        .recording_entry(&id, SEALED_ACTION)
        .await
        .unwrap()
        .is_none());

    // The session is still "live" for a day (its instance might come back): not sealed.
    let built = commands::build(&config, store.clone()).await.unwrap();
    let ctx = &built.server.sessions;
    let now = commands::now_unix_ms();
    assert_eq!(ctx.seal_orphans(now).await.unwrap(), 0);
    // A day of silence later its row is closed (as the watcher does): sealed as found.
    store.prune_sessions(now / 1000 + 1, 0).await.unwrap();
    assert_eq!(ctx.seal_orphans(now + 600_000).await.unwrap(), 1);
    let entry = store
        .recording_entry(&id, SEALED_ACTION)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.entry.outcome, "interrupted");
    let mut out = Vec::new();
    commands::audit_verify(&config, None, &mut out)
        .await
        .unwrap();
    let report = String::from_utf8(out).unwrap();
    assert!(report.contains("recordings intact: 1"), "{report}");
    assert_eq!(ctx.seal_orphans(now + 600_000).await.unwrap(), 0, "once");
}

on_every_database! {
    async fn the_console_replays_an_ended_session_with_its_markers() {
        let mut server = TestServer::start().await;
        let session = browse_and_edit(&server).await;
        sealed(&server, &session.id).await;

        // A superuser: `:sessions`, Tab to the ended ones, Enter replays the newest.
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 120, 40, "xterm-256color").await;
        c.wait_for("post_tags").await;
        c.keys(&[b":", b"sessions", ENTER]).await;
        c.wait_for("[live]").await;
        c.send(b"\t").await;
        c.wait_for(&session.id).await;
        c.send(ENTER).await;
        c.wait_for(&format!("replay {} (admin)", session.id)).await;
        // Paused, at the end: the last screen the client saw (the saved row).
        c.keys(&[b" ", b"G"]).await;
        let end = c.wait_for("Recorded ✓").await;
        assert!(end.contains("saved tags #3"), "{end}");
        // From the start, `m` steps through the session's audit rows to the save.
        c.send(b"g").await;
        let mut found = String::new();
        for _ in 0..10 {
            c.send(b"m").await;
            c.settle(Duration::from_millis(150)).await;
            found = c.screen();
            if found.contains("change tags 3") {
                break;
            }
        }
        assert!(found.contains("change tags 3 (success)"), "{found}");
        assert!(found.contains("⏸"), "paused: {found}");
        // Played on from the save: the clock moves by itself and the save shows.
        c.keys(&[b"+", b"+", b" "]).await;
        c.wait_for("saved tags #3").await;
        c.send(b"\x1b").await;
        c.wait_for("[ended]").await;
        c.send(QUIT).await;
        c.wait_closed().await;
        disconnect(conn).await;
        let replays: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM moat_audit_log WHERE action = 'view_recording' AND outcome = 'success'",
        )
        .fetch_one(server.store.pool())
        .await
        .unwrap();
        assert_eq!(replays, 1, "the replay is audited");

        // moat.view_recordings alone: the ended sessions are the screen (no live tab).
        server.add_user("auditor", false).await;
        commands::set_model_perms(
            &server.config,
            &Target::User("auditor".into()),
            &["moat.view_recordings".to_string()],
            true,
            "t",
            &mut Vec::new(),
        )
        .await
        .unwrap();
        let conn = login(&server, "auditor").await;
        let mut c = Console::open(&conn, 120, 40, "xterm-256color").await;
        c.wait_for(" moat").await;
        c.keys(&[b":", b"sessions", ENTER]).await;
        let listed = c.wait_for(&session.id).await;
        assert!(!listed.contains("[live]") && !listed.contains("Tab"), "{listed}");
        c.send(ENTER).await;
        c.wait_for(&format!("replay {}", session.id)).await;
        c.send(QUIT).await;
        c.wait_closed().await;
        disconnect(conn).await;

        // Without it: no sessions screen, no tab; a forced attempt is refused and audited.
        let conn = login(&server, "jane").await;
        let mut c = Console::open(&conn, 120, 40, "xterm-256color").await;
        c.wait_for(" moat").await;
        c.keys(&[b":", b"sessions", ENTER]).await;
        let refused = c.wait_for("permission denied").await;
        assert!(!refused.contains("ended") && !refused.contains(&session.id), "{refused}");
        c.send(QUIT).await;
        c.wait_closed().await;
        disconnect(conn).await;
        let jane = session_actor(&server, "jane").await;
        use moat::tui::protocol::{ManageCmd, Panel};
        for cmd in [
            moat::tui::Cmd::Replay { session: session.id.clone() },
            moat::tui::Cmd::Manage(ManageCmd::Load(Panel::Ended)),
        ] {
            match server.sessions.execute(&jane, cmd).await {
                Some(moat::tui::Msg::Failed(why)) => {
                    assert!(why.starts_with("permission denied"), "{why}")
                }
                other => panic!("not refused: {other:?}"),
            }
        }
        let denied: Vec<String> = sqlx::query_scalar(
            "SELECT action FROM moat_audit_log WHERE actor = 'jane' AND outcome = 'denied' ORDER BY id",
        )
        .fetch_all(server.store.pool())
        .await
        .unwrap();
        for action in ["sessions", "view_recording", "ended_sessions"] {
            assert!(denied.iter().any(|a| a == action), "{action} in {denied:?}");
        }
        server.stop().await;
    }
}

/// A recording longer than `replay_max_mib` is replayed up to that much of it, and the
/// replay says where it stops and how long the whole is.
#[tokio::test]
async fn a_replay_holds_at_most_replay_max_mib_and_says_so() {
    let server = TestServer::start_with(|c| c.recording.replay_max_mib = 1, None).await;
    let frame = |i: usize| format!("\x1b[2J\x1b[1;1Hframe {i} {}", "x".repeat(300 * 1024));
    let frames: Vec<String> = (0..8).map(frame).collect();
    let events: Vec<(Kind, &str)> = frames.iter().map(|f| (Kind::Output, f.as_str())).collect();
    planted(
        &server,
        "fedcba9876543210",
        "20250101-000000-fedcba9876543210.cast.gz",
        &events,
    )
    .await;
    let actor = session_actor(&server, "admin").await;
    let view = server
        .sessions
        .recording_view(&actor, "fedcba9876543210")
        .await
        .unwrap();
    // 1 MiB holds three 300 KiB frames of the eight (planted a millisecond apart).
    assert_eq!(view.events.len(), 3);
    let cut = view.cut.expect("cut");
    assert_eq!((cut.at_us, cut.length_us, cut.max_mib), (2_000, 7_000, 1));
    // The whole file is still there for the CLI's export.
    let (exported, _) = export(&server, "fedcba98").await.unwrap();
    assert!(exported.contains("frame 7"));
    server.stop().await;
}
