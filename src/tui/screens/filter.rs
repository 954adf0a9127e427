//! Choosing a filter for one column of the list below: one of the column's most common
//! values (with counts), or a from..to range for numbers and dates.

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;

use crate::domain::{group_thousands, ColumnKind, Filter, FilterOp, Value};
use crate::tui::draw::{placeholder, put, putn, row, GUTTER, HEADER, SELECTED};
use crate::tui::input::{Key, KeyEvent};
use crate::tui::prompt::PromptFor;
use crate::tui::sanitize::SafeText;
use crate::tui::screen::{Action, Crumb, Handoff, Hint, Screen};
use crate::tui::values::{valid_date, valid_timestamp, yes_no};

/// The filter picker.
#[derive(Clone, Debug)]
pub struct FilterScreen {
    pub model: String,
    pub column: String,
    /// The column's kind: how its values read, and what a range of it takes.
    pub kind: ColumnKind,
    pub ranged: bool,
    /// (value, label with its count)
    pub values: Vec<(Value, SafeText)>,
    pub selected: usize,
}

impl FilterScreen {
    /// The picker for `column` from its most common values and their counts.
    pub fn new(model: &str, column: &str, kind: ColumnKind, values: &[(Value, u64)]) -> Self {
        let boolean = kind == ColumnKind::Boolean;
        let ranged = matches!(
            kind,
            ColumnKind::Date | ColumnKind::Timestamp | ColumnKind::Integer | ColumnKind::Real
        );
        let values = values
            .iter()
            .map(|(v, n)| {
                let shown = match v {
                    Value::Null => "∅ NULL".to_string(),
                    other if boolean => yes_no(other),
                    other => other.to_string(),
                };
                let label = SafeText::new(&format!("{shown}  ({})", group_thousands(*n)));
                (v.clone(), label.truncated(60))
            })
            .collect();
        FilterScreen {
            model: model.to_string(),
            column: column.to_string(),
            kind,
            ranged,
            values,
            selected: 0,
        }
    }
}

impl Screen for FilterScreen {
    fn crumb(&self) -> Crumb {
        Crumb::text(&format!("filter {}", self.column))
    }

    fn key(&mut self, k: KeyEvent) -> Action {
        match k.key {
            Key::Down | Key::Char('j') => {
                self.selected = (self.selected + 1).min(self.values.len().saturating_sub(1));
            }
            Key::Up | Key::Char('k') => self.selected = self.selected.saturating_sub(1),
            Key::Char('r') if self.ranged => {
                return Action::Prompt(PromptFor::Range, String::new())
            }
            Key::Enter => {
                return match self.values.get(self.selected) {
                    Some((v, _)) => Action::PopWith(equals(&self.column, v.clone())),
                    None => Action::None,
                }
            }
            _ => return Action::Ignored,
        }
        Action::None
    }

    fn answer(&mut self, what: &PromptFor, text: &str) -> Action {
        match what {
            PromptFor::Range => match range(&self.column, self.kind, text) {
                Ok(filter) => Action::PopWith(filter),
                Err(why) => Action::Error(why),
            },
            _ => Action::None,
        }
    }

    fn draw(&mut self, buf: &mut Buffer, area: Rect) -> Option<Position> {
        put(buf, area, area.x + 2, area.y, "most common values", HEADER);
        if self.values.is_empty() {
            placeholder(buf, area, "No rows.");
            return None;
        }
        let visible = usize::from(area.height.saturating_sub(1)).max(1);
        let offset = self.selected.saturating_sub(visible - 1);
        for (i, (_, label)) in self.values.iter().enumerate().skip(offset).take(visible) {
            let y = row(area.y + 1, i - offset);
            let selected = i == self.selected;
            if selected {
                put(buf, area, area.x, y, GUTTER, Style::new());
            }
            let style = if selected { SELECTED } else { Style::new() };
            let w = usize::from(area.width.saturating_sub(4));
            putn(buf, area, area.x + 2, y, label.as_str(), w, style);
        }
        None
    }

    fn hints(&self) -> Vec<Hint> {
        vec![
            Hint::help("↑ ↓  j k", "move"),
            Hint::new("Enter", "filters by this value"),
            Hint::new("r", "a from..to range").when(self.ranged),
            Hint::new("Esc", "back"),
        ]
    }
}

/// `from..to`, either side may be empty; whole numbers and numbers are compared as
/// numbers, anything else as text (dates and timestamps sort as text).
pub fn parse_range(text: &str) -> Option<(Option<Value>, Option<Value>)> {
    let (from, to) = text.trim().split_once("..")?;
    let value = |s: &str| -> Option<Value> {
        let s = s.trim();
        if s.is_empty() {
            None
        } else if let Ok(i) = s.parse::<i64>() {
            Some(Value::Integer(i))
        } else if let Ok(r) = s.parse::<f64>() {
            Some(Value::Real(r))
        } else {
            Some(Value::Text(s.to_string()))
        }
    };
    let (from, to) = (value(from), value(to));
    (from.is_some() || to.is_some()).then_some((from, to))
}

/// Close a filter picker: filter by `column` = `value`.
pub fn equals(column: &str, value: Value) -> Handoff {
    Handoff::Filter(Filter {
        column: column.to_string(),
        op: FilterOp::Equals(value),
    })
}

/// A `from..to` range for `column` of kind `kind`, or why not: each side must be a value
/// of the column's kind (a date for a date, a number for a number), so a range that
/// cannot match anything is refused, not shown as an empty list.
pub fn range(column: &str, kind: ColumnKind, text: &str) -> Result<Handoff, String> {
    let example = match kind {
        ColumnKind::Date => "dates (YYYY-MM-DD), e.g. 2024-01-01..2024-07-01",
        ColumnKind::Timestamp => {
            "dates or times (YYYY-MM-DD[ HH:MM[:SS]]), e.g. 2024-01-01..2024-07-01 12:00"
        }
        ColumnKind::Integer => "whole numbers, e.g. 100..200",
        _ => "numbers, e.g. 0.5..2",
    };
    let refused = || format!("type from..to with {example} (either side may be empty)");
    let (from, to) = parse_range(text).ok_or_else(refused)?;
    let fits = |v: &Option<Value>| match (v, kind) {
        (None, _) => true,
        (Some(Value::Text(t)), ColumnKind::Date) => valid_date(t),
        (Some(Value::Text(t)), ColumnKind::Timestamp) => valid_timestamp(t),
        (Some(Value::Integer(_)), ColumnKind::Integer | ColumnKind::Real) => true,
        (Some(Value::Real(_)), ColumnKind::Real) => true,
        _ => false,
    };
    if !(fits(&from) && fits(&to)) {
        return Err(refused());
    }
    Ok(Handoff::Filter(Filter {
        column: column.to_string(),
        op: FilterOp::Range { from, to },
    }))
}
