//! Two moat instances on one database, as behind a TCP load balancer: what must be
//! global is in the database, so a TOTP code used on one is refused on the other, a
//! lockout earned on one holds on the other, a session ended from one ends on the other,
//! and audit rows appended by both at once form one chain. On SQLite the instances share the file; on PostgreSQL the database.

use crate::common::*;
use moat::commands;
use moat::store::AuditEntry;

on_every_database! {
    async fn a_code_used_on_one_instance_is_refused_on_the_other() {
        let a = TestServer::start().await;
        let b = a.second_instance().await;
        let code = a.next_code("jane");
        let _on_a = login_at(a.addr, "jane", &code).await;
        let mut conn = connect(b.addr).await;
        let replay = ki_login(&mut conn, "jane", &[PASSWORD, &code]).await;
        assert!(!replay.success, "the same code on the other instance");
        let log = b.store.recent_audit(20).await.unwrap();
        assert!(
            log.iter().any(|e| e.reason.as_deref() == Some("replayed code")),
            "{:?}",
            log.iter().map(|e| e.reason.clone()).collect::<Vec<_>>()
        );
        b.stop().await;
        a.stop().await;
    }

    async fn a_lockout_earned_on_one_instance_holds_on_the_other() {
        let a = TestServer::start_with(|c| c.lockout.failure_limit = 3, None).await;
        let b = a.second_instance().await;
        for _ in 0..3 {
            let mut conn = connect(a.addr).await;
            assert!(!ki_login(&mut conn, "admin", &["wrong password", "123456"]).await.success);
        }
        let mut conn = connect(b.addr).await;
        let code = a.next_code("admin");
        assert!(
            !ki_login(&mut conn, "admin", &[PASSWORD, &code]).await.success,
            "locked on the other instance too"
        );
        let mut out = Vec::new();
        commands::lockout_reset(&a.config, Some("admin"), None, "tester", &mut out)
            .await
            .unwrap();
        let _admin = login_at(b.addr, "admin", &a.next_code("admin")).await;
        b.stop().await;
        a.stop().await;
    }

    async fn audit_appends_from_both_instances_keep_one_chain() {
        let a = TestServer::start().await;
        let b = a.second_instance().await;
        let before = a.store.verify_audit(None).await.unwrap().unwrap().rows;
        let append = |store: moat::store::Store, who: &'static str| {
            tokio::spawn(async move {
                for i in 0..40 {
                    let e = AuditEntry {
                        at_ms: i,
                        actor: Some(who.into()),
                        action: "change".into(),
                        outcome: "success".into(),
                        ..AuditEntry::default()
                    };
                    store.audit(&[e]).await.unwrap();
                }
            })
        };
        let (x, y) = (append(a.store.clone(), "on-a"), append(b.store.clone(), "on-b"));
        x.await.unwrap();
        y.await.unwrap();
        let verified = b.store.verify_audit(None).await.unwrap();
        assert_eq!(
            verified.map(|v| (v.rows, v.keyed_from)),
            Ok((before + 80, Some(1))),
            "one unbroken chain, every entry MACed with the one audit key"
        );
        b.stop().await;
        a.stop().await;
    }

    async fn a_session_ended_from_one_instance_ends_on_the_other() {
        let a = TestServer::start().await;
        let b = a.second_instance().await;
        let conn = login(&a, "jane").await;
        let mut jane = Console::open(&conn, 100, 30, "xterm").await;
        jane.wait_for("moat › models").await;
        // Instance B sees the session A registered, and asks it to end.
        let live = b.store.live_sessions(0).await.unwrap();
        let row = live.iter().find(|s| s.username == "jane").expect("jane's session");
        b.store
            .request_session_end(&row.id, "ended by admin", &AuditEntry::default())
            .await
            .unwrap();
        jane.wait_closed().await;
        assert!(
            jane.screen().contains("session ended: ended by admin"),
            "{}",
            jane.screen()
        );
        b.stop().await;
        a.stop().await;
    }
}
