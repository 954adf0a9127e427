//! Screens as a person sees them at 80×24: the app is driven with messages (as the session
//! would) and drawn to ratatui's TestBackend; insta keeps the expected text. And every
//! screen and popup drawn at every size from 1×1 up: drawing never panics.

use moat::domain::{
    Capabilities, ColumnInfo, ListQuery, ListRow, Page, PageAnchor, Record, RowCount, Value,
};
use moat::tui::input::{Input, Key, KeyEvent};
use moat::tui::protocol::ModelSummary;
use moat::tui::{App, Cmd, Msg};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

fn key(c: char) -> Msg {
    Msg::Input(Input::Key(KeyEvent::plain(Key::Char(c))))
}

fn enter() -> Msg {
    Msg::Input(Input::Key(KeyEvent::plain(Key::Enter)))
}

fn render(app: &mut App) -> String {
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal.draw(|f| app.draw(f)).unwrap();
    terminal.backend().to_string()
}

fn index_app() -> App {
    let (mut app, cmds) = App::new("admin", 100, (80, 24));
    assert_eq!(cmds, vec![Cmd::LoadModels]);
    let models = [
        ("authors", 6),
        ("comments", 6),
        ("post_tags", 2),
        ("posts", 10),
        ("tags", 3),
    ];
    app.update(Msg::Models(
        models
            .iter()
            .map(|(n, c)| ModelSummary {
                name: n.to_string(),
                label: n.to_string(),
                columns: *c,
                ordering: None,
                page_size: None,
                bulk_actions: vec![],
                caps: Capabilities::ALL,
            })
            .collect(),
    ));
    for (model, n) in [
        ("authors", 200),
        ("comments", 6000),
        ("post_tags", 2000),
        ("posts", 2000),
        ("tags", 40),
    ] {
        app.update(Msg::Counted {
            model: model.into(),
            query: ListQuery::default(),
            count: RowCount::Exact(n),
        });
    }
    app
}

