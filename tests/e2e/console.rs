//! End to end over real SSH: the russh client logs in through keyboard-interactive,
//! opens a pty, types keys, and reads the screen through a vt100 emulator.

use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use tokio::io::AsyncReadExt;
use tokio::net::TcpSocket;

const DOWN: &[u8] = b"j";
const ENTER: &[u8] = b"\r";
const ESC: &[u8] = b"\x1b";

/// Open the `posts` model from the index (authors, comments, post_tags, posts, tags).
async fn open_posts(c: &mut Console) {
    c.wait_for("post_tags").await;
    c.keys(&[DOWN, DOWN, DOWN, ENTER]).await;
    c.wait_for("row 1 of 2,000").await;
}

on_every_database! {
    async fn login_browse_detail_back_and_quit() {
        let server = TestServer::start().await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 80, 24, "xterm-256color").await;

        let index = c.wait_for("post_tags").await;
        for model in ["authors", "comments", "post_tags", "posts", "tags"] {
            assert!(
                index.contains(model),
                "{model} missing from index:\n{index}"
            );
        }
        assert!(
            !index.contains("moat_"),
            "moat's own tables are not models:\n{index}"
        );
        assert!(index.contains("admin"), "the user is shown:\n{index}");
        c.wait_for("2,000").await; // row counts arrive

        open_posts(&mut c).await;
        let list = c.wait_for("When Kafka is the wrong answer").await;
        assert!(
            list.contains("author_id") && list.contains("title"),
            "{list}"
        );

        // Row 3 is the post with a zero-width space in its title: shown escaped.
        c.keys(&[DOWN, DOWN, ENTER]).await;
        let detail = c.wait_for("body").await;
        assert!(detail.contains(r"Zero\u{200b}-width spaces"), "{detail}");
        c.send(b"G").await; // scroll to the last field
        c.wait_for("published_at").await;

        c.send(ESC).await;
        c.wait_for("row 3 of 2,000").await;
        c.send(b"G").await;
        c.wait_for("row 2,000 of 2,000").await;
        c.send(b"g").await;
        c.wait_for("row 1 of 2,000").await;
        c.send(ESC).await;
        c.wait_for("Columns").await;
        c.send(b"q").await;
        c.wait_closed().await;
        assert_eq!(c.exit_status, Some(0));
        server.stop().await;
    }
}

on_every_database! {
    async fn null_is_shown_distinctly_and_long_text_wraps() {
        let server = TestServer::start().await;
        let (id,): (i64,) = sqlx::query_as("SELECT MIN(id) FROM authors WHERE bio IS NULL")
            .fetch_one(server.store.pool())
            .await
            .unwrap();
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 80, 24, "xterm").await;
        c.wait_for("authors").await;
        c.send(ENTER).await;
        c.wait_for("row 1 of 200").await;
        for _ in 1..id {
            c.send(DOWN).await;
        }
        c.wait_for(&format!("row {id} of 200")).await;
        c.send(ENTER).await;
        let detail = c.wait_for("joined_at").await;
        assert!(detail.contains("∅ NULL"), "{detail}");

        // A post body is several hundred characters: wrapped over several lines, no line
        // longer than the terminal.
        c.keys(&[ESC, ESC]).await;
        c.wait_for("Columns").await;
        open_posts(&mut c).await;
        c.send(ENTER).await;
        let detail = c.wait_for("body").await;
        let body_lines = detail
            .lines()
            .skip_while(|l| !l.contains("body"))
            .take_while(|l| !l.contains("status"))
            .count();
        assert!(detail.lines().all(|l| l.chars().count() <= 80));
        assert!(body_lines >= 4, "body should wrap over lines:\n{detail}");
        server.stop().await;
    }
}

on_every_database! {
    async fn hostile_text_is_escaped_not_interpreted() {
        let server = TestServer::start().await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 120, 30, "xterm").await;
        c.wait_for("comments").await;
        c.keys(&[DOWN, ENTER]).await;
        // Comment 2's body holds ESC [2J ESC [31m: it must show as text, not clear the screen.
        let list = c.wait_for(r"\x1b[2J").await;
        assert!(
            list.contains("moat › models › comments"),
            "title survived:\n{list}"
        );
        assert!(list.contains(r"\x1b[31mgotcha"), "{list}");
        assert!(
            !c.received.windows(4).any(|w| w == b"\x1b[31"),
            "the database's escape sequence reached the terminal"
        );
        server.stop().await;
    }
}

