//! A short list to choose one item from (the bulk actions a model declares): ↑ ↓ move,
//! Enter hands the choice back to the screen below, Esc goes back without one.

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;

use crate::tui::draw::{put, putn, row, GUTTER, HEADER, SELECTED};
use crate::tui::input::{Key, KeyEvent};
use crate::tui::sanitize::SafeText;
use crate::tui::screen::{Action, Crumb, Handoff, Hint, Screen};

/// A choice among a few named items.
#[derive(Clone, Debug)]
pub struct MenuScreen {
    /// What is being chosen (`action for the 3 marked rows of posts`).
    pub title: SafeText,
    pub crumb: &'static str,
    pub items: Vec<String>,
    pub selected: usize,
}

impl MenuScreen {
    pub fn new(crumb: &'static str, title: &str, items: Vec<String>) -> MenuScreen {
        MenuScreen {
            title: SafeText::new(title),
            crumb,
            items,
            selected: 0,
        }
    }
}

impl Screen for MenuScreen {
    fn crumb(&self) -> Crumb {
        Crumb::text(self.crumb)
    }

    fn key(&mut self, k: KeyEvent) -> Action {
        let n = self.items.len();
        match k.key {
            Key::Down | Key::Char('j') => {
                self.selected = (self.selected + 1).min(n.saturating_sub(1))
            }
            Key::Up | Key::Char('k') => self.selected = self.selected.saturating_sub(1),
            Key::Enter => {
                return match self.items.get(self.selected) {
                    Some(item) => Action::PopWith(Handoff::Chosen(item.clone())),
                    None => Action::Pop,
                }
            }
            _ => return Action::Ignored,
        }
        Action::None
    }

    fn draw(&mut self, buf: &mut Buffer, area: Rect) -> Option<Position> {
        let w = usize::from(area.width.saturating_sub(4));
        putn(
            buf,
            area,
            area.x + 2,
            area.y,
            self.title.as_str(),
            w,
            HEADER,
        );
        for (i, item) in self.items.iter().enumerate() {
            let y = row(area.y + 2, i);
            let selected = i == self.selected;
            if selected {
                put(buf, area, area.x, y, GUTTER, Style::new());
            }
            let style = if selected { SELECTED } else { Style::new() };
            putn(
                buf,
                area,
                area.x + 2,
                y,
                SafeText::new(item).as_str(),
                w,
                style,
            );
        }
        None
    }

    fn hints(&self) -> Vec<Hint> {
        vec![
            Hint::help("↑ ↓  j k", "move"),
            Hint::new("Enter", "choose"),
            Hint::new("Esc", "back"),
        ]
    }
}
