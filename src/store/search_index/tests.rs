//! A search through a trigram index finds exactly what the scan finds: same rows, same
//! order, same pages both ways, same counts, same filters and permission filter — and
//! stays so after writes through moat and through plain SQL.

use crate::domain::{
    Filter, FilterOp, Listing, Page, PageAnchor, RowCount, RowFilter, SearchPath, Sort, TableInfo,
    Value,
};
use crate::store::test_support::{
    create_tables, on_sqlite_and_postgres as on_every_database, plain_user,
};
use crate::store::{AuditEntry, Dialect, Principal, Store};

/// Titles that try the edges: case (ASCII and not), LIKE wildcards, FTS5 syntax, quotes,
/// NULLs, long and short text.
const TITLES: &[&str] = &[
    "Hello World",
    "HELLO world again",
    "hello",
    "École des beaux-arts",
    "ÉCOLE NORMALE",
    "école maternelle",
    "Straße und STRASSE",
    "100% pure",
    "100_ pure",
    "a\"quoted\" title",
    "NEAR(foo bar) OR baz*",
    "x",
    "",
    "ünïcödé — dashes",
    "mixed Case HeLLo WoRLD",
];

async fn table(store: &Store, rows: usize) -> TableInfo {
    create_tables(
        store,
        "CREATE TABLE docs (id INTEGER PRIMARY KEY, title TEXT, body TEXT, status TEXT NOT NULL)",
    )
    .await;
    let mut values = Vec::new();
    for i in 0..rows {
        let title = TITLES[i % TITLES.len()];
        let title = if i % 7 == 3 {
            "NULL".to_string()
        } else {
            format!("'{} {i}'", title.replace('\'', "''"))
        };
        let status = ["draft", "published", "archived"][i % 3];
        values.push(format!(
            "({}, {title}, 'body of row {i} hello', '{status}')",
            i + 1
        ));
    }
    for chunk in values.chunks(500) {
        sqlx::raw_sql(&format!(
            "INSERT INTO {} (id, title, body, status) VALUES {}",
            docs(store),
            chunk.join(", ")
        ))
        .execute(store.pool())
        .await
        .unwrap();
    }
    refresh(store).await
}

fn docs(store: &Store) -> &'static str {
    match store.dialect() {
        Dialect::Sqlite | Dialect::Mysql => "docs",
        Dialect::Postgres => "public.docs",
    }
}

async fn refresh(store: &Store) -> TableInfo {
    store
        .introspect()
        .await
        .unwrap()
        .table("docs")
        .unwrap()
        .clone()
}

fn ids(p: &Page) -> Vec<Value> {
    p.rows.iter().map(|r| r.key[0].clone()).collect()
}

/// Pages forward, pages backward, count, distinct values, search path.
type Seen = (
    Vec<Vec<Value>>,
    Vec<Vec<Value>>,
    RowCount,
    String,
    SearchPath,
);

/// Everything a list shows for `listing`: every page forward and backward (pages of 4),
/// the count, the distinct values of the last column, and the search path of the first page.
async fn everything(
    store: &Store,
    t: &TableInfo,
    listing: &Listing,
) -> (
    Vec<Vec<Value>>,
    Vec<Vec<Value>>,
    RowCount,
    String,
    SearchPath,
) {
    let mut forward = Vec::new();
    let mut page = store.page(t, &PageAnchor::First, 4, listing).await.unwrap();
    let path = page.search_path;
    loop {
        forward.push(ids(&page));
        if !page.has_after {
            break;
        }
        let cursor = page.rows.last().unwrap().cursor.clone();
        page = store
            .page(t, &PageAnchor::After(cursor), 4, listing)
            .await
            .unwrap();
    }
    let mut backward = Vec::new();
    let mut page = store.page(t, &PageAnchor::Last, 4, listing).await.unwrap();
    loop {
        backward.push(ids(&page));
        if !page.has_before {
            break;
        }
        let cursor = page.rows.first().unwrap().cursor.clone();
        page = store
            .page(t, &PageAnchor::Before(cursor), 4, listing)
            .await
            .unwrap();
    }
    let count = store.count_rows(t, listing).await.unwrap();
    let distinct = format!(
        "{:?}",
        store
            .distinct_values(t, &t.columns.last().unwrap().name, listing, 10)
            .await
            .unwrap()
    );
    (forward, backward, count, distinct, path)
}