fn posts_page() -> Page {
    let rows = (1..=30)
        .map(|i| ListRow {
            key: vec![Value::Integer(i)],
            cursor: vec![Value::Integer(i)],
            values: vec![
                Value::Integer(i),
                Value::Text(format!("Post number {i}: notes from the on-call rotation")),
                Value::Text(if i % 3 == 0 { "draft" } else { "published" }.into()),
                if i % 3 == 0 {
                    Value::Null
                } else {
                    Value::Text(format!("2024-03-{:02} 10:00:00", i % 28 + 1))
                },
                Value::Real(f64::from(i as i32) / 2.0),
            ],
        })
        .collect();
    Page {
        columns: ["id", "title", "status", "published_at", "rating"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        rows,
        has_before: false,
        has_after: true,
        search_path: Default::default(),
    }
}

/// Index → Enter on `posts` → first page arrives.
fn list_app() -> App {
    let mut app = index_app();
    for _ in 0..3 {
        app.update(key('j'));
    }
    let cmds = app.update(enter());
    assert!(cmds.contains(&Cmd::LoadPage {
        model: "posts".into(),
        anchor: PageAnchor::First,
        limit: 100,
        query: ListQuery::default(),
    }));
    app.update(Msg::Page {
        links: Vec::new(),
        model: "posts".into(),
        anchor: PageAnchor::First,
        page: Box::new(posts_page()),
        caps: Capabilities::ALL,
        row_caps: None,
        key_columns: vec!["id".into()],
        kinds: vec![],
    });
    app.update(Msg::Counted {
        model: "posts".into(),
        query: ListQuery::default(),
        count: RowCount::Exact(2000),
    });
    app
}

#[test]
fn index() {
    insta::assert_snapshot!(render(&mut index_app()));
}

#[test]
fn list() {
    let mut app = list_app();
    app.update(key('j'));
    app.update(key('j'));
    insta::assert_snapshot!(render(&mut app));
}

#[test]
fn detail() {
    let mut app = list_app();
    app.update(key('j'));
    app.update(key('j'));
    let cmds = app.update(enter());
    assert_eq!(
        cmds,
        vec![Cmd::LoadRecord {
            model: "posts".into(),
            key: vec![Value::Integer(3)]
        }]
    );
    let col = |name: &str, ty: &str| ColumnInfo {
        check_values: Vec::new(),
        name: name.into(),
        decl_type: ty.into(),
        not_null: false,
        default: None,
        pk_ordinal: 0,
        pg_type: None,
    };
    app.update(Msg::Record {
        links: vec![],
        model: "posts".into(),
        record: Record {
            key: vec![Value::Integer(3)],
            fields: vec![
                (col("id", "INTEGER"), Value::Integer(3)),
                (
                    col("title", "TEXT"),
                    Value::Text("Post number 3\u{202e}gnp.exe".into()),
                ),
                (
                    col("body", "TEXT"),
                    Value::Text(
                        "The failover drill went fine until the second region came back and both \
                         primaries accepted writes for ninety seconds.\n\nWe now fence the old \
                         primary before promoting: \x1b[31mno exceptions\x1b[0m."
                            .into(),
                    ),
                ),
                (col("status", "TEXT"), Value::Text("draft".into())),
                (col("published_at", "TIMESTAMP"), Value::Null),
                (col("rating", "REAL"), Value::Real(1.5)),
                (
                    ColumnInfo {
                        check_values: Vec::new(),
                        pg_type: Some(moat::domain::PgType {
                            schema: "pg_catalog".into(),
                            name: "jsonb".into(),
                            labels: vec![],
                        }),
                        ..col("meta", "jsonb")
                    },
                    Value::Text("{\"tags\": [\"ops\", \"db\"], \"v\": 2}".into()),
                ),
                (
                    col("cover", "BLOB"),
                    Value::Blob(vec![0x89, 0x50, 0x4e, 0x47]),
                ),
            ],
        },
        caps: Capabilities::ALL,
        related: vec![],
    });
    insta::assert_snapshot!(render(&mut app));
}

#[test]
fn help() {
    let mut app = list_app();
    app.update(key('?'));
    insta::assert_snapshot!(render(&mut app));
    app.update(key('x'));
    assert!(!render(&mut app).contains("any key closes"));
}

#[test]
fn paging_past_the_page_asks_for_the_next_one() {
    let mut app = list_app();
    for _ in 0..29 {
        assert!(app.update(key('j')).is_empty());
    }
    let cmds = app.update(key('j'));
    assert_eq!(
        cmds,
        vec![Cmd::LoadPage {
            model: "posts".into(),
            anchor: PageAnchor::After(vec![Value::Integer(30)]),
            limit: 100,
            query: ListQuery::default(),
        }]
    );
    // G jumps to the last page when there are rows after this one.
    let mut app = list_app();
    assert_eq!(
        app.update(key('G')),
        vec![Cmd::LoadPage {
            model: "posts".into(),
            anchor: PageAnchor::Last,
            limit: 100,
            query: ListQuery::default(),
        }]
    );
}

#[test]
fn q_goes_back_then_quits_at_the_index() {
    let mut app = list_app();
    assert!(app.update(key('q')).is_empty());
    assert!(!app.quit);
    assert_eq!(app.update(key('q')), vec![Cmd::Quit]);
    assert!(app.quit);
}

#[test]
fn a_deleted_row_reloads_its_page_in_place() {
    let mut app = list_app();
    for _ in 0..4 {
        app.update(key('j'));
    }
    let cmds = app.update(Msg::Deleted {
        model: "posts".into(),
        key: vec![Value::Integer(5)],
    });
    // The first page is read from the top (rows added above it would show).
    let anchor = PageAnchor::First;
    assert_eq!(
        cmds[0],
        Cmd::LoadPage {
            model: "posts".into(),
            anchor: anchor.clone(),
            limit: 100,
            query: ListQuery::default(),
        }
    );
    let mut page = posts_page();
    page.rows.remove(4);
    app.update(Msg::Page {
        links: Vec::new(),
        model: "posts".into(),
        anchor,
        page: Box::new(page),
        caps: Capabilities::ALL,
        row_caps: None,
        key_columns: vec!["id".into()],
        kinds: vec![],
    });
    app.update(key('x')); // clears the notice
    let screen = render(&mut app);
    assert!(screen.contains("\"▶ 6 "), "{screen}");
    assert!(screen.contains("\"  4 "), "{screen}");
    assert!(screen.contains("row 5 of 2,000"), "{screen}");
}

fn col(name: &str, ty: &str, not_null: bool, pk: u32) -> ColumnInfo {
    ColumnInfo {
        check_values: Vec::new(),
        name: name.into(),
        decl_type: ty.into(),
        not_null,
        default: None,
        pk_ordinal: pk,
        pg_type: None,
    }
}

fn form_app() -> App {
    let mut app = list_app();
    app.update(Msg::Form {
        model: "posts".into(),
        key: Some(vec![Value::Integer(1)]),
        fields: vec![
            (col("id", "INTEGER", true, 1), Value::Integer(1), true),
            (
                col("title", "TEXT", true, 0),
                Value::Text("Post number 1".into()),
                false,
            ),
            (
                col("status", "TEXT", true, 0),
                Value::Text("published".into()),
                false,
            ),
            (
                col("published_at", "TIMESTAMP", false, 0),
                Value::Null,
                false,
            ),
            (
                col("view_count", "INTEGER", true, 0),
                Value::Integer(12),
                false,
            ),
            (
                col("is_featured", "BOOLEAN", true, 0),
                Value::Integer(0),
                false,
            ),
        ],
        links: vec![],
    });
    app
}

#[test]
fn form() {
    let mut app = form_app();
    // Move to view_count and type something that is not a number, then try to save.
    for _ in 0..3 {
        app.update(Msg::Input(Input::Key(KeyEvent::plain(Key::Tab))));
    }
    app.update(key('x'));
    app.update(Msg::Input(Input::Key(KeyEvent::ctrl('s'))));
    insta::assert_snapshot!(render(&mut app));
}

#[test]
fn conflict() {
    let mut app = form_app();
    app.update(Msg::Conflict {
        model: "posts".into(),
        key: vec![Value::Integer(1)],
        fields: vec![
            (
                "title".into(),
                Value::Text("Post number 1".into()),
                Value::Text("My title".into()),
                Value::Text("Their title".into()),
            ),
            (
                "status".into(),
                Value::Text("published".into()),
                Value::Text("published".into()),
                Value::Text("published".into()),
            ),
            ("published_at".into(), Value::Null, Value::Null, Value::Null),
        ],
    });
    insta::assert_snapshot!(render(&mut app));
}

#[test]
fn delete_confirmation() {
    let mut app = list_app();
    let cmds = app.update(key('d'));
    assert_eq!(
        cmds,
        vec![Cmd::AskDelete {
            model: "posts".into(),
            key: vec![Value::Integer(1)]
        }]
    );
    app.update(Msg::DeleteAsk {
        model: "posts".into(),
        keys: vec![vec![Value::Integer(1)]],
        labels: vec![Some(
            "Post number 1: notes from the on-call rotation".into(),
        )],
        references: vec![moat::domain::Reference {
            table: "comments".into(),
            count: Some(RowCount::Exact(3)),
            on_delete: "CASCADE".into(),
        }],
    });
    insta::assert_snapshot!(render(&mut app));
    assert_eq!(
        app.update(key('y')),
        vec![Cmd::Delete {
            model: "posts".into(),
            key: vec![Value::Integer(1)]
        }]
    );
}

#[test]
fn enrolment_screen_at_80x24() {
    use moat::tui::protocol::Setup;
    let (mut app, cmds) = App::for_setup("olive", 100, (80, 24), Setup::Enrol);
    assert_eq!(cmds, vec![Cmd::BeginEnrolment]);
    app.update(Msg::Enrolment {
        uri: "otpauth://totp/moat:olive?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=moat".into(),
        secret: "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ".into(),
    });
    for c in "12345".chars() {
        app.update(key(c));
    }
    // Nothing but digits is typed into the code, and nothing else opens.
    app.update(key(':'));
    app.update(key('q'));
    assert!(!app.quit);
    insta::assert_snapshot!(render(&mut app));
    app.update(key('6'));
    let sent = app.update(enter());
    assert!(matches!(&sent[..], [Cmd::ConfirmEnrolment { code }] if code.0 == "123456"));
    app.update(Msg::AccountRefused(
        "that code does not match: check the app's clock and type the code it shows now".into(),
    ));
    assert!(render(&mut app).contains("that code does not match"));
}

#[test]
fn forced_password_form_masks_and_explains() {
    use moat::tui::protocol::Setup;
    let (mut app, cmds) = App::for_setup("olive", 100, (80, 24), Setup::ChangePassword);
    assert!(cmds.is_empty());
    for c in "secret one".chars() {
        app.update(key(c));
    }
    app.update(Msg::Input(Input::Key(KeyEvent::plain(Key::Tab))));
    for c in "secret".chars() {
        app.update(key(c));
    }
    let screen = render(&mut app);
    assert!(!screen.contains("secret one"), "{screen}");
    insta::assert_snapshot!(screen);
    let sent = app.update(enter());
    match &sent[..] {
        [Cmd::ChangePassword {
            current: None,
            new,
            repeat,
        }] => {
            assert_eq!(new.0, "secret one");
            assert_eq!(repeat.0, "secret");
            assert!(
                !format!("{sent:?}").contains("secret one"),
                "Debug hides it"
            );
        }
        other => panic!("{other:?}"),
    }
    app.update(Msg::AccountRefused("new password too short".into()));
    insta::assert_snapshot!("forced_password_form_refused", render(&mut app));
    app.update(Msg::PasswordChanged);
    assert!(app.setup.is_none());
}

fn render_at(app: &mut App, cols: u16, rows: u16) -> String {
    app.update(Msg::Resize { cols, rows });
    let mut terminal = Terminal::new(TestBackend::new(cols, rows)).unwrap();
    terminal.draw(|f| app.draw(f)).unwrap();
    terminal.backend().to_string()
}

#[test]
fn new_backup_codes_are_saved_only_once_they_were_on_screen() {
    let mut app = index_app();
    app.update(key(':'));
    typed(&mut app, "backup-codes");
    assert_eq!(app.update(enter()), vec![Cmd::BackupCodes]);
    app.update(Msg::BackupCodes {
        codes: backup_codes(),
    });
    assert!(
        !format!("{app:?}").contains("k7pq"),
        "Debug leaves the codes out"
    );
    // Too small for the box: it says so, and Enter saves nothing.
    let small = render_at(&mut app, 15, 10);
    assert!(!small.contains("k7pq"), "{small}");
    assert!(small.contains("waiting"), "{small}");
    assert!(app.update(enter()).is_empty());
    assert!(app.backup_codes.is_some(), "the codes wait");
    // Other keys do not get past the box.
    assert!(app.update(key('q')).is_empty());
    assert!(app.update(key(':')).is_empty() && app.prompt.is_none());
    // Large enough: every code is on screen, and Enter asks for them to be saved.
    let screen = render_at(&mut app, 80, 24);
    for code in backup_codes() {
        assert!(screen.contains(&code.0), "{code:?} in\n{screen}");
    }
    insta::assert_snapshot!(screen);
    assert_eq!(app.update(enter()), vec![Cmd::SaveBackupCodes]);
    assert!(app.backup_codes.is_some(), "shown until they are saved");
    app.update(Msg::BackupCodesSaved);
    assert!(app.backup_codes.is_none());
    assert!(render_at(&mut app, 80, 24).contains("backup codes saved"));
    // Shrunk after being shown: not shown any more, so Enter does not save.
    app.update(Msg::BackupCodes {
        codes: backup_codes(),
    });
    render_at(&mut app, 80, 24);
    render_at(&mut app, 30, 12);
    assert!(app.update(enter()).is_empty());
    // Esc drops them.
    assert_eq!(app.update(msg_key(Key::Esc)), vec![Cmd::DropBackupCodes]);
    assert!(app.backup_codes.is_none());
}

// ---------------------------------------------------------------------------------------
// Every screen and popup, drawn at every size: drawing never panics, whatever the
// terminal (the session clamps sizes to at least 10×3, but the view must not rely on it).

/// Ten codes shaped like moat's.
fn backup_codes() -> Vec<moat::tui::protocol::Secret> {
    (0..10)
        .map(|i| format!("{i:04}-k7pq-x2mz-9vbn").as_str().into())
        .collect()
}

fn msg_key(k: Key) -> Msg {
    Msg::Input(Input::Key(KeyEvent::plain(k)))
}

fn ctrl(c: char) -> Msg {
    Msg::Input(Input::Key(KeyEvent::ctrl(c)))
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        app.update(key(c));
    }
}

