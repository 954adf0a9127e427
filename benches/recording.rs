//! What session recording costs, measured against the release binary over loopback:
//! keystroke → frame with recording on and off (two servers, keys alternating between
//! them so drift hits both alike), server PSS per idle session on and off, and the size
//! of a typical session's recording (browse, search, open, edit, save) per hour.
//!
//! `cargo bench --bench recording` — prints a Markdown table (also written to
//! `target/bench-recording.md`). Figures, not pass/fail.

mod support;

use std::time::{Duration, Instant};

use support::common::{self, login_at, Console, TEST_ARGON2};
use support::{percentile, users, Bench};

const MOVES: usize = 200;
const IDLE_SESSIONS: usize = 100;
/// A person's pace in the typical session: a key every this long.
const PACE: Duration = Duration::from_millis(400);

fn recordings(bench: &Bench) -> Vec<(std::path::PathBuf, u64)> {
    std::fs::read_dir(bench.dir().join("recordings"))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| (e.path(), e.metadata().map(|m| m.len()).unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::main]
async fn main() {
    let base = format!(
        "[argon2]\nmemory_kib = {}\niterations = {}\nparallelism = {}\n\
         [limits]\nper_source_per_minute = 100000\nglobal_per_second = 10000\n\
         max_preauth_per_source = 1000\nmax_preauth_total = 1000\n",
        TEST_ARGON2.memory_kib, TEST_ARGON2.iterations, TEST_ARGON2.parallelism
    );
    let n = 2 + IDLE_SESSIONS;
    let on = Bench::start(&base, users(n, TEST_ARGON2)).await;
    let off = Bench::start(
        &format!("{base}[recording]\nenabled = false\n"),
        users(n, TEST_ARGON2),
    )
    .await;

    // 1. Keystroke → frame at 200×50, alternating between the two servers.
    let mut consoles = Vec::new();
    for b in [&on, &off] {
        let conn = login_at(b.addr(), "bench0", &b.code(0)).await;
        let mut c = Console::open(&conn, 200, 50, "xterm-256color").await;
        c.wait_for("post_tags").await;
        c.keys(&[b"j", b"j", b"j", b"\r"]).await;
        c.wait_for("row 1 of 2,000").await;
        c.settle(Duration::from_millis(200)).await;
        consoles.push((conn, c));
    }
    let mut ms = [Vec::new(), Vec::new()];
    for i in 2..(2 + MOVES) {
        for (k, (_, c)) in consoles.iter_mut().enumerate() {
            let t0 = Instant::now();
            c.send(b"j").await;
            c.wait_for(&format!("row {i} of 2,000")).await;
            ms[k].push(t0.elapsed().as_secs_f64() * 1e3);
            c.settle(Duration::from_millis(5)).await;
        }
    }
    drop(consoles);

    // 2. Memory per idle session at 80×24, on and off.
    let mut per_session = [0.0, 0.0];
    for (k, b) in [&on, &off].into_iter().enumerate() {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = b.pss_kib();
        let mut idle = Vec::new();
        for i in 2..(2 + IDLE_SESSIONS) {
            let conn = login_at(b.addr(), &format!("bench{i}"), &b.code(i)).await;
            let mut c = Console::open(&conn, 80, 24, "xterm-256color").await;
            c.wait_for("post_tags").await;
            idle.push((conn, c));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        per_session[k] = b.pss_kib().saturating_sub(before) as f64 / IDLE_SESSIONS as f64;
        for (conn, _) in idle {
            common::disconnect(conn).await;
        }
    }

    // 3. A typical session at a person's pace, recorded: its file per hour.
    let before: Vec<_> = recordings(&on).into_iter().map(|(p, _)| p).collect();
    let conn = login_at(on.addr(), "bench1", &on.code(1)).await;
    let mut c = Console::open(&conn, 120, 40, "xterm-256color").await;
    c.wait_for("post_tags").await;
    let t0 = Instant::now();
    let mut keys = 0usize;
    let script: Vec<&[u8]> = [
        vec![&b"j"[..]; 3],
        vec![b"\r"],
        vec![b"j"; 20],
        vec![b"\x1b[6~", b"\x1b[6~", b"\x1b[5~"],
        vec![b"/", b"K", b"a", b"f", b"k", b"a", b"\r"],
        vec![b"j", b"j", b"\r", b"j", b"j", b"j", b"\x1b"],
        vec![b"\x1b", b"k", b"\r", b"e"],
        vec![
            b"\t", b"\t", b"\x15", b"n", b"e", b"w", b" ", b"t", b"i", b"t", b"l", b"e", b"\x13",
        ],
        vec![
            b"\x1b", b"\x1b", b"k", b"k", b"\r", b"j", b"j", b"j", b"\x1b", b"\x1b",
        ],
    ]
    .concat();
    for k in script {
        c.send(k).await;
        keys += 1;
        c.settle(PACE).await;
    }
    let active = t0.elapsed();
    c.send(b"\x03").await;
    c.wait_closed().await;
    common::disconnect(conn).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (file, size) = recordings(&on)
        .into_iter()
        .find(|(p, _)| !before.contains(p))
        .expect("the typical session's recording");
    let mut text = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::MultiGzDecoder::new(std::fs::File::open(&file).unwrap()),
        &mut text,
    )
    .unwrap();
    let per_hour = size as f64 / active.as_secs_f64() * 3600.0;

    let report = format!(
        "| figure | recording on | recording off |\n|---|---|---|\n\
         | keystroke → frame, cursor move in a list at 200×50, median of {MOVES} (p90) | {:.2} ms ({:.2}) | {:.2} ms ({:.2}) |\n\
         | server PSS per idle session, {IDLE_SESSIONS} sessions at 80×24 | {:.0} KiB | {:.0} KiB |\n\n\
         | typical session (browse, page, search, open, edit, save; a key every {} ms, 120×40) | |\n|---|---|\n\
         | keys, active time | {keys}, {:.0} s |\n\
         | recording: compressed / asciicast text | {} B / {} B ({:.1}×) |\n\
         | per key (compressed) | {:.0} B |\n\
         | per hour at that pace | {:.1} MiB |\n",
        percentile(&ms[0], 50),
        percentile(&ms[0], 90),
        percentile(&ms[1], 50),
        percentile(&ms[1], 90),
        per_session[0],
        per_session[1],
        PACE.as_millis(),
        active.as_secs_f64(),
        size,
        text.len(),
        text.len() as f64 / size.max(1) as f64,
        size as f64 / keys as f64,
        per_hour / 1_048_576.0,
    );
    println!("{report}");
    let _ = std::fs::write(
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/bench-recording.md"),
        &report,
    );
}
