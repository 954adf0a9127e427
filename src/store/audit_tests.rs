//! The audit trail on every database: appending, the hash chain and its keyed MAC,
//! verification, export and the queries the viewer runs.

use super::*;
use crate::store::test_support::{memory_store, on_every_database};

on_every_database! {
    async fn rows_chain_by_hash(store: Store) {
        let e = |action: &str| AuditEntry {
            at_ms: 5,
            actor: Some("alice".into()),
            action: action.into(),
            outcome: "success".into(),
            ..AuditEntry::default()
        };
        store.audit(&[e("login"), e("logout")]).await.unwrap();
        let rows: Vec<(i64, String, String)> =
            sqlx::query_as("SELECT id, prev_hash, hash FROM moat_audit_log ORDER BY id")
                .fetch_all(store.pool())
                .await
                .unwrap();
        assert_eq!(rows[0].1, GENESIS);
        assert_eq!(rows[0].2, row_hash(1, &e("login"), GENESIS));
        assert_eq!(rows[1].1, rows[0].2);
        assert_eq!(rows[1].2, row_hash(2, &e("logout"), &rows[0].2));
        assert_ne!(
            row_hash(2, &e("logout"), GENESIS),
            rows[1].2,
            "the chain matters"
        );
        let recent = store.recent_audit(1).await.unwrap();
        assert_eq!(recent[0].action, "logout");
    }
}

/// A trail of `n` rows, verified intact; returns its head.
async fn trail(n: usize) -> (crate::store::Store, (i64, String)) {
    let store = memory_store().await;
    let entries: Vec<AuditEntry> = (0..n)
        .map(|i| AuditEntry {
            at_ms: i as i64,
            actor: Some(format!("user{}", i % 3)),
            action: "change".into(),
            model: Some("posts".into()),
            pk: Some(i.to_string()),
            before: Some(serde_json::json!({ "title": "old" })),
            after: Some(serde_json::json!({ "title": format!("new {i}") })),
            outcome: "success".into(),
            ..AuditEntry::default()
        })
        .collect();
    store.audit(&entries).await.unwrap();
    let ok = store.verify_audit(None).await.unwrap().unwrap();
    assert_eq!(ok.rows, n as u64);
    let head = ok.head.unwrap();
    assert_eq!(store.audit_head().await.unwrap(), Some(head.clone()));
    (store, head)
}

async fn tamper(store: &crate::store::Store, sql: &str) {
    sqlx::raw_sql(sql).execute(store.pool()).await.unwrap();
}

#[tokio::test]
async fn verify_names_the_first_bad_entry_for_each_kind_of_tampering() {
    // Altered field.
    let (s, _) = trail(10).await;
    tamper(
        &s,
        "UPDATE moat_audit_log SET actor = 'mallory' WHERE id = 4",
    )
    .await;
    assert_eq!(
        s.verify_audit(None).await.unwrap(),
        Err(ChainError::Altered { id: 4 })
    );
    // A middle row deleted.
    let (s, _) = trail(10).await;
    tamper(&s, "DELETE FROM moat_audit_log WHERE id = 5").await;
    assert_eq!(
        s.verify_audit(None).await.unwrap(),
        Err(ChainError::Gap {
            id: 6,
            expected_id: 5
        })
    );
    // A forged row inserted (ids shifted to make room).
    let (s, _) = trail(10).await;
    tamper(
        &s,
        "UPDATE moat_audit_log SET id = id + 100 WHERE id > 3; \
         UPDATE moat_audit_log SET id = id - 99 WHERE id > 100; \
         INSERT INTO moat_audit_log (id, at_ms, action, outcome, prev_hash, hash) \
         SELECT 4, 0, 'grant', 'success', hash, 'forged' FROM moat_audit_log WHERE id = 3;",
    )
    .await;
    assert_eq!(
        s.verify_audit(None).await.unwrap(),
        Err(ChainError::Altered { id: 4 })
    );
    // Two rows swapped.
    let (s, _) = trail(10).await;
    tamper(
        &s,
        "UPDATE moat_audit_log SET id = 100 WHERE id = 6; \
         UPDATE moat_audit_log SET id = 6 WHERE id = 7; \
         UPDATE moat_audit_log SET id = 7 WHERE id = 100;",
    )
    .await;
    assert!(matches!(
        s.verify_audit(None).await.unwrap(),
        Err(ChainError::Broken { id: 6, .. })
    ));
    // The tail cut: the chain itself is fine, the recorded head is not.
    let (s, head) = trail(10).await;
    tamper(&s, "DELETE FROM moat_audit_log WHERE id > 8").await;
    assert!(s.verify_audit(None).await.unwrap().is_ok());
    assert_eq!(
        s.verify_audit(Some((head.0, &head.1))).await.unwrap(),
        Err(ChainError::HeadMismatch { id: 10 })
    );
    let (s, head) = trail(10).await;
    assert!(s
        .verify_audit(Some((head.0, &head.1)))
        .await
        .unwrap()
        .is_ok());
}

