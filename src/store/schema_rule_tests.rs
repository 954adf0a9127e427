//! How model rules meet the introspected schema: foreign keys named as their parent is,
//! and key columns that may be neither hidden nor masked.

use crate::config::{Config, ModelConfig};

#[tokio::test]
async fn sqlite_foreign_keys_name_their_parent_as_the_table_is_named() {
    let store = crate::store::test_support::memory_store().await;
    sqlx::query(
        "CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT); \
         CREATE TABLE comments (id INTEGER PRIMARY KEY, \
           Post_ID INTEGER REFERENCES Posts(ID) ON DELETE CASCADE)",
    )
    .execute(&store.pool)
    .await
    .unwrap();
    let schema = store.introspect().await.unwrap();
    let fk = &schema.table("comments").unwrap().foreign_keys[0];
    assert_eq!(fk.ref_table, "posts", "so the cascade onto posts is seen");
    assert_eq!(fk.ref_columns, vec!["id"]);
    assert_eq!(fk.columns, vec!["Post_ID"]);
}

#[tokio::test]
async fn a_key_column_can_be_neither_hidden_nor_masked() {
    let store = crate::store::test_support::memory_store().await;
    sqlx::query("CREATE TABLE people (ssn TEXT PRIMARY KEY, name TEXT)")
        .execute(&store.pool)
        .await
        .unwrap();
    let schema = store.introspect().await.unwrap();
    let with = |rule: &str| {
        let mut c = Config::default();
        let mut m = ModelConfig::default();
        match rule {
            "hidden" => m.hidden = vec!["ssn".into()],
            "masked" => m.masked = vec!["ssn".into()],
            _ => m.masked = vec!["name".into()],
        }
        c.models.insert("people".into(), m);
        c.validate_models(&schema)
    };
    for rule in ["hidden", "masked"] {
        let err = with(rule).unwrap_err().to_string();
        assert!(
            err.contains(&format!("models.people.{rule}: `ssn` identifies rows")),
            "{err}"
        );
    }
    assert!(with("other").is_ok(), "masking another column is fine");
}

