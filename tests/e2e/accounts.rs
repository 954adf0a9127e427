//! Accounts and session safety, end to end over SSH: first-login enrolment with a
//! one-time password, the password policy, password change, backup codes, step-up,
//! idle and maximum time, and ending live sessions (console, CLI, disabling, 2FA reset).

use std::time::Duration;

use crate::common::*;
use moat::auth::totp;
use moat::commands;
use moat::store::NewUser;

const ENTER: &[u8] = b"\r";
const TAB: &[u8] = b"\t";
const DOWN: &[u8] = b"\x1b[B";

/// The secret of an `otpauth://` URI.
fn secret_of(uri: &str) -> Vec<u8> {
    let b32 = uri
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("secret="))
        .expect("secret in the URI");
    totp_rs::Secret::Encoded(b32.to_string())
        .to_bytes()
        .expect("base32 secret")
}

/// Type both new-password fields and confirm.
async fn set_password(c: &mut Console, password: &str, again: &str) {
    c.send(password.as_bytes()).await;
    c.send(TAB).await;
    c.send(again.as_bytes()).await;
    c.send(ENTER).await;
}

/// Log `name` in with its one-time password alone and enrol: returns the console (now on
/// the forced password form), the TOTP secret read from the QR code, and the step of
/// the code used to confirm.
async fn enrol(server: &TestServer, name: &str, otp: &str) -> (Conn, Console, Vec<u8>, i64) {
    let mut conn = connect(server.addr).await;
    let outcome = ki_login(&mut conn, name, &[otp]).await;
    assert!(outcome.success, "{outcome:?}");
    assert_eq!(
        outcome.prompts,
        vec!["Password: ".to_string()],
        "no code is asked before a device is enrolled"
    );
    let mut c = Console::open(&conn, 80, 24, "xterm-256color").await;
    c.wait_for("Set up two-factor authentication").await;
    c.wait_for("URI:").await;
    // The QR code on an 80x24 terminal decodes to the provisioning URI.
    let uri = qr::decode_screen(&c.rows()).expect("a readable QR code at 80x24");
    assert!(
        uri.starts_with(&format!("otpauth://totp/moat:{name}?")),
        "{uri}"
    );
    assert!(uri.contains("issuer=moat"), "{uri}");
    let secret = secret_of(&uri);
    // The base32 secret is on screen as text too, in groups of four.
    let b32 = totp::secret_base32(&secret);
    assert!(c.screen().contains(&b32[..4]), "{}", c.screen());

    // Nothing else is reachable: the command line, help and quit keys do nothing here.
    c.keys(&[b":", b"users", ENTER, b"?", b"q"]).await;
    c.settle(Duration::from_millis(150)).await;
    assert!(c.screen().contains("Set up two-factor"), "{}", c.screen());
    assert!(!c.screen().contains("superuser"), "{}", c.screen());

    let step = totp::step_at(now());
    let wrong = totp::code_at(&secret, step + 5);
    c.send(wrong.as_bytes()).await;
    c.send(ENTER).await;
    c.wait_for("that code does not match").await;
    c.send(totp::code_at(&secret, step).as_bytes()).await;
    c.send(ENTER).await;
    c.wait_for("Choose your own password").await;
    (conn, c, secret, step)
}

