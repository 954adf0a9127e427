//! Permissions end to end: groups and model permissions, object permissions filtering
//! lists, denials of commands sent straight to the session boundary (audited), and column
//! rules. Grants are made with the same functions the CLI runs.

use crate::common::*;
use moat::commands::{self, ObjectPerm, Target};
use moat::domain::{PageAnchor, Value};
use moat::tui::{Cmd, Msg};

const ENTER: &[u8] = b"\r";
const DOWN: &[u8] = b"j";

async fn grant(server: &TestServer, target: Target, codenames: &[&str]) {
    let codenames: Vec<String> = codenames.iter().map(|s| s.to_string()).collect();
    commands::set_model_perms(
        &server.config,
        &target,
        &codenames,
        true,
        "test",
        &mut Vec::new(),
    )
    .await
    .unwrap();
}

async fn assign(server: &TestServer, target: Target, codename: &str, model: &str, pk: &str) {
    let perm = ObjectPerm {
        target,
        codename: codename.into(),
        model: model.into(),
        pk: pk.into(),
    };
    commands::set_object_perm(&server.config, &perm, true, "test", &mut Vec::new())
        .await
        .unwrap();
}

fn denied(msg: Option<Msg>) -> bool {
    matches!(msg, Some(Msg::Failed(text)) if text.starts_with("permission denied"))
}

on_every_database! {
    async fn a_group_member_sees_and_does_exactly_what_the_group_allows() {
        let mut server = TestServer::start().await;
        commands::group_add(
            &server.config,
            "editors",
            &["view_posts".into(), "change_posts".into()],
            "test",
            &mut Vec::new(),
        )
        .await
        .unwrap();
        server.add_user("ed", false).await;
        let id = server.store.user_id("ed").await.unwrap().unwrap();
        let gid = server.store.group_id("editors").await.unwrap().unwrap();
        server
            .store
            .add_memberships(id, &[gid], &Default::default())
            .await
            .unwrap();

        let conn = login(&server, "ed").await;
        let mut c = Console::open(&conn, 80, 24, "xterm").await;
        let index = c.wait_for("posts").await;
        for other in ["authors", "comments", "tags"] {
            assert!(
                !index.contains(other),
                "{other} shown to an editor:\n{index}"
            );
        }
        c.send(ENTER).await;
        c.wait_for("row 1 of 2,000").await;
        c.send(ENTER).await;
        c.wait_for("body").await;

        // The same commands for another model, sent straight to the session, are refused.
        let ed = session_actor(&server, "ed").await;
        let page = Cmd::LoadPage {
            model: "authors".into(),
            anchor: PageAnchor::First,
            limit: 10,
            query: Default::default(),
        };
        assert!(denied(server.sessions.execute(&ed, page).await));
        let record = Cmd::LoadRecord {
            model: "authors".into(),
            key: vec![Value::Integer(1)],
        };
        assert!(denied(server.sessions.execute(&ed, record).await));
        let log = server.store.recent_audit(5).await.unwrap();
        assert!(log.iter().any(|e| e.outcome == "denied"
            && e.actor.as_deref() == Some("ed")
            && e.reason.as_deref() == Some("no view_authors permission")));
        server.stop().await;
    }
}

