//! The model index: the first screen. Every model the user may see, with its number of
//! columns and rows; Enter opens its list.

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;

use super::list::ListScreen;
use crate::domain::{ListQuery, RowCount};
use crate::tui::draw::{placeholder, put, putn, row, GUTTER, HEADER, SELECTED};
use crate::tui::input::{Key, KeyEvent};
use crate::tui::protocol::{Cmd, ModelSummary, Msg};
use crate::tui::sanitize::SafeText;
use crate::tui::screen::{Action, Crumb, Hint, Screen};

/// The model index.
#[derive(Clone, Debug)]
pub struct IndexScreen {
    /// Each model, its label, and its row count once counted.
    pub models: Vec<(ModelSummary, SafeText, Option<RowCount>)>,
    pub selected: usize,
    pub loaded: bool,
    /// Rows per page of a list, unless a model sets its own.
    page_size: u32,
}

impl IndexScreen {
    pub fn new(page_size: u32) -> IndexScreen {
        IndexScreen {
            models: Vec::new(),
            selected: 0,
            loaded: false,
            page_size,
        }
    }
}

impl Screen for IndexScreen {
    fn crumb(&self) -> Crumb {
        Crumb::text("models")
    }

    fn key(&mut self, k: KeyEvent) -> Action {
        let n = self.models.len();
        match k.key {
            Key::Down | Key::Char('j') => {
                self.selected = (self.selected + 1).min(n.saturating_sub(1))
            }
            Key::Up | Key::Char('k') => self.selected = self.selected.saturating_sub(1),
            Key::Home | Key::Char('g') => self.selected = 0,
            Key::End | Key::Char('G') => self.selected = n.saturating_sub(1),
            Key::Enter | Key::Right | Key::Char('l') => {
                if let Some((m, label, count)) = self.models.get(self.selected) {
                    let (list, cmds) = ListScreen::open(m, label.clone(), *count, self.page_size);
                    return Action::push(list, cmds);
                }
            }
            _ => return Action::Ignored,
        }
        Action::None
    }

    fn update(&mut self, msg: &Msg) -> Action {
        match msg {
            Msg::Models(models) => {
                // The selection stays on its model (by name) when the list is read again.
                let kept = self.models.get(self.selected).map(|m| m.0.name.clone());
                let cmds = models
                    .iter()
                    .map(|m| Cmd::Count {
                        model: m.name.clone(),
                        query: ListQuery::default(),
                    })
                    .collect();
                self.models = models
                    .iter()
                    .map(|m| (m.clone(), SafeText::new(&m.label), None))
                    .collect();
                self.selected = kept
                    .and_then(|k| self.models.iter().position(|m| m.0.name == k))
                    .unwrap_or(0);
                self.loaded = true;
                Action::Cmds(cmds)
            }
            Msg::Counted {
                model,
                query,
                count,
            } if query.search.is_none() => {
                for entry in self.models.iter_mut().filter(|e| &e.0.name == model) {
                    entry.2 = Some(*count);
                }
                Action::None
            }
            _ => Action::None,
        }
    }

    fn refresh(&mut self) -> Vec<Cmd> {
        vec![Cmd::LoadModels]
    }

    fn draw(&mut self, buf: &mut Buffer, area: Rect) -> Option<Position> {
        if !self.loaded {
            placeholder(buf, area, "loading…");
            return None;
        }
        if self.models.is_empty() {
            placeholder(
                buf,
                area,
                "No models to show: no tables, or no permission on any of them.",
            );
            return None;
        }
        let name_w = self
            .models
            .iter()
            .map(|m| m.1.width())
            .max()
            .unwrap_or(0)
            .clamp(5, 40);
        let header = format!("  {:<name_w$}  {:>7}  {:>10}", "Model", "Columns", "Rows");
        putn(
            buf,
            area,
            area.x,
            area.y,
            &header,
            usize::from(area.width),
            HEADER,
        );
        let visible = usize::from(area.height.saturating_sub(1));
        let offset = self.selected.saturating_sub(visible.saturating_sub(1));
        for (i, (model, label, count)) in self.models.iter().enumerate().skip(offset).take(visible)
        {
            let y = row(area.y + 1, i - offset);
            let selected = i == self.selected;
            if selected {
                put(buf, area, area.x, y, GUTTER, Style::new());
            }
            let name = label.truncated(name_w);
            let pad = name_w.saturating_sub(name.width());
            put(
                buf,
                area,
                area.x + 2,
                y,
                format!("{}{}", name.as_str(), " ".repeat(pad)),
                if selected { SELECTED } else { Style::new() },
            );
            let count = count.map(|c| c.to_string()).unwrap_or_else(|| "…".into());
            let rest = format!("  {:>7}  {:>10}", model.columns, count);
            let x = area.x + 2 + u16::try_from(name_w).unwrap_or(0);
            if x < area.right() {
                putn(
                    buf,
                    area,
                    x,
                    y,
                    rest,
                    usize::from(area.right() - x),
                    Style::new(),
                );
            }
        }
        None
    }

    fn hints(&self) -> Vec<Hint> {
        vec![
            Hint::new("Enter", "open"),
            Hint::new("j/k", "move"),
            Hint::help("g G", "first / last"),
            Hint::new("?", "help"),
            Hint::new("q", "quit"),
        ]
    }
}