const TERMS: &[&str] = &[
    "hello",
    "HELLO",
    "llo wor",
    "école",
    "ÉCOLE",
    "strasse",
    "straße",
    "% pure",
    "_ p",
    "\"quoted\"",
    "NEAR(foo",
    "baz*",
    "OR b",
    "row 1",
    // A rare word beside common ones: on PostgreSQL the index looks up the rare one alone
    // (see `narrow`), and the term still decides.
    "row 142 hello",
    "Hello 1429",
    // Wildcards, backslash and non-ASCII case beside a rare word and common ones.
    "row 14% hello",
    "row 1_0 hello",
    "body of row 100\\",
    "ÉCOLE des 18",
    "école MATERNELLE 20",
    "STRASSE und 126",
    "Straße 96",
    "hello 142 hello 142",
    "of row 47 hello",
    "no such text",
    "ünï",
    "he",
    "É",
];

/// The listings each term is tried under: alone, filtered, sorted both ways, and with
/// the object-permission filter.
fn listings(term: &str, jane: i64) -> Vec<Listing> {
    let search = Some((
        term.to_string(),
        vec!["title".to_string(), "body".to_string()],
    ));
    let title_only = Some((term.to_string(), vec!["title".to_string()]));
    vec![
        Listing {
            search: search.clone(),
            ..Listing::all()
        },
        Listing {
            search: title_only,
            ..Listing::all()
        },
        Listing {
            search: search.clone(),
            filters: vec![Filter {
                column: "status".into(),
                op: FilterOp::Equals(Value::Text("draft".into())),
            }],
            ..Listing::all()
        },
        Listing {
            search: search.clone(),
            sort: Some(Sort {
                column: "title".into(),
                descending: false,
            }),
            ..Listing::all()
        },
        Listing {
            search: search.clone(),
            sort: Some(Sort {
                column: "title".into(),
                descending: true,
            }),
            ..Listing::all()
        },
        Listing {
            search,
            filter: RowFilter::Granted {
                user_id: jane,
                codenames: vec!["view_docs".into()],
            },
            ..Listing::all()
        },
    ]
}

async fn grant_every_third(store: &Store, jane: i64, rows: usize) {
    for pk in (1..=rows).step_by(3) {
        store
            .set_object_perm(
                Principal::User(jane),
                "view_docs",
                "docs",
                &pk.to_string(),
                true,
                &AuditEntry::default(),
            )
            .await
            .unwrap();
    }
}

/// Every term under every listing: what the scan finds, then through the index.
async fn all_results(
    store: &Store,
    t: &TableInfo,
    jane: i64,
) -> Vec<(
    String,
    (
        Vec<Vec<Value>>,
        Vec<Vec<Value>>,
        RowCount,
        String,
        SearchPath,
    ),
)> {
    let mut out = Vec::new();
    for term in TERMS {
        for (i, l) in listings(term, jane).iter().enumerate() {
            out.push((
                format!("{term:?} listing {i}"),
                everything(store, t, l).await,
            ));
        }
    }
    out
}

/// What a list showed, less how its search ran.
type Shown = (String, Vec<Vec<Value>>, Vec<Vec<Value>>, RowCount, String);

fn without_paths(v: &[(String, Seen)]) -> Vec<Shown> {
    v.iter()
        .map(|(n, (f, b, c, d, _))| (n.clone(), f.clone(), b.clone(), *c, d.clone()))
        .collect()
}

on_every_database! {
    async fn results_through_the_index_are_exactly_the_scans(store: Store) {
        const ROWS: usize = 150;
        let t = table(&store, ROWS).await;
        let jane = plain_user(&store, "jane").await;
        grant_every_third(&store, jane, ROWS).await;
        let scanned = all_results(&store, &t, jane).await;
        assert!(scanned.iter().all(|(_, r)| r.4 == SearchPath::Scan));
        store
            .add_search_index(&t, &["title".into(), "body".into()], &mut |_, _| {})
            .await
            .unwrap();
        let indexed = all_results(&store, &t, jane).await;
        assert_eq!(without_paths(&indexed), without_paths(&scanned));
        // Terms of 3+ characters went through the index; shorter ones were scanned, and
        // said so.
        for (name, r) in &indexed {
            let short = name.starts_with("\"he\"") || name.starts_with("\"É\"");
            let want = if short { SearchPath::ShortTerm } else { SearchPath::Index };
            assert_eq!(r.4, want, "{name}");
        }
        // Some of it found something (the comparison is not between empty lists).
        let found: usize = indexed.iter().map(|(_, r)| r.0.iter().map(Vec::len).sum::<usize>()).sum();
        assert!(found > 500, "{found}");
    }
}

