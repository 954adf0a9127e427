//! Replaying a recorded session (from `:sessions`, ended tab): the recording played
//! through a terminal emulator into the screen's own cells, with pause, seek, speed and
//! the session's audit rows as markers to jump to.
//!
//! The recorded bytes never reach the client: they were filtered to moat's own escape
//! sequences when the recording was read, then drawn by [`vt100`] into cells, and only
//! those cells' text (checked again, one character at a time) goes into the buffer.
//!
//! Time is passed in: the session loop sends [`Msg::Clock`] while the replay plays
//! ([`Screen::clock_every`]); [`ReplayClock`] turns those into a position, so seeking,
//! speed and pauses are tested without waiting.

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};

use crate::recording::{Event, Kind};
use crate::tui::draw::{put, HEADER};
use crate::tui::input::{Key, KeyEvent};
use crate::tui::protocol::{Msg, Replay, ReplayMarker};
use crate::tui::sanitize::{is_escaped, SafeText};
use crate::tui::screen::{Action, Crumb, Hint, Screen};

/// How far ← and → move.
pub const SEEK_US: u64 = 5_000_000;
/// A pause in the recording longer than this plays as this long (asciinema's
/// `idle_time_limit`): an hour of reading one screen does not replay as an hour.
pub const IDLE_US: u64 = 2_000_000;
/// How often the screen is redrawn while playing.
pub const CLOCK_MS: u64 = 50;
/// The speeds `+` and `-` step through.
pub const SPEEDS: [f64; 7] = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0];
const NORMAL_SPEED: usize = 2;
/// Output between two saved screens (seeking back replays at most about this much; a
/// 120×40 screen costs some 200 KiB, an hour of steady work about 10 of them).
const CHECKPOINT_BYTES: usize = 1024 * 1024;
/// The largest terminal a replay emulates (the session clamps sizes well below).
const MAX_COLS: u16 = 1000;
const MAX_ROWS: u16 = 500;

/// Where a replay is, and how it moves: a position on the recording's time line
/// (microseconds), a speed, playing or paused. Pure: it moves only on [`ReplayClock::tick`].
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayClock {
    pos_us: u64,
    duration_us: u64,
    speed: usize,
    playing: bool,
    /// The clock time of the last tick while playing (`None`: the next tick only anchors).
    last_ms: Option<u64>,
}

impl ReplayClock {
    /// At the start of a recording `duration_us` long, playing.
    pub fn new(duration_us: u64) -> ReplayClock {
        ReplayClock {
            pos_us: 0,
            duration_us,
            speed: NORMAL_SPEED,
            playing: duration_us > 0,
            last_ms: None,
        }
    }

    pub fn pos_us(&self) -> u64 {
        self.pos_us
    }

    pub fn duration_us(&self) -> u64 {
        self.duration_us
    }

    pub fn playing(&self) -> bool {
        self.playing
    }

    pub fn speed(&self) -> f64 {
        SPEEDS[self.speed.min(SPEEDS.len() - 1)]
    }

    /// Space: pause, or play (from the start again when at the end).
    pub fn play_pause(&mut self) {
        if self.playing {
            self.playing = false;
        } else {
            if self.pos_us >= self.duration_us {
                self.pos_us = 0;
            }
            self.playing = self.duration_us > 0;
        }
        self.last_ms = None;
    }

    /// The clock says `now_ms`; `next_event_us` is when the next recorded event is (for
    /// shortening long pauses). Moves the position by the time since the last tick, times
    /// the speed; stops at the end.
    pub fn tick(&mut self, now_ms: u64, next_event_us: Option<u64>) {
        if !self.playing {
            self.last_ms = None;
            return;
        }
        let Some(last) = self.last_ms.replace(now_ms) else {
            return;
        };
        let mut pos = self.pos_us;
        if let Some(next) = next_event_us {
            if next > pos.saturating_add(IDLE_US) {
                pos = next - IDLE_US;
            }
        }
        let elapsed_us = now_ms.saturating_sub(last).saturating_mul(1000);
        // At most 16× a few seconds: far inside f64's exact integers.
        let step = (elapsed_us as f64 * self.speed()) as u64;
        self.pos_us = pos.saturating_add(step).min(self.duration_us);
        if self.pos_us >= self.duration_us {
            self.playing = false;
            self.last_ms = None;
        }
    }

