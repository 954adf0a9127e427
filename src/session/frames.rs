//! Frames towards the client: drawn by ratatui into ANSI diffs, queued without blocking,
//! and recorded as they are queued (see [`super::recording`]).

use std::time::Duration;

use ratatui::Terminal;
use tokio::sync::mpsc;

use super::recording::Recording;
use crate::tui::backend::AnsiBackend;
use crate::tui::App;

/// How long the last frame of a session may wait for room in the queue.
const FINISH_WAIT: Duration = Duration::from_secs(3);

/// The bounded frame queue towards the client. A frame that does not fit is dropped and
/// the next draw repaints the whole screen, so the client never shows a half-applied diff.
pub(super) struct Frames {
    out: mpsc::Sender<Vec<u8>>,
    /// Bytes not yet queued (a dropped frame's replacement is a full repaint).
    pending: Vec<u8>,
    repaint: bool,
    /// The session's recording: every byte queued, in order, as queued.
    recording: Option<Recording>,
}

impl Frames {
    pub(super) fn new(out: mpsc::Sender<Vec<u8>>) -> Frames {
        Frames {
            out,
            pending: Vec::new(),
            repaint: false,
            recording: None,
        }
    }

    /// Record what is queued from now on into `recording`.
    pub(super) fn record(&mut self, recording: Option<Recording>) {
        self.recording = recording;
    }

    /// The user typed `bytes`; `secret` if some of them went into a secret field.
    pub(super) fn record_input(&mut self, bytes: &[u8], secret: bool) {
        if let Some(r) = &mut self.recording {
            r.input(bytes, secret);
        }
    }

    /// The console now draws at `cols`×`rows`.
    pub(super) fn record_resize(&mut self, cols: u16, rows: u16) {
        if let Some(r) = &mut self.recording {
            r.resize(cols, rows);
        }
    }

    /// Whether a secret is on screen (such frames are not recorded). When one has just
    /// left it, the next draw repaints the whole screen, so the recording has it all.
    pub(super) fn secret_on_screen(&mut self, shown: bool) {
        if let Some(r) = &mut self.recording {
            if r.secret_on_screen(shown) {
                self.repaint = true;
            }
        }
    }

    /// When the recording's text waiting must be handed to its writer.
    pub(super) fn recording_due(&self) -> Option<tokio::time::Instant> {
        self.recording.as_ref().and_then(Recording::due)
    }

    pub(super) fn flush_recording(&mut self) {
        if let Some(r) = &mut self.recording {
            r.flush();
        }
    }

    /// Finish and seal the recording (after the last bytes were queued).
    pub(super) async fn finish_recording(&mut self) {
        if let Some(r) = self.recording.take() {
            r.finish().await;
        }
    }

    pub(super) fn push(&mut self, bytes: Vec<u8>) {
        self.pending.extend(bytes);
        self.try_send();
    }

    fn try_send(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        match self.out.try_reserve() {
            Ok(permit) => {
                if let Some(r) = &mut self.recording {
                    r.output(&self.pending);
                }
                permit.send(std::mem::take(&mut self.pending));
            }
            Err(mpsc::error::TrySendError::Full(())) => {
                // Dropped, neither sent nor recorded: the next draw repaints (both).
                self.pending.clear();
                self.repaint = true;
            }
            Err(mpsc::error::TrySendError::Closed(())) => self.pending.clear(),
        }
    }

    pub(super) fn needs_retry(&self) -> bool {
        self.repaint
    }

    pub(super) async fn retry_tick(&self) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    pub(super) fn draw(
        &mut self,
        terminal: &mut Terminal<AnsiBackend>,
        app: &mut App,
    ) -> Result<(), std::io::Error> {
        if std::mem::take(&mut self.repaint) | app.take_repaint() {
            terminal.clear()?;
        }
        terminal.draw(|frame| app.draw(frame))?;
        let bytes = terminal.backend_mut().take_output();
        if !bytes.is_empty() {
            self.push(bytes);
        }
        Ok(())
    }

    /// Queue the last bytes (restoring the client's terminal), waiting for room: unlike
    /// a frame, they must not be dropped. A client that stopped reading gets a few
    /// seconds, not forever, so an ended session always goes away.
    pub(super) async fn finish(&mut self, last: &[u8]) {
        let mut bytes = std::mem::take(&mut self.pending);
        bytes.extend_from_slice(last);
        if let Some(r) = &mut self.recording {
            r.output(&bytes);
        }
        let _ = tokio::time::timeout(FINISH_WAIT, self.out.send(bytes)).await;
    }
}
