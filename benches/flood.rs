//! Behaviour under an authentication flood: a legitimate user logs in repeatedly while
//! 200 attacker tasks send wrong passwords from an allow-listed address and another task
//! streams connections from a denied one. Also: server CPU per denied connection, and
//! peak server memory.
//!
//! And a pre-auth hold: ten sources keep as many unauthenticated connections open as
//! they are let (idle, or stalled after their version line) while a user logs in, trying
//! again a second after a refusal.
//!
//! `cargo bench --bench flood` — prints Markdown tables (also written to
//! `target/bench-flood.md`); `cargo bench --bench flood -- hold` runs only the pre-auth
//! hold. Figures, not pass/fail. Argon2 runs at its default cost.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use moat::config::Argon2Config;
use support::common::{ki_login, login_at, Console, TrustAll, PASSWORD};
use support::{percentile, users, Bench};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

const LEGIT_LOGINS: usize = 30;
const ATTACKERS: usize = 200;
const DENIED_PROBES: usize = 20_000;

const ATTACKER: &str = "127.0.0.2";
const DENIED: &str = "127.0.0.3";

/// One login by `bench<i>` to the first frame; milliseconds.
async fn legit_login(bench: &Bench, i: usize) -> f64 {
    let t0 = Instant::now();
    let conn = login_at(bench.addr(), &format!("bench{i}"), &bench.code(i)).await;
    let mut c = Console::open(&conn, 80, 24, "xterm").await;
    c.wait_for("post_tags").await;
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    support::common::disconnect(conn).await;
    ms
}

/// Connect from `source` and wait for the server to close (a denied connection).
async fn denied_probe(bench: &Bench) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{DENIED}:0").parse().unwrap()).unwrap();
    if let Ok(mut s) = socket.connect(bench.addr()).await {
        let mut buf = [0u8; 16];
        let _ = s.read(&mut buf).await;
    }
}