    /// Move by `delta_us` (backwards when negative), within the recording.
    pub fn seek_by(&mut self, delta_us: i64) {
        let to = if delta_us < 0 {
            self.pos_us.saturating_sub(delta_us.unsigned_abs())
        } else {
            self.pos_us.saturating_add(delta_us.unsigned_abs())
        };
        self.seek_to(to);
    }

    /// Go to `at_us` (within the recording).
    pub fn seek_to(&mut self, at_us: u64) {
        self.pos_us = at_us.min(self.duration_us);
        if self.pos_us >= self.duration_us {
            self.playing = false;
        }
    }

    pub fn faster(&mut self) {
        self.speed = (self.speed + 1).min(SPEEDS.len() - 1);
    }

    pub fn slower(&mut self) {
        self.speed = self.speed.saturating_sub(1);
    }
}

/// The first marker after `pos_us`.
pub fn next_marker(markers: &[ReplayMarker], pos_us: u64) -> Option<usize> {
    markers.iter().position(|m| m.at_us > pos_us)
}

/// The last marker before `pos_us`.
pub fn previous_marker(markers: &[ReplayMarker], pos_us: u64) -> Option<usize> {
    markers.iter().rposition(|m| m.at_us < pos_us)
}

/// The marker the replay has reached last (at or before `pos_us`).
pub fn current_marker(markers: &[ReplayMarker], pos_us: u64) -> Option<usize> {
    markers.iter().rposition(|m| m.at_us <= pos_us)
}

