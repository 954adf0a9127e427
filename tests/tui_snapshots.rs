//! Screens as a person sees them at 80×24: the app is driven with messages (as the session
//! would) and drawn to ratatui's TestBackend; insta keeps the expected text.

use moat::domain::{ColumnInfo, ListQuery, ListRow, Page, PageAnchor, Record, RowCount, Value};
use moat::tui::app::ModelSummary;
use moat::tui::input::{Input, Key, KeyEvent};
use moat::tui::{view, App, Cmd, Msg};
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
    terminal.draw(|f| view::draw(app, f)).unwrap();
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
        model: "posts".into(),
        anchor: PageAnchor::First,
        page: posts_page(),
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
    let anchor = PageAnchor::From(vec![Value::Integer(1)]);
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
        model: "posts".into(),
        anchor,
        page,
    });
    app.update(key('x')); // clears the notice
    let screen = render(&mut app);
    assert!(screen.contains("\"▶ 6 "), "{screen}");
    assert!(screen.contains("\"  4 "), "{screen}");
    assert!(screen.contains("row 5 of 2,000"), "{screen}");
}

fn col(name: &str, ty: &str, not_null: bool, pk: u32) -> ColumnInfo {
    ColumnInfo {
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
        key: vec![Value::Integer(1)],
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
    use moat::tui::account::Setup;
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
    use moat::tui::account::Setup;
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
