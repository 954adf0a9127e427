use super::*;
use crate::config::ModelConfig;
use crate::domain::ColumnInfo;

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

/// `posts (id, title, slug, secret, note, data)`.
fn posts() -> TableInfo {
    TableInfo {
        name: "posts".into(),
        columns: vec![
            col("id", "INTEGER", 1),
            col("title", "TEXT", 0),
            col("slug", "TEXT", 0),
            col("secret", "TEXT", 0),
            col("note", "TEXT", 0),
            col("data", "BLOB", 0),
        ],
        primary_key: vec!["id".into()],
        foreign_keys: Vec::new(),
        has_rowid: true,
        pg_name: None,
    }
}

/// `posts` as a user under: slug read-only, secret hidden, note masked.
fn ruled() -> Shown {
    let rules = ModelConfig {
        read_only: vec!["slug".into()],
        hidden: vec!["secret".into()],
        masked: vec!["note".into()],
        ..ModelConfig::default()
    };
    crate::perm::columns::shown(&posts(), Some(&rules), &HashSet::new())
}

fn free() -> Shown {
    crate::perm::columns::shown(&posts(), None, &HashSet::new())
}

fn map(json: &str) -> Map<String, J> {
    match serde_json::from_str(json).unwrap() {
        J::Object(m) => m,
        other => panic!("{other}"),
    }
}

fn pairs(list: &[(&str, Value)]) -> Vec<(String, Value)> {
    list.iter()
        .map(|(c, v)| (c.to_string(), v.clone()))
        .collect()
}