/// A page of awkward cells: wide characters, emoji, long text, NULLs, many columns.
fn awkward_page() -> Page {
    let columns: Vec<String> = (0..12)
        .map(|i| match i {
            0 => "id".to_string(),
            1 => "名前".to_string(),
            2 => "a_very_long_column_name_that_goes_on_and_on_and_on".to_string(),
            n => format!("c{n}"),
        })
        .collect();
    let rows = (1..=40)
        .map(|i| ListRow {
            key: vec![Value::Integer(i)],
            cursor: vec![Value::Integer(i)],
            values: (0..12)
                .map(|c| match c {
                    0 => Value::Integer(i),
                    1 => Value::Text("日本語テキスト☺\u{fe0f}👩\u{200d}💻".repeat(3)),
                    2 => Value::Text("x".repeat(300)),
                    3 => Value::Null,
                    4 => Value::Text("\x1b[31mred\x1b[0m\u{202e}evil".into()),
                    _ => Value::Real(f64::from(c) * 1.5),
                })
                .collect(),
        })
        .collect();
    Page {
        columns,
        rows,
        has_before: true,
        has_after: true,
        search_path: Default::default(),
    }
}

fn manage_loaded(app: &mut App, panel: moat::tui::protocol::Panel, rows: usize) {
    use moat::tui::protocol::{
        GroupEntry, ManageMsg, Panel, PanelData, RecordingState, SessionEntry, UserEntry, Who,
    };
    let name = |i: usize| format!("user{i}_with_a_rather_long_name_日本");
    let data = match panel {
        Panel::Users => PanelData::Users {
            users: (0..rows)
                .map(|i| UserEntry {
                    id: i as i64 + 1,
                    name: name(i),
                    superuser: i % 3 == 0,
                    active: i % 2 == 0,
                    locked: i % 5 == 0,
                    groups: vec!["ops".into(), "support".into(), "billing".into()],
                })
                .collect(),
            superuser: true,
        },
        Panel::User(user) => PanelData::User {
            name: user,
            groups: (0..rows).map(|i| format!("group{i}")).collect(),
            model_perms: (0..rows)
                .map(|i| (format!("view_model{i}"), "direct".into()))
                .collect(),
            object_perms: vec![],
        },
        Panel::Groups => PanelData::Groups(
            (0..rows)
                .map(|i| GroupEntry {
                    name: format!("group{i}_日本"),
                    members: i,
                    perms: vec!["view_posts".into(), "change_posts".into()],
                })
                .collect(),
        ),
        Panel::Group(group) => PanelData::Group {
            name: group,
            members: (0..rows).map(name).collect(),
            perms: vec![],
        },
        Panel::Sessions => PanelData::Sessions {
            now: 1_767_261_600,
            sessions: (0..rows)
                .map(|i| SessionEntry {
                    id: format!("{i:016x}"),
                    user: name(i),
                    source_ip: "2001:db8::1".into(),
                    started_at: 1_767_261_000,
                    last_input_at: 1_767_261_500,
                    ending: i % 4 == 0,
                })
                .collect(),
            live: true,
            replay: true,
        },
        Panel::Keys(user) => PanelData::Keys {
            name: user.clone().unwrap_or_else(|| "admin".into()),
            user,
            keys: (0..rows)
                .map(|i| moat::tui::protocol::KeyEntry {
                    id: i as i64 + 1,
                    algorithm: if i % 2 == 0 {
                        "ssh-ed25519".into()
                    } else {
                        "sk-ssh-ed25519@openssh.com".into()
                    },
                    fingerprint: format!("SHA256:{i}uPq7Yc0m1Xn2Lk3Jh4Gf5Ds6Aq7Wz8Ex9Rc0Vt1By2Nu"),
                    comment: format!("{}@laptop-{i}\u{1b}[31m", name(i)),
                    added: 1_767_261_000,
                    last_used: (i % 3 != 2).then_some(1_767_261_500),
                })
                .collect(),
        },
        Panel::Ended => PanelData::Ended(
            (0..rows)
                .map(|i| moat::tui::protocol::EndedEntry {
                    id: format!("{:016x}", i + 100),
                    user: name(i),
                    source_ip: "2001:db8::1".into(),
                    started_ms: 1_767_261_000_000 - i as i64 * 3_600_000,
                    ended_ms: (i % 5 != 4).then_some(1_767_261_754_000 - i as i64 * 3_600_000),
                    recording: match i % 5 {
                        0 => RecordingState::Sealed {
                            size: 48_300,
                            input: false,
                        },
                        1 => RecordingState::Sealed {
                            size: 2_600_000,
                            input: true,
                        },
                        2 => RecordingState::Removed,
                        3 => RecordingState::None,
                        _ => RecordingState::Unsealed,
                    },
                })
                .collect(),
        ),
        Panel::Row { model, pk } => PanelData::Row {
            model,
            pk,
            grants: (0..rows)
                .map(|i| (Who::User(name(i)), "change_posts".into()))
                .collect(),
        },
    };
    app.update(Msg::Manage(ManageMsg::Loaded(data)));
}

/// An audit row for the viewer's tests: a change of `title`, long and wide.
fn audit_row(i: i64, details: usize) -> moat::tui::protocol::AuditRow {
    use moat::tui::protocol::{AuditRow, AuditValue, AuditValues, Change};
    AuditRow {
        id: i,
        at_ms: 1_767_261_600_000 + i,
        actor: Some("admin".into()),
        source_ip: Some("127.0.0.1".into()),
        session_id: Some("0123456789abcdef".into()),
        action: "delete".into(),
        model: Some("posts".into()),
        pk: Some(i.to_string()),
        outcome: "success".into(),
        reason: Some("…".repeat(i as usize)),
        values: AuditValues::Changes(
            (0..details)
                .map(|d| Change {
                    column: format!("detail_{d}"),
                    before: Some(AuditValue::Text("wide 幅 ".repeat(d))),
                    after: Some(AuditValue::Masked),
                })
                .collect(),
        ),
        hash: "ab".repeat(32),
        undo: None,
    }
}

fn detail_record() -> Msg {
    Msg::Record {
        links: vec![None, Some("authors: José García".into())],
        model: "posts".into(),
        record: Record {
            key: vec![Value::Integer(3)],
            fields: vec![
                (col("id", "INTEGER", true, 1), Value::Integer(3)),
                (col("author_id", "INTEGER", false, 0), Value::Integer(7)),
                (
                    col("a_field_name_longer_than_the_name_column", "TEXT", false, 0),
                    Value::Text("日本語 ".repeat(100)),
                ),
                (
                    col("body", "TEXT", false, 0),
                    Value::Text("line\n".repeat(200)),
                ),
                (col("published_at", "TIMESTAMP", false, 0), Value::Null),
                (col("cover", "BLOB", false, 0), Value::Blob(vec![0; 64])),
            ],
        },
        caps: Capabilities::ALL,
        related: vec![],
    }
}

