//! A model's rows, one keyset page at a time: move, page, search, sort, filter, mark rows
//! for bulk actions, open, edit, delete, export. Also the row picker a form opens for a
//! foreign key (Enter hands the row's key back).

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};

mod draw;

use super::menu::MenuScreen;
use super::record::RecordScreen;
use crate::domain::{
    group_thousands, key_label, pk_text, Capabilities, ColumnKind, Filter, ListQuery, PageAnchor,
    RowCount, SearchPath, Sort, Value,
};
use crate::tui::draw::CellText;
use crate::tui::input::{Key, KeyEvent};
use crate::tui::prompt::PromptFor;
use crate::tui::protocol::{Cmd, ModelSummary, Msg};
use crate::tui::sanitize::SafeText;
use crate::tui::screen::{Action, Crumb, Handoff, Hint, Screen, MOVE_HINTS};
use crate::tui::values::yes_no;

/// A row of a list.
#[derive(Clone, Debug, PartialEq)]
pub struct ListRow {
    pub key: Vec<Value>,
    /// Where this row sits in the list's order (what page anchors hold).
    pub cursor: Vec<Value>,
    pub cells: Vec<CellText>,
    /// The other face of the foreign-key cells (by column): the key while `cells` shows
    /// the referenced row's name, the name while it shows the key (`i` swaps them).
    pub alt: Vec<(usize, CellText)>,
    /// What the user may do on this row.
    pub caps: Capabilities,
}

/// Where the cursor goes when a requested page arrives.
#[derive(Clone, Debug, PartialEq)]
pub enum Land {
    First,
    Last,
    At(usize),
    /// This many rows before the end of the page.
    FromEnd(usize),
    /// On the row with this key (a reload): a selection follows its row, never its
    /// position. `at` is where the row was on the page shown; `cursor` its place in the
    /// list's order, to look for it there when it is not on the page reloaded.
    Key {
        key: Vec<Value>,
        cursor: Vec<Value>,
        at: usize,
        retried: bool,
    },
}

/// A model's rows, one keyset page at a time.
#[derive(Clone, Debug)]
pub struct ListScreen {
    pub model: String,
    pub label: SafeText,
    pub columns: Vec<SafeText>,
    pub rows: Vec<ListRow>,
    pub has_before: bool,
    pub has_after: bool,
    pub selected: usize,
    /// First row drawn (kept by `draw` so the selection stays visible).
    pub offset: usize,
    /// The first of the columns that scroll sideways drawn (the key columns stay).
    pub col_offset: usize,
    /// The column under the column cursor (← →): the one `f` filters and `s` sorts by.
    pub col_cursor: usize,
    /// The key columns of the page (by index in `columns`): drawn first, always in view.
    pub pinned: Vec<usize>,
    pub count: Option<RowCount>,
    /// The list's count is wanted with the page on its way: asked for when the page
    /// arrives, unless that page holds the whole list (then its rows are the count, and a
    /// search that finds a page or less costs one query).
    pub count_wanted: bool,
    /// Absolute index of `rows[0]` in the whole list, when known.
    pub start: Option<u64>,
    /// A page request is in flight: where the cursor lands when it arrives.
    pub pending: Option<(PageAnchor, Land)>,
    /// Rows that fit on screen, from the last draw (for PgUp/PgDn).
    pub visible: usize,
    /// The search and order in force.
    pub query: ListQuery,
    /// The columns' names as the store knows them (for sorting).
    pub column_names: Vec<String>,
    /// Keys of the rows marked with Space, for bulk actions.
    pub marked: Vec<Vec<Value>>,
    /// Opened from a form to pick a row: Enter hands its key back to the form.
    pub picking: bool,
    /// Its rows could not be read (the status line says why: a refusal, a dropped table).
    pub unreadable: bool,
    /// Rows per page.
    pub limit: u32,
    /// What Esc goes back to (the model's default order).
    pub default_query: ListQuery,
    /// The model's declared bulk actions.
    pub bulk_actions: Vec<String>,
    /// What the user may do on every row of the model.
    pub caps: Capabilities,
    /// How the last page's search ran (index, scan, too short for the index).
    pub search_path: SearchPath,
    /// Foreign keys shown as keys rather than the names of the rows they point at (`i`).
    pub show_keys: bool,
}