/// Wrong passwords for made-up users until `stop`; counts attempts that got an answer.
async fn attacker(
    addr: std::net::SocketAddr,
    id: usize,
    stop: Arc<AtomicBool>,
    tries: Arc<AtomicU64>,
) {
    while !stop.load(Ordering::Relaxed) {
        let socket = TcpSocket::new_v4().unwrap();
        socket
            .bind(format!("{ATTACKER}:0").parse().unwrap())
            .unwrap();
        let Ok(stream) = socket.connect(addr).await else {
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        };
        let config = Arc::new(russh::client::Config::default());
        let Ok(mut conn) = russh::client::connect_stream(config, stream, TrustAll).await else {
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        };
        for _ in 0..3 {
            if conn.is_closed() || stop.load(Ordering::Relaxed) {
                break;
            }
            let user = format!("mallory{id}");
            let attempt = wrong_password(&mut conn, &user);
            if let Ok(Ok(())) = tokio::time::timeout(Duration::from_secs(5), attempt).await {
                tries.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// One keyboard-interactive attempt with a wrong password; errors when the server hangs up.
async fn wrong_password(
    conn: &mut russh::client::Handle<TrustAll>,
    user: &str,
) -> Result<(), russh::Error> {
    use russh::client::KeyboardInteractiveAuthResponse as R;
    let mut reply = conn
        .authenticate_keyboard_interactive_start(user, None)
        .await?;
    for answer in ["password123", "000000"] {
        match reply {
            R::InfoRequest { .. } => {
                reply = conn
                    .authenticate_keyboard_interactive_respond(vec![answer.into()])
                    .await?;
            }
            _ => break,
        }
    }
    Ok(())
}

struct Scenario {
    name: &'static str,
    idle: Vec<f64>,
    flood: Vec<f64>,
    attempts: u64,
    denied: u64,
    peak_rss_kib: u64,
    cpu_per_denied_us: Option<f64>,
}

async fn run(name: &'static str, limits: &str, measure_denied: bool) -> Scenario {
    let config = format!("allowlist = [\"127.0.0.1/32\", \"{ATTACKER}/32\"]\n{limits}");
    let bench = Bench::start(&config, users(2 * LEGIT_LOGINS, Argon2Config::default())).await;

    let mut idle = Vec::new();
    for i in 0..LEGIT_LOGINS {
        idle.push(legit_login(&bench, i).await);
    }

    let cpu_per_denied_us = if measure_denied {
        let before = bench.cpu_time();
        for _ in 0..DENIED_PROBES {
            denied_probe(&bench).await;
        }
        let used = bench.cpu_time().saturating_sub(before);
        Some(used.as_secs_f64() * 1e6 / DENIED_PROBES as f64)
    } else {
        None
    };

    let stop = Arc::new(AtomicBool::new(false));
    let tries = Arc::new(AtomicU64::new(0));
    let denied = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for id in 0..ATTACKERS {
        tasks.push(tokio::spawn(attacker(
            bench.addr(),
            id,
            stop.clone(),
            tries.clone(),
        )));
    }
    {
        let (stop, denied, addr) = (stop.clone(), denied.clone(), bench.addr());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let socket = TcpSocket::new_v4().unwrap();
                socket.bind(format!("{DENIED}:0").parse().unwrap()).unwrap();
                if let Ok(mut s) = socket.connect(addr).await {
                    let mut buf = [0u8; 16];
                    let _ = s.read(&mut buf).await;
                    denied.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut flood = Vec::new();
    for i in LEGIT_LOGINS..2 * LEGIT_LOGINS {
        flood.push(legit_login(&bench, i).await);
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.abort();
    }
    Scenario {
        name,
        idle,
        flood,
        attempts: tries.load(Ordering::Relaxed),
        denied: denied.load(Ordering::Relaxed),
        peak_rss_kib: bench.peak_rss_kib(),
        cpu_per_denied_us,
    }
}

/// Holding sources: 127.0.0.16 .. 127.0.0.25, each with as many connection tasks as the
/// default per-source cap.
const HOLD_SOURCES: u8 = 10;
const HOLD_PER_SOURCE: usize = 10;
/// Pause of a legitimate client after a refusal before it tries again.
const RETRY_PAUSE: Duration = Duration::from_secs(1);
/// Holders run this long before the measured logins start.
const HOLD_WARMUP: Duration = Duration::from_secs(6);

/// One holder task: connect from `source`, and once let in keep the connection until the
/// server closes it, sending nothing (`stall_after_version`: only a version line). Then
/// again. A refusal is retried after 50 ms (the holders share the server's 2 cores). The
/// first connection waits a random part of the version grace time, so that the holders'
/// connections do not all end (and leave a gap) at the same instant.
async fn holder(
    addr: std::net::SocketAddr,
    source: String,
    stall_after_version: bool,
    held: Arc<AtomicU64>,
) {
    let stagger = rand::Rng::gen_range(&mut rand::thread_rng(), 0..5000);
    tokio::time::sleep(Duration::from_millis(stagger)).await;
    loop {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
        let Ok(mut s) = socket.connect(addr).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let mut buf = [0u8; 2048];
        if !matches!(s.read(&mut buf).await, Ok(n) if n > 0) {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        if stall_after_version && s.write_all(b"SSH-2.0-hold\r\n").await.is_err() {
            continue;
        }
        held.fetch_add(1, Ordering::Relaxed);
        while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
        held.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A login by `bench<i>` that tries again after [`RETRY_PAUSE`] when reset before the
/// banner; milliseconds from the first try to the first frame, and the tries it took.
async fn retrying_login(bench: &Bench, i: usize) -> (f64, u32) {
    let t0 = Instant::now();
    let mut tries = 0;
    let mut conn = loop {
        tries += 1;
        let config = Arc::new(russh::client::Config {
            nodelay: true,
            ..russh::client::Config::default()
        });
        let attempt = russh::client::connect(config, bench.addr(), TrustAll);
        match tokio::time::timeout(Duration::from_secs(10), attempt).await {
            Ok(Ok(conn)) => break conn,
            _ => tokio::time::sleep(RETRY_PAUSE).await,
        }
    };
    let code = bench.code(i);
    let outcome = ki_login(&mut conn, &format!("bench{i}"), &[PASSWORD, &code]).await;
    assert!(outcome.success, "bench{i}: {outcome:?}");
    let mut c = Console::open(&conn, 80, 24, "xterm").await;
    c.wait_for("post_tags").await;
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    support::common::disconnect(conn).await;
    (ms, tries)
}

struct Hold {
    name: &'static str,
    logins: Vec<f64>,
    tries: Vec<u32>,
    /// Holder connections open, sampled every 100 ms during the logins.
    held: Vec<f64>,
}

/// `LEGIT_LOGINS` retrying logins while the holders run (`holders: None`: none run).
async fn hold(name: &'static str, limits: &str, holders: Option<bool>) -> Hold {
    let config = format!("allowlist = [\"127.0.0.1/32\", \"127.0.0.16/28\"]\n{limits}");
    let bench = Bench::start(&config, users(LEGIT_LOGINS, Argon2Config::default())).await;
    let held = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    if let Some(stall_after_version) = holders {
        for source in 16..16 + HOLD_SOURCES {
            for _ in 0..HOLD_PER_SOURCE {
                tasks.push(tokio::spawn(holder(
                    bench.addr(),
                    format!("127.0.0.{source}"),
                    stall_after_version,
                    held.clone(),
                )));
            }
        }
        tokio::time::sleep(HOLD_WARMUP).await;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (held, stop) = (held.clone(), stop.clone());
        tokio::spawn(async move {
            let mut samples = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                samples.push(held.load(Ordering::Relaxed) as f64);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            samples
        })
    };
    let (mut logins, mut tries) = (Vec::new(), Vec::new());
    for i in 0..LEGIT_LOGINS {
        let (ms, n) = retrying_login(&bench, i).await;
        logins.push(ms);
        tries.push(n);
    }
    stop.store(true, Ordering::Relaxed);
    let held = sampler.await.unwrap_or_default();
    for t in tasks {
        t.abort();
    }
    Hold {
        name,
        logins,
        tries,
        held,
    }
}

async fn hold_report() -> String {
    let off = "[limits]\npreauth_drop_start = 100\n";
    let scenarios = [
        hold("nobody holding (default limits)", "", None).await,
        hold("idle holders, default limits", "", Some(false)).await,
        hold("idle holders, early drop off", off, Some(false)).await,
        hold(
            "holders stall after their version line, default limits",
            "",
            Some(true),
        )
        .await,
        hold(
            "holders stall after their version line, early drop off",
            off,
            Some(true),
        )
        .await,
    ];
    let mut report = format!(
        "| pre-auth hold ({HOLD_SOURCES} sources × {HOLD_PER_SOURCE}) | legit login p50 / p99 / max (retries included) | tries per login: mean / max | logins on the first try | holder connections open: mean / max |\n|---|---|---|---|---|\n"
    );
    for s in &scenarios {
        let mean_tries = s.tries.iter().map(|&n| f64::from(n)).sum::<f64>() / s.tries.len() as f64;
        let first = s.tries.iter().filter(|&&n| n == 1).count();
        let held_mean = s.held.iter().sum::<f64>() / s.held.len().max(1) as f64;
        let held_max = s.held.iter().copied().fold(0.0, f64::max);
        report.push_str(&format!(
            "| {} | {:.0} / {:.0} / {:.0} ms | {:.2} / {} | {}/{} | {:.0} / {:.0} |\n",
            s.name,
            percentile(&s.logins, 50),
            percentile(&s.logins, 99),
            percentile(&s.logins, 100),
            mean_tries,
            s.tries.iter().max().copied().unwrap_or(0),
            first,
            s.tries.len(),
            held_mean,
            held_max,
        ));
    }
    report
}

/// The insider: 36 tasks from four addresses (127.0.0.40–43) log in as `bench<user>`
/// with the right password and hang up at the code prompt, again and again.
const INSIDER_TASKS: usize = 36;

async fn insider(addr: std::net::SocketAddr, user: String, i: usize, stop: Arc<AtomicBool>) {
    let source = format!("127.0.0.{}", 40 + i % 4);
    while !stop.load(Ordering::Relaxed) {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
        let Ok(stream) = socket.connect(addr).await else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        let config = Arc::new(russh::client::Config::default());
        let Ok(mut conn) = russh::client::connect_stream(config, stream, TrustAll).await else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        let started = conn
            .authenticate_keyboard_interactive_start(user.clone(), None)
            .await;
        if matches!(
            started,
            Ok(russh::client::KeyboardInteractiveAuthResponse::InfoRequest { .. })
        ) {
            let _ = conn
                .authenticate_keyboard_interactive_respond(vec![support::PASSWORD.into()])
                .await;
        }
        // Hang up at the code prompt (counted and audited as a round without a code).
        drop(conn);
    }
}

/// Legit logins while the insider runs: (p50, p99, max) ms of those that got in, and
/// how many were refused.
async fn insider_scenario(name: &'static str, limits: &str, flood: bool) -> String {
    let config = format!("allowlist = [\"127.0.0.0/8\"]\n{limits}");
    let bench = Bench::start(&config, users(LEGIT_LOGINS + 1, Argon2Config::default())).await;
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    if flood {
        for i in 0..INSIDER_TASKS {
            tasks.push(tokio::spawn(insider(
                bench.addr(),
                format!("bench{LEGIT_LOGINS}"),
                i,
                stop.clone(),
            )));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let mut times = Vec::new();
    let mut refused = 0;
    for i in 0..LEGIT_LOGINS {
        let t0 = Instant::now();
        let mut conn = support::common::connect(bench.addr()).await;
        let outcome = support::common::ki_login(
            &mut conn,
            &format!("bench{i}"),
            &[support::PASSWORD, &bench.code(i)],
        )
        .await;
        if outcome.success {
            let mut c = Console::open(&conn, 80, 24, "xterm").await;
            c.wait_for("post_tags").await;
            times.push(t0.elapsed().as_secs_f64() * 1e3);
        } else {
            refused += 1;
        }
        support::common::disconnect(conn).await;
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.abort();
    }
    format!(
        "| {name} | {:.0} / {:.0} / {:.0} ms | {refused}/{LEGIT_LOGINS} |\n",
        percentile(&times, 50),
        percentile(&times, 99),
        percentile(&times, 100),
    )
}

async fn insider_report() -> String {
    let raised = "[lockout]\nfailure_limit = 1000000\nuser_failure_limit = 1000000\n\
                  ip_failure_limit = 1000000\n[limits]\nper_source_per_minute = 1000000\n\
                  global_per_second = 1000000\nmax_preauth_per_source = 100000\n\
                  max_preauth_total = 100000\npreauth_drop_start = 100000\n";
    let mut report = String::from(
        "| insider: right password, no code, 36 tasks from 4 addresses | legit login p50 / p99 / max (to the first frame) | legit logins refused |\n|---|---|---|\n",
    );
    report.push_str(&insider_scenario("nobody flooding", "", false).await);
    report.push_str(
        &insider_scenario("insider, default limits (lockout stops them)", "", true).await,
    );
    report.push_str(
        &insider_scenario(
            "insider, lockout and rate limits raised (the hashing bound alone)",
            raised,
            true,
        )
        .await,
    );
    report
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "insider") {
        let report = insider_report().await;
        println!("{report}");
        let _ = std::fs::write(
            concat!(env!("CARGO_MANIFEST_DIR"), "/target/bench-flood.md"),
            &report,
        );
        return;
    }
    if std::env::args().any(|a| a == "denied") {
        let report = denied_report().await;
        println!("{report}");
        let _ = std::fs::write(
            concat!(env!("CARGO_MANIFEST_DIR"), "/target/bench-flood.md"),
            &report,
        );
        return;
    }
    if std::env::args().any(|a| a == "hold") {
        let report = hold_report().await;
        println!("{report}");
        let _ = std::fs::write(
            concat!(env!("CARGO_MANIFEST_DIR"), "/target/bench-flood.md"),
            &report,
        );
        return;
    }
    let scenarios = [
        run("default limits", "", true).await,
        run(
            "rate limits raised (every attempt reaches auth)",
            "[limits]\nper_source_per_minute = 1000000\nglobal_per_second = 1000000\n\
             max_preauth_per_source = 100000\nmax_preauth_total = 100000\n\
             preauth_drop_start = 100000\n",
            false,
        )
        .await,
    ];
    let mut report = String::from(
        "| scenario | legit login p50 / p99, idle | under flood | attacker attempts answered | denied connections | server peak RSS |\n|---|---|---|---|---|---|\n",
    );
    for s in &scenarios {
        report.push_str(&format!(
            "| {} | {:.0} / {:.0} ms | {:.0} / {:.0} ms | {} | {} | {} MiB |\n",
            s.name,
            percentile(&s.idle, 50),
            percentile(&s.idle, 99),
            percentile(&s.flood, 50),
            percentile(&s.flood, 99),
            s.attempts,
            s.denied,
            s.peak_rss_kib / 1024,
        ));
    }
    if let Some(us) = scenarios[0].cpu_per_denied_us {
        report.push_str(&format!(
            "\nServer CPU per denied connection ({DENIED_PROBES} sequential connections from a source outside the allow-list): {us:.1} µs\n"
        ));
    }
    report.push('\n');
    report.push_str(&hold_report().await);
    report.push('\n');
    report.push_str(&insider_report().await);
    println!("{report}");
    let _ = std::fs::write(
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/bench-flood.md"),
        &report,
    );
}

/// Server CPU per connection refused at the gate (a source outside the allow-list):
/// `DENIED_PROBES` connections one after another, then as many from 16 tasks at once
/// (accepts arrive in batches), each probe waiting for the reset.
async fn denied_report() -> String {
    let bench = Bench::start("", users(1, support::common::TEST_ARGON2)).await;
    let bench = Arc::new(bench);
    // Warm up (the first refusals set up the per-source state and the log throttle).
    for _ in 0..200 {
        denied_probe(&bench).await;
    }
    let before = bench.cpu_time();
    let t0 = Instant::now();
    for _ in 0..DENIED_PROBES {
        denied_probe(&bench).await;
    }
    let sequential = bench.cpu_time().saturating_sub(before);
    let sequential_s = t0.elapsed().as_secs_f64();
    let before = bench.cpu_time();
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let bench = Arc::clone(&bench);
        tasks.push(tokio::spawn(async move {
            for _ in 0..DENIED_PROBES / 16 {
                denied_probe(&bench).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let parallel = bench.cpu_time().saturating_sub(before);
    let parallel_s = t0.elapsed().as_secs_f64();
    let per = |d: Duration| d.as_secs_f64() * 1e6 / DENIED_PROBES as f64;
    format!(
        "| denied connections ({DENIED_PROBES} each) | server CPU per connection | connections/s |\n|---|---|---|\n\
         | one after another | {:.1} µs | {:.0} |\n\
         | 16 at a time | {:.1} µs | {:.0} |\n",
        per(sequential),
        DENIED_PROBES as f64 / sequential_s,
        per(parallel),
        DENIED_PROBES as f64 / parallel_s,
    )
}
