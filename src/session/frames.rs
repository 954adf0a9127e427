//! Frames towards the client: drawn by ratatui into ANSI diffs, queued without blocking.

use std::time::Duration;

use ratatui::Terminal;
use tokio::sync::mpsc;

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
}

impl Frames {
    pub(super) fn new(out: mpsc::Sender<Vec<u8>>) -> Frames {
        Frames {
            out,
            pending: Vec::new(),
            repaint: false,
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
        match self.out.try_send(std::mem::take(&mut self.pending)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => self.repaint = true,
            Err(mpsc::error::TrySendError::Closed(_)) => {}
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
        if std::mem::take(&mut self.repaint) {
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
    /// a frame, they must not be dropped.
    /// Queue the last bytes; a client that stopped reading gets a few seconds, not
    /// forever, so an ended session always goes away.
    pub(super) async fn finish(&mut self, last: &[u8]) {
        let mut bytes = std::mem::take(&mut self.pending);
        bytes.extend_from_slice(last);
        let _ = tokio::time::timeout(FINISH_WAIT, self.out.send(bytes)).await;
    }
}
