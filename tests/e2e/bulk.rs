//! Bulk edit over SSH: `*` marks every row matching the search and filters (as the user
//! may see them, bounded by `[limits] bulk_max_rows`), `S` sets one field on the marked
//! rows — every row checked, column rules respected, step-up, all or none, one audit row
//! per row. And the new prompts as snapshots.

use crate::common::*;
use moat::commands::{self, ObjectPerm, Target};
use moat::domain::{
    Capabilities, ColumnInfo, ListQuery, ListRow, Page, PageAnchor, RowCount, Value,
};
use moat::tui::input::{Input, Key, KeyEvent};
use moat::tui::protocol::{BulkCmd, BulkMsg, ModelSummary};
use moat::tui::{App, Cmd, Msg};

const ENTER: &[u8] = b"\r";
const DOWN: &[u8] = b"j";
const ESC: &[u8] = b"\x1b";
const CLEAR: &[u8] = b"\x15"; // Ctrl-U

async fn scalar(server: &TestServer, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(server.store.pool())
        .await
        .unwrap()
}

async fn exec(server: &TestServer, sql: &str) {
    sqlx::query(sql).execute(server.store.pool()).await.unwrap();
}

async fn assign(server: &TestServer, user: &str, codename: &str, pk: &str) {
    let perm = ObjectPerm {
        target: Target::User(user.into()),
        codename: codename.into(),
        model: "posts".into(),
        pk: pk.into(),
    };
    commands::set_object_perm(&server.config, &perm, true, "test", &mut Vec::new())
        .await
        .unwrap();
}

/// Posts 1..=5 get a title no demo post has.
async fn zebras(server: &TestServer) {
    for id in 1..=5 {
        exec(
            server,
            &format!("UPDATE posts SET title = 'Qzebra crossing {id}' WHERE id = {id}"),
        )
        .await;
    }
}

fn search(term: &str) -> ListQuery {
    ListQuery {
        search: Some(term.into()),
        ..ListQuery::default()
    }
}

fn ids(msg: Option<Msg>) -> Vec<i64> {
    match msg {
        Some(Msg::BulkEdit(BulkMsg::Marked { keys, .. })) => keys
            .into_iter()
            .map(|k| match k.as_slice() {
                [Value::Integer(i)] => *i,
                other => panic!("{other:?}"),
            })
            .collect(),
        other => panic!("{other:?}"),
    }
}

/// The view counts of posts 1, 2 and 3.
async fn view_counts(server: &TestServer) -> Vec<i64> {
    let mut out = Vec::new();
    for id in 1..=3 {
        out.push(
            scalar(
                server,
                &format!("SELECT view_count FROM posts WHERE id = {id}"),
            )
            .await,
        );
    }
    out
}

/// On the posts list (admin: index position 3), mark rows 1–3, open `S` and choose
/// view_count (the 7th column offered: author_id, title, slug, body, status,
/// published_at, view_count).
async fn set_view_count_of_three(c: &mut Console, from_index: usize) {
    for _ in 0..from_index {
        c.send(DOWN).await;
    }
    c.send(ENTER).await;
    c.wait_for("row 1 of").await;
    c.keys(&[b" ", b" ", b" "]).await;
    c.wait_for("3 marked").await;
    c.send(b"S").await;
    let menu = c.wait_for("Which column?").await;
    assert!(
        menu.contains("Set one field on the 3 marked rows of posts (#1, #2, #3)"),
        "{menu}"
    );
    for _ in 0..6 {
        c.send(DOWN).await;
    }
    c.send(ENTER).await;
    c.wait_for("Enter set (asks first)").await;
}