impl ListScreen {
    pub fn new(model: String, label: SafeText, count: Option<RowCount>) -> ListScreen {
        ListScreen {
            model,
            label,
            columns: Vec::new(),
            rows: Vec::new(),
            has_before: false,
            has_after: false,
            selected: 0,
            offset: 0,
            col_offset: 0,
            col_cursor: 0,
            pinned: Vec::new(),
            count,
            count_wanted: false,
            start: None,
            pending: Some((PageAnchor::First, Land::First)),
            visible: 10,
            query: ListQuery::default(),
            column_names: Vec::new(),
            marked: Vec::new(),
            picking: false,
            unreadable: false,
            limit: 100,
            default_query: ListQuery::default(),
            bulk_actions: Vec::new(),
            caps: Capabilities::default(),
            search_path: SearchPath::Scan,
            show_keys: false,
        }
    }

    /// The list of model `m` as the index opens it, with the commands that fill it.
    pub fn open(
        m: &ModelSummary,
        label: SafeText,
        count: Option<RowCount>,
        page_size: u32,
    ) -> (ListScreen, Vec<Cmd>) {
        let mut list = ListScreen::new(m.name.clone(), label, count);
        list.limit = m.page_size.unwrap_or(page_size);
        list.bulk_actions = m.bulk_actions.clone();
        list.caps = m.caps;
        list.default_query = ListQuery {
            sort: m.ordering.clone(),
            ..ListQuery::default()
        };
        list.query = list.default_query.clone();
        let cmds = list.first_page_cmds();
        (list, cmds)
    }

    /// The rows of `m` that refer to a record, `filter` holding them to it: the filter
    /// shows as a chip and is the list's own (Esc goes back rather than dropping it).
    pub fn related(
        m: &ModelSummary,
        label: SafeText,
        filter: Filter,
        page_size: u32,
    ) -> (ListScreen, Vec<Cmd>) {
        let (mut list, _) = ListScreen::open(m, label, None, page_size);
        list.default_query.filters = vec![filter];
        list.query = list.default_query.clone();
        let cmds = list.first_page_cmds();
        (list, cmds)
    }

    /// What fills a new list: its first page, then its count, as queried.
    fn first_page_cmds(&mut self) -> Vec<Cmd> {
        self.count_wanted = true;
        vec![Cmd::LoadPage {
            model: self.model.clone(),
            anchor: PageAnchor::First,
            limit: self.limit,
            query: self.query.clone(),
        }]
    }

    /// A list to pick a row of `model` from, for a form's foreign key.
    /// It opens on `current` (the field's value, a key of `model`), or the first row.
    pub fn picker(model: &str, page_size: u32, current: Option<Value>) -> (ListScreen, Vec<Cmd>) {
        let mut list = ListScreen::new(model.to_string(), SafeText::new(model), None);
        list.picking = true;
        list.limit = page_size;
        // In key order (a picker is never sorted), the page from the current key starts
        // with its row.
        let anchor = match current {
            Some(v) if !v.is_null() => PageAnchor::From(vec![v]),
            _ => PageAnchor::First,
        };
        let first = list.request(anchor, Land::First);
        list.count_wanted = true;
        (list, vec![first])
    }

    /// Ask for the page at `anchor`; the cursor lands at `land` when it arrives.
    pub fn request(&mut self, anchor: PageAnchor, land: Land) -> Cmd {
        let limit = self.limit;
        self.pending = Some((anchor.clone(), land));
        Cmd::LoadPage {
            model: self.model.clone(),
            anchor,
            limit,
            query: self.query.clone(),
        }
    }