/// `1:05`, `1:02:03`.
pub fn clock_text(us: u64) -> String {
    let s = us / 1_000_000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, (s % 3600) / 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

fn speed_text(speed: f64) -> String {
    if speed >= 1.0 {
        format!("×{speed:.0}")
    } else {
        format!("×{speed}")
    }
}

/// The replay screen.
pub struct ReplayScreen {
    replay: Replay,
    clock: ReplayClock,
    term: vt100::Parser,
    /// Events fed to `term` so far.
    applied: usize,
    /// The emulated screen after event `i` (every [`CHECKPOINT_BYTES`] of output or so),
    /// so seeking back replays from the nearest one, not from the start.
    checkpoints: Vec<(usize, vt100::Screen)>,
    /// Output fed since the last checkpoint.
    since_checkpoint: usize,
}

impl ReplayScreen {
    pub fn new(mut replay: Replay) -> ReplayScreen {
        replay.markers.sort_by_key(|m| (m.at_us, m.entry));
        // Events are in time order as recorded; keep them so whatever the file said.
        replay.events.sort_by_key(|e| e.at_us);
        let duration = replay.events.last().map(|e| e.at_us).unwrap_or(0);
        let term = new_term(replay.width, replay.height);
        ReplayScreen {
            replay,
            clock: ReplayClock::new(duration),
            term,
            applied: 0,
            checkpoints: Vec::new(),
            since_checkpoint: 0,
        }
    }

    pub fn clock(&self) -> &ReplayClock {
        &self.clock
    }

    /// The emulated terminal, brought to the clock's position.
    pub fn screen(&mut self) -> &vt100::Screen {
        self.sync();
        self.term.screen()
    }

    /// Feed the emulator every event up to the position (from the start again when the
    /// position went back).
    fn sync(&mut self) {
        let pos = self.clock.pos_us();
        let target = self.replay.events.partition_point(|e| e.at_us <= pos);
        if target < self.applied {
            self.term = new_term(self.replay.width, self.replay.height);
            self.applied = 0;
            self.since_checkpoint = 0;
            if let Some((at, screen)) = self.checkpoints.iter().rev().find(|(at, _)| *at <= target)
            {
                *self.term.screen_mut() = screen.clone();
                self.applied = *at;
            }
        }
        while self.applied < target {
            let e = &self.replay.events[self.applied];
            feed(&mut self.term, e);
            self.applied += 1;
            self.since_checkpoint += e.data.len();
            let newest = self.checkpoints.last().map_or(0, |(at, _)| *at);
            if self.since_checkpoint >= CHECKPOINT_BYTES
                && self.applied > newest
                && ends_clean(&e.data)
            {
                self.checkpoints
                    .push((self.applied, self.term.screen().clone()));
                self.since_checkpoint = 0;
            }
        }
    }

    fn next_event_us(&self) -> Option<u64> {
        let pos = self.clock.pos_us();
        let i = self.replay.events.partition_point(|e| e.at_us <= pos);
        self.replay.events.get(i).map(|e| e.at_us)
    }

    fn jump(&mut self, marker: Option<usize>) -> Action {
        match marker.and_then(|i| self.replay.markers.get(i)) {
            Some(m) => {
                self.clock.seek_to(m.at_us);
                Action::None
            }
            None => Action::Notice("no more markers that way".into()),
        }
    }

    /// The line under the replayed screen: the marker reached, what is clipped.
    fn marker_line(&self, shown: (u16, u16)) -> String {
        let markers = &self.replay.markers;
        let pos = self.clock.pos_us();
        let mut line = match current_marker(markers, pos) {
            Some(i) => {
                let m = &markers[i];
                let what = [Some(m.action.as_str()), m.model.as_deref(), m.pk.as_deref()]
                    .iter()
                    .flatten()
                    .copied()
                    .collect::<Vec<_>>()
                    .join(" ");
                format!(
                    " marker {}/{} at {}: {what} ({})",
                    i + 1,
                    markers.len(),
                    clock_text(m.at_us),
                    m.outcome
                )
            }
            None if markers.is_empty() => " no audit rows in this session".to_string(),
            None => format!(" {} markers ahead", markers.len()),
        };
        if let Some(i) = next_marker(markers, pos) {
            line.push_str(&format!(" · next {}", clock_text(markers[i].at_us)));
        }
        let (rows, cols) = self.term.screen().size();
        if rows > shown.0 || cols > shown.1 {
            line.push_str(&format!(" · recorded {cols}×{rows}, clipped"));
        }
        if !self.replay.sealed {
            line.push_str(" · not sealed yet");
        }
        if self.replay.truncated {
            line.push_str(" · cut short");
        }
        if let Some(cut) = &self.replay.cut {
            // First, so that a narrow screen still says it: the rest is past what the
            // server holds for a replay; the CLI exports it all.
            line.insert_str(
                0,
                &format!(
                    " first {} MiB only: to {} of {} (the rest: moat sessions export) ·",
                    cut.max_mib,
                    clock_text(cut.at_us),
                    clock_text(cut.length_us)
                ),
            );
        }
        line
    }
}

impl Clone for ReplayScreen {
    /// The emulator cannot be cloned: the copy replays the same events into a new one.
    fn clone(&self) -> ReplayScreen {
        let mut term = new_term(self.replay.width, self.replay.height);
        for e in &self.replay.events[..self.applied] {
            feed(&mut term, e);
        }
        ReplayScreen {
            replay: self.replay.clone(),
            clock: self.clock.clone(),
            term,
            applied: self.applied,
            checkpoints: self.checkpoints.clone(),
            since_checkpoint: self.since_checkpoint,
        }
    }
}

impl std::fmt::Debug for ReplayScreen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayScreen")
            .field("session", &self.replay.session_id)
            .field("events", &self.replay.events.len())
            .field("clock", &self.clock)
            .field("applied", &self.applied)
            .finish_non_exhaustive()
    }
}

