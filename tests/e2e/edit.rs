//! Editing over SSH: forms, validation, NULL, create, constraint errors, conflicts between
//! sessions, column rules and permissions at save time.

use crate::common::*;
use moat::commands::{self, Target};
use moat::domain::Value;
use moat::tui::{Cmd, Msg};

const ENTER: &[u8] = b"\r";
const DOWN: &[u8] = b"j";
const TAB: &[u8] = b"\t";
const SAVE: &[u8] = b"\x13"; // Ctrl-S
const CLEAR: &[u8] = b"\x15"; // Ctrl-U
const NULL: &[u8] = b"\x0e"; // Ctrl-N

/// Open record `n` (1-based position) of the model at index position `model` (0-based).
async fn open_record(c: &mut Console, model: usize, n: usize) {
    c.wait_for("post_tags").await;
    for _ in 0..model {
        c.send(DOWN).await;
    }
    c.send(ENTER).await;
    c.wait_for("row 1 of").await;
    for _ in 1..n {
        c.send(DOWN).await;
    }
    c.wait_for(&format!("row {n} of")).await;
    c.send(ENTER).await;
    c.wait_for("line 1/").await;
}

async fn scalar<T>(server: &TestServer, sql: &str) -> T
where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any> + Send + Unpin,
{
    sqlx::query_scalar(sql)
        .fetch_one(server.store.pool())
        .await
        .unwrap()
}

/// A text value read by `sql` (MySQL's LONGTEXT arrives as bytes).
async fn text_scalar(server: &TestServer, sql: &str) -> String {
    let row = sqlx::query(sql)
        .fetch_one(server.store.pool())
        .await
        .unwrap();
    moat::store::sql::text(&row, "v")
        .unwrap()
        .unwrap_or_default()
}

on_every_database! {
    async fn edit_a_field_and_save() {
        let server = TestServer::start().await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 120, 30, "xterm").await;
        open_record(&mut c, 4, 1).await; // tags #1
        c.send(b"e").await;
        c.wait_for("› edit").await;
        c.keys(&[CLEAR]).await;
        c.send("Rust 2026 ✓".as_bytes()).await;
        c.send(SAVE).await;
        c.wait_for("saved tags #1").await;
        c.wait_for("Rust 2026 ✓").await;
        let name: String = scalar(&server, "SELECT name FROM tags WHERE id = 1").await;
        assert_eq!(name, "Rust 2026 ✓");
        let row = sqlx::query(
            "SELECT before_json, after_json FROM moat_audit_log WHERE action = 'change'",
        )
        .fetch_one(server.store.pool())
        .await
        .unwrap();
        let text = |c: &str| moat::store::sql::text(&row, c).unwrap().unwrap();
        let (before, after) = (text("before_json"), text("after_json"));
        assert_eq!(after, r#"{"name":"Rust 2026 ✓"}"#);
        assert!(before.contains("\"name\""), "{before}");
        server.stop().await;
    }
}

on_every_database! {
    async fn an_invalid_integer_is_refused_and_nothing_is_saved() {
        let server = TestServer::start().await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 120, 30, "xterm").await;
        open_record(&mut c, 3, 1).await; // posts #1
        let before: i64 = scalar(&server, "SELECT view_count FROM posts WHERE id = 1").await;
        c.send(b"e").await;
        c.wait_for("› edit").await;
        // Fields: id (read-only), author_id, title, slug, body, status, published_at, view_count
        for _ in 0..6 {
            c.send(TAB).await;
        }
        c.keys(&[CLEAR, b"12x", SAVE]).await;
        c.wait_for("is not a whole number").await;
        let after: i64 = scalar(&server, "SELECT view_count FROM posts WHERE id = 1").await;
        assert_eq!(before, after);
        let audited: i64 = scalar(
            &server,
            "SELECT COUNT(*) FROM moat_audit_log WHERE action = 'change'",
        )
        .await;
        assert_eq!(audited, 0);
        // Esc with changes asks first; n keeps the form.
        c.send(b"\x1b").await;
        c.wait_for("Discard your changes?").await;
        c.send(b"y").await;
        c.wait_for("line 1/").await;
        server.stop().await;
    }
}

