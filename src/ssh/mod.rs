//! The SSH front: accept TCP, ask the gate, run russh on allowed connections, and bound
//! the time a connection may take to log in.
//!
//! Thin by design: authentication decisions live in `auth`, the console in `session`.
//! [`serve`] takes a bound listener (tests bind port 0) and a shutdown future.

mod channel;
mod handler;
pub mod hostkey;
mod proxy;
mod quickack;
mod sftp;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use russh::keys::PrivateKey;
use russh::server::Config as SshConfig;
use russh::{MethodKind, MethodSet, SshId};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

pub use handler::{CODE_PROMPT, PASSWORD_PROMPT};

use crate::auth::lockout::Policy;
use crate::auth::AuthService;
use crate::config::{Config, ConfigError};
use crate::gate::{Allowlist, Gate, LogThrottle, Preauth, PreauthGuard};
use crate::session;

/// A socket accepted by the std listener, handed to tokio. russh applies `nodelay` only
/// to sockets it accepts itself.
fn tokio_stream(stream: std::net::TcpStream) -> std::io::Result<TcpStream> {
    stream.set_nonblocking(true)?;
    stream.set_nodelay(true)?;
    TcpStream::from_std(stream)
}

/// How long a client may keep its connection after its session's channel closed before
/// moat disconnects it (a stock client closes at once, and then exits with the session's
/// status rather than with a disconnect).
const CLIENT_CLOSE_WAIT: Duration = Duration::from_secs(2);

/// How long a shutdown waits for sessions to close.
pub const DRAIN: Duration = Duration::from_secs(10);

/// How long a connection refused at login may take to close after being told why.
const DISCONNECT_WAIT: Duration = Duration::from_secs(1);

/// Identification string: no version to fingerprint.
pub const SERVER_ID: &str = "SSH-2.0-moat";

/// Ends the accept thread when dropped (shutdown, or the serving task dropped): a
/// listening socket shut down for reading makes a blocked `accept` return at once.
struct AcceptStop {
    stopping: Arc<std::sync::atomic::AtomicBool>,
    socket: socket2::Socket,
}

impl Drop for AcceptStop {
    fn drop(&mut self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::Release);
        let _ = self.socket.shutdown(std::net::Shutdown::Read);
    }
}

/// The settings a config reload (SIGHUP) may change without dropping sessions.
#[derive(Debug)]
pub struct Live {
    pub gate: Gate,
    pub login_grace: Duration,
    /// How long an authenticated connection may take to ask for its console.
    pub shell_grace: Duration,
    pub max_auth_tries: u32,
    /// Load balancers whose connections start with a PROXY v2 header.
    pub trusted_proxies: Allowlist,
    pub proxy_header_required: bool,
}

impl Live {
    pub fn from_config(config: &Config) -> Result<Live, ConfigError> {
        let v = config.validate()?;
        Ok(Live {
            gate: Gate::new(Allowlist::new(v.allowlist), &config.limits),
            login_grace: v.login_grace,
            shell_grace: v.shell_grace,
            max_auth_tries: config.max_auth_tries,
            trusted_proxies: Allowlist::new(v.trusted_proxies),
            proxy_header_required: config.proxy_header_required,
        })
    }
}

/// How the login phase of a connection ended (told by the handler).
#[derive(Debug)]
pub enum LoginEnd {
    /// Both factors passed; the session is registered and watched from here on.
    Authenticated(session::Watch),
    TooManyFailures,
}

/// The SSH front.
pub struct Server {
    pub ssh: Arc<SshConfig>,
    pub auth: AuthService,
    pub sessions: Arc<session::Context>,
    live: RwLock<Arc<Live>>,
    preauth: Arc<Preauth>,
    refusals: LogThrottle,
}

/// russh settings for moat: our id string, password/keyboard-interactive (and publickey
/// first when a login rule takes keys), equal rejection time (the initial `none` probe
/// answered at once). Attempts per connection are counted by moat itself (russh would
/// count the `none` probe too).
pub fn ssh_config(host_key: PrivateKey, auth_rejection: Duration, publickey: bool) -> SshConfig {
    let methods: &[MethodKind] = if publickey {
        &[
            MethodKind::PublicKey,
            MethodKind::KeyboardInteractive,
            MethodKind::Password,
        ]
    } else {
        &[MethodKind::KeyboardInteractive, MethodKind::Password]
    };
    SshConfig {
        server_id: SshId::Standard(SERVER_ID.into()),
        methods: MethodSet::from(methods),
        auth_rejection_time: auth_rejection,
        auth_rejection_time_initial: Some(Duration::ZERO),
        keys: vec![host_key],
        max_auth_attempts: 20,
        keepalive_interval: Some(Duration::from_secs(60)),
        keepalive_max: 3,
        ..SshConfig::default()
    }
}

