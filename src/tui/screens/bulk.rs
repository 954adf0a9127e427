//! Bulk edit from a list: `*` marks every row matching the search and filters (counted
//! and asked first; again, it unmarks all), and `S` sets one field on the marked rows —
//! a column the user may change, a value typed and checked as the form checks it, then a
//! question naming model, column, value and rows. The session checks every row and
//! writes all or none.

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;

use super::form::{kind_hint, Field, FormAction, FormScreen};
use super::list::ListScreen;
use crate::domain::{group_thousands, key_label, ColumnInfo, ColumnKind, ListQuery, Value};
use crate::tui::draw::{placeholder, put, putn, row, DIM, GUTTER, HEADER, SELECTED};
use crate::tui::input::{Key, KeyEvent};
use crate::tui::protocol::{BulkCmd, BulkMsg, Cmd, Msg};
use crate::tui::sanitize::SafeText;
use crate::tui::screen::{Action, Crumb, Handoff, Hint, Screen};
use crate::tui::values::yes_no;

/// Marked rows a question names, at most.
const NAMED: usize = 5;

/// `*` on a list: unmark every row if some are marked, else count the rows matching the
/// search and filters, to ask before marking them.
pub fn mark_all_key(list: &mut ListScreen) -> Action {
    if !list.marked.is_empty() {
        let n = std::mem::take(&mut list.marked).len();
        return Action::Notice(format!("unmarked {} rows", group_thousands(n as u64)));
    }
    Action::cmd(Cmd::BulkEdit(BulkCmd::CountMatching {
        model: list.model.clone(),
        query: list.query.clone(),
    }))
}

/// `S` on a list: choose a column and a value to set on the marked rows.
pub fn set_field_key(list: &ListScreen) -> Action {
    if list.marked.is_empty() {
        return Action::Notice("mark rows first: Space marks one, * every row matching".into());
    }
    if !may_set(list) {
        return Action::Notice(format!("you may not change rows of {}", list.model));
    }
    let screen = BulkSetScreen::new(&list.model, list.label.clone(), list.marked.clone());
    Action::push(
        screen,
        vec![Cmd::BulkEdit(BulkCmd::Columns {
            model: list.model.clone(),
        })],
    )
}

/// Whether `S` is offered: rows are marked and the user may change rows of the model
/// (every row, or some by object permission; the session checks each marked row).
pub fn may_set(list: &ListScreen) -> bool {
    !list.marked.is_empty() && (list.caps.change || list.rows.iter().any(|r| r.caps.change))
}

/// The list's keys for bulk edits (`*`, `S`).
pub fn hints(list: &ListScreen) -> [Hint; 2] {
    [
        Hint::help("*", "mark every row matching; again: unmark all"),
        Hint::new("S", "set field").when(may_set(list)),
    ]
}

/// A bulk edit answer for the list: the count to ask about, or the keys to mark.
pub fn on_msg(list: &mut ListScreen, msg: &BulkMsg) -> Action {
    match msg {
        BulkMsg::Matching {
            model,
            query,
            count,
        } if *model == list.model && *query == list.query => Action::confirm(
            mark_question(model, query, *count),
            Cmd::BulkEdit(BulkCmd::MarkAll {
                model: model.clone(),
                query: query.clone(),
            }),
        ),
        BulkMsg::Marked { model, query, keys } if *model == list.model => {
            list.marked = keys.clone();
            let matching = if *query == list.query {
                ""
            } else {
                " (of the list as it was when asked)"
            };
            Action::Notice(format!(
                "marked {} rows{matching}; S sets a field on them, d deletes them, * unmarks",
                group_thousands(keys.len() as u64)
            ))
        }
        _ => Action::None,
    }
}

/// `Mark all 2,345 rows of posts matching "foo" [status=draft]?`
pub fn mark_question(model: &str, query: &ListQuery, count: u64) -> String {
    let mut q = format!("Mark all {} rows of {model}", group_thousands(count));
    if let Some(term) = &query.search {
        q.push_str(&format!(" matching \"{term}\""));
    }
    for f in &query.filters {
        q.push_str(&format!(" [{f}]"));
    }
    q.push('?');
    q
}

