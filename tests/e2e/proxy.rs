//! PROXY protocol v2 from a TCP load balancer: moat gates, limits, locks out and audits
//! the client the header names; a header from anyone else, or none from a proxy that
//! must send one, closes the connection before the SSH banner.

use std::sync::Arc;

use crate::common::*;
use moat::gate::proxy;
use russh::client;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A server behind a "load balancer" on 127.0.0.1, allowing clients 10.9.9.9 and the
/// loopback /8 (but not 10.8.8.8).
async fn behind_proxy(required: bool) -> TestServer {
    TestServer::start_with(
        |c| {
            c.trusted_proxies = vec!["127.0.0.1/32".into()];
            c.proxy_header_required = required;
            c.allowlist = vec!["10.9.9.9/32".into(), "127.0.0.0/8".into()];
            c.lockout.failure_limit = 2;
        },
        None,
    )
    .await
}

/// Connect from `source` and send `first` before anything else.
async fn dial(server: &TestServer, source: &str, first: &[u8]) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    let mut stream = socket.connect(server.addr).await.unwrap();
    stream.write_all(first).await.unwrap();
    stream
}

/// Everything the server sends until it closes (a reset counts as a close).
async fn until_closed(mut stream: TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        match tokio::time::timeout(WAIT, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return got,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("connection still open; got {got:?}"),
        }
    }
}

fn header_for(client: &str, server: &TestServer) -> Vec<u8> {
    proxy::encode(client.parse().unwrap(), server.addr)
}

/// An SSH login through the "proxy" (127.0.0.1) on behalf of `client`.
async fn login_via_proxy(
    server: &TestServer,
    client: &str,
    user: &str,
    password: &str,
    code: &str,
) -> (Conn, KiOutcome) {
    let stream = dial(server, "127.0.0.1", &header_for(client, server)).await;
    let config = Arc::new(client::Config {
        nodelay: true,
        ..client::Config::default()
    });
    let mut conn = client::connect_stream(config, stream, TrustAll)
        .await
        .expect("handshake through the proxy");
    let outcome = ki_login(&mut conn, user, &[password, code]).await;
    (conn, outcome)
}

#[tokio::test]
async fn the_client_named_by_a_trusted_proxy_is_who_moat_sees() {
    let server = behind_proxy(true).await;
    let (_conn, ok) = login_via_proxy(
        &server,
        "10.9.9.9:40000",
        "jane",
        PASSWORD,
        &server.next_code("jane"),
    )
    .await;
    assert!(ok.success, "{ok:?}");
    let source: String = sqlx::query_scalar(
        "SELECT source_ip FROM moat_audit_log WHERE action = 'login' AND outcome = 'success' \
         ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(server.store.pool())
    .await
    .unwrap();
    assert_eq!(source, "10.9.9.9");

    // Failures are counted, and lock out, under the client's address, not the proxy's.
    for _ in 0..2 {
        let (_c, o) = login_via_proxy(&server, "10.9.9.9:40001", "admin", "wrong", "1").await;
        assert!(!o.success);
    }
    let locked: Vec<String> = sqlx::query_scalar(
        "SELECT ip FROM moat_auth_failures WHERE username = 'admin' AND locked_until IS NOT NULL",
    )
    .fetch_all(server.store.pool())
    .await
    .unwrap();
    assert_eq!(locked, ["10.9.9.9"]);
    // admin from another client behind the same proxy is not locked out.
    let (_c, other) = login_via_proxy(
        &server,
        "127.0.0.5:40002",
        "admin",
        PASSWORD,
        &server.next_code("admin"),
    )
    .await;
    assert!(other.success, "{other:?}");
    server.stop().await;
}

#[tokio::test]
async fn the_allowlist_applies_to_the_client_before_the_banner() {
    let server = behind_proxy(true).await;
    let stream = dial(&server, "127.0.0.1", &header_for("10.8.8.8:1234", &server)).await;
    assert_eq!(until_closed(stream).await, b"", "no banner for 10.8.8.8");
    server.stop().await;
}

#[tokio::test]
async fn a_trusted_proxy_without_a_header_is_closed_when_one_is_required() {
    let server = behind_proxy(true).await;
    let stream = dial(&server, "127.0.0.1", b"SSH-2.0-OpenSSH_9.6\r\n").await;
    assert_eq!(until_closed(stream).await, b"");
    server.stop().await;

    // Not required: the proxy's own connection is served as itself.
    let server = behind_proxy(false).await;
    let conn = login(&server, "jane").await;
    disconnect(conn).await;
    server.stop().await;
}

#[tokio::test]
async fn a_header_from_an_untrusted_source_closes_the_connection() {
    let server = behind_proxy(true).await;
    // 127.0.0.2 is allowed to connect, but it is not a trusted proxy.
    let stream = dial(&server, "127.0.0.2", &header_for("10.9.9.9:1", &server)).await;
    let config = Arc::new(client::Config::default());
    let refused = client::connect_stream(config, stream, TrustAll).await;
    assert!(refused.is_err(), "the SSH handshake must not go on");
    let raw = dial(&server, "127.0.0.2", &header_for("10.9.9.9:1", &server)).await;
    let got = until_closed(raw).await;
    // At most the identification line went out before the header was seen.
    assert!(
        got.is_empty() || got.starts_with(b"SSH-2.0-moat"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    let failures: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM moat_auth_failures")
        .fetch_one(server.store.pool())
        .await
        .unwrap();
    assert_eq!(failures, 0);
    server.stop().await;
}
