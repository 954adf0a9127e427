//! The record form: typed fields from the schema, edited keyboard-first, validated before
//! anything is sent.
//!
//! Keys: Tab / Shift-Tab (or ↓ / ↑) move between fields; typing edits at the cursor
//! (← → Home End move it); Backspace / Delete; Ctrl-U clears; Ctrl-N toggles NULL on a
//! nullable field; Space toggles a boolean or steps through an enum's labels; Ctrl-S saves; Esc cancels (asking first when
//! something changed). Only printable characters reach a field: control characters typed
//! or pasted are refused with a message, never stored.

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;

use super::editor::{byte_index, TextEditor};
use super::list::ListScreen;
use crate::domain::{time_as, ColumnInfo, ColumnKind, Value};
use crate::tui::draw::{put, putn, row, DIM, ERROR, HEADER, NULL, NULL_TEXT, SELECTED};
use crate::tui::input::{Key, KeyEvent};
use crate::tui::protocol::{Cmd, Msg};
use crate::tui::sanitize::SafeText;
use crate::tui::screen::{Action, Crumb, Handoff, Hint, Screen};
use crate::tui::values::{normalized_timestamp, valid_date, valid_time};

/// What a field of kind `kind` takes, for the form's hint.
pub fn kind_hint(kind: ColumnKind) -> &'static str {
    match kind {
        ColumnKind::Integer => "integer",
        ColumnKind::Real => "number",
        ColumnKind::Boolean => "yes/no (Space)",
        ColumnKind::Text => "text",
        ColumnKind::Date => "YYYY-MM-DD",
        ColumnKind::Time => "HH:MM[:SS]",
        ColumnKind::Timestamp => "YYYY-MM-DD HH:MM:SS",
        ColumnKind::Choice => "one of the listed values (Space)",
        ColumnKind::Json => "JSON",
        ColumnKind::Blob => "binary (not editable)",
    }
}

/// One field of the form.
#[derive(Clone, Debug)]
pub struct Field {
    pub name: String,
    pub label: SafeText,
    pub kind: ColumnKind,
    pub nullable: bool,
    /// Has a default the database fills in when left empty on create.
    pub has_default: bool,
    pub read_only: bool,
    /// The text being edited (meaningless while `null`).
    pub text: String,
    /// Cursor position in `text`, in characters.
    pub cursor: usize,
    pub null: bool,
    /// The value the field was opened with.
    pub original: Value,
    pub error: Option<String>,
    /// The model a foreign key field refers to (Ctrl-P picks a row of it).
    pub link: Option<String>,
    /// The values a [`ColumnKind::Choice`] field may take, in order.
    pub choices: Vec<String>,
    /// What the user had typed here before the form was reloaded over a conflict: Ctrl-Y
    /// puts it back.
    pub aside: Option<String>,
}

impl Field {
    pub fn new(col: &ColumnInfo, value: &Value, read_only: bool) -> Field {
        let kind = ColumnKind::of_column(col);
        let text = match (kind, value) {
            (_, Value::Null) => String::new(),
            (ColumnKind::Boolean, Value::Integer(i)) => if *i != 0 { "yes" } else { "no" }.into(),
            (_, Value::Blob(b)) => format!("<{} bytes>", b.len()),
            (_, other) => other.to_string(),
        };
        Field {
            name: col.name.clone(),
            label: SafeText::new(&col.name),
            kind,
            nullable: !col.not_null && col.pk_ordinal == 0,
            has_default: col.default.is_some() || col.pk_ordinal > 0,
            read_only: read_only || kind == ColumnKind::Blob,
            cursor: text.chars().count(),
            text,
            null: value.is_null(),
            original: value.clone(),
            error: None,
            link: None,
            aside: None,
            choices: col.choices().to_vec(),
        }
    }