    /// Count the rows of this list (as searched).
    pub fn count_cmd(&self) -> Cmd {
        Cmd::Count {
            model: self.model.clone(),
            query: self.query.clone(),
        }
    }

    /// Search or sort changed: start over from the first row.
    fn requery(&mut self) -> Vec<Cmd> {
        self.count = None;
        self.start = Some(0);
        self.rows.clear();
        self.selected = 0;
        self.offset = 0;
        self.count_wanted = true;
        vec![self.request(PageAnchor::First, Land::First)]
    }

    /// Reload the page shown; the cursor stays on the row it was on (by key), wherever
    /// that row is now.
    fn reload(&mut self) -> Cmd {
        self.reload_without(&[])
    }

    /// [`ListScreen::reload`] after the rows with keys `gone` were deleted here: the cursor
    /// goes to the selected row, or if it is gone, its neighbour (the next one, else the
    /// one before).
    fn reload_without(&mut self, gone: &[Vec<Value>]) -> Cmd {
        let keep = |r: &&ListRow| !gone.contains(&r.key);
        let target = self
            .rows
            .iter()
            .enumerate()
            .skip(self.selected)
            .find(|(_, r)| keep(r))
            .or_else(|| {
                self.rows
                    .iter()
                    .enumerate()
                    .take(self.selected)
                    .rev()
                    .find(|(_, r)| keep(r))
            })
            .map(|(i, r)| Land::Key {
                key: r.key.clone(),
                cursor: r.cursor.clone(),
                at: i,
                retried: false,
            });
        match (self.rows.first(), target) {
            // The first page is read from the top again, so rows added above it show
            // (and the row numbers stay true); a later page from its first row.
            (Some(_), Some(land)) if self.start == Some(0) => self.request(PageAnchor::First, land),
            (Some(first), Some(land)) => {
                let anchor = PageAnchor::From(first.cursor.clone());
                self.request(anchor, land)
            }
            _ => self.request(PageAnchor::First, Land::First),
        }
    }

    /// Move the cursor by `delta` rows, fetching the neighbouring page when it leaves
    /// this one.
    fn move_by(&mut self, delta: isize) -> Option<Cmd> {
        let len = self.rows.len();
        let target = isize::try_from(self.selected)
            .unwrap_or(0)
            .saturating_add(delta);
        if target < 0 {
            if let (true, Some(first)) = (self.has_before, self.rows.first()) {
                let anchor = PageAnchor::Before(first.cursor.clone());
                return Some(self.request(anchor, Land::FromEnd(target.unsigned_abs())));
            }
            self.selected = 0;
        } else if target.unsigned_abs() >= len {
            if let (true, Some(last)) = (self.has_after, self.rows.last()) {
                let anchor = PageAnchor::After(last.cursor.clone());
                return Some(self.request(anchor, Land::At(target.unsigned_abs() - len)));
            }
            self.selected = len.saturating_sub(1);
        } else {
            self.selected = target.unsigned_abs();
        }
        None
    }

    /// The selected row, if any.
    fn current(&self) -> Option<&ListRow> {
        self.rows.get(self.selected)
    }

    /// What the user may do on the selected row (the model's capabilities when no row
    /// is selected).
    fn row_caps(&self) -> Capabilities {
        self.current().map_or(self.caps, |r| r.caps)
    }