on_every_database! {
    async fn refusals_look_the_same_whichever_factor_failed() {
        let server = TestServer::start().await;
        let code = server.code("admin");
        let wrong_code = if code == "000000" { "111111" } else { "000000" };

        let mut outcomes = Vec::new();
        for (user, answers) in [
            ("admin", vec!["wrong password", code.as_str()]),
            ("admin", vec![PASSWORD, wrong_code]),
            ("nobody", vec![PASSWORD, code.as_str()]),
        ] {
            let mut conn = connect(server.addr).await;
            outcomes.push(ki_login(&mut conn, user, &answers).await);
        }
        for o in &outcomes {
            assert!(!o.success, "{o:?}");
            assert_eq!(
                o.prompts,
                vec!["Password: ", "Verification code: "],
                "{o:?}"
            );
        }
        assert_eq!(outcomes[0], outcomes[1], "wrong password vs wrong code");
        assert_eq!(outcomes[0], outcomes[2], "wrong password vs unknown user");
        server.stop().await;
    }
}

on_every_database! {
    async fn password_method_gets_partial_success_then_code() {
        let server = TestServer::start().await;
        let mut conn = connect(server.addr).await;
        let r = conn.authenticate_password("admin", PASSWORD).await.unwrap();
        match r {
            russh::client::AuthResult::Failure {
                partial_success,
                remaining_methods,
            } => {
                assert!(partial_success);
                assert!(format!("{remaining_methods:?}").contains("KeyboardInteractive"));
            }
            other => panic!("expected partial success, got {other:?}"),
        }
        let code = server.next_code("admin");
        let outcome = ki_login(&mut conn, "admin", &[&code]).await;
        assert_eq!(outcome.prompts, vec!["Verification code: "]);
        assert!(outcome.success);

        // A wrong password gets the very same answer (no password oracle); the refusal
        // comes only after the code.
        let mut conn = connect(server.addr).await;
        let r = conn.authenticate_password("admin", "nope").await.unwrap();
        assert!(matches!(
            r,
            russh::client::AuthResult::Failure {
                partial_success: true,
                ..
            }
        ));
        let code = server.next_code("admin");
        let outcome = ki_login(&mut conn, "admin", &[&code]).await;
        assert_eq!(outcome.prompts, vec!["Verification code: "]);
        assert!(!outcome.success);
        server.stop().await;
    }
}

on_every_database! {
    async fn a_code_cannot_be_used_twice() {
        let server = TestServer::start().await;
        let code = server.next_code("admin");
        let mut first = connect(server.addr).await;
        assert!(
            ki_login(&mut first, "admin", &[PASSWORD, &code])
                .await
                .success
        );
        let mut second = connect(server.addr).await;
        let replay = ki_login(&mut second, "admin", &[PASSWORD, &code]).await;
        assert!(!replay.success, "replayed code accepted");
        server.stop().await;
    }
}

on_every_database! {
    async fn resize_relays_out_at_once_from_80x24_to_250x70() {
        let server = TestServer::start().await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 80, 24, "xterm-256color").await;
        c.wait_for("post_tags").await;
        open_posts(&mut c).await;
        let narrow = c.screen();
        assert!(
            !narrow.contains("view_count"),
            "80 columns cannot show every column:\n{narrow}"
        );

        c.resize(250, 70).await;
        let wide = c
            .wait_until("the wide layout", |s| {
                s.lines().next().is_some_and(|l| l.trim_end().len() > 200)
            })
            .await;
        assert!(
            wide.contains("view_count"),
            "250 columns show more columns:\n{wide}"
        );
        assert!(
            wide.lines().nth(60).is_some_and(|l| !l.trim().is_empty()),
            "rows fill 70 lines:\n{wide}"
        );

        c.resize(80, 24).await;
        c.wait_until("the narrow layout again", |s| {
            s.lines()
                .next()
                .is_some_and(|l| l.trim_end().ends_with("admin") && l.trim_end().chars().count() <= 80)
        })
        .await;
        server.stop().await;
    }
}