on_every_database! {
    async fn null_is_an_explicit_toggle() {
        let server = TestServer::start().await;
        let id: i64 = scalar(
            &server,
            "SELECT MIN(id) FROM posts WHERE rating IS NOT NULL",
        )
        .await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 120, 30, "xterm").await;
        open_record(&mut c, 3, id as usize).await;
        c.send(b"e").await;
        c.wait_for("› edit").await;
        for _ in 0..7 {
            c.send(TAB).await; // to rating
        }
        c.keys(&[NULL, SAVE]).await;
        c.wait_for(&format!("saved posts #{id}")).await;
        let rating: Option<f64> = scalar(
            &server,
            &format!("SELECT rating FROM posts WHERE id = {id}"),
        )
        .await;
        assert_eq!(rating, None);
        server.stop().await;
    }
}

on_every_database! {
    async fn create_a_row_and_a_constraint_error_in_words() {
        let server = TestServer::start().await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 120, 30, "xterm").await;
        c.wait_for("post_tags").await;
        c.keys(&[DOWN, DOWN, DOWN, DOWN, ENTER]).await;
        c.wait_for("row 1 of 40").await;
        c.send(b"n").await;
        c.wait_for("› new").await;
        // name must be unique: the first tag's name is taken.
        let taken: String = scalar(&server, "SELECT name FROM tags WHERE id = 1").await;
        c.send(taken.as_bytes()).await;
        c.keys(&[TAB, b"fresh-slug", SAVE]).await;
        c.wait_for("another row already has this tags.name").await;
        let count: i64 = scalar(&server, "SELECT COUNT(*) FROM tags").await;
        assert_eq!(count, 40, "nothing half-saved");
        // The refused field has the focus: fix it there.
        c.keys(&[CLEAR, b"Zz moat test tag", SAVE]).await;
        // The key the database gives: SQLite's next rowid is 41; a PostgreSQL sequence
        // also counted the refused insert.
        c.wait_for("created tags #").await;
        c.wait_for("Zz moat test tag").await;
        let slug: String = scalar(&server, "SELECT slug FROM tags WHERE name = 'Zz moat test tag'").await;
        assert_eq!(slug, "fresh-slug");
        let count: i64 = scalar(&server, "SELECT COUNT(*) FROM tags").await;
        assert_eq!(count, 41);
        server.stop().await;
    }
}

on_every_database! {
    async fn two_sessions_editing_one_row_the_second_sees_a_conflict() {
        let server = TestServer::start().await;
        let a = login(&server, "admin").await;
        let b = login(&server, "admin").await;
        let mut ca = Console::open(&a, 120, 30, "xterm").await;
        let mut cb = Console::open(&b, 120, 30, "xterm").await;
        open_record(&mut ca, 4, 2).await;
        open_record(&mut cb, 4, 2).await;
        ca.send(b"e").await;
        cb.send(b"e").await;
        ca.wait_for("› edit").await;
        cb.wait_for("› edit").await;
        ca.keys(&[CLEAR, b"first", SAVE]).await;
        ca.wait_for("saved tags #2").await;
        cb.keys(&[CLEAR, b"second", SAVE]).await;
        let conflict = cb.wait_for("changed since you opened it").await;
        assert!(
            conflict.contains("first") && conflict.contains("second"),
            "{conflict}"
        );
        let name: String = scalar(&server, "SELECT name FROM tags WHERE id = 2").await;
        assert_eq!(name, "first", "the first save stays");

        // Reload shows theirs; an explicit overwrite is possible and audited as such.
        cb.send(b"o").await;
        cb.wait_for("saved tags #2").await;
        let name: String = scalar(&server, "SELECT name FROM tags WHERE id = 2").await;
        assert_eq!(name, "second");
        let overwrites: i64 = scalar(
            &server,
            "SELECT COUNT(*) FROM moat_audit_log WHERE action = 'overwrite'",
        )
        .await;
        assert_eq!(overwrites, 1);
        server.stop().await;
    }
}

