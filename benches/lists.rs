//! List figures on a 1,000,000-row table: open (first page + count), next page, last page,
//! indexed (prefix) search, non-indexed (substring) search, sort change — and memory while
//! paging through 10,000 pages. On SQLite, and on PostgreSQL beside it when
//! `MOAT_TEST_POSTGRES_URL` names a server (a fresh database is made on it).
//!
//! `cargo bench --bench lists` — prints a Markdown table (also written to
//! `target/bench-lists.md`). Figures, not pass/fail. Release build, in process: the store
//! queries the session runs for those keys.

mod support;

use std::time::Instant;

use moat::domain::{Filter, FilterOp, Listing, PageAnchor, Sort, Value};
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

/// One database's figures, in the report's row order.
struct Figures {
    open: f64,
    next: f64,
    last: f64,
    indexed: f64,
    substring: f64,
    substring_common: f64,
    sort: f64,
    filter_value: f64,
    filter_range: f64,
    count: String,
    rss: String,
}

async fn figures(store: Store) -> Figures {
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
    let count = store.count_rows(&t, &all).await.unwrap().to_string();
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
    // Filters: a value (`status = draft`, a third of the rows) and a range on `created`
    // (one day: 1,440 rows), first page.
    let draft = Listing {
        filters: vec![Filter {
            column: "status".into(),
            op: FilterOp::Equals(Value::Text("draft".into())),
        }],
        ..Listing::all()
    };
    let filter_value = time(RUNS, || async {
        store
            .page(&t, &PageAnchor::First, PAGE, &draft)
            .await
            .unwrap();
        store.count_rows(&t, &draft).await.unwrap();
    })
    .await;
    let day = Listing {
        filters: vec![Filter {
            column: "created".into(),
            op: FilterOp::Range {
                from: Some(Value::Text("2024-01-01 00:00:00".into())),
                to: Some(Value::Text("2024-01-02 00:00:00".into())),
            },
        }],
        ..Listing::all()
    };
    let filter_range = time(RUNS, || async {
        let p = store
            .page(&t, &PageAnchor::First, PAGE, &day)
            .await
            .unwrap();
        assert_eq!(p.rows.len(), PAGE as usize);
        store.count_rows(&t, &day).await.unwrap();
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
    store.close().await;
    Figures {
        open,
        next,
        last,
        indexed,
        substring,
        substring_common,
        sort,
        filter_value,
        filter_range,
        count,
        rss: format!("{rss_start} / {rss_mid} / {rss_end} KiB ({paging_s:.1} s)"),
    }
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let sqlite = figures(Store::connect(&url).await.unwrap()).await;
    let postgres = match std::env::var_os(moat::store::testing::POSTGRES_ENV) {
        Some(_) => {
            let url = moat::store::testing::fresh_postgres_url().await.unwrap();
            Some(figures(Store::connect(&url).await.unwrap()).await)
        }
        None => {
            eprintln!(
                "{} is not set: PostgreSQL column left out",
                moat::store::testing::POSTGRES_ENV
            );
            None
        }
    };
    let pg = |f: &dyn Fn(&Figures) -> String| postgres.as_ref().map_or("—".to_string(), f);
    let rows: [(&str, String, String, &str); 11] = [
        (
            "open list: first page (100 rows) + count",
            format!("{:.2} ms", sqlite.open),
            pg(&|p| format!("{:.2} ms", p.open)),
            "≤ 50 ms",
        ),
        (
            "the count shown",
            sqlite.count.clone(),
            pg(&|p| p.count.clone()),
            "",
        ),
        (
            "next page",
            format!("{:.2} ms", sqlite.next),
            pg(&|p| format!("{:.2} ms", p.next)),
            "≤ 20 ms",
        ),
        (
            "last page",
            format!("{:.2} ms", sqlite.last),
            pg(&|p| format!("{:.2} ms", p.last)),
            "≤ 50 ms",
        ),
        (
            "indexed search (`^Title number 7777`, prefix on indexed title)",
            format!("{:.2} ms", sqlite.indexed),
            pg(&|p| format!("{:.2} ms", p.indexed)),
            "≤ 100 ms",
        ),
        (
            "non-indexed search, rare term (substring over title and body, full scan)",
            format!("{:.0} ms", sqlite.substring),
            pg(&|p| format!("{:.0} ms", p.substring)),
            "(report)",
        ),
        (
            "non-indexed search, common term (stops at one page)",
            format!("{:.2} ms", sqlite.substring_common),
            pg(&|p| format!("{:.2} ms", p.substring_common)),
            "(report)",
        ),
        (
            "sort change (title, descending, first page)",
            format!("{:.2} ms", sqlite.sort),
            pg(&|p| format!("{:.2} ms", p.sort)),
            "",
        ),
        (
            "filter by a value (`status = draft`, 333,333 rows): first page + count",
            format!("{:.2} ms", sqlite.filter_value),
            pg(&|p| format!("{:.2} ms", p.filter_value)),
            "≤ 10 ms",
        ),
        (
            "filter by a range (`created` within one day, 1,440 rows): first page + count",
            format!("{:.2} ms", sqlite.filter_range),
            pg(&|p| format!("{:.2} ms", p.filter_range)),
            "≤ 10 ms",
        ),
        (
            "RSS paging through 10,000 pages: start / after 1,000 / end",
            sqlite.rss.clone(),
            pg(&|p| p.rss.clone()),
            "flat",
        ),
    ];
    let mut report =
        String::from("| figure (median) | SQLite | PostgreSQL | goal |\n|---|---|---|---|\n");
    for (what, s, p, goal) in rows {
        report.push_str(&format!("| {what} | {s} | {p} | {goal} |\n"));
    }
    println!("{report}");
    let _ = std::fs::write(
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/bench-lists.md"),
        &report,
    );
}