on_every_database! {
    async fn mark_all_marks_exactly_the_matching_rows_the_user_may_see() {
        let server = TestServer::start().await;
        zebras(&server).await;
        // Jane may see 3 of the 5 matching posts, and one that does not match.
        for pk in ["1", "3", "5", "9"] {
            assign(&server, "jane", "view_posts", pk).await;
        }
        let conn = login(&server, "jane").await;
        let mut c = Console::open(&conn, 140, 30, "xterm").await;
        c.wait_for("posts").await;
        c.send(ENTER).await;
        c.wait_for("row 1 of 4").await;
        c.keys(&[b"/", b"Qzebra", ENTER]).await;
        c.wait_for("row 1 of 3").await;
        c.send(b"*").await;
        c.wait_for("Mark all 3 rows of posts matching \"Qzebra\"?").await;
        c.send(b"y").await;
        let screen = c.wait_for("marked 3 rows").await;
        assert_eq!(screen.matches('•').count(), 3, "{screen}");
        // What the session marks: exactly those keys; a superuser's the five.
        let jane = session_actor(&server, "jane").await;
        let mark = |query| {
            Cmd::BulkEdit(BulkCmd::MarkAll {
                model: "posts".into(),
                query,
            })
        };
        let marked = server.sessions.execute(&jane, mark(search("Qzebra"))).await;
        assert_eq!(ids(marked), [1, 3, 5]);
        let admin = session_actor(&server, "admin").await;
        let marked = server.sessions.execute(&admin, mark(search("Qzebra"))).await;
        assert_eq!(ids(marked), [1, 2, 3, 4, 5]);
        // `*` again unmarks all.
        c.send(b"*").await;
        c.wait_for("unmarked 3 rows").await;
        c.wait_until("no marks", |s| !s.contains('•')).await;
        c.send(b"j").await; // the status line shows the position again, with no marks
        let screen = c.wait_for("row 2 of 3").await;
        assert!(!screen.contains("marked"), "{screen}");
        server.stop().await;
    }
}

on_every_database! {
    async fn mark_all_over_the_bound_is_refused_and_marks_nothing() {
        let server = TestServer::start_with(|c| c.limits.bulk_max_rows = 100, None).await;
        zebras(&server).await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 140, 30, "xterm").await;
        c.wait_for("post_tags").await;
        c.keys(&[DOWN, DOWN, DOWN, ENTER]).await;
        c.wait_for("row 1 of 2,000").await;
        c.send(b"*").await;
        let screen = c
            .wait_for("more than 100 rows of posts match: nothing marked")
            .await;
        assert!(!screen.contains("Mark all") && !screen.contains('•'), "{screen}");
        // The session refuses it too, whatever the console asks.
        let admin = session_actor(&server, "admin").await;
        let msg = server
            .sessions
            .execute(
                &admin,
                Cmd::BulkEdit(BulkCmd::MarkAll {
                    model: "posts".into(),
                    query: ListQuery::default(),
                }),
            )
            .await;
        assert!(
            matches!(&msg, Some(Msg::Failed(t)) if t.contains("more than 100 rows")),
            "{msg:?}"
        );
        // A narrower list is within the bound.
        c.keys(&[b"/", b"Qzebra", ENTER]).await;
        c.wait_for("row 1 of 5").await;
        c.send(b"*").await;
        c.wait_for("Mark all 5 rows of posts matching \"Qzebra\"?").await;
        c.send(b"y").await;
        let screen = c.wait_for("marked 5 rows").await;
        assert_eq!(screen.matches('•').count(), 5, "{screen}");
        server.stop().await;
    }
}

