//! Test harness shared by the end-to-end tests: an in-process moat server on 127.0.0.1:0
//! with the demo data set, users with known passwords and TOTP secrets, and an SSH client
//! (russh) whose channel output is fed into a vt100 terminal emulator.
#![allow(dead_code)] // not every helper is used by every build of the tests

pub mod qr;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use moat::auth::password::Hasher;
use moat::auth::totp;
use moat::commands;
use moat::config::{Argon2Config, Config};
use moat::demo;
use moat::session::{Context, InputTap};
use moat::ssh::{Live, Server};
use moat::store::{NewUser, Store};
use russh::client::{self, KeyboardInteractiveAuthResponse};
use russh::keys::PublicKeyOrCertificate;
use russh::{ChannelMsg, Disconnect};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Cheap argon2 for tests, passed through config like any operator would.
pub const TEST_ARGON2: Argon2Config = Argon2Config {
    memory_kib: 64,
    iterations: 1,
    parallelism: 1,
    max_concurrent: 0,
    max_queued: 16,
};

pub const PASSWORD: &str = "correct horse battery";

/// How long any wait for the screen may take before a test fails.
pub const WAIT: Duration = Duration::from_secs(15);

/// Which database a test's servers run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
    Mysql,
}

tokio::task_local! {
    /// The database of the running test, set by [`on_every_database!`] (SQLite otherwise).
    pub static DATABASE: Db;
    /// MySQL: the databases the running test created, dropped when it ends.
    pub static MYSQL_DATABASES: std::cell::RefCell<Vec<String>>;
}

/// A fresh MySQL/MariaDB database's URL; the running test drops it when it ends (see
/// [`on_every_database!`]).
pub async fn fresh_mysql_url() -> String {
    let (url, name) = moat::store::testing::fresh_mysql_url()
        .await
        .expect("a MySQL test database");
    let _ = MYSQL_DATABASES.try_with(|d| d.borrow_mut().push(name));
    url
}

/// Run a test body on MySQL/MariaDB, then drop the databases it made.
pub async fn on_mysql(body: impl std::future::Future<Output = ()>) {
    let made = MYSQL_DATABASES
        .scope(Default::default(), async {
            DATABASE.scope(Db::Mysql, body).await;
            MYSQL_DATABASES.with(|d| d.take())
        })
        .await;
    for name in made {
        moat::store::testing::drop_mysql_database(&name).await;
    }
}

/// The database the running test's servers use.
pub fn current_db() -> Db {
    DATABASE.try_with(|d| *d).unwrap_or(Db::Sqlite)
}

/// Define each end-to-end test once, run on every database: `name::sqlite` with a SQLite
/// file, `name::postgres` on a fresh PostgreSQL database (see `moat::store::testing`:
/// ignored, with the reason, when `MOAT_TEST_POSTGRES_URL` was unset at build time),
/// `name::mysql` on a fresh MySQL/MariaDB database (likewise, `MOAT_TEST_MYSQL_URL`).
#[allow(unused_macros)] // not every test binary uses it
macro_rules! on_every_database {
    ($(async fn $name:ident() $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body() $body

            #[tokio::test]
            async fn sqlite() {
                crate::common::DATABASE.scope(crate::common::Db::Sqlite, body()).await
            }

            #[tokio::test]
            #[cfg_attr(
                not(moat_postgres),
                ignore = "MOAT_TEST_POSTGRES_URL is not set: PostgreSQL run skipped"
            )]
            async fn postgres() {
                crate::common::DATABASE.scope(crate::common::Db::Postgres, body()).await
            }

            #[tokio::test]
            #[cfg_attr(
                not(moat_mysql),
                ignore = "MOAT_TEST_MYSQL_URL is not set: MySQL/MariaDB run skipped"
            )]
            async fn mysql() {
                crate::common::on_mysql(body()).await
            }
        }
    )*};
}
#[allow(unused_imports)]
pub(crate) use on_every_database;

