//! The app's routing, without a database or a terminal: keys and messages in, commands
//! and the stack of screens out.

use ratatui::backend::TestBackend;
use ratatui::style::Color;
use ratatui::Terminal;

use super::*;
use crate::domain::{
    Capabilities, ColumnInfo, ListQuery, ListRow, Page, PageAnchor, Record, RowCount, Value,
};
use crate::tui::protocol::ModelSummary;

fn key(c: char) -> Msg {
    Msg::Input(Input::Key(KeyEvent::char(c)))
}

fn special(k: Key) -> Msg {
    Msg::Input(Input::Key(KeyEvent::plain(k)))
}

fn ctrl(c: char) -> Msg {
    Msg::Input(Input::Key(KeyEvent::ctrl(c)))
}

fn col(name: &str, ty: &str, pk: u32) -> ColumnInfo {
    ColumnInfo {
        check_values: Vec::new(),
        name: name.into(),
        decl_type: ty.into(),
        not_null: false,
        default: None,
        pk_ordinal: pk,
        pg_type: None,
    }
}

fn crumbs(app: &App) -> Vec<String> {
    app.stack
        .iter()
        .map(|s| {
            let c = s.crumb();
            let model = c.model.map(|(m, _)| m).unwrap_or_default();
            let text = c.text.map(|t| t.to_string()).unwrap_or_default();
            format!("{model}{text}")
        })
        .collect()
}

fn render(app: &mut App) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
    t.draw(|f| app.draw(f)).unwrap();
    t
}

