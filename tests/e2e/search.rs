//! Search and sort over SSH: substring and prefix search bound as values, sorting by a
//! column with keyset paging in that order, and search inside an object-filtered list.

use crate::common::*;
use moat::commands::{self, ObjectPerm, Target};

const ENTER: &[u8] = b"\r";
const DOWN: &[u8] = b"j";

async fn open_posts(c: &mut Console) {
    c.wait_for("post_tags").await;
    c.keys(&[DOWN, DOWN, DOWN, ENTER]).await;
    c.wait_for("row 1 of 2,000").await;
}

async fn search(c: &mut Console, term: &str) {
    c.send(b"/").await;
    c.send(term.as_bytes()).await;
    c.send(ENTER).await;
}

async fn count(server: &TestServer, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(server.store.pool())
        .await
        .unwrap()
}

on_every_database! {
    async fn search_finds_matching_rows_and_esc_clears_it() {
        let server = TestServer::start().await;
        let expected = count(&server, "SELECT COUNT(*) FROM posts WHERE LOWER(title) LIKE '%kafka%' OR LOWER(slug) LIKE '%kafka%' OR LOWER(body) LIKE '%kafka%' OR LOWER(status || '') LIKE '%kafka%'").await;
        assert!(expected > 0);
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 160, 40, "xterm").await;
        open_posts(&mut c).await;
        search(&mut c, "Kafka").await;
        let screen = c
            .wait_for(&format!(
                "of {}",
                moat::domain::group_thousands(expected as u64)
            ))
            .await;
        assert!(screen.contains("/Kafka"), "{screen}");
        // The first row shown is the first matching post.
        let first: i64 = count(&server, "SELECT MIN(id) FROM posts WHERE LOWER(title) LIKE '%kafka%' OR LOWER(slug) LIKE '%kafka%' OR LOWER(body) LIKE '%kafka%' OR LOWER(status || '') LIKE '%kafka%'").await;
        let row = screen.lines().nth(2).unwrap_or_default();
        assert!(row.starts_with(&format!("▶ {first} ")), "{row}");
        c.send(b"\x1b").await;
        c.wait_for("row 1 of 2,000").await;
        server.stop().await;
    }
}

on_every_database! {
    async fn an_injection_string_is_searched_for_literally() {
        let server = TestServer::start().await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 120, 30, "xterm").await;
        open_posts(&mut c).await;
        search(&mut c, "' OR 1=1 --").await;
        c.wait_for("0 of 0 rows").await;
        search(&mut c, "100%").await;
        c.wait_for("0 of 0 rows").await;
        assert_eq!(count(&server, "SELECT COUNT(*) FROM posts").await, 2000);
        c.send(b"\x1b").await;
        c.wait_for("row 1 of 2,000").await;
        server.stop().await;
    }
}

on_every_database! {
    async fn prefix_search_and_sorting_page_in_order() {
        let server = TestServer::start().await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 160, 40, "xterm").await;
        open_posts(&mut c).await;
        // Move to the title column and sort by it.
        c.keys(&[b"l", b"l", b"s"]).await;
        let first: String = sqlx::query_scalar("SELECT slug FROM posts ORDER BY title, id LIMIT 1")
            .fetch_one(server.store.pool())
            .await
            .unwrap();
        let screen = c.wait_for("title▲").await;
        assert!(screen.contains(&first[..20]), "sorted by title:\n{screen}");
        // The last page in that order, then descending.
        c.send(b"G").await;
        let last: String =
            sqlx::query_scalar("SELECT slug FROM posts ORDER BY title DESC, id DESC LIMIT 1")
                .fetch_one(server.store.pool())
                .await
                .unwrap();
        c.wait_for("row 2,000 of 2,000").await;
        let screen = c.screen();
        assert!(screen.contains(&last[..20]), "{screen}");
        c.send(b"s").await;
        let screen = c.wait_for("title▼").await;
        assert!(
            screen
                .lines()
                .nth(2)
                .is_some_and(|l| l.contains(&last[..20])),
            "{screen}"
        );
        // Prefix search on the first text column (title).
        c.send(b"\x1b").await;
        c.wait_until("the sort dropped", |s| !s.contains("title▼"))
            .await;
        search(&mut c, "^How we").await;
        let n = count(
            &server,
            "SELECT COUNT(*) FROM posts WHERE title >= 'How we' AND title < 'How wf'",
        )
        .await;
        c.wait_for(&format!("of {}", moat::domain::group_thousands(n as u64)))
            .await;
        server.stop().await;
    }
}