on_every_database! {
    async fn an_index_on_other_columns_is_not_used(store: Store) {
        let t = table(&store, 30).await;
        store
            .add_search_index(&t, &["title".into()], &mut |_, _| {})
            .await
            .unwrap();
        let listing = Listing {
            search: Some(("hello".into(), vec!["title".into(), "body".into()])),
            ..Listing::all()
        };
        let page = store.page(&t, &PageAnchor::First, 10, &listing).await.unwrap();
        assert_eq!(page.search_path, SearchPath::Scan);
        let listing = Listing {
            search: Some(("hello".into(), vec!["title".into()])),
            ..Listing::all()
        };
        let page = store.page(&t, &PageAnchor::First, 10, &listing).await.unwrap();
        assert_eq!(page.search_path, SearchPath::Index);
    }
}

on_every_database! {
    async fn writes_through_moat_and_plain_sql_keep_the_index_in_sync(store: Store) {
        let t = table(&store, 40).await;
        let jane = plain_user(&store, "jane").await;
        store
            .add_search_index(&t, &["title".into(), "body".into()], &mut |_, _| {})
            .await
            .unwrap();
        let docs = docs(&store);
        // Through moat: insert, update, delete.
        let key = store
            .insert_record(
                &t,
                &[
                    ("id".into(), Value::Integer(1000)),
                    ("title".into(), Value::Text("Zebra crossing".into())),
                    ("body".into(), Value::Text("stripes".into())),
                    ("status".into(), Value::Text("draft".into())),
                ],
                AuditEntry::default(),
            )
            .await
            .unwrap();
        store
            .update_record(
                &t,
                &[Value::Integer(2)],
                &[],
                &[("title".into(), Value::Text("Quokka smiles".into()))],
                AuditEntry::default(),
            )
            .await
            .unwrap();
        let schema = store.introspect().await.unwrap();
        store
            .delete_record(&schema, &t, &[Value::Integer(1)], AuditEntry::default())
            .await
            .unwrap();
        // Through plain SQL: insert, update (text and key), delete.
        for statement in [
            format!("INSERT INTO {docs} (id, title, body, status) VALUES (500, 'Yak shaving', 'wool', 'draft')"),
            format!("UPDATE {docs} SET title = 'Narwhal tusk' WHERE id = 3"),
            format!("UPDATE {docs} SET id = 600 WHERE id = 4"),
            format!("UPDATE {docs} SET status = 'archived' WHERE id = 5"),
            format!("DELETE FROM {docs} WHERE id = 6"),
            format!("UPDATE {docs} SET body = NULL WHERE id = 7"),
        ] {
            sqlx::raw_sql(&statement).execute(store.pool()).await.unwrap();
        }
        let t = refresh(&store).await;
        for term in [
            "zebra", "stripes", "quokka", "yak", "wool", "narwhal", "hello", "body of row 3 ",
            "body of row 4 ", "body of row 6 ", "body of row 7 ", "row 1 ", "row 2 ", "world",
        ] {
            for l in listings(term, jane) {
                let (f, b, c, d, path) = everything(&store, &t, &l).await;
                assert_eq!(path, SearchPath::Index, "{term}");
                // The same listing scanned: the index taken out of the picture.
                let scanned = Listing {
                    search: l.search.clone().map(|(term, cols)| (term, cols.into_iter().chain(["status".to_string()]).collect())),
                    ..l.clone()
                };
                let (sf, sb, sc, sd, spath) = everything(&store, &t, &scanned).await;
                assert_eq!(spath, SearchPath::Scan);
                // `status` never holds these terms, so the scan's extra column adds nothing.
                assert_eq!((f, b, c, d), (sf, sb, sc, sd), "{term}");
            }
        }
        let found = |term: &str| {
            let store = store.clone();
            let t = t.clone();
            let term = term.to_string();
            async move {
                let l = Listing {
                    search: Some((term, vec!["title".into()])),
                    ..Listing::all()
                };
                ids(&store.page(&t, &PageAnchor::First, 10, &l).await.unwrap())
            }
        };
        assert_eq!(found("zebra").await, vec![key[0].clone()]);
        assert_eq!(found("quokka").await, vec![Value::Integer(2)]);
        assert_eq!(found("narwhal").await, vec![Value::Integer(3)]);
        assert_eq!(found("yak").await, vec![Value::Integer(500)]);
    }
}