/// `#1, #2, #3, #4, #5, …`
fn named(keys: &[Vec<Value>]) -> String {
    let mut s: Vec<String> = keys.iter().take(NAMED).map(|k| key_label(k)).collect();
    if keys.len() > NAMED {
        s.push("…".into());
    }
    s.join(", ")
}

/// `Set status = "archived" on the 3 marked rows of posts (#1, #2, #3)?`
pub fn set_question(
    model: &str,
    column: &str,
    kind: ColumnKind,
    value: &Value,
    keys: &[Vec<Value>],
) -> String {
    let shown = match value {
        Value::Null => "NULL".to_string(),
        v if kind == ColumnKind::Boolean => yes_no(v),
        Value::Text(t) => {
            let cut: String = t.chars().take(40).collect();
            let more = if t.chars().count() > 40 { "…" } else { "" };
            format!("\"{cut}{more}\"")
        }
        other => other.to_string(),
    };
    format!(
        "Set {column} = {shown} on the {} marked rows of {model} ({})?",
        group_thousands(keys.len() as u64),
        named(keys)
    )
}

/// Setting one field on the marked rows: first the column, then its value.
#[derive(Clone, Debug)]
pub struct BulkSetScreen {
    pub model: String,
    pub label: SafeText,
    pub keys: Vec<Vec<Value>>,
    /// The columns offered, with the model a foreign key refers to (`None`: on the way).
    pub columns: Option<Vec<(ColumnInfo, Option<String>)>>,
    pub selected: usize,
    /// The value being typed for the chosen column: a form of one field, checked as the
    /// record form checks it.
    pub value: Option<FormScreen>,
}

impl BulkSetScreen {
    pub fn new(model: &str, label: SafeText, keys: Vec<Vec<Value>>) -> BulkSetScreen {
        BulkSetScreen {
            model: model.to_string(),
            label,
            keys,
            columns: None,
            selected: 0,
            value: None,
        }
    }

    /// The title line: what is being changed.
    fn title(&self) -> String {
        format!(
            "Set one field on the {} marked rows of {} ({})",
            group_thousands(self.keys.len() as u64),
            self.model,
            named(&self.keys)
        )
    }

    /// The chosen column: a one-field form for its value (empty: NULL until typed).
    fn choose(&mut self) -> Action {
        let Some((col, link)) = self
            .columns
            .as_ref()
            .and_then(|c| c.get(self.selected))
            .cloned()
        else {
            return Action::None;
        };
        let mut field = Field::new(&col, &Value::Null, false);
        field.link = link;
        // Editing (a key), so an empty field with a default is not left to the database.
        let form = FormScreen::new(
            self.model.clone(),
            self.label.clone(),
            Some(Vec::new()),
            vec![field],
        );
        self.value = Some(form);
        Action::None
    }

    /// Enter on the value: checked as the form checks it; a bad value stays, with why.
    fn ask(&mut self) -> Action {
        let Some(form) = self.value.as_mut() else {
            return Action::None;
        };
        let kind = form.fields.first().map_or(ColumnKind::Text, |f| f.kind);
        match form.validate() {
            Err(why) => Action::Error(why),
            Ok(values) => match values.into_iter().next() {
                Some((column, value)) => Action::confirm(
                    set_question(&self.model, &column, kind, &value, &self.keys),
                    Cmd::BulkEdit(BulkCmd::Set {
                        model: self.model.clone(),
                        column,
                        value,
                        keys: self.keys.clone(),
                    }),
                ),
                None => Action::None,
            },
        }
    }
}

impl Screen for BulkSetScreen {
    fn crumb(&self) -> Crumb {
        Crumb::text("set field")
    }

    fn key(&mut self, k: KeyEvent) -> Action {
        if let Some(form) = self.value.as_mut() {
            if k.key == Key::Enter && k.mods.plain() {
                return self.ask();
            }
            return match FormScreen::key(form, k) {
                FormAction::Save => self.ask(),
                FormAction::Cancel => {
                    // Back to the columns; the marks stay.
                    self.value = None;
                    Action::None
                }
                FormAction::Now => Action::cmd(Cmd::Now),
                FormAction::Pick(model) => {
                    let current = form.fields.first().and_then(|f| f.value().ok());
                    let (list, cmds) = ListScreen::picker(&model, form.page_size, current);
                    Action::push(list, cmds)
                }
                FormAction::Edit | FormAction::None => Action::None,
            };
        }
        let n = self.columns.as_ref().map_or(0, Vec::len);
        match k.key {
            Key::Down | Key::Char('j') => {
                self.selected = (self.selected + 1).min(n.saturating_sub(1))
            }
            Key::Up | Key::Char('k') => self.selected = self.selected.saturating_sub(1),
            Key::Enter => return self.choose(),
            _ => return Action::Ignored,
        }
        Action::None
    }