on_every_database! {
    async fn set_a_field_on_three_marked_rows_after_a_step_up_with_an_audit_row_each() {
        let server = TestServer::start_with(|c| c.accounts.step_up_secs = 0, None).await;
        let before = view_counts(&server).await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 140, 30, "xterm").await;
        c.wait_for("post_tags").await;
        set_view_count_of_three(&mut c, 3).await;
        // A value the column does not take: said, and kept as typed.
        c.send(b"abc").await;
        c.send(ENTER).await;
        let screen = c.wait_for("`abc` is not a whole number").await;
        assert!(screen.contains("abc"), "{screen}");
        assert_eq!(view_counts(&server).await, before);
        c.keys(&[CLEAR, b"42", ENTER]).await;
        c.wait_for("Set view_count = 42 on the 3 marked rows of posts (#1, #2, #3)?")
            .await;
        c.send(b"y").await;
        // Like a delete: a fresh code first, nothing written before it.
        c.wait_for("Verification code (step-up)").await;
        assert_eq!(view_counts(&server).await, before);
        c.send(server.next_code("admin").as_bytes()).await;
        c.send(ENTER).await;
        c.wait_for("set view_count: 3 rows of posts changed").await;
        assert_eq!(view_counts(&server).await, [42, 42, 42]);
        // One audit row per row, before and after of that column.
        let rows = sqlx::query(
            "SELECT pk, before_json, after_json FROM moat_audit_log \
             WHERE action = 'change' AND reason = 'bulk set view_count on 3 rows' ORDER BY id",
        )
        .fetch_all(server.store.pool())
        .await
        .unwrap();
        assert_eq!(rows.len(), 3);
        for (row, (id, was)) in rows.iter().zip([1, 2, 3].into_iter().zip(&before)) {
            let text = |c: &str| moat::store::sql::text(row, c).unwrap().unwrap();
            assert_eq!(text("pk"), id.to_string());
            assert_eq!(text("before_json"), format!("{{\"view_count\":{was}}}"));
            assert_eq!(text("after_json"), r#"{"view_count":42}"#);
        }
        let mut out = Vec::new();
        commands::audit_verify_with(&server.config, None, false, &mut out)
            .await
            .unwrap();
        // The list shows the rows as they are: marks gone, the cursor where it was.
        let screen = c
            .wait_until("the list again", |s| {
                s.lines().any(|l| l.starts_with("▶ 4 ")) && !s.contains('•')
            })
            .await;
        assert!(screen.contains("set view_count: 3 rows of posts changed"), "{screen}");
        c.keys(&[b"g", ENTER]).await;
        let record = c.wait_for("posts › #1").await;
        assert!(
            record.lines().any(|l| l.contains("view_count") && l.contains("42")),
            "{record}"
        );
        server.stop().await;
    }
}

on_every_database! {
    async fn one_row_the_user_may_not_change_means_nothing_is_written() {
        let server = TestServer::start().await;
        // Jane sees posts 1–3 and may change 1 and 2 (object permissions).
        for pk in ["1", "2", "3"] {
            assign(&server, "jane", "view_posts", pk).await;
        }
        assign(&server, "jane", "change_posts", "1").await;
        assign(&server, "jane", "change_posts", "2").await;
        let before = view_counts(&server).await;
        let conn = login(&server, "jane").await;
        let mut c = Console::open(&conn, 140, 30, "xterm").await;
        c.wait_for("posts").await;
        set_view_count_of_three(&mut c, 0).await;
        c.keys(&[b"42", ENTER]).await;
        c.wait_for("Set view_count = 42 on the 3 marked rows of posts (#1, #2, #3)?")
            .await;
        c.send(b"y").await;
        c.wait_for("you may not change 1 of the 3 marked rows of posts: #3").await;
        assert_eq!(view_counts(&server).await, before, "all or none");
        let denied = scalar(
            &server,
            "SELECT COUNT(*) FROM moat_audit_log WHERE actor = 'jane' AND action = 'change' \
             AND outcome = 'denied' AND pk = '3'",
        )
        .await;
        assert_eq!(denied, 1);
        // A marked row deleted meanwhile: nothing written either, and it is named.
        let admin = session_actor(&server, "admin").await;
        let set = |keys: Vec<i64>| {
            Cmd::BulkEdit(BulkCmd::Set {
                model: "posts".into(),
                column: "view_count".into(),
                value: Value::Integer(7),
                keys: keys.into_iter().map(|k| vec![Value::Integer(k)]).collect(),
            })
        };
        let msg = server.sessions.execute(&admin, set(vec![1, 2, 99999])).await;
        assert!(
            matches!(&msg, Some(Msg::Failed(t)) if t.contains("posts #99999 is gone")),
            "{msg:?}"
        );
        assert_eq!(view_counts(&server).await, before);
        let written = scalar(
            &server,
            "SELECT COUNT(*) FROM moat_audit_log WHERE reason LIKE 'bulk set%'",
        )
        .await;
        assert_eq!(written, 0);
        server.stop().await;
    }
}