on_every_database! {
    async fn object_permissions_show_exactly_those_rows_with_paging_and_counts() {
        let mut server = TestServer::start().await;
        server.add_user("olga", false).await;
        commands::group_add(&server.config, "reviewers", &[], "test", &mut Vec::new())
            .await
            .unwrap();
        let id = server.store.user_id("olga").await.unwrap().unwrap();
        let gid = server.store.group_id("reviewers").await.unwrap().unwrap();
        server
            .store
            .add_memberships(id, &[gid], &Default::default())
            .await
            .unwrap();
        assign(
            &server,
            Target::User("olga".into()),
            "view_posts",
            "posts",
            "17",
        )
        .await;
        assign(
            &server,
            Target::Group("reviewers".into()),
            "change_posts",
            "posts",
            "42",
        )
        .await;
        assign(
            &server,
            Target::User("olga".into()),
            "delete_posts",
            "posts",
            "99",
        )
        .await;

        let conn = login(&server, "olga").await;
        let mut c = Console::open(&conn, 100, 24, "xterm").await;
        let index = c.wait_for("posts").await;
        assert!(!index.contains("authors"), "{index}");
        c.send(ENTER).await;
        let list = c.wait_for("row 1 of 2").await;
        let ids: Vec<&str> = list
            .lines()
            .skip(2)
            .filter_map(|l| l.trim_start_matches(['▶', ' ']).split_whitespace().next())
            .filter(|w| w.chars().all(|c| c.is_ascii_digit()))
            .collect();
        assert_eq!(ids, vec!["17", "42"], "{list}");
        c.keys(&[DOWN]).await;
        c.wait_for("row 2 of 2").await;
        c.send(ENTER).await;
        c.wait_for("#42").await;

        // A row without a viewing permission is refused when asked for directly, and a
        // delete-only grant does not make a row visible.
        let olga = session_actor(&server, "olga").await;
        for pk in [18, 99] {
            let cmd = Cmd::LoadRecord {
                model: "posts".into(),
                key: vec![Value::Integer(pk)],
            };
            assert!(
                denied(server.sessions.execute(&olga, cmd).await),
                "row {pk}"
            );
        }
        let cmd = Cmd::LoadRecord {
            model: "posts".into(),
            key: vec![Value::Integer(17)],
        };
        assert!(matches!(
            server.sessions.execute(&olga, cmd).await,
            Some(Msg::Record { .. })
        ));
        server.stop().await;
    }
}

on_every_database! {
    async fn disabled_users_cannot_log_in_and_lose_everything() {
        let server = TestServer::start().await;
        grant(&server, Target::User("jane".into()), &["view_tags"]).await;
        commands::user_set_active(&server.config, "jane", false, "test", &mut Vec::new())
            .await
            .unwrap();
        let mut conn = connect(server.addr).await;
        let code = server.next_code("jane");
        assert!(
            !ki_login(&mut conn, "jane", &[PASSWORD, &code])
                .await
                .success
        );
        let jane = session_actor(&server, "jane").await;
        let cmd = Cmd::Count {
            model: "tags".into(),
            query: Default::default(),
        };
        assert!(denied(server.sessions.execute(&jane, cmd).await));
        server.stop().await;
    }
}

on_every_database! {
    async fn column_rules_hide_and_mask_except_for_exempt_groups() {
        let mut server = TestServer::start_with(
            |c| {
                c.models.insert(
                    "authors".into(),
                    moat::config::ModelConfig {
                        hidden: vec!["email".into()],
                        masked: vec!["bio".into()],
                        exempt_groups: vec!["hr".into()],
                        ..Default::default()
                    },
                );
            },
            None,
        )
        .await;
        // A superuser outside the exempt group: no email column, bio masked.
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 200, 30, "xterm").await;
        c.wait_for("post_tags").await;
        c.send(ENTER).await;
        let list = c.wait_for("row 1 of 200").await;
        assert!(
            !list.contains("email") && !list.contains("@example"),
            "{list}"
        );
        assert!(list.contains("••••"), "{list}");
        c.send(ENTER).await;
        let detail = c.wait_for("joined_at").await;
        assert!(!detail.contains("email"), "{detail}");

        // A member of the exempt group sees both.
        server.add_user("hanna", true).await;
        commands::group_add(&server.config, "hr", &[], "test", &mut Vec::new())
            .await
            .unwrap();
        let id = server.store.user_id("hanna").await.unwrap().unwrap();
        let gid = server.store.group_id("hr").await.unwrap().unwrap();
        server
            .store
            .add_memberships(id, &[gid], &Default::default())
            .await
            .unwrap();
        let conn = login(&server, "hanna").await;
        let mut c = Console::open(&conn, 200, 30, "xterm").await;
        c.wait_for("post_tags").await;
        c.send(ENTER).await;
        let list = c.wait_for("row 1 of 200").await;
        assert!(
            list.contains("email") && list.contains("@example"),
            "{list}"
        );
        server.stop().await;
    }
}