on_every_database! {
    async fn column_rules_and_permissions_hold_at_save_time() {
        let server = TestServer::start_with(
            |c| {
                c.models.insert(
                    "tags".into(),
                    moat::config::ModelConfig {
                        read_only: vec!["slug".into()],
                        ..Default::default()
                    },
                );
            },
            None,
        )
        .await;
        commands::set_model_perms(
            &server.config,
            &Target::User("jane".into()),
            &["view_tags".to_string(), "change_tags".to_string()],
            true,
            "t",
            &mut Vec::new(),
        )
        .await
        .unwrap();
        let jane = session_actor(&server, "jane").await;
        let save = |slug: &str, name: &str| Cmd::Save {
            model: "tags".into(),
            key: Some(vec![Value::Integer(3)]),
            original: vec![("slug".into(), Value::Text("sqlite".into()))],
            values: vec![
                ("name".into(), Value::Text(name.into())),
                ("slug".into(), Value::Text(slug.into())),
            ],
            overwrite: true,
        };
        // Sent straight to the session, as a modified client would: the read-only slug stays.
        let msg = server
            .sessions
            .execute(&jane, save("hacked", "SQLite"))
            .await;
        assert!(
            matches!(&msg, Some(Msg::Failed(t)) if t.contains("slug is read-only")),
            "{msg:?}"
        );
        let slug: String = scalar(&server, "SELECT slug FROM tags WHERE id = 3").await;
        assert_eq!(slug, "sqlite");
        // Creating needs add_tags, which jane lacks.
        let msg = server
            .sessions
            .execute(
                &jane,
                Cmd::OpenForm {
                    model: "tags".into(),
                    key: None,
                },
            )
            .await;
        assert!(
            matches!(&msg, Some(Msg::Failed(t)) if t.contains("no add_tags permission")),
            "{msg:?}"
        );
        // The form marks the slug read-only.
        let msg = server
            .sessions
            .execute(
                &jane,
                Cmd::OpenForm {
                    model: "tags".into(),
                    key: Some(vec![Value::Integer(3)]),
                },
            )
            .await;
        let Some(Msg::Form { fields, .. }) = msg else {
            panic!("{msg:?}")
        };
        let ro: Vec<(&str, bool)> = fields
            .iter()
            .map(|(c, _, ro)| (c.name.as_str(), *ro))
            .collect();
        assert_eq!(ro, vec![("id", true), ("name", false), ("slug", true)]);
        server.stop().await;
    }
}

on_every_database! {
    async fn pasted_control_characters_are_refused() {
        let server = TestServer::start().await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 120, 30, "xterm").await;
        open_record(&mut c, 4, 5).await;
        c.send(b"e").await;
        c.wait_for("› edit").await;
        c.send(CLEAR).await;
        c.send(b"\x1b[200~evil\x1b]0;pwned\x07\x1b[201~").await;
        c.wait_for("control characters are not accepted").await;
        c.send(b"\x1b[200~plain paste\x1b[201~").await;
        c.send(SAVE).await;
        c.wait_for("saved tags #5").await;
        let name: String = scalar(&server, "SELECT name FROM tags WHERE id = 5").await;
        assert_eq!(name, "plain paste");
        server.stop().await;
    }
}

on_every_database! {
    async fn history_shows_the_edit_newest_first() {
        let server = TestServer::start().await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 120, 30, "xterm").await;
        open_record(&mut c, 4, 7).await; // tags #7
        for name in ["First name", "Second name"] {
            c.send(b"e").await;
            c.wait_for("› edit").await;
            c.keys(&[CLEAR]).await;
            c.send(name.as_bytes()).await;
            c.send(SAVE).await;
            c.wait_for("saved tags #7").await;
        }
        c.send(b"H").await;
        let history = c.wait_for("› history").await;
        let second = history
            .find("\"First name\" → \"Second name\"")
            .expect(&history);
        let first = history.find("→ \"First name\"").expect(&history);
        assert!(second < first, "newest first:\n{history}");
        assert!(history.contains("admin  change success"), "{history}");
        c.send(b"\x1b").await;
        c.wait_for("line 1/").await;
        server.stop().await;
    }
}