on_every_database! {
    async fn one_time_password_enrolment_forced_change_then_normal_login() {
        let server = TestServer::start().await;
        let otp = server.add_one_time_user("olive").await;
        let (conn, mut c, secret, step) = enrol(&server, "olive", &otp).await;

        // The password policy, each refusal in words, nothing lost but the new passwords.
        for (new, again, why) in [
            ("short", "short", "too short"),
            ("olive-likes-long-ones", "olive-likes-long-ones", "username"),
            ("Password1234", "Password1234", "too common"),
            ("violet staple orbit 42", "violet staple orbit 43", "differ"),
        ] {
            set_password(&mut c, new, again).await;
            c.wait_for(why).await;
            assert!(c.screen().contains("Choose your own password"));
        }
        set_password(&mut c, "violet staple orbit 42", "violet staple orbit 42").await;
        c.wait_for("Your account is ready").await;
        c.send(b"q").await;
        c.wait_closed().await;
        disconnect(conn).await;

        // The one-time password is spent; the chosen one and a code from the app work.
        let mut old = connect(server.addr).await;
        let next = totp::code_at(&secret, step + 1);
        let refused = ki_login(&mut old, "olive", &[&otp, &next]).await;
        assert!(!refused.success, "{refused:?}");
        let conn = login_at_with(server.addr, "olive", "violet staple orbit 42", &next).await;
        let mut c = Console::open(&conn, 100, 30, "xterm").await;
        c.wait_for("moat › models").await;

        let audit: Vec<(String, String)> = sqlx::query_as(
            "SELECT action, outcome FROM moat_audit_log WHERE actor = 'olive' \
             AND action IN ('totp_enrol', 'password_change') ORDER BY id",
        )
        .fetch_all(server.store.pool())
        .await
        .unwrap();
        assert_eq!(
            audit,
            [
                ("totp_enrol", "failure"),
                ("totp_enrol", "success"),
                ("password_change", "success")
            ]
            .map(|(a, o)| (a.to_string(), o.to_string()))
        );
        server.stop().await;
    }
}

on_every_database! {
    async fn expired_one_time_password_is_refused() {
        let server = TestServer::start_with(|c| c.accounts.one_time_password_hours = 1, None).await;
        let otp = server.add_one_time_user("late").await;
        // Two hours later (moved in the database rather than waiting).
        sqlx::query(&server.store.dialect().sql("UPDATE moat_users SET password_expires_at = ? WHERE username = 'late'"))
            .bind(i64::try_from(now()).unwrap() - 3600)
            .execute(server.store.pool())
            .await
            .unwrap();
        let mut conn = connect(server.addr).await;
        let outcome = ki_login(&mut conn, "late", &[&otp, "000000"]).await;
        assert!(!outcome.success);
        // Refused like any other failure: the code is still asked.
        assert_eq!(outcome.prompts, vec!["Password: ", "Verification code: "]);
        let row = sqlx::query(
            "SELECT reason FROM moat_audit_log WHERE actor = 'late' ORDER BY id DESC LIMIT 1",
        )
        .fetch_one(server.store.pool())
        .await
        .unwrap();
        let reason = moat::store::sql::text(&row, "reason").unwrap().unwrap_or_default();
        assert_eq!(reason, "one-time password expired");
        server.stop().await;
    }
}

on_every_database! {
    async fn password_change_from_the_console() {
        let server = TestServer::start().await;
        let conn = login(&server, "jane").await;
        let mut c = Console::open(&conn, 100, 30, "xterm").await;
        c.wait_for("moat › models").await;
        c.keys(&[b":", b"password", ENTER]).await;
        c.wait_for("Change your password").await;
        c.keys(&[b"not my password", TAB]).await;
        set_password(&mut c, "a brand new passphrase", "a brand new passphrase").await;
        c.wait_for("current password is wrong").await;
        // Recorded as a password change that failed, in this session, not a failed login.
        let checks = session_checks(&server, "password_change").await;
        assert_eq!(checks.len(), 1, "{checks:?}");
        assert_eq!(checks[0].0, "failure");
        assert!(checks[0].1.is_some(), "{checks:?}");
        assert_eq!(login_failures(&server, "jane").await, 0);
        c.keys(&[PASSWORD.as_bytes(), TAB]).await;
        set_password(&mut c, "a brand new passphrase", "a brand new passphrase").await;
        c.wait_for("password changed").await;
        disconnect(conn).await;

        let mut old = connect(server.addr).await;
        let refused = ki_login(&mut old, "jane", &[PASSWORD, &server.next_code("jane")]).await;
        assert!(!refused.success);
        login_at_with(
            server.addr,
            "jane",
            "a brand new passphrase",
            &totp::code_at(&server.secrets["jane"], totp::step_at(now()) + 1),
        )
        .await;
        server.stop().await;
    }
}