on_every_database! {
    async fn management_commands_refuse_unknown_names() {
        let server = TestServer::start().await;
        let cfg = &server.config;
        let err = |r: Result<(), commands::CommandError>| r.unwrap_err().to_string();
        let mut out = Vec::new();
        let codes = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(err(commands::set_model_perms(
            cfg,
            &Target::User("ghost".into()),
            &codes(&["view_posts"]),
            true,
            "t",
            &mut out
        )
        .await)
        .contains("no such user"));
        assert!(err(commands::set_model_perms(
            cfg,
            &Target::Group("ghosts".into()),
            &codes(&["view_posts"]),
            true,
            "t",
            &mut out
        )
        .await)
        .contains("no such group"));
        assert!(err(commands::set_model_perms(
            cfg,
            &Target::User("jane".into()),
            &codes(&["view_ghosts"]),
            true,
            "t",
            &mut out
        )
        .await)
        .contains("no model"));
        assert!(err(commands::set_model_perms(
            cfg,
            &Target::User("jane".into()),
            &codes(&["export_posts"]),
            true,
            "t",
            &mut out
        )
        .await)
        .contains("not view, add, change, delete"));
        let perm = |codename: &str, model: &str, pk: &str| ObjectPerm {
            target: Target::User("jane".into()),
            codename: codename.into(),
            model: model.into(),
            pk: pk.into(),
        };
        assert!(err(commands::set_object_perm(
            cfg,
            &perm("view_posts", "posts", "999999"),
            true,
            "t",
            &mut out
        )
        .await)
        .contains("no row"));
        assert!(err(commands::set_object_perm(
            cfg,
            &perm("view_posts", "posts", "abc"),
            true,
            "t",
            &mut out
        )
        .await)
        .contains("integer"));
        assert!(err(commands::set_object_perm(
            cfg,
            &perm("view_tags", "posts", "1"),
            true,
            "t",
            &mut out
        )
        .await)
        .contains("not a permission on posts"));
        // moat's own permissions are accepted.
        commands::set_model_perms(
            cfg,
            &Target::User("jane".into()),
            &codes(&["moat.view_audit"]),
            true,
            "t",
            &mut out,
        )
        .await
        .unwrap();
        let mut listing = Vec::new();
        commands::perm_list(cfg, "jane", &mut listing)
            .await
            .unwrap();
        assert!(String::from_utf8(listing)
            .unwrap()
            .contains("moat.view_audit"));
        server.stop().await;
    }
}

/// Type `text` and press Enter.
async fn type_line(c: &mut Console, text: &str) {
    c.send(text.as_bytes()).await;
    c.send(ENTER).await;
}