    /// The value to store, or why the text is not one.
    pub fn value(&self) -> Result<Value, String> {
        if self.read_only {
            return Ok(self.original.clone());
        }
        if self.null {
            return if self.nullable {
                Ok(Value::Null)
            } else {
                Err("cannot be empty (NOT NULL)".into())
            };
        }
        let t = self.text.as_str();
        // Untouched text stands for the value it was opened with, as stored (a timestamp
        // the database wrote with a `T` is not a change until someone edits it).
        if matches!(&self.original, Value::Text(o) if o == t) {
            return Ok(self.original.clone());
        }
        match self.kind {
            ColumnKind::Integer => t
                .trim()
                .parse::<i64>()
                .map(Value::Integer)
                .map_err(|_| format!("`{t}` is not a whole number")),
            ColumnKind::Real => t
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Value::Real)
                .ok_or_else(|| format!("`{t}` is not a number")),
            ColumnKind::Boolean => match t.trim().to_ascii_lowercase().as_str() {
                "yes" | "true" | "1" | "y" => Ok(Value::Integer(1)),
                "no" | "false" | "0" | "n" => Ok(Value::Integer(0)),
                _ => Err(format!("`{t}` is not yes or no")),
            },
            ColumnKind::Date => valid_date(t.trim())
                .then(|| Value::Text(t.trim().into()))
                .ok_or_else(|| format!("`{t}` is not a date (YYYY-MM-DD)")),
            ColumnKind::Time => valid_time(t.trim())
                .then(|| Value::Text(t.trim().into()))
                .ok_or_else(|| format!("`{t}` is not a time (HH:MM or HH:MM:SS)")),
            ColumnKind::Timestamp => normalized_timestamp(t.trim())
                .map(Value::Text)
                .ok_or_else(|| format!("`{t}` is not a timestamp (YYYY-MM-DD HH:MM:SS)")),
            ColumnKind::Choice => self
                .choices
                .iter()
                .any(|c| c == t)
                .then(|| Value::Text(t.into()))
                .ok_or_else(|| format!("`{t}` is not one of: {}", self.choices.join(", "))),
            ColumnKind::Json => serde_json::from_str::<serde_json::Value>(t)
                .map(|_| Value::Text(t.into()))
                .map_err(|e| format!("not valid JSON: {e}")),
            ColumnKind::Text => Ok(Value::Text(self.text.clone())),
            ColumnKind::Blob => Ok(self.original.clone()),
        }
    }

    pub fn changed(&self) -> bool {
        !self.read_only && self.value().map_or(true, |v| v != self.original)
    }

    fn insert(&mut self, s: &str) -> Result<(), String> {
        if s.chars().any(char::is_control) {
            return Err("control characters are not accepted in a text field".into());
        }
        let at = byte_index(&self.text, self.cursor);
        self.text.insert_str(at, s);
        self.cursor += s.chars().count();
        self.null = false;
        Ok(())
    }
}

/// An open form: editing row `key` of `model`, or creating one (`key` is `None`).
#[derive(Clone, Debug)]
pub struct FormScreen {
    pub model: String,
    pub label: SafeText,
    pub key: Option<Vec<Value>>,
    pub fields: Vec<Field>,
    pub focus: usize,
    /// A message about the form as a whole (e.g. a constraint the database refused).
    /// Cleared once it stops being true: when the field it blames is edited, or any
    /// field when it blames none.
    pub error: Option<SafeText>,
    /// The field `error` is about, when it names one.
    blamed: Option<usize>,
    /// First field line drawn (kept by `draw`).
    pub scroll: usize,
    /// Rows per page of the picker a foreign key opens (Ctrl-P).
    pub page_size: u32,
    /// Waiting for the row as it is now (a conflict's "reload theirs"): the user's edits,
    /// by column, to keep aside.
    pub reloading: Option<Vec<(String, String)>>,
}

/// What a key in the form asks for.
#[derive(Debug, PartialEq)]
pub enum FormAction {
    None,
    Save,
    Cancel,
    /// Pick a row of this model for the focused field.
    Pick(String),
    /// Open the multi-line editor on the focused text field.
    Edit,
    /// Ask what time it is, for the focused date, time or timestamp field.
    Now,
}

/// Whether a field of `kind` holds a date, a time or both (Ctrl-T puts "now" in it).
fn is_time(kind: ColumnKind) -> bool {
    matches!(
        kind,
        ColumnKind::Date | ColumnKind::Time | ColumnKind::Timestamp
    )
}

impl FormScreen {
    pub fn new(
        model: String,
        label: SafeText,
        key: Option<Vec<Value>>,
        fields: Vec<Field>,
    ) -> FormScreen {
        let focus = fields.iter().position(|f| !f.read_only).unwrap_or(0);
        FormScreen {
            model,
            label,
            key,
            fields,
            focus,
            error: None,
            blamed: None,
            scroll: 0,
            page_size: 100,
            reloading: None,
        }
    }

