//! The command line's parity with the console (issue 17): `user list`, `user delete`,
//! `group delete|rename`, `perm list --group` and `--model M --key K`, and `audit export`
//! with `--until`, `--action`, `--outcome` and `--format csv`, through the binary.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use moat::commands;
use moat::store::Store;

use crate::cli::{free_port, migrate, moat, write_config};
use crate::common::*;

/// (success, stdout, stderr) of `moat --config moat.toml ARGS` in `dir`.
fn run(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = moat(dir).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let (ok, stdout, stderr) = run(dir, args);
    assert!(ok, "{args:?}: {stderr}");
    stdout
}

/// `moat user add NAME --password-stdin [more]`: enrolled at once.
fn add_enrolled(dir: &Path, name: &str, more: &[&str]) {
    let mut child = moat(dir)
        .args(["user", "add", name, "--password-stdin"])
        .args(more)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"a long enough password\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn sql(dir: &Path, statements: &[&str]) {
    let url = format!("sqlite://{}", dir.join("moat.db").display());
    let store = Store::connect(&url).await.unwrap();
    for s in statements {
        sqlx::query(s).execute(store.pool()).await.unwrap();
    }
    store.close().await;
}

/// A migrated database with a `posts` table of two rows, superuser `root` (one-time
/// password), group `editors` (view_posts) with enrolled member `jane`, and `bob`.
async fn setup(dir: &Path) {
    write_config(dir, free_port());
    migrate(dir);
    sql(
        dir,
        &[
            "CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT NOT NULL)",
            "INSERT INTO posts (id, title) VALUES (1, 'one'), (2, 'two')",
        ],
    )
    .await;
    ok(dir, &["user", "add", "root", "--superuser"]);
    ok(dir, &["group", "add", "editors", "--perm", "view_posts"]);
    add_enrolled(dir, "jane", &["--group", "editors"]);
    add_enrolled(dir, "bob", &[]);
}

fn line_of<'a>(text: &'a str, start: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting {start:?} in\n{text}"))
}

#[tokio::test]
async fn user_list_shows_2fa_last_login_one_time_passwords_and_groups() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d).await;
    sql(
        d,
        &[
            "INSERT INTO moat_login_sources (username, ip, last_success_at) \
           VALUES ('jane', '10.0.0.7\x1b[2J', 86400)",
        ],
    )
    .await;
    let list = ok(d, &["user", "list"]);
    let root = line_of(&list, "root ");
    assert!(root.contains("pending until 20"), "{root}");
    assert!(root.contains("never"), "{root}");
    assert!(root.contains(" yes "), "a superuser: {root}");
    let jane = line_of(&list, "jane ");
    assert!(
        jane.contains("1970-01-02 00:00:00 UTC from 10.0.0.7"),
        "{jane}"
    );
    assert!(jane.ends_with("editors"), "{jane}");
    assert!(
        jane.contains("enrolled") || jane.contains("unconfirmed"),
        "{jane}"
    );
    assert!(
        !list.contains('\x1b'),
        "database text is sanitized: {list:?}"
    );
    assert!(list.contains("\\x1b[2J"), "{list}");

    sql(
        d,
        &["UPDATE moat_users SET password_expires_at = 5 WHERE username = 'root'"],
    )
    .await;
    let list = ok(d, &["user", "list"]);
    assert!(
        line_of(&list, "root ").contains("expired 1970-01-01 00:00:05 UTC"),
        "{list}"
    );
}

