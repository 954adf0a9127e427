//! Reverting a change and restoring a deleted row from the audit trail, over SSH: from
//! `H` and from `:audit`, conflict-checked, step-up, refused without the permission (and
//! audited), each write with its own audit row in a chain that still verifies.

use crate::common::*;
use moat::commands::{self, Target};
use moat::domain::{TableInfo, Value};
use moat::tui::{Cmd, Msg};

const ENTER: &[u8] = b"\r";
const DOWN: &[u8] = b"j";
const SAVE: &[u8] = b"\x13"; // Ctrl-S
const CLEAR: &[u8] = b"\x15"; // Ctrl-U

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

/// Set the name of the open tags record `n` in the form.
async fn rename(c: &mut Console, n: usize, name: &str) {
    c.send(b"e").await;
    c.wait_for("› edit").await;
    c.keys(&[CLEAR]).await;
    c.send(name.as_bytes()).await;
    c.send(SAVE).await;
    c.wait_for(&format!("saved tags #{n}")).await;
}

/// A text value read by `sql` as column `v` (MySQL's LONGTEXT arrives as bytes).
async fn text(server: &TestServer, sql: &str) -> String {
    let row = sqlx::query(sql)
        .fetch_one(server.store.pool())
        .await
        .unwrap();
    moat::store::sql::text(&row, "v")
        .unwrap()
        .unwrap_or_default()
}

async fn count(server: &TestServer, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(server.store.pool())
        .await
        .unwrap()
}

/// The id of the newest audit entry with `action` and `outcome` (constants of the test).
async fn newest(server: &TestServer, action: &str, outcome: &str) -> i64 {
    let sql = format!(
        "SELECT MAX(id) FROM moat_audit_log WHERE action = '{action}' AND outcome = '{outcome}'"
    );
    count(server, &sql).await
}

async fn table(server: &TestServer, name: &str) -> TableInfo {
    server
        .store
        .introspect()
        .await
        .unwrap()
        .table(name)
        .unwrap()
        .clone()
}

/// Every value of row `id` of `model`, as the store reads it.
async fn row_values(server: &TestServer, model: &str, id: i64) -> Vec<Value> {
    let t = table(server, model).await;
    let record = server
        .store
        .record(&t, &[Value::Integer(id)])
        .await
        .unwrap();
    record.fields.into_iter().map(|(_, v)| v).collect()
}

async fn chain_verifies(server: &TestServer) {
    let verified = server.store.verify_audit(None).await.unwrap();
    assert!(verified.is_ok(), "{verified:?}");
}

/// Delete row `id` of `model` as `user`, straight through the session.
async fn delete_as(server: &TestServer, user: &str, model: &str, id: i64) {
    let actor = session_actor(server, user).await;
    let msg = server
        .sessions
        .execute(
            &actor,
            Cmd::Delete {
                model: model.into(),
                key: vec![Value::Integer(id)],
            },
        )
        .await;
    assert!(matches!(msg, Some(Msg::Deleted { .. })), "{msg:?}");
}

/// Open `:audit` filtered to `action`.
async fn audit_of(c: &mut Console, action: &str) {
    c.send(b":").await;
    c.send(b"audit\r").await;
    c.wait_for("› audit").await;
    c.send(b"f").await;
    c.send(format!("action={action}\r").as_bytes()).await;
    c.wait_for(&format!("[action={action}]")).await;
}

