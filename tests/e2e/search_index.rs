//! Search indexes as an operator and a user meet them: `moat search-index` through the
//! binary; over SSH, a search shows the same rows and count with the index as without, and
//! a term too short for it says it was scanned. And the position `G` shows on a table too
//! big to count.

use std::process::Command;

use crate::common::*;
use moat::domain::{Capabilities, ListQuery, ListRow, Page, PageAnchor, RowCount, Value};
use moat::store::Store;
use moat::tui::input::{Input, Key, KeyEvent};
use moat::tui::protocol::ModelSummary;
use moat::tui::{App, Msg};

fn moat(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_moat"))
        .current_dir(dir)
        .env_remove("MOAT_LISTEN")
        .env("MOAT_LOG", "warn")
        .args(["--config", "moat.toml"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn search_index_add_list_remove_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("moat.toml"),
        "listen = \"127.0.0.1:0\"\n[argon2]\nmemory_kib = 64\niterations = 1\nparallelism = 1\n",
    )
    .unwrap();
    // The demo tables, loaded the way `serve --demo` does.
    let store = Store::connect(&format!(
        "sqlite://{}",
        dir.path().join("moat.db").display()
    ))
    .await
    .unwrap();
    store.migrate().await.unwrap();
    moat::demo::load(&store).await.unwrap();
    store.close().await;

    let (ok, out, _) = moat(dir.path(), &["search-index", "list"]);
    assert!(ok && out.contains("no search indexes"), "{out}");

    let (ok, out, err) = moat(
        dir.path(),
        &["search-index", "add", "posts", "title", "body"],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("search index on posts (title, body) ready"),
        "{out}"
    );
    assert!(
        err.contains("indexing posts: 2,000 of 2,000 (100%)"),
        "{err}"
    );

    let (ok, out, _) = moat(dir.path(), &["search-index", "list"]);
    assert!(ok, "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("posts  title, body  SQLite FTS5 trigram")),
        "{out}"
    );

    // Refusals, each in one line naming the problem.
    let (ok, _, err) = moat(dir.path(), &["search-index", "add", "posts", "slug"]);
    assert!(!ok && err.contains("already has a search index"), "{err}");
    let (ok, _, err) = moat(dir.path(), &["search-index", "add", "posts", "nosuch"]);
    assert!(!ok && err.contains("no column nosuch"), "{err}");
    let (ok, _, err) = moat(dir.path(), &["search-index", "add", "nosuch", "title"]);
    assert!(!ok && err.contains("no such model"), "{err}");
    let (ok, _, err) = moat(dir.path(), &["search-index", "add", "posts"]);
    assert!(!ok && !err.is_empty(), "a column is required");

    // Written to the audit trail as the operator's.
    let store = Store::connect(&format!(
        "sqlite://{}",
        dir.path().join("moat.db").display()
    ))
    .await
    .unwrap();
    let log = store.recent_audit(5).await.unwrap();
    assert!(log.iter().any(|e| e.action == "search_index_add"));
    store.close().await;

    let (ok, out, err) = moat(dir.path(), &["search-index", "remove", "posts"]);
    assert!(ok, "{err}");
    assert!(out.contains("removed the search index on posts"), "{out}");
    let (ok, out, _) = moat(dir.path(), &["search-index", "list"]);
    assert!(ok && out.contains("no search indexes"), "{out}");
    let (ok, _, err) = moat(dir.path(), &["search-index", "remove", "posts"]);
    assert!(!ok && err.contains("has no search index"), "{err}");
}

const ENTER: &[u8] = b"\r";

async fn open_posts(c: &mut Console) {
    c.wait_for("post_tags").await;
    c.keys(&[b"j", b"j", b"j", ENTER]).await;
    c.wait_for("row 1 of 2,000").await;
}

/// The list's rows and footer after searching for `term`.
async fn searched(c: &mut Console, term: &str, expect: &str) -> Vec<String> {
    c.send(b"/").await;
    c.send(term.as_bytes()).await;
    c.send(ENTER).await;
    c.wait_for(expect).await;
    c.settle(std::time::Duration::from_millis(150)).await;
    let rows = c.rows();
    c.send(b"\x1b").await;
    c.wait_for("row 1 of 2,000").await;
    rows
}

on_sqlite_and_postgres! {
    async fn a_search_shows_the_same_rows_and_count_through_the_index() {
        let server = TestServer::start_with(
            |c| {
                c.models.insert(
                    "posts".into(),
                    moat::config::ModelConfig {
                        search: vec!["title".into(), "body".into()],
                        ..Default::default()
                    },
                );
            },
            None,
        )
        .await;
        let like = if current_db() == Db::Postgres { "ILIKE" } else { "LIKE" };
        let expected: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM posts WHERE title {like} '%kafka%' OR body {like} '%kafka%'"
        ))
        .fetch_one(server.store.pool())
        .await
        .unwrap();
        assert!(expected > 0);
        let count = format!("of {}", moat::domain::group_thousands(expected as u64));
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 160, 40, "xterm").await;
        open_posts(&mut c).await;
        let scanned = searched(&mut c, "Kafka", &count).await;

        let mut out = Vec::new();
        moat::commands::search_index::add(
            &server.config,
            "posts",
            &["title".into(), "body".into()],
            "t",
            &mut out,
            &mut std::io::sink(),
        )
        .await
        .unwrap();
        let indexed = searched(&mut c, "Kafka", &count).await;
        assert_eq!(indexed, scanned);
        assert!(!indexed.iter().any(|l| l.contains("scanned")), "{indexed:?}");

        // Two characters: scanned, and the footer says so.
        let short = searched(&mut c, "Ka", "under 3 characters").await;
        assert!(short.iter().any(|l| l.contains("/Ka (under 3 characters: scanned, not indexed)")), "{short:?}");
        server.stop().await;
    }
}

