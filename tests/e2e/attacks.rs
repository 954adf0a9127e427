//! The login path and session lifecycle under an adversary, over real SSH (the russh
//! client driven at a low level, so it can send what stock clients never do):
//! - incident response reaches a connection that authenticated but has not opened its
//!   console yet, and the session's clock runs from authentication;
//! - the `password` method is no password oracle, and abandoned or restarted rounds are
//!   bounded, delayed and counted;
//! - strangers' guesses neither end a live session nor lock its user out of the address
//!   they log in from;
//! - a flood of logins with a known password (and no code) leaves real logins working;
//! - a huge username reaches the log truncated.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;
use moat::commands;
use russh::client::{self, AuthResult, KeyboardInteractiveAuthResponse};
use russh::ChannelMsg;

/// Connect to `addr` from the loopback address `source` (127.0.0.2 … are loopback too).
async fn connect_from(addr: SocketAddr, source: &str) -> Conn {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    let stream = socket.connect(addr).await.expect("tcp connect");
    stream.set_nodelay(true).unwrap();
    let config = Arc::new(client::Config::default());
    client::connect_stream(config, stream, TrustAll)
        .await
        .expect("ssh connect")
}

/// What a connection that authenticated earlier gets when it now asks for a console:
/// `Ok(screen)` when a console was drawn, `Err(what)` when it was refused or closed.
async fn try_console(conn: &Conn) -> Result<String, String> {
    let mut channel = match conn.channel_open_session().await {
        Ok(c) => c,
        Err(e) => return Err(format!("channel refused: {e}")),
    };
    if channel
        .request_pty(false, "xterm", 100, 30, 0, 0, &[])
        .await
        .is_err()
        || channel.request_shell(false).await.is_err()
    {
        return Err("pty or shell refused".into());
    }
    let mut parser = vt100::Parser::new(30, 100, 0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let screen = parser.screen().contents();
        if screen.contains("moat › models") {
            return Ok(screen);
        }
        match tokio::time::timeout_at(deadline, channel.wait()).await {
            Ok(Some(ChannelMsg::Data { data })) => parser.process(&data),
            Ok(Some(ChannelMsg::Close)) | Ok(None) => return Err(parser.screen().contents()),
            Ok(Some(_)) => {}
            Err(_) => return Err(format!("nothing within 5 s: {screen}")),
        }
    }
}

/// Wait (up to 5 s) until `pred` holds.
async fn eventually(what: &str, mut pred: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !pred().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The live session rows of `user`.
async fn live_of(server: &TestServer, user: &str) -> Vec<moat::store::SessionRow> {
    server
        .store
        .live_sessions(0)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.username == user)
        .collect()
}

