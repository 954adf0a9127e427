//! `:exports`: the user's own exports (name, size, created, expires), how to fetch them
//! over SFTP on the SSH port, and `d` to delete one (the question names the file). The
//! session lists only the user's own files and checks the name again on delete.

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;

use super::manage::{keep, move_key, MOVE};
use crate::domain::{format_duration, format_time, human_size};
use crate::tui::draw::{placeholder, put, table_max, LIST_CELL_WIDTH};
use crate::tui::input::{Key, KeyEvent};
use crate::tui::protocol::{Cmd, ExportEntry, ExportList, Msg};
use crate::tui::sanitize::SafeText;
use crate::tui::screen::{Action, Crumb, Hint, Screen};

/// Room for a whole export name (a model name of up to 40 characters and the stamp).
const NAME_WIDTH: usize = 64;

/// `YYYY-MM-DD HH:MM` of a `YYYY-MM-DD HH:MM:SS UTC` time.
fn minutes(time: &str) -> &str {
    time.get(..16).unwrap_or(time)
}

/// One's own exports.
#[derive(Clone, Debug, Default)]
pub struct ExportsScreen {
    pub list: Option<ExportList>,
    pub selected: usize,
}

impl ExportsScreen {
    pub fn open() -> (ExportsScreen, Vec<Cmd>) {
        (ExportsScreen::default(), vec![Cmd::LoadExports])
    }

    fn entries(&self) -> &[ExportEntry] {
        self.list.as_ref().map_or(&[], |l| l.entries.as_slice())
    }

    /// The lines saying how to fetch the selected file: the command, what to type in
    /// it, and the one-line `scp` alternative.
    fn how(&self, list: &ExportList) -> [String; 3] {
        let name = self
            .entries()
            .get(self.selected)
            .map_or("NAME", |e| e.name.as_str());
        [
            format!(
                "Fetch over SFTP (read-only, kept {} h): sftp -P {} {}@HOST",
                list.ttl_hours, list.port, list.user
            ),
            format!("  then: get exports/{name}"),
            format!(
                "or: scp -P {} {}@HOST:exports/{name} .",
                list.port, list.user
            ),
        ]
    }
}

impl Screen for ExportsScreen {
    fn crumb(&self) -> Crumb {
        Crumb::text("my exports")
    }

    fn key(&mut self, k: KeyEvent) -> Action {
        let n = self.entries().len();
        if move_key(k, &mut self.selected, n, true) {
            return Action::None;
        }
        match k.key {
            Key::Char('l') => Action::cmd(Cmd::LoadExports),
            Key::Char('d') | Key::Delete => match self.entries().get(self.selected) {
                Some(e) => Action::Confirm(
                    format!("Delete your export exports/{}?", e.name),
                    Box::new(Action::Cmds(vec![
                        Cmd::DeleteExport {
                            name: e.name.clone(),
                        },
                        Cmd::LoadExports,
                    ])),
                ),
                None => Action::None,
            },
            _ => Action::Ignored,
        }
    }

    fn update(&mut self, msg: &Msg) -> Action {
        if let Msg::Exports(list) = msg {
            let kept = self.entries().get(self.selected).map(|e| e.name.clone());
            self.selected =
                keep::<_, str>(kept.as_deref(), &list.entries, |e| &e.name, self.selected);
            self.list = Some(list.clone());
        }
        Action::None
    }

    fn refresh(&mut self) -> Vec<Cmd> {
        vec![Cmd::LoadExports]
    }

    fn failed(&mut self) -> Action {
        if self.list.is_some() {
            Action::None
        } else {
            Action::Pop
        }
    }

    fn draw(&mut self, buf: &mut Buffer, area: Rect) -> Option<Position> {
        let Some(list) = self.list.clone() else {
            placeholder(buf, area, "loading…");
            return None;
        };
        let how = self.how(&list);
        for (i, line) in how.iter().enumerate() {
            let y = area.y.saturating_add(u16::try_from(i).unwrap_or(0));
            put(
                buf,
                area,
                area.x,
                y,
                SafeText::new(line).as_str(),
                Style::default(),
            );
        }
        let below = Rect {
            y: area.y.saturating_add(4),
            height: area.height.saturating_sub(4),
            ..area
        };
        if list.entries.is_empty() {
            placeholder(
                buf,
                below,
                "no exports yet: `x` on a list writes one (as searched, filtered and sorted)",
            );
            return None;
        }
        let rows: Vec<Vec<SafeText>> = list
            .entries
            .iter()
            .map(|e| {
                vec![
                    SafeText::new(&e.name),
                    SafeText::new(&human_size(i64::try_from(e.size).unwrap_or(i64::MAX))),
                    SafeText::new(minutes(&format_time(e.created))),
                    SafeText::new(&format!(
                        "in {}",
                        format_duration(e.expires.saturating_sub(list.now))
                    )),
                ]
            })
            .collect();
        let header = ["name", "size", "created (UTC)", "expires"];
        table_max(buf, below, &header, &rows, self.selected, |c| match c {
            0 => NAME_WIDTH,
            _ => LIST_CELL_WIDTH,
        });
        None
    }

    fn hints(&self) -> Vec<Hint> {
        let mut hints = MOVE.to_vec();
        hints.extend([
            Hint::new("d", "delete").when(!self.entries().is_empty()),
            Hint::new("l", "reload"),
            Hint::new("sftp", "get exports/NAME"),
            Hint::new("Esc", "back"),
        ]);
        hints
    }
}
