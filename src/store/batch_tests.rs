//! A bulk delete in batches against the same delete row by row: the same rows gone, the
//! same audit rows in the same order (values, keys, chain), the same grants left, the
//! same refusals — on hostile keys and values, across batch boundaries, and where a batch
//! must not be trusted (keys under another spelling, rows that refer to each other).

use super::*;
use crate::store::delete::Path;
use crate::store::test_support::{create_tables, memory_store, on_every_database, plain_user};
use crate::store::Principal;

/// The audit row a bulk delete of `model` starts from.
fn template(model: &str) -> AuditEntry {
    AuditEntry {
        model: Some(model.into()),
        action: "delete".into(),
        outcome: "success".into(),
        reason: Some("bulk delete".into()),
        ..AuditEntry::default()
    }
}

/// Parent `name` (integer key, hostile text, reals, NULLs), children that cascade, rows
/// that are set to NULL, and grants to jane on some of each.
async fn integer_tables(store: &Store, name: &str, jane: i64) {
    create_tables(
        store,
        &format!(
            "CREATE TABLE {name} (id INTEGER PRIMARY KEY, label VARCHAR(40), \
               score DOUBLE PRECISION, note VARCHAR(40)); \
             CREATE TABLE {name}_kids (id INTEGER PRIMARY KEY, \
               p_id INTEGER REFERENCES {name}(id) ON DELETE CASCADE); \
             CREATE TABLE {name}_refs (id INTEGER PRIMARY KEY, \
               p_id INTEGER REFERENCES {name}(id) ON DELETE SET NULL)"
        ),
    )
    .await;
    let labels = ["'it''s'", "''", "'ünï ✓'", "NULL", "'\"q\" -- ;'", "'NULL'"];
    let parents: Vec<String> = (1..=1_203)
        .map(|i| {
            let note = if i % 4 == 0 {
                "NULL".to_string()
            } else {
                format!("'n{i}'")
            };
            format!("({i}, {}, {}.25, {note})", labels[i % labels.len()], i)
        })
        .collect();
    let kids: Vec<String> = (1..=1_203)
        .filter(|i| i % 3 == 0)
        .map(|i| format!("({i}, {i})"))
        .collect();
    let refs: Vec<String> = (1..=1_203)
        .filter(|i| i % 5 == 0)
        .map(|i| format!("({i}, {i})"))
        .collect();
    for (table, rows) in [
        (name.to_string(), parents),
        (format!("{name}_kids"), kids),
        (format!("{name}_refs"), refs),
    ] {
        sqlx::raw_sql(&format!("INSERT INTO {table} VALUES {}", rows.join(", ")))
            .execute(store.pool())
            .await
            .unwrap();
    }
    for (model, pk) in [
        (name.to_string(), "1"),
        (name.to_string(), "2"),
        (name.to_string(), "1201"),
        (format!("{name}_kids"), "3"),
        (format!("{name}_kids"), "6"),
        (format!("{name}_refs"), "5"),
    ] {
        store
            .set_object_perm(
                Principal::User(jane),
                &format!("view_{model}"),
                &model,
                pk,
                true,
                &AuditEntry::default(),
            )
            .await
            .unwrap();
    }
}