    pub fn dirty(&self) -> bool {
        self.fields.iter().any(Field::changed)
    }

    /// Check every field; on success the values by column, in form order.
    pub fn validate(&mut self) -> Result<Vec<(String, Value)>, String> {
        let creating = self.key.is_none();
        let mut out = Vec::new();
        let mut first_bad = None;
        for (i, f) in self.fields.iter_mut().enumerate() {
            // On create, an untouched field with a default is left to the database.
            if creating && f.has_default && f.null && !f.nullable {
                f.error = None;
                continue;
            }
            match f.value() {
                Ok(v) => {
                    f.error = None;
                    out.push((f.name.clone(), v));
                }
                Err(e) => {
                    f.error = Some(e);
                    first_bad.get_or_insert(i);
                }
            }
        }
        match first_bad {
            Some(i) => {
                self.focus = i;
                Err(format!(
                    "{}: {}",
                    self.fields[i].name,
                    self.fields[i].error.clone().unwrap_or_default()
                ))
            }
            None => Ok(out),
        }
    }

    /// Mark the field a database error names (NOT NULL, UNIQUE, CHECK on a column).
    pub fn blame(&mut self, message: &str) {
        self.error = Some(SafeText::new(message));
        self.blamed = self
            .fields
            .iter()
            .position(|f| message.contains(&format!(".{}", f.name)));
        if let Some(i) = self.blamed {
            self.fields[i].error = Some(message.to_string());
            self.focus = i;
        }
    }

    /// Field `i` was edited: the form's error goes if it was about that field (or about
    /// none in particular), since what it said may no longer be true.
    fn touched(&mut self, i: usize) {
        if self.blamed.is_none_or(|b| b == i) {
            self.error = None;
            self.blamed = None;
        }
    }

    fn move_focus(&mut self, forward: bool) {
        let n = self.fields.len();
        if n == 0 {
            return;
        }
        for step in 1..=n {
            let i = if forward {
                (self.focus + step) % n
            } else {
                (self.focus + n - step) % n
            };
            if !self.fields[i].read_only {
                self.focus = i;
                return;
            }
        }
    }

    /// Pasted text goes into the focused field (sanitized: refused if it has controls).
    pub fn paste(&mut self, text: &str) {
        let text = text.replace("\r\n", "\n");
        if let Some(f) = self.fields.get_mut(self.focus).filter(|f| !f.read_only) {
            f.error = f.insert(&text).err();
            self.touched(self.focus);
        }
    }

    /// Put `text` (from the multi-line editor) into field `i`.
    pub fn set_text(&mut self, i: usize, text: String) {
        if let Some(f) = self.fields.get_mut(i).filter(|f| !f.read_only) {
            f.cursor = text.chars().count();
            f.text = text;
            f.null = false;
            f.error = None;
            self.touched(i);
        }
    }

    /// Put `text` in the focused field (a picked key).
    pub fn set_focused(&mut self, text: &str) {
        if let Some(f) = self.fields.get_mut(self.focus).filter(|f| !f.read_only) {
            f.text = text.to_string();
            f.cursor = f.text.chars().count();
            f.null = false;
            f.error = None;
            self.touched(self.focus);
        }
    }

