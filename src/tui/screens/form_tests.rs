//! Unit tests of the form: typed fields, validation, NULL, keys, Ctrl-T.

use super::*;

fn col(name: &str, ty: &str, not_null: bool) -> ColumnInfo {
    ColumnInfo {
        check_values: Vec::new(),
        name: name.into(),
        decl_type: ty.into(),
        not_null,
        default: None,
        pk_ordinal: 0,
        pg_type: None,
    }
}

#[test]
fn ctrl_t_asks_the_time_for_a_date_or_timestamp_field_and_puts_it_there() {
    let fields = [
        (col("title", "TEXT", true), Value::Null, false),
        (col("due", "DATE", false), Value::Null, false),
        (col("opened_at", "TIMESTAMP", true), Value::Null, false),
        (col("closed_at", "TIMESTAMP", false), Value::Null, true),
    ];
    let mut form = FormScreen::from_msg("t", None, &fields, &[], 100);
    assert_eq!(
        form.key(KeyEvent::ctrl('t')),
        FormAction::None,
        "title is text"
    );
    form.focus = 1;
    assert_eq!(form.key(KeyEvent::ctrl('t')), FormAction::Now);
    let t = 1_764_930_245; // 2025-12-05 10:24:05 UTC
    Screen::update(&mut form, &Msg::Now(t));
    assert_eq!(form.fields[1].text, "2025-12-05");
    form.focus = 2;
    Screen::update(&mut form, &Msg::Now(t));
    assert_eq!(form.fields[2].text, "2025-12-05 10:24:05");
    assert!(form.dirty());
    form.focus = 3;
    assert_eq!(
        form.key(KeyEvent::ctrl('t')),
        FormAction::None,
        "read-only stays as it is"
    );
}

#[test]
fn kinds_from_declared_types() {
    for (ty, kind) in [
        ("INTEGER", ColumnKind::Integer),
        ("BIGINT", ColumnKind::Integer),
        ("BOOLEAN", ColumnKind::Boolean),
        ("VARCHAR(20)", ColumnKind::Text),
        ("TEXT", ColumnKind::Text),
        ("REAL", ColumnKind::Real),
        ("NUMERIC(10,2)", ColumnKind::Real),
        ("DATE", ColumnKind::Date),
        ("TIMESTAMP", ColumnKind::Timestamp),
        ("DATETIME", ColumnKind::Timestamp),
        ("TIME", ColumnKind::Time),
        ("BLOB", ColumnKind::Blob),
        ("", ColumnKind::Text),
    ] {
        assert_eq!(ColumnKind::of(ty), kind, "{ty}");
    }
}

fn pg_col(name: &str, decl: &str, typ: &str, labels: &[&str]) -> ColumnInfo {
    ColumnInfo {
        check_values: Vec::new(),
        pg_type: Some(crate::domain::PgType {
            schema: if labels.is_empty() {
                "pg_catalog"
            } else {
                "public"
            }
            .into(),
            name: typ.into(),
            labels: labels.iter().map(|l| l.to_string()).collect(),
        }),
        ..col(name, decl, false)
    }
}

#[test]
fn kinds_from_postgres_types() {
    for (decl, typ, kind) in [
        ("integer", "int4", ColumnKind::Integer),
        ("double precision", "float8", ColumnKind::Real),
        ("numeric(10,2)", "numeric", ColumnKind::Text),
        ("interval", "interval", ColumnKind::Text),
        ("integer[]", "_int4", ColumnKind::Text),
        ("uuid", "uuid", ColumnKind::Text),
        ("boolean", "bool", ColumnKind::Boolean),
        (
            "timestamp with time zone",
            "timestamptz",
            ColumnKind::Timestamp,
        ),
        ("jsonb", "jsonb", ColumnKind::Json),
        ("bytea", "bytea", ColumnKind::Blob),
    ] {
        assert_eq!(
            ColumnKind::of_column(&pg_col("c", decl, typ, &[])),
            kind,
            "{decl}"
        );
    }
    let mood = pg_col("m", "mood", "mood", &["sad", "ok"]);
    assert_eq!(ColumnKind::of_column(&mood), ColumnKind::Choice);
}

#[test]
fn enum_fields_step_through_their_labels_and_json_is_checked() {
    let mood = pg_col("m", "mood", "mood", &["sad", "ok", "happy"]);
    let field = Field::new(&mood, &Value::Text("ok".into()), false);
    let mut form = FormScreen::new("t".into(), SafeText::new("t"), None, vec![field]);
    form.key(KeyEvent::plain(Key::Char(' ')));
    assert_eq!(form.fields[0].value(), Ok(Value::Text("happy".into())));
    form.key(KeyEvent::plain(Key::Char(' ')));
    assert_eq!(form.fields[0].value(), Ok(Value::Text("sad".into())));
    form.fields[0].text = "angry".into();
    assert!(form.fields[0]
        .value()
        .unwrap_err()
        .contains("sad, ok, happy"));

    let mut doc = Field::new(&pg_col("d", "jsonb", "jsonb", &[]), &Value::Null, false);
    doc.null = false;
    doc.text = "{\"a\": [1, 2".into();
    assert!(doc.value().unwrap_err().contains("not valid JSON"));
    doc.text = "{\"a\": [1, 2]}".into();
    assert_eq!(doc.value(), Ok(Value::Text("{\"a\": [1, 2]}".into())));

    let mut at = Field::new(
        &pg_col("t", "timestamptz", "timestamptz", &[]),
        &Value::Null,
        false,
    );
    at.null = false;
    for ok in [
        "2024-05-01 12:00:00+00",
        "2024-05-01 12:00:00-05:30",
        "2024-05-01T12:00:00Z",
    ] {
        at.text = ok.into();
        assert!(at.value().is_ok(), "{ok}");
    }
    at.text = "2024-05-01 12:00:00+5".into();
    assert!(at.value().is_err());
}