/// The app in every screen and popup it has, each with a name.
fn every_state() -> Vec<(&'static str, App)> {
    use moat::tui::protocol::Setup;
    use moat::tui::protocol::{ManageMsg, Panel};
    let mut states: Vec<(&'static str, App)> = Vec::new();

    states.push(("index loading", App::new("admin", 100, (80, 24)).0));
    let mut app = App::new("a-user-name-that-is-very-long-indeed-日本語", 100, (80, 24)).0;
    app.update(Msg::Models(vec![]));
    states.push(("index empty", app));
    states.push(("index", index_app()));
    let mut app = index_app();
    app.update(Msg::Models(
        (0..60)
            .map(|i| ModelSummary {
                name: format!("m{i}"),
                label: format!("model_{i}_{}", "名".repeat(i % 30)),
                columns: i,
                ordering: None,
                page_size: None,
                bulk_actions: vec![],
                caps: Capabilities::ALL,
            })
            .collect(),
    ));
    for _ in 0..45 {
        app.update(key('j'));
    }
    states.push(("index many, scrolled", app));

    let mut app = index_app();
    app.update(key('j'));
    app.update(enter());
    states.push(("list loading", app.clone()));
    app.update(Msg::Page {
        links: Vec::new(),
        model: "comments".into(),
        anchor: PageAnchor::First,
        page: Box::new(Page {
            columns: vec!["id".into(), "body".into()],
            rows: vec![],
            has_before: false,
            has_after: false,
            search_path: Default::default(),
        }),
        caps: Capabilities::ALL,
        row_caps: None,
        key_columns: vec!["id".into()],
        kinds: vec![],
    });
    states.push(("list empty", app));

    let mut app = list_app();
    for _ in 0..3 {
        app.update(key(' '));
    }
    app.update(key('l'));
    app.update(key('s'));
    states.push(("list marked, sorted, scrolled right", app));
    let mut app = list_app();
    for _ in 0..25 {
        app.update(key('j'));
    }
    states.push(("list far down", app));

    let mut app = index_app();
    app.update(enter());
    app.update(Msg::Page {
        links: Vec::new(),
        model: "authors".into(),
        anchor: PageAnchor::First,
        page: Box::new(awkward_page()),
        caps: Capabilities::ALL,
        row_caps: None,
        key_columns: vec!["id".into()],
        kinds: vec![],
    });
    for _ in 0..30 {
        app.update(key('j'));
    }
    states.push(("list of awkward cells", app.clone()));
    for _ in 0..11 {
        app.update(key('l'));
    }
    states.push(("list of awkward cells, last column", app));

    let mut app = list_app();
    app.update(key('/'));
    typed(&mut app, "on-call ☺\u{fe0f} 日本");
    states.push(("search prompt", app.clone()));
    app.update(enter());
    app.update(Msg::Page {
        links: Vec::new(),
        model: "posts".into(),
        anchor: PageAnchor::First,
        page: Box::new(posts_page()),
        caps: Capabilities::ALL,
        row_caps: None,
        key_columns: vec!["id".into()],
        kinds: vec![],
    });
    states.push(("list searched", app));

    let mut app = list_app();
    app.update(enter());
    states.push(("detail loading", app.clone()));
    app.update(Msg::Record {
        links: vec![],
        model: "posts".into(),
        record: Record {
            key: vec![Value::Integer(1)],
            fields: vec![],
        },
        caps: Capabilities::ALL,
        related: vec![],
    });
    states.push(("detail without fields", app));
    let mut app = list_app();
    for _ in 0..2 {
        app.update(key('j'));
    }
    app.update(enter());
    app.update(detail_record());
    states.push(("detail", app.clone()));
    app.update(msg_key(Key::Tab));
    for _ in 0..150 {
        app.update(key('j'));
    }
    states.push(("detail scrolled, link selected", app.clone()));
    // Related rows below the fields, with a hostile model name and a count past the cap.
    let mut rel = list_app();
    rel.update(key('j'));
    rel.update(key('j'));
    rel.update(enter());
    let mut msg = detail_record();
    if let Msg::Record { related, .. } = &mut msg {
        *related = vec![moat::tui::protocol::Related {
            model: "evil".into(),
            label: "\u{1b}]0;pwned\u{7}名前が長いモデル\u{202e}".repeat(3),
            column: "post\u{1b}[2J_id".into(),
            value: Value::Integer(1),
            count: RowCount::AtLeast(1_000),
        }];
    }
    rel.update(msg);
    for _ in 0..2 {
        rel.update(msg_key(Key::Tab)); // author_id, then the related model
    }
    states.push(("detail with related rows, one selected", rel));
    app.update(key('H'));
    states.push(("history loading", app.clone()));
    app.update(Msg::History {
        model: "posts".into(),
        key: vec![Value::Integer(3)],
        entries: vec![],
    });
    states.push(("history empty", app.clone()));
    app.update(msg_key(Key::Esc));
    app.update(key('H'));
    app.update(Msg::History {
        model: "posts".into(),
        key: vec![Value::Integer(3)],
        entries: (0..20).map(|i| audit_row(i, 3)).collect(),
    });
    for _ in 0..70 {
        app.update(key('j'));
    }
    states.push(("history", app));

    let mut app = form_app();
    for _ in 0..3 {
        app.update(msg_key(Key::Tab));
    }
    app.update(key('x'));
    app.update(ctrl('s'));
    states.push(("form with an error", app.clone()));
    app.update(Msg::SaveRefused(
        "UNIQUE constraint failed: posts.title — a long database message ".repeat(4),
    ));
    states.push(("form refused by the database", app.clone()));
    app.update(msg_key(Key::Esc));
    states.push(("discard confirmation", app));

    let mut app = list_app();
    let mut fields: Vec<(ColumnInfo, Value, bool)> = (0..40)
        .map(|i| {
            (
                col(
                    &format!("field_{i}_{}", "長".repeat(i % 20)),
                    "TEXT",
                    false,
                    0,
                ),
                Value::Text(format!("{}{}", "value ".repeat(i), "☺\u{fe0f}")),
                i % 7 == 3,
            )
        })
        .collect();
    fields.push((
        ColumnInfo {
            check_values: Vec::new(),
            pg_type: Some(moat::domain::PgType {
                schema: "public".into(),
                name: "mood".into(),
                labels: vec!["happy".into(), "sad".into(), "a-very-long-label".into()],
            }),
            ..col("mood", "mood", false, 0)
        },
        Value::Text("sad".into()),
        false,
    ));
    let mut links = vec![None; fields.len()];
    links[1] = Some("authors".to_string());
    app.update(Msg::Form {
        model: "posts".into(),
        key: None,
        fields,
        links,
    });
    app.update(msg_key(Key::Tab));
    states.push(("new form, long", app.clone()));
    app.update(ctrl('p'));
    states.push(("picking a row (loading)", app.clone()));
    app.update(Msg::Page {
        links: Vec::new(),
        model: "authors".into(),
        anchor: PageAnchor::First,
        page: Box::new(posts_page()),
        caps: Capabilities::ALL,
        row_caps: None,
        key_columns: vec!["id".into()],
        kinds: vec![],
    });
    states.push(("picking a row", app.clone()));
    app.update(msg_key(Key::Esc));
    for _ in 0..30 {
        app.update(msg_key(Key::Tab));
    }
    typed(&mut app, &"long text typed into a field ".repeat(10));
    states.push(("form scrolled, long typed text", app.clone()));
    app.update(ctrl('e'));
    for _ in 0..30 {
        app.update(enter());
        typed(&mut app, &"多".repeat(20));
    }
    states.push(("editor", app.clone()));
    app.update(Msg::Input(Input::Paste("\x07bell".into())));
    states.push(("editor with an error", app));

    let mut app = form_app();
    app.update(Msg::Conflict {
        model: "posts".into(),
        key: vec![Value::Integer(1)],
        fields: (0..30)
            .map(|i| {
                (
                    format!("column_{i}"),
                    Value::Text("opened ".repeat(i)),
                    Value::Text("yours 日本".repeat(i)),
                    if i % 2 == 0 {
                        Value::Null
                    } else {
                        Value::Text("now".into())
                    },
                )
            })
            .collect(),
    });
    states.push(("conflict", app));

    let mut app = list_app();
    app.update(Msg::Distinct {
        model: "posts".into(),
        column: "status".into(),
        kind: moat::domain::ColumnKind::Date,
        values: (0..50)
            .map(|i| {
                (
                    Value::Text(format!("value {i} {}", "ü".repeat(i))),
                    i as u64,
                )
            })
            .collect(),
    });
    for _ in 0..45 {
        app.update(key('j'));
    }
    states.push(("filter", app.clone()));
    app.update(key('r'));
    states.push(("range prompt", app));
    let mut app = list_app();
    app.update(Msg::Distinct {
        model: "posts".into(),
        column: "status".into(),
        kind: moat::domain::ColumnKind::Boolean,
        values: vec![],
    });
    states.push(("filter without values", app));

    let mut app = index_app();
    app.update(key(':'));
    typed(&mut app, "audit");
    states.push(("command prompt", app.clone()));
    app.update(enter());
    states.push(("audit loading", app.clone()));
    app.update(Msg::Audit(Box::new(moat::tui::protocol::AuditPage {
        query: moat::tui::protocol::AuditQuery::default(),
        rows: vec![],
        more: false,
        appended: false,
    })));
    states.push(("audit empty", app.clone()));
    app.update(Msg::Audit(Box::new(moat::tui::protocol::AuditPage {
        query: moat::tui::protocol::AuditQuery::default(),
        rows: (0..60).map(|i| audit_row(i, 40)).collect(),
        more: true,
        appended: false,
    })));
    for _ in 0..50 {
        app.update(key('j'));
    }
    states.push(("audit", app.clone()));
    app.update(enter());
    states.push(("audit entry details", app.clone()));
    app.update(key('x'));
    app.update(key('f'));
    states.push(("audit filter prompt", app));

    for (name, command, panel) in [
        ("users", "users", Panel::Users),
        ("groups", "groups", Panel::Groups),
        ("sessions", "sessions", Panel::Sessions),
        ("keys", "keys", Panel::Keys(None)),
    ] {
        let mut app = index_app();
        app.update(key(':'));
        typed(&mut app, command);
        app.update(enter());
        if name == "users" {
            states.push(("users loading", app.clone()));
        }
        manage_loaded(&mut app, panel.clone(), 40);
        for _ in 0..35 {
            app.update(key('j'));
        }
        states.push((name, app.clone()));
        if name == "sessions" {
            app.update(msg_key(Key::Tab));
            states.push(("ended sessions loading", app.clone()));
            manage_loaded(&mut app, Panel::Ended, 40);
            states.push(("ended sessions", app.clone()));
            app.update(Msg::Replay(Box::new(replay_fixture())));
            states.push(("replay", app.clone()));
            app.update(Msg::Clock { now_ms: 10 });
            app.update(Msg::Clock { now_ms: 20_000 });
            states.push(("replay at its end", app.clone()));
            // A recording longer than the server holds: the line under it says so first.
            let mut cut = replay_fixture();
            cut.cut = Some(moat::recording::Cut {
                at_us: 20_000_000,
                length_us: 11_400_000_000,
                max_mib: 4096,
            });
            let mut held = app.clone();
            held.update(Msg::Replay(Box::new(cut)));
            states.push(("replay cut to its bound", held));
        }
        if name == "users" {
            app.update(key('n'));
            states.push(("new user prompt", app.clone()));
            app.update(msg_key(Key::Esc));
            app.update(key('x'));
            states.push(("disable user confirmation", app.clone()));
            app.update(key('n'));
            app.update(Msg::Manage(ManageMsg::Show(vec![
                "User olive created. Give them this, once:".into(),
                String::new(),
                format!("one-time password: {}", "x".repeat(40)),
                "(expires in 24 hours; at first login they enrol TOTP and choose a password)"
                    .into(),
            ])));
            states.push(("one-time password dialog", app.clone()));
            app.update(key('x'));
            app.update(enter());
            manage_loaded(&mut app, Panel::User("user0".into()), 0);
            states.push(("user without rows", app));
        }
    }
    let mut app = list_app();
    app.update(enter());
    app.update(detail_record());
    app.update(key('o'));
    manage_loaded(
        &mut app,
        Panel::Row {
            model: "posts".into(),
            pk: "1".into(),
        },
        3,
    );
    states.push(("row permissions", app));

    let (app, _) = App::for_setup("olive", 100, (80, 24), Setup::Enrol);
    states.push(("enrolment loading", app.clone()));
    let mut app = app;
    app.update(Msg::Enrolment {
        uri: "otpauth://totp/moat:olive?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=moat".into(),
        secret: "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ".into(),
    });
    typed(&mut app, "123456");
    states.push(("enrolment", app.clone()));
    app.update(Msg::AccountRefused(
        "that code does not match: check the app's clock and type the code it shows now".into(),
    ));
    states.push(("enrolment refused", app));
    let (mut app, _) = App::for_setup("olive", 100, (80, 24), Setup::ChangePassword);
    typed(&mut app, &"p".repeat(300));
    states.push(("forced password change", app.clone()));
    app.update(Msg::AccountRefused("new password too short".into()));
    states.push(("forced password change refused", app));
    let mut app = index_app();
    app.update(key(':'));
    typed(&mut app, "password");
    app.update(enter());
    typed(&mut app, "secret");
    states.push(("password change", app.clone()));
    app.update(Msg::AccountRefused("the current password is wrong".into()));
    states.push(("password change refused", app));

    let mut app = list_app();
    app.update(key('?'));
    states.push(("help", app));
    let mut app = list_app();
    app.update(key('d'));
    app.update(Msg::DeleteAsk {
        model: "posts".into(),
        keys: vec![vec![Value::Integer(1)]],
        labels: vec![None],
        references: vec![moat::domain::Reference {
            table: "comments".into(),
            count: Some(RowCount::AtLeast(1000)),
            on_delete: "CASCADE".into(),
        }],
    });
    states.push(("delete confirmation", app.clone()));
    app.update(key('y'));
    app.update(Msg::StepUp("delete".into()));
    typed(&mut app, "1234");
    states.push(("step-up prompt", app));
    let mut app = list_app();
    app.update(Msg::ExportProgress {
        rows: 1000,
        total: Some(RowCount::Exact(2000)),
    });
    states.push(("export progress", app.clone()));
    app.update(Msg::Exported {
        path: "exports/posts-20260101-000000-abcdef.csv".into(),
        rows: 2000,
        columns: ["id", "title", "body", "status"].map(String::from).to_vec(),
        port: 2222,
    });
    states.push(("export notice", app));
    // A page whose second column names the rows it points at (hostile, wide names), then
    // shown as keys (`i`); and the column chooser with a hostile column name.
    let mut app = index_app();
    for _ in 0..3 {
        app.update(key('j'));
    }
    app.update(enter());
    let rows = posts_page().rows.len();
    app.update(Msg::Page {
        links: vec![moat::tui::protocol::LinkNames {
            column: 1,
            names: (0..rows)
                .map(|i| (i % 3 != 0).then(|| format!("Ev\u{1b}[2Jil {}", "日本語∞".repeat(i))))
                .collect(),
        }],
        model: "posts".into(),
        anchor: PageAnchor::First,
        page: Box::new(posts_page()),
        caps: Capabilities::ALL,
        row_caps: None,
        key_columns: vec!["id".into()],
        kinds: vec![],
    });
    let screen = render_at(&mut app.clone(), 200, 40);
    assert!(screen.contains(r"Ev\x1b[2Jil"), "{screen}");
    assert!(!screen.contains('\u{1b}'), "{screen}");
    states.push(("list with foreign-key names", app.clone()));
    app.update(key('i'));
    states.push(("list with foreign keys as keys", app.clone()));
    app.update(key('c'));
    app.update(Msg::Columns {
        model: "posts".into(),
        all: ["id", "title", "x\u{1b}[31m日本語∞"]
            .map(String::from)
            .to_vec(),
        chosen: ["title"].map(String::from).to_vec(),
        default: ["id", "title"].map(String::from).to_vec(),
    });
    states.push(("column chooser", app));
    let mut app = index_app();
    command(&mut app, "exports");
    app.update(Msg::Exports(moat::tui::protocol::ExportList {
        user: "admin".into(),
        port: 2222,
        ttl_hours: 24,
        now: 1_767_229_200,
        entries: vec![moat::tui::protocol::ExportEntry {
            name: format!("{}-20260101-000000-abcdef.csv", "p".repeat(40)),
            size: 1 << 20,
            created: 1_767_225_600,
            expires: 1_767_312_000,
        }],
    }));
    states.push(("exports", app));
    let mut app = list_app();
    app.update(Msg::Failed(format!("database error: {}", "∞ ".repeat(200))));
    states.push(("error status", app));
    let mut app = index_app();
    app.update(Msg::BackupCodes {
        codes: backup_codes(),
    });
    states.push(("backup codes", app.clone()));
    app.update(enter());
    app.update(Msg::Failed("database is locked".into()));
    states.push(("backup codes, saving failed", app));
    states
}

/// Every size up to 20×20: where layouts run out of room.
fn small_sizes() -> Vec<(u16, u16)> {
    (1..=20u16)
        .flat_map(|w| (1..=20u16).map(move |h| (w, h)))
        .collect()
}

/// The small widths and heights with the common sizes, the sizes around the layout's
/// thresholds and the extremes (up to 400×150), each combination not in
/// [`small_sizes`].
fn sampled_sizes() -> Vec<(u16, u16)> {
    let dims = |extra: &[u16]| -> Vec<u16> { (1..=20).chain(extra.iter().copied()).collect() };
    let widths = dims(&[21, 25, 30, 40, 41, 54, 64, 79, 80, 81, 120, 200, 400]);
    let heights = dims(&[21, 23, 24, 25, 30, 50, 100, 150]);
    widths
        .iter()
        .flat_map(|&w| heights.iter().map(move |&h| (w, h)))
        .filter(|&(w, h)| w > 20 || h > 20)
        .collect()
}

thread_local! {
    /// Inside [`quietly`] on this thread: where and why the last panic was.
    static CATCHING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static LAST_PANIC: std::cell::Cell<String> = const { std::cell::Cell::new(String::new()) };
}

/// Run `f`, catching a panic; the panic's location and message are kept in
/// [`LAST_PANIC`] instead of printed. One hook for the whole process (tests run on
/// several threads), installed once; other threads' panics print as usual.
fn quietly<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CATCHING.with(|c| c.get()) {
                LAST_PANIC.with(|p| p.set(info.to_string()));
            } else {
                default_hook(info);
            }
        }));
    });
    CATCHING.with(|c| c.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(false));
    result
}