/// Rows 1..=4: logins (no JSON), then changes from `{"title":"old"}` to
/// `{"title":"new i"}`.
async fn json_trail(store: &Store) {
    let entries: Vec<AuditEntry> = (1..=8)
        .map(|i| AuditEntry {
            at_ms: i,
            actor: Some("alice".into()),
            action: if i <= 4 { "login" } else { "change" }.into(),
            before: (i > 4).then(|| serde_json::json!({ "title": "old" })),
            after: (i > 4).then(|| serde_json::json!({ "title": format!("new {i}") })),
            outcome: "success".into(),
            ..AuditEntry::default()
        })
        .collect();
    store.audit(&entries).await.unwrap();
    assert!(store.verify_audit(None).await.unwrap().is_ok());
}

on_every_database! {
    async fn verify_covers_the_stored_json_text_exactly(store: Store) {
        json_trail(&store).await;
        // Text where there was none: it parsed to nothing, so it used to hash as NULL.
        tamper(&store, "UPDATE moat_audit_log SET before_json = 'not json at all <script>' WHERE id = 2").await;
        match store.verify_audit(None).await.unwrap() {
            Err(ChainError::BadJson { id: 2, column: "before_json", why }) => {
                assert!(!why.contains("script"), "the text itself is not echoed: {why}");
            }
            other => panic!("{other:?}"),
        }
        tamper(&store, "UPDATE moat_audit_log SET before_json = NULL WHERE id = 2").await;
        assert!(store.verify_audit(None).await.unwrap().is_ok());

        // The same value written differently: it used to re-serialize to the original.
        tamper(&store, r#"UPDATE moat_audit_log SET after_json = '{ "title" : "new 6" }' WHERE id = 6"#).await;
        assert_eq!(store.verify_audit(None).await.unwrap(), Err(ChainError::Altered { id: 6 }));
    }

    async fn verify_refuses_a_key_twice(store: Store) {
        json_trail(&store).await;
        // A reader that takes the first value sees "forged"; serde_json took the last.
        tamper(&store, r#"UPDATE moat_audit_log SET after_json = '{"title":"forged","title":"new 7"}' WHERE id = 7"#).await;
        let err = store.verify_audit(None).await.unwrap().unwrap_err();
        assert!(
            matches!(&err, ChainError::BadJson { id: 7, column: "after_json", why } if why.contains("key twice")),
            "{err:?}"
        );
        assert!(err.to_string().starts_with("entry 7 was altered"), "{err}");
    }

    async fn rows_hash_as_they_did_before_the_stored_text_rule(store: Store) {
        // Values whose text a database might normalise (spacing, key order, number
        // forms, escapes) if the column were not plain TEXT.
        let values = [
            serde_json::json!({ "z": 1, "a": [1.5, -0.0, 1e300, 0.1], "m": { "b": null, "a": true } }),
            serde_json::json!({ "big": u64::MAX, "small": i64::MIN, "text": "é \u{2028} \" \\ \n \u{1b}[31m" }),
            serde_json::json!("just a string"),
            serde_json::json!({}),
            serde_json::json!(null),
        ];
        let entries: Vec<AuditEntry> = values
            .iter()
            .map(|v| AuditEntry {
                at_ms: 1,
                action: "change".into(),
                before: Some(v.clone()),
                after: Some(serde_json::json!([v, v])),
                outcome: "success".into(),
                ..AuditEntry::default()
            })
            .collect();
        store.audit(&entries).await.unwrap();
        // The hash as it was computed before: over a re-serialization of the parsed text.
        let v1 = |id: i64, e: &AuditEntry, prev: &str| {
            let canonical = serde_json::json!([
                id, e.at_ms, e.actor, e.source_ip, e.session_id, e.action, e.model, e.pk,
                e.before.as_ref().map(|v| v.to_string()),
                e.after.as_ref().map(|v| v.to_string()),
                e.outcome, e.reason,
            ]);
            let mut h = Sha256::new();
            h.update(canonical.to_string().as_bytes());
            h.update(prev.as_bytes());
            h.finalize().iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        type Stored = (i64, Option<String>, Option<String>, String, String);
        let stored: Vec<Stored> = sqlx::query(
            "SELECT id, before_json, after_json, prev_hash, hash FROM moat_audit_log ORDER BY id",
        )
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let text = |c: &str| sql::text(r, c).unwrap();
            (r.get("id"), text("before_json"), text("after_json"), r.get("prev_hash"), r.get("hash"))
        })
        .collect();
        for ((id, before, after, prev, hash), e) in stored.iter().zip(&entries) {
            assert_eq!(before.as_deref(), Some(e.before.as_ref().unwrap().to_string().as_str()), "stored verbatim");
            assert_eq!(after.as_deref(), Some(e.after.as_ref().unwrap().to_string().as_str()), "stored verbatim");
            let parsed = AuditEntry {
                before: before.as_deref().map(|t| serde_json::from_str(t).unwrap()),
                after: after.as_deref().map(|t| serde_json::from_str(t).unwrap()),
                ..e.clone()
            };
            assert_eq!(&v1(*id, &parsed, prev), hash, "entry {id}");
        }
        let ok = store.verify_audit(None).await.unwrap().unwrap();
        assert_eq!(ok.rows, values.len() as u64);
    }
}

/// Three entries written before the audit key, then the key, then five more: returns
/// the keyed store.
async fn keyed_trail(store: Store) -> Store {
    let e = |i: i64| AuditEntry {
        at_ms: i,
        actor: Some("alice".into()),
        action: "change".into(),
        model: Some("posts".into()),
        pk: Some(i.to_string()),
        after: Some(serde_json::json!({ "n": i })),
        outcome: "success".into(),
        ..AuditEntry::default()
    };
    store.audit(&[e(1), e(2), e(3)]).await.unwrap();
    let started = store
        .start_keyed_chain(|from| Ok::<_, ()>(AuditKey::random(from)))
        .await
        .unwrap()
        .unwrap();
    let KeyedStart::Started(key) = started else {
        panic!("{started:?}")
    };
    assert_eq!(key.from(), 4);
    let store = store.with_audit_key(key);
    store.audit(&[e(4), e(5), e(6), e(7), e(8)]).await.unwrap();
    let ok = store.verify_audit(None).await.unwrap().unwrap();
    assert_eq!((ok.rows, ok.keyed_from), (8, Some(4)));
    store
}

/// What a database-only attacker can do: recompute every hash from entry `from` on,
/// so the plain chain verifies again.
async fn recompute_chain(store: &Store, from: i64) {
    let q = store.dialect().sql(&format!(
        "SELECT {AUDIT_COLUMNS}, mac FROM moat_audit_log ORDER BY id"
    ));
    let rows = sqlx::query(&q).fetch_all(store.pool()).await.unwrap();
    let mut prev = GENESIS.to_string();
    for r in &rows {
        let row = stored_row(r).unwrap();
        if row.id >= from {
            let hash = stored_row_hash(
                row.id,
                &row.entry,
                row.before.as_deref(),
                row.after.as_deref(),
                &prev,
            );
            sql::query(
                store.dialect(),
                "UPDATE moat_audit_log SET prev_hash = ?, hash = ? WHERE id = ?",
            )
            .bind(&prev)
            .bind(&hash)
            .bind(row.id)
            .execute(store.pool())
            .await
            .unwrap();
            prev = hash;
        } else {
            prev = row.hash;
        }
    }
}

/// `store` without its audit key: what a verifier without the key file sees.
fn without_key(store: &Store) -> Store {
    Store {
        audit_key: None,
        ..store.clone()
    }
}

on_every_database! {
    async fn a_rewritten_and_rehashed_chain_fails_with_the_key(store: Store) {
        let store = keyed_trail(store).await;
        let unkeyed = without_key(&store);

        // A keyed entry rewritten, every hash after it recomputed.
        tamper(&store, "UPDATE moat_audit_log SET actor = 'mallory' WHERE id = 6").await;
        assert_eq!(store.verify_audit(None).await.unwrap(), Err(ChainError::Altered { id: 6 }));
        recompute_chain(&store, 6).await;
        assert_eq!(store.verify_audit(None).await.unwrap(), Err(ChainError::BadMac { id: 6 }));
        // Without the key only the plain chain is checked, and it says so.
        let plain = unkeyed.verify_audit(None).await.unwrap().unwrap();
        assert_eq!((plain.rows, plain.keyed_from), (8, None));

        // An entry from before the key: the first keyed entry's MAC covers it.
        let store = keyed_trail(memory_or_same(&store).await).await;
        tamper(&store, "UPDATE moat_audit_log SET actor = 'mallory' WHERE id = 2").await;
        recompute_chain(&store, 2).await;
        assert_eq!(store.verify_audit(None).await.unwrap(), Err(ChainError::BadMac { id: 4 }));

        // MACs stripped, to pass the keyed entries off as older than the key.
        let store = keyed_trail(memory_or_same(&store).await).await;
        tamper(&store, "UPDATE moat_audit_log SET mac = NULL WHERE id >= 5").await;
        assert_eq!(
            store.verify_audit(None).await.unwrap(),
            Err(ChainError::MissingMac { id: 5, from: 4 })
        );

        // A forged entry appended with a right chain hash and a made-up MAC.
        let store = keyed_trail(memory_or_same(&store).await).await;
        let forged = AuditEntry { at_ms: 9, action: "grant".into(), outcome: "success".into(), ..AuditEntry::default() };
        append(&mut store.pool().acquire().await.unwrap(), Some(&AuditKey::random(4)), &forged)
            .await
            .unwrap();
        assert_eq!(store.verify_audit(None).await.unwrap(), Err(ChainError::BadMac { id: 9 }));
        // Without a MAC at all.
        tamper(&store, "UPDATE moat_audit_log SET mac = NULL WHERE id = 9").await;
        assert_eq!(
            store.verify_audit(None).await.unwrap(),
            Err(ChainError::MissingMac { id: 9, from: 4 })
        );

        // What the key does not catch: the tail cut (a kept head does).
        let store = keyed_trail(memory_or_same(&store).await).await;
        let head = store.audit_head().await.unwrap().unwrap();
        tamper(&store, "DELETE FROM moat_audit_log WHERE id > 6").await;
        assert!(store.verify_audit(None).await.unwrap().is_ok());
        assert_eq!(
            store.verify_audit(Some((head.0, &head.1))).await.unwrap(),
            Err(ChainError::HeadMismatch { id: 8 })
        );
    }

    async fn the_database_records_which_audit_key_it_is_keyed_with(store: Store) {
        let key = AuditKey::random(1);
        assert!(!store.audit_keyed().await.unwrap());
        assert_eq!(store.adopt_audit_key(&key, false).await.unwrap(), AuditKeyCheck::NotRecorded);
        assert!(!store.audit_keyed().await.unwrap(), "not recorded when asked not to");
        assert_eq!(store.adopt_audit_key(&key, true).await.unwrap(), AuditKeyCheck::Recorded);
        assert!(store.audit_keyed().await.unwrap());
        assert_eq!(store.adopt_audit_key(&key, false).await.unwrap(), AuditKeyCheck::Matches);
        assert_eq!(store.adopt_audit_key(&key, true).await.unwrap(), AuditKeyCheck::Matches);
        let other = AuditKey::random(1);
        assert_eq!(store.adopt_audit_key(&other, true).await.unwrap(), AuditKeyCheck::WrongKey);
        let started = store
            .start_keyed_chain(|_| -> Result<AuditKey, ()> { panic!("no second key") })
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(started, KeyedStart::AlreadyKeyed));
        // Verification with another key says so before reading entries.
        let other = store.clone().with_audit_key(other);
        assert_eq!(other.verify_audit(None).await.unwrap(), Err(ChainError::KeyMismatch));
        let ok = store.with_audit_key(key).verify_audit(None).await.unwrap().unwrap();
        assert_eq!((ok.rows, ok.keyed_from), (0, Some(1)));
    }
}

