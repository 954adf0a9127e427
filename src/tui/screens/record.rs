//! One record: every field, long text wrapped, NULL in its own style, JSON indented, and
//! each foreign key with the row it refers to (Tab selects one, Enter opens it). From here:
//! edit, delete, its history, and who holds permissions on it.

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;

use super::history::HistoryScreen;
use super::row_perms::RowPermsScreen;
use crate::domain::{key_label, pk_text, Capabilities, ColumnKind, Reference, RowCount, Value};
use crate::tui::draw::{
    blob_summary, placeholder, put, putn, row, wrap, DIM, HEADER, NULL, NULL_TEXT, SELECTED,
};
use crate::tui::input::{Key, KeyEvent};
use crate::tui::protocol::{Cmd, Msg, Related};
use crate::tui::sanitize::SafeText;
use crate::tui::screen::{Action, Crumb, Handoff, Hint, Screen};
use crate::tui::values::yes_no;

/// What Tab selects on a record and Enter follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// The foreign key in this field: Enter opens the row it refers to.
    Field(usize),
    /// This related model: Enter lists its rows that refer to this one.
    Related(usize),
}

/// A field's value in the record view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldValue {
    Null,
    /// Text split into lines (wrapped at draw time).
    Lines(Vec<SafeText>),
}

/// Every field of one record.
#[derive(Clone, Debug)]
pub struct RecordScreen {
    pub model: String,
    pub label: SafeText,
    pub key: Vec<Value>,
    /// Field name, declared type, value lines.
    pub fields: Vec<(SafeText, SafeText, FieldValue)>,
    pub scroll: u16,
    /// Lines that fit on screen and lines in total, from the last draw.
    pub visible: u16,
    pub total_lines: u16,
    pub loaded: bool,
    /// Per field: (referenced model, key value, label) for a foreign key that is set.
    pub links: Vec<Option<(String, Value, SafeText)>>,
    /// The selected link, chosen with Tab, followed with Enter.
    pub link: Option<Link>,
    /// The next draw scrolls the selected link into view (it was just chosen).
    reveal: bool,
    /// The models whose rows refer to this one, with how many do (shown below the fields).
    pub related: Vec<Related>,
    /// What the user may do on this row.
    pub caps: Capabilities,
}

impl RecordScreen {
    pub fn new(model: String, label: SafeText, key: Vec<Value>) -> RecordScreen {
        RecordScreen {
            model,
            label,
            key,
            fields: Vec::new(),
            scroll: 0,
            visible: 1,
            total_lines: 0,
            loaded: false,
            links: Vec::new(),
            link: None,
            reveal: false,
            related: Vec::new(),
            caps: Capabilities::default(),
        }
    }

    /// Row `key` of `model`, with the command that loads it.
    pub fn open(model: &str, label: SafeText, key: Vec<Value>) -> (RecordScreen, Vec<Cmd>) {
        let load = Cmd::LoadRecord {
            model: model.to_string(),
            key: key.clone(),
        };
        (RecordScreen::new(model.to_string(), label, key), vec![load])
    }

    /// Load the row again (it changed).
    fn reload(&mut self) -> Action {
        self.loaded = false;
        Action::cmd(Cmd::LoadRecord {
            model: self.model.clone(),
            key: self.key.clone(),
        })
    }

    fn is(&self, model: &str, key: &[Value]) -> bool {
        self.model == model && self.key == key
    }

    fn fill(&mut self, msg: &Msg) {
        let Msg::Record {
            record,
            links,
            caps,
            related,
            ..
        } = msg
        else {
            return;
        };
        self.fields = record
            .fields
            .iter()
            .map(|(col, value)| {
                let shown = match value {
                    Value::Null => FieldValue::Null,
                    // JSON is shown indented, one member a line.
                    Value::Text(s) if ColumnKind::of_column(col) == ColumnKind::Json => {
                        let pretty = serde_json::from_str::<serde_json::Value>(s)
                            .ok()
                            .and_then(|v| serde_json::to_string_pretty(&v).ok());
                        FieldValue::Lines(SafeText::multiline(pretty.as_deref().unwrap_or(s)))
                    }
                    v if ColumnKind::of_column(col) == ColumnKind::Boolean => {
                        FieldValue::Lines(vec![SafeText::new(&yes_no(v))])
                    }
                    Value::Text(s) => FieldValue::Lines(SafeText::multiline(s)),
                    Value::Blob(b) => FieldValue::Lines(vec![SafeText::new(&blob_summary(b))]),
                    other => FieldValue::Lines(vec![SafeText::new(&other.to_string())]),
                };
                (
                    SafeText::new(&col.name),
                    SafeText::new(&col.decl_type),
                    shown,
                )
            })
            .collect();
        self.links = record
            .fields
            .iter()
            .zip(links.iter().cloned().chain(std::iter::repeat(None)))
            .map(|((_, value), link)| {
                link.filter(|_| !value.is_null()).map(|l| {
                    // "authors: José García" → the model, and the label kept for drawing.
                    let model = l
                        .split_once(": ")
                        .map_or(l.as_str(), |(m, _)| m)
                        .to_string();
                    (model, value.clone(), SafeText::new(&l))
                })
            })
            .collect();
        self.caps = *caps;
        self.related = related.clone();
        // Read again (a refresh): the view stays where it was.
        if !self.loaded {
            self.link = None;
            self.scroll = 0;
        }
        self.link = self.link.filter(|l| self.targets().contains(l));
        self.loaded = true;
    }