on_every_database! {
    async fn revert_a_change_from_history() {
        let server = TestServer::start().await;
        let original = text(&server, "SELECT name AS v FROM tags WHERE id = 7").await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 120, 30, "xterm").await;
        open_record(&mut c, 4, 7).await; // tags #7
        rename(&mut c, 7, "Changed name").await;
        let change = newest(&server, "change", "success").await;
        c.send(b"H").await;
        let history = c.wait_for("› history").await;
        assert!(history.contains("u revert this change"), "offered:\n{history}");
        c.send(b"u").await;
        let ask = c
            .wait_for(&format!("Revert audit entry {change} on tags #7?"))
            .await;
        // The confirmation names what is written and what the row must still hold.
        assert!(ask.contains(&format!("{original:?}")), "{ask}");
        assert!(ask.contains("(now \"Changed name\")"), "{ask}");
        assert_eq!(
            text(&server, "SELECT name AS v FROM tags WHERE id = 7").await,
            "Changed name",
            "nothing written before y"
        );
        c.send(b"y").await;
        c.wait_for(&format!("reverted tags #7 (entry {change})")).await;
        assert_eq!(
            text(&server, "SELECT name AS v FROM tags WHERE id = 7").await,
            original
        );
        // Its own audit row, naming the entry; the history shows it (read again).
        let revert = newest(&server, "revert", "success").await;
        assert!(revert > change);
        let row = sqlx::query(&format!(
            "SELECT reason, before_json, after_json FROM moat_audit_log WHERE id = {revert}"
        ))
        .fetch_one(server.store.pool())
        .await
        .unwrap();
        let field = |c: &str| moat::store::sql::text(&row, c).unwrap().unwrap();
        assert_eq!(field("reason"), format!("reverts entry {change}"));
        assert_eq!(field("before_json"), r#"{"name":"Changed name"}"#);
        assert_eq!(field("after_json"), serde_json::json!({ "name": original }).to_string());
        c.wait_for("admin  revert success").await;
        // The record below shows the row as it is now.
        c.send(b"\x1b").await;
        c.wait_for("line 1/").await;
        c.wait_for(&original).await;
        chain_verifies(&server).await;
        server.stop().await;
    }
}

on_every_database! {
    async fn a_revert_of_a_row_changed_since_shows_the_conflict_and_writes_nothing() {
        let server = TestServer::start().await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 120, 30, "xterm").await;
        open_record(&mut c, 4, 7).await;
        rename(&mut c, 7, "Second").await;
        let change = newest(&server, "change", "success").await;
        // Someone else changes the row after the entry.
        sqlx::query("UPDATE tags SET name = 'Third' WHERE id = 7")
            .execute(server.store.pool())
            .await
            .unwrap();
        c.send(b"H").await;
        c.wait_for("› history").await;
        c.send(b"u").await;
        c.wait_for("Revert audit entry").await;
        c.send(b"y").await;
        let conflict = c
            .wait_for(&format!(
                "This row changed since audit entry {change}. Nothing was reverted."
            ))
            .await;
        assert!(conflict.contains("Third"), "now:\n{conflict}");
        assert!(conflict.contains("Second"), "the entry left:\n{conflict}");
        assert!(!conflict.contains("overwrite"), "{conflict}");
        assert_eq!(
            text(&server, "SELECT name AS v FROM tags WHERE id = 7").await,
            "Third"
        );
        assert_eq!(
            count(&server, "SELECT COUNT(*) FROM moat_audit_log WHERE action = 'revert'").await,
            0
        );
        // `o` does nothing here; Esc goes back to the history.
        c.send(b"o").await;
        c.send(b"\x1b").await;
        c.wait_for("› history").await;
        assert_eq!(
            text(&server, "SELECT name AS v FROM tags WHERE id = 7").await,
            "Third"
        );
        server.stop().await;
    }
}

on_every_database! {
    async fn restore_a_deleted_row_from_the_audit_viewer() {
        let server = TestServer::start().await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 140, 30, "xterm").await;
        c.wait_for("post_tags").await;
        let had = row_values(&server, "comments", 3).await;
        delete_as(&server, "admin", "comments", 3).await;
        let delete = newest(&server, "delete", "success").await;
        audit_of(&mut c, "delete").await;
        let list = c.wait_for("u restore this row").await;
        assert!(list.contains("comments #3"), "{list}");
        c.send(b"u").await;
        let ask = c
            .wait_for(&format!("Restore comments #3, deleted in audit entry {delete}?"))
            .await;
        assert!(ask.contains("author_name"), "{ask}");
        assert_eq!(
            count(&server, "SELECT COUNT(*) FROM comments WHERE id = 3").await,
            0,
            "nothing written before y"
        );
        c.send(b"y").await;
        c.wait_for(&format!("restored comments #3 (entry {delete})")).await;
        // The row is back under its key with every value it had.
        assert_eq!(row_values(&server, "comments", 3).await, had);
        let restore = newest(&server, "restore", "success").await;
        let reason = text(
            &server,
            &format!("SELECT reason AS v FROM moat_audit_log WHERE id = {restore}"),
        )
        .await;
        assert_eq!(reason, format!("restores entry {delete}"));
        chain_verifies(&server).await;
        server.stop().await;
    }
}