#[test]
fn a_revert_writes_the_before_values_of_the_changed_columns_only() {
    let before = map(r#"{"title":"old","data":"<2 bytes> 00ff"}"#);
    let after = map(r#"{"title":"new","data":null}"#);
    let (writes, expected, hidden) = revert_plan(&free(), &posts(), &before, &after).unwrap();
    assert_eq!(
        writes,
        pairs(&[
            ("title", Value::Text("old".into())),
            ("data", Value::Blob(vec![0, 0xff]))
        ])
    );
    assert_eq!(
        expected,
        pairs(&[("title", Value::Text("new".into())), ("data", Value::Null)])
    );
    assert_eq!(hidden, 0);
}

#[test]
fn a_revert_leaves_hidden_columns_and_refuses_read_only_or_masked_ones() {
    // A hidden column is left as it is (and counted); the rest is written.
    let before = map(r#"{"title":"old","secret":"s0"}"#);
    let after = map(r#"{"title":"new","secret":"s1"}"#);
    let (writes, _, hidden) = revert_plan(&ruled(), &posts(), &before, &after).unwrap();
    assert_eq!(writes, pairs(&[("title", Value::Text("old".into()))]));
    assert_eq!(hidden, 1);
    // Only hidden columns: nothing the user may revert.
    let only_hidden = revert_plan(
        &ruled(),
        &posts(),
        &map(r#"{"secret":"a"}"#),
        &map(r#"{"secret":"b"}"#),
    );
    assert!(
        matches!(only_hidden, Err(Refusal::Failed(_))),
        "{only_hidden:?}"
    );
    // A read-only or a masked column refuses the whole revert, as a denial.
    for c in ["slug", "note"] {
        let before = map(&format!(r#"{{"title":"old","{c}":"x"}}"#));
        let after = map(&format!(r#"{{"title":"new","{c}":"y"}}"#));
        assert_eq!(
            revert_plan(&ruled(), &posts(), &before, &after),
            Err(Refusal::Denied(format!("{c} is read-only")))
        );
        // Without the rules, both columns are written back.
        let (writes, _, _) = revert_plan(&free(), &posts(), &before, &after).unwrap();
        assert_eq!(writes.len(), 2);
    }
}

#[test]
fn a_revert_of_a_key_change_or_of_a_dropped_column_is_refused() {
    let key = revert_plan(&free(), &posts(), &map(r#"{"id":1}"#), &map(r#"{"id":2}"#));
    assert!(
        matches!(key, Err(Refusal::Failed(ref w)) if w.contains("key")),
        "{key:?}"
    );
    let gone = revert_plan(
        &free(),
        &posts(),
        &map(r#"{"gone":1}"#),
        &map(r#"{"gone":2}"#),
    );
    assert!(
        matches!(gone, Err(Refusal::Failed(ref w)) if w.contains("gone")),
        "{gone:?}"
    );
}

#[test]
fn a_restore_writes_the_whole_row_or_nothing() {
    // Under the rules, NULLs in columns the user may not set are fine (nothing is
    // written there); the key is written even though it is an auto key.
    let before = map(r#"{"id":7,"title":"t","slug":null,"secret":null,"note":null,"data":null}"#);
    let (key, writes) = restore_plan(&ruled(), &posts(), &before).unwrap();
    assert_eq!(key, vec![Value::Integer(7)]);
    assert_eq!(
        writes,
        pairs(&[
            ("id", Value::Integer(7)),
            ("title", Value::Text("t".into())),
            ("data", Value::Null)
        ])
    );
    // A value in the read-only slug: refused.
    let slug = map(r#"{"id":7,"title":"t","slug":"s"}"#);
    assert_eq!(
        restore_plan(&ruled(), &posts(), &slug),
        Err(Refusal::Denied("slug is read-only".into()))
    );
    let full = map(r#"{"id":7,"title":"t","slug":null,"secret":"x","note":null,"data":null}"#);
    assert_eq!(
        restore_plan(&ruled(), &posts(), &full),
        Err(Refusal::Denied(
            "the row had values in columns hidden from you".into()
        ))
    );
    let masked = map(r#"{"id":7,"title":"t","slug":null,"note":"n"}"#);
    assert_eq!(
        restore_plan(&ruled(), &posts(), &masked),
        Err(Refusal::Denied("note is read-only".into()))
    );
    // Without rules every column comes back, the key (an auto key) included.
    let (key, writes) = restore_plan(&free(), &posts(), &full).unwrap();
    assert_eq!(key, vec![Value::Integer(7)]);
    assert_eq!(writes.len(), 6);
    assert_eq!(writes[3], ("secret".to_string(), Value::Text("x".into())));
    // No key recorded: nothing to restore under.
    let keyless = restore_plan(&free(), &posts(), &map(r#"{"title":"t"}"#));
    assert!(matches!(keyless, Err(Refusal::Failed(_))), "{keyless:?}");
}

#[test]
fn only_successful_changes_and_deletes_with_values_are_offered() {
    let entry =
        |action: &str, outcome: &str, before: Option<&str>, after: Option<&str>| AuditEntry {
            action: action.into(),
            outcome: outcome.into(),
            model: Some("posts".into()),
            pk: Some("1".into()),
            before: before.map(|b| serde_json::from_str(b).unwrap()),
            after: after.map(|a| serde_json::from_str(a).unwrap()),
            ..AuditEntry::default()
        };
    let v = Some(r#"{"title":"a"}"#);
    assert_eq!(
        kind_of(&entry("change", "success", v, v)),
        Some(UndoKind::Revert)
    );
    assert_eq!(
        kind_of(&entry("overwrite", "success", v, v)),
        Some(UndoKind::Revert)
    );
    assert_eq!(
        kind_of(&entry("revert", "success", v, v)),
        Some(UndoKind::Revert)
    );
    assert_eq!(
        kind_of(&entry("delete", "success", v, None)),
        Some(UndoKind::Restore)
    );
    assert_eq!(kind_of(&entry("change", "denied", v, v)), None);
    assert_eq!(kind_of(&entry("delete", "denied", None, None)), None);
    assert_eq!(kind_of(&entry("add", "success", None, v)), None);
    assert_eq!(kind_of(&entry("restore", "success", None, v)), None);
}

#[test]
fn keys_are_read_back_from_their_audit_text_exactly() {
    let single = posts();
    assert_eq!(key_of_text(&single, "42"), Some(vec![Value::Integer(42)]));
    assert_eq!(
        key_of_text(&single, "042"),
        None,
        "does not read back the same"
    );
    assert_eq!(key_of_text(&single, "x"), None);
    let mut text = posts();
    text.columns[0].decl_type = "TEXT".into();
    assert_eq!(
        key_of_text(&text, "a, b"),
        Some(vec![Value::Text("a, b".into())])
    );
    let composite = TableInfo {
        name: "pairs".into(),
        columns: vec![col("region", "TEXT", 1), col("n", "INTEGER", 2)],
        primary_key: vec!["region".into(), "n".into()],
        ..posts()
    };
    for key in [
        vec![Value::Text("eu".into()), Value::Integer(7)],
        vec![Value::Text("a, \"b\"\n\u{1b}é".into()), Value::Integer(-1)],
        vec![Value::Text(String::new()), Value::Integer(0)],
    ] {
        assert_eq!(key_of_text(&composite, &key_text(&key)), Some(key.clone()));
    }
    assert_eq!(key_of_text(&composite, "(eu, 7)"), None);
    assert_eq!(key_of_text(&composite, "(\"eu\")"), None);
}
