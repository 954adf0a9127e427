//! Deleting many marked rows: how long asking and deleting take with 10,000 marked rows
//! of a table that other rows refer to, as a superuser and as a user whose delete
//! permission is an object permission on each row. Run by hand (it prints, it asserts
//! no timing):
//! `cargo test --test e2e bulk_delete_timing -- --ignored --nocapture`

use std::time::Instant;

use crate::common::*;
use moat::commands::{self, Target};
use moat::domain::{ListQuery, Value};
use moat::tui::protocol::{BulkCmd, BulkMsg};
use moat::tui::{Cmd, Msg};

const ROWS: i64 = 10_000;

async fn exec(server: &TestServer, sql: &str) {
    // PostgreSQL: the console's tables are in `public` (moat's own schema comes first).
    let sql = if current_db() == Db::Postgres {
        sql.replace("bd_", "public.bd_")
    } else {
        sql.to_string()
    };
    sqlx::raw_sql(&sql)
        .execute(server.store.pool())
        .await
        .unwrap();
}

/// `ROWS` parents, each referred to by one kid (`ON DELETE CASCADE`).
async fn fill(server: &TestServer) {
    for start in (1..=ROWS).step_by(1000) {
        let ids = start..(start + 1000).min(ROWS + 1);
        let parents: Vec<String> = ids
            .clone()
            .map(|i| format!("({i}, 'parent {i}')"))
            .collect();
        let kids: Vec<String> = ids.map(|i| format!("({i}, {i})")).collect();
        exec(
            server,
            &format!("INSERT INTO bd_parents VALUES {}", parents.join(", ")),
        )
        .await;
        exec(
            server,
            &format!("INSERT INTO bd_kids VALUES {}", kids.join(", ")),
        )
        .await;
    }
}

async fn marked(server: &TestServer, actor: &moat::session::Actor) -> Vec<Vec<Value>> {
    let cmd = Cmd::BulkEdit(BulkCmd::MarkAll {
        model: "bd_parents".into(),
        query: ListQuery::default(),
    });
    match server.sessions.execute(actor, cmd).await {
        Some(Msg::BulkEdit(BulkMsg::Marked { keys, .. })) => keys,
        other => panic!("{other:?}"),
    }
}

async fn time_both(server: &TestServer, who: &str) {
    let actor = session_actor(server, who).await;
    let keys = marked(server, &actor).await;
    assert_eq!(keys.len() as i64, ROWS);
    let started = Instant::now();
    let ask = server
        .sessions
        .execute(
            &actor,
            Cmd::AskDeleteMany {
                model: "bd_parents".into(),
                keys: keys.clone(),
            },
        )
        .await;
    let asked = started.elapsed();
    match &ask {
        Some(Msg::DeleteAsk { references, .. }) => assert_eq!(references.len(), 1),
        other => panic!("{other:?}"),
    }
    let started = Instant::now();
    let deleted = server
        .sessions
        .execute(
            &actor,
            Cmd::DeleteMany {
                model: "bd_parents".into(),
                keys,
            },
        )
        .await;
    let took = started.elapsed();
    assert!(
        matches!(deleted, Some(Msg::DeletedMany { count, .. }) if count as i64 == ROWS),
        "{deleted:?}"
    );
    eprintln!(
        "TIMING {:?} {who}: AskDeleteMany {ROWS} rows {:.2} s, DeleteMany {:.2} s",
        current_db(),
        asked.as_secs_f64(),
        took.as_secs_f64()
    );
}

on_sqlite_and_postgres! {
    async fn bulk_delete_timing() {
        if std::env::var("MOAT_BULK_TIMING").is_err() {
            eprintln!("set MOAT_BULK_TIMING=1 to run");
            return;
        }
        let server = TestServer::start().await;
        exec(
            &server,
            "CREATE TABLE bd_parents (id INTEGER PRIMARY KEY, name TEXT NOT NULL); \
             CREATE TABLE bd_kids (id INTEGER PRIMARY KEY, \
             parent_id INTEGER NOT NULL REFERENCES bd_parents(id) ON DELETE CASCADE); \
             CREATE INDEX kids_parent ON bd_kids(parent_id);",
        )
        .await;
        server.sessions.reload_schema().await.unwrap();

        fill(&server).await;
        time_both(&server, "admin").await;

        // jane: may view both, delete kids, and delete each parent by an object permission.
        fill(&server).await;
        commands::set_model_perms(
            &server.config,
            &Target::User("jane".into()),
            &[
                "view_bd_parents".to_string(),
                "view_bd_kids".to_string(),
                "delete_bd_kids".to_string(),
            ],
            true,
            "test",
            &mut Vec::new(),
        )
        .await
        .unwrap();
        let jane = server.store.user_id("jane").await.unwrap().unwrap();
        exec(
            &server,
            &format!(
                "INSERT INTO moat_user_object_perms (user_id, codename, model, pk) \
                 SELECT {jane}, 'delete_' || 'bd' || '_parents', 'b' || 'd_parents', CAST(id AS TEXT) FROM bd_parents"
            ),
        )
        .await;
        time_both(&server, "jane").await;
        server.stop().await;
    }
}