    pub fn key(&mut self, k: KeyEvent) -> FormAction {
        let ctrl = k.mods.ctrl;
        match k.key {
            Key::Char('s') if ctrl => return FormAction::Save,
            Key::Char('e') if ctrl => {
                return match self.fields.get(self.focus) {
                    Some(f) if !f.read_only && f.kind == ColumnKind::Text => FormAction::Edit,
                    _ => FormAction::None,
                }
            }
            Key::Char('p') if ctrl => {
                return match self.fields.get(self.focus) {
                    Some(f) if !f.read_only => {
                        f.link.clone().map_or(FormAction::None, FormAction::Pick)
                    }
                    _ => FormAction::None,
                }
            }
            Key::Esc => return FormAction::Cancel,
            Key::Char('t') if ctrl => {
                return match self.fields.get(self.focus) {
                    Some(f) if !f.read_only && is_time(f.kind) => FormAction::Now,
                    _ => FormAction::None,
                }
            }
            Key::Char('y') if ctrl => {
                // Put back what was typed here before a reload.
                if let Some(f) = self.fields.get_mut(self.focus).filter(|f| !f.read_only) {
                    if let Some(mine) = f.aside.take() {
                        f.cursor = mine.chars().count();
                        f.text = mine;
                        f.null = false;
                        f.error = None;
                        self.touched(self.focus);
                    }
                }
            }
            Key::Tab | Key::Down => self.move_focus(true),
            Key::BackTab | Key::Up => self.move_focus(false),
            _ => {
                let Some(f) = self.fields.get_mut(self.focus).filter(|f| !f.read_only) else {
                    return FormAction::None;
                };
                let before = (f.text.clone(), f.null);
                f.error = None;
                match k.key {
                    Key::Char('u') if ctrl => {
                        f.text.clear();
                        f.cursor = 0;
                    }
                    Key::Char('n') if ctrl && f.nullable => f.null = !f.null,
                    Key::Char(' ') if f.kind == ColumnKind::Boolean => {
                        let on = f.value() == Ok(Value::Integer(1));
                        f.text = if on { "no" } else { "yes" }.into();
                        f.cursor = f.text.chars().count();
                        f.null = false;
                    }
                    Key::Char(' ') if f.kind == ColumnKind::Choice && !f.choices.is_empty() => {
                        let next = f
                            .choices
                            .iter()
                            .position(|c| *c == f.text)
                            .map_or(0, |i| (i + 1) % f.choices.len());
                        if let Some(choice) = f.choices.get(next) {
                            f.text = choice.clone();
                            f.cursor = f.text.chars().count();
                            f.null = false;
                        }
                    }
                    Key::Char(c) if !ctrl && !k.mods.alt => {
                        f.error = f.insert(&c.to_string()).err();
                    }
                    Key::Backspace if f.cursor > 0 => {
                        let at = byte_index(&f.text, f.cursor - 1);
                        f.text.remove(at);
                        f.cursor -= 1;
                    }
                    Key::Delete if f.cursor < f.text.chars().count() => {
                        let at = byte_index(&f.text, f.cursor);
                        f.text.remove(at);
                    }
                    Key::Left => f.cursor = f.cursor.saturating_sub(1),
                    Key::Right => f.cursor = (f.cursor + 1).min(f.text.chars().count()),
                    Key::Home => f.cursor = 0,
                    Key::End => f.cursor = f.text.chars().count(),
                    Key::Char(_) | Key::Enter if ctrl || k.mods.alt => {
                        f.error = Some("control characters are not accepted".into());
                    }
                    _ => {}
                }
                if (&f.text, f.null) != (&before.0, before.1) {
                    self.touched(self.focus);
                }
            }
        }
        FormAction::None
    }
}

impl FormScreen {
    /// The form the session sent: (column, value, read-only) per field, and per field the
    /// model a foreign key refers to.
    pub fn from_msg(
        model: &str,
        key: Option<Vec<Value>>,
        fields: &[(ColumnInfo, Value, bool)],
        links: &[Option<String>],
        page_size: u32,
    ) -> FormScreen {
        let fields = fields
            .iter()
            .zip(links.iter().cloned().chain(std::iter::repeat(None)))
            .map(|((col, value, read_only), link)| {
                let mut f = Field::new(col, value, *read_only);
                f.link = link;
                f
            })
            .collect();
        let mut form = FormScreen::new(model.to_string(), SafeText::new(model), key, fields);
        form.page_size = page_size;
        form
    }

    /// Whether `Saved` answers this form's save.
    fn saved_here(&self, model: &str, key: &[Value], created: bool) -> bool {
        self.model == model
            && match &self.key {
                Some(k) => k == key,
                None => created,
            }
    }
}

impl Screen for FormScreen {
    fn crumb(&self) -> Crumb {
        Crumb::text(if self.key.is_some() { "edit" } else { "new" })
    }