on_every_database! {
    async fn managers_manage_within_what_they_hold_and_escalation_is_refused() {
        let mut server = TestServer::start().await;
        server.add_user("mia", false).await;
        grant(
            &server,
            Target::User("mia".into()),
            &[
                "moat.manage_users",
                "moat.manage_groups",
                "moat.manage_permissions",
                "view_posts",
            ],
        )
        .await;
        commands::group_add(
            &server.config,
            "authors_admin",
            &["change_authors".into()],
            "t",
            &mut Vec::new(),
        )
        .await
        .unwrap();

        let conn = login(&server, "mia").await;
        let mut c = Console::open(&conn, 120, 30, "xterm").await;
        c.wait_for("posts").await;
        c.send(b":").await;
        type_line(&mut c, "users").await;
        let users = c.wait_for("jane").await;
        assert!(
            users.contains("superuser") && users.contains("admin"),
            "{users}"
        );

        // Create a user: the one-time password is shown once.
        c.send(b"n").await;
        type_line(&mut c, "neo").await;
        let shown = c.wait_for("one-time password:").await;
        assert!(shown.contains("User neo created"), "{shown}");
        c.send(b"x").await; // any key closes the box
        c.wait_for("neo").await;

        // Open neo (users are sorted: admin, jane, mia, neo).
        c.keys(&[b"G", ENTER]).await;
        c.wait_for("user neo").await;
        c.send(b"p").await;
        type_line(&mut c, "view_posts").await;
        c.wait_for("view_posts granted to neo").await;
        c.send(b"p").await;
        type_line(&mut c, "delete_posts").await;
        c.wait_for("you do not hold delete_posts yourself").await;
        c.send(b"g").await;
        type_line(&mut c, "authors_admin").await;
        c.wait_for("you do not hold change_authors yourself").await;

        // A superuser's account is out of reach.
        c.send(b"\x1b").await;
        c.wait_for("lockout").await;
        c.keys(&[b"g", b"x"]).await; // admin is first
        c.wait_for("Disable admin (#").await;
        c.send(b"y").await;
        c.wait_for("only a superuser may change a superuser").await;

        let g = server
            .store
            .grants(server.store.user_id("neo").await.unwrap().unwrap())
            .await
            .unwrap();
        assert!(g.model_perms.contains("view_posts") && !g.model_perms.contains("delete_posts"));
        assert!(g.groups.is_empty());
        let log = server.store.recent_audit(20).await.unwrap();
        assert!(log
            .iter()
            .any(|e| e.outcome == "denied" && e.actor.as_deref() == Some("mia")));
        assert!(log
            .iter()
            .any(|e| e.action == "user_add" && e.actor.as_deref() == Some("mia")));
        server.stop().await;
    }
}

on_every_database! {
    async fn management_screens_need_their_permission() {
        let server = TestServer::start().await;
        grant(&server, Target::User("jane".into()), &["view_posts"]).await;
        let conn = login(&server, "jane").await;
        let mut c = Console::open(&conn, 100, 24, "xterm").await;
        c.wait_for("posts").await;
        c.send(b":").await;
        type_line(&mut c, "users").await;
        let screen = c.wait_for("no moat.manage_users permission").await;
        assert!(
            !screen.contains("loading"),
            "the refused screen is not left open:\n{screen}"
        );
        c.send(b":").await;
        type_line(&mut c, "groups").await;
        c.wait_for("no moat.manage_groups permission").await;
        server.stop().await;
    }
}

on_every_database! {
    async fn a_row_permission_assigned_from_the_record_screen_takes_effect() {
        let server = TestServer::start().await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 120, 30, "xterm").await;
        c.wait_for("post_tags").await;
        c.keys(&[DOWN, DOWN, DOWN, ENTER]).await;
        c.wait_for("row 1 of 2,000").await;
        c.send(ENTER).await;
        c.wait_for("body").await;
        c.send(b"o").await;
        c.wait_for("posts #1 permissions").await;
        c.send(b"a").await;
        type_line(&mut c, "user jane view_posts").await;
        c.wait_for("view_posts on posts #1 assigned to jane").await;
        c.wait_for("jane").await;

        let jane = login(&server, "jane").await;
        let mut j = Console::open(&jane, 100, 24, "xterm").await;
        j.wait_for("posts").await;
        j.send(ENTER).await;
        j.wait_for("row 1 of 1").await;

        // Removing it from the same screen takes it away, even from a session already open.
        c.send(b"r").await;
        c.wait_for("[y/N]").await;
        c.send(b"y").await;
        c.wait_for("removed from jane").await;
        j.send(ENTER).await;
        j.wait_for("permission denied").await;
        server.stop().await;
    }
}

on_every_database! {
    async fn unlock_from_the_console() {
        let server = TestServer::start_with(|c| c.lockout.failure_limit = 2, None).await;
        for _ in 0..2 {
            let mut conn = connect(server.addr).await;
            ki_login(&mut conn, "jane", &["nope", "000000"]).await;
        }
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 120, 30, "xterm").await;
        c.wait_for("post_tags").await;
        c.send(b":").await;
        type_line(&mut c, "users").await;
        c.wait_for("locked").await;
        c.keys(&[DOWN, b"u"]).await; // admin, jane
        c.wait_for("Clear the failed-login counts and lockouts of jane (#")
            .await;
        c.send(b"y").await;
        c.wait_for("failure counters of jane cleared").await;
        let _jane = login(&server, "jane").await;
        server.stop().await;
    }
}