on_every_database! {
    async fn columns_the_user_may_not_edit_are_not_offered_and_a_forced_one_is_refused() {
        let server = TestServer::start_with(
            |c| {
                c.models.insert(
                    "posts".into(),
                    moat::config::ModelConfig {
                        hidden: vec!["body".into()],
                        masked: vec!["rating".into()],
                        read_only: vec!["slug".into()],
                        ..Default::default()
                    },
                );
            },
            None,
        )
        .await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 140, 30, "xterm").await;
        c.wait_for("post_tags").await;
        c.keys(&[DOWN, DOWN, DOWN, ENTER]).await;
        c.wait_for("row 1 of 2,000").await;
        c.send(b" ").await;
        c.send(b"S").await;
        let menu = c.wait_for("Which column?").await;
        let offered: Vec<String> = menu
            .lines()
            .skip_while(|l| !l.contains("Which column?"))
            .skip(1)
            .filter_map(|l| l.trim_start_matches(['▶', ' ']).split_whitespace().next())
            .map(str::to_string)
            .take_while(|w| w != "Enter")
            .collect();
        assert_eq!(
            offered,
            ["author_id", "title", "status", "published_at", "view_count", "created_at"],
            "{menu}"
        );
        c.send(ESC).await;
        c.wait_for("1 marked").await;
        // Sent straight to the session: refused, audited, nothing written.
        let admin = session_actor(&server, "admin").await;
        for (column, value) in [
            ("slug", Value::Text("forced".into())),
            ("body", Value::Text("forced".into())),
            ("rating", Value::Real(1.0)),
            ("id", Value::Integer(424242)),
        ] {
            let msg = server
                .sessions
                .execute(
                    &admin,
                    Cmd::BulkEdit(BulkCmd::Set {
                        model: "posts".into(),
                        column: column.into(),
                        value,
                        keys: vec![vec![Value::Integer(1)]],
                    }),
                )
                .await;
            assert!(
                matches!(&msg, Some(Msg::Failed(t)) if t.starts_with("permission denied")
                    && t.contains(&format!("{column} may not be set"))),
                "{column}: {msg:?}"
            );
        }
        let denied = scalar(
            &server,
            "SELECT COUNT(*) FROM moat_audit_log WHERE action = 'change' AND outcome = 'denied' \
             AND reason LIKE '% may not be set on marked rows%'",
        )
        .await;
        assert_eq!(denied, 4);
        // A value of the wrong kind is refused before anything is written.
        let msg = server
            .sessions
            .execute(
                &admin,
                Cmd::BulkEdit(BulkCmd::Set {
                    model: "posts".into(),
                    column: "view_count".into(),
                    value: Value::Text("abc".into()),
                    keys: vec![vec![Value::Integer(1)]],
                }),
            )
            .await;
        assert!(
            matches!(&msg, Some(Msg::Failed(t)) if t.contains("view_count") && t.contains("nothing changed")),
            "{msg:?}"
        );
        let slug = scalar(&server, "SELECT COUNT(*) FROM posts WHERE slug = 'forced' OR id = 424242").await;
        assert_eq!(slug, 0);
        server.stop().await;
    }
}

// ---------------------------------------------------------------------------------------
// Snapshots of the new prompts (80×24), driven as the session would.

