//! The accept thread: it serves the listener while the server runs, and lets go of it
//! (the port refuses connections) once the server shuts down or its task is dropped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use moat::commands;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

#[tokio::test]
async fn the_listener_is_released_on_shutdown_and_when_the_server_task_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path());
    let store = commands::open_store(&config).await.unwrap();
    let built = commands::build(&config, store).await.unwrap();
    for abort in [false, true] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(Arc::clone(&built.server).serve(listener, async move {
            let _ = rx.await;
        }));
        let mut s = TcpStream::connect(addr).await.unwrap();
        let mut banner = [0u8; 14];
        s.read_exact(&mut banner).await.unwrap();
        assert_eq!(&banner, b"SSH-2.0-moat\r\n");
        drop(s);
        if abort {
            task.abort();
            let _ = task.await;
        } else {
            tx.send(()).unwrap();
            task.await.unwrap().unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match TcpStream::connect(addr).await {
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
                _ if Instant::now() > deadline => {
                    panic!("port still open after the server stopped (abort: {abort})")
                }
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
}