on_every_database! {
    async fn incident_response_reaches_connections_that_have_not_opened_a_console() {
        let mut server = TestServer::start().await;
        // One user per way of ending access; each authenticates and waits.
        let ways = ["reset", "disable", "end", "password", "other_instance"];
        for w in ways {
            server.add_user(w, false).await;
        }
        // Per user two connections: one asks for its console right after the incident
        // (before any poll), one just waits.
        let mut waiting = Vec::new();
        for w in ways {
            let asks = login(&server, w).await;
            let waits = login(&server, w).await;
            // The session exists from authentication: listed before any channel.
            let mut rows = Vec::new();
            eventually("the session rows", async || {
                rows = live_of(&server, w).await;
                rows.len() == 2
            })
            .await;
            waiting.push((w, asks, waits, rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>()));
        }
        let second = server.second_instance().await;
        let mut out = Vec::new();
        commands::reset_2fa(&server.config, "reset", "ops", &mut out).await.unwrap();
        commands::user_set_active(&server.config, "disable", false, "ops", &mut out)
            .await
            .unwrap();
        for id in &waiting.iter().find(|(w, ..)| *w == "end").unwrap().3 {
            commands::session_end(&server.config, id, "ops", &mut out).await.unwrap();
        }
        let uid = server.store.user_id("password").await.unwrap().unwrap();
        let phc = moat::auth::password::Hasher::new(TEST_ARGON2)
            .unwrap()
            .hash("a brand new passphrase")
            .unwrap();
        server
            .store
            .set_password(uid, &phc, false, "none", now() as i64, &Default::default())
            .await
            .unwrap();
        // Ended from the second instance: the first one learns it through the database.
        for id in &waiting.iter().find(|(w, ..)| *w == "other_instance").unwrap().3 {
            second
                .store
                .request_session_end(id, "ended elsewhere", &Default::default())
                .await
                .unwrap();
        }
        // Asking for the console right away gets none…
        for (w, asks, ..) in &waiting {
            let got = try_console(asks).await;
            assert!(got.is_err(), "{w}: a console after the incident:\n{got:?}");
        }
        // …and a connection that only waits is closed within a poll of the registry.
        for (w, _, waits, _) in &waiting {
            eventually(&format!("{w}'s connection to close"), async || waits.is_closed()).await;
        }
        for w in ways {
            eventually("the sessions to end", async || live_of(&server, w).await.is_empty()).await;
        }
        second.stop().await;
        server.stop().await;
    }

    async fn a_connection_that_never_asks_for_a_console_is_closed() {
        let server = TestServer::start_with(|c| c.shell_grace_secs = 1, None).await;
        let conn = login(&server, "jane").await;
        assert!(!conn.is_closed());
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert!(conn.is_closed(), "still open past shell_grace_secs");
        // The session ended with it.
        eventually("the session to end", async || live_of(&server, "jane").await.is_empty()).await;
        server.stop().await;
    }
}

#[tokio::test]
async fn the_session_clock_starts_at_authentication() {
    let server = TestServer::start_with(
        |c| {
            c.session.max_session_secs = 4;
            c.session.idle_timeout_secs = 600;
        },
        None,
    )
    .await;
    let logged_in = Instant::now();
    let conn = login(&server, "jane").await;
    let mut rows = Vec::new();
    eventually("the session row", async || {
        rows = live_of(&server, "jane").await;
        !rows.is_empty()
    })
    .await;
    let started_at = rows[0].started_at;
    assert!((started_at - now() as i64).abs() <= 1);
    // Wait before asking for the console: the clock is already running.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut c = Console::open(&conn, 100, 30, "xterm").await;
    c.wait_for("moat › models").await;
    c.wait_closed().await;
    let lasted = logged_in.elapsed();
    assert!(
        lasted < Duration::from_millis(6500),
        "max_session_secs counted from the shell request: {lasted:?}"
    );
    assert!(
        c.screen().contains("maximum session time"),
        "{}",
        c.screen()
    );
    server.stop().await;
}

#[tokio::test]
async fn the_password_method_answers_right_and_wrong_passwords_alike() {
    let server = TestServer::start().await;
    let mut answers = Vec::new();
    for password in [PASSWORD, "wrong password"] {
        let mut conn = connect(server.addr).await;
        let reply = conn.authenticate_password("jane", password).await.unwrap();
        answers.push(format!("{reply:?}"));
        assert!(
            matches!(
                reply,
                AuthResult::Failure {
                    partial_success: true,
                    ..
                }
            ),
            "{reply:?}"
        );
        // Then the code, through keyboard-interactive; only now is anything decided.
        let code = server.next_code("jane");
        let KeyboardInteractiveAuthResponse::InfoRequest { prompts, .. } = conn
            .authenticate_keyboard_interactive_start("jane", None)
            .await
            .unwrap()
        else {
            panic!("no code prompt after the password method");
        };
        assert!(
            prompts[0].prompt.contains("Verification code"),
            "{prompts:?}"
        );
        let done = conn
            .authenticate_keyboard_interactive_respond(vec![code])
            .await
            .unwrap();
        let accepted = matches!(done, KeyboardInteractiveAuthResponse::Success);
        assert_eq!(accepted, password == PASSWORD, "{done:?}");
        disconnect(conn).await;
    }
    assert_eq!(
        answers[0], answers[1],
        "the password method told right from wrong"
    );
    server.stop().await;
}

