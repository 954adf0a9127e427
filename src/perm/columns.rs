//! The column policy: which columns of a table one user sees, and what they may do with
//! each (search, sort, filter, change). Pure: a function of the introspected table, the
//! model's rules from config (`hidden`, `masked`, `read_only`, `exempt_groups`, `search`,
//! `list`) and the user's groups. The session applies it before every store call; the
//! console only ever receives what it lets through.

use std::collections::HashSet;

use crate::config::ModelConfig;
use crate::domain::{ColumnKind, TableInfo, Value};

/// What a masked value looks like.
pub const MASK: &str = "••••";

/// A table as one user sees it: hidden columns left out (they are never selected), and per
/// remaining column whether its values are masked and whether the rules make it read-only.
#[derive(Clone, Debug, PartialEq)]
pub struct Shown {
    pub table: TableInfo,
    /// Per column of `table`: whether its values are masked.
    pub masked: Vec<bool>,
    /// Per column of `table`: whether the column rules make it read-only.
    pub read_only: Vec<bool>,
}

/// `table` as a member of `groups` sees it under `rules` (none: every column as it is).
/// A group named in `exempt_groups` sees past the rules.
pub fn shown(table: &TableInfo, rules: Option<&ModelConfig>, groups: &HashSet<String>) -> Shown {
    let rules = rules.filter(|r| !r.exempt_groups.iter().any(|x| groups.contains(x)));
    let Some(rules) = rules else {
        return Shown {
            table: table.clone(),
            masked: vec![false; table.columns.len()],
            read_only: vec![false; table.columns.len()],
        };
    };
    let mut table = table.clone();
    table.columns.retain(|c| !rules.hidden.contains(&c.name));
    let flag = |list: &[String]| {
        table
            .columns
            .iter()
            .map(|c| list.contains(&c.name))
            .collect()
    };
    Shown {
        masked: flag(&rules.masked),
        read_only: flag(&rules.read_only),
        table,
    }
}

impl Shown {
    /// Only the columns named in `names`, in that order (names not shown are left out).
    pub fn only(self, names: &[String]) -> Shown {
        let mut out = Shown {
            table: TableInfo {
                columns: Vec::new(),
                ..self.table.clone()
            },
            masked: Vec::new(),
            read_only: Vec::new(),
        };
        for name in names {
            if let Some(i) = self.position(name) {
                out.table.columns.push(self.table.columns[i].clone());
                out.masked.push(self.masked.get(i).copied().unwrap_or(true));
                out.read_only
                    .push(self.read_only.get(i).copied().unwrap_or(true));
            }
        }
        out
    }

    /// The columns a list shows: the model's `list` when it names some, else all shown.
    pub fn listed(self, rules: Option<&ModelConfig>) -> Shown {
        match rules.map(|r| &r.list).filter(|l| !l.is_empty()) {
            Some(list) => self.only(list),
            None => self,
        }
    }

    fn position(&self, column: &str) -> Option<usize> {
        self.table.columns.iter().position(|c| c.name == column)
    }

    /// Whether the values of `column` may be seen: it is shown and not masked. Searching,
    /// sorting or filtering by a column reveals its values, so each needs this.
    pub fn visible(&self, column: &str) -> bool {
        self.position(column)
            .is_some_and(|i| !self.masked.get(i).copied().unwrap_or(true))
    }

    /// May a list be sorted by `column`?
    pub fn may_sort(&self, column: &str) -> bool {
        self.visible(column)
    }

    /// May a list be filtered by `column`?
    pub fn may_filter(&self, column: &str) -> bool {
        self.visible(column)
    }

    /// The columns `/` searches: the model's `search` list when it names some (those of
    /// them the user may see), else every visible text column.
    pub fn search_columns(&self, rules: Option<&ModelConfig>) -> Vec<String> {
        match rules.map(|r| &r.search).filter(|s| !s.is_empty()) {
            Some(list) => list.iter().filter(|c| self.visible(c)).cloned().collect(),
            None => self
                .table
                .columns
                .iter()
                .filter(|c| c.is_text() && self.visible(&c.name))
                .map(|c| c.name.clone())
                .collect(),
        }
    }

    /// May a form change column `i`? Not if masked, read-only by rule, or (editing) a key
    /// column, or (creating) the auto-numbered integer key.
    pub fn writable(&self, i: usize, creating: bool) -> bool {
        let Some(col) = self.table.columns.get(i) else {
            return false;
        };
        if col.generated() {
            return false;
        }
        let key = self.table.key_columns().contains(&col.name);
        // SQLite's INTEGER PRIMARY KEY (the rowid), or a PostgreSQL key with a default
        // (identity, serial): the database numbers new rows.
        let auto_key = self.table.primary_key.len() == 1
            && key
            && (col.decl_type.eq_ignore_ascii_case("INTEGER")
                || (col.pg_type.is_some() && col.default.is_some()));
        let hidden_value = self.masked.get(i).copied().unwrap_or(true);
        let ruled = self.read_only.get(i).copied().unwrap_or(true);
        let locked_key = if creating { auto_key } else { key };
        !(hidden_value || ruled || locked_key)
    }

    /// The columns a bulk edit may set on marked rows (indexes into `table.columns`):
    /// those a form may change on an existing row — never a key, generated, masked or
    /// read-only column (hidden ones are not shown at all) — and not binary ones, which
    /// no form edits.
    pub fn bulk_settable(&self) -> Vec<usize> {
        (0..self.table.columns.len())
            .filter(|&i| {
                self.writable(i, false)
                    && ColumnKind::of_column(&self.table.columns[i]) != ColumnKind::Blob
            })
            .collect()
    }