    /// What Tab selects, in order: the foreign keys that are set, then the related models.
    fn targets(&self) -> Vec<Link> {
        let fields = (0..self.links.len())
            .filter(|i| self.links[*i].is_some())
            .map(Link::Field);
        fields
            .chain((0..self.related.len()).map(Link::Related))
            .collect()
    }

    fn scroll(&mut self, k: KeyEvent) -> Action {
        let max = self.total_lines.saturating_sub(self.visible);
        let page = self.visible.max(1);
        self.scroll = match k.key {
            Key::Down | Key::Char('j') => self.scroll.saturating_add(1),
            Key::Up | Key::Char('k') => self.scroll.saturating_sub(1),
            Key::PageDown | Key::Char(' ') => self.scroll.saturating_add(page),
            Key::PageUp => self.scroll.saturating_sub(page),
            Key::Home | Key::Char('g') => 0,
            Key::End | Key::Char('G') => max,
            _ => return Action::Ignored,
        }
        .min(max);
        Action::None
    }
}

impl Screen for RecordScreen {
    fn crumb(&self) -> Crumb {
        Crumb::model(&self.model, &self.label, Some(&key_label(&self.key)))
    }

    fn key(&mut self, k: KeyEvent) -> Action {
        if !k.mods.plain() {
            return self.scroll(k);
        }
        match k.key {
            Key::Char('H') => {
                let (history, cmds) = HistoryScreen::open(&self.model, self.key.clone());
                Action::push(history, cmds)
            }
            Key::Tab | Key::BackTab => {
                // Select the next (or previous) link: a foreign key that is set, or a
                // related model.
                let targets = self.targets();
                let at = self.link.and_then(|l| targets.iter().position(|t| *t == l));
                self.link = match (at, k.key == Key::Tab) {
                    (None, true) => targets.first().copied(),
                    (None, false) => targets.last().copied(),
                    (Some(p), true) => targets.get(p + 1).copied(),
                    (Some(p), false) => p.checked_sub(1).and_then(|q| targets.get(q).copied()),
                };
                self.reveal = true;
                Action::None
            }
            Key::Enter => match self.link {
                Some(Link::Field(i)) => {
                    let Some((model, value, _)) = self.links.get(i).cloned().flatten() else {
                        return Action::None;
                    };
                    let (record, cmds) =
                        RecordScreen::open(&model, SafeText::new(&model), vec![value]);
                    Action::push(record, cmds)
                }
                Some(Link::Related(i)) => match self.related.get(i) {
                    Some(r) => Action::cmd(Cmd::OpenRelated {
                        model: r.model.clone(),
                        column: r.column.clone(),
                        value: r.value.clone(),
                    }),
                    None => Action::None,
                },
                None => Action::None,
            },
            Key::Char('e') => Action::cmd(Cmd::OpenForm {
                model: self.model.clone(),
                key: Some(self.key.clone()),
            }),
            Key::Char('d') => Action::cmd(Cmd::AskDelete {
                model: self.model.clone(),
                key: self.key.clone(),
            }),
            // The object permissions of this row.
            Key::Char('o') => match pk_text(&self.key) {
                Some(pk) => {
                    let (screen, cmds) = RowPermsScreen::open(&self.model, &pk);
                    Action::push(screen, cmds)
                }
                None => Action::None,
            },
            _ => self.scroll(k),
        }
    }

    fn update(&mut self, msg: &Msg) -> Action {
        match msg {
            Msg::Record { model, record, .. } if self.is(model, &record.key) => {
                self.fill(msg);
                Action::None
            }
            Msg::Saved { model, key, .. } if self.is(model, key) => self.reload(),
            Msg::Deleted { model, key } if self.is(model, key) => Action::Pop,
            _ => Action::None,
        }
    }