on_every_database! {
    async fn deleting_a_row_asks_first_and_takes_its_object_permissions_with_it() {
        let server = TestServer::start().await;
        assign(
            &server,
            Target::User("jane".into()),
            "view_posts",
            "posts",
            "5",
        )
        .await;
        let conn = login(&server, "admin").await;
        let mut c = Console::open(&conn, 160, 30, "xterm").await;
        c.wait_for("post_tags").await;
        c.keys(&[DOWN, DOWN, DOWN, ENTER]).await;
        c.wait_for("row 1 of 2,000").await;
        for _ in 0..4 {
            c.send(DOWN).await;
        }
        c.wait_for("row 5 of 2,000").await;
        c.send(b"d").await;
        let ask = c.wait_for("Delete posts #5 \"").await;
        assert!(ask.contains("deleted with it"), "comments cascade: {ask}");
        c.send(b"n").await;
        c.wait_for("cancelled").await;
        c.send(b"d").await;
        c.wait_for("Delete posts #5 \"").await;
        c.send(b"y").await;
        let list = c.wait_for("deleted posts #5").await;
        assert!(
            list.contains("\n  4 ") && list.contains("\n▶ 6 "),
            "reloaded in place:\n{list}"
        );
        c.send(DOWN).await;
        c.wait_for("row 6 of 1,999").await;

        let grants: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM moat_user_object_perms WHERE model = 'posts'")
                .fetch_one(server.store.pool())
                .await
                .unwrap();
        assert_eq!(grants, 0, "no stale grant for a reused key");
        let row = sqlx::query(
            "SELECT before_json FROM moat_audit_log WHERE action = 'delete' ORDER BY id DESC LIMIT 1",
        )
        .fetch_one(server.store.pool())
        .await
        .unwrap();
        let before = moat::store::sql::text(&row, "before_json").unwrap().unwrap();
        assert!(
            before.contains("\"id\":5") && before.contains("\"title\""),
            "{before}"
        );

        // A row others refer to without cascade: refused in plain words, nothing changes.
        c.keys(&[b"\x1b"]).await;
        c.wait_for("Columns").await;
        c.send(b"g").await;
        c.send(ENTER).await; // authors
        c.wait_for("row 1 of 200").await;
        c.send(b"d").await;
        // Nothing to confirm: the box says why, and `y` only closes it.
        let why = c.wait_for("cannot be deleted").await;
        assert!(why.contains("authors #1") && why.contains("rows of posts"), "{why}");
        assert!(!why.contains("[y/N]"), "{why}");
        c.send(b"y").await;
        c.wait_until("box closed", |s| !s.contains("cannot be deleted")).await;
        let authors: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM authors")
            .fetch_one(server.store.pool())
            .await
            .unwrap();
        assert_eq!(authors, 200);
        server.stop().await;
    }
}

on_every_database! {
    async fn deleting_needs_the_delete_permission_on_the_row() {
        let server = TestServer::start().await;
        grant(&server, Target::User("jane".into()), &["view_comments"]).await;
        assign(
            &server,
            Target::User("jane".into()),
            "delete_comments",
            "comments",
            "7",
        )
        .await;
        let jane = session_actor(&server, "jane").await;
        let cmd = |pk| Cmd::Delete {
            model: "comments".into(),
            key: vec![Value::Integer(pk)],
        };
        assert!(denied(server.sessions.execute(&jane, cmd(8)).await));
        assert!(matches!(
            server.sessions.execute(&jane, cmd(7)).await,
            Some(Msg::Deleted { .. })
        ));
        let log = server.store.recent_audit(5).await.unwrap();
        assert!(log
            .iter()
            .any(|e| e.outcome == "denied"
                && e.reason.as_deref() == Some("no delete_comments permission")));
        server.stop().await;
    }
}

