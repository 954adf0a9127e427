//! Figures for BENCHMARKS.md, measured against the release binary over loopback:
//! login latency, keystroke-to-frame latency and bytes per cursor move, memory per idle
//! session, and the cost of one argon2 verification at the default parameters.
//!
//! `cargo bench --bench ssh` — prints a Markdown table (also written to
//! `target/bench-ssh.md`). These are figures, not pass/fail.

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{login_at, Console, PASSWORD, TEST_ARGON2};
use moat::auth::password::Hasher;
use moat::auth::totp;
use moat::config::Argon2Config;
use moat::store::{demo, NewUser};

const LOGINS: usize = 50;
const MOVES: usize = 40;
const IDLE_SESSIONS: usize = 200;
/// Logins with the stock OpenSSH client, for users hashed at the default argon2 cost.
const OPENSSH_LOGINS: usize = 10;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn p90(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[(v.len() * 9) / 10]
}

/// Proportional set size of a process, in KiB.
fn pss_kib(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config_text = format!(
        "listen = \"127.0.0.1:{port}\"\nauth_rejection_ms = 20\n\
         [argon2]\nmemory_kib = {}\niterations = {}\nparallelism = {}\n",
        TEST_ARGON2.memory_kib, TEST_ARGON2.iterations, TEST_ARGON2.parallelism
    );
    std::fs::write(dir.path().join("moat.toml"), &config_text).unwrap();
    let mut config = common::test_config(dir.path());
    config.listen = format!("127.0.0.1:{port}");

    // Users: one login per user, so no waiting on the TOTP replay rule.
    let users = LOGINS + 1 + IDLE_SESSIONS + OPENSSH_LOGINS;
    let openssh_users = (LOGINS + 1 + IDLE_SESSIONS)..users;
    let default_phc = Hasher::new(Argon2Config::default())
        .unwrap()
        .hash(PASSWORD)
        .unwrap();
    let store = moat::commands::open_store(&config).await.unwrap();
    demo::load(store.pool()).await.unwrap();
    let hasher = Hasher::new(TEST_ARGON2).unwrap();
    let phc = hasher.hash(PASSWORD).unwrap();
    let mut secrets = Vec::new();
    for i in 0..users {
        let secret = totp::generate_secret();
        store
            .create_user(&NewUser {
                username: &format!("bench{i}"),
                password_hash: if openssh_users.contains(&i) {
                    &default_phc
                } else {
                    &phc
                },
                is_superuser: true,
                totp_secret: Some(&secret),
                must_change_password: false,
                now: 0,
            })
            .await
            .unwrap();
        secrets.push(secret);
    }
    store.close().await;

    let mut child = Command::new(env!("CARGO_BIN_EXE_moat"))
        .current_dir(dir.path())
        .args(["--config", "moat.toml", "serve"])
        .env("MOAT_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    for line in BufReader::new(stdout).lines() {
        if line.unwrap().contains("listening on") {
            break;
        }
    }
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let code = |i: usize| totp::code_at(&secrets[i], totp::step_at(common::now()));

    // 1. Login: TCP connect → first full frame (the model index).
    let mut login_ms = Vec::new();
    for i in 0..LOGINS {
        let t0 = Instant::now();
        let conn = login_at(addr, &format!("bench{i}"), &code(i)).await;
        let mut c = Console::open(&conn, 80, 24, "xterm-256color").await;
        c.wait_for("post_tags").await;
        login_ms.push(t0.elapsed().as_secs_f64() * 1e3);
        common::disconnect(conn).await;
    }

    // 2. A list at 200x50: bytes and latency per cursor move, against a full repaint.
    let conn = login_at(addr, &format!("bench{LOGINS}"), &code(LOGINS)).await;
    let mut c = Console::open(&conn, 200, 50, "xterm-256color").await;
    c.wait_for("post_tags").await;
    c.settle(Duration::from_millis(200)).await;
    let before = c.received.len();
    c.keys(&[b"j", b"j", b"j", b"\r"]).await;
    c.wait_for("row 1 of 2,000").await;
    c.settle(Duration::from_millis(200)).await;
    let list_frame = c.received.len() - before;
    let mut move_bytes = Vec::new();
    let mut move_ms = Vec::new();
    for n in 2..(2 + MOVES) {
        let before = c.received.len();
        let t0 = Instant::now();
        c.send(b"j").await;
        c.wait_for(&format!("row {n} of 2,000")).await;
        move_ms.push(t0.elapsed().as_secs_f64() * 1e3);
        c.settle(Duration::from_millis(30)).await;
        move_bytes.push((c.received.len() - before) as f64);
    }

    // 3. Memory: server PSS before and after IDLE_SESSIONS logged-in consoles at 80x24.
    let pid = server.0.id();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pss_before = pss_kib(pid);
    let mut idle = Vec::new();
    for i in (LOGINS + 1)..(LOGINS + 1 + IDLE_SESSIONS) {
        let conn = login_at(addr, &format!("bench{i}"), &code(i)).await;
        let mut c = Console::open(&conn, 80, 24, "xterm-256color").await;
        c.wait_for("post_tags").await;
        idle.push((conn, c));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pss_after = pss_kib(pid);
    let per_session_kib = (pss_after.saturating_sub(pss_before)) as f64 / IDLE_SESSIONS as f64;
    drop(idle);

    // 4. The stock OpenSSH client (askpass answers both prompts), argon2 at its default
    // cost: from starting `ssh` to its first byte of output (the first frame).
    let mut openssh_ms = Vec::new();
    if Command::new("ssh").arg("-V").output().is_ok() {
        for i in openssh_users {
            let askpass = dir.path().join(format!("askpass{i}.sh"));
            std::fs::write(
                &askpass,
                format!(
                    "#!/bin/sh\ncase \"$1\" in *assword*) echo '{PASSWORD}';; *) echo '{}';; esac\n",
                    code(i)
                ),
            )
            .unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o755)).unwrap();
            let t0 = Instant::now();
            let mut ssh = Command::new("ssh")
                .args(["-tt", "-F", "/dev/null", "-p", &port.to_string()])
                .args([
                    "-o",
                    "StrictHostKeyChecking=no",
                    "-o",
                    "UserKnownHostsFile=/dev/null",
                ])
                .args(["-o", "LogLevel=ERROR", &format!("bench{i}@127.0.0.1")])
                .env("SSH_ASKPASS", &askpass)
                .env("SSH_ASKPASS_REQUIRE", "force")
                .env("TERM", "xterm-256color")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut out = ssh.stdout.take().unwrap();
            let mut first = [0u8; 1];
            let got = std::io::Read::read(&mut out, &mut first).unwrap_or(0);
            if got == 1 {
                openssh_ms.push(t0.elapsed().as_secs_f64() * 1e3);
            }
            let _ = ssh.kill();
            let _ = ssh.wait();
        }
    }
    let openssh = if openssh_ms.is_empty() {
        "not measured (no ssh client)".to_string()
    } else {
        format!("{:.0} ms", median(&mut openssh_ms))
    };

    // 5. argon2id at the default parameters (OWASP minimum), apart from the login figure.
    let defaults = Hasher::new(Argon2Config::default()).unwrap();
    let phc = defaults.hash(PASSWORD).unwrap();
    let mut argon_ms = Vec::new();
    for _ in 0..10 {
        let t0 = Instant::now();
        assert!(defaults.verify(&phc, PASSWORD));
        argon_ms.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    drop(server);

    let report = format!(
        "| figure | value |\n|---|---|\n\
         | login: TCP connect → first full frame, test argon2 (m=64 KiB, t=1), median of {LOGINS} | {:.1} ms (p90 {:.1} ms) |\n\
         | login with stock OpenSSH + askpass: start `ssh` → first output, argon2 defaults, median of {OPENSSH_LOGINS} | {openssh} |\n\
         | argon2id verify at defaults (m=19 MiB, t=2, p=1), median of 10 | {:.1} ms |\n\
         | keystroke → frame, cursor move in a list at 200×50, median of {MOVES} | {:.2} ms (p90 {:.2} ms) |\n\
         | bytes per cursor move at 200×50, median | {:.0} B (max {:.0} B) |\n\
         | first frame of the list at 200×50 (full repaint) | {} B |\n\
         | server PSS per idle logged-in session, {IDLE_SESSIONS} sessions at 80×24 | {:.0} KiB ({} → {} KiB) |\n",
        median(&mut login_ms.clone()),
        p90(&mut login_ms),
        median(&mut argon_ms),
        median(&mut move_ms.clone()),
        p90(&mut move_ms),
        median(&mut move_bytes.clone()),
        move_bytes.iter().cloned().fold(0.0, f64::max),
        list_frame,
        per_session_kib,
        pss_before,
        pss_after,
    );
    println!("{report}");
    let _ = std::fs::write(
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/bench-ssh.md"),
        &report,
    );
}
