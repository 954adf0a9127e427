//! A console that tells the truth, over real SSH: screens show the database as it is after
//! a write (moat's own or someone else's), the selection is a row's key and never a
//! position, `:MODEL KEY` opens a row, each screen offers its own keys and only those the
//! user may use, and composite keys are named as keys.

use crate::common::*;
use moat::commands::{self, Target};

const ENTER: &[u8] = b"\r";
const DOWN: &[u8] = b"j";
const ESC: &[u8] = b"\x1b";
const TAB: &[u8] = b"\t";
const SAVE: &[u8] = b"\x13"; // Ctrl-S
const CLEAR: &[u8] = b"\x15"; // Ctrl-U
const REFRESH: &[u8] = b"\x12"; // Ctrl-R

async fn open_posts(c: &mut Console) {
    c.wait_for("post_tags").await;
    c.keys(&[DOWN, DOWN, DOWN, ENTER]).await;
    c.wait_for("row 1 of 2,000").await;
}

async fn exec(server: &TestServer, sql: &str) {
    sqlx::query(sql).execute(server.store.pool()).await.unwrap();
}

/// Give jane model permission `codename` (as `moat user grant` does).
async fn jane_may(server: &TestServer, codename: &str) {
    commands::set_model_perms(
        &server.config,
        &Target::User("jane".into()),
        &[codename.to_string()],
        true,
        "test",
        &mut Vec::new(),
    )
    .await
    .unwrap();
}

/// The row the cursor is on, as the console draws it (the line starting with `▶`).
fn selected_row(c: &Console) -> String {
    c.rows()
        .into_iter()
        .find(|r| r.trim_start().starts_with('▶'))
        .unwrap_or_default()
}

/// The last line of the screen: the footer with the screen's keys.
fn footer(c: &Console) -> String {
    c.rows().last().cloned().unwrap_or_default()
}

on_every_database! {
    async fn an_edit_shows_in_the_list_it_came_from() {
        let server = TestServer::start().await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 200, 50, "xterm").await;
        open_posts(&mut c).await;
        c.send(DOWN).await;
        c.wait_for("row 2 of 2,000").await;
        c.send(ENTER).await;
        c.wait_for("posts › #2").await;
        c.send(b"e").await;
        c.wait_for("› edit").await;
        // Fields: id (read-only), author_id, title, …: the form opens on author_id.
        c.keys(&[TAB, CLEAR, b"Edited where everyone can see it", SAVE])
            .await;
        c.wait_for("saved posts #2").await;
        // Back to the list (from the record): the row shows the new title, still selected.
        c.send(ESC).await;
        c.wait_for("row 2 of 2,000").await;
        let row = selected_row(&c);
        assert!(row.contains("Edited where everyone can see it"), "{row}");
        server.stop().await;
    }
}

on_every_database! {
    async fn ctrl_r_shows_a_change_made_behind_moats_back_and_keeps_the_row() {
        let server = TestServer::start().await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 200, 50, "xterm").await;
        open_posts(&mut c).await;
        for _ in 0..4 {
            c.send(DOWN).await;
        }
        c.wait_for("row 5 of 2,000").await;
        // Someone else changes post 5 and adds a row before it (id -1: MySQL would number
        // an id of 0 itself).
        exec(&server, "UPDATE posts SET title = 'Changed behind moat' WHERE id = 5").await;
        exec(
            &server,
            "INSERT INTO posts (id, author_id, title, slug, body, status, view_count, created_at) \
             VALUES (-1, 1, 'A new first row', 'a-new-first-row', 'b', 'draft', 0, '2024-01-01 00:00:00')",
        )
        .await;
        assert!(!c.screen().contains("Changed behind moat"));
        c.send(REFRESH).await;
        // The cursor stays on post 5, now the sixth row of 2,001.
        c.wait_for("row 6 of 2,001").await;
        let row = selected_row(&c);
        assert!(row.contains("Changed behind moat"), "{row}");
        assert!(c.screen().contains("A new first row"));
        // Enter opens post 5, not whatever is fifth now.
        c.send(ENTER).await;
        c.wait_for("posts › #5").await;
        c.send(ESC).await;
        c.wait_for("row 6 of 2,001").await;

        // The selected row goes: the list says so and selects its neighbour, post 6.
        exec(&server, "DELETE FROM posts WHERE id = 5").await;
        c.send(REFRESH).await;
        c.wait_for("the row you had selected is gone").await;
        c.send(ENTER).await;
        c.wait_for("posts › #6").await;
        server.stop().await;
    }
}

