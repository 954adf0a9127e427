//! The demo data: generated as documented, and loaded whole or not at all.

use super::*;
use sqlx::{AnyPool, Row};

/// A store on a fresh in-memory database, without moat's tables.
async fn store() -> Store {
    Store::connect("sqlite::memory:")
        .await
        .expect("in-memory store")
}

async fn count(pool: &AnyPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql)
}

async fn table_counts(pool: &AnyPool) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in ["authors", "tags", "posts", "comments", "post_tags"] {
        counts.push(count(pool, &format!("SELECT COUNT(*) FROM {table}")).await);
    }
    counts
}

#[tokio::test]
async fn load_creates_tables_with_expected_counts() {
    let store = store().await;
    let pool = store.pool().clone();
    let outcome = load(&store).await.expect("load");
    assert_eq!(outcome, DemoOutcome::Created { rows: 10_240 });
    assert_eq!(TOTAL_ROWS, 10_240);
    assert_eq!(
        table_counts(&pool).await,
        vec![200, 40, 2_000, 6_000, 2_000]
    );

    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'idx_%' ORDER BY name",
    )
    .fetch_all(&pool)
    .await
    .expect("indexes");
    assert_eq!(
        indexes,
        [
            "idx_comments_post_id",
            "idx_posts_author_id",
            "idx_posts_created_at",
            "idx_posts_status"
        ]
    );
}

#[tokio::test]
async fn second_load_is_a_no_op() {
    let store = store().await;
    let pool = store.pool().clone();
    load(&store).await.expect("first load");
    // A row removed by hand stays removed: the second load writes nothing.
    sqlx::query("DELETE FROM comments WHERE id = 1")
        .execute(&pool)
        .await
        .expect("delete a comment");
    let before = table_counts(&pool).await;
    assert_eq!(
        load(&store).await.expect("second load"),
        DemoOutcome::AlreadyPresent
    );
    assert_eq!(table_counts(&pool).await, before);
}

#[tokio::test]
async fn failed_load_leaves_nothing_behind() {
    let store = store().await;
    let pool = store.pool().clone();
    sqlx::query("CREATE TABLE posts (id INTEGER PRIMARY KEY)")
        .execute(&pool)
        .await
        .expect("create clashing table");
    assert!(load(&store).await.is_err());
    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn foreign_keys_are_consistent() {
    let store = store().await;
    let pool = store.pool().clone();
    load(&store).await.expect("load");
    assert_eq!(count(&pool, "PRAGMA foreign_keys").await, 1);
    let violations = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&pool)
        .await
        .expect("foreign_key_check");
    assert!(violations.is_empty(), "{} violations", violations.len());
}

#[tokio::test]
async fn drafts_have_no_publication_date() {
    let store = store().await;
    let pool = store.pool().clone();
    load(&store).await.expect("load");
    let drafts = count(&pool, "SELECT COUNT(*) FROM posts WHERE status = 'draft'").await;
    assert!(drafts > 50, "only {drafts} drafts");
    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM posts WHERE status = 'draft' AND published_at IS NOT NULL"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM posts WHERE status <> 'draft' AND published_at IS NULL"
        )
        .await,
        0
    );
    for status in ["published", "archived"] {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM posts WHERE status = ?")
            .bind(status)
            .fetch_one(&pool)
            .await
            .expect("status count");
        assert!(n > 50, "only {n} {status} posts");
    }
}