on_every_database! {
    async fn a_restore_of_a_key_that_exists_again_is_refused() {
        let server = TestServer::start().await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 140, 30, "xterm").await;
        c.wait_for("post_tags").await;
        delete_as(&server, "admin", "comments", 4).await;
        let delete = newest(&server, "delete", "success").await;
        // Restored once (straight through the session) …
        let admin = session_actor(&server, "admin").await;
        let msg = server
            .sessions
            .execute(&admin, Cmd::Undo { entry: delete })
            .await;
        assert!(matches!(msg, Some(Msg::Undone { .. })), "{msg:?}");
        let now = row_values(&server, "comments", 4).await;
        // … so from the viewer it is refused, in words.
        audit_of(&mut c, "delete").await;
        c.send(b"u").await;
        c.wait_for("Restore comments #4").await;
        c.send(b"y").await;
        c.wait_for("not restored: comments #4 exists again").await;
        assert_eq!(row_values(&server, "comments", 4).await, now);
        assert_eq!(
            count(&server, "SELECT COUNT(*) FROM moat_audit_log WHERE action = 'restore'").await,
            1
        );
        chain_verifies(&server).await;
        server.stop().await;
    }
}

on_every_database! {
    async fn without_the_permission_u_is_not_offered_and_a_forced_one_is_refused_and_audited() {
        let server = TestServer::start().await;
        // jane may view tags and comments and read the audit trail, but change and add
        // nothing.
        let perms = [
            "view_tags".to_string(),
            "view_comments".to_string(),
            "moat.view_audit".to_string(),
        ];
        commands::set_model_perms(
            &server.config,
            &Target::User("jane".into()),
            &perms,
            true,
            "t",
            &mut Vec::new(),
        )
        .await
        .unwrap();
        let admin = session_actor(&server, "admin").await;
        let msg = server
            .sessions
            .execute(
                &admin,
                Cmd::Save {
                    model: "tags".into(),
                    key: Some(vec![Value::Integer(2)]),
                    original: Vec::new(),
                    values: vec![("name".into(), Value::Text("By admin".into()))],
                    overwrite: true,
                },
            )
            .await;
        assert!(matches!(msg, Some(Msg::Saved { .. })), "{msg:?}");
        let change = newest(&server, "overwrite", "success").await;
        delete_as(&server, "admin", "comments", 5).await;
        let delete = newest(&server, "delete", "success").await;

        let conn = login(&server, "jane").await;
        let mut c = Console::open(&conn, 140, 30, "xterm").await;
        c.wait_for("tags").await;
        c.keys(&[b":", b"tags 2", ENTER]).await;
        c.wait_for("line 1/").await;
        c.send(b"H").await;
        let history = c.wait_for("admin  overwrite success").await;
        assert!(!history.contains("revert this change"), "offered:\n{history}");
        // The key sent anyway: refused by the session, audited.
        c.send(b"u").await;
        c.wait_for("permission denied: no change_tags permission").await;
        assert_eq!(
            text(&server, "SELECT name AS v FROM tags WHERE id = 2").await,
            "By admin"
        );
        let denied = text(
            &server,
            "SELECT reason AS v FROM moat_audit_log \
             WHERE action = 'revert' AND outcome = 'denied' AND actor = 'jane'",
        )
        .await;
        assert_eq!(denied, format!("no change_tags permission (revert of entry {change})"));

        // A restore: not offered in the viewer, refused when sent.
        c.send(b"\x1b").await;
        c.wait_for("line 1/").await;
        audit_of(&mut c, "delete").await;
        let list = c.wait_for("comments #5").await;
        assert!(!list.contains("restore this row"), "offered:\n{list}");
        c.send(b"u").await;
        c.wait_for("permission denied: no add_comments permission").await;
        // Straight to the session, as a modified client would, with the step-up passed.
        let jane = session_actor(&server, "jane").await;
        let msg = server
            .sessions
            .execute(&jane, Cmd::Undo { entry: delete })
            .await;
        assert!(
            matches!(&msg, Some(Msg::Failed(t)) if t.contains("no add_comments permission")),
            "{msg:?}"
        );
        assert_eq!(
            count(&server, "SELECT COUNT(*) FROM comments WHERE id = 5").await,
            0
        );
        assert_eq!(
            count(
                &server,
                "SELECT COUNT(*) FROM moat_audit_log \
                 WHERE action = 'restore' AND outcome = 'denied' AND actor = 'jane'"
            )
            .await,
            2
        );
        server.stop().await;
    }
}