/// (outcome, session id) of each audit row with `action`, oldest first.
async fn session_checks(server: &TestServer, action: &str) -> Vec<(String, Option<String>)> {
    // `action` is a constant of the test: inlined, so the SQL runs on every database.
    let sql = format!(
        "SELECT outcome, session_id FROM moat_audit_log WHERE action = '{action}' ORDER BY id"
    );
    sqlx::query_as(&sql)
        .fetch_all(server.store.pool())
        .await
        .unwrap()
}

/// How many failed logins the audit trail holds for `user`.
async fn login_failures(server: &TestServer, user: &str) -> i64 {
    let sql = format!(
        "SELECT COUNT(*) FROM moat_audit_log WHERE action = 'login' AND outcome = 'failure' AND actor = '{user}'"
    );
    sqlx::query_scalar(&sql)
        .fetch_one(server.store.pool())
        .await
        .unwrap()
}

/// Open comments and ask to delete the selected row, answering yes.
async fn delete_selected_comment(c: &mut Console) {
    c.send(b"d").await;
    c.wait_for("Delete comments #").await;
    c.send(b"y").await;
}

on_every_database! {
    async fn step_up_before_a_delete_after_the_window_not_before() {
        let server = TestServer::start_with(|c| c.accounts.step_up_secs = 2, None).await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 120, 30, "xterm").await;
        c.wait_for("post_tags").await;
        c.keys(&[DOWN, ENTER]).await; // comments
        c.wait_for("row 1 of 6,000").await;

        // Within the window: no prompt.
        delete_selected_comment(&mut c).await;
        c.wait_for("deleted comments #1").await;
        assert!(!c.screen().contains("Verification code"));

        // After it: the delete waits for a fresh code.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        delete_selected_comment(&mut c).await;
        c.wait_for("Verification code (step-up)").await;
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM comments")
            .fetch_one(server.store.pool())
            .await
            .unwrap();
        assert_eq!(left, 5999, "nothing deleted before the code");
        // A wrong code refuses (and is counted); the held delete is dropped.
        c.keys(&[b"000000", ENTER]).await;
        c.wait_for("verification code refused").await;
        delete_selected_comment(&mut c).await;
        c.wait_for("Verification code (step-up)").await;
        let code = server.next_code("admin");
        c.send(code.as_bytes()).await;
        // Typed digits are masked.
        c.wait_for("••••••").await;
        c.send(ENTER).await;
        c.wait_for("deleted comments #2").await;
        // The wrong code is recorded as what it was, in this session — not as a login.
        let steps = session_checks(&server, "step_up").await;
        assert_eq!(steps.len(), 2, "{steps:?}");
        assert_eq!((steps[0].0.as_str(), steps[1].0.as_str()), ("failure", "success"));
        assert!(steps[0].1.is_some() && steps[0].1 == steps[1].1, "{steps:?}");
        assert_eq!(login_failures(&server, "admin").await, 0);
        server.stop().await;
    }
}

on_every_database! {
    async fn backup_codes_regenerated_in_the_console_are_shown_once_and_work() {
        let server = TestServer::start_with(|c| c.accounts.step_up_secs = 0, None).await;
        let conn = login(&server, "jane").await;
        let mut c = Console::open(&conn, 100, 30, "xterm").await;
        c.wait_for("moat › models").await;
        c.keys(&[b":", b"backup-codes", ENTER]).await;
        c.wait_for("Verification code (step-up)").await;
        c.send(server.next_code("jane").as_bytes()).await;
        c.send(ENTER).await;
        let shown = c.wait_for("Esc    drop them").await;
        let codes = codes_on(&shown);
        assert_eq!(codes.len(), 10, "{shown}");
        c.send(ENTER).await;
        c.wait_for("backup codes saved").await;
        disconnect(conn).await;
        // A backup code works once in place of the app's code.
        login_at(server.addr, "jane", &codes[3]).await;
        let mut again = connect(server.addr).await;
        assert!(
            !ki_login(&mut again, "jane", &[PASSWORD, &codes[3]])
                .await
                .success
        );
        server.stop().await;
    }
}