/// Draw every state at each size in turn, catching panics; returns what failed. With
/// `fresh`, a new copy of the state is drawn at each size (a session that starts there)
/// besides the copy that lives through all of them (a session that is resized).
fn draw_everywhere(
    states: &[(&'static str, App)],
    sizes: &[(u16, u16)],
    fresh: bool,
) -> Vec<String> {
    let mut failures: Vec<String> = Vec::new();
    let mut lived: Vec<App> = states.iter().map(|(_, a)| a.clone()).collect();
    let mut terminal = Terminal::new(TestBackend::new(1, 1)).unwrap();
    for &(w, h) in sizes {
        terminal.backend_mut().resize(w, h);
        for ((name, state), lived) in states.iter().zip(lived.iter_mut()) {
            let mut new = fresh.then(|| state.clone());
            for app in new.iter_mut().chain([lived]) {
                app.update(Msg::Resize { cols: w, rows: h });
                let drawn = quietly(|| terminal.draw(|f| app.draw(f)).map(|_| ()));
                let failure = match drawn {
                    Ok(Ok(())) => continue,
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => LAST_PANIC.with(|p| p.take()),
                };
                failures.push(format!("{name} at {w}×{h}: {failure}"));
                // A panic mid-draw leaves the terminal's buffers in any state.
                terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
            }
        }
    }
    failures
}

fn no_failures(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} draws failed; the first ones:\n{}",
        failures.len(),
        failures[..failures.len().min(40)].join("\n")
    );
}