/// What the tables of `name` hold and what the trail and grants say of them, with
/// `name` written as `T`, to compare two sets of tables.
async fn state(store: &Store, name: &str) -> Vec<String> {
    let schema = store.introspect().await.unwrap();
    let mut out = Vec::new();
    for suffix in ["", "_kids", "_refs"] {
        let t = schema.table(&format!("{name}{suffix}")).unwrap();
        let keys: Vec<Value> = (0..=1_210).map(Value::Integer).collect();
        let mut rows = Vec::new();
        for chunk in keys.chunks(400) {
            rows.extend(store.rows_by_key(t, chunk).await.unwrap());
        }
        rows.sort_by_key(|(k, _)| format!("{k:?}"));
        out.push(format!("T{suffix}: {rows:?}"));
    }
    let audit = sqlx::query(
        "SELECT model, pk, before_json, reason FROM moat_audit_log \
         WHERE action = 'delete' ORDER BY id",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    for row in audit {
        let model = crate::store::sql::text(&row, "model").unwrap();
        if model.as_deref() != Some(name) {
            continue;
        }
        out.push(format!(
            "audit T {:?} {:?} {:?}",
            crate::store::sql::text(&row, "pk").unwrap(),
            crate::store::sql::text(&row, "before_json").unwrap(),
            crate::store::sql::text(&row, "reason").unwrap(),
        ));
    }
    let grants: Vec<(String, String)> =
        sqlx::query_as("SELECT model, pk FROM moat_user_object_perms ORDER BY model, pk")
            .fetch_all(store.pool())
            .await
            .unwrap();
    for (model, pk) in grants {
        if let Some(rest) = model.strip_prefix(name) {
            if rest.is_empty() || rest.starts_with('_') {
                out.push(format!("grant T{rest} {pk}"));
            }
        }
    }
    out
}

async fn delete_as(
    store: &Store,
    table: &str,
    keys: &[Vec<Value>],
    batches: bool,
) -> Result<Path, String> {
    let schema = store.introspect().await.unwrap();
    let t = schema.table(table).unwrap();
    store
        .delete_records_as(&schema, t, keys, template(table), batches)
        .await
        .map_err(|e| e.to_string().replace(table, "T"))
}

async fn update_as(
    store: &Store,
    table: &str,
    keys: &[Vec<Value>],
    changes: &[(&str, Value)],
    batches: bool,
) -> Result<Path, String> {
    let schema = store.introspect().await.unwrap();
    let t = schema.table(table).unwrap();
    let changes: Vec<(String, Value)> = changes
        .iter()
        .map(|(c, v)| (c.to_string(), v.clone()))
        .collect();
    let audit = AuditEntry {
        action: "change".into(),
        ..template(table)
    };
    store
        .update_many_as(&schema, t, keys, &changes, audit, batches)
        .await
        .map(|(n, path)| {
            assert_eq!(n, keys.len());
            path
        })
        .map_err(|e| e.to_string().replace(table, "T"))
}

/// The rows of `name` (by key, all columns) and its audit rows of `action`, with `name`
/// written as `T`.
async fn rows_and_audit(store: &Store, name: &str, action: &str) -> Vec<String> {
    let schema = store.introspect().await.unwrap();
    let t = schema.table(name).unwrap();
    let keys: Vec<Value> = (0..=1_210).map(Value::Integer).collect();
    let mut rows = Vec::new();
    for chunk in keys.chunks(400) {
        rows.extend(store.rows_by_key(t, chunk).await.unwrap());
    }
    rows.sort_by_key(|(k, _)| format!("{k:?}"));
    let mut out = vec![format!("{rows:?}")];
    let audit = sqlx::query(
        "SELECT model, action, pk, before_json, after_json FROM moat_audit_log ORDER BY id",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    for row in audit {
        let text = |c| crate::store::sql::text(&row, c).unwrap();
        if text("model").as_deref() == Some(name) && text("action").as_deref() == Some(action) {
            out.push(format!(
                "{:?} {:?} {:?}",
                text("pk"),
                text("before_json"),
                text("after_json")
            ));
        }
    }
    out
}

/// Tables `ba` and `bb` alike (see [`integer_tables`]), and keys to write to in both:
/// two batches, in an order of their own (odd ids downwards, then the last hundred
/// upwards).
async fn twin_tables(store: &Store) -> Vec<Vec<Value>> {
    let jane = plain_user(store, "jane").await;
    integer_tables(store, "ba", jane).await;
    integer_tables(store, "bb", jane).await;
    let mut ids: Vec<i64> = (1..=1_100).rev().filter(|i| i % 2 == 1).collect();
    ids.extend(1_101..=1_203);
    ints(ids)
}

fn ints(ids: impl IntoIterator<Item = i64>) -> Vec<Vec<Value>> {
    ids.into_iter().map(|i| vec![Value::Integer(i)]).collect()
}

on_every_database! {
    async fn batches_write_what_row_by_row_writes(store: Store) {
        let keys = twin_tables(&store).await;
        assert!(keys.len() > KEYS_PER_QUERY);

        assert_eq!(delete_as(&store, "ba", &keys, true).await, Ok(Path::Batched));
        assert_eq!(delete_as(&store, "bb", &keys, false).await, Ok(Path::RowByRow));
        let (a, b) = (state(&store, "ba").await, state(&store, "bb").await);
        assert_eq!(a.len(), b.len());
        for (a, b) in a.iter().zip(&b) {
            assert_eq!(a, b);
        }
        // One audit row per deleted row, and the chain holds.
        assert_eq!(a.iter().filter(|l| l.starts_with("audit")).count(), keys.len());
        assert!(store.verify_audit(None).await.unwrap().is_ok());
    }

    async fn a_key_with_no_row_changes_nothing_in_either_way(store: Store) {
        let jane = plain_user(&store, "jane").await;
        integer_tables(&store, "ba", jane).await;
        let before = state(&store, "ba").await;
        // The missing key is in the second batch: the first was written, and is undone.
        let mut ids: Vec<i64> = (1..=700).collect();
        ids.insert(650, 99_999);
        for batches in [true, false] {
            let err = delete_as(&store, "ba", &ints(ids.clone()), batches).await;
            assert_eq!(err, Err("not found: no such row in T".to_string()), "{batches}");
            assert_eq!(state(&store, "ba").await, before);
        }
        // A key given twice: row by row, whose second finds its row gone.
        let twice = ints([1, 2, 1]);
        assert_eq!(
            delete_as(&store, "ba", &twice, true).await,
            Err("not found: no such row in T".to_string())
        );
        assert_eq!(state(&store, "ba").await, before);
    }

    async fn a_row_held_by_a_foreign_key_is_refused_in_row_by_rows_words(store: Store) {
        let jane = plain_user(&store, "jane").await;
        integer_tables(&store, "ba", jane).await;
        create_tables(
            &store,
            "CREATE TABLE holds (id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES ba(id)); \
             INSERT INTO holds VALUES (1, 640)",
        )
        .await;
        let before = state(&store, "ba").await;
        let keys = ints(1..=700);
        let batched = delete_as(&store, "ba", &keys, true).await;
        let row_by_row = delete_as(&store, "ba", &keys, false).await;
        assert_eq!(batched, row_by_row);
        assert!(
            batched.as_ref().is_err_and(|e| e.contains("refer to this T row")),
            "{batched:?}"
        );
        assert_eq!(state(&store, "ba").await, before);
        // The first failure in the order given is the one told, whichever kind.
        for keys in [ints([640, 99_999]), ints([99_999, 640])] {
            let batched = delete_as(&store, "ba", &keys, true).await;
            assert_eq!(batched, delete_as(&store, "ba", &keys, false).await);
            assert!(batched.is_err());
        }
        assert_eq!(state(&store, "ba").await, before);
    }

    async fn a_trigger_on_what_a_delete_reaches_makes_it_go_row_by_row(store: Store) {
        create_tables(
            &store,
            "CREATE TABLE tg (id INTEGER PRIMARY KEY, v INTEGER); \
             CREATE TABLE tg_kids (id INTEGER PRIMARY KEY, \
               p_id INTEGER REFERENCES tg(id) ON DELETE CASCADE); \
             CREATE TABLE tg_log (id INTEGER PRIMARY KEY, v INTEGER); \
             CREATE TABLE quiet (id INTEGER PRIMARY KEY); \
             INSERT INTO tg VALUES (1, 0), (2, 0), (3, 0), (4, 0); \
             INSERT INTO quiet VALUES (1), (2)",
        )
        .await;
        assert_eq!(delete_as(&store, "tg", &ints([4, 3]), true).await, Ok(Path::Batched));
        // On the cascaded table: it could change rows of the parent as each goes.
        let ddl = match store.dialect() {
            Dialect::Sqlite => "CREATE TRIGGER tg_kids_gone AFTER DELETE ON tg_kids \
                 BEGIN UPDATE tg SET v = v + 1; END"
                .to_string(),
            Dialect::Postgres => "CREATE FUNCTION tg_bump() RETURNS trigger LANGUAGE plpgsql AS \
                 $f$ BEGIN UPDATE tg SET v = v + 1; RETURN OLD; END $f$; \
                 CREATE TRIGGER tg_kids_gone AFTER DELETE ON tg_kids \
                 FOR EACH ROW EXECUTE FUNCTION tg_bump()"
                .to_string(),
            Dialect::Mysql => "CREATE TRIGGER tg_kids_gone AFTER DELETE ON tg_kids \
                 FOR EACH ROW INSERT INTO tg_log (id, v) VALUES (OLD.id, 1)"
                .to_string(),
        };
        sqlx::raw_sql(&ddl).execute(store.pool()).await.unwrap();
        assert_eq!(delete_as(&store, "tg", &ints([2, 1]), true).await, Ok(Path::RowByRow));
        assert_eq!(delete_as(&store, "quiet", &ints([2, 1]), true).await, Ok(Path::Batched));
    }

    async fn rows_that_refer_to_each_other_go_row_by_row_in_the_order_given(store: Store) {
        create_tables(
            &store,
            "CREATE TABLE tree (id INTEGER PRIMARY KEY, up INTEGER REFERENCES tree(id)); \
             INSERT INTO tree VALUES (1, NULL), (2, 1), (3, 2), (4, NULL)",
        )
        .await;
        // The parent first: row by row refuses it, whatever the database checks when.
        let refused = delete_as(&store, "tree", &ints([1, 2, 3]), true).await;
        assert!(refused.as_ref().is_err_and(|e| e.contains("refer to this T row")), "{refused:?}");
        // Children first: all go, row by row.
        assert_eq!(
            delete_as(&store, "tree", &ints([3, 2, 1, 4]), true).await,
            Ok(Path::RowByRow)
        );
    }

    async fn a_cascade_back_or_a_hold_from_what_cascades_goes_row_by_row(store: Store) {
        create_tables(
            &store,
            "CREATE TABLE loop_a (id INTEGER PRIMARY KEY); \
             CREATE TABLE loop_b (id INTEGER PRIMARY KEY, \
               a_id INTEGER REFERENCES loop_a(id) ON DELETE CASCADE); \
             CREATE TABLE held (id INTEGER PRIMARY KEY); \
             CREATE TABLE held_kids (id INTEGER PRIMARY KEY, \
               p_id INTEGER REFERENCES held(id) ON DELETE CASCADE, \
               other INTEGER REFERENCES held(id)); \
             CREATE TABLE plain (id INTEGER PRIMARY KEY); \
             CREATE TABLE plain_kids (id INTEGER PRIMARY KEY, \
               p_id INTEGER REFERENCES plain(id) ON DELETE CASCADE, \
               q_id INTEGER REFERENCES plain(id) ON DELETE CASCADE); \
             INSERT INTO held VALUES (1), (2); \
             INSERT INTO held_kids VALUES (10, 1, 2); \
             INSERT INTO plain VALUES (1), (2); \
             INSERT INTO plain_kids VALUES (10, 1, 2);",
        )
        .await;
        // A cycle of cascades would need a foreign key added after both tables exist,
        // which SQLite cannot do; a table that cascades onto itself is the same case.
        create_tables(
            &store,
            "CREATE TABLE cyc (id INTEGER PRIMARY KEY, \
               up INTEGER REFERENCES cyc(id) ON DELETE CASCADE); \
             INSERT INTO cyc VALUES (1, NULL), (2, 1)",
        )
        .await;
        // Parent first: the cascade takes the child, whose own delete then finds nothing.
        assert_eq!(
            delete_as(&store, "cyc", &ints([1, 2]), true).await,
            Err("not found: no such row in T".to_string())
        );
        assert_eq!(delete_as(&store, "cyc", &ints([2, 1]), true).await, Ok(Path::RowByRow));
        // Row 1 first: its kid, which holds row 2, goes with it, and row 2 may go after.
        assert_eq!(delete_as(&store, "held", &ints([1, 2]), true).await, Ok(Path::RowByRow));
        // The table refers (setting NULL) to a table its cascade reaches: row 1's cascade
        // takes the kid that row 2 refers to, so row 2's audit row must say NULL.
        let ddl = match store.dialect() {
            // SQLite takes a foreign key onto a table that does not exist yet.
            Dialect::Sqlite => "CREATE TABLE sn (id INTEGER PRIMARY KEY, \
                   kid INTEGER REFERENCES sn_kids(id) ON DELETE SET NULL); \
                 CREATE TABLE sn_kids (id INTEGER PRIMARY KEY, \
                   p_id INTEGER REFERENCES sn(id) ON DELETE CASCADE)",
            _ => "CREATE TABLE sn (id INTEGER PRIMARY KEY, kid INTEGER); \
                 CREATE TABLE sn_kids (id INTEGER PRIMARY KEY, \
                   p_id INTEGER REFERENCES sn(id) ON DELETE CASCADE); \
                 ALTER TABLE sn ADD CONSTRAINT sn_kid FOREIGN KEY (kid) \
                   REFERENCES sn_kids(id) ON DELETE SET NULL",
        };
        create_tables(&store, ddl).await;
        create_tables(
            &store,
            "INSERT INTO sn VALUES (1, NULL), (2, NULL); \
             INSERT INTO sn_kids VALUES (10, 1); \
             UPDATE sn SET kid = 10 WHERE id = 2",
        )
        .await;
        assert_eq!(delete_as(&store, "sn", &ints([1, 2]), true).await, Ok(Path::RowByRow));
        let before = sqlx::query(
            "SELECT before_json FROM moat_audit_log WHERE model = 'sn' AND pk = '2'",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        let before = crate::store::sql::text(&before, "before_json").unwrap().unwrap();
        assert_eq!(before, r#"{"id":2,"kid":null}"#);
        // A foreign key out of the table to one its delete does not reach: batched.
        create_tables(
            &store,
            "CREATE TABLE sk (id INTEGER PRIMARY KEY); \
             CREATE TABLE sp (id INTEGER PRIMARY KEY, \
               k_id INTEGER REFERENCES sk(id) ON DELETE SET NULL); \
             INSERT INTO sk VALUES (10); \
             INSERT INTO sp VALUES (1, NULL), (2, 10)",
        )
        .await;
        assert_eq!(delete_as(&store, "sp", &ints([1, 2]), true).await, Ok(Path::Batched));
        // Two tables a cascade reaches, one holding the other without cascading.
        create_tables(
            &store,
            "CREATE TABLE two (id INTEGER PRIMARY KEY); \
             CREATE TABLE two_a (id INTEGER PRIMARY KEY, \
               p_id INTEGER REFERENCES two(id) ON DELETE CASCADE); \
             CREATE TABLE two_b (id INTEGER PRIMARY KEY, \
               p_id INTEGER REFERENCES two(id) ON DELETE CASCADE, \
               a_id INTEGER REFERENCES two_a(id)); \
             INSERT INTO two VALUES (1), (2); \
             INSERT INTO two_a VALUES (10, 1); \
             INSERT INTO two_b VALUES (20, 2, 10)",
        )
        .await;
        let refused = delete_as(&store, "two", &ints([1, 2]), true).await;
        assert_eq!(refused, delete_as(&store, "two", &ints([1, 2]), false).await);
        assert!(refused.is_err(), "{refused:?}");
        assert_eq!(delete_as(&store, "two", &ints([2, 1]), true).await, Ok(Path::RowByRow));
        // Cascades only: the order cannot matter, and a batch runs.
        assert_eq!(delete_as(&store, "plain", &ints([2, 1]), true).await, Ok(Path::Batched));
        // One key, or none: nothing to batch.
        assert_eq!(delete_as(&store, "loop_a", &ints([]), true).await, Ok(Path::RowByRow));
    }

    async fn a_reference_moat_does_not_show_makes_it_go_row_by_row(store: Store) {
        create_tables(
            &store,
            "CREATE TABLE hv (id INTEGER PRIMARY KEY); \
             INSERT INTO hv VALUES (1), (2), (3), (4)",
        )
        .await;
        assert_eq!(delete_as(&store, "hv", &ints([1, 2]), true).await, Ok(Path::Batched));
        // A table named like moat's own is not in the schema moat shows.
        create_tables(
            &store,
            "CREATE TABLE moat_hidden_refs (id INTEGER PRIMARY KEY, \
               p_id INTEGER REFERENCES hv(id) ON DELETE CASCADE)",
        )
        .await;
        // On PostgreSQL moat's own tables are in a schema of their own, so this one, in
        // `public`, is shown, and its cascade is one moat knows about (another schema is
        // tried in `postgres_a_reference_from_another_schema_is_seen`).
        let shown = store.introspect().await.unwrap().table("moat_hidden_refs").is_some();
        assert_eq!(shown, store.dialect() == Dialect::Postgres);
        let expected = if shown { Path::Batched } else { Path::RowByRow };
        assert_eq!(delete_as(&store, "hv", &ints([3, 4]), true).await, Ok(expected));
    }

    async fn a_set_null_that_frees_a_later_row_goes_row_by_row(store: Store) {
        // Row 2's cascade takes c 100, which x still holds through (a, b); row 1's delete
        // sets x.a to NULL, after which (a, b) holds nothing. Row by row, [2, 1] is
        // refused at row 2; in one statement both would go.
        create_tables(
            &store,
            "CREATE TABLE sx (id INTEGER PRIMARY KEY); \
             CREATE TABLE sx_c (id INTEGER PRIMARY KEY, \
               t_id INTEGER REFERENCES sx(id) ON DELETE CASCADE, a INTEGER, b INTEGER, \
               UNIQUE (a, b)); \
             CREATE TABLE sx_x (id INTEGER PRIMARY KEY, \
               a INTEGER REFERENCES sx(id) ON DELETE SET NULL, b INTEGER, \
               FOREIGN KEY (a, b) REFERENCES sx_c(a, b)); \
             INSERT INTO sx VALUES (1), (2); \
             INSERT INTO sx_c VALUES (100, 2, 1, 5); \
             INSERT INTO sx_x VALUES (1, 1, 5)",
        )
        .await;
        let batched = delete_as(&store, "sx", &ints([2, 1]), true).await;
        assert!(batched.is_err(), "{batched:?}");
        assert_eq!(delete_as(&store, "sx", &ints([1, 2]), true).await, Ok(Path::RowByRow));
    }

    async fn bulk_sets_in_batches_write_what_row_by_row_writes(store: Store) {
        let keys = twin_tables(&store).await;
        // Some rows already hold the label set (MySQL counts them as matched).
        let changes = [
            ("label", Value::Text("it's".into())),
            ("score", Value::Real(-0.5)),
            ("note", Value::Null),
        ];
        assert_eq!(update_as(&store, "ba", &keys, &changes, true).await, Ok(Path::Batched));
        assert_eq!(update_as(&store, "bb", &keys, &changes, false).await, Ok(Path::RowByRow));
        let (a, b) = (
            rows_and_audit(&store, "ba", "change").await,
            rows_and_audit(&store, "bb", "change").await,
        );
        assert_eq!(a.len(), keys.len() + 1);
        for (a, b) in a.iter().zip(&b) {
            assert_eq!(a, b);
        }
        assert!(store.verify_audit(None).await.unwrap().is_ok());
    }

    async fn a_bulk_set_that_meets_a_gone_row_or_a_refusal_says_row_by_rows_words(store: Store) {
        create_tables(
            &store,
            "CREATE TABLE us (id INTEGER PRIMARY KEY, code VARCHAR(20) UNIQUE, n INTEGER); \
             INSERT INTO us VALUES (1, 'a', 0), (2, 'b', 0), (3, 'c', 0), (4, 'd', 0)",
        )
        .await;
        let before = rows_and_audit(&store, "us", "change").await;
        let n = [("n", Value::Integer(7))];
        for keys in [ints([1, 99_999, 2, 88_888]), ints([2, 1, 77_777])] {
            let batched = update_as(&store, "us", &keys, &n, true).await;
            assert_eq!(batched, update_as(&store, "us", &keys, &n, false).await);
            assert!(batched.as_ref().is_err_and(|e| e.contains("is gone")), "{batched:?}");
        }
        let first = update_as(&store, "us", &ints([1, 99_999, 88_888]), &n, true).await;
        assert!(first.as_ref().is_err_and(|e| e.contains("99999")), "{first:?}");
        // Two rows given one value of a UNIQUE column: refused in the same words.
        let code = [("code", Value::Text("z".into()))];
        let batched = update_as(&store, "us", &ints([3, 4]), &code, true).await;
        assert_eq!(batched, update_as(&store, "us", &ints([3, 4]), &code, false).await);
        assert!(batched.is_err(), "{batched:?}");
        assert_eq!(rows_and_audit(&store, "us", "change").await, before);
    }

    async fn a_bulk_set_of_a_column_others_refer_to_or_under_a_trigger_goes_row_by_row(store: Store) {
        create_tables(
            &store,
            "CREATE TABLE uq (id INTEGER PRIMARY KEY, code VARCHAR(20) UNIQUE, n INTEGER); \
             CREATE TABLE uq_ref (id INTEGER PRIMARY KEY, \
               code VARCHAR(20) REFERENCES uq(code) ON UPDATE CASCADE); \
             CREATE TABLE ut (id INTEGER PRIMARY KEY, n INTEGER); \
             CREATE TABLE ut_log (id INTEGER PRIMARY KEY, n INTEGER); \
             INSERT INTO uq VALUES (1, 'a', 0), (2, 'b', 0); \
             INSERT INTO uq_ref VALUES (1, 'a'); \
             INSERT INTO ut VALUES (1, 0), (2, 0)",
        )
        .await;
        let one = |v: &str| [("code", Value::Text(v.into()))];
        assert_eq!(update_as(&store, "uq", &ints([2]), &one("x"), true).await, Ok(Path::RowByRow));
        let n = [("n", Value::Integer(3))];
        assert_eq!(update_as(&store, "uq", &ints([1, 2]), &n, true).await, Ok(Path::Batched));
        let refused = update_as(&store, "uq", &ints([1, 2]), &one("y"), true).await;
        assert!(refused.is_err(), "{refused:?}");
        assert_eq!(update_as(&store, "ut", &ints([1, 2]), &n, true).await, Ok(Path::Batched));
        let ddl = match store.dialect() {
            Dialect::Sqlite => "CREATE TRIGGER ut_changed AFTER UPDATE ON ut \
                 BEGIN INSERT INTO ut_log (n) VALUES (new.n); END"
                .to_string(),
            Dialect::Postgres => "CREATE FUNCTION ut_note() RETURNS trigger LANGUAGE plpgsql AS \
                 $f$ BEGIN INSERT INTO ut_log (id, n) VALUES (NEW.id * 100 + NEW.n, NEW.n); \
                 RETURN NEW; END $f$; \
                 CREATE TRIGGER ut_changed AFTER UPDATE ON ut \
                 FOR EACH ROW EXECUTE FUNCTION ut_note()"
                .to_string(),
            Dialect::Mysql => "CREATE TRIGGER ut_changed AFTER UPDATE ON ut \
                 FOR EACH ROW INSERT INTO ut_log (id, n) VALUES (NEW.id * 100 + NEW.n, NEW.n)"
                .to_string(),
        };
        sqlx::raw_sql(&ddl).execute(store.pool()).await.unwrap();
        let m = [("n", Value::Integer(4))];
        assert_eq!(update_as(&store, "ut", &ints([1, 2]), &m, true).await, Ok(Path::RowByRow));
    }

    async fn a_unique_index_the_order_could_matter_to_makes_a_bulk_set_go_row_by_row(store: Store) {
        // Row 2 then row 1, nick set to NULL: row by row, row 2 shows "bob", which row 1
        // still shows, and is refused; one statement in key order would pass.
        let ddl = match store.dialect() {
            Dialect::Mysql => "CREATE TABLE gx (id INTEGER PRIMARY KEY, nick VARCHAR(20), \
                   name VARCHAR(20) NOT NULL, n INTEGER, \
                   shown VARCHAR(20) AS (COALESCE(nick, name)) VIRTUAL, \
                   UNIQUE KEY gx_shown (shown))",
            _ => "CREATE TABLE gx (id INTEGER PRIMARY KEY, nick VARCHAR(20), \
                   name VARCHAR(20) NOT NULL, n INTEGER); \
                 CREATE UNIQUE INDEX gx_shown ON gx ((COALESCE(nick, name)))",
        };
        create_tables(&store, ddl).await;
        create_tables(
            &store,
            "INSERT INTO gx (id, nick, name, n) VALUES (1, 'bob', 'alice', 0), (2, 'carol', 'bob', 0)",
        )
        .await;
        let before = rows_and_audit(&store, "gx", "change").await;
        let nick = [("nick", Value::Null)];
        let batched = update_as(&store, "gx", &ints([2, 1]), &nick, true).await;
        assert_eq!(batched, update_as(&store, "gx", &ints([2, 1]), &nick, false).await);
        assert!(batched.is_err(), "{batched:?}");
        assert_eq!(rows_and_audit(&store, "gx", "change").await, before);
        // Even a column outside it: the index's expression is not read apart.
        let n = [("n", Value::Integer(1))];
        assert_eq!(update_as(&store, "gx", &ints([1, 2]), &n, true).await, Ok(Path::RowByRow));
        if store.dialect() != Dialect::Mysql {
            create_tables(
                &store,
                "CREATE TABLE px (id INTEGER PRIMARY KEY, a INTEGER, b INTEGER); \
                 CREATE UNIQUE INDEX px_b ON px (b) WHERE a > 0; \
                 INSERT INTO px VALUES (1, 0, 5), (2, 1, 5)",
            )
            .await;
            let a = [("a", Value::Integer(2))];
            let batched = update_as(&store, "px", &ints([1, 2]), &a, true).await;
            assert_eq!(batched, update_as(&store, "px", &ints([1, 2]), &a, false).await);
            let a = [("a", Value::Integer(0))];
            assert_eq!(update_as(&store, "px", &ints([2, 1]), &a, true).await, Ok(Path::RowByRow));
        }
    }

    async fn hostile_text_keys_in_batches_are_row_by_rows(store: Store) {
        for name in ["ta", "tb"] {
            create_tables(
                &store,
                &format!(
                    "CREATE TABLE {name} (k VARCHAR(40) PRIMARY KEY, v INTEGER); \
                     INSERT INTO {name} VALUES ('it''s', 1), ('', 2), ('ünï', 3), \
                       ('\"q\"', 4), ('NULL', 5), (' lead', 6), ('x%_', 7), ('keep', 8)"
                ),
            )
            .await;
        }
        let keys: Vec<Vec<Value>> = ["it's", "", "ünï", "\"q\"", "NULL", " lead", "x%_"]
            .into_iter()
            .map(|k| vec![Value::Text(k.into())])
            .collect();
        assert_eq!(delete_as(&store, "ta", &keys, true).await, Ok(Path::Batched));
        assert_eq!(delete_as(&store, "tb", &keys, false).await, Ok(Path::RowByRow));
        let rows = |t: &'static str| {
            let store = store.clone();
            async move {
                sqlx::query(&format!("SELECT k FROM {t} ORDER BY v"))
                    .fetch_all(store.pool())
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| crate::store::sql::text(r, "k").unwrap())
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(rows("ta").await, vec![Some("keep".to_string())]);
        assert_eq!(rows("tb").await, rows("ta").await);
        let audit: Vec<(String, String)> =
            sqlx::query("SELECT model, pk FROM moat_audit_log WHERE action = 'delete' ORDER BY id")
                .fetch_all(store.pool())
                .await
                .unwrap()
                .iter()
                .map(|r| {
                    let text = |c| crate::store::sql::text(r, c).unwrap().unwrap_or_default();
                    (text("model"), text("pk"))
                })
                .collect();
        let of = |m: &str| -> Vec<String> {
            audit.iter().filter(|(x, _)| x == m).map(|(_, pk)| pk.clone()).collect()
        };
        assert_eq!(of("ta"), of("tb"));
        assert_eq!(of("ta").len(), keys.len());
    }
}

/// A key that finds its row under another spelling (here SQLite's NOCASE) is not trusted
/// to a batch: the delete starts again row by row, and ends as row by row ends.
#[tokio::test]
async fn a_key_under_another_spelling_starts_again_row_by_row() {
    let store = memory_store().await;
    for name in ["na", "nb"] {
        create_tables(
            &store,
            &format!(
                "CREATE TABLE {name} (k TEXT COLLATE NOCASE PRIMARY KEY, v INTEGER); \
                 INSERT INTO {name} VALUES ('Alpha', 1), ('beta', 2), ('gamma', 3)"
            ),
        )
        .await;
    }
    let keys: Vec<Vec<Value>> = ["beta", "ALPHA"]
        .into_iter()
        .map(|k| vec![Value::Text(k.into())])
        .collect();
    assert_eq!(
        delete_as(&store, "na", &keys, true).await,
        Ok(Path::RowByRow)
    );
    assert_eq!(
        delete_as(&store, "nb", &keys, false).await,
        Ok(Path::RowByRow)
    );
    for t in ["na", "nb"] {
        let left: Vec<String> = sqlx::query_scalar(&format!("SELECT k FROM {t}"))
            .fetch_all(store.pool())
            .await
            .unwrap();
        assert_eq!(left, vec!["gamma".to_string()]);
    }
    let pks: Vec<String> =
        sqlx::query_scalar("SELECT pk FROM moat_audit_log WHERE action = 'delete' ORDER BY id")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(pks, ["beta", "ALPHA", "beta", "ALPHA"]);
    assert!(store.verify_audit(None).await.unwrap().is_ok());
}

/// moat's own search index triggers (SQLite) write to its FTS table only: a table with a
/// search index still deletes in batches, and the index follows.
#[tokio::test]
async fn a_search_index_does_not_stop_batches() {
    let store = memory_store().await;
    create_tables(
        &store,
        "CREATE TABLE docs (id INTEGER PRIMARY KEY, title TEXT); \
         INSERT INTO docs VALUES (1, 'alpha one'), (2, 'alpha two'), (3, 'beta')",
    )
    .await;
    let schema = store.introspect().await.unwrap();
    let t = schema.table("docs").unwrap();
    store
        .add_search_index(t, &["title".to_string()], &mut |_, _| {})
        .await
        .unwrap();
    assert_eq!(
        delete_as(&store, "docs", &ints([1, 3]), true).await,
        Ok(Path::Batched)
    );
    let hits: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM moat_search_docs WHERE moat_search_docs MATCH '\"alpha\"'",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(hits, 1);
}

/// SQLite keeps a trigger's table name as its ON clause spelt it: another case is the
/// same table.
#[tokio::test]
async fn a_trigger_named_in_another_case_is_seen() {
    let store = memory_store().await;
    create_tables(
        &store,
        "CREATE TABLE Items (id INTEGER PRIMARY KEY, n INTEGER); \
         INSERT INTO Items VALUES (1, 0), (2, 0); \
         CREATE TRIGGER bump AFTER DELETE ON items BEGIN UPDATE Items SET n = n + 1; END",
    )
    .await;
    assert_eq!(
        delete_as(&store, "Items", &ints([1, 2]), true).await,
        Ok(Path::RowByRow)
    );
    let n: String = sqlx::query_scalar(
        "SELECT json_extract(before_json, '$.n') FROM moat_audit_log WHERE pk = '2'",
    )
    .fetch_one(store.pool())
    .await
    .map(|n: i64| n.to_string())
    .unwrap();
    assert_eq!(n, "1");
}

/// PostgreSQL: a foreign key from a schema moat does not show is still asked of the
/// catalog.
#[tokio::test]
#[cfg_attr(
    not(moat_postgres),
    ignore = "MOAT_TEST_POSTGRES_URL is not set: PostgreSQL run skipped"
)]
async fn postgres_a_reference_from_another_schema_is_seen() {
    let store = crate::store::testing::postgres_store().await.unwrap();
    create_tables(
        &store,
        "CREATE TABLE hp (id INTEGER PRIMARY KEY); INSERT INTO hp VALUES (1), (2), (3), (4)",
    )
    .await;
    assert_eq!(
        delete_as(&store, "hp", &ints([1, 2]), true).await,
        Ok(Path::Batched)
    );
    sqlx::raw_sql(
        "CREATE SCHEMA hidden_refs; \
         CREATE TABLE hidden_refs.r (id INTEGER PRIMARY KEY, \
           p_id INTEGER REFERENCES public.hp(id) ON DELETE CASCADE)",
    )
    .execute(store.pool())
    .await
    .unwrap();
    assert_eq!(
        delete_as(&store, "hp", &ints([3, 4]), true).await,
        Ok(Path::RowByRow)
    );
    // Row-level security: a policy may read other rows, which one statement sees as
    // they were before it.
    create_tables(
        &store,
        "CREATE TABLE hs (id INTEGER PRIMARY KEY); INSERT INTO hs VALUES (1), (2), (3), (4); \
         ALTER TABLE hs ENABLE ROW LEVEL SECURITY",
    )
    .await;
    assert_eq!(
        delete_as(&store, "hs", &ints([1, 2]), true).await,
        Ok(Path::RowByRow)
    );
}

/// MySQL lists triggers only to a user with the TRIGGER privilege: without it, moat
/// cannot tell, and deletes row by row.
#[tokio::test]
#[cfg_attr(
    not(moat_mysql),
    ignore = "MOAT_TEST_MYSQL_URL is not set: MySQL/MariaDB run skipped"
)]
async fn mysql_without_the_trigger_privilege_goes_row_by_row() {
    let (store, name) = crate::store::testing::mysql_store().await.unwrap();
    create_tables(
        &store,
        "CREATE TABLE pv (id INTEGER PRIMARY KEY); INSERT INTO pv VALUES (1), (2), (3), (4)",
    )
    .await;
    assert_eq!(
        delete_as(&store, "pv", &ints([1, 2]), true).await,
        Ok(Path::Batched)
    );
    // `name` is digits, letters and `_` (see `testing::fresh_name`).
    let user = format!("{name}_u");
    sqlx::raw_sql(&format!(
        "DROP USER IF EXISTS '{user}'@'%'; CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'; \
         GRANT SELECT, INSERT, UPDATE, DELETE ON `{name}`.* TO '{user}'@'%'"
    ))
    .execute(store.pool())
    .await
    .unwrap();
    let mut url =
        url::Url::parse(&std::env::var(crate::store::testing::MYSQL_ENV).unwrap()).unwrap();
    url.set_scheme("mysql").unwrap();
    url.set_username(&user).unwrap();
    url.set_password(Some("pw")).unwrap();
    url.set_path(&name);
    let limited = Store::connect(url.as_str()).await.unwrap();
    let outcome = delete_as(&limited, "pv", &ints([3, 4]), true).await;
    limited.close().await;
    sqlx::raw_sql(&format!("DROP USER '{user}'@'%'"))
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;
    crate::store::testing::drop_mysql_database(&name).await;
    assert_eq!(outcome, Ok(Path::RowByRow));
}

