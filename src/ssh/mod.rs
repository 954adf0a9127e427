//! The SSH front: accept TCP, ask the gate, run russh on allowed connections, and bound
//! the time a connection may take to log in.
//!
//! Thin by design: authentication decisions live in `auth`, the console in `session`.
//! [`serve`] takes a bound listener (tests bind port 0) and a shutdown future.

mod channel;
mod handler;
pub mod hostkey;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use russh::keys::PrivateKey;
use russh::server::Config as SshConfig;
use russh::{MethodKind, MethodSet, SshId};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

pub use handler::{CODE_PROMPT, PASSWORD_PROMPT};

use crate::auth::AuthService;
use crate::gate::Allowlist;
use crate::session;

/// Identification string: no version to fingerprint.
pub const SERVER_ID: &str = "SSH-2.0-moat";

/// Everything the SSH front needs.
pub struct Server {
    pub ssh: Arc<SshConfig>,
    pub allowlist: Allowlist,
    pub login_grace: Duration,
    pub auth: AuthService,
    pub sessions: Arc<session::Context>,
}

/// russh settings for moat: our id string, password/keyboard-interactive only, equal
/// rejection time (the initial `none` probe answered at once).
pub fn ssh_config(host_key: PrivateKey, auth_rejection: Duration) -> SshConfig {
    SshConfig {
        server_id: SshId::Standard(SERVER_ID.into()),
        methods: MethodSet::from(&[MethodKind::KeyboardInteractive, MethodKind::Password][..]),
        auth_rejection_time: auth_rejection,
        auth_rejection_time_initial: Some(Duration::ZERO),
        keys: vec![host_key],
        max_auth_attempts: 6,
        keepalive_interval: Some(Duration::from_secs(60)),
        keepalive_max: 3,
        ..SshConfig::default()
    }
}

impl Server {
    /// Accept connections until `shutdown` completes. A connection from outside the
    /// allow-list is dropped before a single byte is written.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                _ = &mut shutdown => return Ok(()),
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            if !self.allowlist.allows(peer.ip()) {
                tracing::debug!(%peer, "source not in allowlist; dropped before banner");
                drop(stream);
                continue;
            }
            // russh applies `nodelay` only to sockets it accepts itself.
            if let Err(e) = stream.set_nodelay(true) {
                tracing::debug!(%peer, error = %e, "set_nodelay failed");
            }
            tokio::spawn(Arc::clone(&self).connection(stream, peer));
        }
    }

    /// Run one allowed connection; close it if it has not logged in within the grace time.
    async fn connection(self: Arc<Self>, stream: TcpStream, peer: SocketAddr) {
        let deadline = tokio::time::Instant::now() + self.login_grace;
        let (authed_tx, authed_rx) = oneshot::channel();
        let handler = handler::Handler::new(
            peer,
            self.auth.clone(),
            Arc::clone(&self.sessions),
            authed_tx,
        );
        let started = tokio::time::timeout_at(
            deadline,
            russh::server::run_stream(Arc::clone(&self.ssh), stream, handler),
        )
        .await;
        let running = match started {
            Ok(Ok(running)) => running,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "ssh handshake failed");
                return;
            }
            Err(_) => {
                tracing::info!(%peer, "login grace time expired before the handshake");
                return;
            }
        };
        let handle = running.handle();
        tokio::pin!(running);
        tokio::select! {
            result = &mut running => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended before login");
                }
                return;
            }
            authed = tokio::time::timeout_at(deadline, authed_rx) => {
                if !matches!(authed, Ok(Ok(()))) {
                    tracing::info!(%peer, "login grace time expired; closing");
                    let _ = handle
                        .disconnect(
                            russh::Disconnect::ByApplication,
                            "login grace time expired".into(),
                            String::new(),
                        )
                        .await;
                }
            }
        }
        if let Err(e) = running.await {
            tracing::debug!(%peer, error = %e, "connection ended");
        }
    }
}