/// The backup codes on a screen (four groups joined by dashes).
fn codes_on(screen: &str) -> Vec<String> {
    screen
        .split(|c: char| c.is_whitespace() || c == '│')
        .filter(|w| w.len() == 19 && w.matches('-').count() == 3)
        .map(str::to_string)
        .collect()
}

/// Jane's stored backup codes and audited generations.
async fn stored_backup_codes(server: &TestServer) -> (i64, i64) {
    let codes: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM moat_backup_codes b JOIN moat_users u ON u.id = b.user_id \
         WHERE u.username = 'jane'",
    )
    .fetch_one(server.store.pool())
    .await
    .unwrap();
    let generated: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM moat_audit_log WHERE actor = 'jane' AND action = 'backup_codes'",
    )
    .fetch_one(server.store.pool())
    .await
    .unwrap();
    (codes, generated)
}

on_every_database! {
    async fn backup_codes_on_a_tiny_terminal_wait_until_they_are_read_and_confirmed() {
        let server = TestServer::start_with(|c| c.accounts.step_up_secs = 0, None).await;
        let conn = login(&server, "jane").await;
        // 15 columns: a dialog there used to panic after the codes were committed.
        let mut c = Console::open(&conn, 15, 10, "xterm").await;
        c.wait_for("moat").await;
        c.keys(&[b":", b"backup-codes", ENTER]).await;
        c.wait_for("Verification").await;
        c.send(server.next_code("jane").as_bytes()).await;
        c.send(ENTER).await;
        let small = c.wait_for("waiting").await;
        assert!(codes_on(&small).is_empty(), "{small}");
        // Enter cannot confirm codes that are not on screen; nothing is saved yet.
        c.send(ENTER).await;
        c.settle(Duration::from_millis(200)).await;
        assert!(!c.closed, "the session goes on");
        assert_eq!(stored_backup_codes(&server).await, (0, 0));

        // Larger: the codes are readable, and Enter saves them.
        c.resize(80, 24).await;
        let shown = c.wait_for("Esc    drop them").await;
        let codes = codes_on(&shown);
        assert_eq!(codes.len(), 10, "{shown}");
        assert_eq!(stored_backup_codes(&server).await, (0, 0), "shown, not saved");
        c.send(ENTER).await;
        c.wait_for("backup codes saved").await;
        assert_eq!(stored_backup_codes(&server).await, (10, 1));

        // New ones shown but never confirmed (the connection drops) change nothing: the
        // saved codes still work. (The step-up takes a saved backup code: two logins'
        // worth of TOTP codes per 30 s is all a test gets.)
        c.keys(&[b":", b"backup-codes", ENTER]).await;
        c.wait_for("Verification code (step-up)").await;
        c.send(codes[1].as_bytes()).await;
        c.send(ENTER).await;
        let offered = codes_on(&c.wait_for("Esc    drop them").await);
        assert_eq!(offered.len(), 10);
        assert!(offered.iter().all(|o| !codes.contains(o)));
        disconnect(conn).await;
        assert_eq!(stored_backup_codes(&server).await, (10, 1));
        let mut refused = connect(server.addr).await;
        assert!(
            !ki_login(&mut refused, "jane", &[PASSWORD, &offered[0]])
                .await
                .success
        );
        login_at(server.addr, "jane", &codes[0]).await;
        server.stop().await;
    }
}

on_every_database! {
    async fn idle_timeout_warns_then_disconnects() {
        let server = TestServer::start_with(
            |c| {
                c.session.idle_timeout_secs = 3;
                c.session.idle_warning_secs = 2;
            },
            None,
        )
        .await;
        let conn = login(&server, "jane").await;
        let mut c = Console::open(&conn, 100, 30, "xterm").await;
        c.wait_for("moat › models").await;
        c.wait_for("this session closes in 2 s").await;
        // A key keeps the session and clears the warning.
        c.send(b"j").await;
        c.wait_until("warning cleared", |s| !s.contains("closes in"))
            .await;
        c.wait_for("this session closes in 2 s").await;
        c.wait_closed().await;
        assert!(c.screen().contains("idle timeout"), "{}", c.screen());
        server.stop().await;
    }
}