#[tokio::test]
async fn hostile_rows_exist() {
    let store = store().await;
    let pool = store.pool().clone();
    load(&store).await.expect("load");
    let find = |sql: &'static str, needle: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(needle)
                .fetch_all(&pool)
                .await
                .expect(sql)
        }
    };
    assert_eq!(
        find(
            "SELECT id FROM comments WHERE instr(body, ?) > 0",
            "\x1b[2J\x1b[31mgotcha"
        )
        .await,
        [2]
    );
    assert_eq!(
        find(
            "SELECT id FROM comments WHERE instr(body, ?) > 0",
            "\x1b]0;pwned\x07"
        )
        .await,
        [4]
    );
    assert_eq!(
        find("SELECT id FROM authors WHERE instr(bio, ?) > 0", "\u{202e}").await,
        [5]
    );
    assert_eq!(
        find("SELECT id FROM posts WHERE instr(title, ?) > 0", "\u{200b}").await,
        [3]
    );
    // No other row carries control characters by accident.
    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM comments WHERE instr(body, char(27)) > 0"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn values_are_well_formed() {
    let store = store().await;
    let pool = store.pool().clone();
    load(&store).await.expect("load");
    // Timestamps: TEXT, right shape, inside 2023-01-01 .. 2026-03-31.
    for (table, column) in [
        ("authors", "joined_at"),
        ("posts", "created_at"),
        ("posts", "published_at"),
        ("comments", "created_at"),
    ] {
        let bad = count(
            &pool,
            &format!(
                "SELECT COUNT(*) FROM {table} WHERE {column} IS NOT NULL AND (
                    typeof({column}) <> 'text'
                    OR {column} NOT GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]'
                    OR {column} < '2023-01-01 00:00:00' OR {column} > '2026-03-31 23:59:59'
                    OR datetime({column}) IS NOT {column})"
            ),
        )
        .await;
        assert_eq!(bad, 0, "{table}.{column}");
    }
    // Time flows forward.
    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM posts p JOIN authors a ON a.id = p.author_id
             WHERE p.created_at < a.joined_at OR p.published_at < p.created_at"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM comments c JOIN posts p ON p.id = c.post_id
             WHERE p.published_at IS NULL OR c.created_at < p.published_at"
        )
        .await,
        0
    );
    // Bodies: 300..=2000 characters, several paragraphs.
    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM posts WHERE length(body) NOT BETWEEN 300 AND 2000
             OR instr(body, char(10, 10)) = 0"
        )
        .await,
        0
    );
    // Roughly 30% of bios are NULL.
    let null_bios = count(&pool, "SELECT COUNT(*) FROM authors WHERE bio IS NULL").await;
    assert!((40..=80).contains(&null_bios), "{null_bios} NULL bios");
    // Booleans are 0/1 integers, ratings are NULL or 1.0..=5.0 reals.
    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM authors WHERE typeof(is_active) <> 'integer' OR is_active NOT IN (0, 1)"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM posts WHERE rating IS NOT NULL
             AND (typeof(rating) <> 'real' OR rating NOT BETWEEN 1.0 AND 5.0)"
        )
        .await,
        0
    );
    // Non-ASCII names are there, on the first screen.
    let first: Vec<String> = sqlx::query("SELECT name FROM authors ORDER BY id LIMIT 4")
        .fetch_all(&pool)
        .await
        .expect("names")
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect();
    assert_eq!(
        first,
        ["José García", "Zoë Clarke", "李雷", "Øyvind Hansen"]
    );
}

#[test]
fn generation_is_deterministic() {
    assert_eq!(generate(SEED), generate(SEED));
    assert_ne!(generate(SEED).posts, generate(SEED + 1).posts);
}

#[test]
fn civil_dates_round_trip() {
    assert_eq!(format_ts(0), "1970-01-01 00:00:00");
    assert_eq!(format_ts(BASE), "2023-01-01 00:00:00");
    assert_eq!(format_ts(1_709_164_800), "2024-02-29 00:00:00");
    assert_eq!(format_ts(END), "2026-03-31 23:59:59");
    assert_eq!(format_ts(-1), "1969-12-31 23:59:59");
    for days in -800_000..800_000 {
        let (y, m, d) = civil_from_days(days);
        assert_eq!(days_from_civil(y, m, d), days);
    }
}

#[test]
fn slugs() {
    assert_eq!(slugify("API Design"), "api-design");
    assert_eq!(
        slugify("Zero\u{200b}-width spaces broke our slug generator"),
        "zero-width-spaces-broke-our-slug-generator"
    );
    assert_eq!(slugify("  --Héllo, World!-- "), "h-llo-world");
}