on_every_database! {
    async fn a_revert_needs_a_fresh_verification_code() {
        let server = TestServer::start_with(|c| c.accounts.step_up_secs = 0, None).await;
        let original = text(&server, "SELECT name AS v FROM tags WHERE id = 7").await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 120, 30, "xterm").await;
        open_record(&mut c, 4, 7).await;
        rename(&mut c, 7, "Changed name").await;
        c.send(b"H").await;
        c.wait_for("› history").await;
        c.send(b"u").await;
        c.wait_for("Revert audit entry").await;
        c.send(b"y").await;
        c.wait_for("Verification code (step-up)").await;
        assert_eq!(
            text(&server, "SELECT name AS v FROM tags WHERE id = 7").await,
            "Changed name",
            "nothing written before the code"
        );
        let code = server.next_code("admin");
        c.send(code.as_bytes()).await;
        c.send(ENTER).await;
        c.wait_for("reverted tags #7").await;
        assert_eq!(
            text(&server, "SELECT name AS v FROM tags WHERE id = 7").await,
            original
        );
        server.stop().await;
    }
}

on_every_database! {
    async fn values_come_back_typed_and_a_composite_key_is_restored() {
        let server = TestServer::start().await;
        let admin = session_actor(&server, "admin").await;
        // A change of an integer, a real, a text, a timestamp to NULL, and an enum (on
        // PostgreSQL) …
        let had = row_values(&server, "posts", 1).await;
        let msg = server
            .sessions
            .execute(
                &admin,
                Cmd::Save {
                    model: "posts".into(),
                    key: Some(vec![Value::Integer(1)]),
                    original: Vec::new(),
                    values: vec![
                        ("view_count".into(), Value::Integer(-9_007_199_254_740_993)),
                        ("rating".into(), Value::Real(0.1)),
                        ("title".into(), Value::Text("é \"q\" \\ \u{7}".into())),
                        ("published_at".into(), Value::Null),
                        ("status".into(), Value::Text("archived".into())),
                    ],
                    overwrite: true,
                },
            )
            .await;
        assert!(matches!(msg, Some(Msg::Saved { .. })), "{msg:?}");
        let change = newest(&server, "overwrite", "success").await;
        // … reverted: the row is as it was, value for value.
        let msg = server
            .sessions
            .execute(&admin, Cmd::Undo { entry: change })
            .await;
        assert!(matches!(msg, Some(Msg::Undone { .. })), "{msg:?}");
        assert_eq!(row_values(&server, "posts", 1).await, had);

        // A row of a two-column key, deleted and restored under that key.
        let t = table(&server, "post_tags").await;
        let (post, tag): (i64, i64) =
            sqlx::query_as("SELECT post_id, tag_id FROM post_tags ORDER BY post_id, tag_id")
                .fetch_one(server.store.pool())
                .await
                .unwrap();
        let key = vec![Value::Integer(post), Value::Integer(tag)];
        let msg = server
            .sessions
            .execute(
                &admin,
                Cmd::Delete {
                    model: "post_tags".into(),
                    key: key.clone(),
                },
            )
            .await;
        assert!(matches!(msg, Some(Msg::Deleted { .. })), "{msg:?}");
        assert!(server.store.record(&t, &key).await.is_err());
        let delete = newest(&server, "delete", "success").await;
        let msg = server
            .sessions
            .execute(&admin, Cmd::AskUndo { entry: delete })
            .await;
        let Some(Msg::UndoAsk(plan)) = msg else {
            panic!("{msg:?}")
        };
        assert_eq!((plan.model.as_str(), &plan.key), ("post_tags", &key));
        let msg = server
            .sessions
            .execute(&admin, Cmd::Undo { entry: delete })
            .await;
        assert_eq!(
            msg,
            Some(Msg::Undone {
                entry: delete,
                kind: moat::tui::protocol::UndoKind::Restore,
                model: "post_tags".into(),
                key: key.clone(),
            })
        );
        assert!(server.store.record(&t, &key).await.is_ok());
        chain_verifies(&server).await;
        server.stop().await;
    }
}