on_every_database! {
    async fn maximum_session_time_ends_a_busy_session() {
        let server = TestServer::start_with(|c| c.session.max_session_secs = 2, None).await;
        let conn = login(&server, "jane").await;
        let mut c = Console::open(&conn, 100, 30, "xterm").await;
        c.wait_for("moat › models").await;
        for _ in 0..8 {
            c.send(b"j").await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        c.wait_closed().await;
        assert!(
            c.screen().contains("maximum session time"),
            "{}",
            c.screen()
        );
        server.stop().await;
    }
}

on_every_database! {
    async fn disabling_a_user_ends_their_open_session() {
        let server = TestServer::start().await;
        let conn = login(&server, "jane").await;
        let mut c = Console::open(&conn, 100, 30, "xterm").await;
        c.wait_for("moat › models").await;
        // From the command line (another process in real life): the session's instance
        // learns it from the database.
        let mut out = Vec::new();
        commands::user_set_active(&server.config, "jane", false, "ops", &mut out)
            .await
            .unwrap();
        c.wait_closed().await;
        assert!(
            c.screen().contains("session ended: account disabled"),
            "{}",
            c.screen()
        );
        server.stop().await;
    }
}

on_every_database! {
    async fn sessions_are_listed_and_ended_from_the_cli_and_the_console() {
        let mut server = TestServer::start_with(|c| c.accounts.step_up_secs = 600, None).await;
        server.add_user("olga", false).await;
        let conn_jane = login(&server, "jane").await;
        let mut jane = Console::open(&conn_jane, 100, 30, "xterm").await;
        jane.wait_for("moat › models").await;

        // `moat sessions` lists it (user, source address, start, idle).
        let mut out = Vec::new();
        commands::sessions_list(&server.config, &mut out)
            .await
            .unwrap();
        let listing = String::from_utf8(out).unwrap();
        let line = listing
            .lines()
            .find(|l| l.contains(" jane "))
            .unwrap_or_else(|| panic!("{listing}"));
        assert!(line.contains("127.0.0.1"), "{listing}");
        let id = line.split_whitespace().next().unwrap().to_string();

        // The superuser screen lists it too, and ends it.
        let conn_admin = login(&server, "admin").await;
        let mut admin = Console::open(&conn_admin, 120, 30, "xterm").await;
        admin.wait_for("post_tags").await;
        admin.keys(&[b":", b"sessions", ENTER]).await;
        admin.wait_for("live sessions").await;
        let screen = admin.wait_for(&id).await;
        assert!(
            screen.contains("jane") && screen.contains("admin"),
            "{screen}"
        );
        // Select jane's row (oldest first; both started within the same second).
        let jane_row = screen.lines().position(|l| l.contains(&id)).unwrap();
        let selected = screen.lines().position(|l| l.contains('▶')).unwrap();
        if jane_row > selected {
            admin.send(DOWN).await;
        }
        admin.send(b"x").await;
        admin.wait_for(&format!("End session {id} of jane?")).await;
        admin.send(b"y").await;
        admin.wait_for(&format!("session {id} of jane ended")).await;
        jane.wait_closed().await;
        assert!(
            jane.screen().contains("session ended: ended by admin"),
            "{}",
            jane.screen()
        );

        // A plain user may not see the list.
        let conn = login(&server, "olga").await;
        let mut olga = Console::open(&conn, 100, 30, "xterm").await;
        olga.wait_for("moat › models").await;
        olga.keys(&[b":", b"sessions", ENTER]).await;
        olga.wait_for("permission denied: only superusers").await;

        // `moat sessions end` ends one from the command line.
        let mut out = Vec::new();
        let olga_id = {
            commands::sessions_list(&server.config, &mut out)
                .await
                .unwrap();
            let listing = String::from_utf8(out).unwrap();
            listing
                .lines()
                .find(|l| l.contains(" olga "))
                .and_then(|l| l.split_whitespace().next())
                .unwrap_or_else(|| panic!("{listing}"))
                .to_string()
        };
        let mut out = Vec::new();
        // A prefix is enough, in either case.
        commands::session_end(
            &server.config,
            &olga_id[..6].to_uppercase(),
            "ops",
            &mut out,
        )
        .await
        .unwrap();
        assert!(String::from_utf8(out).unwrap().contains("of olga ended"));
        olga.wait_closed().await;
        assert!(olga.screen().contains("ended by ops (command line)"));
        let mut out = Vec::new();
        let err = commands::session_end(&server.config, "ffffffff", "ops", &mut out)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no live session"), "{err}");
        server.stop().await;
    }
}

on_every_database! {
    async fn reset_2fa_ends_sessions_and_the_user_enrols_again() {
        let server = TestServer::start().await;
        let conn = login(&server, "jane").await;
        let mut c = Console::open(&conn, 100, 30, "xterm").await;
        c.wait_for("moat › models").await;
        let mut out = Vec::new();
        commands::reset_2fa(&server.config, "jane", "ops", &mut out)
            .await
            .unwrap();
        let otp = one_time_password_in(&String::from_utf8(out).unwrap());
        c.wait_closed().await;
        assert!(c.screen().contains("second factor reset"), "{}", c.screen());
        // The old password and the old app no longer get in; the one-time password enrols.
        let mut old = connect(server.addr).await;
        assert!(
            !ki_login(&mut old, "jane", &[PASSWORD, &server.next_code("jane")])
                .await
                .success
        );
        let (_conn, _c, secret, _) = enrol(&server, "jane", &otp).await;
        assert_ne!(secret, server.secrets["jane"]);
        server.stop().await;
    }
}

on_every_database! {
    async fn console_user_screen_resets_2fa_after_step_up() {
        let server = TestServer::start_with(|c| c.accounts.step_up_secs = 0, None).await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 120, 30, "xterm").await;
        c.wait_for("post_tags").await;
        c.keys(&[b":", b"users", ENTER]).await;
        c.wait_for("jane").await;
        c.keys(&[DOWN, b"t"]).await;
        c.wait_for("Reset the two-factor setup of jane (#").await;
        c.send(b"y").await;
        c.wait_for("Verification code (step-up)").await;
        c.send(server.next_code("admin").as_bytes()).await;
        c.send(ENTER).await;
        c.wait_for("one-time password:").await;
        let device: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM moat_totp_devices d JOIN moat_users u ON u.id = d.user_id \
             WHERE u.username = 'jane'",
        )
        .fetch_one(server.store.pool())
        .await
        .unwrap();
        assert_eq!(device, 0);
        server.stop().await;
    }
}

