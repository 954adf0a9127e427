//! The gate and lockout over real SSH: connection caps and rates before the banner,
//! persistent lockout with reset, backup codes, attempts per connection, and a flood.

mod common;

use std::time::Duration;

use common::*;
use moat::commands;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};

/// Connect from `source` (a loopback address) and read what the server says first.
async fn first_bytes(server: &TestServer, source: &str) -> (TcpStream, Vec<u8>) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    let mut stream = socket.connect(server.addr).await.unwrap();
    let mut buf = vec![0u8; 64];
    let n = match tokio::time::timeout(WAIT, stream.read(&mut buf)).await {
        Ok(Ok(n)) => n,
        Ok(Err(_)) => 0, // reset: no bytes either
        Err(_) => panic!("no answer from the server"),
    };
    buf.truncate(n);
    (stream, buf)
}

fn wrong_code(server: &TestServer, user: &str) -> String {
    let right = server.code(user);
    if right == "000000" {
        "111111"
    } else {
        "000000"
    }
    .to_string()
}

#[tokio::test]
async fn lockout_after_the_limit_holds_even_with_the_right_code_until_reset() {
    let server = TestServer::start_with(|c| c.lockout.failure_limit = 3, None).await;
    for _ in 0..3 {
        let mut conn = connect(server.addr).await;
        let o = ki_login(&mut conn, "admin", &["wrong password", "123456"]).await;
        assert!(!o.success);
    }
    // Right password and code, but locked: the very same refusal as a wrong password.
    let mut conn = connect(server.addr).await;
    let code = server.next_code("admin");
    let locked = ki_login(&mut conn, "admin", &[PASSWORD, &code]).await;
    let mut conn = connect(server.addr).await;
    let wrong = ki_login(&mut conn, "admin", &["wrong password", "123456"]).await;
    assert!(!locked.success);
    assert_eq!(locked, wrong);

    // Another user from the same address is not affected by admin's pair lockout.
    let _jane = login(&server, "jane").await;

    let log = server.store.recent_audit(50).await.unwrap();
    let reasons: Vec<_> = log.iter().filter_map(|e| e.reason.clone()).collect();
    assert!(reasons.iter().any(|r| r == "bad password"), "{reasons:?}");
    assert!(
        reasons
            .iter()
            .any(|r| r == "locked: this username from this address"),
        "{reasons:?}"
    );
    assert!(log
        .iter()
        .any(|e| e.action == "lockout" && e.outcome == "started"));

    let mut out = Vec::new();
    commands::lockout_list(&server.config, &mut out)
        .await
        .unwrap();
    let listing = String::from_utf8(out).unwrap();
    assert!(listing.contains("user admin from 127.0.0.1"), "{listing}");
    assert!(listing.contains("UTC"), "shows until when: {listing}");
    assert!(
        listing.contains("lockouts"),
        "shows how many lockouts: {listing}"
    );

    let mut out = Vec::new();
    commands::lockout_reset(&server.config, Some("admin"), None, "tester", &mut out)
        .await
        .unwrap();
    let _admin = login(&server, "admin").await;
    let log = server.store.recent_audit(5).await.unwrap();
    assert!(log
        .iter()
        .any(|e| e.action == "lockout_reset" && e.actor.as_deref() == Some("cli:tester")));
    assert!(log
        .iter()
        .any(|e| e.action == "login" && e.outcome == "success"));
    server.stop().await;
}

#[tokio::test]
async fn a_lockout_survives_a_restart() {
    let server = TestServer::start_with(|c| c.lockout.failure_limit = 2, None).await;
    for _ in 0..2 {
        let mut conn = connect(server.addr).await;
        ki_login(&mut conn, "admin", &["nope", "123456"]).await;
    }
    let server = server.restart().await;
    let mut conn = connect(server.addr).await;
    let code = server.next_code("admin");
    assert!(
        !ki_login(&mut conn, "admin", &[PASSWORD, &code])
            .await
            .success
    );
    server.stop().await;
}

#[tokio::test]
async fn a_backup_code_works_once_and_the_user_sees_how_many_are_left() {
    let server = TestServer::start().await;
    let mut out = Vec::new();
    commands::backup_codes(&server.config, "admin", "tester", &mut out)
        .await
        .unwrap();
    let printed = String::from_utf8(out).unwrap();
    let codes: Vec<&str> = printed.lines().skip(1).map(str::trim).collect();
    assert_eq!(codes.len(), 10, "{printed}");

    let mut conn = connect(server.addr).await;
    assert!(
        ki_login(&mut conn, "admin", &[PASSWORD, codes[0]])
            .await
            .success
    );
    let mut c = Console::open(&conn, 100, 24, "xterm").await;
    c.wait_for("backup code: 9 left").await;

    let mut again = connect(server.addr).await;
    assert!(
        !ki_login(&mut again, "admin", &[PASSWORD, codes[0]])
            .await
            .success
    );
    let log = server.store.recent_audit(10).await.unwrap();
    assert!(log
        .iter()
        .any(|e| e.action == "backup_code" && e.outcome == "used"));
    assert!(log
        .iter()
        .any(|e| e.action == "backup_codes" && e.outcome == "generated"));
    server.stop().await;
}

