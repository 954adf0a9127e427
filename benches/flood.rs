//! Behaviour under an authentication flood: a legitimate user logs in repeatedly while
//! 200 attacker tasks send wrong passwords from an allow-listed address and another task
//! streams connections from a denied one. Also: server CPU per denied connection, and
//! peak server memory.
//!
//! `cargo bench --bench flood` — prints a Markdown table (also written to
//! `target/bench-flood.md`). Figures, not pass/fail. Argon2 runs at its default cost.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use moat::config::Argon2Config;
use support::common::{login_at, Console, TrustAll};
use support::{percentile, users, Bench};
use tokio::io::AsyncReadExt;
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

#[tokio::main]
async fn main() {
    let scenarios = [
        run("default limits", "", true).await,
        run(
            "rate limits raised (every attempt reaches auth)",
            "[limits]\nper_source_per_minute = 1000000\nglobal_per_second = 1000000\n\
             max_preauth_per_source = 100000\nmax_preauth_total = 100000\n",
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
    println!("{report}");
    let _ = std::fs::write(
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/bench-flood.md"),
        &report,
    );
}