on_every_database! {
    async fn a_user_created_without_a_device_cannot_log_in_with_password_alone_later() {
        // must_change_password off and no device (e.g. an old row): refused, never
        // password-only.
        let server = TestServer::start().await;
        let phc = moat::auth::password::Hasher::new(TEST_ARGON2)
            .unwrap()
            .hash(PASSWORD)
            .unwrap();
        server
            .store
            .create_user(&NewUser {
                username: "nodev",
                password_hash: &phc,
                is_superuser: false,
                totp_secret: None,
                must_change_password: false,
                password_expires_at: None,
                now: 0,
            })
            .await
            .unwrap();
        let mut conn = connect(server.addr).await;
        assert!(
            !ki_login(&mut conn, "nodev", &[PASSWORD, "123456"])
                .await
                .success
        );
        server.stop().await;
    }
}

on_every_database! {
    async fn a_lockout_caused_by_guesses_does_not_end_the_users_session() {
        let server = TestServer::start_with(
            |c| {
                c.lockout.user_failure_limit = 2;
                c.lockout.failure_limit = 10;
            },
            None,
        )
        .await;
        let conn = login(&server, "jane").await;
        let mut c = Console::open(&conn, 100, 30, "xterm").await;
        c.wait_for("moat › models").await;
        // Someone guesses jane's password until the username locks. Before, this ended
        // her session: a kill switch for anyone who can connect.
        for _ in 0..2 {
            let mut guess = connect(server.addr).await;
            assert!(
                !ki_login(&mut guess, "jane", &["guess", "000000"])
                    .await
                    .success
            );
        }
        let counters = server.store.list_failure_counters().await.unwrap();
        assert!(counters
            .iter()
            .any(|(k, c)| k.username == "jane" && k.ip.is_empty() && c.locked_until.is_some()));
        // Past a poll of the session registry, the session still answers.
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        c.keys(&[b"?"]).await;
        c.wait_for("Keys").await;
        assert!(!c.closed, "{}", c.screen());
        server.stop().await;
    }
}