/// A fresh store on the same kind of database as `store`.
async fn memory_or_same(store: &Store) -> Store {
    match store.dialect() {
        super::super::Dialect::Sqlite => memory_store().await,
        super::super::Dialect::Postgres => crate::store::testing::postgres_store().await.unwrap(),
        // Dropped by `.ci/run` with the other leftovers.
        super::super::Dialect::Mysql => crate::store::testing::mysql_store().await.unwrap().0,
    }
}

#[test]
fn strict_json() {
    for ok in [
        "{}",
        "[]",
        "null",
        "1",
        r#"{"a":{"b":1},"b":{"b":2}}"#,
        r#"[{"a":1},{"a":1}]"#,
        " {\"a\" : [1, 2.5e3, \"x\"] } ",
    ] {
        assert_eq!(check_json(ok), Ok(()), "{ok}");
    }
    for bad in [
        "",
        "not json",
        "{",
        r#"{"a":1} x"#,
        "{'a':1}",
        r#""\ud800""#,
    ] {
        assert!(check_json(bad).is_err(), "{bad}");
    }
    for twice in [
        r#"{"a":1,"a":2}"#,
        r#"{"a":1,"a":1}"#,
        r#"[{"x":{"a":1,"b":0,"a":2}}]"#,
        r#"{"a":1,"\u0061":2}"#,
    ] {
        let why = check_json(twice).unwrap_err();
        assert!(why.contains("key twice"), "{twice}: {why}");
    }
}

#[tokio::test]
async fn export_streams_the_selected_rows() {
    let (s, _) = trail(30).await;
    let mut seen = Vec::new();
    let filter = AuditFilter {
        actor: Some("user1".into()),
        since_ms: Some(10),
        ..AuditFilter::default()
    };
    let n = s
        .export_audit(&filter, |row| {
            seen.push(row.id);
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(n, 7);
    assert_eq!(seen, vec![11, 14, 17, 20, 23, 26, 29]);
    let until = AuditFilter {
        until_ms: Some(19),
        ..filter.clone()
    };
    let mut seen = Vec::new();
    s.export_audit(&until, |row| {
        seen.push(row.id);
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(seen, vec![11, 14, 17], "until is exclusive");
    let page = s
        .audit_page(
            &AuditFilter {
                before_id: Some(5),
                ..AuditFilter::default()
            },
            2,
        )
        .await
        .unwrap();
    assert_eq!(page.iter().map(|r| r.id).collect::<Vec<_>>(), vec![4, 3]);
}