/// MySQL/MariaDB's types: introspected from information_schema, read as values the
/// console can show (no overflow, no lost digits), written from text; bad input
/// refused in words; foreign keys with their ON DELETE; moat's own tables never shown.
#[tokio::test]
#[cfg_attr(
    not(moat_mysql),
    ignore = "MOAT_TEST_MYSQL_URL is not set: MySQL/MariaDB run skipped"
)]
async fn mysql_types_are_introspected_read_and_written() {
    use crate::domain::{ColumnKind, Listing, PageAnchor, Sort, Value};
    use crate::store::AuditEntry;
    let (store, name) = crate::store::testing::mysql_store().await.unwrap();
    crate::store::test_support::create_tables(
        &store,
        "CREATE TABLE things (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, \
           flag TINYINT(1) NOT NULL DEFAULT 0, small TINYINT, big BIGINT UNSIGNED, \
           price DECIMAL(30,10), at DATETIME(6), stamp TIMESTAMP NULL, day DATE, \
           doc JSON, feeling ENUM('sad', 'ok', 'happy'), raw VARBINARY(16), \
           body LONGTEXT, label VARCHAR(20), exact VARCHAR(20) COLLATE utf8mb4_bin, \
           twice BIGINT AS (small * 2) VIRTUAL, ratio DOUBLE); \
         CREATE TABLE orders (id INT PRIMARY KEY, thing_id BIGINT UNSIGNED, \
           CONSTRAINT orders_thing FOREIGN KEY (thing_id) REFERENCES things(id) ON DELETE CASCADE)",
    )
    .await;
    let schema = store.introspect().await.unwrap();
    let names: Vec<&str> = schema.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, vec!["orders", "things"], "moat's tables never");
    let t = schema.table("things").unwrap().clone();
    assert_eq!(t.primary_key, vec!["id"]);
    let kind = |c: &str| ColumnKind::of_column(t.column(c).unwrap());
    assert_eq!(kind("flag"), ColumnKind::Boolean);
    assert_eq!(kind("small"), ColumnKind::Integer);
    assert_eq!(kind("big"), ColumnKind::Text, "beyond i64: text");
    assert_eq!(kind("price"), ColumnKind::Text, "DECIMAL keeps its digits");
    assert_eq!(kind("at"), ColumnKind::Timestamp);
    assert_eq!(kind("stamp"), ColumnKind::Timestamp);
    assert_eq!(kind("day"), ColumnKind::Date);
    assert_eq!(kind("doc"), ColumnKind::Json);
    assert_eq!(kind("feeling"), ColumnKind::Choice);
    assert_eq!(kind("raw"), ColumnKind::Blob);
    assert_eq!(kind("body"), ColumnKind::Text);
    assert_eq!(kind("ratio"), ColumnKind::Real);
    let feeling = t.column("feeling").unwrap().pg_type.clone().unwrap();
    assert_eq!(feeling.labels, vec!["sad", "ok", "happy"]);
    assert_eq!(
        t.column("id").unwrap().default.as_deref(),
        Some("AUTO_INCREMENT")
    );
    assert!(
        t.column("twice").unwrap().generated(),
        "generated: never written"
    );
    assert!(!t.column("label").unwrap().generated());
    let orders = schema.table("orders").unwrap();
    assert_eq!(orders.foreign_keys.len(), 1);
    assert_eq!(orders.foreign_keys[0].ref_table, "things");
    assert_eq!(orders.foreign_keys[0].on_delete, "CASCADE");
    assert_eq!(orders.foreign_keys[0].columns, vec!["thing_id"]);
    assert_eq!(orders.foreign_keys[0].ref_columns, vec!["id"]);

    let text = |s: &str| Value::Text(s.into());
    let row = |label: &str, feeling: &str, big: &str| {
        vec![
            ("flag".to_string(), Value::Integer(1)),
            ("small".to_string(), Value::Integer(-7)),
            ("big".to_string(), text(big)),
            ("price".to_string(), text("12345678901234567890.0123456789")),
            ("at".to_string(), text("2024-05-01 12:00:00.250000")),
            ("stamp".to_string(), text("2024-05-01 12:00:00")),
            ("day".to_string(), text("2024-05-01")),
            ("doc".to_string(), text("{\"a\": [1, 2]}")),
            ("feeling".to_string(), text(feeling)),
            ("raw".to_string(), Value::Blob(vec![0, 255])),
            ("body".to_string(), text("a long text, ünïcödé")),
            ("label".to_string(), text(label)),
            ("exact".to_string(), text(label)),
            ("ratio".to_string(), Value::Real(0.5)),
        ]
    };
    let key = store
        .insert_record(
            &t,
            &row("Hello", "happy", "18446744073709551615"),
            AuditEntry::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        key,
        vec![Value::Text("1".into())],
        "BIGINT UNSIGNED key as text"
    );
    let other = store
        .insert_record(&t, &row("other", "sad", "1"), AuditEntry::default())
        .await
        .unwrap();
    let r = store.record(&t, &key).await.unwrap();
    let field = |c: &str| {
        r.fields
            .iter()
            .find(|(col, _)| col.name == c)
            .unwrap()
            .1
            .clone()
    };
    assert_eq!(field("flag"), Value::Integer(1));
    assert_eq!(field("small"), Value::Integer(-7));
    assert_eq!(field("big"), text("18446744073709551615"), "no overflow");
    assert_eq!(field("price"), text("12345678901234567890.0123456789"));
    assert_eq!(field("at"), text("2024-05-01 12:00:00.250000"));
    assert_eq!(field("stamp"), text("2024-05-01 12:00:00"), "UTC both ways");
    assert_eq!(field("day"), text("2024-05-01"));
    assert_eq!(field("doc"), text("{\"a\": [1, 2]}"));
    assert_eq!(field("feeling"), text("happy"));
    assert_eq!(field("raw"), Value::Blob(vec![0, 255]));
    assert_eq!(field("body"), text("a long text, ünïcödé"));
    assert_eq!(field("twice"), Value::Integer(-14));
    assert_eq!(field("ratio"), Value::Real(0.5));

    // Filters, search and sort by typed columns.
    let filtered = |column: &str, v: Value| Listing {
        filters: vec![crate::domain::Filter {
            column: column.into(),
            op: crate::domain::FilterOp::Equals(v),
        }],
        ..Listing::all()
    };
    for (column, v) in [
        ("feeling", text("happy")),
        ("price", text("12345678901234567890.0123456789")),
        ("day", text("2024-05-01")),
        ("flag", Value::Integer(1)),
        ("big", text("18446744073709551615")),
    ] {
        let page = store
            .page(&t, &PageAnchor::First, 10, &filtered(column, v))
            .await
            .unwrap();
        assert!(!page.rows.is_empty(), "filter on {column}");
    }
    let search = |term: &str, column: &str| Listing {
        search: Some((term.into(), vec![column.into()])),
        ..Listing::all()
    };
    let found = |listing: Listing| {
        let store = store.clone();
        let t = t.clone();
        async move {
            store
                .page(&t, &PageAnchor::First, 10, &listing)
                .await
                .unwrap()
                .rows
                .len()
        }
    };
    assert_eq!(
        found(search("HELLO", "label")).await,
        1,
        "_ci: case ignored"
    );
    assert_eq!(found(search("HELLO", "exact")).await, 0, "_bin: case kept");
    assert_eq!(found(search("Hello", "exact")).await, 1);
    assert_eq!(
        found(search("ÜNÏ", "body")).await,
        2,
        "TEXT searched as text"
    );
    assert_eq!(
        found(search("50%", "label")).await,
        0,
        "wildcards are literal"
    );
    let by_feeling = Listing {
        sort: Some(Sort {
            column: "feeling".into(),
            descending: false,
        }),
        ..Listing::all()
    };
    let first = store
        .page(&t, &PageAnchor::First, 1, &by_feeling)
        .await
        .unwrap();
    assert_eq!(first.rows[0].key, other, "enum order: sad first");
    let next = store
        .page(
            &t,
            &PageAnchor::After(first.rows[0].cursor.clone()),
            1,
            &by_feeling,
        )
        .await
        .unwrap();
    assert_eq!(next.rows[0].key, key);

    // Bad input is refused in words, and nothing is written.
    for (column, bad) in [
        ("doc", "{broken"),
        ("feeling", "angry"),
        ("day", "2024-02-30"),
        ("small", "300"),
        ("label", "far more than twenty characters"),
    ] {
        let err = store
            .update_record(
                &t,
                &key,
                &[],
                &[(column.to_string(), text(bad))],
                AuditEntry::default(),
            )
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("not valid for its column")
                || err.to_string().contains("breaks a rule"),
            "{column}: {err}"
        );
    }
    assert_eq!(store.record(&t, &key).await.unwrap(), r, "nothing written");
    store
        .update_record(
            &t,
            &key,
            &[],
            &[("feeling".to_string(), text("ok"))],
            AuditEntry::default(),
        )
        .await
        .unwrap();
    let r = store.record(&t, &key).await.unwrap();
    assert!(r
        .fields
        .iter()
        .any(|(c, v)| c.name == "feeling" && *v == text("ok")));
    store.close().await;
    crate::store::testing::drop_mysql_database(&name).await;
}