fn new_term(width: u16, height: u16) -> vt100::Parser {
    vt100::Parser::new(height.clamp(1, MAX_ROWS), width.clamp(1, MAX_COLS), 0)
}

/// What ends moat's console (leaving the alternate screen): not replayed, so a replay
/// ends on the last screen the user saw, not on the terminal they returned to.
const LEAVE_ALTERNATE: &str = "\x1b[?1049l";

fn feed(term: &mut vt100::Parser, e: &Event) {
    match e.kind {
        Kind::Output => {
            let data = match e.data.find(LEAVE_ALTERNATE) {
                Some(end) => &e.data[..end],
                None => e.data.as_str(),
            };
            term.process(data.as_bytes());
        }
        Kind::Resize => {
            if let Some((cols, rows)) = e.size() {
                term.screen_mut()
                    .set_size(rows.clamp(1, MAX_ROWS), cols.clamp(1, MAX_COLS));
            }
        }
        // Keys typed are not drawn; markers in the file are not moat's audit rows.
        Kind::Input | Kind::Marker => {}
    }
}

/// Whether `data` ends outside an escape sequence (a saved screen must not cut one: the
/// emulator restarts from a clean parser).
fn ends_clean(data: &str) -> bool {
    let Some(esc) = data.rfind('\x1b') else {
        return true;
    };
    let rest = &data[esc + 1..];
    match rest.chars().next() {
        None => false,
        Some('[') => rest[1..].chars().any(|c| ('@'..='~').contains(&c)),
        Some(']' | 'P' | '_' | '^') => rest.contains('\x07') || rest.contains("\x1b\\"),
        Some(_) => true,
    }
}

fn colour(c: vt100::Color) -> Color {
    match c {
        vt100::Color::Default => Color::Reset,
        vt100::Color::Idx(i) => Color::Indexed(i),
        vt100::Color::Rgb(r, g, b) => Color::Rgb(r, g, b),
    }
}

fn cell_style(cell: &vt100::Cell) -> Style {
    let mut style = Style::new()
        .fg(colour(cell.fgcolor()))
        .bg(colour(cell.bgcolor()));
    for (on, m) in [
        (cell.bold(), Modifier::BOLD),
        (cell.dim(), Modifier::DIM),
        (cell.italic(), Modifier::ITALIC),
        (cell.underline(), Modifier::UNDERLINED),
        (cell.inverse(), Modifier::REVERSED),
    ] {
        if on {
            style = style.add_modifier(m);
        }
    }
    style
}

/// Which recorded rows fit in `height` rows: all of them, or the top ones and the last
/// (moat's footer, where what just happened is said), dropping those just above it.
pub fn shown_rows(rows: u16, height: u16) -> Vec<u16> {
    if rows <= height {
        return (0..rows).collect();
    }
    match height {
        0 => Vec::new(),
        1 => vec![rows - 1],
        h => (0..h - 1).chain(std::iter::once(rows - 1)).collect(),
    }
}

/// Draw the emulated screen into `area`, clipped: cell by cell, text checked again.
fn draw_term(screen: &vt100::Screen, buf: &mut Buffer, area: Rect) {
    let area = area.intersection(*buf.area());
    let (rows, cols) = screen.size();
    let width = cols.min(area.width);
    for (dy, src) in shown_rows(rows, area.height).into_iter().enumerate() {
        let y = area.y + u16::try_from(dy).unwrap_or(u16::MAX);
        for col in 0..width {
            let Some(cell) = screen.cell(src, col) else {
                continue;
            };
            if cell.is_wide_continuation() {
                continue;
            }
            let text = cell.contents();
            let symbol = if text.is_empty() || (cell.is_wide() && col + 1 >= width) {
                " "
            } else if text.chars().any(is_escaped) {
                "?"
            } else {
                text
            };
            let out = &mut buf[(area.x + col, y)];
            out.set_symbol(symbol);
            out.set_style(cell_style(cell));
        }
    }
}