#[tokio::test]
async fn user_delete_wants_yes_spares_the_last_superuser_and_removes_everything_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d).await;
    ok(
        d,
        &[
            "perm",
            "assign",
            "--user",
            "jane",
            "change_posts",
            "posts",
            "1",
        ],
    );

    let (done, _, stderr) = run(d, &["user", "delete", "root", "--yes"]);
    assert!(
        !done && stderr.contains("last active superuser"),
        "{stderr}"
    );

    let (done, _, stderr) = run(d, &["user", "delete", "jane"]);
    assert!(!done, "no --yes, no deletion");
    assert!(
        stderr.contains("--yes") && stderr.contains("editors"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was changed"), "{stderr}");
    assert!(ok(d, &["user", "list"]).contains("jane "));

    let out = ok(d, &["user", "delete", "jane", "--yes"]);
    assert!(out.contains("user jane deleted"), "{out}");
    assert!(!ok(d, &["user", "list"]).contains("jane "));
    let groups = ok(d, &["group", "list"]);
    assert!(groups.contains("members:     -"), "{groups}");
    let row = ok(d, &["perm", "list", "--model", "posts", "--key", "1"]);
    assert!(!row.contains("jane"), "{row}");
    let (done, _, stderr) = run(d, &["user", "delete", "jane", "--yes"]);
    assert!(!done && stderr.contains("no such user"), "{stderr}");

    // Audited, with what was held.
    let csv = ok(
        d,
        &[
            "audit",
            "export",
            "--format",
            "csv",
            "--action",
            "user_delete",
        ],
    );
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(
        lines[1].contains("\"cli:") && lines[1].contains("\"jane\""),
        "{csv}"
    );
    assert!(
        lines[1].contains("editors") && lines[1].contains("change_posts"),
        "{csv}"
    );

    // Another superuser makes root deletable.
    ok(d, &["user", "add", "root2", "--superuser"]);
    ok(d, &["user", "delete", "root", "--yes"]);
    ok(d, &["audit", "verify"]);
}

on_every_database! {
    async fn deleting_a_user_ends_their_open_session() {
        let server = TestServer::start().await;
        let conn = login(&server, "jane").await;
        let mut c = Console::open(&conn, 100, 30, "xterm").await;
        c.wait_for("moat › models").await;
        let mut out = Vec::new();
        commands::user_delete(&server.config, "jane", true, "ops", &mut out)
            .await
            .unwrap();
        c.wait_closed().await;
        assert!(c.screen().contains("session ended"), "{}", c.screen());
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("1 open sessions ended"), "{text}");
        assert_eq!(server.store.user_id("jane").await.unwrap(), None);
        server.stop().await;
    }
}

#[tokio::test]
async fn groups_are_renamed_keeping_grants_deleted_with_yes_and_config_names_are_guarded() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d).await;
    ok(
        d,
        &[
            "perm",
            "assign",
            "--group",
            "editors",
            "change_posts",
            "posts",
            "2",
        ],
    );
    ok(d, &["group", "add", "taken"]);

    let (done, _, stderr) = run(d, &["group", "rename", "editors", "taken"]);
    assert!(!done && stderr.contains("exists already"), "{stderr}");
    let out = ok(d, &["group", "rename", "editors", "writers"]);
    assert!(out.contains("renamed to writers"), "{out}");
    let g = ok(d, &["perm", "list", "--group", "writers"]);
    assert!(g.contains("members: jane"), "{g}");
    assert!(g.contains("view_posts"), "{g}");
    assert!(
        g.lines()
            .any(|l| l.contains("change_posts") && l.contains("posts 2")),
        "{g}"
    );
    let user = ok(d, &["perm", "list", "--user", "jane"]);
    assert!(user.contains("groups: writers"), "{user}");

    // A group the configuration names is neither renamed nor deleted.
    let toml = std::fs::read_to_string(d.join("moat.toml")).unwrap();
    std::fs::write(
        d.join("moat.toml"),
        format!("{toml}[models.posts]\nexempt_groups = [\"taken\"]\n"),
    )
    .unwrap();
    let (done, _, stderr) = run(d, &["group", "rename", "writers", "taken"]);
    assert!(
        !done && stderr.contains("models.posts.exempt_groups"),
        "{stderr}"
    );
    let (done, _, stderr) = run(d, &["group", "delete", "taken", "--yes"]);
    assert!(
        !done && stderr.contains("models.posts.exempt_groups"),
        "{stderr}"
    );
    std::fs::write(d.join("moat.toml"), toml).unwrap();

    let (done, _, stderr) = run(d, &["group", "delete", "writers"]);
    assert!(!done && stderr.contains("--yes"), "{stderr}");
    assert!(
        stderr.contains("1 members (jane), 1 model and 1 object"),
        "{stderr}"
    );
    ok(d, &["group", "delete", "writers", "--yes"]);
    let user = ok(d, &["perm", "list", "--user", "jane"]);
    assert!(
        user.contains("groups: -") && !user.contains("view_posts"),
        "{user}"
    );
    let audit = ok(d, &["audit", "export", "--action", "group_delete"]);
    let entry: serde_json::Value = serde_json::from_str(audit.trim()).unwrap();
    assert_eq!(entry["before"]["members"], serde_json::json!(["jane"]));
    assert_eq!(entry["pk"], "writers");
    let renamed = ok(d, &["audit", "export", "--action", "group_rename"]);
    assert!(
        renamed.contains("\"after\":{\"name\":\"writers\"}"),
        "{renamed}"
    );
}