fn key(k: Key) -> Msg {
    Msg::Input(Input::Key(KeyEvent::plain(k)))
}

fn render(app: &mut App) -> String {
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(100, 24)).unwrap();
    terminal.draw(|f| app.draw(f)).unwrap();
    terminal.backend().to_string()
}

fn rows(from: i64, to: i64) -> Vec<ListRow> {
    (from..=to)
        .map(|i| ListRow {
            key: vec![Value::Integer(i)],
            cursor: vec![Value::Integer(i)],
            values: vec![Value::Integer(i), Value::Text(format!("row {i}"))],
        })
        .collect()
}

#[test]
fn g_on_a_table_too_big_to_count_shows_the_last_row_and_keys_above_it() {
    let (mut app, _) = App::new("admin", 100, (100, 24));
    app.update(Msg::Models(vec![ModelSummary {
        name: "big".into(),
        label: "big".into(),
        columns: 2,
        ordering: None,
        page_size: None,
        bulk_actions: vec![],
        caps: Capabilities::ALL,
    }]));
    app.update(Msg::Counted {
        model: "big".into(),
        query: ListQuery::default(),
        count: RowCount::AtLeast(10_000),
    });
    app.update(key(Key::Enter));
    app.update(Msg::Page {
        links: Vec::new(),
        model: "big".into(),
        anchor: PageAnchor::First,
        page: Box::new(Page {
            columns: vec!["id".into(), "title".into()],
            rows: rows(1, 100),
            has_before: false,
            has_after: true,
            search_path: Default::default(),
        }),
        caps: Capabilities::ALL,
        row_caps: None,
        key_columns: vec!["id".into()],
        kinds: vec![],
    });
    assert!(render(&mut app).contains("row 1 of 10,000+"));
    app.update(key(Key::Char('G')));
    app.update(Msg::Page {
        links: Vec::new(),
        model: "big".into(),
        anchor: PageAnchor::Last,
        page: Box::new(Page {
            columns: vec!["id".into(), "title".into()],
            rows: rows(999_901, 1_000_000),
            has_before: true,
            has_after: false,
            search_path: Default::default(),
        }),
        caps: Capabilities::ALL,
        row_caps: None,
        key_columns: vec!["id".into()],
        kinds: vec![],
    });
    let screen = render(&mut app);
    assert!(screen.contains("last row of 10,000+"), "{screen}");
    assert!(!screen.contains("row ?"), "{screen}");
    app.update(key(Key::Char('k')));
    let screen = render(&mut app);
    assert!(screen.contains("key 999999 of 10,000+"), "{screen}");
}
