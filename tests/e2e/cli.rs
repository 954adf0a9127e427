//! The `moat` binary as an operator runs it: first start with `serve --demo`, users,
//! config errors, the host key's file mode.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

pub(crate) fn moat(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_moat"));
    cmd.current_dir(dir)
        .env_remove("MOAT_LISTEN")
        .env("MOAT_LOG", "warn")
        // Cheap hashing through the config file, like any operator could.
        .args(["--config", "moat.toml"]);
    cmd
}

pub(crate) fn write_config(dir: &std::path::Path, port: u16) {
    std::fs::write(
        dir.join("moat.toml"),
        format!(
            "listen = \"127.0.0.1:{port}\"\nauth_rejection_ms = 20\n\
             [argon2]\nmemory_kib = 64\niterations = 1\nparallelism = 1\n"
        ),
    )
    .unwrap();
}

/// `moat migrate`: the database the other commands (but `serve`) need to exist.
pub(crate) fn migrate(dir: &std::path::Path) {
    let out = moat(dir).arg("migrate").output().unwrap();
    assert!(out.status.success(), "{out:?}");
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `moat serve` child, killed on drop.
struct Serve {
    child: Child,
    /// stdout lines up to and including `listening on …`.
    banner: Vec<String>,
    /// stdout lines after the banner (kept open so the server can still write).
    rest: std::sync::mpsc::Receiver<String>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &std::path::Path) -> Serve {
    let child = moat(dir)
        .args(["serve", "--demo"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    // Owned by `Serve` from here on, so every path (panics included) kills it.
    let (tx, rx) = std::sync::mpsc::channel();
    let mut serve = Serve {
        child,
        banner: Vec::new(),
        rest: rx,
    };
    let stdout = serve.child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        match serve.rest.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => {
                let done = line.contains("listening on");
                // Not a terminal: the first superuser's credentials are in a 0600 file
                // whose path is printed; read as if they had been printed.
                if line.contains(moat::commands::FIRST_START_FILE) {
                    let file = dir.join("keys").join(moat::commands::FIRST_START_FILE);
                    let text = std::fs::read_to_string(&file).unwrap();
                    serve.banner.extend(text.lines().map(str::to_string));
                }
                serve.banner.push(line);
                if done {
                    return serve;
                }
            }
            Err(_) => {
                if let Ok(Some(status)) = serve.child.try_wait() {
                    panic!("serve exited with {status}: {:?}", serve.banner);
                }
            }
        }
    }
    panic!("serve did not start: {:?}", serve.banner);
}

fn field<'a>(banner: &'a [String], label: &str) -> &'a str {
    banner
        .iter()
        .find_map(|l| l.trim().strip_prefix(label))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no `{label}` in {banner:?}"))
}

/// Base32 (RFC 4648, no padding) as printed by `serve`.
pub(crate) fn base32_decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bits = 0u64;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = ALPHABET.iter().position(|a| *a == c).expect("base32") as u64;
        bits = (bits << 5) | v;
        n += 5;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    out
}

#[tokio::test]
async fn first_start_creates_admin_prints_credentials_once_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    write_config(dir.path(), port);
    let first = serve(dir.path());
    let banner = &first.banner;
    let text = banner.join("\n");
    assert!(text.contains("demo data loaded"), "{text}");
    let password = field(banner, "password:").to_string();
    let uri = field(banner, "TOTP:");
    assert!(uri.starts_with("otpauth://totp/moat:admin?"), "{uri}");
    let secret = base32_decode(field(banner, "secret:"));
    assert!(
        text.contains('▀') || text.contains('▄'),
        "a terminal QR is printed:\n{text}"
    );
    assert!(
        text.contains(&format!("ssh -p {port} admin@127.0.0.1")),
        "{text}"
    );

    // The host key was generated with mode 0600.
    use std::os::unix::fs::PermissionsExt;
    let key = dir.path().join("keys/ssh_host_ed25519_key");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // The printed credentials log in.
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut conn = connect(addr).await;
    let code = code_now(&secret);
    assert!(
        ki_login(&mut conn, "admin", &[&password, &code])
            .await
            .success
    );
    let mut c = Console::open(&conn, 80, 24, "xterm").await;
    c.wait_for("posts").await;
    drop(first);

    // Second start: data and admin exist, nothing secret is printed again.
    let second = serve(dir.path());
    let text = second.banner.join("\n");
    assert!(text.contains("demo data already present"), "{text}");
    assert!(
        !text.contains("password:") && !text.contains("otpauth"),
        "{text}"
    );
}