    fn key(&mut self, k: KeyEvent) -> Action {
        match FormScreen::key(self, k) {
            FormAction::None => Action::None,
            FormAction::Now => Action::cmd(Cmd::Now),
            FormAction::Edit => match self.fields.get(self.focus) {
                Some(f) => {
                    let editor = TextEditor::new(self.focus, f.label.clone(), &f.text);
                    Action::push(editor, Vec::new())
                }
                None => Action::None,
            },
            // Pick a row of `model` for the focused field.
            FormAction::Pick(model) => {
                let current = self.fields.get(self.focus).and_then(|f| f.value().ok());
                let (list, cmds) = ListScreen::picker(&model, self.page_size, current);
                Action::push(list, cmds)
            }
            FormAction::Cancel if self.dirty() => {
                Action::Confirm("Discard your changes?".into(), Box::new(Action::Pop))
            }
            FormAction::Cancel => Action::Pop,
            FormAction::Save => match self.validate() {
                Err(why) => Action::Error(why),
                Ok(values) => Action::cmd(Cmd::Save {
                    model: self.model.clone(),
                    key: self.key.clone(),
                    original: self
                        .fields
                        .iter()
                        .map(|f| (f.name.clone(), f.original.clone()))
                        .collect(),
                    values,
                    overwrite: false,
                }),
            },
        }
    }

    fn update(&mut self, msg: &Msg) -> Action {
        match msg {
            Msg::Now(secs) => {
                if let Some(f) = self.fields.get(self.focus).filter(|f| is_time(f.kind)) {
                    let now = time_as(f.kind, *secs);
                    self.set_focused(&now);
                }
                Action::None
            }
            Msg::SaveRefused(message) => {
                self.blame(message);
                Action::None
            }
            Msg::Saved {
                model,
                key,
                created,
            } if self.saved_here(model, key, *created) => Action::Pop,
            // The row as it is now, after a conflict: the fields take its values, the
            // user's edits wait aside.
            Msg::Form {
                model,
                key,
                fields,
                links,
            } if self.reloading.is_some() && *model == self.model && *key == self.key => {
                let mine = self.reloading.take().unwrap_or_default();
                let fresh = FormScreen::from_msg(model, key.clone(), fields, links, self.page_size);
                self.fields = fresh.fields;
                for f in &mut self.fields {
                    f.aside = mine
                        .iter()
                        .find(|(name, _)| *name == f.name)
                        .map(|(_, text)| text.clone());
                }
                self.error = None;
                let n = mine.len();
                Action::Notice(format!(
                    "the form shows the row as it is now; your {n} edits are kept aside \
                     (Ctrl-Y on a field puts yours back)"
                ))
            }
            _ => Action::None,
        }
    }

    fn handoff(&mut self, handoff: Handoff) -> Action {
        match handoff {
            Handoff::Picked(pk) => self.set_focused(&pk),
            Handoff::Text { field, text } => self.set_text(field, text),
            // The conflict's "reload theirs": the form reads the row as it is now and
            // keeps what the user typed aside.
            Handoff::Reload { model, key }
                if model == self.model && self.key.as_ref() == Some(&key) =>
            {
                let mine = self
                    .fields
                    .iter()
                    .filter(|f| f.changed())
                    .map(|f| (f.name.clone(), f.text.clone()))
                    .collect();
                self.reloading = Some(mine);
                return Action::cmd(Cmd::OpenForm {
                    model,
                    key: Some(key),
                });
            }
            reload @ Handoff::Reload { .. } => return Action::PopWith(reload),
            Handoff::Filter(_) | Handoff::Chosen(_) => {}
        }
        Action::None
    }

    fn paste(&mut self, text: &str) {
        FormScreen::paste(self, text);
    }

    fn takes_all_keys(&self) -> bool {
        true
    }

    fn draw(&mut self, buf: &mut Buffer, area: Rect) -> Option<Position> {
        draw_form(self, buf, area)
    }

    fn hints(&self) -> Vec<Hint> {
        vec![
            Hint::new("Tab", "next"),
            Hint::help("Shift-Tab", "previous field"),
            Hint::new("Ctrl-S", "save"),
            Hint::new("Ctrl-N", "null"),
            Hint::new("Ctrl-U", "clear"),
            Hint::new("Ctrl-E", "edit text"),
            Hint::new("Ctrl-P", "pick"),
            Hint::help("Space", "yes/no, or the next listed value"),
            Hint::help("Ctrl-Y", "put back your edit (after a conflict's reload)"),
            Hint::help("Ctrl-T", "now, in a date, time or timestamp field"),
            Hint::new("Esc", ""),
            Hint::new("F1", "help"),
        ]
    }
}