/// The whole 80×24 screen as text, a line a row.
fn render_text(app: &mut App) -> String {
    let t = render(app);
    let buf = t.backend().buffer();
    (0..24)
        .map(|y| (0..80).map(|x| buf[(x, y)].symbol()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

fn footer(app: &mut App) -> String {
    footer_at(app, 80)
}

/// The footer at `width` columns.
fn footer_at(app: &mut App, width: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(width, 24)).unwrap();
    t.draw(|f| app.draw(f)).unwrap();
    let buf = t.backend().buffer();
    (0..width)
        .map(|x| buf[(x, 23)].symbol().to_string())
        .collect()
}

fn page(keys: std::ops::RangeInclusive<i64>) -> Box<Page> {
    Box::new(Page {
        columns: vec!["id".into(), "title".into()],
        rows: keys
            .map(|i| ListRow {
                key: vec![Value::Integer(i)],
                cursor: vec![Value::Integer(i)],
                values: vec![Value::Integer(i), Value::Text(format!("post {i}"))],
            })
            .collect(),
        has_before: false,
        has_after: false,
        search_path: Default::default(),
    })
}

/// The index, then the list of `posts` with rows 1..=5, the user holding `caps`.
fn list_with(caps: Capabilities) -> App {
    let (mut app, _) = App::new("admin", 100, (80, 24));
    app.update(Msg::Models(vec![ModelSummary {
        name: "posts".into(),
        label: "posts".into(),
        columns: 2,
        ordering: None,
        page_size: None,
        bulk_actions: vec!["publish".into()],
        caps,
    }]));
    let cmds = app.update(special(Key::Enter));
    assert!(matches!(cmds[0], Cmd::LoadPage { .. }), "{cmds:?}");
    app.update(Msg::Page {
        links: Vec::new(),
        model: "posts".into(),
        anchor: PageAnchor::First,
        page: page(1..=5),
        caps,
        row_caps: None,
        key_columns: vec!["id".into()],
        kinds: vec![],
    });
    app.update(Msg::Counted {
        model: "posts".into(),
        query: ListQuery::default(),
        count: RowCount::Exact(5),
    });
    app
}

fn record_msg(id: i64, caps: Capabilities) -> Msg {
    Msg::Record {
        model: "posts".into(),
        record: Record {
            key: vec![Value::Integer(id)],
            fields: vec![
                (col("id", "INTEGER", 1), Value::Integer(id)),
                (col("title", "TEXT", 0), Value::Text(format!("post {id}"))),
            ],
        },
        links: vec![],
        caps,
        related: vec![],
    }
}

fn form_msg(id: Option<i64>) -> Msg {
    Msg::Form {
        model: "posts".into(),
        key: id.map(|i| vec![Value::Integer(i)]),
        fields: vec![
            (
                col("id", "INTEGER", 1),
                Value::Integer(id.unwrap_or(0)),
                true,
            ),
            (col("title", "TEXT", 0), Value::Text("post".into()), false),
            (col("author_id", "INTEGER", 0), Value::Integer(1), false),
        ],
        links: vec![None, None, Some("authors".into())],
    }
}

#[test]
fn a_save_closes_the_form_and_reloads_the_record_it_was_opened_from() {
    let mut app = list_with(Capabilities::ALL);
    app.update(key('j'));
    assert_eq!(
        app.update(special(Key::Enter)),
        vec![Cmd::LoadRecord {
            model: "posts".into(),
            key: vec![Value::Integer(2)]
        }]
    );
    app.update(record_msg(2, Capabilities::ALL));
    app.update(key('e'));
    app.update(form_msg(Some(2)));
    assert_eq!(crumbs(&app), ["models", "posts", "posts#2", "edit"]);
    let cmds = app.update(Msg::Saved {
        model: "posts".into(),
        key: vec![Value::Integer(2)],
        created: false,
    });
    assert_eq!(crumbs(&app), ["models", "posts", "posts#2"]);
    assert_eq!(
        cmds,
        vec![Cmd::LoadRecord {
            model: "posts".into(),
            key: vec![Value::Integer(2)]
        }]
    );
    assert_eq!(
        app.status,
        Some(Status::Notice(SafeText::new("saved posts #2")))
    );
}

#[test]
fn a_row_created_from_the_list_opens_its_record() {
    let mut app = list_with(Capabilities::ALL);
    assert_eq!(
        app.update(key('n')),
        vec![Cmd::OpenForm {
            model: "posts".into(),
            key: None
        }]
    );
    app.update(form_msg(None));
    let cmds = app.update(Msg::Saved {
        model: "posts".into(),
        key: vec![Value::Integer(9)],
        created: true,
    });
    assert_eq!(crumbs(&app), ["models", "posts", "posts#9"]);
    assert!(cmds.contains(&Cmd::LoadRecord {
        model: "posts".into(),
        key: vec![Value::Integer(9)]
    }));
}

#[test]
fn a_deleted_record_closes_and_the_list_reloads_in_place() {
    let mut app = list_with(Capabilities::ALL);
    app.update(key('j'));
    app.update(special(Key::Enter));
    app.update(record_msg(2, Capabilities::ALL));
    let cmds = app.update(Msg::Deleted {
        model: "posts".into(),
        key: vec![Value::Integer(2)],
    });
    assert_eq!(crumbs(&app), ["models", "posts"]);
    // The first page is read from the top again (rows added above it would show).
    assert!(
        matches!(
            &cmds[0],
            Cmd::LoadPage {
                anchor: PageAnchor::First,
                ..
            }
        ),
        "{cmds:?}"
    );
}

#[test]
fn reload_theirs_reopens_the_form_on_the_row_as_it_is_with_yours_aside() {
    let mut app = list_with(Capabilities::ALL);
    app.update(special(Key::Enter));
    app.update(record_msg(1, Capabilities::ALL));
    app.update(key('e'));
    app.update(form_msg(Some(1)));
    app.update(special(Key::End));
    for c in " (mine)".chars() {
        app.update(key(c));
    }
    app.update(Msg::Conflict {
        model: "posts".into(),
        key: vec![Value::Integer(1)],
        fields: vec![(
            "title".into(),
            Value::Text("post".into()),
            Value::Text("post (mine)".into()),
            Value::Text("post (theirs)".into()),
        )],
    });
    assert_eq!(crumbs(&app).last().map(String::as_str), Some("conflict"));
    let screen = render(&mut app).backend().to_string();
    assert!(
        screen.contains("post (mine)") && screen.contains("post (theirs)"),
        "{screen}"
    );
    let cmds = app.update(key('r'));
    assert_eq!(crumbs(&app), ["models", "posts", "posts#1", "edit"]);
    assert_eq!(
        cmds,
        vec![Cmd::OpenForm {
            model: "posts".into(),
            key: Some(vec![Value::Integer(1)])
        }]
    );
    // The row as it is now fills the same form; the edit waits aside.
    let mut now = form_msg(Some(1));
    if let Msg::Form { fields, .. } = &mut now {
        fields[1].1 = Value::Text("post (theirs)".into());
    }
    app.update(now);
    assert_eq!(crumbs(&app), ["models", "posts", "posts#1", "edit"]);
    let screen = render(&mut app).backend().to_string();
    assert!(screen.contains("post (theirs)"), "{screen}");
    assert!(screen.contains("yours: post (mine) (Ctrl-Y)"), "{screen}");
    app.update(ctrl('y'));
    let screen = render(&mut app).backend().to_string();
    assert!(screen.contains("title      post (mine)"), "{screen}");
}

#[test]
fn a_picked_row_and_edited_text_go_back_into_the_form() {
    let mut app = list_with(Capabilities::ALL);
    app.update(form_msg(Some(1)));
    app.update(special(Key::Tab)); // author_id
    let cmds = app.update(ctrl('p'));
    // The picker opens at the field's value (author 1).
    let anchor = PageAnchor::From(vec![Value::Integer(1)]);
    assert!(
        matches!(&cmds[0], Cmd::LoadPage { model, anchor: a, .. } if model == "authors" && *a == anchor),
        "{cmds:?}"
    );
    app.update(Msg::Page {
        links: Vec::new(),
        model: "authors".into(),
        anchor,
        page: page(7..=9),
        caps: Capabilities::default(),
        row_caps: None,
        key_columns: vec!["id".into()],
        kinds: vec![],
    });
    // A picker is not a place to edit or delete.
    assert!(app.update(key('d')).is_empty() && app.update(key('e')).is_empty());
    app.update(key('j'));
    app.update(special(Key::Enter));
    assert_eq!(crumbs(&app).last().map(String::as_str), Some("edit"));
    let screen = render(&mut app).backend().to_string();
    assert!(screen.contains("author_id  8"), "{screen}");

    app.update(special(Key::BackTab)); // title
    app.update(ctrl('e'));
    app.update(key('!'));
    app.update(ctrl('s'));
    let screen = render(&mut app).backend().to_string();
    assert!(screen.contains("!post"), "{screen}");
}

#[test]
fn a_record_whose_first_load_fails_closes_and_esc_and_q_go_back() {
    let mut app = list_with(Capabilities::ALL);
    app.update(special(Key::Enter));
    assert_eq!(crumbs(&app).len(), 3);
    app.update(Msg::Failed("permission denied: no view_posts".into()));
    assert_eq!(crumbs(&app), ["models", "posts"]);
    assert!(matches!(app.status, Some(Status::Error(_))));
    app.update(special(Key::Esc));
    assert_eq!(crumbs(&app), ["models"]);
    assert_eq!(app.update(key('q')), vec![Cmd::Quit]);
    assert!(app.quit);
}

#[test]
fn the_footer_offers_only_what_the_user_may_do() {
    let read_only = Capabilities::default();
    let mut app = list_with(read_only);
    let f = footer(&mut app);
    assert!(f.contains("/ search"), "{f}");
    for absent in ["e edit", "n new", "d delete", "x export"] {
        assert!(!f.contains(absent), "{absent} in {f}");
    }
    // The help lists them, greyed.
    app.update(key('?'));
    let t = render(&mut app);
    let buf = t.backend().buffer();
    let row = (0..24)
        .find(|y| {
            let line: String = (0..80).map(|x| buf[(x, *y)].symbol().to_string()).collect();
            line.contains(" edit ")
        })
        .expect("edit in the help");
    let x = (0..80)
        .find(|x| buf[(*x, row)].symbol() == "e")
        .expect("the e key");
    assert_eq!(buf[(x, row)].fg, Color::DarkGray);

    let mut app = list_with(Capabilities::ALL);
    let f = footer_at(&mut app, 120);
    for present in ["e edit", "n new", "d delete", "x export", "? help"] {
        assert!(f.contains(present), "{present} not in {f}");
    }
    // At 80 columns what does not fit is left to the help, which `? help` still offers.
    let f = footer(&mut app);
    assert!(f.trim_end().ends_with("? help"), "{f}");
}

#[test]
fn object_permissions_enable_keys_row_by_row() {
    let mut app = list_with(Capabilities::default());
    let editable = Capabilities {
        change: true,
        ..Capabilities::default()
    };
    app.update(key('s')); // sorting asks for the first page again
    app.update(Msg::Page {
        links: Vec::new(),
        model: "posts".into(),
        anchor: PageAnchor::First,
        page: page(1..=2),
        caps: Capabilities::default(),
        row_caps: Some(vec![Capabilities::default(), editable]),
        key_columns: vec!["id".into()],
        kinds: vec![],
    });
    assert!(!footer(&mut app).contains("e edit"));
    app.update(key('j'));
    assert!(footer(&mut app).contains("e edit"));
}

#[test]
fn a_record_offers_what_the_user_may_do_on_it() {
    let mut app = list_with(Capabilities::ALL);
    app.update(special(Key::Enter));
    app.update(record_msg(1, Capabilities::default()));
    let f = footer(&mut app);
    assert!(
        f.contains("H history") && !f.contains("e edit") && !f.contains("d delete"),
        "{f}"
    );
    assert!(!f.contains("o permissions"), "{f}");
}

#[test]
fn a_prompt_answer_goes_to_the_screen_that_asked() {
    let mut app = list_with(Capabilities::ALL);
    app.update(key('/'));
    for c in "kafka".chars() {
        app.update(key(c));
    }
    let cmds = app.update(special(Key::Enter));
    assert!(
        matches!(&cmds[0], Cmd::LoadPage { query, .. } if query.search.as_deref() == Some("kafka")),
        "{cmds:?}"
    );
    // `:posts 42` asks the session for the model and the row; it answers with both.
    app.update(key(':'));
    for c in "posts 42".chars() {
        app.update(key(c));
    }
    assert_eq!(
        app.update(special(Key::Enter)),
        vec![Cmd::Open {
            model: "posts".into(),
            key: Some("42".into())
        }]
    );
}

#[test]
fn the_idle_warning_lasts_until_the_next_key() {
    let mut app = list_with(Capabilities::ALL);
    app.update(Msg::Warning("closes in 60 s".into()));
    assert!(footer(&mut app).contains("closes in 60 s"));
    app.update(key('j'));
    assert!(!footer(&mut app).contains("closes in 60 s"));
}

fn answer_page(app: &mut App, cmds: &[Cmd], keys: std::ops::RangeInclusive<i64>) -> Vec<Cmd> {
    let anchor = cmds
        .iter()
        .find_map(|c| match c {
            Cmd::LoadPage { anchor, .. } => Some(anchor.clone()),
            _ => None,
        })
        .expect("a page asked for");
    app.update(Msg::Page {
        links: Vec::new(),
        model: "posts".into(),
        anchor,
        page: page(keys),
        caps: Capabilities::ALL,
        row_caps: None,
        key_columns: vec!["id".into()],
        kinds: vec![],
    })
}

fn selected_key(app: &App) -> String {
    let screen = app
        .clone()
        .stack
        .pop()
        .map(|e| format!("{:?}", e.screen))
        .unwrap();
    screen
}

#[test]
fn back_from_an_edit_shows_the_list_as_it_is_now() {
    let mut app = list_with(Capabilities::ALL);
    app.update(key('j'));
    app.update(special(Key::Enter));
    app.update(record_msg(2, Capabilities::ALL));
    app.update(key('e'));
    app.update(form_msg(Some(2)));
    app.update(Msg::Saved {
        model: "posts".into(),
        key: vec![Value::Integer(2)],
        created: false,
    });
    // Back on the list: it reads its page again; the page holds the whole list, so that
    // is its count (no count query).
    let cmds = app.update(special(Key::Esc));
    assert!(matches!(&cmds[..], [Cmd::LoadPage { .. }]), "{cmds:?}");
    assert_eq!(answer_page(&mut app, &cmds, 1..=5), vec![]);
    // And the index, one level up, reads the models again.
    let cmds = app.update(special(Key::Esc));
    assert_eq!(cmds, vec![Cmd::LoadModels]);
}

/// A list asks for its count once its page is in, and only when that page does not
/// hold the whole list: a search that finds a page or less costs one query.
#[test]
fn a_list_counts_after_its_page_unless_the_page_holds_it_all() {
    let mut app = list_with(Capabilities::ALL);
    let search = |app: &mut App, term: &str| {
        app.update(key('/'));
        for c in term.chars() {
            app.update(key(c));
        }
        app.update(special(Key::Enter))
    };
    let counted = |app: &App| format!("{:?}", app.stack.last().map(|e| &e.screen));
    // Found more than a page: the count is asked for after the page.
    let cmds = search(&mut app, "post");
    assert!(matches!(&cmds[..], [Cmd::LoadPage { .. }]), "{cmds:?}");
    let anchor = PageAnchor::First;
    let mut more = page(1..=5);
    more.has_after = true;
    let after = app.update(Msg::Page {
        links: Vec::new(),
        model: "posts".into(),
        anchor,
        page: more,
        caps: Capabilities::ALL,
        row_caps: None,
        key_columns: vec!["id".into()],
        kinds: vec![],
    });
    assert!(matches!(&after[..], [Cmd::Count { .. }]), "{after:?}");
    // Found a page or less: its rows are the count, and nothing more is asked.
    let cmds = search(&mut app, " 3");
    assert!(matches!(&cmds[..], [Cmd::LoadPage { .. }]), "{cmds:?}");
    assert_eq!(answer_page(&mut app, &cmds, 3..=3), vec![]);
    assert!(
        counted(&app).contains("count: Some(Exact(1))"),
        "{}",
        counted(&app)
    );
    // A later page of the same list asks for no count of its own.
    assert!(app.update(special(Key::Down)).is_empty());
}

#[test]
fn the_selection_follows_its_row_when_rows_shift() {
    let mut app = list_with(Capabilities::ALL);
    app.update(key('j'));
    app.update(key('j')); // on post 3
    let cmds = app.update(ctrl('r'));
    // Two rows were added before it: post 3 is now fourth... and one after it went.
    let mut shifted = page(1..=5);
    shifted.rows.insert(
        0,
        ListRow {
            key: vec![Value::Integer(0)],
            cursor: vec![Value::Integer(0)],
            values: vec![Value::Integer(0), Value::Text("post 0".into())],
        },
    );
    let anchor = match &cmds[0] {
        Cmd::LoadPage { anchor, .. } => anchor.clone(),
        other => panic!("{other:?}"),
    };
    app.update(Msg::Page {
        links: Vec::new(),
        model: "posts".into(),
        anchor,
        page: shifted,
        caps: Capabilities::ALL,
        row_caps: None,
        key_columns: vec!["id".into()],
        kinds: vec![],
    });
    assert!(
        selected_key(&app).contains("selected: 3"),
        "{}",
        selected_key(&app)
    );
    // `e` edits the row that was selected, not the one now in its place.
    assert_eq!(
        app.update(key('e')),
        vec![Cmd::OpenForm {
            model: "posts".into(),
            key: Some(vec![Value::Integer(3)])
        }]
    );
}

#[test]
fn a_selected_row_that_is_gone_is_said_so_and_its_neighbour_selected() {
    let mut app = list_with(Capabilities::ALL);
    app.update(key('j')); // on post 2
    let cmds = app.update(ctrl('r'));
    let mut without = page(1..=5);
    without.rows.remove(1);
    let anchor = match &cmds[0] {
        Cmd::LoadPage { anchor, .. } => anchor.clone(),
        other => panic!("{other:?}"),
    };
    app.update(Msg::Page {
        links: Vec::new(),
        model: "posts".into(),
        anchor,
        page: without,
        caps: Capabilities::ALL,
        row_caps: None,
        key_columns: vec!["id".into()],
        kinds: vec![],
    });
    match &app.status {
        Some(Status::Notice(t)) => assert!(t.as_str().contains("is gone"), "{t}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        app.update(key('e')),
        vec![Cmd::OpenForm {
            model: "posts".into(),
            key: Some(vec![Value::Integer(3)])
        }]
    );
}

#[test]
fn ctrl_l_repaints_and_the_timer_leaves_forms_alone() {
    let mut app = list_with(Capabilities::ALL);
    app.update(ctrl('l'));
    assert!(app.take_repaint() && !app.take_repaint());
    // The refresh timer reads the list again…
    let cmds = app.update(Msg::Tick);
    assert!(matches!(&cmds[..], [Cmd::LoadPage { .. }]), "{cmds:?}");
    answer_page(&mut app, &cmds, 1..=5);
    // …but not a form being typed into, nor the prompt open over the list.
    app.update(form_msg(Some(1)));
    assert!(app.update(Msg::Tick).is_empty());
    app.update(special(Key::Esc));
    app.update(key('/'));
    app.update(key('x'));
    let cmds = app.update(Msg::Tick);
    assert!(!cmds.is_empty());
    answer_page(&mut app, &cmds, 1..=5);
    assert_eq!(app.prompt.as_ref().map(|p| p.text.as_str()), Some("x"));
}

#[test]
fn colon_commands_replace_the_screens_above_the_index() {
    let mut app = list_with(Capabilities::ALL);
    app.update(special(Key::Enter));
    app.update(record_msg(1, Capabilities::ALL));
    app.update(key(':'));
    for c in "users".chars() {
        app.update(key(c));
    }
    app.update(special(Key::Enter));
    assert_eq!(crumbs(&app), ["models", "users"]);
    // `:posts 42` answered: the list, then the record, straight above the index.
    let summary = ModelSummary {
        name: "posts".into(),
        label: "posts".into(),
        columns: 2,
        ordering: None,
        page_size: None,
        bulk_actions: vec![],
        caps: Capabilities::ALL,
    };
    let cmds = app.update(Msg::Open {
        model: Box::new(summary),
        key: Some(vec![Value::Integer(42)]),
    });
    assert_eq!(crumbs(&app), ["models", "posts", "posts#42"]);
    assert!(cmds.contains(&Cmd::LoadRecord {
        model: "posts".into(),
        key: vec![Value::Integer(42)]
    }));
}

#[test]
fn the_step_up_notice_goes_once_the_code_is_typed() {
    let (mut app, _) = App::new("admin", 50, (80, 24));
    app.update(Msg::StepUp("backup codes".into()));
    assert!(render_text(&mut app).contains("Verification code (step-up)"));
    assert!(app.status.is_some());
    for c in "123456".chars() {
        app.update(key(c));
    }
    let cmds = app.update(special(Key::Enter));
    assert!(matches!(cmds.as_slice(), [Cmd::StepUp { .. }]), "{cmds:?}");
    app.update(Msg::BackupCodes {
        codes: vec![crate::tui::protocol::Secret("aaaa-bbbb".into())],
    });
    let shown = render_text(&mut app);
    assert!(shown.contains("aaaa-bbbb"), "{shown}");
    assert!(
        !shown.contains("needs a fresh"),
        "a stale notice stayed:\n{shown}"
    );
}

#[test]
fn f1_opens_the_help_in_a_form_where_question_mark_is_text() {
    let mut app = list_with(Capabilities::ALL);
    app.update(key('n'));
    app.update(form_msg(None));
    app.update(key('?'));
    assert_eq!(app.help, None, "? is typed into the field");
    app.update(special(Key::F(1)));
    assert_eq!(app.help, Some(0));
    let screen = render_text(&mut app);
    assert!(screen.contains("Ctrl-S"), "{screen}");
    // Any key but a scroll key closes it, and is not typed.
    app.update(key('x'));
    assert_eq!(app.help, None);
}

#[test]
fn the_help_scrolls_within_its_rows_and_closes_on_any_other_key() {
    let mut app = list_with(Capabilities::ALL);
    app.update(key('?'));
    for _ in 0..500 {
        app.update(special(Key::Down));
    }
    let bottom = app.help.unwrap_or_default();
    assert!(bottom > 0 && bottom < 100, "{bottom}");
    app.update(special(Key::PageUp));
    assert_eq!(app.help, Some(bottom.saturating_sub(10)));
    // At 80x24 the last shared key shows once scrolled down, and the title says there
    // is more above.
    for _ in 0..500 {
        app.update(special(Key::Down));
    }
    let screen = render_text(&mut app);
    assert!(screen.contains("Ctrl-C"), "{screen}");
    assert!(screen.contains("↑ more"), "{screen}");
    app.update(special(Key::Enter));
    assert_eq!(app.help, None);
    assert_eq!(
        crumbs(&app),
        ["models", "posts"],
        "Enter closed the help only"
    );
}

/// A list takes a count only for its own search and filters: another list of the same
/// model on the stack (related rows through a self-referencing key, a picker for one)
/// counts other rows.
#[test]
fn a_count_for_other_filters_is_not_taken() {
    let mut app = list_with(Capabilities::ALL);
    let shown = |app: &App| format!("{:?}", app.stack.last().map(|e| &e.screen));
    assert!(
        shown(&app).contains("count: Some(Exact(5))"),
        "{}",
        shown(&app)
    );
    app.update(Msg::Counted {
        model: "posts".into(),
        query: ListQuery {
            filters: vec![crate::domain::Filter {
                column: "title".into(),
                op: crate::domain::FilterOp::Equals(Value::Text("post 1".into())),
            }],
            ..ListQuery::default()
        },
        count: RowCount::Exact(1),
    });
    assert!(
        shown(&app).contains("count: Some(Exact(5))"),
        "the list of 5 rows took the count of another query: {}",
        shown(&app)
    );
}