on_every_database! {
    async fn search_inside_an_object_filtered_list() {
        let server = TestServer::start().await;
        for pk in ["1", "2", "3"] {
            let perm = ObjectPerm {
                target: Target::User("jane".into()),
                codename: "view_posts".into(),
                model: "posts".into(),
                pk: pk.into(),
            };
            commands::set_object_perm(&server.config, &perm, true, "t", &mut Vec::new())
                .await
                .unwrap();
        }
        let title: String = sqlx::query_scalar("SELECT title FROM posts WHERE id = 2")
            .fetch_one(server.store.pool())
            .await
            .unwrap();
        let conn = login(&server, "jane").await;
        let mut c = Console::open(&conn, 160, 30, "xterm").await;
        c.wait_for("posts").await;
        c.send(ENTER).await;
        c.wait_for("row 1 of 3").await;
        let word = title.split_whitespace().last().unwrap().to_string();
        search(&mut c, &word).await;
        let screen = c.wait_for("row 1 of").await;
        assert!(screen.contains(&title[..15]), "{screen}");
        assert!(!screen.contains("of 2,000"), "{screen}");
        server.stop().await;
    }
}

on_every_database! {
    async fn export_writes_the_searched_list_into_the_export_dir() {
        let server = TestServer::start_with(
            |c| {
                c.models.insert(
                    "posts".into(),
                    moat::config::ModelConfig {
                        actions: vec!["export".into()],
                        masked: vec!["body".into()],
                        // The list shows two columns; the export keeps every column.
                        list: vec!["title".into(), "status".into()],
                        ..Default::default()
                    },
                );
            },
            None,
        )
        .await;
        let expected = count(&server, "SELECT COUNT(*) FROM posts WHERE LOWER(title) LIKE '%kafka%' OR LOWER(slug) LIKE '%kafka%' OR LOWER(status || '') LIKE '%kafka%'").await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 200, 30, "xterm").await;
        open_posts(&mut c).await;
        search(&mut c, "Kafka").await;
        c.wait_for("/Kafka").await;
        c.send(b"x").await;
        let screen = c.wait_for("exported").await;
        let line = screen.lines().last().unwrap_or_default().trim().to_string();
        assert!(line.contains("columns (id, author_id, title, slug, body,"), "{line}");
        // The notice names the file as SFTP shows it (`exports/NAME`), not a server path;
        // it is in the exporter's own directory.
        let name = line
            .split(" to exports/")
            .nth(1)
            .and_then(|p| p.split_whitespace().next())
            .map(str::to_string)
            .unwrap_or_else(|| panic!("{line}"));
        let admin = server.store.user_id("admin").await.unwrap().unwrap();
        let path = server.config.export_dir.join(admin.to_string()).join(&name);
        assert!(path.is_file(), "{path:?}");
        let csv = std::fs::read_to_string(&path).unwrap();
        let mut lines = csv.lines();
        assert!(lines
            .next()
            .unwrap()
            .starts_with(r#""id","author_id","title","slug","body","#));
        let rows: Vec<&str> = lines.collect();
        assert_eq!(
            rows.len() as i64,
            expected,
            "body is masked, so only title/slug/status match"
        );
        assert!(
            rows.iter().all(|r| r.contains("••••")),
            "masked column stays masked"
        );
        let log = server.store.recent_audit(5).await.unwrap();
        assert!(log.iter().any(|e| e.action == "export"));

        // jane can view posts but may not export them until granted export_posts.
        let perms = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        moat::commands::set_model_perms(
            &server.config,
            &Target::User("jane".into()),
            &perms(&["view_posts"]),
            true,
            "t",
            &mut Vec::new(),
        )
        .await
        .unwrap();
        let jane = login(&server, "jane").await;
        let mut j = Console::open(&jane, 120, 24, "xterm").await;
        j.wait_for("posts").await;
        j.send(ENTER).await;
        j.wait_for("row 1 of 2,000").await;
        j.send(b"x").await;
        j.wait_for("no export_posts permission").await;
        moat::commands::set_model_perms(
            &server.config,
            &Target::User("jane".into()),
            &perms(&["export_posts"]),
            true,
            "t",
            &mut Vec::new(),
        )
        .await
        .unwrap();
        j.send(b"x").await;
        j.wait_for("exported 2,000 rows").await;
        server.stop().await;
    }
}

on_every_database! {
    async fn filter_by_a_value_or_a_range_of_the_column_shown_first() {
        let server = TestServer::start().await;
        let drafts = count(&server, "SELECT COUNT(*) FROM posts WHERE status = 'draft'").await;
        let early = count(&server, "SELECT COUNT(*) FROM posts WHERE status = 'draft' AND created_at >= '2024-01-01' AND created_at < '2025-01-01'").await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 160, 30, "xterm").await;
        open_posts(&mut c).await;
        for _ in 0..5 {
            c.send(b"l").await; // to status
        }
        c.send(b"f").await;
        let values = c.wait_for("most common values").await;
        assert!(values.contains("published  (1,536)"), "{values}");
        c.keys(&[b"j", b"j", ENTER]).await; // published, archived, draft
        c.wait_for("[status=draft]").await;
        c.wait_for(&format!("row 1 of {drafts}")).await;
        // A date range on created_at, on top of it.
        for _ in 0..4 {
            c.send(b"l").await; // published_at, view_count, rating, created_at
        }
        c.send(b"f").await;
        c.wait_for("r a from..to range").await;
        c.send(b"r").await;
        c.send(b"2024-01-01..2025-01-01\r").await;
        c.wait_for("[created_at 2024-01-01..2025-01-01]").await;
        c.wait_for(&format!("row 1 of {early}")).await;
        c.send(b"\x1b").await;
        c.wait_for("row 1 of 2,000").await;
        server.stop().await;
    }
}