on_every_database! {
    async fn monochrome_terminals_get_no_colour() {
        let server = TestServer::start().await;
        let conn = login(&server, "admin").await;
        let mut mono = Console::open(&conn, 80, 24, "vt100").await;
        mono.wait_for("post_tags").await;
        mono.settle(Duration::from_millis(200)).await;
        let text = String::from_utf8_lossy(&mono.received).to_string();
        assert!(
            !text.contains(";44m") && !text.contains(";34"),
            "colour codes sent to a vt100"
        );
        assert!(
            text.contains("\x1b[0;1;7m") || text.contains("\x1b[0;7m"),
            "bars use reverse video"
        );

        let conn = login(&server, "admin").await;
        let mut colour = Console::open(&conn, 80, 24, "xterm-256color").await;
        colour.wait_for("post_tags").await;
        colour.settle(Duration::from_millis(200)).await;
        assert!(String::from_utf8_lossy(&colour.received).contains(";44m"));
        server.stop().await;
    }
}

on_every_database! {
    async fn help_and_a_zero_size_pty() {
        let server = TestServer::start().await;
        let conn = login(&server, "admin").await;
        // OpenSSH without a local tty asks for 0x0: moat draws at 80x24.
        let mut c = Console::open(&conn, 0, 0, "").await;
        c.parser.screen_mut().set_size(24, 80);
        c.wait_for("post_tags").await;
        c.send(b"?").await;
        let help = c.wait_for("any key closes").await;
        assert!(help.contains("Enter") && help.contains("Ctrl-C"), "{help}");
        c.send(b"x").await;
        c.wait_until("help closed", |s| !s.contains("any key closes"))
            .await;
        server.stop().await;
    }
}

on_every_database! {
    async fn sources_outside_the_allowlist_get_no_banner() {
        let server = TestServer::start_with(|c| c.allowlist = vec!["127.0.0.1/32".into()], None).await;
        // Allowed: the banner names no version.
        let mut ok = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let mut buf = [0u8; 64];
        let n = ok.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"SSH-2.0-moat\r\n");

        // 127.0.0.2 is loopback too, but not allowed: closed without a byte.
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        // (Reset before the client's connect returns, or right after.)
        if let Ok(mut denied) = socket.connect(server.addr).await {
            let read = tokio::time::timeout(WAIT, denied.read(&mut buf))
                .await
                .unwrap();
            assert!(
                matches!(read, Ok(0) | Err(_)),
                "denied source got bytes: {read:?}"
            );
        }
        server.stop().await;
    }
}

on_every_database! {
    async fn login_grace_closes_idle_unauthenticated_connections() {
        let server = TestServer::start_with(|c| c.login_grace_secs = 1, None).await;
        let mut conn = connect(server.addr).await;
        // Authenticated connections are not affected: a logged-in one stays.
        let logged_in = login(&server, "admin").await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let after = conn.authenticate_none("admin").await;
        assert!(
            after.is_err(),
            "connection should be closed after the grace time: {after:?}"
        );
        let mut c = Console::open(&logged_in, 80, 24, "xterm").await;
        c.wait_for("post_tags").await;
        server.stop().await;
    }
}

on_every_database! {
    async fn a_panicking_session_ends_alone() {
        // The tap panics the session that sends NUL (Ctrl-Space); nothing else is touched.
        let tap: moat::session::InputTap = Arc::new(|bytes: &[u8]| {
            if bytes.contains(&0) {
                panic!("injected fault");
            }
        });
        let server = TestServer::start_with(|_| {}, Some(tap)).await;
        let a = login(&server, "admin").await;
        let b = login(&server, "admin").await;
        let mut ca = Console::open(&a, 80, 24, "xterm").await;
        let mut cb = Console::open(&b, 80, 24, "xterm").await;
        ca.wait_for("post_tags").await;
        cb.wait_for("post_tags").await;

        ca.send(b"\0").await;
        ca.wait_closed().await;
        assert!(String::from_utf8_lossy(&ca.received).contains("internal error"));

        // The other session still works, and new logins too.
        cb.send(ENTER).await;
        cb.wait_for("row 1 of 200").await;
        let c = login(&server, "jane").await;
        let mut cc = Console::open(&c, 80, 24, "xterm").await;
        cc.wait_for("no permission on any of them").await;
        server.stop().await;
    }
}

on_every_database! {
    async fn users_without_permissions_see_no_models() {
        let server = TestServer::start().await;
        let conn = login(&server, "jane").await;
        let mut c = Console::open(&conn, 80, 24, "xterm").await;
        c.wait_for("no permission on any of them").await;
        server.stop().await;
    }
}
