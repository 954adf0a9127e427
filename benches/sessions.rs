//! Many open sessions: server memory (PSS) per logged-in console at 20 and at 1,000
//! sessions, and keystroke → frame while 100 of the 1,000 type 10 keys a second each.
//!
//! `cargo bench --bench sessions` — prints a Markdown table (also written to
//! `target/bench-sessions.md`). Figures, not pass/fail.
//!
//! 1,000 connections from one address need the gate's per-source limits raised (set in
//! the server's config below) and more open files than the usual 1,024 (this process
//! raises its own `RLIMIT_NOFILE` soft limit to the hard limit; the server inherits it).
//! The client side (1,000 russh clients, 100 of them feeding a vt100 emulator) runs in
//! this process, on the same 2 cores as the server.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use support::common::{login_at, Console, TEST_ARGON2};
use support::{percentile, users, Bench};
use tokio::sync::Mutex;

const SESSIONS: usize = 1_000;
const FIRST: usize = 20;
const TYPISTS: usize = 100;
const KEYS_PER_SECOND: u64 = 10;
const TYPING: Duration = Duration::from_secs(10);

fn raise_open_files() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit write and read the struct passed, nothing else.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
    }
    limit.rlim_cur
}

type Open = (support::common::Conn, Console);

/// Log in `bench<i>` for every i in `range` (8 at a time) and wait for the model index.
async fn open(bench: &Arc<Bench>, range: std::ops::Range<usize>) -> Vec<Open> {
    let ids = Arc::new(Mutex::new(range.collect::<Vec<_>>()));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (bench, ids) = (Arc::clone(bench), Arc::clone(&ids));
        tasks.push(tokio::spawn(async move {
            let mut opened = Vec::new();
            loop {
                let Some(i) = ids.lock().await.pop() else {
                    return opened;
                };
                let conn = login_at(bench.addr(), &format!("bench{i}"), &bench.code(i)).await;
                let mut c = Console::open(&conn, 80, 24, "xterm-256color").await;
                c.wait_for("post_tags").await;
                opened.push((i, conn, c));
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_by_key(|(i, _, _)| *i);
    all.into_iter().map(|(_, conn, c)| (conn, c)).collect()
}

#[tokio::main]
async fn main() {
    let files = raise_open_files();
    let config = format!(
        "[argon2]\nmemory_kib = {}\niterations = {}\nparallelism = {}\n\
         [limits]\nper_source_per_minute = 1000000\nglobal_per_second = 100000\n\
         max_preauth_per_source = 10000\nmax_preauth_total = 10000\n\
         preauth_drop_start = 10000\n",
        TEST_ARGON2.memory_kib, TEST_ARGON2.iterations, TEST_ARGON2.parallelism
    );
    let bench = Arc::new(Bench::start(&config, users(SESSIONS, TEST_ARGON2)).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pss_0 = bench.pss_kib();
    let mut sessions = open(&bench, 0..FIRST).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pss_20 = bench.pss_kib();
    // The first sessions also pay for what is set up once for all (pooled database
    // connections and their caches, worker threads' allocator arenas); 20 more show what
    // one more session costs.
    sessions.extend(open(&bench, FIRST..2 * FIRST).await);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pss_40 = bench.pss_kib();
    let t0 = Instant::now();
    sessions.extend(open(&bench, 2 * FIRST..SESSIONS).await);
    let open_s = t0.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pss_1000 = bench.pss_kib();

    // 100 typists: each opens `posts`, goes down to a row of its own (typist n to row
    // n + 1, so that they reach the next page at different times, not all at once), then
    // moves down one row 10 times a second, timing each key from its write to the frame
    // that shows the new position.
    let typists: Vec<Open> = sessions.drain(..TYPISTS).collect();
    let mut ready = Vec::new();
    for (n, (conn, mut c)) in typists.into_iter().enumerate() {
        c.keys(&[b"j", b"j", b"j", b"\r"]).await;
        c.wait_for("row 1 of 2,000").await;
        if n > 0 {
            c.send(&vec![b'j'; n]).await;
            c.wait_for(&format!("row {} of 2,000", n + 1)).await;
        }
        ready.push((n + 1, conn, c));
    }
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now() + Duration::from_millis(200);
    let mut tasks = Vec::new();
    for (n, (first_row, conn, mut c)) in ready.into_iter().enumerate() {
        let latencies = Arc::clone(&latencies);
        tasks.push(tokio::spawn(async move {
            let period = Duration::from_millis(1000 / KEYS_PER_SECOND);
            // Spread the typists over the period.
            let offset = period * u32::try_from(n).unwrap_or(0) / TYPISTS as u32;
            let mut next = tokio::time::Instant::from_std(start) + offset;
            let end = tokio::time::Instant::from_std(start) + TYPING;
            let mut row = first_row;
            let mut mine = Vec::new();
            while next < end {
                tokio::time::sleep_until(next).await;
                let t0 = Instant::now();
                c.send(b"j").await;
                row += 1;
                c.wait_for(&format!("row {row} of 2,000")).await;
                // Row 101 is on the next page: that key waits for a page query too.
                mine.push((row == 101, t0.elapsed().as_secs_f64() * 1e3));
                next += period;
            }
            latencies.lock().await.extend(mine);
            (conn, c)
        }));
    }
    let mut done = Vec::new();
    for t in tasks {
        done.push(t.await.unwrap());
    }
    let all: Vec<(bool, f64)> = latencies.lock().await.clone();
    let latencies: Vec<f64> = all.iter().map(|(_, ms)| *ms).collect();
    let in_page: Vec<f64> = all.iter().filter(|(p, _)| !p).map(|(_, ms)| *ms).collect();
    let paging: Vec<f64> = all.iter().filter(|(p, _)| *p).map(|(_, ms)| *ms).collect();
    let pss_typing = bench.pss_kib();
    drop(done);
    drop(sessions);

    let per = |after: u64, n: usize| after.saturating_sub(pss_0) as f64 / n as f64;
    let report = format!(
        "| figure | value | goal |\n|---|---|---|\n\
         | server PSS per logged-in session at 80×24, {FIRST} sessions (set-up for all included) | {:.0} KiB ({pss_0} → {pss_20} KiB) | ≤ 256 KiB |\n\
         | the next {FIRST} sessions, each | {:.0} KiB ({pss_20} → {pss_40} KiB) | |\n\
         | server PSS per logged-in session at 80×24, {SESSIONS} sessions | {:.0} KiB ({pss_0} → {pss_1000} KiB) | ≤ 256 KiB |\n\
         | opening sessions {}..{SESSIONS} (login + first frame, 8 at a time) | {open_s:.1} s | |\n\
         | keystroke → frame, {TYPISTS} of {SESSIONS} sessions typing {KEYS_PER_SECOND} keys/s for {} s ({} keys): p50 / p90 / p99 / max | {:.1} / {:.1} / {:.1} / {:.1} ms | p99 ≤ 20 ms |\n\
         | of which moves within a page ({} keys): p50 / p99 | {:.1} / {:.1} ms | |\n\
         | of which the move to the next page (row 101: a page query; {} keys): p50 / p99 | {:.1} / {:.1} ms | |\n\
         | server PSS after typing | {pss_typing} KiB | |\n\
         | open files allowed (this process and the server) | {files} | |\n",
        per(pss_20, FIRST),
        pss_40.saturating_sub(pss_20) as f64 / FIRST as f64,
        per(pss_1000, SESSIONS),
        2 * FIRST,
        TYPING.as_secs(),
        latencies.len(),
        percentile(&latencies, 50),
        percentile(&latencies, 90),
        percentile(&latencies, 99),
        latencies.iter().cloned().fold(0.0, f64::max),
        in_page.len(),
        percentile(&in_page, 50),
        percentile(&in_page, 99),
        paging.len(),
        percentile(&paging, 50),
        percentile(&paging, 99),
    );
    println!("{report}");
    let _ = std::fs::write(
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/bench-sessions.md"),
        &report,
    );
}