on_every_database! {
    async fn bulk_delete_of_marked_rows_is_all_or_nothing() {
        let server = TestServer::start().await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 120, 30, "xterm").await;
        c.wait_for("post_tags").await;
        c.keys(&[DOWN, ENTER]).await; // comments
        c.wait_for("row 1 of 6,000").await;
        c.keys(&[b" ", b" ", DOWN, b" "]).await; // rows 1, 2 and 4
        c.wait_for("3 marked").await;
        c.send(b"d").await;
        c.wait_for("Delete the 3 marked rows of comments (#1, #2, #4)?").await;
        c.send(b"y").await;
        c.wait_for("deleted 3 rows of comments").await;
        let left: i64 = scalar(&server, "SELECT COUNT(*) FROM comments").await;
        assert_eq!(left, 5997);
        let gone: i64 = scalar(
            &server,
            "SELECT COUNT(*) FROM comments WHERE id IN (1, 2, 4)",
        )
        .await;
        assert_eq!(gone, 0);
        let audited: i64 = scalar(
            &server,
            "SELECT COUNT(*) FROM moat_audit_log WHERE action = 'delete'",
        )
        .await;
        assert_eq!(audited, 3);

        // A user allowed to delete only some of the rows: refused, none deleted.
        commands::set_model_perms(
            &server.config,
            &Target::User("jane".into()),
            &["view_comments".to_string()],
            true,
            "t",
            &mut Vec::new(),
        )
        .await
        .unwrap();
        let perm = commands::ObjectPerm {
            target: Target::User("jane".into()),
            codename: "delete_comments".into(),
            model: "comments".into(),
            pk: "10".into(),
        };
        commands::set_object_perm(&server.config, &perm, true, "t", &mut Vec::new())
            .await
            .unwrap();
        let jane = session_actor(&server, "jane").await;
        let msg = server
            .sessions
            .execute(
                &jane,
                Cmd::DeleteMany {
                    model: "comments".into(),
                    keys: vec![vec![Value::Integer(10)], vec![Value::Integer(11)]],
                },
            )
            .await;
        assert!(
            matches!(&msg, Some(Msg::Failed(t)) if t.contains("permission denied")),
            "{msg:?}"
        );
        let still: i64 = scalar(
            &server,
            "SELECT COUNT(*) FROM comments WHERE id IN (10, 11)",
        )
        .await;
        assert_eq!(still, 2);
        server.stop().await;
    }
}

on_every_database! {
    async fn a_foreign_key_opens_the_related_record_and_esc_comes_back() {
        let server = TestServer::start().await;
        let author: i64 = scalar(&server, "SELECT author_id FROM posts WHERE id = 1").await;
        let name: String = scalar(
            &server,
            &format!("SELECT name FROM authors WHERE id = {author}"),
        )
        .await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 120, 40, "xterm").await;
        open_record(&mut c, 3, 1).await; // posts #1
                                         // The link names the row it points to by its display column (authors.name).
        c.wait_for(&format!("→ authors: {name}")).await;
        c.keys(&[TAB, ENTER]).await;
        let screen = c.wait_for(&format!("authors › #{author}")).await;
        assert!(screen.contains(&name), "{screen}");
        c.send(b"\x1b").await;
        c.wait_for("posts › #1").await;
        server.stop().await;
    }
}