impl Screen for ReplayScreen {
    fn crumb(&self) -> Crumb {
        Crumb::text(&format!(
            "replay {} ({})",
            self.replay.session_id, self.replay.user
        ))
    }

    fn key(&mut self, k: KeyEvent) -> Action {
        match k.key {
            Key::Char(' ') => self.clock.play_pause(),
            Key::Left => self.clock.seek_by(-(SEEK_US as i64)),
            Key::Right => self.clock.seek_by(SEEK_US as i64),
            Key::Char('+') | Key::Char('=') => self.clock.faster(),
            Key::Char('-') => self.clock.slower(),
            Key::Char('m') => {
                return self.jump(next_marker(&self.replay.markers, self.clock.pos_us()))
            }
            Key::Char('M') => {
                return self.jump(previous_marker(&self.replay.markers, self.clock.pos_us()))
            }
            Key::Home | Key::Char('g') => self.clock.seek_to(0),
            Key::End | Key::Char('G') => self.clock.seek_to(self.clock.duration_us()),
            _ => return Action::Ignored,
        }
        Action::None
    }

    fn update(&mut self, msg: &Msg) -> Action {
        if let Msg::Clock { now_ms } = msg {
            let next = self.next_event_us();
            self.clock.tick(*now_ms, next);
        }
        Action::None
    }

    fn clock_every(&self) -> Option<u64> {
        self.clock.playing().then_some(CLOCK_MS)
    }

    fn draw(&mut self, buf: &mut Buffer, area: Rect) -> Option<Position> {
        if area.height < 2 {
            return None;
        }
        self.sync();
        let term_area = Rect::new(area.x, area.y, area.width, area.height - 1);
        draw_term(self.term.screen(), buf, term_area);
        let shown = (term_area.height, term_area.width);
        let line = SafeText::new(&self.marker_line(shown));
        put(buf, area, area.x, area.bottom() - 1, line.as_str(), HEADER);
        None
    }

    fn status(&self) -> String {
        let state = if self.clock.playing() { "▶" } else { "⏸" };
        format!(
            " {state} {} / {} {} ",
            clock_text(self.clock.pos_us()),
            clock_text(self.clock.duration_us()),
            speed_text(self.clock.speed())
        )
    }