impl Server {
    pub fn new(
        ssh: Arc<SshConfig>,
        auth: AuthService,
        sessions: Arc<session::Context>,
        live: Live,
    ) -> Server {
        Server {
            ssh,
            auth,
            sessions,
            live: RwLock::new(Arc::new(live)),
            preauth: Arc::new(Preauth::default()),
            refusals: LogThrottle::new(Duration::from_secs(10)),
        }
    }

    /// Apply a new configuration's live settings (allow-list, limits, lockout policy,
    /// login grace, attempts per connection). Connections already open keep going. On an
    /// invalid config nothing changes and the error is returned.
    pub fn reload(&self, config: &Config) -> Result<(), ConfigError> {
        // Everything is read and checked before anything changes: a bad CA file keeps the
        // old settings whole.
        let live = Live::from_config(config)?;
        let key_rules = crate::auth::keys::KeyRules::load(config)?;
        self.auth.set_policy(Policy::from(&config.lockout));
        self.auth.set_key_rules(key_rules);
        match self.live.write() {
            Ok(mut l) => *l = Arc::new(live),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(live),
        }
        Ok(())
    }

    fn live(&self) -> Arc<Live> {
        match self.live.read() {
            Ok(l) => Arc::clone(&l),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Accept connections until `shutdown` completes, then end every session (each
    /// client is told why; a command already running finishes first) and wait up to
    /// [`DRAIN`] for them to close.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        if let Ok(addr) = listener.local_addr() {
            // For the "how to fetch your export" hints: SFTP is on this port.
            self.sessions
                .exports
                .port
                .store(addr.port(), std::sync::atomic::Ordering::Relaxed);
        }
        let live = Arc::clone(&self.sessions.live);
        let watcher = tokio::spawn(session::live::watch_sessions(
            Arc::clone(&live),
            self.sessions.store.clone(),
            || handler::now_ms().div_euclid(1000),
        ));
        let housekeeping = tokio::spawn(Arc::clone(&self.sessions).recording_housekeeping());
        let revocations = tokio::spawn(session::live::watch_revocations(
            Arc::clone(&live),
            self.auth.clone(),
        ));
        let result = Arc::clone(&self).accept_loop(listener, shutdown).await;
        live.end_all("the server is shutting down");
        let deadline = tokio::time::Instant::now() + DRAIN;
        while !live.is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        watcher.abort();
        housekeeping.abort();
        revocations.abort();
        result
    }

    /// Accept connections until `shutdown` completes. A refused connection is closed
    /// before a single byte is written, and before it costs more than the accept: a
    /// thread of its own blocks in `accept` and answers the gate there, so a refused
    /// socket is never registered with the reactor and costs no wake-up of the runtime
    /// (three system calls: accept, SO_LINGER, close), and connections that arrive
    /// together are taken one after another without going back to the reactor.
    async fn accept_loop(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let listener = listener.into_std()?;
        listener.set_nonblocking(false)?;
        let stop = AcceptStop {
            stopping: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            socket: socket2::SockRef::from(&listener).try_clone()?,
        };
        let stopping = Arc::clone(&stop.stopping);
        let runtime = tokio::runtime::Handle::current();
        let (done_tx, done_rx) = oneshot::channel();
        let server = Arc::clone(&self);
        std::thread::Builder::new()
            .name("moat-accept".into())
            .spawn(move || {
                let _runtime = runtime.enter();
                let _ = done_tx.send(server.accept_blocking(&listener, &stopping));
            })?;
        tokio::pin!(shutdown);
        tokio::select! {
            _ = &mut shutdown => {
                drop(stop);
                Ok(())
            }
            result = done_rx => result.unwrap_or(Ok(())),
        }
    }

    /// The accept thread: take connections until `stopping`.
    fn accept_blocking(
        self: &Arc<Self>,
        listener: &std::net::TcpListener,
        stopping: &std::sync::atomic::AtomicBool,
    ) -> std::io::Result<()> {
        use std::sync::atomic::Ordering;
        loop {
            match listener.accept() {
                Ok((stream, peer)) => self.admit(stream, peer),
                Err(_) if stopping.load(Ordering::Acquire) => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }

    /// Ask the gate about a new connection; drop it, or run it. A connection from a
    /// trusted proxy is gated once its PROXY header names the client.
    fn admit(self: &Arc<Self>, stream: std::net::TcpStream, peer: SocketAddr) {
        let live = self.live();
        if live.trusted_proxies.allows(peer.ip()) {
            match tokio_stream(stream) {
                Ok(stream) => {
                    tokio::spawn(Arc::clone(self).proxied(stream, peer, live));
                }
                Err(e) => tracing::warn!(%peer, error = %e, "could not set up an accepted socket"),
            }
            return;
        }
        let guard = match live.gate.admit(peer.ip(), &self.preauth) {
            Ok(guard) => guard,
            Err(refusal) => {
                // Reset rather than close: no FIN exchange, no TIME_WAIT to keep.
                let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
                drop(stream);
                self.note_refusal(&live.gate, peer, refusal.as_str());
                return;
            }
        };
        match tokio_stream(stream) {
            Ok(stream) => {
                tokio::spawn(Arc::clone(self).connection(stream, peer, guard, live));
            }
            Err(e) => tracing::warn!(%peer, error = %e, "could not set up an accepted socket"),
        }
    }

    /// Log a refused (or, before its version line, closed) connection: at most one line
    /// per source per 10 s, so one flooding source cannot hide the others. Only the
    /// address and a fixed reason are logged, nothing the client sent.
    fn note_refusal(&self, gate: &Gate, peer: SocketAddr, reason: &'static str) {
        let source = gate.source_key(peer.ip());
        let Some(line) = self.refusals.note(source, std::time::Instant::now()) else {
            return;
        };
        match line.source {
            Some(source) => tracing::warn!(
                %peer,
                %source,
                reason,
                refused = line.events,
                "connections refused before login (this one and those from the same source since its last such line)"
            ),
            None => tracing::warn!(
                %peer,
                reason,
                refused = line.events,
                "connections refused before login from sources past the ones tracked (this one and those since the last such line)"
            ),
        }
    }

    /// A connection from a trusted proxy: read its PROXY header (within the version grace
    /// time), then gate and serve the client it names. Nothing is sent before that.
    async fn proxied(self: Arc<Self>, mut stream: TcpStream, proxy: SocketAddr, live: Arc<Live>) {
        let wait = live.gate.version_grace().min(live.login_grace);
        let header = tokio::time::timeout(wait, proxy::read_header(&mut stream)).await;
        let client = match header {
            Ok(Ok(Some(h))) => h.source.unwrap_or(proxy),
            Ok(Ok(None)) if !live.proxy_header_required => proxy,
            Ok(Ok(None)) => {
                tracing::warn!(%proxy, "trusted proxy sent no PROXY header: connection closed");
                return;
            }
            Ok(Err(e)) => {
                tracing::warn!(%proxy, error = %e, "bad PROXY header: connection closed");
                return;
            }
            Err(_) => {
                tracing::info!(%proxy, "no PROXY header within the version grace time");
                return;
            }
        };
        match live.gate.admit(client.ip(), &self.preauth) {
            Ok(guard) => self.connection(stream, client, guard, live).await,
            Err(refusal) => {
                let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
                self.note_refusal(&live.gate, client, refusal.as_str());
            }
        }
    }

    /// Run one admitted connection. It holds an unauthenticated slot until it logs in, and
    /// is closed if that takes longer than the grace time or too many attempts fail.
    async fn connection(
        self: Arc<Self>,
        stream: TcpStream,
        peer: SocketAddr,
        preauth: PreauthGuard,
        live: Arc<Live>,
    ) {
        let deadline = tokio::time::Instant::now() + live.login_grace;
        let (end_tx, end_rx) = oneshot::channel();
        let handler = handler::Handler::new(
            peer,
            self.auth.clone(),
            Arc::clone(&self.sessions),
            end_tx,
            live.max_auth_tries,
            self.ssh.auth_rejection_time,
            live.gate.source_label(peer.ip()),
        );
        // A second handle on the socket, to cut a connection russh would keep (see below).
        let cut = socket2::SockRef::from(&stream).try_clone().ok();
        // Immediate ACKs until logged in: the stock client's key exchange waits on them.
        let (stream, quick_acks) = quickack::QuickAck::new(stream);
        // From anyone but a trusted proxy (whose header is already consumed), a PROXY
        // header is refused rather than passed to SSH.
        let stream = proxy::RefuseHeader::new(stream);
        // run_stream returns once the client's version line is in: one that has not sent
        // it within the version grace time is closed, freeing its slot.
        let version_deadline =
            deadline.min(tokio::time::Instant::now() + live.gate.version_grace());
        let started = tokio::time::timeout_at(
            version_deadline,
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
                crate::metrics::global().refused(crate::metrics::Refused::NoVersion);
                self.note_refusal(&live.gate, peer, "no SSH version line in time");
                return;
            }
        };
        let handle = running.handle();
        tokio::pin!(running);
        let end = tokio::select! {
            result = &mut running => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended before login");
                }
                return;
            }
            end = tokio::time::timeout_at(deadline, end_rx) => end,
        };
        drop(preauth);
        quick_acks.store(false, std::sync::atomic::Ordering::Relaxed);
        let reason = match end {
            Ok(Ok(LoginEnd::Authenticated(mut watch))) => {
                let reason = tokio::select! {
                    result = &mut running => {
                        if let Err(e) = result {
                            tracing::debug!(%peer, error = %e, "connection ended");
                        }
                        return;
                    }
                    reason = until_console(&mut watch, live.shell_grace) => reason,
                };
                match (reason, watch.done.take()) {
                    (Some(reason), _) => Some(reason),
                    // The console runs: once its channel is done, so is the connection.
                    // A stock client closes it at once; one that stays (after `q`, or
                    // after its session was ended) keeps no authenticated connection.
                    (None, Some(done)) => {
                        tokio::select! {
                            result = &mut running => {
                                if let Err(e) = result {
                                    tracing::debug!(%peer, error = %e, "connection ended");
                                }
                                return;
                            }
                            _ = done => {}
                        }
                        match tokio::time::timeout(CLIENT_CLOSE_WAIT, &mut running).await {
                            Ok(ended) => {
                                if let Err(e) = ended {
                                    tracing::debug!(%peer, error = %e, "connection ended");
                                }
                                return;
                            }
                            Err(_) => Some("session closed".into()),
                        }
                    }
                    (None, None) => None,
                }
            }
            Ok(Ok(LoginEnd::TooManyFailures)) => Some("too many authentication failures".into()),
            _ => Some("login grace time expired".into()),
        };
        if let Some(reason) = reason {
            tracing::info!(%peer, reason = %reason, "closing connection");
            let _ = handle
                .disconnect(russh::Disconnect::ByApplication, reason, String::new())
                .await;
            // russh acts on that only outside a key exchange: a client stalled inside one
            // (it sent its version line, then nothing) would keep its connection, without
            // a slot, until russh's inactivity timeout. Cut it instead.
            match tokio::time::timeout(DISCONNECT_WAIT, &mut running).await {
                Ok(ended) => {
                    if let Err(e) = ended {
                        tracing::debug!(%peer, error = %e, "connection ended");
                    }
                    return;
                }
                Err(_) => {
                    if let Some(socket) = &cut {
                        let _ = socket.shutdown(std::net::Shutdown::Both);
                    }
                }
            }
        }
        // Not kept past here: an open duplicate would keep the socket from closing.
        drop(cut);
        if let Err(e) = running.await {
            tracing::debug!(%peer, error = %e, "connection ended");
        }
    }
}

/// Watch an authenticated connection until its console opens: `None` once it has (the
/// session itself takes over ending it), or why the connection must close first — the
/// session was ended (an operator, a 2FA reset, a disabled account, on any instance), or
/// no console was asked for within `shell_grace`.
async fn until_console(watch: &mut session::Watch, shell_grace: Duration) -> Option<String> {
    let deadline = tokio::time::Instant::now() + shell_grace;
    loop {
        if *watch.shell.borrow() {
            return None;
        }
        tokio::select! {
            changed = watch.end.changed() => {
                if *watch.shell.borrow() {
                    return None;
                }
                let reason = match changed {
                    Ok(()) => watch.end.borrow().clone().unwrap_or_default(),
                    // The session is gone (its channel asked for something else).
                    Err(_) => "no console on this connection".into(),
                };
                return Some(format!("session ended: {reason}"));
            }
            changed = watch.shell.changed() => {
                if changed.is_err() && !*watch.shell.borrow() {
                    return Some("session ended: no console on this connection".into());
                }
            }
            _ = tokio::time::sleep_until(deadline) => {
                return Some(format!(
                    "no console requested within {} s of logging in",
                    shell_grace.as_secs()
                ));
            }
        }
    }
}