    fn update(&mut self, msg: &Msg) -> Action {
        match msg {
            Msg::BulkEdit(BulkMsg::Columns { model, columns }) if *model == self.model => {
                self.columns = Some(columns.clone());
                self.selected = 0;
                Action::None
            }
            Msg::Now(_) => match self.value.as_mut() {
                Some(form) => form.update(msg),
                None => Action::None,
            },
            // Done: the list below shows the rows as they are now.
            Msg::BulkDone { model, .. } if *model == self.model => Action::Pop,
            _ => Action::None,
        }
    }

    fn handoff(&mut self, handoff: Handoff) -> Action {
        match (self.value.as_mut(), handoff) {
            (Some(form), Handoff::Picked(pk)) => {
                form.set_focused(&pk);
                Action::None
            }
            _ => Action::None,
        }
    }

    fn paste(&mut self, text: &str) {
        if let Some(form) = self.value.as_mut() {
            form.paste(text);
        }
    }

    fn failed(&mut self) -> Action {
        // The columns could not be had (a refusal): back to the list. A refused write
        // leaves everything as typed, the status line saying why.
        if self.columns.is_none() {
            Action::Pop
        } else {
            Action::None
        }
    }

    fn takes_all_keys(&self) -> bool {
        self.value.is_some()
    }

    fn draw(&mut self, buf: &mut Buffer, area: Rect) -> Option<Position> {
        let w = usize::from(area.width.saturating_sub(4));
        let title = SafeText::new(&self.title());
        putn(buf, area, area.x + 2, area.y, title.as_str(), w, HEADER);
        let body = Rect {
            y: area.y.saturating_add(2),
            height: area.height.saturating_sub(2),
            ..area
        };
        if let Some(form) = self.value.as_mut() {
            // The form's own first line (its error about the whole form) stays empty here.
            put(
                buf,
                area,
                area.x + 2,
                body.y,
                "The value, for every marked row:",
                DIM,
            );
            return form.draw(buf, body);
        }
        let Some(columns) = &self.columns else {
            placeholder(buf, body, "loading…");
            return None;
        };
        put(buf, area, area.x + 2, body.y, "Which column?", DIM);
        let name_w = columns
            .iter()
            .map(|(c, _)| SafeText::new(&c.name).width())
            .max()
            .unwrap_or(4)
            .clamp(4, 30);
        for (i, (col, link)) in columns.iter().enumerate() {
            let y = row(body.y + 1, i);
            if y >= area.bottom() {
                break;
            }
            let selected = i == self.selected;
            if selected {
                put(buf, area, area.x, y, GUTTER, Style::new());
            }
            let style = if selected { SELECTED } else { Style::new() };
            let name = SafeText::new(&col.name).truncated(name_w);
            putn(buf, area, area.x + 2, y, name.as_str(), name_w, style);
            let hint = match link {
                Some(m) => format!("→ {}", SafeText::new(m)),
                None => kind_hint(ColumnKind::of_column(col)).to_string(),
            };
            let x = area.x + 4 + u16::try_from(name_w).unwrap_or(30);
            let hw = usize::from(area.right().saturating_sub(x));
            putn(buf, area, x, y, hint, hw, DIM);
        }
        None
    }