#[tokio::test]
async fn sqlite_builds_in_batches_and_finishes_with_its_final_triggers() {
    let store = crate::store::test_support::memory_store().await;
    let rows = super::BATCH as usize * 2 + 7;
    let t = table(&store, rows).await;
    let mut calls = Vec::new();
    store
        .add_search_index(&t, &["title".into()], &mut |done, total| {
            calls.push((done, total))
        })
        .await
        .unwrap();
    let total = rows as u64;
    assert_eq!(
        calls,
        vec![
            (super::BATCH as u64, total),
            (super::BATCH as u64 * 2, total),
            (total, total),
            (total, total)
        ]
    );
    let index = store.search_index(&t).await.unwrap().unwrap();
    assert_eq!(index.kind, super::IndexKind::Fts5 { building: false });
    assert_eq!(index.columns, vec!["title".to_string()]);
    // A second add is refused; remove, then add again, works.
    assert!(store
        .add_search_index(&t, &["title".into()], &mut |_, _| {})
        .await
        .is_err());
    store.remove_search_index(&t, &[]).await.unwrap();
    assert!(store.search_index(&t).await.unwrap().is_none());
    // No trigger is left behind: writes still work.
    sqlx::raw_sql("UPDATE docs SET title = 'x' WHERE id = 1")
        .execute(store.pool())
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unfinished_build_is_not_used_and_writes_past_it_wait_for_their_batch() {
    let store = crate::store::test_support::memory_store().await;
    let t = table(&store, 10).await;
    // As if `add` stopped after its first step: the table and the building triggers.
    store
        .add_search_index(&t, &["title".into()], &mut |_, _| {})
        .await
        .unwrap();
    sqlx::raw_sql(
        "DROP TRIGGER moat_search_docs_ai; DROP TRIGGER moat_search_docs_ad; \
         DROP TRIGGER moat_search_docs_au; \
         CREATE TRIGGER moat_search_docs_bi AFTER INSERT ON docs WHEN new.rowid <= 5 BEGIN SELECT 1; END;",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let index = store.search_index(&t).await.unwrap().unwrap();
    assert_eq!(index.kind, super::IndexKind::Fts5 { building: true });
    let listing = Listing {
        search: Some(("hello".into(), vec!["title".into()])),
        ..Listing::all()
    };
    let page = store
        .page(&t, &PageAnchor::First, 10, &listing)
        .await
        .unwrap();
    assert_eq!(page.search_path, SearchPath::Scan);
    // Adding again starts over and finishes.
    store
        .add_search_index(&t, &["title".into()], &mut |_, _| {})
        .await
        .unwrap();
    let page = store
        .page(&t, &PageAnchor::First, 10, &listing)
        .await
        .unwrap();
    assert_eq!(page.search_path, SearchPath::Index);
}

#[tokio::test]
async fn sqlite_refuses_a_without_rowid_table() {
    let store = crate::store::test_support::memory_store().await;
    create_tables(
        &store,
        "CREATE TABLE w (k TEXT PRIMARY KEY, title TEXT) WITHOUT ROWID",
    )
    .await;
    let t = store
        .introspect()
        .await
        .unwrap()
        .table("w")
        .unwrap()
        .clone();
    let e = store
        .add_search_index(&t, &["title".into()], &mut |_, _| {})
        .await
        .unwrap_err();
    assert!(e.to_string().contains("WITHOUT ROWID"), "{e}");
}

#[tokio::test]
async fn sqlite_has_fts5_with_the_trigram_tokenizer() {
    let store = crate::store::test_support::memory_store().await;
    sqlx::raw_sql(
        "CREATE VIRTUAL TABLE tri USING fts5(x, tokenize='trigram'); \
         INSERT INTO tri VALUES ('Hello World');",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tri WHERE tri MATCH '\"LO WO\"'")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(n, 1);
}

/// PostgreSQL looks a term's rare words up in the index alone when the term also has a
/// common one, and the whole term otherwise; either way the term decides the rows.
#[tokio::test]
#[cfg_attr(
    not(moat_postgres),
    ignore = "MOAT_TEST_POSTGRES_URL is not set: PostgreSQL run skipped"
)]
async fn postgres_looks_up_the_rare_words_of_a_term_alone() {
    let store = crate::store::testing::postgres_store().await.unwrap();
    let t = table(&store, 300).await;
    store
        .add_search_index(&t, &["title".into(), "body".into()], &mut |_, _| {})
        .await
        .unwrap();
    let t = refresh(&store).await;
    let searched = |term: &str| Listing {
        search: Some((term.into(), vec!["title".into(), "body".into()])),
        ..Listing::all()
    };
    for (term, narrowed) in [
        // `242` is in one row of 300 (its id); `row` and `hello` in every body.
        ("row 242 hello", true),
        ("HELLO, 2424", true),
        // One word, or no rare word, or no common word: the whole term.
        ("hello", false),
        ("row hello", false),
        ("242 2424", false),
    ] {
        let source = store.list_source(&t, &searched(term)).await.unwrap();
        assert_eq!(source.path, SearchPath::Index, "{term}");
        assert_eq!(
            source.from.contains("OFFSET 0"),
            narrowed,
            "{term}: {}",
            source.from
        );
    }
    let page = store
        .page(&t, &PageAnchor::First, 10, &searched("row 242 hello"))
        .await
        .unwrap();
    assert_eq!(ids(&page), vec![Value::Integer(243)]);
    assert_eq!(
        store
            .count_rows(&t, &searched("HELLO, 2424"))
            .await
            .unwrap(),
        RowCount::Exact(0)
    );
}

#[tokio::test]
#[cfg_attr(
    not(moat_postgres),
    ignore = "MOAT_TEST_POSTGRES_URL is not set: PostgreSQL run skipped"
)]
async fn postgres_sees_a_trigram_index_moat_did_not_make_and_leaves_it_alone() {
    let store = crate::store::testing::postgres_store().await.unwrap();
    let t = table(&store, 20).await;
    sqlx::raw_sql(
        "CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public; \
         CREATE INDEX docs_title_trgm ON public.docs USING gin (title public.gin_trgm_ops)",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let index = store.search_index(&t).await.unwrap().unwrap();
    assert_eq!(index.columns, vec!["title".to_string()]);
    let listing = Listing {
        search: Some(("hello".into(), vec!["title".into()])),
        ..Listing::all()
    };
    let page = store
        .page(&t, &PageAnchor::First, 10, &listing)
        .await
        .unwrap();
    assert_eq!(page.search_path, SearchPath::Index);
    let (removed, kept) = store.remove_search_index(&t, &[]).await.unwrap();
    assert!(removed.is_empty());
    assert_eq!(kept, vec!["docs_title_trgm".to_string()]);
    // A column that is not text is refused with the reason.
    let e = store
        .add_search_index(&t, &["id".into()], &mut |_, _| {})
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not a text column"), "{e}");
}

#[tokio::test]
async fn sqlite_tables_keyed_by_text_or_by_rowid_alone_give_the_scans_results() {
    let store = crate::store::test_support::memory_store().await;
    create_tables(
        &store,
        "CREATE TABLE tk (code TEXT PRIMARY KEY, title TEXT); \
         CREATE TABLE nk (title TEXT, n INTEGER); \
         CREATE TABLE ck (a INTEGER, b INTEGER, title TEXT, PRIMARY KEY (a, b))",
    )
    .await;
    for i in 0..60 {
        let title = format!("{} {i}", TITLES[i % TITLES.len()].replace('\'', "''"));
        sqlx::raw_sql(&format!(
            "INSERT INTO tk VALUES ('k{:03}', '{title}'); INSERT INTO nk VALUES ('{title}', {i}); \
             INSERT INTO ck VALUES ({}, {}, '{title}')",
            60 - i,
            i % 5,
            i
        ))
        .execute(store.pool())
        .await
        .unwrap();
    }
    let schema = store.introspect().await.unwrap();
    for name in ["tk", "nk", "ck"] {
        let t = schema.table(name).unwrap().clone();
        let listing = |term: &str| Listing {
            search: Some((term.to_string(), vec!["title".to_string()])),
            ..Listing::all()
        };
        let mut before = Vec::new();
        for term in ["hello", "ÉCOLE", "% pure", "world 1"] {
            before.push(everything(&store, &t, &listing(term)).await);
        }
        store
            .add_search_index(&t, &["title".into()], &mut |_, _| {})
            .await
            .unwrap();
        for (i, term) in ["hello", "ÉCOLE", "% pure", "world 1"].iter().enumerate() {
            let after = everything(&store, &t, &listing(term)).await;
            assert_eq!(after.4, SearchPath::Index, "{name} {term}");
            let b = &before[i];
            assert_eq!(
                (&after.0, &after.1, after.2, &after.3),
                (&b.0, &b.1, b.2, &b.3),
                "{name} {term}"
            );
        }
    }
}

/// MySQL/MariaDB has no search index: adding or removing one says so, and search scans.
#[tokio::test]
#[cfg_attr(
    not(moat_mysql),
    ignore = "MOAT_TEST_MYSQL_URL is not set: MySQL/MariaDB run skipped"
)]
async fn mysql_declares_search_indexes_unsupported() {
    let (store, name) = crate::store::testing::mysql_store().await.unwrap();
    create_tables(
        &store,
        "CREATE TABLE docs (id INT PRIMARY KEY, title VARCHAR(100))",
    )
    .await;
    let t = refresh(&store).await;
    let err = store
        .add_search_index(&t, &["title".into()], &mut |_, _| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not supported on MySQL"), "{err}");
    let err = store.remove_search_index(&t, &[]).await.unwrap_err();
    assert!(err.to_string().contains("not supported on MySQL"), "{err}");
    assert!(store.search_index(&t).await.unwrap().is_none());
    store.close().await;
    crate::store::testing::drop_mysql_database(&name).await;
}

/// Terms whose rare word Rust lowercases differently from PostgreSQL's `lower()` (`İ` →
/// `i̇` with a combining dot; a final `Σ` → `ς`; and under a "C" collation, where
/// `lower()` folds ASCII only, any non-ASCII capital: `ÉCOLE`): the terms for which the
/// index's rows differ from the scan's. (A lookup once bound the Rust-lowercased word,
/// which ILIKE could not find in the row the term itself matches.)
async fn case_folding_losses(collate: &str, terms: &[&str]) -> Vec<String> {
    let store = crate::store::testing::postgres_store().await.unwrap();
    create_tables(
        &store,
        &format!("CREATE TABLE docs (id INTEGER PRIMARY KEY, title TEXT {collate}, body TEXT, status TEXT NOT NULL)"),
    )
    .await;
    let mut values = Vec::new();
    for i in 1..=400 {
        let title = match i {
            7 => "İSTANBUL number 7".to_string(),
            8 => "ΟΔΟΣ number 8".to_string(),
            9 => "ǅemal number 9".to_string(),
            10 => "ÉCOLE number 10".to_string(),
            _ => format!("Title number {i}"),
        };
        values.push(format!("({i}, '{title}', 'b', 'draft')"));
    }
    sqlx::raw_sql(&format!(
        "INSERT INTO public.docs (id, title, body, status) VALUES {}",
        values.join(", ")
    ))
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::raw_sql("ANALYZE public.docs")
        .execute(store.pool())
        .await
        .unwrap();
    let t = refresh(&store).await;
    let searched = |term: &str| Listing {
        search: Some((term.into(), vec!["title".into()])),
        ..Listing::all()
    };
    let mut scanned = Vec::new();
    for term in terms {
        let page = store
            .page(&t, &PageAnchor::First, 10, &searched(term))
            .await
            .unwrap();
        scanned.push(ids(&page));
    }
    store
        .add_search_index(&t, &["title".into()], &mut |_, _| {})
        .await
        .unwrap();
    let t = refresh(&store).await;
    let mut broken = Vec::new();
    for (term, scan) in terms.iter().zip(&scanned) {
        let source = store.list_source(&t, &searched(term)).await.unwrap();
        let page = store
            .page(&t, &PageAnchor::First, 10, &searched(term))
            .await
            .unwrap();
        let count = store.count_rows(&t, &searched(term)).await.unwrap();
        eprintln!(
            "{collate:?} {term:?}: scan {scan:?} index {:?} count {count:?} narrowed={}",
            ids(&page),
            source.from.contains("OFFSET 0")
        );
        if ids(&page) != *scan {
            broken.push(term.to_string());
        }
    }
    broken
}

#[tokio::test]
#[cfg_attr(
    not(moat_postgres),
    ignore = "MOAT_TEST_POSTGRES_URL is not set: PostgreSQL run skipped"
)]
async fn narrowing_keeps_rows_whose_words_fold_differently_in_rust() {
    let terms = [
        "İSTANBUL number",
        "ΟΔΟΣ number",
        "ǅemal number",
        "istanbul number",
        "ÉCOLE number",
    ];
    let mut broken = case_folding_losses("", &terms).await;
    // Under a "C" collation PostgreSQL folds ASCII only.
    broken.extend(case_folding_losses("COLLATE \"C\"", &["ÉCOLE number", "école number"]).await);
    assert!(
        broken.is_empty(),
        "index lost rows the scan finds for {broken:?}"
    );
}