#[tokio::test]
async fn perm_list_for_a_row_says_who_and_through_what() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d).await;
    ok(
        d,
        &[
            "perm",
            "assign",
            "--user",
            "bob",
            "change_posts",
            "posts",
            "1",
        ],
    );
    ok(d, &["group", "add", "moderators"]);
    ok(
        d,
        &[
            "perm",
            "assign",
            "--group",
            "moderators",
            "delete_posts",
            "posts",
            "1",
        ],
    );
    add_enrolled(d, "mia", &["--group", "moderators"]);
    ok(d, &["user", "grant", "mia", "view_posts"]);
    ok(d, &["user", "disable", "mia"]);

    let row = ok(d, &["perm", "list", "--model", "posts", "--key", "1"]);
    let has = |user: &str, codename: &str, via: &str| {
        row.lines()
            .any(|l| l.trim_start().starts_with(user) && l.contains(codename) && l.contains(via))
    };
    assert!(has("root", "every permission", "via superuser"), "{row}");
    assert!(
        has(
            "jane",
            "view_posts",
            "via model permission via group editors"
        ),
        "{row}"
    );
    assert!(
        has("bob", "change_posts", "via object permission (direct)"),
        "{row}"
    );
    assert!(
        has(
            "mia",
            "delete_posts",
            "via object permission via group moderators"
        ),
        "{row}"
    );
    assert!(
        has("mia", "view_posts", "via model permission (direct)"),
        "{row}"
    );
    assert!(row.contains("(user disabled)"), "{row}");

    let other = ok(d, &["perm", "list", "--model", "posts", "--key", "2"]);
    assert!(
        !other.contains("bob") && !other.contains("delete_posts"),
        "{other}"
    );
    let (done, _, stderr) = run(d, &["perm", "list", "--model", "posts", "--key", "99"]);
    assert!(!done && stderr.contains("no row with key 99"), "{stderr}");
    let (done, _, stderr) = run(d, &["perm", "list", "--model", "posts"]);
    assert!(!done && stderr.contains("--key"), "{stderr}");
    let (done, _, stderr) = run(d, &["perm", "list", "--user", "bob", "--group", "editors"]);
    assert!(!done && stderr.contains("cannot be used with"), "{stderr}");
    let (done, _, stderr) = run(d, &["perm", "list"]);
    assert!(
        !done && stderr.contains("<--user <USER>|--group <GROUP>|--model <MODEL>>"),
        "the usage names every way to ask: {stderr}"
    );
}

#[tokio::test]
async fn audit_export_filters_by_until_action_and_outcome_and_writes_csv() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d).await;
    let all = ok(d, &["audit", "export", "--format", "csv"]);
    let mut lines = all.split("\r\n");
    assert_eq!(lines.next(), Some(moat::commands::AUDIT_CSV_HEADER));
    let rows: Vec<&str> = lines.filter(|l| !l.is_empty()).collect();
    assert!(rows.len() >= 4, "{all}");
    assert!(rows.iter().any(|r| r.contains("\"group_add\"")), "{all}");

    let adds = ok(
        d,
        &["audit", "export", "--format", "csv", "--action", "user_add"],
    );
    let n = adds.lines().skip(1).count();
    assert_eq!(n, 3, "root, jane and bob: {adds}");
    assert!(
        adds.lines().skip(1).all(|l| l.contains(",\"user_add\",")),
        "{adds}"
    );

    let none = ok(d, &["audit", "export", "--outcome", "failure"]);
    assert!(none.is_empty(), "{none}");
    let ok_rows = ok(
        d,
        &[
            "audit",
            "export",
            "--outcome",
            "success",
            "--action",
            "group_add",
        ],
    );
    assert_eq!(ok_rows.lines().count(), 1, "{ok_rows}");

    let before = ok(
        d,
        &[
            "audit",
            "export",
            "--format",
            "csv",
            "--until",
            "2000-01-01",
        ],
    );
    assert_eq!(before.lines().count(), 1, "the header only: {before}");
    let until = ok(
        d,
        &[
            "audit",
            "export",
            "--until",
            "2999-01-01",
            "--since",
            "2000-01-01",
        ],
    );
    assert_eq!(until.lines().count(), rows.len(), "{until}");
    let (done, _, stderr) = run(d, &["audit", "export", "--until", "soon"]);
    assert!(!done && stderr.contains("--until"), "{stderr}");
}