#[test]
fn every_screen_draws_at_the_largest_sizes() {
    // Beyond what the session accepts by default (max_cols, max_rows), as a config may
    // allow: no arithmetic on positions overflows.
    let mut states = every_state();
    let mut app = form_app();
    app.update(msg_key(Key::Tab));
    app.update(Msg::Input(Input::Paste("w".repeat(70_000))));
    states.push(("form with a field as wide as the terminal", app));
    no_failures(draw_everywhere(
        &states,
        &[
            (u16::MAX, 1),
            (u16::MAX, 3),
            (u16::MAX, 5),
            (10, u16::MAX),
            (11, 6000),
        ],
        false,
    ));
}

#[test]
fn every_screen_draws_at_every_size_up_to_20x20() {
    no_failures(draw_everywhere(&every_state(), &small_sizes(), true));
}

#[test]
fn every_screen_draws_at_sampled_sizes_up_to_400x150() {
    no_failures(draw_everywhere(&every_state(), &sampled_sizes(), false));
}

// ---------------------------------------------------------------------------------------
// Every other screen at 80×24, driven with typed data as the session sends it.

/// `:command` typed and entered.
fn command(app: &mut App, name: &str) -> Vec<Cmd> {
    app.update(key(':'));
    typed(app, name);
    app.update(enter())
}

#[test]
fn audit_list_and_entry() {
    use moat::tui::protocol::{AuditPage, AuditQuery, AuditValues};
    let mut app = index_app();
    command(&mut app, "audit");
    let mut rows: Vec<_> = (1..=3).map(|i| audit_row(i, 2)).collect();
    rows[1].actor = Some("a-very-long-operator-name".into());
    rows[2].values = AuditValues::Withheld;
    rows[2].reason = None;
    app.update(Msg::Audit(Box::new(AuditPage {
        query: AuditQuery::default(),
        rows,
        more: false,
        appended: false,
    })));
    insta::assert_snapshot!("audit_list", render(&mut app));
    app.update(enter());
    insta::assert_snapshot!("audit_entry", render(&mut app));
}

#[test]
fn history_of_a_row() {
    use moat::tui::protocol::{AuditValue, AuditValues, Change};
    let mut app = list_app();
    app.update(key('j'));
    app.update(key('j'));
    app.update(enter());
    app.update(detail_record());
    app.update(key('H'));
    let mut created = audit_row(1, 0);
    created.action = "add".into();
    created.values = AuditValues::Changes(vec![Change {
        column: "title".into(),
        before: None,
        after: Some(AuditValue::Text("First \"draft\"".into())),
    }]);
    let mut changed = audit_row(2, 0);
    changed.action = "change".into();
    changed.reason = None;
    changed.values = AuditValues::Changes(vec![
        Change {
            column: "api_token".into(),
            before: Some(AuditValue::Masked),
            after: Some(AuditValue::Masked),
        },
        Change {
            column: "view_count".into(),
            before: Some(AuditValue::Other("5".into())),
            after: Some(AuditValue::Other("77".into())),
        },
        Change {
            column: "published_at".into(),
            before: Some(AuditValue::Null),
            after: Some(AuditValue::Text("2026-12-01 10:00:00".into())),
        },
    ]);
    app.update(Msg::History {
        model: "posts".into(),
        key: vec![Value::Integer(3)],
        entries: vec![changed, created],
    });
    insta::assert_snapshot!(render(&mut app));
}

#[test]
fn filter_picker() {
    let mut app = list_app();
    app.update(key('l'));
    app.update(key('l'));
    let cmds = app.update(key('f'));
    assert!(matches!(&cmds[0], Cmd::LoadDistinct { column, .. } if column == "status"));
    app.update(Msg::Distinct {
        model: "posts".into(),
        column: "status".into(),
        kind: moat::domain::ColumnKind::Text,
        values: vec![
            (Value::Text("published".into()), 1_340),
            (Value::Text("draft".into()), 640),
            (Value::Null, 20),
        ],
    });
    insta::assert_snapshot!(render(&mut app));
}

#[test]
fn text_editor() {
    let mut app = form_app();
    app.update(ctrl('e')); // on the title
    app.update(msg_key(Key::End));
    typed(&mut app, "A longer title");
    app.update(enter());
    typed(&mut app, "on two lines");
    insta::assert_snapshot!(render(&mut app));
}