/// Whether `python3` with paramiko is here. CI installs it and sets
/// `MOAT_TEST_REQUIRE_PARAMIKO`, so there a missing paramiko fails instead of skipping.
fn have_paramiko() -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import paramiko"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("MOAT_TEST_REQUIRE_PARAMIKO").is_none(),
            "MOAT_TEST_REQUIRE_PARAMIKO is set but python3 -c 'import paramiko' fails"
        );
        eprintln!("SKIPPED: this test needs python3 with paramiko (pip install paramiko)");
    }
    ok
}

/// The audit rows whose reason is `reason`.
async fn audited(server: &TestServer, reason: &str) -> Vec<moat::store::AuditEntry> {
    server
        .store
        .recent_audit(200)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .collect()
}

const NO_CODE: &str = "password right, no code given";

/// Run `tests/scripts/<script> 127.0.0.1 PORT USER PASSWORD <last>` and parse the one JSON
/// line it prints.
async fn paramiko(server: &TestServer, script: &str, user: &str, last: &str) -> serde_json::Value {
    let path = format!("{}/tests/scripts/{script}", env!("CARGO_MANIFEST_DIR"));
    let args = [
        path,
        "127.0.0.1".into(),
        server.addr.port().to_string(),
        user.into(),
        PASSWORD.into(),
        last.into(),
    ];
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args(&args)
            .output()
            .expect("python3")
    })
    .await
    .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{script}: {e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// At least `n` rounds of `user` with a right password and no code are audited, and the
/// (user, address) pair counted them toward lockout.
async fn assert_no_code_counted(server: &TestServer, user: &str, n: usize) {
    eventually("the rounds without a code audited", async || {
        audited(server, NO_CODE).await.len() >= n
    })
    .await;
    let counters = server.store.list_failure_counters().await.unwrap();
    assert!(
        counters
            .iter()
            .any(|(k, c)| k.username == user && !k.ip.is_empty() && c.failures >= n as u32),
        "{counters:?}"
    );
}

#[tokio::test]
async fn restarting_keyboard_interactive_is_bounded_delayed_and_counted() {
    if !have_paramiko() {
        return;
    }
    let server = TestServer::start_with(
        |c| {
            c.max_auth_tries = 3;
            c.auth_rejection_ms = 300;
        },
        None,
    )
    .await;
    let report = paramiko(&server, "restart_rounds.py", "jane", "15").await;
    // Before: 15 passwords in 0.02 s. Now: at most max_auth_tries, each restart delayed.
    let passwords = report["passwords"].as_u64().unwrap();
    assert!(
        passwords <= 3,
        "{passwords} passwords through one connection: {report}"
    );
    assert!(
        report["closed"].as_bool().unwrap(),
        "connection left open: {report}"
    );
    assert!(
        report["seconds"].as_f64().unwrap() >= 0.6,
        "restarts skipped the rejection delay: {report}"
    );
    // Each abandoned round with a right password is audited and counted toward lockout.
    assert_no_code_counted(&server, "jane", 2).await;
    server.stop().await;
}

#[tokio::test]
async fn a_code_prompt_answered_with_no_or_two_answers_is_counted() {
    if !have_paramiko() {
        return;
    }
    let server = TestServer::start().await;
    for n in ["0", "2"] {
        let report = paramiko(&server, "code_answers.py", "jane", n).await;
        assert_eq!(report["accepted"], false, "{n} answers: {report}");
    }
    // Both rounds had the right password and no single code: audited and counted.
    assert_no_code_counted(&server, "jane", 2).await;
    server.stop().await;
}

#[tokio::test]
async fn a_connection_closes_when_its_session_ends() {
    let server = TestServer::start().await;
    // Quitting the console closes the connection, whatever the client does next.
    let conn = login(&server, "jane").await;
    let mut c = Console::open(&conn, 100, 30, "xterm").await;
    c.wait_for("moat › models").await;
    c.send(b"q").await;
    c.wait_closed().await;
    eventually("the connection to close after q", async || conn.is_closed()).await;
    // So does ending the session from outside.
    let conn = login(&server, "admin").await;
    let mut c = Console::open(&conn, 100, 30, "xterm").await;
    c.wait_for("moat › models").await;
    let id = live_of(&server, "admin").await[0].id.clone();
    let mut out = Vec::new();
    commands::session_end(&server.config, &id, "ops", &mut out)
        .await
        .unwrap();
    c.wait_closed().await;
    assert!(c.screen().contains("session ended"), "{}", c.screen());
    eventually("the connection to close after the end", async || {
        conn.is_closed()
    })
    .await;
    server.stop().await;
}

#[tokio::test]
async fn repeating_the_password_method_is_bounded_and_a_hang_up_is_counted() {
    let server = TestServer::start_with(
        |c| {
            c.max_auth_tries = 3;
            c.auth_rejection_ms = 300;
        },
        None,
    )
    .await;
    // The password method again and again, never the code.
    let mut conn = connect(server.addr).await;
    let started = Instant::now();
    let mut answered = 0;
    for _ in 0..15 {
        match conn.authenticate_password("jane", PASSWORD).await {
            Ok(AuthResult::Failure {
                partial_success: true,
                ..
            }) => answered += 1,
            _ => break,
        }
    }
    assert!(answered <= 3, "{answered} passwords through one connection");
    assert!(started.elapsed() >= Duration::from_millis(600));
    eventually("the connection to close", async || conn.is_closed()).await;
    eventually("the abandoned rounds audited", async || {
        audited(&server, NO_CODE).await.len() >= 2
    })
    .await;

    // Hanging up at the code prompt after a right password is counted and audited too.
    let mut conn = connect(server.addr).await;
    let reply = conn
        .authenticate_keyboard_interactive_start("admin", None)
        .await
        .unwrap();
    assert!(matches!(
        reply,
        KeyboardInteractiveAuthResponse::InfoRequest { .. }
    ));
    let reply = conn
        .authenticate_keyboard_interactive_respond(vec![PASSWORD.into()])
        .await
        .unwrap();
    assert!(matches!(
        reply,
        KeyboardInteractiveAuthResponse::InfoRequest { .. }
    ));
    disconnect(conn).await;
    eventually("the hang-up to be audited", async || {
        audited(&server, NO_CODE)
            .await
            .iter()
            .any(|e| e.actor.as_deref() == Some("admin"))
    })
    .await;
    server.stop().await;
}

#[tokio::test]
async fn strangers_guesses_neither_end_a_session_nor_lock_out_its_address() {
    let server = TestServer::start_with(
        |c| {
            c.allowlist = vec!["127.0.0.0/8".into()];
            c.max_auth_tries = 3;
        },
        None,
    )
    .await;
    // admin works from 127.0.0.1.
    let conn = login(&server, "admin").await;
    let mut admin = Console::open(&conn, 100, 30, "xterm").await;
    admin.wait_for("moat › models").await;
    // 30 wrong guesses for admin from 10 other addresses: the username locks.
    let mut guesses = Vec::new();
    for i in 2..12 {
        let addr = server.addr;
        guesses.push(tokio::spawn(async move {
            let mut conn = connect_from(addr, &format!("127.0.0.{i}")).await;
            for _ in 0..3 {
                if conn.is_closed() {
                    break;
                }
                let _ = ki_login(&mut conn, "admin", &["guess", "000000"]).await;
            }
        }));
    }
    for g in guesses {
        g.await.unwrap();
    }
    let counters = server.store.list_failure_counters().await.unwrap();
    assert!(
        counters
            .iter()
            .any(|(k, c)| k.username == "admin" && k.ip.is_empty() && c.locked_until.is_some()),
        "the guesses should lock the username: {counters:?}"
    );
    // admin's session is alive and answers.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    admin.keys(&[b"?"]).await;
    admin.wait_for("Keys").await;
    assert!(!admin.closed);
    // admin logs in again from the usual address…
    let again = login(&server, "admin").await;
    disconnect(again).await;
    // …while from a stranger's address even the right password is refused, as locked.
    let mut conn = connect_from(server.addr, "127.0.0.20").await;
    let outcome = ki_login(&mut conn, "admin", &[PASSWORD, &server.code("admin")]).await;
    assert!(!outcome.success, "{outcome:?}");
    eventually("the locked refusal", async || {
        !audited(&server, "locked: this username").await.is_empty()
    })
    .await;
    server.stop().await;
}

#[tokio::test]
async fn a_flood_of_known_password_logins_leaves_real_logins_working() {
    let mut server = TestServer::start_with(
        |c| {
            c.allowlist = vec!["127.0.0.0/8".into()];
            c.max_auth_tries = 100;
            // Make verification cost something and capacity small: 1 worker, 7 queued.
            c.argon2.memory_kib = 4096;
            c.argon2.iterations = 2;
            c.argon2.max_concurrent = 1;
            c.argon2.max_queued = 7;
            // Lockout would stop the insider by itself; this test is about capacity.
            c.lockout.failure_limit = 100_000;
            c.lockout.user_failure_limit = 100_000;
            c.lockout.ip_failure_limit = 100_000;
            c.limits.per_source_per_minute = 100_000;
            c.limits.max_preauth_per_source = 1_000;
            c.limits.global_per_second = 100_000;
            c.limits.max_preauth_total = 100_000;
            c.limits.preauth_drop_start = 100_000;
        },
        None,
    )
    .await;
    // The insider's password hash must cost what everyone's does.
    let phc = moat::auth::password::Hasher::new(server.config.argon2)
        .unwrap()
        .hash(PASSWORD)
        .unwrap();
    let users: Vec<String> = (0..6).map(|i| format!("real{i}")).collect();
    for u in users.iter().map(String::as_str).chain(["mallory"]) {
        server.add_user(u, false).await;
        sqlx_set_hash(&server, u, &phc).await;
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut flood = Vec::new();
    for i in 0..36 {
        let (addr, stop) = (server.addr, Arc::clone(&stop));
        flood.push(tokio::spawn(async move {
            let source = format!("127.0.1.{}", i % 4 + 1);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let mut conn = connect_from(addr, &source).await;
                // The right password, then hang up at the code prompt; again and again.
                while !conn.is_closed() && !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let Ok(KeyboardInteractiveAuthResponse::InfoRequest { .. }) = conn
                        .authenticate_keyboard_interactive_start("mallory", None)
                        .await
                    else {
                        break;
                    };
                    let _ = conn
                        .authenticate_keyboard_interactive_respond(vec![PASSWORD.into()])
                        .await;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut refused = Vec::new();
    for (i, u) in users.iter().enumerate() {
        let mut conn = connect_from(server.addr, &format!("127.0.2.{}", i + 1)).await;
        let outcome = ki_login(&mut conn, u, &[PASSWORD, &server.next_code(u)]).await;
        if !outcome.success {
            refused.push(u.clone());
        }
        disconnect(conn).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for f in flood {
        f.abort();
    }
    assert!(
        refused.is_empty(),
        "real logins refused during the flood: {refused:?}"
    );
    server.stop().await;
}

/// Give `user` the password hash `phc` (made with the server's own parameters).
async fn sqlx_set_hash(server: &TestServer, user: &str, phc: &str) {
    let id = server.store.user_id(user).await.unwrap().unwrap();
    server
        .store
        .set_password(id, phc, false, "none", now() as i64, &Default::default())
        .await
        .unwrap();
}

/// Log lines written by this test binary's tracing subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_huge_username_reaches_the_log_truncated() {
    let log = Captured::default();
    let writer = log.clone();
    tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .try_init()
        .expect("the only subscriber of this test binary");
    let server = TestServer::start().await;
    let huge = "u".repeat(30_000);
    let mut conn = connect(server.addr).await;
    for _ in 0..2 {
        let _ = ki_login(&mut conn, &huge, &["guess", "000000"]).await;
    }
    eventually("the refusal to be logged", async || {
        String::from_utf8_lossy(&log.0.lock().unwrap()).contains("login step refused")
    })
    .await;
    let text = String::from_utf8_lossy(&log.0.lock().unwrap()).into_owned();
    let longest = text.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 1000, "a log line of {longest} bytes");
    assert!(text.contains("…(30000 bytes)"), "{text}");
    let _ = std::io::stderr().flush();
    server.stop().await;
}