    fn on_page(&mut self, anchor: &PageAnchor, msg: &Msg) -> Action {
        let Msg::Page {
            page,
            caps,
            row_caps,
            key_columns,
            kinds,
            links,
            ..
        } = msg
        else {
            return Action::None;
        };
        let land = match self.pending.take() {
            Some((wanted, land)) if wanted == *anchor => land,
            // A stale answer (the user moved on): ignore it.
            other => {
                self.pending = other;
                return Action::None;
            }
        };
        self.caps = *caps;
        self.unreadable = false;
        let old_len = self.rows.len() as u64;
        // The column cursor stays on its column (by name).
        let cursor_on = self.column_names.get(self.col_cursor).cloned();
        self.columns = page.columns.iter().map(|c| SafeText::new(c)).collect();
        self.column_names = page.columns.clone();
        self.pinned = key_columns
            .iter()
            .filter_map(|k| self.column_names.iter().position(|c| c == k))
            .collect();
        self.col_cursor = cursor_on
            .and_then(|c| self.column_names.iter().position(|n| *n == c))
            .unwrap_or(self.col_cursor)
            .min(self.columns.len().saturating_sub(1));
        self.rows = page
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| ListRow {
                cells: r
                    .values
                    .iter()
                    .zip(
                        kinds
                            .iter()
                            .copied()
                            .map(Some)
                            .chain(std::iter::repeat(None)),
                    )
                    .map(|(v, kind)| match (v, kind) {
                        (Value::Null, _) | (_, None) => CellText::line(v),
                        (v, Some(ColumnKind::Boolean)) => CellText::line(&Value::Text(yes_no(v))),
                        (v, Some(_)) => CellText::line(v),
                    })
                    .collect(),
                alt: Vec::new(),
                key: r.key.clone(),
                cursor: r.cursor.clone(),
                caps: row_caps
                    .as_ref()
                    .and_then(|c| c.get(i).copied())
                    .unwrap_or(*caps),
            })
            .collect();
        for link in links {
            for (row, name) in self.rows.iter_mut().zip(&link.names) {
                let Some(name) = name else { continue };
                let name = CellText::line(&Value::Text(name.clone()));
                if self.show_keys {
                    row.alt.push((link.column, name));
                } else if let Some(cell) = row.cells.get_mut(link.column) {
                    row.alt.push((link.column, std::mem::replace(cell, name)));
                }
            }
        }
        self.has_before = page.has_before;
        self.has_after = page.has_after;
        self.search_path = page.search_path;
        let len = self.rows.len();
        let count_wanted = std::mem::take(&mut self.count_wanted);
        let count = if !page.has_before && !page.has_after {
            // The whole list is on this page: that is its count.
            self.count = Some(RowCount::Exact(len as u64));
            None
        } else {
            count_wanted.then(|| self.count_cmd())
        };
        self.start = match anchor {
            PageAnchor::First => Some(0),
            PageAnchor::After(_) => self.start.map(|s| s + old_len),
            PageAnchor::From(_) => {
                if self.start == Some(0) {
                    self.has_before = false;
                }
                self.start
            }
            PageAnchor::Before(_) => self.start.and_then(|s| s.checked_sub(len as u64)),
            PageAnchor::Last => match self.count {
                Some(RowCount::Exact(n)) => n.checked_sub(len as u64),
                _ => None,
            },
        };
        if let Land::Key {
            at, retried: true, ..
        } = &land
        {
            // This page starts where the row was.
            self.start = self.start.map(|s| s + *at as u64);
        }
        if !self.has_before {
            self.start = Some(0);
        }
        let last = len.saturating_sub(1);
        let mut action = Action::None;
        self.selected = match &land {
            Land::First => 0,
            Land::Last => last,
            Land::At(i) => (*i).min(last),
            Land::FromEnd(n) => len.saturating_sub(*n),
            Land::Key {
                key,
                cursor,
                at,
                retried,
            } => match self.rows.iter().position(|r| r.key == *key) {
                Some(i) => i,
                // Not on this page: rows came or went before it. Look where it was.
                None if !retried && self.has_after | self.has_before => {
                    let land = Land::Key {
                        key: key.clone(),
                        cursor: cursor.clone(),
                        at: *at,
                        retried: true,
                    };
                    action = Action::cmd(self.request(PageAnchor::From(cursor.clone()), land));
                    (*at).min(last)
                }
                None if *retried => {
                    action = Action::Notice(
                        "the row you had selected is gone (deleted, or no longer in this list); \
                         the cursor is on the next one"
                            .into(),
                    );
                    0
                }
                None => {
                    action = Action::Notice(
                        "the row you had selected is gone (deleted, or no longer in this list)"
                            .into(),
                    );
                    (*at).min(last)
                }
            },
        };
        self.offset = match land {
            Land::First => 0,
            _ => self.offset.min(self.selected),
        };
        match (action, count) {
            (action, None) => action,
            (Action::None, Some(count)) => Action::cmd(count),
            (action, Some(count)) => Action::Many(vec![action, Action::cmd(count)]),
        }
    }

    /// `row 12 of 2,000`; when the position is unknown (not counted), `last row of
    /// 10,000+` or the selected row's key, `key 999950 of 10,000+`.
    fn position(&self) -> String {
        let count = self
            .count
            .map(|c| c.to_string())
            .unwrap_or_else(|| "…".into());
        if self.rows.is_empty() {
            return format!("0 of {count} rows");
        }
        let Some(start) = self.start else {
            // Not counted (a big table reached by `G`): the last row, or the selected key.
            if !self.has_after && self.selected + 1 == self.rows.len() {
                return format!("last row of {count}");
            }
            let key = self
                .current()
                .map(|r| {
                    r.key
                        .iter()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            return format!("key {} of {count}", SafeText::new(&key));
        };
        format!(
            "row {} of {count}",
            group_thousands(start + self.selected as u64 + 1)
        )
    }

    fn list_key(&mut self, k: KeyEvent) -> Action {
        let page = isize::try_from(self.visible.max(1)).unwrap_or(1);
        let cmd = match k.key {
            Key::Down | Key::Char('j') => self.move_by(1),
            Key::Up | Key::Char('k') => self.move_by(-1),
            Key::PageDown => self.move_by(page),
            Key::Char('f') if k.mods.ctrl => self.move_by(page),
            Key::PageUp => self.move_by(-page),
            Key::Char('b') if k.mods.ctrl => self.move_by(-page),
            Key::Home | Key::Char('g') if self.has_before => {
                Some(self.request(PageAnchor::First, Land::First))
            }
            Key::Home | Key::Char('g') => {
                self.selected = 0;
                None
            }
            Key::End | Key::Char('G') if self.has_after => {
                Some(self.request(PageAnchor::Last, Land::Last))
            }
            Key::End | Key::Char('G') => {
                self.selected = self.rows.len().saturating_sub(1);
                None
            }
            // The column cursor; the view follows it when drawn.
            Key::Left | Key::Char('h') => {
                self.col_cursor = self.col_cursor.saturating_sub(1);
                None
            }
            Key::Right | Key::Char('l') => {
                self.col_cursor = (self.col_cursor + 1).min(self.columns.len().saturating_sub(1));
                None
            }
            Key::Char('n') if !self.picking => {
                return Action::cmd(Cmd::OpenForm {
                    model: self.model.clone(),
                    key: None,
                });
            }
            Key::Char('F') => {
                // Drop the filter on the column under the cursor (the others stay).
                let Some(column) = self.column_names.get(self.col_cursor).cloned() else {
                    return Action::None;
                };
                if !self.query.filters.iter().any(|f| f.column == column) {
                    return Action::Notice(format!("no filter on {column}"));
                }
                self.query.filters.retain(|f| f.column != column);
                return Action::Cmds(self.requery());
            }
            Key::Char('f') => {
                let Some(column) = self.column_names.get(self.col_cursor).cloned() else {
                    return Action::None;
                };
                return Action::cmd(Cmd::LoadDistinct {
                    model: self.model.clone(),
                    column,
                    query: self.query.clone(),
                });
            }
            Key::Char('s') => {
                // Sort by the column under the cursor (← → choose it); again to reverse.
                let Some(column) = self.column_names.get(self.col_cursor).cloned() else {
                    return Action::None;
                };
                let descending =
                    matches!(&self.query.sort, Some(o) if o.column == column && !o.descending);
                self.query.sort = Some(Sort { column, descending });
                return Action::Cmds(self.requery());
            }
            // A picker only moves, searches, sorts and filters.
            _ if self.picking => return Action::Ignored,
            Key::Char('c') if k.mods.plain() => {
                return Action::cmd(Cmd::LoadColumns {
                    model: self.model.clone(),
                })
            }
            Key::Char('i') if self.has_links() => {
                self.show_keys = !self.show_keys;
                for row in &mut self.rows {
                    for (c, other) in &mut row.alt {
                        if let Some(cell) = row.cells.get_mut(*c) {
                            std::mem::swap(cell, other);
                        }
                    }
                }
                return Action::None;
            }
            Key::Char('*') => return super::bulk::mark_all_key(self),
            Key::Char('S') => return super::bulk::set_field_key(self),
            Key::Char('x') => {
                return Action::cmd(Cmd::Export {
                    model: self.model.clone(),
                    query: self.query.clone(),
                });
            }
            Key::Char('e') => {
                return match self.current() {
                    Some(row) => Action::cmd(Cmd::OpenForm {
                        model: self.model.clone(),
                        key: Some(row.key.clone()),
                    }),
                    None => Action::None,
                };
            }
            Key::Char(' ') => {
                if let Some(key) = self.current().map(|r| r.key.clone()) {
                    match self.marked.iter().position(|k| *k == key) {
                        Some(i) => {
                            self.marked.remove(i);
                        }
                        None => self.marked.push(key),
                    }
                }
                self.move_by(1)
            }
            Key::Char('a') if !self.marked.is_empty() && !self.bulk_actions.is_empty() => {
                // The declared actions by name, in a menu: nothing to type from memory.
                let title = format!(
                    "Action for the {} marked rows of {}:",
                    group_thousands(self.marked.len() as u64),
                    self.model
                );
                let menu = MenuScreen::new("actions", &title, self.bulk_actions.clone());
                return Action::push(menu, Vec::new());
            }
            Key::Char('a') if self.bulk_actions.is_empty() => {
                return Action::Notice(format!("{} declares no bulk actions", self.model));
            }
            Key::Char('a') => {
                return Action::Notice("mark rows with Space first".into());
            }
            Key::Char('d') if !self.marked.is_empty() => {
                // The answer names them and says what goes with them.
                return Action::cmd(Cmd::AskDeleteMany {
                    model: self.model.clone(),
                    keys: self.marked.clone(),
                });
            }
            Key::Char('d') => {
                return match self.current() {
                    Some(row) => Action::cmd(Cmd::AskDelete {
                        model: self.model.clone(),
                        key: row.key.clone(),
                    }),
                    None => Action::None,
                };
            }
            Key::Enter => {
                return match self.current() {
                    Some(row) => {
                        let (record, cmds) =
                            RecordScreen::open(&self.model, self.label.clone(), row.key.clone());
                        Action::push(record, cmds)
                    }
                    None => Action::None,
                };
            }
            _ => return Action::Ignored,
        };
        match cmd {
            Some(c) => Action::cmd(c),
            None => Action::None,
        }
    }
}

impl Screen for ListScreen {
    fn crumb(&self) -> Crumb {
        Crumb::model(&self.model, &self.label, None)
    }

    fn key(&mut self, k: KeyEvent) -> Action {
        match k.key {
            Key::Esc if self.query != self.default_query => {
                // Esc first drops a search, filter or sort, then goes back.
                self.query = self.default_query.clone();
                return Action::Cmds(self.requery());
            }
            Key::Char('/') if k.mods.plain() => {
                let current = self.query.search.clone().unwrap_or_default();
                // An empty prompt: what is typed is a new search; ↑ brings back the one
                // in force.
                return Action::PromptRecall(PromptFor::Search, current);
            }
            Key::Char('#') if k.mods.plain() => {
                return Action::Prompt(PromptFor::Jump, String::new());
            }
            Key::Enter if self.picking => {
                return match self.current().and_then(|r| pk_text(&r.key)) {
                    Some(pk) => Action::PopWith(Handoff::Picked(pk)),
                    None => Action::Pop,
                };
            }
            _ => {}
        }
        if self.pending.is_some() {
            // A page is on its way; keys would act on stale rows. Leaving stays possible.
            return match k.key {
                Key::Esc | Key::Char('q') => Action::Ignored,
                _ => Action::None,
            };
        }
        self.list_key(k)
    }

    fn update(&mut self, msg: &Msg) -> Action {
        match msg {
            Msg::Page { model, anchor, .. } if *model == self.model => self.on_page(anchor, msg),
            Msg::Counted {
                model,
                query,
                count,
            } if *model == self.model
                && query.search == self.query.search
                && query.filters == self.query.filters =>
            {
                // Counted for this list as it is queried (another list of the same model
                // on the stack, a picker or related rows, counts other rows).
                self.count = Some(*count);
                Action::None
            }
            // Saved from a form opened here: show the record.
            Msg::Saved { model, key, .. } if *model == self.model && !self.picking => {
                let (record, cmds) = RecordScreen::open(model, self.label.clone(), key.clone());
                Action::push(record, cmds)
            }
            // A row was deleted: reload the page in place; the cursor stays on its row, or
            // goes to the deleted row's neighbour.
            Msg::Deleted { model, key } if *model == self.model => {
                self.count_wanted = true;
                Action::cmd(self.reload_without(std::slice::from_ref(key)))
            }
            Msg::DeletedMany { model, .. } if *model == self.model => {
                let gone = std::mem::take(&mut self.marked);
                self.count_wanted = true;
                Action::cmd(self.reload_without(&gone))
            }
            // `#KEY`: page to the row, the cursor on it. Where it falls in the whole list
            // is not counted: the status line shows its key.
            Msg::Located { model, key, cursor } if *model == self.model => {
                self.start = None;
                let land = Land::Key {
                    key: key.clone(),
                    cursor: cursor.clone(),
                    at: 0,
                    retried: true,
                };
                Action::cmd(self.request(PageAnchor::From(cursor.clone()), land))
            }
            Msg::ColumnsSet { model } if *model == self.model => Action::cmd(self.reload()),
            Msg::BulkEdit(m) if !self.picking => super::bulk::on_msg(self, m),
            Msg::BulkDone { model, .. } if *model == self.model => {
                self.marked.clear();
                Action::cmd(self.reload())
            }
            _ => Action::None,
        }
    }

    fn answer(&mut self, what: &PromptFor, text: &str) -> Action {
        match what {
            PromptFor::Search => {
                let term = text.trim();
                self.query.search = (!term.is_empty()).then(|| term.to_string());
                Action::Cmds(self.requery())
            }
            PromptFor::Jump if !text.trim().is_empty() => Action::cmd(Cmd::Locate {
                model: self.model.clone(),
                key: text.trim().to_string(),
                query: self.query.clone(),
            }),
            _ => Action::None,
        }
    }

    fn handoff(&mut self, handoff: Handoff) -> Action {
        match handoff {
            // A filter picked for a column: it replaces any filter on that column.
            Handoff::Filter(filter) => {
                self.query.filters.retain(|f| f.column != filter.column);
                self.query.filters.push(filter);
                Action::Cmds(self.requery())
            }
            Handoff::Reload { model, .. } if model == self.model => Action::cmd(self.reload()),
            // A bulk action chosen from the menu: asked first, naming the rows.
            Handoff::Chosen(name) if self.bulk_actions.contains(&name) => {
                let keys: Vec<String> = self.marked.iter().take(5).map(|k| key_label(k)).collect();
                let more = if self.marked.len() > 5 { ", …" } else { "" };
                Action::confirm(
                    format!(
                        "Apply {name} to the {} marked rows of {} ({}{more})?",
                        group_thousands(self.marked.len() as u64),
                        self.model,
                        keys.join(", ")
                    ),
                    Cmd::Bulk {
                        model: self.model.clone(),
                        action: name,
                        keys: self.marked.clone(),
                    },
                )
            }
            _ => Action::None,
        }
    }

    fn refresh(&mut self) -> Vec<Cmd> {
        self.count_wanted = true;
        vec![self.reload()]
    }

    fn failed(&mut self) -> Action {
        if self.pending.take().is_some() && self.rows.is_empty() {
            self.unreadable = true;
        }
        Action::None
    }

    fn draw(&mut self, buf: &mut Buffer, area: Rect) -> Option<Position> {
        draw::draw_list(self, buf, area);
        None
    }

    fn status(&self) -> String {
        let mut s = self.position();
        if !self.marked.is_empty() && !self.picking {
            let n = group_thousands(self.marked.len() as u64);
            s.push_str(&format!("  {n} marked"));
        }
        if let Some(term) = &self.query.search {
            s.push_str(&format!("  /{}", SafeText::new(term)));
            if term.starts_with('^') {
                s.push_str(" (starts with, exact case)");
            }
            if self.search_path == SearchPath::ShortTerm {
                s.push_str(" (under 3 characters: scanned, not indexed)");
            }
        }
        for f in &self.query.filters {
            s.push_str(&format!("  [{}]", SafeText::new(&f.to_string())));
        }
        if self.query != ListQuery::default() {
            s.push_str("  Esc clears");
        }
        s
    }

    fn hints(&self) -> Vec<Hint> {
        if self.picking {
            return vec![
                Hint::new("Enter", "picks this row"),
                Hint::new("/", "search"),
                Hint::new("#", "jump to a key"),
                Hint::new("Esc", "back"),
            ];
        }
        let row = self.row_caps();
        let marked = !self.marked.is_empty();
        let mut hints = MOVE_HINTS.to_vec();
        hints.extend([
            Hint::help(
                "← →  h l",
                "column cursor: s sorts and f filters by its column",
            ),
            Hint::help("Enter", "open the record"),
            Hint::new("/", "search"),
            Hint::help("#", "jump to the row with this key"),
            Hint::new("s", "sort"),
            Hint::new("f", "filter"),
            Hint::help("F", "drop the filter on the cursor's column").when(self.cursor_filtered()),
            Hint::new("e", "edit").when(row.change),
            Hint::new("n", "new").when(self.caps.add),
            Hint::new("d", "delete").when(if marked {
                self.caps.delete || self.marked_deletable()
            } else {
                row.delete
            }),
            Hint::help("Space", "mark rows (d deletes, a runs an action)"),
            Hint::new("a", "actions")
                .when(marked && !self.bulk_actions.is_empty() && self.caps.change),
            Hint::new("x", "export").when(self.caps.export),
            Hint::new("c", "columns"),
            Hint::new("i", if self.show_keys { "names" } else { "keys" }).when(self.has_links()),
            Hint::new("?", "help"),
            Hint::help("Esc", "clear search/filter/sort, then back"),
        ]);
        let at = hints
            .iter()
            .position(|h| h.keys == "Space")
            .map_or(0, |i| i + 1);
        hints.splice(at..at, super::bulk::hints(self));
        hints
    }
}

impl ListScreen {
    /// Whether some foreign key on the page is shown by name (or could be, `i`).
    fn has_links(&self) -> bool {
        self.rows.iter().any(|r| !r.alt.is_empty())
    }

    /// Whether the column under the cursor is filtered.
    fn cursor_filtered(&self) -> bool {
        self.column_names
            .get(self.col_cursor)
            .is_some_and(|c| self.query.filters.iter().any(|f| &f.column == c))
    }

    /// Whether every marked row on this page may be deleted (object permissions).
    fn marked_deletable(&self) -> bool {
        self.rows
            .iter()
            .filter(|r| self.marked.contains(&r.key))
            .all(|r| r.caps.delete)
    }
}