/// A narrowed search on a table of another schema whose schema, table and
/// column names hold quotes, spaces and dots, sorted, filtered and paged both ways.
#[tokio::test]
#[cfg_attr(
    not(moat_postgres),
    ignore = "MOAT_TEST_POSTGRES_URL is not set: PostgreSQL run skipped"
)]
async fn narrowing_with_hostile_names_in_another_schema() {
    let store = crate::store::testing::postgres_store().await.unwrap();
    let store = store.with_schemas(&["public".into(), "we\"ird s.c".into()]);
    let mut values = Vec::new();
    for i in 1..=400 {
        let title = if i == 5 || i == 300 {
            format!("Zebra number {i}")
        } else {
            format!("Title number {i}")
        };
        values.push(format!("({i}, '{title}', 'x{}', {})", i % 3, i * 7 % 11));
    }
    sqlx::raw_sql(&format!(
        "CREATE SCHEMA \"we\"\"ird s.c\"; \
         CREATE TABLE \"we\"\"ird s.c\".\"do\"\"c s\" (\"i d\" INTEGER PRIMARY KEY, \"ti\"\"tle\" TEXT, \"k.ind\" VARCHAR(10), num INTEGER); \
         INSERT INTO \"we\"\"ird s.c\".\"do\"\"c s\" VALUES {}; \
         CREATE TABLE public.\"do\"\"c s\" (\"i d\" INTEGER PRIMARY KEY)",
        values.join(", ")
    ))
    .execute(store.pool())
    .await
    .unwrap();
    let schema = store.introspect().await.unwrap();
    let name = "we\"ird s.c.do\"c s";
    let t = schema
        .table(name)
        .unwrap_or_else(|| {
            panic!(
                "{:?}",
                schema.tables.iter().map(|t| &t.name).collect::<Vec<_>>()
            )
        })
        .clone();
    let cols: Vec<String> = vec!["ti\"tle".into(), "k.ind".into()];
    let listing = |term: &str, i: usize| {
        let search = Some((term.to_string(), cols.clone()));
        match i {
            0 => Listing {
                search,
                ..Listing::all()
            },
            1 => Listing {
                search,
                sort: Some(Sort {
                    column: "ti\"tle".into(),
                    descending: true,
                }),
                ..Listing::all()
            },
            _ => Listing {
                search,
                filters: vec![Filter {
                    column: "k.ind".into(),
                    op: FilterOp::Equals(Value::Text("x2".into())),
                }],
                ..Listing::all()
            },
        }
    };
    let terms = ["number 30", "zebra number", "Number 5", "number 300"];
    let mut scanned = Vec::new();
    for term in terms {
        for i in 0..3 {
            scanned.push(everything(&store, &t, &listing(term, i)).await);
        }
    }
    store
        .add_search_index(&t, &cols, &mut |_, _| {})
        .await
        .unwrap();
    let schema = store.introspect().await.unwrap();
    let t = schema.table(name).unwrap().clone();
    let mut n = 0;
    let mut narrowed = 0;
    for term in terms {
        for i in 0..3 {
            let source = store.list_source(&t, &listing(term, i)).await.unwrap();
            narrowed += usize::from(source.from.contains("OFFSET 0"));
            let got = everything(&store, &t, &listing(term, i)).await;
            let want = &scanned[n];
            assert_eq!(
                (&got.0, &got.1, &got.2, &got.3),
                (&want.0, &want.1, &want.2, &want.3),
                "{term} {i}: {}",
                source.from
            );
            assert_eq!(got.4, SearchPath::Index, "{term}");
            n += 1;
        }
    }
    assert!(narrowed > 0, "nothing was narrowed");
}