#[tokio::test]
async fn the_third_failed_attempt_closes_the_connection() {
    let server = TestServer::start().await;
    let mut conn = connect(server.addr).await;
    let code = wrong_code(&server, "admin");
    for _ in 0..2 {
        assert!(!ki_login(&mut conn, "admin", &["nope", &code]).await.success);
        assert!(!conn.is_closed());
    }
    assert!(!ki_login(&mut conn, "admin", &["nope", &code]).await.success);
    let deadline = tokio::time::Instant::now() + WAIT;
    while !conn.is_closed() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still open after 3 failures"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn unauthenticated_connections_are_capped_per_source() {
    let server = TestServer::start_with(
        |c| {
            c.allowlist = vec!["127.0.0.0/8".into()];
            c.limits.max_preauth_per_source = 2;
        },
        None,
    )
    .await;
    let (first, banner) = first_bytes(&server, "127.0.0.2").await;
    assert_eq!(banner, b"SSH-2.0-moat\r\n");
    let (_second, banner) = first_bytes(&server, "127.0.0.2").await;
    assert!(!banner.is_empty());
    let (_third, nothing) = first_bytes(&server, "127.0.0.2").await;
    assert!(
        nothing.is_empty(),
        "third unauthenticated connection got {nothing:?}"
    );
    // Other sources are not affected, and a slot frees when a connection ends.
    let (_other, banner) = first_bytes(&server, "127.0.0.3").await;
    assert!(!banner.is_empty());
    drop(first);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_again, banner) = first_bytes(&server, "127.0.0.2").await;
    assert!(!banner.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn new_connections_are_rate_limited_per_source() {
    let server = TestServer::start_with(
        |c| {
            c.allowlist = vec!["127.0.0.0/8".into()];
            c.limits.per_source_per_minute = 3;
        },
        None,
    )
    .await;
    for _ in 0..3 {
        let (_s, banner) = first_bytes(&server, "127.0.0.4").await;
        assert!(!banner.is_empty());
    }
    let (_s, nothing) = first_bytes(&server, "127.0.0.4").await;
    assert!(nothing.is_empty());
    let (_s, banner) = first_bytes(&server, "127.0.0.5").await;
    assert!(!banner.is_empty(), "another source still gets in");
    server.stop().await;
}

/// Log in from 127.0.0.1 while `attackers` tasks hammer wrong passwords from 127.0.0.2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_flood_neither_locks_out_nor_starves_a_legitimate_user() {
    let server = TestServer::start_with(
        |c| {
            c.allowlist = vec!["127.0.0.0/8".into()];
            c.limits.per_source_per_minute = 10_000;
            c.limits.max_preauth_per_source = 1_000;
            c.limits.global_per_second = 10_000;
        },
        None,
    )
    .await;
    let addr = server.addr;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut attackers = Vec::new();
    for i in 0..50 {
        let stop = stop.clone();
        attackers.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let socket = TcpSocket::new_v4().unwrap();
                socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
                let Ok(stream) = socket.connect(addr).await else {
                    continue;
                };
                let config = std::sync::Arc::new(russh::client::Config::default());
                let Ok(mut conn) = russh::client::connect_stream(config, stream, TrustAll).await
                else {
                    continue;
                };
                for _ in 0..3 {
                    if conn.is_closed() {
                        break;
                    }
                    let _ = tokio::time::timeout(
                        Duration::from_secs(5),
                        ki_login(&mut conn, &format!("mallory{i}"), &["guess", "000000"]),
                    )
                    .await;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for _ in 0..2 {
        let started = std::time::Instant::now();
        let conn = login(&server, "admin").await;
        // Generous: a functional bound (the figure itself is in BENCHMARKS.md).
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        disconnect(conn).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for a in attackers {
        a.abort();
    }
    // The flooding address got locked; the legitimate one did not.
    let counters = server.store.list_failure_counters().await.unwrap();
    assert!(counters
        .iter()
        .any(|(k, c)| k.ip == "127.0.0.2" && k.username.is_empty() && c.locked_until.is_some()));
    assert!(!counters.iter().any(|(k, _)| k.ip == "127.0.0.1"));
    server.stop().await;
}