#[test]
fn serve_refuses_a_host_key_readable_by_others() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), free_port());
    drop(serve(dir.path()));
    let key = dir.path().join("keys/ssh_host_ed25519_key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = moat(dir.path()).arg("serve").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("readable by group or others"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
}

#[test]
fn user_add_with_password_stdin_prints_one_otpauth_line() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), free_port());
    migrate(dir.path());
    let run = |name: &str| {
        let mut child = moat(dir.path())
            .args(["user", "add", name, "--password-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"a long enough password\n")
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = run("alice");
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.starts_with("otpauth://totp/moat:alice?secret="),
        "{stdout}"
    );

    let again = run("alice");
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("already exists") && err.trim().lines().count() == 1,
        "{err}"
    );

    // Without --password-stdin a one-time password is printed, and no TOTP yet: the
    // first login enrols (tests/accounts.rs).
    let out = moat(dir.path())
        .args(["user", "add", "bob", "--superuser"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("one-time password: "), "{stdout}");
    assert!(!stdout.contains("otpauth://"), "{stdout}");

    let bad = moat(dir.path())
        .args(["user", "add", "Bad Name"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid name"));
}

#[test]
fn config_errors_name_the_key_and_exit_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("moat.toml"),
        "listen = \"127.0.0.1:1\"\nallowlst = []\n",
    )
    .unwrap();
    let out = moat(dir.path()).arg("migrate").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("allowlst"), "{err}");
    assert!(err.contains("moat.toml: line 2, column 1"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    std::fs::write(dir.path().join("moat.toml"), "listen = \"127.0.0.1:1\"\n").unwrap();
    let out = moat(dir.path())
        .env("MOAT_PAGE_SIZ", "5")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("MOAT_PAGE_SIZ"));
}

#[test]
fn migrate_creates_moats_tables() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), free_port());
    let out = moat(dir.path()).arg("migrate").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(dir.path().join("moat.db").exists());
}

#[test]
fn the_database_is_created_private_under_the_usual_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), free_port());
    let moat = moat(dir.path());
    // The same command, started by a shell whose umask is the usual 022.
    let out = Command::new("sh")
        .arg("-c")
        .arg("umask 022 && exec \"$0\" \"$@\"")
        .arg(moat.get_program())
        .args(moat.get_args())
        .arg("migrate")
        .current_dir(dir.path())
        .env("MOAT_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let mode = std::fs::metadata(dir.path().join("moat.db"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "moat.db holds password hashes");
}

/// Does `source` get the SSH banner from 127.0.0.1:`port`?
async fn gets_banner(source: &str, port: u16) -> bool {
    use tokio::io::AsyncReadExt;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    let Ok(mut stream) = socket
        .connect(format!("127.0.0.1:{port}").parse().unwrap())
        .await
    else {
        return false;
    };
    let mut buf = [0u8; 32];
    matches!(
        tokio::time::timeout(WAIT, stream.read(&mut buf)).await,
        Ok(Ok(n)) if n > 0
    )
}

/// `serve --demo` on a free port in `dir`, with what its banner says admin logs in with.
struct FirstStart {
    server: Serve,
    port: u16,
    addr: std::net::SocketAddr,
    password: String,
    secret: Vec<u8>,
}