/// The last denial in the audit log: (action, model, pk, reason), and how many there are.
async fn last_denial(server: &TestServer) -> (i64, (String, String, String, String)) {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM moat_audit_log WHERE outcome = 'denied'")
        .fetch_one(server.store.pool())
        .await
        .unwrap();
    let row = sqlx::query(
        "SELECT action, model, pk, reason FROM moat_audit_log WHERE outcome = 'denied' \
         ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(server.store.pool())
    .await
    .unwrap();
    // MySQL hands text over as bytes: read it as the store does.
    let text = |c: &str| moat::store::sql::text(&row, c).unwrap().unwrap_or_default();
    let last = (text("action"), text("model"), text("pk"), text("reason"));
    (n, last)
}

fn keys_of(ids: &[i64]) -> Vec<Vec<Value>> {
    ids.iter().map(|i| vec![Value::Integer(*i)]).collect()
}

/// What the rows `ids` reach, asked of the store row by row and summed per (table,
/// on_delete) as the confirmation sums them; counts hidden for `hidden`.
async fn reach_row_by_row(
    server: &TestServer,
    ids: &[i64],
    hidden: &[&str],
) -> Vec<moat::domain::Reference> {
    let schema = server.store.introspect().await.unwrap();
    let t = schema.table("bd_parents").unwrap();
    let mut all: Vec<moat::domain::Reference> = Vec::new();
    for key in keys_of(ids) {
        for mut r in server.store.references(&schema, t, &key).await.unwrap() {
            if hidden.contains(&r.table.as_str()) {
                r.count = None;
            }
            match all
                .iter_mut()
                .find(|x| x.table == r.table && x.on_delete == r.on_delete)
            {
                Some(x) => {
                    x.count = match (x.count, r.count) {
                        (Some(a), Some(b)) => Some(a.plus(b)),
                        _ => None,
                    }
                }
                None => all.push(r),
            }
        }
    }
    all
}

/// A refusal as the one-row delete (checked row by row) gives it: its message and its
/// audit row; nothing deleted.
async fn refused_one_by_one(
    server: &TestServer,
    actor: &moat::session::Actor,
    id: i64,
) -> (Option<Msg>, (String, String, String, String)) {
    let msg = server
        .sessions
        .execute(
            actor,
            Cmd::Delete {
                model: "bd_parents".into(),
                key: vec![Value::Integer(id)],
            },
        )
        .await;
    assert!(matches!(&msg, Some(Msg::Failed(_))), "{msg:?}");
    (msg, last_denial(server).await.1)
}

/// Asking about and deleting rows `ids` of `bd_parents` as `actor` are each refused as the
/// one-row delete of `id` is refused (`one`): the same message, and one denial audited,
/// the same.
async fn refused_like_one(
    server: &TestServer,
    actor: &moat::session::Actor,
    ids: &[i64],
    one: &(Option<Msg>, (String, String, String, String)),
) {
    let model = || "bd_parents".to_string();
    for cmd in [
        Cmd::AskDeleteMany {
            model: model(),
            keys: keys_of(ids),
        },
        Cmd::DeleteMany {
            model: model(),
            keys: keys_of(ids),
        },
    ] {
        let (before, _) = last_denial(server).await;
        let msg = server.sessions.execute(actor, cmd).await;
        let (after, audit) = last_denial(server).await;
        assert_eq!(msg, one.0);
        assert_eq!(after, before + 1);
        assert_eq!(audit, one.1);
    }
}

on_every_database! {
    async fn bulk_delete_checks_in_batches_decide_as_row_by_row() {
        let server = TestServer::start().await;
        exec(
            &server,
            "CREATE TABLE bd_parents (id INTEGER PRIMARY KEY, name VARCHAR(40)); \
             CREATE TABLE bd_kids (id INTEGER PRIMARY KEY, \
             parent_id INTEGER NOT NULL REFERENCES bd_parents(id) ON DELETE CASCADE); \
             CREATE TABLE bd_notes (id INTEGER PRIMARY KEY, \
             parent_id INTEGER REFERENCES bd_parents(id));",
        )
        .await;
        let parents: Vec<String> = (1..=20)
            .map(|i| {
                if i == 6 {
                    format!("({i}, NULL)")
                } else {
                    format!("({i}, 'parent {i}')")
                }
            })
            .collect();
        exec(&server, &format!("INSERT INTO bd_parents VALUES {}", parents.join(", "))).await;
        // Parent i has i % 3 kids; parents 2 and 3 have notes (which do not cascade).
        let kids: Vec<String> = (1..=20)
            .flat_map(|i| (0..i % 3).map(move |j| format!("({}, {i})", i * 10 + j)))
            .collect();
        exec(&server, &format!("INSERT INTO bd_kids VALUES {}", kids.join(", "))).await;
        exec(&server, "INSERT INTO bd_notes VALUES (1, 2), (2, 3), (3, 3)").await;
        server.sessions.reload_schema().await.unwrap();

        // jane may view parents and kids (not notes), and delete the even parents by
        // object permissions — but not kids, yet.
        commands::set_model_perms(
            &server.config,
            &Target::User("jane".into()),
            &["view_bd_parents".to_string(), "view_bd_kids".to_string()],
            true,
            "test",
            &mut Vec::new(),
        )
        .await
        .unwrap();
        for id in (2..=20).step_by(2) {
            grant_jane(&server, "delete_bd_parents", "bd_parents", &id.to_string()).await;
        }
        let jane = session_actor(&server, "jane").await;
        let ask = |keys: Vec<Vec<Value>>| Cmd::AskDeleteMany {
            model: "bd_parents".into(),
            keys,
        };
        let delete = |keys: Vec<Vec<Value>>| Cmd::DeleteMany {
            model: "bd_parents".into(),
            keys,
        };

        // Refused rows (odd ones) among allowed ones: the first refused row is refused,
        // as the one-row delete refuses it, with one audit row the same.
        let one = refused_one_by_one(&server, &jane, 7).await;
        refused_like_one(&server, &jane, &[2, 4, 7, 8, 9], &one).await;

        // Allowed rows whose cascade reaches kids, which jane may not delete: refused at
        // the first row that has kids (4: 4 % 3 = 1), as row by row.
        let one = refused_one_by_one(&server, &jane, 4).await;
        assert!(
            matches!(&one.0, Some(Msg::Failed(t)) if t.contains("bd_kids")),
            "{:?}",
            one.0
        );
        refused_like_one(&server, &jane, &[6, 12, 4, 2, 8], &one).await;

        // May delete kids too: the confirmation sums what the rows reach as row by row
        // (notes counted but not shown to jane), names each row, and nothing is audited
        // as denied.
        commands::set_model_perms(
            &server.config,
            &Target::User("jane".into()),
            &["delete_bd_kids".to_string()],
            true,
            "test",
            &mut Vec::new(),
        )
        .await
        .unwrap();
        let ids = [6, 12, 4, 2, 8, 14];
        let (before, _) = last_denial(&server).await;
        let msg = server.sessions.execute(&jane, ask(keys_of(&ids))).await;
        let want_refs = reach_row_by_row(&server, &ids, &["bd_notes"]).await;
        match msg {
            Some(Msg::DeleteAsk {
                keys,
                labels,
                references,
                ..
            }) => {
                assert_eq!(keys, keys_of(&ids));
                let want: Vec<Option<String>> = ids
                    .iter()
                    .map(|i| (*i != 6).then(|| format!("parent {i}")))
                    .collect();
                assert_eq!(labels, want);
                assert_eq!(references, want_refs);
                assert!(references.iter().any(|r| r.table == "bd_notes" && r.count.is_none()));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(last_denial(&server).await.0, before);

        // The superuser: counts shown for every model; a missing row fails as the one-row
        // delete fails.
        let admin = session_actor(&server, "admin").await;
        let ids = [1, 2, 3, 5, 20];
        match server.sessions.execute(&admin, ask(keys_of(&ids))).await {
            Some(Msg::DeleteAsk { references, labels, .. }) => {
                assert_eq!(references, reach_row_by_row(&server, &ids, &[]).await);
                assert_eq!(labels[4], Some("parent 20".into()));
            }
            other => panic!("{other:?}"),
        }
        let one = server
            .sessions
            .execute(
                &admin,
                Cmd::Delete {
                    model: "bd_parents".into(),
                    key: vec![Value::Integer(99)],
                },
            )
            .await;
        let many = server
            .sessions
            .execute(&admin, ask(keys_of(&[1, 99, 2])))
            .await;
        assert_eq!(many, one);
        assert!(matches!(&one, Some(Msg::Failed(_))), "{one:?}");

        // And the allowed delete goes through: kids cascade, and grants on the kids that
        // went with their parents go too (those on other kids stay).
        for kid in ["140", "40"] {
            grant_jane(&server, "change_bd_kids", "bd_kids", kid).await;
        }
        let msg = server
            .sessions
            .execute(&jane, delete(keys_of(&[12, 14])))
            .await;
        assert!(matches!(msg, Some(Msg::DeletedMany { count: 2, .. })), "{msg:?}");
        let left: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM moat_user_object_perms WHERE model = 'bd_kids' AND pk = '40'",
        )
        .fetch_one(server.store.pool())
        .await
        .unwrap();
        let gone: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM moat_user_object_perms WHERE model = 'bd_kids' AND pk = '140'",
        )
        .fetch_one(server.store.pool())
        .await
        .unwrap();
        assert_eq!((left, gone), (1, 0));
        server.stop().await;
    }
}

/// Grant jane `codename` on row `pk` of `model`, as `moat perm grant` does.
async fn grant_jane(server: &TestServer, codename: &str, model: &str, pk: &str) {
    let perm = commands::ObjectPerm {
        target: Target::User("jane".into()),
        codename: codename.into(),
        model: model.into(),
        pk: pk.into(),
    };
    commands::set_object_perm(&server.config, &perm, true, "test", &mut Vec::new())
        .await
        .unwrap();
}