    fn hints(&self) -> Vec<Hint> {
        let markers = !self.replay.markers.is_empty();
        vec![
            Hint::new("Space", "play/pause"),
            Hint::new("← →", "5 s"),
            Hint::new("+ -", "speed"),
            Hint::new("m M", "next/prev marker").when(markers),
            Hint::help("g G  Home End", "start / end"),
            Hint::new("Esc", "back"),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker(at_us: u64, entry: i64) -> ReplayMarker {
        ReplayMarker {
            at_us,
            entry,
            action: "change".into(),
            model: Some("posts".into()),
            pk: Some("7".into()),
            outcome: "success".into(),
        }
    }

    #[test]
    fn plays_at_its_speed_from_the_ticks_it_is_given() {
        let mut c = ReplayClock::new(60_000_000);
        assert!(c.playing());
        c.tick(1_000, Some(0)); // anchors only
        assert_eq!(c.pos_us(), 0);
        c.tick(1_500, Some(0));
        assert_eq!(c.pos_us(), 500_000);
        c.faster();
        assert_eq!(c.speed(), 2.0);
        c.tick(2_000, None);
        assert_eq!(c.pos_us(), 1_500_000);
        c.slower();
        c.slower();
        assert_eq!(c.speed(), 0.5);
        c.tick(3_000, None);
        assert_eq!(c.pos_us(), 2_000_000);
        for _ in 0..20 {
            c.slower();
        }
        assert_eq!(c.speed(), SPEEDS[0]);
        for _ in 0..20 {
            c.faster();
        }
        assert_eq!(c.speed(), 16.0);
    }

    #[test]
    fn a_pause_stops_the_position_and_play_resumes_without_a_jump() {
        let mut c = ReplayClock::new(60_000_000);
        c.tick(0, None);
        c.tick(1_000, None);
        assert_eq!(c.pos_us(), 1_000_000);
        c.play_pause();
        assert!(!c.playing());
        c.tick(30_000, None);
        assert_eq!(c.pos_us(), 1_000_000, "paused");
        c.play_pause();
        // The first tick after playing again anchors: the pause is not played.
        c.tick(31_000, None);
        assert_eq!(c.pos_us(), 1_000_000);
        c.tick(31_250, None);
        assert_eq!(c.pos_us(), 1_250_000);
    }

    #[test]
    fn seeks_within_the_recording_and_stops_at_its_end() {
        let mut c = ReplayClock::new(12_000_000);
        c.seek_by(SEEK_US as i64);
        assert_eq!(c.pos_us(), 5_000_000);
        c.seek_by(-(SEEK_US as i64) * 3);
        assert_eq!(c.pos_us(), 0);
        c.seek_to(11_000_000);
        c.tick(0, None);
        c.tick(5_000, None);
        assert_eq!(c.pos_us(), 12_000_000);
        assert!(!c.playing(), "stopped at the end");
        c.seek_by(SEEK_US as i64);
        assert_eq!(c.pos_us(), 12_000_000);
        // Play at the end starts over.
        c.play_pause();
        assert!(c.playing());
        assert_eq!(c.pos_us(), 0);
    }

    #[test]
    fn long_pauses_play_as_two_seconds() {
        let mut c = ReplayClock::new(600_000_000);
        c.tick(0, Some(300_000_000));
        c.tick(100, Some(300_000_000));
        assert_eq!(c.pos_us(), 300_000_000 - IDLE_US + 100_000);
        // A short gap plays as it was.
        c.seek_to(0);
        c.tick(200, Some(1_000_000));
        assert_eq!(c.pos_us(), 100_000);
        c.tick(300, Some(1_000_000));
        assert_eq!(c.pos_us(), 200_000);
    }

    #[test]
    fn markers_step_forwards_and_back() {
        let ms = [marker(0, 1), marker(4_000_000, 2), marker(9_000_000, 3)];
        assert_eq!(next_marker(&ms, 0), Some(1));
        assert_eq!(next_marker(&ms, 4_000_000), Some(2));
        assert_eq!(next_marker(&ms, 9_000_000), None);
        assert_eq!(previous_marker(&ms, 9_000_000), Some(1));
        assert_eq!(previous_marker(&ms, 5_000_000), Some(1));
        assert_eq!(previous_marker(&ms, 0), None);
        assert_eq!(current_marker(&ms, 3_999_999), Some(0));
        assert_eq!(current_marker(&ms, 4_000_000), Some(1));
    }

    fn out(at_us: u64, data: &str) -> Event {
        Event {
            at_us,
            kind: Kind::Output,
            data: data.into(),
        }
    }

    fn replay() -> Replay {
        Replay {
            session_id: "ab12cd34".into(),
            user: "alice".into(),
            width: 20,
            height: 4,
            events: vec![
                out(0, "\x1b[2J\x1b[1;1Hfirst"),
                out(3_000_000, "\x1b[2;1Hsecond"),
                out(8_000_000, "\x1b[2J\x1b[1;1Hthird"),
            ],
            markers: vec![marker(3_500_000, 9)],
            sealed: true,
            truncated: false,
            cut: None,
        }
    }

    fn text(s: &mut ReplayScreen) -> String {
        s.screen().contents()
    }

    #[test]
    fn the_screen_follows_the_position_both_ways() {
        let mut s = ReplayScreen::new(replay());
        assert_eq!(s.clock().duration_us(), 8_000_000);
        assert_eq!(text(&mut s), "first");
        s.key(KeyEvent::plain(Key::Right));
        assert!(text(&mut s).contains("second"));
        s.key(KeyEvent::plain(Key::Right));
        assert_eq!(text(&mut s), "third");
        s.key(KeyEvent::plain(Key::Left));
        s.key(KeyEvent::plain(Key::Left));
        assert_eq!(text(&mut s), "first", "seeking back replays from the start");
        s.key(KeyEvent::char('m'));
        assert_eq!(s.clock().pos_us(), 3_500_000);
        assert_eq!(text(&mut s), "first\nsecond");
        let copy = s.clone();
        assert_eq!(copy.applied, s.applied);
    }

    #[test]
    fn seeking_back_starts_from_a_saved_screen_and_shows_the_same() {
        // Frames of about 64 KiB, a second apart: saved screens every 16 or so.
        let events: Vec<Event> = (0..60u64)
            .map(|i| {
                let mut data = format!("\x1b[2J\x1b[1;1Hframe {i}");
                data.push_str(&"\x1b[2;1Hxxxxxxxx".repeat(4 * 1024));
                out(i * 1_000_000, &data)
            })
            .collect();
        let mut r = replay();
        r.events = events;
        let mut s = ReplayScreen::new(r);
        s.key(KeyEvent::plain(Key::End));
        assert!(text(&mut s).starts_with("frame 59"));
        assert!(s.checkpoints.len() >= 3, "{}", s.checkpoints.len());
        s.clock.seek_to(40_500_000);
        let from_checkpoint = text(&mut s);
        let mut fresh = ReplayScreen::new(s.replay.clone());
        fresh.clock.seek_to(40_500_000);
        assert_eq!(from_checkpoint, text(&mut fresh));
        assert!(from_checkpoint.starts_with("frame 40"));
    }

    #[test]
    fn a_saved_screen_never_cuts_an_escape_sequence() {
        assert!(ends_clean("abc"));
        assert!(ends_clean("\x1b[1;2H"));
        assert!(ends_clean("x\x1b7"));
        assert!(!ends_clean("x\x1b[1;"));
        assert!(!ends_clean("x\x1b"));
        assert!(!ends_clean("x\x1b]0;title"));
    }

    #[test]
    fn ticks_are_asked_for_only_while_playing() {
        let mut s = ReplayScreen::new(replay());
        assert_eq!(s.clock_every(), Some(CLOCK_MS));
        s.key(KeyEvent::char(' '));
        assert_eq!(s.clock_every(), None);
    }

    #[test]
    fn a_tall_recording_keeps_its_last_row() {
        assert_eq!(shown_rows(3, 5), vec![0, 1, 2]);
        assert_eq!(shown_rows(24, 4), vec![0, 1, 2, 23]);
        assert_eq!(shown_rows(24, 1), vec![23]);
    }

    #[test]
    fn a_replay_cut_to_its_bound_says_so_first() {
        let mut r = replay();
        r.cut = Some(crate::recording::Cut {
            at_us: 8_000_000,
            length_us: 3_723_000_000,
            max_mib: 64,
        });
        let s = ReplayScreen::new(r);
        let line = s.marker_line((4, 20));
        assert!(
            line.starts_with(
                " first 64 MiB only: to 0:08 of 1:02:03 (the rest: moat sessions export) ·"
            ),
            "{line}"
        );
        assert!(!ReplayScreen::new(replay())
            .marker_line((4, 20))
            .contains("MiB"));
    }

    #[test]
    fn clock_text_reads_well() {
        assert_eq!(clock_text(0), "0:00");
        assert_eq!(clock_text(65_000_000), "1:05");
        assert_eq!(clock_text(3_723_000_000), "1:02:03");
    }
}