#[test]
fn values_are_validated_by_kind() {
    let mut f = Field::new(&col("n", "INTEGER", true), &Value::Integer(3), false);
    f.text = "12x".into();
    assert!(f.value().unwrap_err().contains("not a whole number"));
    f.text = " 42 ".into();
    assert_eq!(f.value(), Ok(Value::Integer(42)));
    let mut d = Field::new(&col("d", "DATE", false), &Value::Null, false);
    assert_eq!(d.value(), Ok(Value::Null));
    d.null = false;
    d.text = "2024-02-30".into();
    assert!(d.value().is_err());
    d.text = "2024-02-29".into();
    assert_eq!(d.value(), Ok(Value::Text("2024-02-29".into())));
    let mut t = Field::new(
        &col("t", "TIMESTAMP", true),
        &Value::Text("x".into()),
        false,
    );
    t.text = "2024-01-01 25:00:00".into();
    assert!(t.value().is_err());
    t.text = "2024-01-01 23:59:59".into();
    assert!(t.value().is_ok());
    // Typed without seconds, or with a T: stored the way lists show it.
    t.text = "2026-12-01 10:00".into();
    assert_eq!(t.value(), Ok(Value::Text("2026-12-01 10:00:00".into())));
    t.text = "2026-12-01T10:00+02:00".into();
    assert_eq!(
        t.value(),
        Ok(Value::Text("2026-12-01 10:00:00+02:00".into()))
    );
    // Untouched, a value the database wrote with a T is not a change.
    let stored = Field::new(
        &col("t", "TIMESTAMP", true),
        &Value::Text("2026-12-01T10:00:00".into()),
        false,
    );
    assert!(!stored.changed());
    let mut b = Field::new(&col("b", "BOOLEAN", true), &Value::Integer(0), false);
    assert_eq!(b.text, "no");
    b.text = "maybe".into();
    assert!(b.value().is_err());
    let mut nn = Field::new(&col("x", "TEXT", true), &Value::Text("a".into()), false);
    nn.null = true;
    assert!(nn.value().unwrap_err().contains("NOT NULL"));
}

#[test]
fn a_database_error_goes_once_the_field_it_blames_is_edited() {
    let fields = || {
        vec![
            Field::new(
                &col("author_id", "INTEGER", false),
                &Value::Integer(9),
                false,
            ),
            Field::new(
                &col("title", "TEXT", false),
                &Value::Text("t".into()),
                false,
            ),
        ]
    };
    let mut form = FormScreen::new("posts".into(), SafeText::new("posts"), None, fields());
    form.blame("FOREIGN KEY constraint failed on posts.author_id");
    assert_eq!(form.focus, 0, "the blamed field gets the focus");
    form.key(KeyEvent::plain(Key::Tab));
    form.key(KeyEvent::plain(Key::Char('x')));
    assert!(form.error.is_some(), "another field's edit leaves it");
    form.key(KeyEvent::plain(Key::BackTab));
    form.key(KeyEvent::plain(Key::End));
    assert!(form.error.is_some(), "moving the cursor edits nothing");
    form.key(KeyEvent::plain(Key::Backspace));
    assert!(form.error.is_none(), "editing the blamed field clears it");
    assert!(form.fields[0].error.is_none());

    // An error that names no field goes with any edit.
    let mut form = FormScreen::new("posts".into(), SafeText::new("posts"), None, fields());
    form.blame("FOREIGN KEY constraint failed");
    form.paste("1");
    assert!(form.error.is_none());
}

#[test]
fn typing_editing_and_refusing_controls() {
    let mut form = FormScreen::new(
        "t".into(),
        SafeText::new("t"),
        Some(vec![Value::Integer(1)]),
        vec![
            Field::new(&col("id", "INTEGER", true), &Value::Integer(1), true),
            Field::new(
                &col("name", "TEXT", false),
                &Value::Text("ab".into()),
                false,
            ),
            Field::new(&col("ok", "BOOLEAN", true), &Value::Integer(1), false),
        ],
    );
    assert_eq!(form.focus, 1, "focus starts on the first editable field");
    form.key(KeyEvent::plain(Key::Left));
    form.key(KeyEvent::plain(Key::Char('X')));
    assert_eq!(form.fields[1].text, "aXb");
    form.key(KeyEvent::ctrl('u'));
    assert_eq!(form.fields[1].text, "");
    form.paste("line\x1b[31m");
    assert!(form.fields[1].error.is_some());
    assert_eq!(
        form.fields[1].text, "",
        "nothing of a refused paste is kept"
    );
    form.key(KeyEvent::ctrl('n'));
    assert!(form.fields[1].null);
    form.key(KeyEvent::plain(Key::Tab));
    form.key(KeyEvent::plain(Key::Char(' ')));
    assert_eq!(form.fields[2].value(), Ok(Value::Integer(0)));
    form.key(KeyEvent::plain(Key::Tab));
    assert_eq!(form.focus, 1, "read-only fields are skipped");
    assert!(form.dirty());
    assert_eq!(form.key(KeyEvent::ctrl('s')), FormAction::Save);
    let values = form.validate().unwrap();
    assert_eq!(values[1], ("name".to_string(), Value::Null));
}
