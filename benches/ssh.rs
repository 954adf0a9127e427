//! Figures for BENCHMARKS.md, measured against the release binary over loopback:
//! login latency, keystroke-to-frame latency and bytes per cursor move, memory per idle
//! session, and the cost of one argon2 verification at the default parameters.
//!
//! `cargo bench --bench ssh` — prints a Markdown table (also written to
//! `target/bench-ssh.md`). These are figures, not pass/fail.

#[path = "support/sshd.rs"]
mod sshd;
mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use moat::auth::password::Hasher;
use moat::config::Argon2Config;
use support::common::{self, login_at, Console, TEST_ARGON2};
use support::{percentile, users, Bench, PASSWORD};

const LOGINS: usize = 50;
const MOVES: usize = 40;
const IDLE_SESSIONS: usize = 200;
/// Logins with the stock OpenSSH client, for users hashed at the default argon2 cost
/// (and as many against OpenSSH sshd + PAM, when it can run here).
const OPENSSH_LOGINS: usize = 20;

#[tokio::main]
async fn main() {
    // Users: one login per user, so no waiting on the TOTP replay rule. The last few are
    // hashed at the default argon2 cost for the OpenSSH figure.
    let cheap = LOGINS + 1 + IDLE_SESSIONS;
    let mut hashes = users(cheap, TEST_ARGON2);
    hashes.extend(users(OPENSSH_LOGINS, Argon2Config::default()));
    // Hundreds of logins from one address in a minute: lift the per-source gate limits,
    // which would otherwise (rightly) refuse them before the banner.
    let argon = format!(
        "[argon2]\nmemory_kib = {}\niterations = {}\nparallelism = {}\n\
         [limits]\nper_source_per_minute = 100000\nglobal_per_second = 10000\n\
         max_preauth_per_source = 1000\nmax_preauth_total = 1000\n",
        TEST_ARGON2.memory_kib, TEST_ARGON2.iterations, TEST_ARGON2.parallelism
    );
    let bench = Bench::start(&argon, hashes).await;
    let addr = bench.addr();
    let port = bench.port;
    let code = |i: usize| bench.code(i);
    let openssh_users = cheap..(cheap + OPENSSH_LOGINS);
    let scratch = tempfile::tempdir().unwrap();

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
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pss_before = bench.pss_kib();
    let mut idle = Vec::new();
    for i in (LOGINS + 1)..cheap {
        let conn = login_at(addr, &format!("bench{i}"), &code(i)).await;
        let mut c = Console::open(&conn, 80, 24, "xterm-256color").await;
        c.wait_for("post_tags").await;
        idle.push((conn, c));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pss_after = bench.pss_kib();
    let per_session_kib = (pss_after.saturating_sub(pss_before)) as f64 / IDLE_SESSIONS as f64;
    drop(idle);

    // 4. The stock OpenSSH client (askpass answers both prompts), argon2 at its default
    // cost: from starting `ssh` to its first byte of output (the first frame). Then the
    // same client against OpenSSH sshd + PAM (password + google-authenticator), when
    // this machine can run one.
    let mut openssh_ms = Vec::new();
    let has_ssh = Command::new("ssh").arg("-V").output().is_ok();
    if has_ssh {
        for i in openssh_users {
            let code = code(i);
            if let Some(ms) = openssh_login(scratch.path(), port, &format!("bench{i}"), &code) {
                openssh_ms.push(ms);
            }
        }
    }
    let openssh = if openssh_ms.is_empty() {
        "not measured (no ssh client)".to_string()
    } else {
        spread(&openssh_ms)
    };
    let sshd = match has_ssh.then(|| sshd::logins(OPENSSH_LOGINS)) {
        None => "not measured (no ssh client)".to_string(),
        Some(Ok(ms)) => {
            let ratio = percentile(&openssh_ms, 50) / percentile(&ms, 50);
            format!("{} (moat's median is {ratio:.2}× this)", spread(&ms))
        }
        Some(Err(why)) => format!("not measured: {why}"),
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
    drop(bench);

    let report = format!(
        "| figure | value |\n|---|---|\n\
         | login: TCP connect → first full frame, test argon2 (m=64 KiB, t=1), median of {LOGINS} | {:.1} ms (p90 {:.1} ms) |\n\
         | login with stock OpenSSH + askpass: start `ssh` → first output, argon2 defaults, {OPENSSH_LOGINS} logins | {openssh} |\n\
         | the same client against OpenSSH sshd + PAM (pam_unix yescrypt + google-authenticator), {OPENSSH_LOGINS} logins | {sshd} |\n\
         | argon2id verify at defaults (m=19 MiB, t=2, p=1), median of 10 | {:.1} ms |\n\
         | keystroke → frame, cursor move in a list at 200×50, median of {MOVES} | {:.2} ms (p90 {:.2} ms) |\n\
         | bytes per cursor move at 200×50, median | {:.0} B (max {:.0} B) |\n\
         | first frame of the list at 200×50 (full repaint) | {} B |\n\
         | server PSS per idle logged-in session, {IDLE_SESSIONS} sessions at 80×24 | {:.0} KiB ({} → {} KiB) |\n",
        percentile(&login_ms, 50),
        percentile(&login_ms, 90),
        percentile(&argon_ms, 50),
        percentile(&move_ms, 50),
        percentile(&move_ms, 90),
        percentile(&move_bytes, 50),
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

/// `min / median / p90 / max` of login times.
fn spread(ms: &[f64]) -> String {
    let min = ms.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = ms.iter().cloned().fold(0.0, f64::max);
    format!(
        "min {min:.0} / median {:.0} / p90 {:.0} / max {max:.0} ms",
        percentile(ms, 50),
        percentile(ms, 90)
    )
}

/// One login with the stock client, its prompts answered by an askpass shell script: from
/// starting `ssh` to its first byte of output, in ms (`None` if it printed nothing).
pub fn openssh_login(dir: &std::path::Path, port: u16, user: &str, code: &str) -> Option<f64> {
    let askpass = dir.join(format!("askpass-{user}.sh"));
    std::fs::write(
        &askpass,
        format!(
            "#!/bin/sh\ncase \"$1\" in *assword*) echo '{PASSWORD}';; *) echo '{code}';; esac\n"
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
        .args(["-o", "LogLevel=ERROR", &format!("{user}@127.0.0.1")])
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
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    let _ = ssh.kill();
    let _ = ssh.wait();
    (got == 1).then_some(ms)
}