fn first_start(dir: &std::path::Path) -> FirstStart {
    let port = free_port();
    write_config(dir, port);
    let server = serve(dir);
    let password = field(&server.banner, "password:").to_string();
    let secret = base32_decode(field(&server.banner, "secret:"));
    FirstStart {
        server,
        port,
        addr: format!("127.0.0.1:{port}").parse().unwrap(),
        password,
        secret,
    }
}

fn sighup(serve: &Serve) {
    let status = Command::new("kill")
        .args(["-HUP", &serve.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn sighup_reloads_the_allowlist_without_dropping_sessions_and_keeps_it_on_a_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    let FirstStart {
        server,
        port,
        addr,
        password,
        secret,
    } = first_start(dir.path());
    let conn = login_at_with(addr, "admin", &password, &code_now(&secret)).await;
    let mut live = Console::open(&conn, 80, 24, "xterm").await;
    live.wait_for("post_tags").await;
    assert!(
        !gets_banner("127.0.0.2", port).await,
        "default allowlist is 127.0.0.1 only"
    );

    let config = dir.path().join("moat.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("allowlist = [\"127.0.0.1/32\", \"127.0.0.2/32\"]\n{text}"),
    )
    .unwrap();
    sighup(&server);
    let deadline = Instant::now() + WAIT;
    while !gets_banner("127.0.0.2", port).await {
        assert!(Instant::now() < deadline, "reload did not allow 127.0.0.2");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The session opened before the reload still works.
    live.send(b"\r").await;
    live.wait_for("row 1 of 200").await;

    // A bad file is refused and the old settings stay.
    std::fs::write(
        &config,
        format!("allowlist = [\"127.0.0.1/32\"]\nbogus_key = 1\n{text}"),
    )
    .unwrap();
    sighup(&server);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        gets_banner("127.0.0.2", port).await,
        "bad config must not apply"
    );
    live.send(b"j").await;
    live.wait_for("row 2 of 200").await;
}

/// `kill -HUP` reads the database's tables again: a table created while moat runs is listed
/// in a session opened afterwards, and in one already open once it presses Ctrl-R; the
/// open session is not dropped.
#[tokio::test]
async fn sighup_lists_a_new_table_in_new_sessions_and_open_ones_after_ctrl_r() {
    let dir = tempfile::tempdir().unwrap();
    let FirstStart {
        server,
        port: _,
        addr,
        password,
        secret,
    } = first_start(dir.path());
    let step = moat::auth::totp::step_at(now());
    let code = |step| moat::auth::totp::code_at(&secret, step);
    let conn = login_at_with(addr, "admin", &password, &code(step)).await;
    let mut open = Console::open(&conn, 120, 30, "xterm").await;
    open.wait_for("post_tags").await;
    assert!(!open.screen().contains("incidents"));

    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}", dir.path().join("moat.db").display());
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    sqlx::query("CREATE TABLE incidents (id INTEGER PRIMARY KEY, summary TEXT NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO incidents (summary) VALUES ('disk full on db-3')")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    sighup(&server);

    // A session opened after the reload lists it (the next TOTP step: codes are single-use).
    let deadline = Instant::now() + WAIT;
    let later = login_at_with(addr, "admin", &password, &code(step + 1)).await;
    let mut fresh = Console::open(&later, 120, 30, "xterm").await;
    fresh.wait_for("post_tags").await;
    // The reload may land after this session drew its index: press Ctrl-R until it shows,
    // reading what the server draws in between (a client that stops reading stalls its
    // connection, and this loop once did).
    while !fresh.screen().contains("incidents") {
        assert!(Instant::now() < deadline, "the new table never appeared");
        fresh.settle(Duration::from_millis(100)).await;
        if !fresh.screen().contains("incidents") {
            fresh.send(b"\x12").await;
        }
    }
    // The open session still works, and Ctrl-R on its index lists the table too.
    open.send(b"\x12").await;
    open.wait_for("incidents").await;
    open.keys(&[b":incidents", b"\r"]).await;
    open.wait_for("disk full on db-3").await;
}

#[test]
fn lockout_commands_validate_their_arguments() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), free_port());
    migrate(dir.path());
    let out = moat(dir.path())
        .args(["lockout", "reset"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--user"));
    let out = moat(dir.path())
        .args(["lockout", "reset", "--ip", "not-an-ip"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an IP address"));
    let out = moat(dir.path()).args(["lockout", "list"]).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("no failed logins"));
    let out = moat(dir.path())
        .args(["user", "backup-codes", "nobody"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such user"));
}

#[test]
fn perm_assign_list_and_remove_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), free_port());
    drop(serve(dir.path())); // leaves the demo tables in moat.db
    let run = |args: &[&str]| {
        let out = moat(dir.path()).args(args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.success(), stdout, stderr)
    };
    assert!(run(&["user", "add", "jane"]).0);

    let assign = [
        "perm",
        "assign",
        "--user",
        "jane",
        "view_posts",
        "posts",
        "1",
    ];
    let (ok, stdout, stderr) = run(&assign);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("view_posts on posts 1 assigned"),
        "{stdout}"
    );
    let (_, list, _) = run(&["perm", "list", "--user", "jane"]);
    assert!(
        list.lines()
            .any(|l| l.contains("view_posts") && l.contains("posts 1") && l.contains("direct")),
        "{list}"
    );

    let (ok, _, stderr) = run(&[
        "perm",
        "assign",
        "--user",
        "jane",
        "view_posts",
        "posts",
        "999999",
    ]);
    assert!(!ok && !stderr.is_empty(), "a missing row is refused");
    let (ok, _, stderr) = run(&["perm", "remove", "view_posts", "posts", "1"]);
    assert!(!ok && stderr.contains("--user"), "{stderr}");

    let (ok, stdout, stderr) = run(&[
        "perm",
        "remove",
        "--user",
        "jane",
        "view_posts",
        "posts",
        "1",
    ]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("view_posts on posts 1 removed"), "{stdout}");
    let (_, list, _) = run(&["perm", "list", "--user", "jane"]);
    assert!(!list.contains("posts 1"), "{list}");
}