on_every_database! {
    async fn a_second_session_on_the_same_one_time_password_cannot_take_over() {
        let server = TestServer::start().await;
        let otp = server.add_one_time_user("olive").await;
        // Session A sits on the enrolment screen with the one-time password...
        let mut conn_a = connect(server.addr).await;
        assert!(ki_login(&mut conn_a, "olive", &[&otp]).await.success);
        let mut a = Console::open(&conn_a, 80, 24, "xterm").await;
        a.wait_for("URI:").await;
        let secret_a = secret_of(&qr::decode_screen(&a.rows()).expect("QR"));
        // ...while the real user enrols in session B.
        let (_conn_b, mut b, _secret_b, step) = enrol(&server, "olive", &otp).await;
        a.send(totp::code_at(&secret_a, step).as_bytes()).await;
        a.send(ENTER).await;
        a.wait_for("already set up for this account").await;
        set_password(&mut b, "violet staple orbit 42", "violet staple orbit 42").await;
        b.wait_for("Your account is ready").await;
        // Setting the password ends every other session of the user.
        a.wait_closed().await;
        assert!(a.screen().contains("password changed"), "{}", a.screen());
        server.stop().await;
    }
}

on_every_database! {
    async fn a_session_ends_when_its_user_is_disabled_by_any_means() {
        let server = TestServer::start().await;
        let conn = login(&server, "jane").await;
        let mut c = Console::open(&conn, 100, 30, "xterm").await;
        c.wait_for("moat › models").await;
        // Not through moat at all (a DBA, another tool): the flag alone is enough.
        sqlx::query("UPDATE moat_users SET is_active = FALSE WHERE username = 'jane'")
            .execute(server.store.pool())
            .await
            .unwrap();
        c.wait_closed().await;
        assert!(
            c.screen().contains("session ended: account disabled"),
            "{}",
            c.screen()
        );
        server.stop().await;
    }
}

on_every_database! {
    async fn wrong_enrolment_codes_are_bounded_per_session() {
        let server = TestServer::start().await;
        let otp = server.add_one_time_user("wes").await;
        let mut conn = connect(server.addr).await;
        assert!(ki_login(&mut conn, "wes", &[&otp]).await.success);
        let mut c = Console::open(&conn, 80, 24, "xterm").await;
        c.wait_for("URI:").await;
        for _ in 0..5 {
            c.keys(&[b"000000", ENTER]).await;
            c.wait_for("does not match").await;
            c.settle(Duration::from_millis(50)).await;
        }
        c.keys(&[b"000000", ENTER]).await;
        c.wait_for("too many wrong codes").await;
        let audited: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM moat_audit_log WHERE actor = 'wes' AND action = 'totp_enrol'",
        )
        .fetch_one(server.store.pool())
        .await
        .unwrap();
        assert_eq!(audited, 5);
        server.stop().await;
    }
}

on_every_database! {
    async fn only_superusers_reset_another_users_second_factor() {
        let mut server = TestServer::start_with(|c| c.accounts.step_up_secs = 600, None).await;
        server.add_user("mia", false).await;
        let mut out = Vec::new();
        commands::set_model_perms(
            &server.config,
            &commands::Target::User("mia".into()),
            &["moat.manage_users".into()],
            true,
            "t",
            &mut out,
        )
        .await
        .unwrap();
        let mia = session_actor(&server, "mia").await;
        let reset = moat::tui::Cmd::Manage(moat::tui::protocol::ManageCmd::ResetTwoFactor {
            user: "jane".into(),
        });
        match server.sessions.execute(&mia, reset).await {
            Some(moat::tui::Msg::Failed(why)) => assert!(why.contains("only superusers"), "{why}"),
            other => panic!("{other:?}"),
        }
        server.stop().await;
    }
}