on_every_database! {
    async fn colon_model_key_opens_the_record_and_a_bad_key_says_why() {
        let server = TestServer::start().await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 120, 30, "xterm").await;
        c.wait_for("post_tags").await;
        c.keys(&[b":posts 42", ENTER]).await;
        c.wait_for("posts › #42").await;
        let title: String = sqlx::query_scalar("SELECT title FROM posts WHERE id = 42")
            .fetch_one(server.store.pool())
            .await
            .unwrap();
        assert!(c.screen().contains(&title), "{}", c.screen());
        // Esc goes to the model's list, then the index: no trail of earlier screens.
        c.send(ESC).await;
        c.wait_for("row 1 of 2,000").await;
        c.keys(&[b":posts nope", ENTER]).await;
        c.wait_for("is a number, not `nope`").await;
        // A composite key is typed and named as the key, not a rowid.
        let (post, tag): (i64, i64) =
            sqlx::query_as("SELECT post_id, tag_id FROM post_tags ORDER BY post_id, tag_id")
                .fetch_one(server.store.pool())
                .await
                .unwrap();
        c.keys(&[format!(":post_tags {post}, {tag}").as_bytes(), ENTER])
            .await;
        c.wait_for(&format!("post_tags › ({post}, {tag})")).await;
        server.stop().await;
    }
}

on_every_database! {
    async fn help_lists_the_keys_of_the_screen_it_is_opened_on() {
        let server = TestServer::start().await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 200, 50, "xterm").await;
        open_posts(&mut c).await;
        c.send(b"?").await;
        let list_help = c.wait_for("Keys — ").await;
        c.send(b"x").await; // any key closes; it does not also act
        c.wait_until("help closed", |s| !s.contains("Keys — ")).await;
        c.send(ENTER).await;
        c.wait_for("posts › #1").await;
        c.send(b"e").await;
        c.wait_for("› edit").await;
        // In a form `?` is text; F1 opens the help there (and everywhere).
        assert!(footer(&c).contains("F1 help"), "{}", footer(&c));
        c.send(b"\x1bOP").await;
        let form_help = c.wait_for("Keys — ").await;
        for key in ["column cursor", "mark rows", "export", "Ctrl-R", "Ctrl-L"] {
            assert!(list_help.contains(key), "list help lacks {key}:\n{list_help}");
        }
        for key in ["Ctrl-S", "Ctrl-N", "Ctrl-P", "Ctrl-E", "Tab"] {
            assert!(form_help.contains(key), "form help lacks {key}:\n{form_help}");
            assert!(!list_help.contains(key), "list help offers {key}:\n{list_help}");
        }
        assert!(!form_help.contains("mark rows"), "{form_help}");
        server.stop().await;
    }
}

on_every_database! {
    async fn help_taller_than_the_terminal_scrolls() {
        let server = TestServer::start().await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 80, 24, "xterm").await;
        open_posts(&mut c).await;
        c.send(b"?").await;
        let top = c.wait_for("↓ more").await;
        assert!(!top.contains("Ctrl-C"), "{top}");
        for _ in 0..30 {
            c.send(DOWN).await;
        }
        let bottom = c.wait_for("Ctrl-C").await;
        assert!(bottom.contains("↑ more"), "{bottom}");
        // Still the list below, and the cursor did not move while the help scrolled.
        c.send(b"q").await;
        c.wait_until("help closed", |s| !s.contains("Keys — ")).await;
        assert!(c.screen().contains("row 1 of 2,000"), "{}", c.screen());
        server.stop().await;
    }
}

on_every_database! {
    async fn a_read_only_user_is_not_offered_edit_new_or_delete() {
        let server = TestServer::start().await;
        jane_may(&server, "view_posts").await;
        let conn = login(&server, "jane").await;
        let mut c = Console::open(&conn, 200, 50, "xterm").await;
        c.wait_for("posts").await;
        c.send(ENTER).await;
        c.wait_for("row 1 of 2,000").await;
        let list_footer = footer(&c);
        assert!(list_footer.contains("search"), "{list_footer}");
        for offered in ["edit", "new", "delete"] {
            assert!(!list_footer.contains(offered), "{list_footer}");
        }
        c.send(ENTER).await;
        c.wait_for("posts › #1").await;
        let record_footer = footer(&c);
        for offered in ["edit", "delete"] {
            assert!(!record_footer.contains(offered), "{record_footer}");
        }
        server.stop().await;
    }
}

on_every_database! {
    async fn a_composite_key_is_shown_and_audited_as_the_key() {
        let server = TestServer::start().await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 200, 50, "xterm").await;
        c.wait_for("post_tags").await;
        c.keys(&[DOWN, DOWN, ENTER]).await; // post_tags
        c.wait_for("row 1 of").await;
        c.send(ENTER).await;
        let screen = c.wait_for("post_tags › (").await;
        let crumb = screen.lines().next().unwrap_or_default().to_string();
        assert!(!crumb.contains('#'), "a rowid crept into {crumb}");
        let (post, tag): (i64, i64) =
            sqlx::query_as("SELECT post_id, tag_id FROM post_tags ORDER BY post_id, tag_id")
                .fetch_one(server.store.pool())
                .await
                .unwrap();
        assert!(crumb.contains(&format!("post_tags › ({post}, {tag})")), "{crumb}");
        c.send(b"d").await;
        c.wait_for(&format!("({post}, {tag})")).await;
        c.send(b"y").await;
        c.wait_for("deleted").await;
        let row = sqlx::query(
            "SELECT pk FROM moat_audit_log WHERE action = 'delete' AND model = 'post_tags'",
        )
        .fetch_one(server.store.pool())
        .await
        .unwrap();
        // (MySQL's LONGTEXT arrives as bytes.)
        let pk = moat::store::sql::text(&row, "pk").unwrap();
        assert_eq!(pk, Some(format!("({post}, {tag})")));
        server.stop().await;
    }
}