#[test]
fn commands_that_write_no_secret_never_create_the_secret_key() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), free_port());
    migrate(dir.path());
    for args in [
        &["lockout", "list"][..],
        &["sessions"],
        &["audit", "verify"],
    ] {
        let out = moat(dir.path()).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for key in ["secret.key", "audit.key"] {
        assert!(
            !dir.path().join("keys").join(key).exists(),
            "a read from another directory must not tie the database to a new {key}"
        );
    }
}

#[tokio::test]
async fn sigterm_tells_open_sessions_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    write_config(dir.path(), port);
    let mut server = serve(dir.path());
    let password = field(&server.banner, "password:").to_string();
    let secret = base32_decode(field(&server.banner, "secret:"));
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let conn = login_at_with(addr, "admin", &password, &code_now(&secret)).await;
    let mut c = Console::open(&conn, 100, 30, "xterm").await;
    c.wait_for("post_tags").await;

    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    c.wait_closed().await;
    assert!(
        c.screen()
            .contains("session ended: the server is shutting down"),
        "{}",
        c.screen()
    );
    assert_eq!(c.exit_status, Some(0));
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "serve did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    let rest: Vec<String> = server.rest.try_iter().collect();
    assert!(rest.iter().any(|l| l == "moat: stopped"), "{rest:?}");
}