/// [`on_every_database!`] without MySQL/MariaDB, for what it does not have (search
/// indexes: `moat search-index` says so there).
#[allow(unused_macros)] // not every test binary uses it
macro_rules! on_sqlite_and_postgres {
    ($(async fn $name:ident() $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body() $body

            #[tokio::test]
            async fn sqlite() {
                crate::common::DATABASE.scope(crate::common::Db::Sqlite, body()).await
            }

            #[tokio::test]
            #[cfg_attr(
                not(moat_postgres),
                ignore = "MOAT_TEST_POSTGRES_URL is not set: PostgreSQL run skipped"
            )]
            async fn postgres() {
                crate::common::DATABASE.scope(crate::common::Db::Postgres, body()).await
            }
        }
    )*};
}
#[allow(unused_imports)]
pub(crate) use on_sqlite_and_postgres;

/// A config for a server living in `dir`.
pub fn test_config(dir: &std::path::Path) -> Config {
    Config {
        listen: "127.0.0.1:0".into(),
        database_url: format!("sqlite://{}", dir.join("moat.db").display()),
        keys_dir: dir.join("keys"),
        export_dir: dir.join("exports"),
        recording: moat::config::RecordingConfig {
            recordings_dir: dir.join("recordings"),
            ..moat::config::RecordingConfig::default()
        },
        auth_rejection_ms: 20,
        argon2: TEST_ARGON2,
        ..Config::default()
    }
}