    fn handoff(&mut self, handoff: Handoff) -> Action {
        match handoff {
            Handoff::Reload { model, key } if self.is(&model, &key) => self.reload(),
            _ => Action::None,
        }
    }

    fn refresh(&mut self) -> Vec<Cmd> {
        vec![Cmd::LoadRecord {
            model: self.model.clone(),
            key: self.key.clone(),
        }]
    }

    fn failed(&mut self) -> Action {
        if self.loaded {
            Action::None
        } else {
            Action::Pop
        }
    }

    fn draw(&mut self, buf: &mut Buffer, area: Rect) -> Option<Position> {
        draw_record(self, buf, area);
        None
    }

    fn status(&self) -> String {
        format!(
            "line {}/{}",
            (self.scroll + 1).min(self.total_lines.max(1)),
            self.total_lines.max(1)
        )
    }

    fn hints(&self) -> Vec<Hint> {
        vec![
            Hint::help("↑ ↓  j k", "scroll"),
            Hint::new("e", "edit").when(self.caps.change),
            Hint::new("d", "delete").when(self.caps.delete),
            Hint::new("H", "history"),
            Hint::new("o", "permissions")
                .when(self.caps.permissions && pk_text(&self.key).is_some()),
            Hint::new("Tab", "link"),
            Hint::help(
                "Enter",
                "open the row the selected link refers to, or the related rows",
            ),
            Hint::new("Esc", "back"),
        ]
    }
}

fn draw_record(s: &mut RecordScreen, buf: &mut Buffer, area: Rect) {
    if !s.loaded {
        placeholder(buf, area, "loading…");
        return;
    }
    let name_w = s
        .fields
        .iter()
        .map(|f| f.0.width())
        .chain(s.related.iter().map(|r| SafeText::new(&r.label).width()))
        .max()
        .unwrap_or(0)
        .clamp(4, 24);
    let value_x = area.x + 2 + u16::try_from(name_w).unwrap_or(24) + 2;
    let value_w = usize::from(area.right().saturating_sub(value_x)).max(1);
    // Lines: (a name and what selecting it selects, on a field's first line; text; style).
    type Line = (Option<(SafeText, Option<Link>)>, String, Style);
    let mut lines: Vec<Line> = Vec::new();
    for (i, (name, _decl_type, value)) in s.fields.iter().enumerate() {
        let link = s
            .links
            .get(i)
            .and_then(|l| l.as_ref())
            .map(|(_, _, label)| label);
        let selects = link.map(|_| Link::Field(i));
        match value {
            FieldValue::Null => lines.push((Some((name.clone(), selects)), NULL_TEXT.into(), NULL)),
            FieldValue::Lines(text) => {
                let mut first = true;
                for line in text {
                    for mut piece in wrap(line.as_str(), value_w) {
                        if first {
                            if let Some(m) = link {
                                // A followable foreign key: say where it goes.
                                piece.push_str(&format!("  → {m}"));
                            }
                        }
                        let n = first.then(|| (name.clone(), selects));
                        first = false;
                        lines.push((n, piece, Style::new()));
                    }
                }
                if first {
                    lines.push((Some((name.clone(), selects)), String::new(), Style::new()));
                }
            }
        }
    }
    if !s.related.is_empty() {
        // Below the fields: the rows of other models that refer to this one.
        lines.push((None, String::new(), Style::new()));
        lines.push((
            None,
            "rows that refer to this one (Tab, Enter lists them)".into(),
            DIM,
        ));
        for (i, r) in s.related.iter().enumerate() {
            let rows = match r.count {
                crate::domain::RowCount::Exact(1) => "1 row".to_string(),
                n => format!("{n} rows"),
            };
            let text = format!("{rows} by {}", SafeText::new(&r.column));
            lines.push((
                Some((SafeText::new(&r.label), Some(Link::Related(i)))),
                text,
                Style::new(),
            ));
        }
    }
    s.total_lines = u16::try_from(lines.len()).unwrap_or(u16::MAX);
    s.visible = area.height.max(1);
    if std::mem::take(&mut s.reveal) {
        let at = lines
            .iter()
            .position(|(n, _, _)| n.as_ref().is_some_and(|(_, l)| l.is_some() && *l == s.link));
        if let Some(at) = at.and_then(|a| u16::try_from(a).ok()) {
            if at < s.scroll {
                s.scroll = at;
            } else if at >= s.scroll.saturating_add(s.visible) {
                s.scroll = at.saturating_sub(s.visible.saturating_sub(1));
            }
        }
    }
    s.scroll = s.scroll.min(s.total_lines.saturating_sub(s.visible));
    for (i, (name, text, style)) in lines
        .iter()
        .skip(usize::from(s.scroll))
        .take(usize::from(area.height))
        .enumerate()
    {
        let y = row(area.y, i);
        if let Some((name, selects)) = name {
            let style = if selects.is_some() && s.link == *selects {
                SELECTED
            } else {
                HEADER
            };
            put(
                buf,
                area,
                area.x + 2,
                y,
                name.truncated(name_w).as_str(),
                style,
            );
        }
        putn(buf, area, value_x, y, text, value_w, *style);
    }
}

