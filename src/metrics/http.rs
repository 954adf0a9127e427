//! The metrics endpoint: `GET /metrics` (and `HEAD`) answered with the Prometheus text
//! format, anything else with 404 or 405, one request per connection.
//!
//! It binds only `metrics_listen` and serves nothing but the metrics: no file, no other
//! path, no echo of what the client sent. A request must arrive whole within
//! [`REQUEST_WAIT`] and fit in [`MAX_REQUEST`] bytes, and at most [`MAX_CONNECTIONS`] are
//! served at once (more are closed at once), so the endpoint cannot hold moat's memory
//! or tasks hostage.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::Metrics;

/// The longest request head read.
pub const MAX_REQUEST: usize = 8 * 1024;
/// How long a client has to send its request and read the answer.
pub const REQUEST_WAIT: Duration = Duration::from_secs(5);
/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 16;

/// Serve `metrics` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    metrics: &'static Metrics,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics endpoint: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            continue; // dropped: closed at once
        };
        tokio::spawn(async move {
            let _ = tokio::time::timeout(REQUEST_WAIT, answer(stream, metrics)).await;
            drop(slot);
        });
    }
}

/// Read one request head and answer it.
async fn answer(mut stream: TcpStream, metrics: &Metrics) -> std::io::Result<()> {
    let mut buf = vec![0u8; MAX_REQUEST];
    let mut len = 0;
    let response = loop {
        let n = stream.read(&mut buf[len..]).await?;
        if n == 0 {
            return Ok(());
        }
        len += n;
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&buf[..len]) {
            Ok(httparse::Status::Complete(_)) => {
                break respond(request.method, request.path, metrics);
            }
            Ok(httparse::Status::Partial) if len < buf.len() => continue,
            // Malformed, or a head larger than we read.
            _ => break reply(400, "Bad Request", "text/plain", "bad request\n", true),
        }
    };
    stream.write_all(&response).await?;
    stream.shutdown().await
}

/// The answer to `method` `path`.
fn respond(method: Option<&str>, path: Option<&str>, metrics: &Metrics) -> Vec<u8> {
    // A query string is ignored; the path itself must be exactly /metrics.
    let path = path.map(|p| p.split_once('?').map_or(p, |(p, _)| p));
    match (method, path) {
        (Some(m @ ("GET" | "HEAD")), Some("/metrics")) => reply(
            200,
            "OK",
            prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            &metrics.encode(),
            m == "GET",
        ),
        (Some("GET" | "HEAD"), _) => reply(404, "Not Found", "text/plain", "not found\n", true),
        _ => reply(
            405,
            "Method Not Allowed",
            "text/plain",
            "only GET /metrics\n",
            true,
        ),
    }
}

fn reply(status: u16, reason: &str, content_type: &str, body: &str, with_body: bool) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n",
        body.len()
    );
    if status == 405 {
        out.push_str("Allow: GET, HEAD\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if with_body {
        bytes.extend_from_slice(body.as_bytes());
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn ask(addr: std::net::SocketAddr, request: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(request).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn serves_get_metrics_and_nothing_else() {
        let metrics: &'static Metrics = Box::leak(Box::new(Metrics::new()));
        metrics.login(super::super::Login::Success);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, metrics, async {
            let _ = stopped.await;
        }));

        let ok = ask(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.contains("text/plain; version=0.0.4"), "{ok}");
        assert!(
            ok.contains("moat_logins_total{outcome=\"success\"} 1"),
            "{ok}"
        );

        let head = ask(addr, b"HEAD /metrics HTTP/1.1\r\n\r\n").await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(!head.contains("moat_logins_total"), "{head}");

        for (request, status) in [
            (&b"GET / HTTP/1.1\r\n\r\n"[..], "404"),
            (b"GET /metrics/../etc/passwd HTTP/1.1\r\n\r\n", "404"),
            (b"GET /metricsx HTTP/1.1\r\n\r\n", "404"),
            (
                b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
                "405",
            ),
            (
                b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
                "400",
            ),
        ] {
            let answer = ask(addr, request).await;
            assert!(
                answer.starts_with(&format!("HTTP/1.1 {status} ")),
                "{request:?}: {answer}"
            );
            assert!(!answer.contains("moat_"), "{answer}");
        }
        // A head that never ends within MAX_REQUEST is refused, not buffered forever.
        let mut long = b"GET /metrics HTTP/1.1\r\nX: ".to_vec();
        long.resize(MAX_REQUEST, b'a');
        let answer = ask(addr, &long).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");

        stop.send(()).unwrap();
        server.await.unwrap();
    }
}