/// SQLite's `ON CONFLICT REPLACE` deletes the other row: which one depends on the order,
/// so a set of such a column goes row by row and keeps the row row by row keeps.
#[tokio::test]
async fn on_conflict_replace_keeps_the_row_row_by_row_keeps() {
    let store = memory_store().await;
    for name in ["ra", "rb"] {
        create_tables(
            &store,
            &format!(
                "CREATE TABLE {name} (id INTEGER PRIMARY KEY, \
                   code TEXT UNIQUE ON CONFLICT REPLACE, n INTEGER); \
                 INSERT INTO {name} VALUES (1, 'a', 0), (2, 'b', 0), (3, 'c', 0)"
            ),
        )
        .await;
    }
    let code = [("code", Value::Text("z".into()))];
    assert_eq!(
        update_as(&store, "ra", &ints([2, 1]), &code, true).await,
        Ok(Path::RowByRow)
    );
    assert_eq!(
        update_as(&store, "rb", &ints([2, 1]), &code, false).await,
        Ok(Path::RowByRow)
    );
    for t in ["ra", "rb"] {
        let left: Vec<i64> = sqlx::query_scalar(&format!("SELECT id FROM {t} ORDER BY id"))
            .fetch_all(store.pool())
            .await
            .unwrap();
        assert_eq!(left, [1, 3], "{t}");
    }
    // A column outside every unique index still goes in batches.
    let n = [("n", Value::Integer(9))];
    assert_eq!(
        update_as(&store, "ra", &ints([1, 3]), &n, true).await,
        Ok(Path::Batched)
    );
}