/// A recorded session of a console 80×24, drawn by moat's own backend: a list, then a
/// record, with a save among its audit rows, and a wide character.
fn replay_fixture() -> moat::tui::protocol::Replay {
    use moat::recording::{Event, Kind};
    use moat::tui::protocol::{Replay, ReplayMarker};
    let out = |at_us: u64, data: String| Event {
        at_us,
        kind: Kind::Output,
        data,
    };
    let mut first = String::from("\x1b[2J\x1b[1;1H\x1b[7m moat › posts");
    first.push_str(&" ".repeat(62));
    first.push_str("admin \x1b[0m");
    for i in 1..=21 {
        first.push_str(&format!(
            "\x1b[{};1H {i:>3}  Post number {i}: notes from the on-call 日本",
            i + 1
        ));
    }
    first.push_str("\x1b[24;1H\x1b[30;47m row 1 of 2,000   Enter open  / search  e edit\x1b[0m");
    Replay {
        session_id: "0123456789abcdef".into(),
        user: "alice".into(),
        width: 80,
        height: 24,
        events: vec![
            out(0, first),
            out(
                4_000_000,
                "\x1b[3;1H\x1b[1m   1  Recorded ✓ title\x1b[0m\x1b[K\x1b[24;1H\x1b[30;42m saved posts #1\x1b[K\x1b[0m"
                    .into(),
            ),
            out(9_000_000, "\x1b[24;1H\x1b[0m row 1 of 2,000\x1b[K".into()),
        ],
        markers: vec![
            ReplayMarker {
                at_us: 0,
                entry: 41,
                action: "login".into(),
                model: None,
                pk: None,
                outcome: "success".into(),
            },
            ReplayMarker {
                at_us: 3_900_000,
                entry: 42,
                action: "change".into(),
                model: Some("posts".into()),
                pk: Some("1".into()),
                outcome: "success".into(),
            },
        ],
        sealed: true,
        truncated: false,
        cut: None,
    }
}

#[test]
fn replay_screen() {
    let mut app = index_app();
    command(&mut app, "sessions");
    app.update(Msg::Replay(Box::new(replay_fixture())));
    insta::assert_snapshot!("replay_start", render(&mut app));
    // `m`: to the save, paused there; the row as it was saved.
    app.update(key(' '));
    app.update(key('m'));
    insta::assert_snapshot!("replay_at_marker", render(&mut app));
    // Played on at ×2: the clock's ticks move it, and it stops at the end.
    app.update(key('+'));
    app.update(key(' '));
    app.update(Msg::Clock { now_ms: 1_000 });
    app.update(Msg::Clock { now_ms: 2_000 });
    let screen = render(&mut app);
    assert!(screen.contains("0:05 / 0:09 ×2"), "{screen}");
    app.update(Msg::Clock { now_ms: 60_000 });
    let screen = render(&mut app);
    assert!(screen.contains("⏸ 0:09 / 0:09"), "{screen}");
}

/// A recording longer than `replay_max_mib`: the line under the screen says first where
/// the replay stops, how long the whole is, and where the rest is.
#[test]
fn replay_screen_cut_to_its_bound() {
    let mut app = index_app();
    command(&mut app, "sessions");
    let mut cut = replay_fixture();
    cut.cut = Some(moat::recording::Cut {
        at_us: 9_000_000,
        length_us: 11_400_000_000,
        max_mib: 64,
    });
    app.update(Msg::Replay(Box::new(cut)));
    insta::assert_snapshot!("replay_cut", render(&mut app));
}

#[test]
fn management_screens() {
    use moat::tui::protocol::Panel;
    let mut app = index_app();
    command(&mut app, "users");
    manage_loaded(&mut app, Panel::Users, 4);
    insta::assert_snapshot!("users", render(&mut app));
    app.update(enter());
    manage_loaded(
        &mut app,
        Panel::User("user0_with_a_rather_long_name_日本".into()),
        2,
    );
    insta::assert_snapshot!("user", render(&mut app));

    let mut app = index_app();
    command(&mut app, "groups");
    manage_loaded(&mut app, Panel::Groups, 3);
    insta::assert_snapshot!("groups", render(&mut app));
    app.update(enter());
    manage_loaded(&mut app, Panel::Group("group0_日本".into()), 2);
    insta::assert_snapshot!("group", render(&mut app));

    let mut app = index_app();
    command(&mut app, "sessions");
    manage_loaded(&mut app, Panel::Sessions, 3);
    insta::assert_snapshot!("sessions", render(&mut app));
    app.update(msg_key(Key::Tab));
    manage_loaded(&mut app, Panel::Ended, 5);
    insta::assert_snapshot!("sessions_ended", render(&mut app));

    let mut app = index_app();
    command(&mut app, "keys");
    manage_loaded(&mut app, Panel::Keys(None), 3);
    insta::assert_snapshot!("keys", render(&mut app));
    app.update(key('x'));
    insta::assert_snapshot!("keys_remove", render(&mut app));
    app.update(key('n'));
    app.update(key('a'));
    app.update(Msg::Input(Input::Paste(format!(
        "ssh-ed25519 {} alice@laptop",
        "AAAAC3NzaC1lZDI1NTE5AAAAIL".repeat(3)
    ))));
    insta::assert_snapshot!("keys_add_prompt", render(&mut app));

    let mut app = index_app();
    command(&mut app, "users");
    manage_loaded(&mut app, Panel::Users, 4);
    app.update(key('K'));
    manage_loaded(
        &mut app,
        Panel::Keys(Some("user0_with_a_rather_long_name_日本".into())),
        0,
    );
    insta::assert_snapshot!("user_keys_empty", render(&mut app));

    let mut app = list_app();
    app.update(key('j'));
    app.update(key('j'));
    app.update(enter());
    app.update(detail_record());
    app.update(key('o'));
    manage_loaded(
        &mut app,
        Panel::Row {
            model: "posts".into(),
            pk: "3".into(),
        },
        2,
    );
    insta::assert_snapshot!("row_permissions", render(&mut app));
}

#[test]
fn a_delete_the_database_would_refuse_says_why_and_asks_nothing() {
    let mut app = list_app();
    app.update(key('d'));
    app.update(Msg::DeleteAsk {
        model: "posts".into(),
        keys: vec![vec![Value::Integer(1)]],
        labels: vec![Some("Post number 1".into())],
        references: vec![
            moat::domain::Reference {
                table: "comments".into(),
                count: Some(RowCount::Exact(3)),
                on_delete: "CASCADE".into(),
            },
            moat::domain::Reference {
                table: "invoices".into(),
                count: Some(RowCount::Exact(2)),
                on_delete: "RESTRICT".into(),
            },
        ],
    });
    let screen = render(&mut app);
    assert!(!screen.contains("[y/N]"), "{screen}");
    insta::assert_snapshot!(screen);
    assert!(app.update(key('y')).is_empty(), "nothing to confirm");
}

#[test]
fn marked_rows_are_named_with_what_goes_with_them_in_a_box_at_80_columns() {
    let mut app = list_app();
    for _ in 0..7 {
        app.update(key(' '));
    }
    let cmds = app.update(key('d'));
    let keys: Vec<Vec<Value>> = (1..=7).map(|i| vec![Value::Integer(i)]).collect();
    assert_eq!(
        cmds,
        vec![Cmd::AskDeleteMany {
            model: "posts".into(),
            keys: keys.clone()
        }]
    );
    app.update(Msg::DeleteAsk {
        model: "posts".into(),
        keys: keys.clone(),
        labels: vec![None; 7],
        references: vec![moat::domain::Reference {
            table: "comments".into(),
            count: Some(RowCount::Exact(21)),
            on_delete: "CASCADE".into(),
        }],
    });
    insta::assert_snapshot!(render(&mut app));
    assert_eq!(
        app.update(key('y')),
        vec![Cmd::DeleteMany {
            model: "posts".into(),
            keys
        }]
    );
}

/// The screens the truthful-console work changed, at 200×50 as well as 80×24: columns use
/// the width there is, the key column stays, long values wrap rather than cut.
#[test]
fn the_changed_screens_at_200x50() {
    insta::assert_snapshot!("wide_list", render_at(&mut list_app(), 200, 50));
    const WIDE: [&str; 14] = [
        "index",
        "list of awkward cells",
        "detail",
        "history",
        "form with an error",
        "form refused by the database",
        "conflict",
        "filter",
        "audit",
        "audit entry details",
        "disable user confirmation",
        "help",
        "delete confirmation",
        "command prompt",
    ];
    let states = every_state();
    for name in WIDE {
        let Some((_, app)) = states.iter().find(|(n, _)| *n == name) else {
            panic!("no state named {name}");
        };
        let mut app = app.clone();
        let slug: String = name
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { '_' })
            .collect();
        insta::assert_snapshot!(format!("wide_{slug}"), render_at(&mut app, 200, 50));
    }
}