#[tokio::test]
async fn totp_secrets_are_sealed_and_serve_refuses_a_missing_or_wrong_key() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), free_port());
    migrate(dir.path());
    let mut add = moat(dir.path())
        .args(["user", "add", "alice", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(b"violet staple orbit 42\n")
        .unwrap();
    let out = add.wait_with_output().unwrap();
    assert!(out.status.success());
    let uri = String::from_utf8(out.stdout).unwrap();
    let b32 = uri
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("secret="))
        .unwrap()
        .trim()
        .to_string();
    let seed = base32_decode(&b32);

    // The database alone: no seed, raw or in base32.
    let db = moat::store::Store::connect(&format!(
        "sqlite://{}",
        dir.path().join("moat.db").display()
    ))
    .await
    .unwrap();
    let (stored, sealed): (Vec<u8>, i64) =
        sqlx::query_as("SELECT secret, sealed + 0 FROM moat_totp_devices")
            .fetch_one(db.pool())
            .await
            .unwrap();
    db.close().await;
    assert_eq!(sealed, 1);
    assert!(!stored.windows(seed.len()).any(|w| w == seed.as_slice()));
    assert!(!stored.windows(8).any(|w| w == &b32.as_bytes()[..8]));
    let key = dir.path().join("keys").join("secret.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Without the key, or with another one, serve refuses to start and says why.
    let saved = std::fs::read(&key).unwrap();
    std::fs::remove_file(&key).unwrap();
    let run = moat(dir.path()).arg("serve").output().unwrap();
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("secret.key is missing"), "{err}");
    assert!(!key.exists(), "a missing key is never silently replaced");

    std::fs::write(&key, format!("{}\n", "ab".repeat(32))).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let run = moat(dir.path()).arg("serve").output().unwrap();
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("is not the secret key this database was set up with"),
        "{err}"
    );

    std::fs::write(&key, saved).unwrap();
    let ok = moat(dir.path()).arg("sessions").output().unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&ok.stdout).trim(),
        "no live sessions"
    );
}

#[test]
fn the_audit_key_is_made_once_and_serve_refuses_a_missing_or_wrong_one() {
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), free_port());
    migrate(dir.path());
    let mut add = moat(dir.path())
        .args(["user", "add", "alice", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(b"violet staple orbit 42\n")
        .unwrap();
    let out = add.wait_with_output().unwrap();
    assert!(out.status.success());
    let key = dir.path().join("keys").join("audit.key");
    let saved = std::fs::read_to_string(&key).unwrap();
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // A new database: the key covers the whole trail.
    assert!(saved.ends_with("\nfrom 1\n"), "{saved}");
    let key_hex = saved.lines().next().unwrap();
    for output in [&out.stdout, &out.stderr] {
        assert!(!String::from_utf8_lossy(output).contains(key_hex));
    }
    let run = moat(dir.path()).args(["audit", "verify"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success() && stdout.contains("every entry's MAC verified"),
        "{stdout}"
    );

    // Without the key, or with another one, serve refuses to start and says why.
    std::fs::remove_file(&key).unwrap();
    let run = moat(dir.path()).arg("serve").output().unwrap();
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("audit.key is missing"), "{err}");
    assert!(!key.exists(), "a missing key is never silently replaced");

    std::fs::write(&key, format!("{}\nfrom 1\n", "ab".repeat(32))).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let run = moat(dir.path()).arg("serve").output().unwrap();
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("is not the audit key this database's trail is keyed with"),
        "{err}"
    );
    let run = moat(dir.path()).args(["audit", "verify"]).output().unwrap();
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("the audit key is not the one"), "{err}");

    std::fs::write(&key, &saved).unwrap();
    let ok = moat(dir.path()).args(["audit", "verify"]).output().unwrap();
    assert!(ok.status.success());
}

/// What a terminal would obey or use to reorder text: ESC, BEL, a C1 CSI, RLO.
fn raw_terminal_bytes(text: &str) -> Vec<char> {
    text.chars()
        .filter(|c| matches!(c, '\x1b' | '\x07' | '\u{9b}' | '\u{202e}'))
        .collect()
}