/// The question asked before rows `keys` of `model` are deleted, naming them (by key, and
/// by display value where the user may see it) and what goes with them; or, when the
/// database would refuse the delete (rows that refer to them and may not be deleted or
/// unlinked with them), why not — with nothing to confirm.
pub fn delete_confirmation(
    model: &str,
    keys: &[Vec<Value>],
    labels: &[Option<String>],
    references: &[Reference],
) -> Action {
    let target = delete_target(model, keys, labels);
    let it = if keys.len() == 1 { "it" } else { "them" };
    let (in_the_way, going): (Vec<&Reference>, Vec<&Reference>) =
        references.iter().partition(|r| on_delete(r).is_none());
    if !in_the_way.is_empty() {
        let mut lines = vec![SafeText::new(&format!("{target} cannot be deleted:"))];
        for r in in_the_way {
            lines.push(SafeText::new(&format!(
                "  {} refer to {it} and keep it (ON DELETE {}).",
                rows_of(r),
                r.on_delete.to_ascii_uppercase()
            )));
        }
        lines.push(SafeText::new("Delete or change those rows first."));
        return Action::Dialog(lines);
    }
    let mut q = format!("Delete {target}?");
    for r in going {
        let what = on_delete(r).unwrap_or_default();
        q.push_str(&format!(" {} {what} with {it}.", rows_of(r)));
    }
    let cmd = match keys {
        [key] => Cmd::Delete {
            model: model.to_string(),
            key: key.clone(),
        },
        _ => Cmd::DeleteMany {
            model: model.to_string(),
            keys: keys.to_vec(),
        },
    };
    Action::confirm(q, cmd)
}

/// `posts #17 "When Kafka is the wrong…"`, or `the 3 marked rows of posts (#3, #5, #9)`.
fn delete_target(model: &str, keys: &[Vec<Value>], labels: &[Option<String>]) -> String {
    let pk = |k: &[Value]| key_label(k);
    match keys {
        [key] => match labels.first().cloned().flatten() {
            Some(label) => {
                let label = SafeText::new(&label).truncated(30);
                format!("{model} {} \"{label}\"", pk(key))
            }
            None => format!("{model} {}", pk(key)),
        },
        _ => {
            let mut shown: Vec<String> = keys.iter().take(5).map(|k| pk(k)).collect();
            if keys.len() > 5 {
                shown.push("…".into());
            }
            format!(
                "the {} marked rows of {model} ({})",
                crate::domain::group_thousands(keys.len() as u64),
                shown.join(", ")
            )
        }
    }
}

/// What deleting does to rows that refer through `r`: deletes them, unlinks them, or
/// (`None`) nothing — the database refuses the delete.
fn on_delete(r: &Reference) -> Option<&'static str> {
    match r.on_delete.to_ascii_uppercase().as_str() {
        "CASCADE" => Some("deleted"),
        "SET NULL" | "SET DEFAULT" => Some("unlinked"),
        _ => None,
    }
}

/// `3 rows of comments` (or `rows of comments` when the user may not count them).
fn rows_of(r: &Reference) -> String {
    match r.count {
        Some(RowCount::Exact(1)) => format!("1 row of {}", r.table),
        Some(count) => format!("{count} rows of {}", r.table),
        None => format!("rows of {}", r.table),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The question names how many rows as every other count on screen does.
    #[test]
    fn many_marked_rows_are_counted_with_thousands_grouped() {
        let keys: Vec<Vec<Value>> = (1..=10_000).map(|i| vec![Value::Integer(i)]).collect();
        let target = delete_target("posts", &keys, &[]);
        assert!(
            target.starts_with("the 10,000 marked rows of posts (#1, #2, #3, #4, #5, …)"),
            "{target}"
        );
    }
}