fn key(c: char) -> Msg {
    Msg::Input(Input::Key(KeyEvent::plain(Key::Char(c))))
}

fn enter() -> Msg {
    Msg::Input(Input::Key(KeyEvent::plain(Key::Enter)))
}

fn render(app: &mut App) -> String {
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
    terminal.draw(|f| app.draw(f)).unwrap();
    terminal.backend().to_string()
}

fn col(name: &str, ty: &str, not_null: bool) -> ColumnInfo {
    ColumnInfo {
        check_values: Vec::new(),
        name: name.into(),
        decl_type: ty.into(),
        not_null,
        default: None,
        pk_ordinal: 0,
        pg_type: None,
    }
}

fn posts_page() -> Page {
    let rows = (1..=30)
        .map(|i| ListRow {
            key: vec![Value::Integer(i)],
            cursor: vec![Value::Integer(i)],
            values: vec![
                Value::Integer(i),
                Value::Text(format!("Post number {i}: notes")),
                Value::Text("draft".into()),
            ],
        })
        .collect();
    Page {
        columns: vec!["id".into(), "title".into(), "status".into()],
        rows,
        has_before: false,
        has_after: true,
        search_path: Default::default(),
    }
}

/// The page and count of the list as now queried, as the session would send them.
fn answer(app: &mut App, cmds: &[Cmd]) -> ListQuery {
    let query = cmds
        .iter()
        .find_map(|c| match c {
            Cmd::LoadPage { query, .. } => Some(query.clone()),
            _ => None,
        })
        .expect("a page asked for");
    app.update(Msg::Page {
        links: Vec::new(),
        model: "posts".into(),
        anchor: PageAnchor::First,
        page: Box::new(posts_page()),
        caps: Capabilities::ALL,
        row_caps: None,
        key_columns: vec!["id".into()],
        kinds: vec![],
    });
    app.update(Msg::Counted {
        model: "posts".into(),
        query: query.clone(),
        count: RowCount::Exact(2345),
    });
    query
}

/// The posts list of 30 rows (of 2,345); with `narrowed`, searched for "note" and
/// filtered to drafts.
fn list_app(narrowed: bool) -> (App, ListQuery) {
    let (mut app, _) = App::new("admin", 100, (80, 24));
    app.update(Msg::Models(vec![ModelSummary {
        name: "posts".into(),
        label: "posts".into(),
        columns: 3,
        ordering: None,
        page_size: None,
        bulk_actions: vec![],
        caps: Capabilities::ALL,
    }]));
    let cmds = app.update(enter());
    let mut query = answer(&mut app, &cmds);
    if narrowed {
        app.update(key('/'));
        for c in "note".chars() {
            app.update(key(c));
        }
        let cmds = app.update(enter());
        answer(&mut app, &cmds);
        app.update(key('l'));
        app.update(key('l'));
        app.update(key('f'));
        app.update(Msg::Distinct {
            model: "posts".into(),
            column: "status".into(),
            kind: moat::domain::ColumnKind::Text,
            values: vec![(Value::Text("draft".into()), 30)],
        });
        let cmds = app.update(enter());
        query = answer(&mut app, &cmds);
        assert!(
            query.search.is_some() && query.filters.len() == 1,
            "{query:?}"
        );
    }
    (app, query)
}