on_every_database! {
    async fn a_foreign_key_is_picked_from_the_related_list() {
        let server = TestServer::start().await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 140, 40, "xterm").await;
        c.wait_for("post_tags").await;
        c.keys(&[DOWN, DOWN, DOWN, ENTER]).await;
        c.wait_for("row 1 of 2,000").await;
        c.send(b"n").await;
        c.wait_for("→ authors (Ctrl-P picks)").await;
        c.send(b"\x10").await; // Ctrl-P on author_id
        c.wait_for("Enter picks this row").await;
        c.keys(&[DOWN, DOWN]).await;
        c.wait_for("row 3 of 200").await;
        c.send(ENTER).await;
        c.wait_for("› new").await;
        for (text, tabs) in [
            ("Picked author", 1),
            ("picked-author", 1),
            ("A body.", 1),
            ("draft", 1),
            ("2026-11-26 12:00:00", 4),
        ] {
            for _ in 0..tabs {
                c.send(TAB).await;
            }
            c.send(text.as_bytes()).await;
        }
        c.send(SAVE).await;
        c.wait_for("created posts #2001").await;
        let author: i64 = scalar(&server, "SELECT author_id FROM posts WHERE id = 2001").await;
        assert_eq!(author, 3);
        let views: i64 = scalar(&server, "SELECT view_count FROM posts WHERE id = 2001").await;
        assert_eq!(
            views, 0,
            "an untouched field with a default gets the default"
        );
        server.stop().await;
    }
}