    /// May a bulk edit set `column`? (See [`Shown::bulk_settable`].)
    pub fn may_bulk_set(&self, column: &str) -> bool {
        self.position(column)
            .is_some_and(|i| self.bulk_settable().contains(&i))
    }

    /// Replace the values of masked columns (NULL stays NULL).
    pub fn mask(&self, values: &mut [Value]) {
        for (value, masked) in values.iter_mut().zip(&self.masked) {
            if *masked && !value.is_null() {
                *value = Value::Text(MASK.into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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

    fn users() -> TableInfo {
        TableInfo {
            name: "users".into(),
            columns: vec![
                col("id", "INTEGER", 1),
                col("email", "TEXT", 0),
                col("password", "TEXT", 0),
                col("api_token", "TEXT", 0),
                col("karma", "INTEGER", 0),
                col("notes", "TEXT", 0),
            ],
            primary_key: vec!["id".into()],
            foreign_keys: vec![],
            has_rowid: true,
            pg_name: None,
        }
    }

    fn rules() -> ModelConfig {
        ModelConfig {
            hidden: vec!["password".into()],
            masked: vec!["api_token".into()],
            read_only: vec!["karma".into()],
            exempt_groups: vec!["security".into()],
            ..ModelConfig::default()
        }
    }

    fn groups(names: &[&str]) -> HashSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    fn names(s: &Shown) -> Vec<&str> {
        s.table.columns.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn hidden_columns_are_gone_masked_ones_masked_and_exempt_groups_see_all() {
        let t = users();
        let s = shown(&t, Some(&rules()), &groups(&["support"]));
        assert_eq!(names(&s), ["id", "email", "api_token", "karma", "notes"]);
        assert_eq!(s.masked, [false, false, true, false, false]);
        let mut values = vec![
            Value::Integer(1),
            Value::Text("a@b".into()),
            Value::Text("sk-123".into()),
            Value::Integer(3),
            Value::Null,
        ];
        s.mask(&mut values);
        assert_eq!(values[2], Value::Text(MASK.into()));
        assert_eq!(values[4], Value::Null);

        let exempt = shown(&t, Some(&rules()), &groups(&["security"]));
        assert_eq!(exempt.table.columns.len(), 6);
        assert!(exempt.masked.iter().all(|m| !m));
        assert_eq!(shown(&t, None, &groups(&[])).table.columns.len(), 6);
    }

    #[test]
    fn masked_and_hidden_columns_cannot_be_searched_sorted_or_filtered() {
        let s = shown(&users(), Some(&rules()), &groups(&[]));
        for c in ["api_token", "password", "nosuch"] {
            assert!(!s.may_sort(c) && !s.may_filter(c), "{c}");
        }
        assert!(s.may_sort("email") && s.may_filter("karma"));
        // Default search: visible text columns only.
        assert_eq!(s.search_columns(None), ["email", "notes"]);
        // A configured list is cut to what the user may see.
        let mut r = rules();
        r.search = vec!["api_token".into(), "notes".into(), "password".into()];
        assert_eq!(s.search_columns(Some(&r)), ["notes"]);
    }

    #[test]
    fn what_a_form_may_change() {
        let s = shown(&users(), Some(&rules()), &groups(&[]));
        let i = |c: &str| s.position(c).unwrap();
        // The integer key is numbered by the database and never changed.
        assert!(!s.writable(i("id"), true) && !s.writable(i("id"), false));
        assert!(s.writable(i("email"), false));
        assert!(!s.writable(i("api_token"), false), "masked");
        assert!(!s.writable(i("karma"), false), "read-only by rule");
        assert!(!s.writable(99, false));
    }

    #[test]
    fn a_bulk_edit_offers_only_columns_a_form_may_change() {
        let mut t = users();
        let mut generated = col("shout", "TEXT", 0);
        generated.default = Some(format!("{}upper(notes)", crate::domain::GENERATED));
        t.columns.push(generated);
        t.columns.push(col("avatar", "BLOB", 0));
        let s = shown(&t, Some(&rules()), &groups(&["support"]));
        let offered: Vec<&str> = s
            .bulk_settable()
            .into_iter()
            .map(|i| s.table.columns[i].name.as_str())
            .collect();
        // Not the key (id), the hidden password, the masked api_token, the read-only
        // karma, the generated shout or the binary avatar.
        assert_eq!(offered, ["email", "notes"]);
        for c in [
            "id",
            "password",
            "api_token",
            "karma",
            "shout",
            "avatar",
            "nosuch",
        ] {
            assert!(!s.may_bulk_set(c), "{c}");
        }
        assert!(s.may_bulk_set("notes"));
        // A composite key's columns are keys too.
        let mut pair = users();
        pair.primary_key = vec!["id".into(), "email".into()];
        pair.columns[1].pk_ordinal = 2;
        assert!(!shown(&pair, None, &groups(&[])).may_bulk_set("email"));
        // The exempt group sees past the rules: karma and the masked token are offered.
        let exempt = shown(&t, Some(&rules()), &groups(&["security"]));
        assert!(exempt.may_bulk_set("karma") && exempt.may_bulk_set("api_token"));
        assert!(!exempt.may_bulk_set("id") && !exempt.may_bulk_set("shout"));
    }

    #[test]
    fn list_columns_keep_their_flags_in_the_configured_order() {
        let mut r = rules();
        r.list = vec!["notes".into(), "api_token".into(), "password".into()];
        let s = shown(&users(), Some(&r), &groups(&[])).listed(Some(&r));
        assert_eq!(names(&s), ["notes", "api_token"]);
        assert_eq!(s.masked, [false, true]);
    }
}