on_every_database! {
    async fn the_model_registry_names_columns_and_orders_lists() {
        let server = TestServer::start_with(
            |c| {
                c.models.insert(
                    "posts".into(),
                    moat::config::ModelConfig {
                        label: Some("Blog posts".into()),
                        list: vec!["title".into(), "status".into(), "created_at".into()],
                        ordering: Some("-created_at".into()),
                        page_size: Some(25),
                        ..Default::default()
                    },
                );
            },
            None,
        )
        .await;
        let newest: String =
            sqlx::query_scalar("SELECT slug FROM posts ORDER BY created_at DESC, id DESC LIMIT 1")
                .fetch_one(server.store.pool())
                .await
                .unwrap();
        let newest_title: String = sqlx::query_scalar(&server.store.dialect().sql("SELECT title FROM posts WHERE slug = ?"))
            .bind(&newest)
            .fetch_one(server.store.pool())
            .await
            .unwrap();
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 160, 30, "xterm").await;
        let index = c
            .wait_until("the index with counts", |s| {
                s.lines()
                    .any(|l| l.contains("Blog posts") && l.trim_end().ends_with("2,000"))
            })
            .await;
        assert!(
            index
                .lines()
                .any(|l| l.contains("Blog posts") && l.trim_end().ends_with("2,000")),
            "{index}"
        );
        // The index is in label order: "Blog posts" comes second, after authors.
        c.keys(&[DOWN, ENTER]).await;
        let list = c.wait_for("created_at▼").await;
        let header = list.lines().nth(1).unwrap_or_default();
        assert!(
            header.contains("title") && header.contains("status"),
            "{header}"
        );
        assert!(
            !header.contains("slug") && !header.contains("body"),
            "only the list columns: {header}"
        );
        assert!(
            list.lines()
                .nth(2)
                .unwrap_or_default()
                .contains(&newest_title[..15]),
            "{list}"
        );
        // Pages of 25: moving past row 25 fetches the next page, in the same order.
        for _ in 0..25 {
            c.send(DOWN).await;
        }
        c.wait_for("row 26 of 2,000").await;
        // Esc comes back to the model's default order, then leaves.
        c.send(b"s").await;
        c.wait_for("title▲").await;
        c.send(b"\x1b").await;
        c.wait_for("created_at▼").await;
        server.stop().await;
    }
}