on_every_database! {
    async fn a_record_lists_the_rows_that_refer_to_it_as_the_viewer_may_see_them() {
        let server = TestServer::start().await;
        let count = |sql: &'static str| async {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(server.store.pool())
                .await
                .unwrap()
        };
        let comments = count("SELECT COUNT(*) FROM comments WHERE post_id = 1").await;
        let tags = count("SELECT COUNT(*) FROM post_tags WHERE post_id = 1").await;
        assert!(comments > 1, "the demo gives post 1 comments");
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 120, 40, "xterm").await;
        c.wait_for("post_tags").await;
        c.keys(&[b":posts 1", ENTER]).await;
        c.wait_for("rows that refer to this one").await;
        let related = |c: &Console, model: &str| {
            c.rows()
                .into_iter()
                .find(|r| r.trim_start().starts_with(&format!("{model} ")))
                .map(|r| r.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        };
        let rows = |n: i64| if n == 1 { "1 row".to_string() } else { format!("{n} rows") };
        assert_eq!(
            related(&c, "comments"),
            Some(format!("{} by post_id", rows(comments))),
            "{}",
            c.screen()
        );
        assert_eq!(
            related(&c, "post_tags"),
            Some(format!("{} by post_id", rows(tags))),
            "{}",
            c.screen()
        );
        // Tab: author_id, then comments. Enter lists them, the filter as a chip.
        c.keys(&[TAB, TAB, ENTER]).await;
        c.wait_for(&format!("row 1 of {comments}")).await;
        assert!(c.screen().contains("[post_id=1]"), "{}", c.screen());
        c.send(ESC).await;
        c.wait_for("rows that refer to this one").await;
        disconnect(conn).await;

        // jane may view posts and one comment of post 1: she sees one, and no tags.
        jane_may(&server, "view_posts").await;
        let one: i64 = count("SELECT MIN(id) FROM comments WHERE post_id = 1").await;
        commands::set_object_perm(
            &server.config,
            &commands::ObjectPerm {
                target: Target::User("jane".into()),
                codename: "view_comments".into(),
                model: "comments".into(),
                pk: one.to_string(),
            },
            true,
            "test",
            &mut Vec::new(),
        )
        .await
        .unwrap();
        let conn = login(&server, "jane").await;
        let mut c = Console::open(&conn, 120, 40, "xterm").await;
        c.wait_for("posts").await;
        c.keys(&[b":posts 1", ENTER]).await;
        let screen = c.wait_for("rows that refer to this one").await;
        assert_eq!(
            related(&c, "comments"),
            Some("1 row by post_id".to_string()),
            "{screen}"
        );
        assert!(!screen.contains("post_tags"), "{screen}");
        server.stop().await;
    }
}

on_every_database! {
    async fn reload_is_for_superusers_and_a_dropped_table_says_so() {
        let server = TestServer::start().await;
        // moat's connections put its own schema first on PostgreSQL: name the user's.
        let table = if current_db() == Db::Postgres {
            "public.incidents"
        } else {
            "incidents"
        };
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 120, 30, "xterm").await;
        c.wait_for("post_tags").await;
        exec(
            &server,
            &format!("CREATE TABLE {table} (id INTEGER PRIMARY KEY, summary TEXT NOT NULL)"),
        )
        .await;
        exec(&server, &format!("INSERT INTO {table} VALUES (1, 'disk full')")).await;
        c.keys(&[b":reload", ENTER]).await;
        c.wait_for("read the database's tables again: 6 tables").await;
        c.wait_for("incidents").await;
        c.keys(&[b":incidents", ENTER]).await;
        c.wait_for("disk full").await;

        // jane may not re-read the schema; her refusal is audited.
        let jane = login(&server, "jane").await;
        let mut j = Console::open(&jane, 120, 30, "xterm").await;
        j.wait_for("moat").await;
        j.keys(&[b":reload", ENTER]).await;
        j.wait_for("only superusers").await;
        let denied: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM moat_audit_log WHERE action = 'schema_reload' \
             AND outcome = 'denied'",
        )
        .fetch_one(server.store.pool())
        .await
        .unwrap();
        assert_eq!(denied, 1);

        // The table goes while admin shows it: Ctrl-R says so in words.
        exec(&server, &format!("DROP TABLE {table}")).await;
        c.send(REFRESH).await;
        c.wait_for("incidents is no longer in the database").await;
        server.stop().await;
    }
}