/// A running server and what a test needs to log in.
pub struct TestServer {
    pub addr: SocketAddr,
    pub store: Store,
    pub config: Config,
    /// The session context, for sending commands straight to the session boundary.
    pub sessions: Arc<Context>,
    /// The server, for reloading its configuration as SIGHUP does.
    pub ssh: Arc<Server>,
    /// TOTP secret of every user created with [`TestServer::add_user`], by name.
    pub secrets: std::collections::HashMap<String, Vec<u8>>,
    /// Last TOTP step used per user: each login must use a later one (replay rule).
    used_steps: std::sync::Mutex<std::collections::HashMap<String, i64>>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// Demo data, superuser `admin` and plain user `jane`, default test config.
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}, None).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config), tap: Option<InputTap>) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = test_config(dir.path());
        match current_db() {
            Db::Sqlite => {}
            Db::Postgres => {
                config.database_url = moat::store::testing::fresh_postgres_url()
                    .await
                    .expect("a PostgreSQL test database");
            }
            Db::Mysql => config.database_url = fresh_mysql_url().await,
        }
        tweak(&mut config);
        let store = commands::open_store(&config).await.expect("store");
        demo::load(&store).await.expect("demo data");
        let built = commands::build(&config, store.clone())
            .await
            .expect("build");
        let server = match tap {
            None => Arc::clone(&built.server),
            Some(tap) => {
                let s = &built.server;
                let ctx = &s.sessions;
                Arc::new(Server::new(
                    Arc::clone(&s.ssh),
                    s.auth.clone(),
                    Arc::new(Context {
                        store: ctx.store.clone(),
                        schema: Arc::clone(&ctx.schema),
                        page_size: ctx.page_size,
                        max_size: ctx.max_size,
                        rules: ctx.rules.clone(),
                        auth_groups: ctx.auth_groups.clone(),
                        hasher: Arc::clone(&ctx.hasher),
                        export_dir: ctx.export_dir.clone(),
                        exports: moat::session::exports::Exports::new(ctx.exports.ttl_hours),
                        auth: ctx.auth.clone(),
                        accounts: ctx.accounts,
                        timeouts: ctx.timeouts,
                        refresh_every: ctx.refresh_every,
                        live: Arc::clone(&ctx.live),
                        recordings: ctx.recordings.clone(),
                        input_tap: Some(tap),
                        bulk_max_rows: ctx.bulk_max_rows,
                    }),
                    Live::from_config(&config).expect("live config"),
                ))
            }
        };
        let sessions = Arc::clone(&server.sessions);
        let ssh = Arc::clone(&server);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server.serve(listener, async move {
            let _ = rx.await;
        }));
        let mut server = TestServer {
            addr,
            store,
            config,
            sessions,
            ssh,
            secrets: Default::default(),
            used_steps: Default::default(),
            shutdown: Some(tx),
            task: Some(task),
            _dir: dir,
        };
        server.add_user("admin", true).await;
        server.add_user("jane", false).await;
        server
    }

    /// Create a user with [`PASSWORD`] and a fresh TOTP secret.
    pub async fn add_user(&mut self, name: &str, superuser: bool) {
        let phc = Hasher::new(TEST_ARGON2).unwrap().hash(PASSWORD).unwrap();
        let secret = totp::generate_secret();
        self.store
            .create_user(&NewUser {
                username: name,
                password_hash: &phc,
                is_superuser: superuser,
                totp_secret: Some(&secret),
                must_change_password: false,
                password_expires_at: None,
                now: 0,
            })
            .await
            .expect("create user");
        self.secrets.insert(name.to_string(), secret);
    }

    /// Create `name` the way an operator does (`moat user add NAME`): no TOTP yet, and a
    /// one-time password, which is returned.
    pub async fn add_one_time_user(&self, name: &str) -> String {
        let mut out = Vec::new();
        commands::user_add(&self.config, name, false, &[], None, "test", &mut out)
            .await
            .expect("user add");
        one_time_password_in(&String::from_utf8(out).unwrap())
    }

    /// The code `name`'s authenticator shows now.
    pub fn code(&self, name: &str) -> String {
        code_now(&self.secrets[name])
    }

    /// A code valid now that no earlier login of `name` used: the current step, then the
    /// next (both stay valid if the clock crosses a step boundary mid-login). Two logins
    /// per user per 30 s; tests that need more use more users.
    pub fn next_code(&self, name: &str) -> String {
        let current = totp::step_at(now());
        let mut used = self.used_steps.lock().unwrap();
        let step = used
            .get(name)
            .map_or(current, |last| (last + 1).max(current));
        assert!(
            step <= current + 1,
            "{name} already logged in twice this step"
        );
        used.insert(name.to_string(), step);
        totp::code_at(&self.secrets[name], step)
    }

    /// Stop the server and start a new one on the same database and keys (a restart).
    pub async fn restart(mut self) -> TestServer {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        let store = commands::open_store(&self.config).await.expect("store");
        let built = commands::build(&self.config, store.clone())
            .await
            .expect("build");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        self.addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        self.task = Some(tokio::spawn(Arc::clone(&built.server).serve(
            listener,
            async move {
                let _ = rx.await;
            },
        )));
        self.shutdown = Some(tx);
        self.sessions = Arc::clone(&built.server.sessions);
        self.ssh = Arc::clone(&built.server);
        self.store = store;
        self
    }

    /// A second moat instance on this server's database and keys, as a load balancer
    /// would have beside it. It shares what the database holds and nothing else; stop it
    /// before this one (this one owns the directory).
    pub async fn second_instance(&self) -> TestServer {
        let store = commands::open_store(&self.config).await.expect("store");
        let built = commands::build(&self.config, store.clone())
            .await
            .expect("build");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(Arc::clone(&built.server).serve(listener, async move {
            let _ = rx.await;
        }));
        TestServer {
            addr,
            store,
            config: self.config.clone(),
            sessions: Arc::clone(&built.server.sessions),
            ssh: Arc::clone(&built.server),
            secrets: self.secrets.clone(),
            used_steps: Default::default(),
            shutdown: Some(tx),
            task: Some(task),
            _dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// The session-boundary actor for `user` (to send commands straight to the session).
pub async fn session_actor(server: &TestServer, user: &str) -> moat::session::Actor {
    let id = server.store.user_id(user).await.unwrap().unwrap();
    let who = moat::auth::Identity {
        user_id: id,
        username: user.into(),
        is_superuser: false,
        backup_codes_left: None,
        onboarding: moat::auth::Onboarding::Done,
        key: None,
    };
    server.sessions.actor(&who, "127.0.0.1")
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The password of a `one-time password: …` line that starts `out`.
pub fn one_time_password_in(out: &str) -> String {
    out.strip_prefix("one-time password: ")
        .and_then(|rest| rest.lines().next())
        .unwrap_or_else(|| panic!("no one-time password in {out:?}"))
        .to_string()
}

pub fn code_now(secret: &[u8]) -> String {
    totp::code_at(secret, totp::step_at(now()))
}

/// A russh client handler that trusts any host key (tests know whom they dial).
pub struct TrustAll;

impl client::Handler for TrustAll {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        _key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

pub type Conn = client::Handle<TrustAll>;

pub async fn connect(addr: SocketAddr) -> Conn {
    // Like OpenSSH in an interactive session: no Nagle delay on small packets.
    let config = Arc::new(client::Config {
        nodelay: true,
        ..client::Config::default()
    });
    client::connect(config, addr, TrustAll)
        .await
        .expect("connect")
}

/// What happened during a keyboard-interactive login.
#[derive(Debug, PartialEq, Eq)]
pub struct KiOutcome {
    /// The prompts the server sent, in order.
    pub prompts: Vec<String>,
    /// Whether the server accepted.
    pub success: bool,
    /// The failure reply, rendered (methods offered and partial success) for comparison.
    pub failure: Option<String>,
}

/// Log in with keyboard-interactive, answering each prompt from `answers` in order.
pub async fn ki_login(conn: &mut Conn, user: &str, answers: &[&str]) -> KiOutcome {
    let mut prompts = Vec::new();
    let mut answers = answers.iter();
    let mut reply = conn
        .authenticate_keyboard_interactive_start(user, None)
        .await
        .expect("ki start");
    loop {
        match reply {
            KeyboardInteractiveAuthResponse::Success => {
                return KiOutcome {
                    prompts,
                    success: true,
                    failure: None,
                }
            }
            KeyboardInteractiveAuthResponse::Failure {
                remaining_methods,
                partial_success,
            } => {
                return KiOutcome {
                    prompts,
                    success: false,
                    failure: Some(format!("{remaining_methods:?} partial={partial_success}")),
                }
            }
            KeyboardInteractiveAuthResponse::InfoRequest { prompts: asked, .. } => {
                let mut responses = Vec::new();
                for p in asked {
                    prompts.push(p.prompt);
                    responses.push(answers.next().map(|s| s.to_string()).unwrap_or_default());
                }
                reply = conn
                    .authenticate_keyboard_interactive_respond(responses)
                    .await
                    .expect("ki respond");
            }
        }
    }
}

/// Connect and log in as `user` with the right password and code; panics on refusal.
pub async fn login(server: &TestServer, user: &str) -> Conn {
    login_at(server.addr, user, &server.next_code(user)).await
}

/// Connect to `addr` and log in as `user` with [`PASSWORD`] and `code`; panics on refusal.
pub async fn login_at(addr: SocketAddr, user: &str, code: &str) -> Conn {
    login_at_with(addr, user, PASSWORD, code).await
}

/// Connect to `addr` and log in as `user` with `password` and `code`; panics on refusal.
pub async fn login_at_with(addr: SocketAddr, user: &str, password: &str, code: &str) -> Conn {
    let mut conn = connect(addr).await;
    let outcome = ki_login(&mut conn, user, &[password, code]).await;
    assert!(outcome.success, "login as {user} refused: {outcome:?}");
    conn
}

/// An interactive console over one SSH channel, rendered by a vt100 emulator.
pub struct Console {
    channel: russh::Channel<client::Msg>,
    pub parser: vt100::Parser,
    /// Every byte the server sent on this channel.
    pub received: Vec<u8>,
    pub closed: bool,
    pub exit_status: Option<u32>,
}

impl Console {
    /// Open a session channel with a pty of `cols`×`rows` and `term`, and start the shell.
    pub async fn open(conn: &Conn, cols: u16, rows: u16, term: &str) -> Console {
        let channel = conn.channel_open_session().await.expect("channel");
        channel
            .request_pty(false, term, u32::from(cols), u32::from(rows), 0, 0, &[])
            .await
            .expect("pty");
        channel.request_shell(false).await.expect("shell");
        Console {
            channel,
            // moat draws 80x24 for a 0x0 pty.
            parser: vt100::Parser::new(rows.max(1), cols.max(1), 0),
            received: Vec::new(),
            closed: false,
            exit_status: None,
        }
    }

    /// Send `bytes`; panics (with the screen) if the channel takes none within [`WAIT`]
    /// (a session the server ended, its window never reopened), rather than hang.
    pub async fn send(&mut self, bytes: &[u8]) {
        match tokio::time::timeout(WAIT, self.channel.data_bytes(bytes.to_vec())).await {
            Ok(sent) => sent.expect("send"),
            Err(_) => panic!("send blocked for {WAIT:?}; screen:\n{}", self.screen()),
        }
    }

    /// Send keys one write each, as a person types.
    pub async fn keys(&mut self, keys: &[&[u8]]) {
        for k in keys {
            self.send(k).await;
        }
    }

    pub async fn resize(&mut self, cols: u16, rows: u16) {
        self.channel
            .window_change(u32::from(cols), u32::from(rows), 0, 0)
            .await
            .expect("resize");
        self.parser.screen_mut().set_size(rows, cols);
    }

    pub fn screen(&self) -> String {
        self.parser.screen().contents()
    }

    /// The screen, one string per terminal row (unlike `screen`, wrapped rows stay apart).
    pub fn rows(&self) -> Vec<String> {
        let (_, cols) = self.parser.screen().size();
        self.parser.screen().rows(0, cols).collect()
    }

    /// Process what arrives for up to `wait`; returns false once the channel closed.
    async fn pump(&mut self, wait: Duration) -> bool {
        match tokio::time::timeout(wait, self.channel.wait()).await {
            Err(_) => true,
            Ok(None) | Ok(Some(ChannelMsg::Close)) => {
                self.closed = true;
                false
            }
            Ok(Some(ChannelMsg::Data { data })) => {
                self.received.extend_from_slice(&data);
                self.parser.process(&data);
                true
            }
            Ok(Some(ChannelMsg::ExitStatus { exit_status })) => {
                self.exit_status = Some(exit_status);
                true
            }
            Ok(Some(_)) => true,
        }
    }

    /// Wait until the screen satisfies `pred`; panics with the screen after [`WAIT`].
    pub async fn wait_until(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let screen = self.screen();
            if pred(&screen) {
                return screen;
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero()
                || (!self.pump(left.min(Duration::from_millis(200))).await && self.closed)
            {
                let screen = self.screen();
                if pred(&screen) {
                    return screen;
                }
                panic!("timed out waiting for {what}; screen:\n{screen}");
            }
        }
    }

    /// Wait until the screen contains `needle`.
    pub async fn wait_for(&mut self, needle: &str) -> String {
        self.wait_until(needle, |s| s.contains(needle)).await
    }

    /// Wait until the server closes the channel; panics after [`WAIT`].
    pub async fn wait_closed(&mut self) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !self.closed {
            assert!(
                tokio::time::Instant::now() < deadline,
                "channel still open; screen:\n{}",
                self.screen()
            );
            self.pump(Duration::from_millis(200)).await;
        }
    }

    /// Let output settle: process everything that arrives within `quiet`.
    pub async fn settle(&mut self, quiet: Duration) {
        loop {
            let n = self.received.len();
            if !self.pump(quiet).await || self.received.len() == n {
                break;
            }
        }
    }
}

pub async fn disconnect(conn: Conn) {
    let _ = conn
        .disconnect(Disconnect::ByApplication, "bye", "en")
        .await;
}

/// A child process (a `moat serve`) that is killed when dropped, so a failing test never
/// leaves a server running behind it.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl std::ops::Deref for KillOnDrop {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        &self.0
    }
}

impl std::ops::DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        &mut self.0
    }
}