    fn hints(&self) -> Vec<Hint> {
        if self.value.is_none() {
            return vec![
                Hint::help("↑ ↓  j k", "move"),
                Hint::new("Enter", "choose the column"),
                Hint::new("Esc", "back"),
                Hint::new("?", "help"),
            ];
        }
        vec![
            Hint::new("Enter", "set (asks first)"),
            Hint::new("Ctrl-N", "null"),
            Hint::new("Ctrl-U", "clear"),
            Hint::help("Space", "yes/no, or the next listed value"),
            Hint::help("Ctrl-P", "pick the row a foreign key refers to"),
            Hint::help("Ctrl-T", "now, in a date, time or timestamp field"),
            Hint::new("Esc", "other column"),
            Hint::new("F1", "help"),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Filter, FilterOp};

    #[test]
    fn the_mark_question_names_count_model_search_and_filters() {
        let query = ListQuery {
            search: Some("foo".into()),
            filters: vec![Filter {
                column: "status".into(),
                op: FilterOp::Equals(Value::Text("draft".into())),
            }],
            ..ListQuery::default()
        };
        assert_eq!(
            mark_question("posts", &query, 2345),
            "Mark all 2,345 rows of posts matching \"foo\" [status=draft]?"
        );
        assert_eq!(
            mark_question("posts", &ListQuery::default(), 7),
            "Mark all 7 rows of posts?"
        );
    }

    #[test]
    fn the_set_question_names_column_value_count_and_five_keys() {
        let keys: Vec<Vec<Value>> = (1..=7).map(|i| vec![Value::Integer(i)]).collect();
        assert_eq!(
            set_question(
                "posts",
                "view_count",
                ColumnKind::Integer,
                &Value::Integer(42),
                &keys
            ),
            "Set view_count = 42 on the 7 marked rows of posts (#1, #2, #3, #4, #5, …)?"
        );
        assert_eq!(
            set_question(
                "posts",
                "ok",
                ColumnKind::Boolean,
                &Value::Integer(1),
                &keys[..2]
            ),
            "Set ok = yes on the 2 marked rows of posts (#1, #2)?"
        );
        assert_eq!(
            set_question(
                "posts",
                "rating",
                ColumnKind::Real,
                &Value::Null,
                &keys[..1]
            ),
            "Set rating = NULL on the 1 marked rows of posts (#1)?"
        );
    }

    fn column(name: &str, ty: &str, not_null: bool) -> ColumnInfo {
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

    fn typed(screen: &mut BulkSetScreen, text: &str) {
        for c in text.chars() {
            screen.key(KeyEvent::plain(Key::Char(c)));
        }
    }

    #[test]
    fn a_bad_value_is_refused_with_why_and_kept() {
        let keys = vec![vec![Value::Integer(1)], vec![Value::Integer(2)]];
        let mut s = BulkSetScreen::new("posts", SafeText::new("posts"), keys.clone());
        s.update(&Msg::BulkEdit(BulkMsg::Columns {
            model: "posts".into(),
            columns: vec![
                (column("title", "TEXT", true), None),
                (column("view_count", "INTEGER", true), None),
            ],
        }));
        s.key(KeyEvent::plain(Key::Down));
        s.key(KeyEvent::plain(Key::Enter));
        assert!(s.takes_all_keys(), "typing goes to the value");
        // Empty is NULL, which the column does not take.
        assert!(
            matches!(s.key(KeyEvent::plain(Key::Enter)), Action::Error(e) if e.contains("NOT NULL"))
        );
        typed(&mut s, "abc");
        match s.key(KeyEvent::plain(Key::Enter)) {
            Action::Error(e) => assert!(e.contains("`abc` is not a whole number"), "{e}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            s.value.as_ref().unwrap().fields[0].text,
            "abc",
            "nothing lost"
        );
        s.key(KeyEvent::ctrl('u'));
        typed(&mut s, "42");
        match s.key(KeyEvent::plain(Key::Enter)) {
            Action::Confirm(q, yes) => {
                assert_eq!(
                    q,
                    "Set view_count = 42 on the 2 marked rows of posts (#1, #2)?"
                );
                let Action::Cmds(cmds) = *yes else { panic!() };
                assert_eq!(
                    cmds,
                    [Cmd::BulkEdit(BulkCmd::Set {
                        model: "posts".into(),
                        column: "view_count".into(),
                        value: Value::Integer(42),
                        keys,
                    })]
                );
            }
            other => panic!("{other:?}"),
        }
        // Esc goes back to the columns, not out.
        s.key(KeyEvent::plain(Key::Esc));
        assert!(s.value.is_none() && !s.takes_all_keys());
    }
}
