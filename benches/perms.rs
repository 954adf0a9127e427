//! Permission figures: an object-permission-filtered list on a 1,000,000-row table for a
//! user with 100,000 object grants (first page, next page, last page), and building the
//! model index for a user in 20 groups holding 1,000 permissions.
//!
//! `cargo bench --bench perms` — prints a Markdown table (also written to
//! `target/bench-perms.md`). Figures, not pass/fail. Release build, SQLite, in process
//! (the store and the engine, as the session calls them).

mod support;

use std::time::Instant;

use moat::domain::{Listing, PageAnchor, RowFilter};
use moat::perm;
use moat::store::{AuditEntry, NewUser, Principal, Store};

const ROWS: i64 = 1_000_000;
const GRANTS: i64 = 100_000;
const GROUPS: usize = 20;
const PERMS_PER_GROUP: usize = 50;
const RUNS: usize = 20;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

async fn user(store: &Store, name: &str) -> i64 {
    store
        .create_user(&NewUser {
            username: name,
            password_hash: "x",
            is_superuser: false,
            totp_secret: None,
            must_change_password: false,
            password_expires_at: None,
            now: 0,
        })
        .await
        .unwrap()
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let t0 = Instant::now();
    support::big_table(&store, ROWS).await;
    let jane = user(&store, "jane").await;
    // Every tenth row granted to jane directly.
    sqlx::query(
        "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?) \
         INSERT INTO moat_user_object_perms (user_id, codename, model, pk) \
         SELECT ?, 'view_big', 'big', CAST(i * 10 AS TEXT) FROM s",
    )
    .bind(GRANTS)
    .bind(jane)
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::query("ANALYZE").execute(store.pool()).await.unwrap();
    let setup_s = t0.elapsed().as_secs_f64();

    let table = store
        .introspect()
        .await
        .unwrap()
        .table("big")
        .unwrap()
        .clone();
    let filter = Listing {
        filter: RowFilter::Granted {
            user_id: jane,
            codenames: vec!["view_big".into(), "change_big".into()],
        },
        ..Listing::all()
    };
    let (mut first, mut next, mut last) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let t = Instant::now();
        let page = store
            .page(&table, &PageAnchor::First, 100, &filter)
            .await
            .unwrap();
        first.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(page.rows.len(), 100);
        let after = PageAnchor::After(page.rows[99].cursor.clone());
        let t = Instant::now();
        store.page(&table, &after, 100, &filter).await.unwrap();
        next.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        store
            .page(&table, &PageAnchor::Last, 100, &filter)
            .await
            .unwrap();
        last.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let t = Instant::now();
    let count = store.count_rows(&table, &filter).await.unwrap();
    let count_ms = t.elapsed().as_secs_f64() * 1e3;

    // A user in 20 groups holding 1,000 permissions between them.
    let bob = user(&store, "bob").await;
    let mut groups = Vec::new();
    for g in 0..GROUPS {
        let perms: Vec<String> = (0..PERMS_PER_GROUP)
            .map(|p| format!("custom{p}_big{g}"))
            .collect();
        let id = store
            .create_group(&format!("group{g}"), &perms, 0, &AuditEntry::default())
            .await
            .unwrap();
        groups.push(id);
    }
    store
        .set_model_perms(
            Principal::User(bob),
            &["view_big".into()],
            true,
            &AuditEntry::default(),
        )
        .await
        .unwrap();
    store
        .add_memberships(bob, &groups, &AuditEntry::default())
        .await
        .unwrap();
    let schema = store.introspect().await.unwrap();
    let mut index_ms = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let grants = store.grants(bob).await.unwrap();
        let listed = schema
            .tables
            .iter()
            .filter(|t| perm::model_listed(&grants, &t.name))
            .count();
        index_ms.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(listed, 1);
        assert!(grants.model_perms.len() > 1000);
    }

    let report = format!(
        "| figure (median of {RUNS}) | value | goal |\n|---|---|---|\n\
         | object-filtered list, 1,000,000 rows, 100,000 grants: first page (100 rows) | {:.1} ms | ≤ 100 ms |\n\
         | same: next page | {:.1} ms | ≤ 100 ms |\n\
         | same: last page | {:.1} ms | |\n\
         | same: capped count ({count}) | {count_ms:.1} ms | |\n\
         | model index for a user in {GROUPS} groups with {} permissions | {:.2} ms | ≤ 5 ms |\n\
         \nSet-up (table, grants, ANALYZE): {setup_s:.1} s\n",
        median(first),
        median(next),
        median(last),
        GROUPS * PERMS_PER_GROUP,
        median(index_ms),
    );
    println!("{report}");
    let _ = std::fs::write(
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/bench-perms.md"),
        &report,
    );
}