on_every_database! {
    async fn a_declared_bulk_action_changes_the_marked_rows_together() {
        let server = TestServer::start_with(
            |c| {
                let mut set = std::collections::BTreeMap::new();
                set.insert("status".to_string(), toml::Value::String("archived".into()));
                c.models.insert(
                    "posts".into(),
                    moat::config::ModelConfig {
                        bulk: vec![moat::config::BulkAction {
                            name: "archive".into(),
                            set,
                        }],
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
        c.keys(&[b" ", b" ", b" "]).await;
        c.wait_for("3 marked").await;
        c.send(b"a").await;
        // The declared actions in a menu; the one under the cursor is chosen with Enter.
        let menu = c.wait_for("Action for the 3 marked rows of posts").await;
        assert!(menu.contains("archive"), "{menu}");
        c.send(ENTER).await;
        c.wait_for("Apply archive to the 3 marked rows of posts (#1, #2, #3)?")
            .await;
        c.send(b"y").await;
        c.wait_for("archive: 3 rows of posts changed").await;
        let archived: i64 = scalar(
            &server,
            "SELECT COUNT(*) FROM posts WHERE id IN (1, 2, 3) AND status = 'archived'",
        )
        .await;
        assert_eq!(archived, 3);
        let audited: i64 = scalar(
            &server,
            "SELECT COUNT(*) FROM moat_audit_log WHERE reason = 'bulk action archive on 3 rows'",
        )
        .await;
        assert_eq!(audited, 3);
        server.stop().await;
    }
}

on_every_database! {
    async fn long_text_is_edited_over_several_lines() {
        let server = TestServer::start().await;
        let before: String = text_scalar(&server, "SELECT body AS v FROM posts WHERE id = 1").await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 120, 30, "xterm").await;
        open_record(&mut c, 3, 1).await;
        c.send(b"e").await;
        c.wait_for("› edit").await;
        for _ in 0..3 {
            c.send(TAB).await; // author_id → title → slug → body
        }
        c.send(b"\x05").await; // Ctrl-E
        let editor = c.wait_for("› body").await;
        let first_line = before.lines().next().unwrap_or_default();
        assert!(editor.contains(&first_line[..20]), "{editor}");
        c.send(b"Intro line").await;
        c.send(ENTER).await;
        c.send(SAVE).await; // keep the text
        c.wait_for("› edit").await;
        c.send(SAVE).await; // save the form
        c.wait_for("saved posts #1").await;
        let after: String = text_scalar(&server, "SELECT body AS v FROM posts WHERE id = 1").await;
        assert_eq!(after, format!("Intro line\n{before}"));
        server.stop().await;
    }
}

on_every_database! {
    async fn a_new_row_starts_with_the_declared_defaults_and_ctrl_t_is_now() {
        let server = TestServer::start().await;
        // moat's connections put its own schema first on PostgreSQL: name the user's.
        let (table, id) = match current_db() {
            Db::Postgres => (
                "public.incidents",
                "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
            ),
            Db::Mysql => ("incidents", "id INTEGER AUTO_INCREMENT PRIMARY KEY"),
            Db::Sqlite => ("incidents", "id INTEGER PRIMARY KEY"),
        };
        sqlx::query(&format!(
            "CREATE TABLE {table} ({id}, status TEXT NOT NULL DEFAULT 'it''s open', \
             severity INTEGER NOT NULL DEFAULT 3, \
             opened_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, \
             closed_at TIMESTAMP NULL)"
        ))
        .execute(server.store.pool())
        .await
        .unwrap();
        server.sessions.reload_schema().await.unwrap();
        let today = moat::domain::time_as(moat::domain::ColumnKind::Date, now() as i64);
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 120, 30, "xterm").await;
        c.wait_for("post_tags").await;
        c.keys(&[b":incidents", ENTER]).await;
        c.wait_for("0 of 0 rows").await;
        c.send(b"n").await;
        let form = c.wait_for("› new").await;
        assert!(form.contains("it's open"), "{form}");
        assert!(form.contains(&format!("opened_at  {today} ")), "{form}");
        let severity = c.rows().into_iter().find(|r| r.contains("severity")).unwrap_or_default();
        assert!(severity.contains(" 3 "), "{severity}");
        // Ctrl-T puts now in closed_at (a timestamp without a default).
        c.keys(&[TAB, TAB, TAB, b"\x14"]).await; // status, severity, opened_at, closed_at
        c.wait_until("closed_at is now", |s| {
            s.lines().any(|l| l.contains("closed_at") && l.contains(&today))
        })
        .await;
        c.send(SAVE).await;
        c.wait_for("incidents › #1").await;
        let saved: i64 = scalar(
            &server,
            &format!(
                "SELECT COUNT(*) FROM incidents WHERE status = 'it''s open' AND severity = 3 \
                 AND closed_at >= '{today}'"
            ),
        )
        .await;
        assert_eq!(saved, 1);
        server.stop().await;
    }
}

on_every_database! {
    async fn the_picker_opens_at_the_current_value_and_says_why_it_is_empty() {
        let server = TestServer::start().await;
        let author: i64 = scalar(&server, "SELECT author_id FROM posts WHERE id = 42").await;
        let name: String = scalar(
            &server,
            &format!("SELECT name FROM authors WHERE id = {author}"),
        )
        .await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 140, 40, "xterm").await;
        c.wait_for("post_tags").await;
        c.keys(&[b":posts 42", ENTER]).await;
        c.wait_for("posts › #42").await;
        c.send(b"e").await;
        c.wait_for("→ authors (Ctrl-P picks)").await;
        c.send(b"\x10").await; // Ctrl-P on author_id
        c.wait_for("Enter picks this row").await;
        let selected = c
            .rows()
            .into_iter()
            .find(|r| r.trim_start().starts_with('▶'))
            .unwrap_or_default();
        assert!(selected.contains(&name), "{selected}");
        disconnect(conn).await;

        // jane may change posts but not view authors: the picker says why it is empty.
        commands::set_model_perms(
            &server.config,
            &Target::User("jane".into()),
            &["view_posts".to_string(), "change_posts".to_string()],
            true,
            "test",
            &mut Vec::new(),
        )
        .await
        .unwrap();
        let conn = login(&server, "jane").await;
        let mut c = Console::open(&conn, 140, 40, "xterm").await;
        c.wait_for("posts").await;
        c.keys(&[b":posts 42", ENTER]).await;
        c.wait_for("posts › #42").await;
        c.send(b"e").await;
        c.wait_for("› edit").await;
        c.send(b"\x10").await;
        let screen = c.wait_for("Nothing to pick from").await;
        assert!(screen.contains("permission denied"), "{screen}");
        c.send(b"\x1b").await;
        c.wait_for("› edit").await;
        server.stop().await;
    }
}