#[test]
fn mark_all_asks_naming_count_model_search_and_filters() {
    let (mut app, query) = list_app(true);
    let cmds = app.update(key('*'));
    assert_eq!(
        cmds,
        [Cmd::BulkEdit(BulkCmd::CountMatching {
            model: "posts".into(),
            query: query.clone(),
        })]
    );
    app.update(Msg::BulkEdit(BulkMsg::Matching {
        model: "posts".into(),
        query: query.clone(),
        count: 2345,
    }));
    insta::assert_snapshot!(render(&mut app));
    let cmds = app.update(key('y'));
    assert_eq!(
        cmds,
        [Cmd::BulkEdit(BulkCmd::MarkAll {
            model: "posts".into(),
            query: query.clone(),
        })]
    );
    app.update(Msg::BulkEdit(BulkMsg::Marked {
        model: "posts".into(),
        query,
        keys: (1..=2345).map(|i| vec![Value::Integer(i)]).collect(),
    }));
    let screen = render(&mut app);
    assert!(
        screen.contains("marked 2,345 rows") && screen.contains("•1 "),
        "{screen}"
    );
    app.update(key('j'));
    let screen = render(&mut app);
    assert!(screen.contains("2,345 marked"), "{screen}");
    // Again: all unmarked.
    app.update(key('*'));
    let screen = render(&mut app);
    assert!(
        screen.contains("unmarked 2,345 rows") && !screen.contains('•'),
        "{screen}"
    );
}

/// The list with rows 1–3 marked and `S` pressed: the columns have arrived.
fn set_app() -> App {
    let (mut app, _) = list_app(false);
    for _ in 0..3 {
        app.update(key(' '));
    }
    let cmds = app.update(key('S'));
    assert_eq!(
        cmds,
        [Cmd::BulkEdit(BulkCmd::Columns {
            model: "posts".into()
        })]
    );
    app.update(Msg::BulkEdit(BulkMsg::Columns {
        model: "posts".into(),
        columns: vec![
            (col("author_id", "INTEGER", true), Some("authors".into())),
            (col("title", "TEXT", true), None),
            (col("published_at", "TIMESTAMP", false), None),
            (col("view_count", "INTEGER", true), None),
        ],
    }));
    app
}

#[test]
fn set_field_offers_the_columns() {
    let mut app = set_app();
    insta::assert_snapshot!(render(&mut app));
}

#[test]
fn set_field_says_why_a_value_is_refused_and_keeps_it() {
    let mut app = set_app();
    for _ in 0..3 {
        app.update(key('j'));
    }
    app.update(enter());
    for c in "12x".chars() {
        app.update(key(c));
    }
    assert!(app.update(enter()).is_empty());
    insta::assert_snapshot!(render(&mut app));
}

#[test]
fn set_field_asks_naming_model_column_value_and_rows() {
    let mut app = set_app();
    for _ in 0..3 {
        app.update(key('j'));
    }
    app.update(enter());
    for c in "42".chars() {
        app.update(key(c));
    }
    app.update(enter());
    insta::assert_snapshot!(render(&mut app));
    let cmds = app.update(key('y'));
    assert_eq!(
        cmds,
        [Cmd::BulkEdit(BulkCmd::Set {
            model: "posts".into(),
            column: "view_count".into(),
            value: Value::Integer(42),
            keys: (1..=3).map(|i| vec![Value::Integer(i)]).collect(),
        })]
    );
    // Done: the screen closes and the list reads its rows again, marks gone.
    let cmds = app.update(Msg::BulkDone {
        model: "posts".into(),
        action: "set view_count".into(),
        count: 3,
    });
    assert!(
        cmds.iter()
            .any(|c| matches!(c, Cmd::LoadPage { model, .. } if model == "posts")),
        "{cmds:?}"
    );
    let screen = render(&mut app);
    assert!(
        screen.contains("set view_count: 3 rows of posts changed"),
        "{screen}"
    );
    assert!(!screen.contains("marked"), "{screen}");
}

#[test]
fn the_bulk_screens_draw_at_every_size() {
    let mut states = vec![set_app()];
    let mut typing = set_app();
    typing.update(enter());
    for c in "a value too long for a small terminal ✓ 日本語".chars() {
        typing.update(key(c));
    }
    typing.update(enter());
    states.push(typing);
    for app in states {
        for w in 1..=60u16 {
            for h in 1..=20u16 {
                let mut a = app.clone();
                let mut terminal =
                    ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
                terminal.draw(|f| a.draw(f)).unwrap();
            }
        }
    }
}