on_every_database! {
    async fn joining_a_group_cannot_give_what_the_manager_lacks() {
        let mut server = TestServer::start_with(
            |c| {
                c.models.insert(
                    "authors".into(),
                    moat::config::ModelConfig {
                        hidden: vec!["email".into()],
                        masked: vec!["bio".into()],
                        exempt_groups: vec!["hr".into(), "payroll".into()],
                        ..Default::default()
                    },
                );
            },
            None,
        )
        .await;
        server.add_user("mia", false).await;
        grant(
            &server,
            Target::User("mia".into()),
            &["view_authors", "view_posts", "moat.manage_groups", "moat.manage_permissions"],
        )
        .await;
        // hr is exempt from the authors column rules; reviewers may change post 42.
        for g in ["hr", "reviewers"] {
            commands::group_add(&server.config, g, &[], "t", &mut Vec::new())
                .await
                .unwrap();
        }
        for codename in ["change_posts", "delete_posts"] {
            assign(&server, Target::Group("reviewers".into()), codename, "posts", "42").await;
        }

        let conn = login(&server, "mia").await;
        let mut c = Console::open(&conn, 120, 30, "xterm").await;
        c.wait_for("posts").await;
        c.send(b":").await;
        type_line(&mut c, "groups").await;
        c.wait_for("reviewers").await;
        // hr (first): joining would show authors.email and bio in clear.
        c.keys(&[b"g", ENTER]).await;
        c.wait_for("group hr").await;
        c.send(b"m").await;
        type_line(&mut c, "mia").await;
        c.wait_for("you are not exempt from the column rules of authors yourself")
            .await;
        // reviewers: joining would give change/delete on post 42.
        c.send(b"\x1b").await;
        c.wait_for("reviewers").await;
        c.keys(&[b"G", ENTER]).await;
        c.wait_for("group reviewers").await;
        c.send(b"m").await;
        type_line(&mut c, "mia").await;
        c.wait_for("you do not hold change_posts on posts #42 yourself")
            .await;
        // payroll does not exist yet, but the column rules name it: creating it is
        // conferring the exemption too.
        c.send(b"\x1b").await;
        c.wait_until("the groups list", |s| s.contains("hr") && !s.contains("group reviewers"))
            .await;
        c.send(b"n").await;
        type_line(&mut c, "payroll").await;
        c.wait_for("you are not exempt from the column rules of authors yourself")
            .await;

        let mia = server.store.user_id("mia").await.unwrap().unwrap();
        let g = server.store.grants(mia).await.unwrap();
        assert!(g.groups.is_empty(), "{:?}", g.groups);
        assert!(server.store.group_id("payroll").await.unwrap().is_none());
        let denials = server
            .store
            .recent_audit(30)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.actor.as_deref() == Some("mia") && e.outcome == "denied")
            .count();
        assert!(denials >= 3, "{denials} audited denials");

        // Nor through someone already exempt: hanna is in hr (put there by a superuser)
        // but holds nothing on authors; giving her view_authors, directly or through a
        // group that holds it, would show her the email and bio mia cannot see.
        server.add_user("hanna", false).await;
        let hanna = server.store.user_id("hanna").await.unwrap().unwrap();
        let hr = server.store.group_id("hr").await.unwrap().unwrap();
        server
            .store
            .add_memberships(hanna, &[hr], &Default::default())
            .await
            .unwrap();
        commands::group_add(&server.config, "readers", &["view_authors".into()], "t", &mut Vec::new())
            .await
            .unwrap();
        let mia_actor = session_actor(&server, "mia").await;
        use moat::tui::protocol::{ManageCmd, Who};
        for cmd in [
            ManageCmd::ModelPerm {
                to: Who::User("hanna".into()),
                codename: "view_authors".into(),
                grant: true,
            },
            ManageCmd::Membership {
                user: "hanna".into(),
                group: "readers".into(),
                member: true,
            },
        ] {
            let msg = server.sessions.execute(&mia_actor, Cmd::Manage(cmd.clone())).await;
            assert!(
                matches!(&msg, Some(Msg::Failed(t)) if t.contains("not exempt from the column rules of authors")),
                "{cmd:?}: {msg:?}"
            );
        }
        // Someone not exempt may be given it: they see what mia sees.
        let msg = server
            .sessions
            .execute(
                &mia_actor,
                Cmd::Manage(ManageCmd::ModelPerm {
                    to: Who::User("jane".into()),
                    codename: "view_authors".into(),
                    grant: true,
                }),
            )
            .await;
        assert!(!denied(msg.clone()), "{msg:?}");

        // A superuser may.
        let admin = {
            let id = server.store.user_id("admin").await.unwrap().unwrap();
            let who = moat::auth::Identity {
                user_id: id,
                username: "admin".into(),
                is_superuser: true,
                backup_codes_left: None,
                onboarding: moat::auth::Onboarding::Done,
                key: None,
            };
            server.sessions.actor(&who, "127.0.0.1")
        };
        for group in ["hr", "reviewers"] {
            let msg = server
                .sessions
                .execute(
                    &admin,
                    Cmd::Manage(moat::tui::protocol::ManageCmd::Membership {
                        user: "mia".into(),
                        group: group.into(),
                        member: true,
                    }),
                )
                .await;
            assert!(!denied(msg.clone()), "{msg:?}");
        }
        let g = server.store.grants(mia).await.unwrap();
        assert_eq!(g.groups.len(), 2);
        server.stop().await;
    }
}