/// The form; returns where the terminal cursor goes (in the focused field).
fn draw_form(f: &mut FormScreen, buf: &mut Buffer, area: Rect) -> Option<Position> {
    let label_w = f
        .fields
        .iter()
        .map(|x| x.label.width())
        .max()
        .unwrap_or(4)
        .clamp(4, 24);
    let x0 = area.x + 2;
    let value_x = x0 + u16::try_from(label_w).unwrap_or(24) + 2;
    let value_w = usize::from(area.right().saturating_sub(value_x + 1)).max(8);
    // Each field takes one line, plus one for its error.
    let heights: Vec<usize> = f
        .fields
        .iter()
        .map(|x| 1 + usize::from(x.error.is_some()))
        .collect();
    let top_of = |i: usize| heights[..i].iter().sum::<usize>();
    let rows = usize::from(area.height.saturating_sub(1));
    let focus_top = top_of(f.focus.min(heights.len()));
    let focus_h = heights.get(f.focus).copied().unwrap_or(1);
    if focus_top < f.scroll {
        f.scroll = focus_top;
    } else if focus_top + focus_h > f.scroll + rows {
        f.scroll = focus_top + focus_h - rows;
    }
    if let Some(e) = &f.error {
        let w = usize::from(area.width.saturating_sub(4));
        putn(buf, area, x0, area.y, e.as_str(), w, ERROR);
    }
    let mut cursor = None;
    let mut line = 0usize;
    for (i, field) in f.fields.iter().enumerate() {
        let focused = i == f.focus;
        for part in 0..heights[i] {
            if line >= f.scroll && line - f.scroll < rows {
                let y = row(area.y + 1, line - f.scroll);
                if part == 0 {
                    let label_style = if focused { SELECTED } else { HEADER };
                    let label = field.label.truncated(label_w);
                    put(buf, area, x0, y, label.as_str(), label_style);
                    let (text, style) = if field.null {
                        (NULL_TEXT.to_string(), NULL)
                    } else if field.read_only {
                        (field.text.clone(), DIM)
                    } else {
                        (field.text.clone(), Style::new())
                    };
                    // Scroll long text so the cursor stays in view.
                    let chars: Vec<char> = text.chars().collect();
                    let start = field.cursor.saturating_sub(value_w.saturating_sub(1));
                    let shown: String = chars.iter().skip(start).collect();
                    let safe = SafeText::new(&shown).truncated(value_w);
                    putn(buf, area, value_x, y, safe.as_str(), value_w, style);
                    let link = field
                        .link
                        .as_ref()
                        .map(|m| format!("→ {} (Ctrl-P picks)", SafeText::new(m)));
                    let choices = (field.kind == ColumnKind::Choice).then(|| {
                        let labels: Vec<String> = field
                            .choices
                            .iter()
                            .map(|c| SafeText::new(c).as_str().to_string())
                            .collect();
                        format!("{} (Space)", labels.join(" | "))
                    });
                    let aside = field
                        .aside
                        .as_ref()
                        .map(|a| format!("yours: {} (Ctrl-Y)", SafeText::new(a).truncated(30)));
                    let hint = match (&aside, &link, &choices, field.read_only) {
                        (_, _, _, true) => "read-only",
                        (Some(a), _, _, false) => a.as_str(),
                        (None, Some(l), _, false) => l.as_str(),
                        (None, None, Some(c), false) => c.as_str(),
                        (None, None, None, false) => kind_hint(field.kind),
                    };
                    let hint_x =
                        value_x.saturating_add(u16::try_from(safe.width() + 2).unwrap_or(0));
                    if hint_x.saturating_add(4) < area.right() {
                        let w = usize::from(area.right() - hint_x);
                        putn(buf, area, hint_x, y, hint, w, DIM);
                    }
                    if focused && !field.read_only {
                        let before: String = chars
                            .iter()
                            .skip(start)
                            .take(field.cursor - start.min(field.cursor))
                            .collect();
                        let cx =
                            value_x + u16::try_from(SafeText::new(&before).width()).unwrap_or(0);
                        cursor = Some(Position::new(cx.min(area.right().saturating_sub(1)), y));
                    }
                } else if let Some(e) = &field.error {
                    let e = SafeText::new(e);
                    putn(buf, area, value_x, y, e.as_str(), value_w, ERROR);
                }
            }
            line += 1;
        }
    }
    cursor
}

#[cfg(test)]
#[path = "form_tests.rs"]
mod tests;
