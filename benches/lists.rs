//! List figures on a 1,000,000-row table: open (first page + capped count), next page,
//! last page, indexed (prefix) search, non-indexed (substring) search, sort change — and
//! memory while paging through 10,000 pages.
//!
//! `cargo bench --bench lists` — prints a Markdown table (also written to
//! `target/bench-lists.md`). Figures, not pass/fail. Release build, SQLite, in process:
//! the store queries the session runs for those keys.

mod support;

use std::time::Instant;

use moat::domain::{Listing, PageAnchor, Sort};
use moat::store::Store;

const ROWS: i64 = 1_000_000;
const PAGE: u32 = 100;
const RUNS: usize = 15;
const PAGES: usize = 10_000;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

async fn time<F, Fut, T>(runs: usize, mut f: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut ms = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        f().await;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    median(ms)
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    support::big_table(&store, ROWS).await;
    let t = store
        .introspect()
        .await
        .unwrap()
        .table("big")
        .unwrap()
        .clone();
    let all = Listing::all();

    let open = time(RUNS, || async {
        store
            .page(&t, &PageAnchor::First, PAGE, &all)
            .await
            .unwrap();
        store.count_rows(&t, &all).await.unwrap();
    })
    .await;
    let first = store
        .page(&t, &PageAnchor::First, PAGE, &all)
        .await
        .unwrap();
    let after = PageAnchor::After(first.rows.last().unwrap().cursor.clone());
    let next = time(RUNS, || store.page(&t, &after, PAGE, &all)).await;
    let last = time(RUNS, || store.page(&t, &PageAnchor::Last, PAGE, &all)).await;
    let prefix = Listing {
        search: Some(("^Title number 7777".into(), vec!["title".into()])),
        ..Listing::all()
    };
    let indexed = time(RUNS, || async {
        store
            .page(&t, &PageAnchor::First, PAGE, &prefix)
            .await
            .unwrap();
    })
    .await;
    let rare = Listing {
        search: Some(("row 999999 ".into(), vec!["title".into(), "body".into()])),
        ..Listing::all()
    };
    let substring = time(5, || async {
        store
            .page(&t, &PageAnchor::First, PAGE, &rare)
            .await
            .unwrap();
    })
    .await;
    let common = Listing {
        search: Some(("row 12".into(), vec!["title".into(), "body".into()])),
        ..Listing::all()
    };
    let substring_common = time(RUNS, || async {
        store
            .page(&t, &PageAnchor::First, PAGE, &common)
            .await
            .unwrap();
    })
    .await;
    let sorted = Listing {
        sort: Some(Sort {
            column: "title".into(),
            descending: true,
        }),
        ..Listing::all()
    };
    let sort = time(RUNS, || async {
        store
            .page(&t, &PageAnchor::First, PAGE, &sorted)
            .await
            .unwrap();
    })
    .await;

    // Page through 10,000 pages keeping only the current one, as the console does.
    let rss_start = support::self_rss_kib();
    let mut page = store
        .page(&t, &PageAnchor::First, PAGE, &all)
        .await
        .unwrap();
    let mut rss_mid = 0;
    let t0 = Instant::now();
    for i in 0..PAGES {
        let cursor = page.rows.last().unwrap().cursor.clone();
        page = store
            .page(&t, &PageAnchor::After(cursor), PAGE, &all)
            .await
            .unwrap();
        if i == PAGES / 10 {
            rss_mid = support::self_rss_kib();
        }
    }
    let paging_s = t0.elapsed().as_secs_f64();
    let rss_end = support::self_rss_kib();

    let report = format!(
        "| figure (median) | value | goal |\n|---|---|---|\n\
         | open list: first page (100 rows) + capped count | {open:.2} ms | ≤ 50 ms |\n\
         | next page | {next:.2} ms | ≤ 20 ms |\n\
         | last page | {last:.2} ms | ≤ 50 ms |\n\
         | indexed search (`^Title number 7777`, prefix on indexed title) | {indexed:.2} ms | ≤ 100 ms |\n\
         | non-indexed search, rare term (substring over title and body, full scan) | {substring:.0} ms | (report) |\n\
         | non-indexed search, common term (stops at one page) | {substring_common:.2} ms | (report) |\n\
         | sort change (title, descending, first page) | {sort:.2} ms | |\n\
         | RSS paging through {PAGES} pages: start / after 1,000 / end | {rss_start} / {rss_mid} / {rss_end} KiB ({paging_s:.1} s) | flat |\n"
    );
    println!("{report}");
    let _ = std::fs::write(
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/bench-lists.md"),
        &report,
    );
}