/// A record lists below its fields the rows that refer to it, per model and column; Tab
/// selects one (scrolling it into view) and Enter asks for that list, filtered to the
/// record; the list shows the filter as a chip and Esc goes back to the record.
#[test]
fn related_rows_below_a_record() {
    use moat::domain::{Filter, FilterOp, RowCount};
    use moat::tui::protocol::Related;
    let mut app = list_app();
    app.update(key('j'));
    app.update(key('j'));
    app.update(enter());
    let mut msg = detail_record();
    if let Msg::Record {
        record, related, ..
    } = &mut msg
    {
        record.fields.truncate(2);
        let rel = |model: &str, column: &str, count| Related {
            model: model.into(),
            label: model.into(),
            column: column.into(),
            value: Value::Integer(3),
            count,
        };
        *related = vec![
            rel("comments", "post_id", RowCount::Exact(26)),
            rel("post_tags", "post_id", RowCount::Exact(1)),
            rel("views", "post_id", RowCount::AtLeast(1_000)),
        ];
    }
    app.update(msg);
    app.update(Msg::Input(Input::Key(KeyEvent::plain(Key::Tab)))); // author_id
    app.update(Msg::Input(Input::Key(KeyEvent::plain(Key::Tab)))); // comments
    insta::assert_snapshot!("related_rows", render(&mut app));
    let cmds = app.update(enter());
    assert_eq!(
        cmds,
        vec![Cmd::OpenRelated {
            model: "comments".into(),
            column: "post_id".into(),
            value: Value::Integer(3),
        }]
    );
    let filter = Filter {
        column: "post_id".into(),
        op: FilterOp::Equals(Value::Integer(3)),
    };
    let cmds = app.update(Msg::OpenRelated {
        model: Box::new(moat::tui::protocol::ModelSummary {
            name: "comments".into(),
            label: "comments".into(),
            columns: 4,
            ordering: None,
            page_size: None,
            bulk_actions: vec![],
            caps: Capabilities::ALL,
        }),
        filter: filter.clone(),
    });
    assert!(
        cmds.iter()
            .any(|c| matches!(c, Cmd::LoadPage { model, query, .. }
            if model == "comments" && query.filters == vec![filter.clone()])),
        "{cmds:?}"
    );
    assert!(render(&mut app).contains("posts › #3 › comments"));
    // The filter is the list's own: Esc goes back to the record rather than dropping it.
    app.update(Msg::Input(Input::Key(KeyEvent::plain(Key::Esc))));
    assert!(render(&mut app).contains("posts › #3"));
}

/// A hostile model or column name among a record's related rows reaches the terminal as
/// visible text, never as a control sequence.
#[test]
fn related_rows_with_hostile_names_are_drawn_escaped() {
    let (_, mut app) = every_state()
        .into_iter()
        .find(|(n, _)| *n == "detail with related rows, one selected")
        .expect("the state");
    let screen = render_at(&mut app, 120, 40);
    assert!(
        !screen.contains('\u{1b}') && !screen.contains('\u{202e}'),
        "{screen}"
    );
    assert!(screen.contains("1,000+ rows by post"), "{screen}");
}

#[test]
fn the_column_chooser_lists_shown_columns_first_and_says_the_default() {
    let mut app = list_app();
    let cmds = app.update(key('c'));
    assert_eq!(
        cmds,
        vec![Cmd::LoadColumns {
            model: "posts".into()
        }]
    );
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    app.update(Msg::Columns {
        model: "posts".into(),
        all: names(&[
            "id",
            "title",
            "body",
            "status",
            "rating",
            "created\u{1b}[2J",
        ]),
        chosen: names(&["status", "id", "title"]),
        default: names(&["id", "title", "status"]),
    });
    app.update(key('j'));
    insta::assert_snapshot!("column_chooser", render(&mut app));
    // Enter keeps the choice and goes back to the list.
    let cmds = app.update(enter());
    assert_eq!(
        cmds,
        vec![Cmd::SetColumns {
            model: "posts".into(),
            columns: Some(names(&["status", "id", "title"])),
        }]
    );
    assert!(render(&mut app).contains("row 1 of"), "back on the list");
}

/// `H` on a record with a change the viewer may revert, then `u`, the session's plan:
/// the confirmation names the entry, the row and every value written.
#[test]
fn revert_confirmation() {
    use moat::tui::protocol::{UndoKind, UndoPlan};
    let mut app = list_app();
    app.update(key('j'));
    app.update(key('j'));
    app.update(enter());
    app.update(detail_record());
    app.update(key('H'));
    let mut changed = audit_row(12, 0);
    changed.action = "change".into();
    changed.reason = None;
    changed.undo = Some(UndoKind::Revert);
    let mut older = audit_row(5, 0);
    older.action = "add".into();
    older.reason = None;
    app.update(Msg::History {
        model: "posts".into(),
        key: vec![Value::Integer(3)],
        entries: vec![changed, older],
    });
    // The selected entry offers `u`.
    insta::assert_snapshot!("revert_offered_in_history", render(&mut app));
    let cmds = app.update(key('u'));
    assert_eq!(cmds, vec![Cmd::AskUndo { entry: 12 }]);
    app.update(Msg::UndoAsk(Box::new(UndoPlan {
        entry: 12,
        kind: UndoKind::Revert,
        model: "posts".into(),
        key: vec![Value::Integer(3)],
        values: vec![
            ("title".into(), Value::Text("Old \"title\"\x1b[2J".into())),
            ("rating".into(), Value::Real(4.5)),
            ("published_at".into(), Value::Null),
        ],
        expected: vec![
            ("title".into(), Value::Text("New title".into())),
            ("rating".into(), Value::Integer(3)),
            (
                "published_at".into(),
                Value::Text("2026-12-01 10:00:00".into()),
            ),
        ],
        hidden_left: 1,
    })));
    insta::assert_snapshot!("revert_confirmation", render(&mut app));
    assert_eq!(app.update(key('y')), vec![Cmd::Undo { entry: 12 }]);
    // The row changed since: the conflict, with nothing to overwrite.
    app.update(Msg::UndoConflict {
        entry: 12,
        model: "posts".into(),
        key: vec![Value::Integer(3)],
        fields: vec![(
            "title".into(),
            Value::Text("New title".into()),
            Value::Text("Old title".into()),
            Value::Text("Someone else's".into()),
        )],
    });
    insta::assert_snapshot!("revert_conflict", render(&mut app));
    assert!(app.update(key('o')).is_empty(), "nothing to overwrite");
}

/// A restore's confirmation: the row's key and values.
#[test]
fn restore_confirmation() {
    use moat::tui::protocol::{UndoKind, UndoPlan};
    let mut app = list_app();
    app.update(Msg::UndoAsk(Box::new(UndoPlan {
        entry: 40,
        kind: UndoKind::Restore,
        model: "post_tags".into(),
        key: vec![Value::Integer(5), Value::Integer(3)],
        values: vec![
            ("post_id".into(), Value::Integer(5)),
            ("tag_id".into(), Value::Integer(3)),
            ("note".into(), Value::Blob(vec![0, 1, 0xff])),
        ],
        expected: Vec::new(),
        hidden_left: 0,
    })));
    insta::assert_snapshot!("restore_confirmation", render(&mut app));
    // Done: the confirmation closes and says so.
    app.update(Msg::Undone {
        entry: 40,
        kind: UndoKind::Restore,
        model: "post_tags".into(),
        key: vec![Value::Integer(5), Value::Integer(3)],
    });
    let screen = render(&mut app);
    assert!(
        screen.contains("restored post_tags (5, 3) (entry 40)"),
        "{screen}"
    );
    assert!(!screen.contains("Restore post_tags"), "{screen}");
}