on_every_database! {
    async fn a_delete_shows_no_counts_the_user_may_not_see_and_refuses_a_cascade_they_may_not_do() {
        let server = TestServer::start().await;
        // jane may view and delete posts, and view post_tags, but nothing of comments.
        grant(
            &server,
            Target::User("jane".into()),
            &["view_posts", "delete_posts", "view_post_tags", "delete_post_tags"],
        )
        .await;
        let jane = session_actor(&server, "jane").await;
        let post = server
            .store
            .pool();
        let (pk,): (i64,) = sqlx::query_as(
            "SELECT p.id FROM posts p WHERE EXISTS (SELECT 1 FROM comments c WHERE c.post_id = p.id) \
             AND EXISTS (SELECT 1 FROM post_tags t WHERE t.post_id = p.id) ORDER BY p.id LIMIT 1",
        )
        .fetch_one(post)
        .await
        .unwrap();
        let ask = Cmd::AskDelete {
            model: "posts".into(),
            key: vec![Value::Integer(pk)],
        };
        // Comments would go with the post, and jane may not delete comments: refused,
        // naming them, before any question is asked.
        let refused = server.sessions.execute(&jane, ask.clone()).await;
        let Some(Msg::Failed(text)) = refused else {
            panic!("expected a refusal, got {refused:?}")
        };
        assert!(text.contains("would also delete rows of comments"), "{text}");
        let delete = Cmd::Delete {
            model: "posts".into(),
            key: vec![Value::Integer(pk)],
        };
        assert!(denied(server.sessions.execute(&jane, delete.clone()).await));
        let kept: i64 = sqlx::query_scalar(&server.store.dialect().sql("SELECT COUNT(*) FROM posts WHERE id = ?"))
            .bind(pk)
            .fetch_one(server.store.pool())
            .await
            .unwrap();
        assert_eq!(kept, 1, "the cascade ran with the database's rights");

        // With delete_comments (but still no view on comments) the question comes, and it
        // names comments without saying how many there are.
        grant(&server, Target::User("jane".into()), &["delete_comments"]).await;
        let Some(Msg::DeleteAsk { references, .. }) = server.sessions.execute(&jane, ask).await
        else {
            panic!("no delete question");
        };
        let comments = references.iter().find(|r| r.table == "comments").unwrap();
        assert_eq!(comments.count, None, "a count of rows jane cannot view");
        let tags = references.iter().find(|r| r.table == "post_tags").unwrap();
        assert!(tags.count.is_some(), "post_tags jane may view: counted");
        assert!(matches!(
            server.sessions.execute(&jane, delete).await,
            Some(Msg::Deleted { .. })
        ));
        server.stop().await;
    }
}