/// PostgreSQL: an update reaches a table's partitions, so what a partition holds (here a
/// unique index on an expression) counts; so does a CHECK through an operator of the
/// user's, whose function the catalog links to the operator, not to the constraint.
#[tokio::test]
#[cfg_attr(
    not(moat_postgres),
    ignore = "MOAT_TEST_POSTGRES_URL is not set: PostgreSQL run skipped"
)]
async fn postgres_what_a_partition_or_an_operator_holds_is_seen() {
    let store = crate::store::testing::postgres_store().await.unwrap();
    create_tables(
        &store,
        "CREATE TABLE pt (id INTEGER PRIMARY KEY, n INTEGER, m INTEGER) PARTITION BY RANGE (id); \
         CREATE TABLE pt_low PARTITION OF pt FOR VALUES FROM (0) TO (1000); \
         INSERT INTO pt VALUES (1, 0, 0), (2, 0, 1)",
    )
    .await;
    let n = |v| [("n", Value::Integer(v))];
    assert_eq!(
        update_as(&store, "pt", &ints([1, 2]), &n(1), true).await,
        Ok(Path::Batched)
    );
    create_tables(&store, "CREATE UNIQUE INDEX pt_low_sum ON pt_low ((n + m))").await;
    assert_eq!(
        update_as(&store, "pt", &ints([1, 2]), &n(5), true).await,
        Ok(Path::RowByRow)
    );

    create_tables(
        &store,
        "CREATE TABLE po (id INTEGER PRIMARY KEY, n INTEGER); \
         INSERT INTO po VALUES (1, 0), (2, 0); \
         CREATE FUNCTION po_below(integer, integer) RETURNS boolean \
           LANGUAGE sql IMMUTABLE AS 'SELECT $1 < $2'; \
         CREATE OPERATOR <<< (LEFTARG = integer, RIGHTARG = integer, FUNCTION = po_below)",
    )
    .await;
    assert_eq!(
        update_as(&store, "po", &ints([1, 2]), &n(1), true).await,
        Ok(Path::Batched)
    );
    create_tables(
        &store,
        "ALTER TABLE po ADD CONSTRAINT po_small CHECK (n <<< 100)",
    )
    .await;
    assert_eq!(
        update_as(&store, "po", &ints([1, 2]), &n(2), true).await,
        Ok(Path::RowByRow)
    );
}