#[tokio::test]
async fn database_names_reach_the_terminal_sanitized() {
    // A model whose name sets the terminal's title (OSC 0), carries a C1 CSI and turns the
    // rest of the line right-to-left.
    const EVIL: &str = "evil\x1b]0;pwned\x07\u{9b}2J\u{202e}gpj";
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), free_port());
    let run = |args: &[&str]| {
        let out = moat(dir.path()).args(args).output().unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        for (stream, text) in [("stdout", &stdout), ("stderr", &stderr)] {
            assert_eq!(
                raw_terminal_bytes(text),
                Vec::<char>::new(),
                "{args:?} {stream}: {}",
                text.escape_debug()
            );
        }
        (out.status.success(), stdout, stderr)
    };
    assert!(run(&["migrate"]).0);
    let db = moat::store::Store::connect(&format!(
        "sqlite://{}",
        dir.path().join("moat.db").display()
    ))
    .await
    .unwrap();
    sqlx::raw_sql(&format!(
        "CREATE TABLE \"{EVIL}\" (id INTEGER PRIMARY KEY, title TEXT); \
         INSERT INTO \"{EVIL}\" (id, title) VALUES (1, 'x');"
    ))
    .execute(db.pool())
    .await
    .unwrap();
    db.close().await;

    let view = format!("view_{EVIL}");
    let shown = r"evil\x1b]0;pwned\x07\x9b2J\u{202e}gpj";
    assert!(run(&["user", "add", "jane"]).0);
    let (ok, _, stderr) = run(&["group", "add", "ops", "--perm", &view]);
    assert!(ok, "{stderr}");
    assert!(run(&["user", "add", "bob", "--group", "ops"]).0);

    let (ok, stdout, stderr) = run(&["perm", "assign", "--user", "jane", &view, EVIL, "1"]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains(&format!("view_{shown} on {shown} 1 assigned")),
        "{stdout}"
    );

    let (ok, stdout, _) = run(&["perm", "list", "--user", "jane"]);
    assert!(ok && stdout.contains(shown), "{stdout}");
    let (ok, stdout, _) = run(&["perm", "list", "--user", "bob"]);
    assert!(ok && stdout.contains(shown), "{stdout}");
    let (ok, stdout, _) = run(&["group", "list"]);
    assert!(ok && stdout.contains(shown), "{stdout}");

    // Errors that quote the name are sanitized too.
    let (ok, _, stderr) = run(&["perm", "assign", "--user", "jane", &view, EVIL, "999"]);
    assert!(!ok && stderr.contains(shown), "{stderr}");

    // The JSON lines keep the exact name for a pipeline, written with \u escapes.
    let (ok, stdout, _) = run(&["audit", "export", "--format", "jsonl"]);
    assert!(ok);
    let models: Vec<String> = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter_map(|v| v["model"].as_str().map(String::from))
        .collect();
    assert!(models.iter().any(|m| m == EVIL), "{models:?}");

    for args in [
        &["audit", "verify"][..],
        &["audit", "head"],
        &["lockout", "list"],
        &["sessions"],
        &["perm", "remove", "--user", "jane", &view, EVIL, "1"],
    ] {
        let (ok, _, stderr) = run(args);
        assert!(ok, "{args:?}: {stderr}");
    }
}

#[test]
fn serve_refuses_a_masked_or_hidden_key_column() {
    // authors.id is the demo's key: masking it would show •••• in the list but the key
    // in clear in the breadcrumb, status lines and the audit trail.
    for rule in ["masked", "hidden"] {
        let dir = tempfile::tempdir().unwrap();
        write_config(dir.path(), free_port());
        let mut config = std::fs::read_to_string(dir.path().join("moat.toml")).unwrap();
        config.push_str(&format!("[models.authors]\n{rule} = [\"id\"]\n"));
        std::fs::write(dir.path().join("moat.toml"), config).unwrap();
        let out = moat(dir.path())
            .args(["serve", "--demo"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{rule}: serve started");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("models.authors.{rule}: `id` identifies rows")),
            "{rule}: {err}"
        );
    }
}
