//! Adapts one russh session channel to a [`session`](crate::session): channel messages
//! become [`Event`]s, queued frames become channel data (or, for the `sftp` subsystem,
//! the channel goes to [`super::sftp`]). The session runs in its own task,
//! so a panic inside it ends this channel only; it is logged and the client is told.

use std::net::SocketAddr;
use std::sync::Arc;

use russh::server::Msg;
use russh::{Channel, ChannelMsg};
use tokio::sync::mpsc;

use crate::session::{Authenticated, Companion, Context, Event, TermInfo};
use crate::tui::backend::AnsiBackend;

/// Frames queued towards the client before the session starts dropping (and repainting).
const FRAME_QUEUE: usize = 8;
/// Input events queued towards the session.
const EVENT_QUEUE: usize = 64;

/// What a later channel of a connection is told when it asks for a console or a
/// command: the connection's session has its channel already.
const ONE_CONSOLE: &[u8] = b"moat: this connection has its console already: one console per \
connection (SFTP beside it is served; for another console, ssh without ControlMaster)\r\n";

/// Serve a later channel of a connection whose session's first channel is open: the
/// `sftp` subsystem, as `session`'s user and until the session ends; anything else is
/// refused with the reason. Returns once the channel is closed.
pub async fn beside(channel: Channel<Msg>, session: Companion, ctx: Arc<Context>) {
    let (mut read, write) = channel.split();
    loop {
        match read.wait().await {
            Some(ChannelMsg::RequestSubsystem { name, .. }) if name == "sftp" => {
                let transfer = ctx.transfer_beside(session).await;
                super::sftp::serve(read, write, transfer).await;
                return;
            }
            Some(
                ChannelMsg::RequestShell { .. }
                | ChannelMsg::Exec { .. }
                | ChannelMsg::RequestSubsystem { .. },
            ) => {
                let _ = write.extended_data_bytes(1, ONE_CONSOLE.to_vec()).await;
                let _ = write.exit_status(2).await;
                let _ = write.eof().await;
                let _ = write.close().await;
                return;
            }
            Some(ChannelMsg::Eof) | Some(ChannelMsg::Close) | None => return,
            Some(_) => {}
        }
    }
}

/// Serve the console on `channel` until either side closes it.
pub async fn drive(
    channel: Channel<Msg>,
    mut login: Authenticated,
    peer: SocketAddr,
    ctx: Arc<Context>,
) {
    // Dropped or sent when this returns: the connection closes with the session.
    let done = login.take_done();
    let (mut read, write) = channel.split();
    // Wait for the shell request, remembering the pty's terminal type and size.
    let mut term = TermInfo {
        term: String::new(),
        cols: 0,
        rows: 0,
    };
    loop {
        match read.wait().await {
            Some(ChannelMsg::RequestPty {
                term: t,
                col_width,
                row_height,
                ..
            }) => {
                term = TermInfo {
                    term: t,
                    cols: col_width,
                    rows: row_height,
                };
            }
            Some(ChannelMsg::RequestShell { .. }) => break,
            // SFTP instead of a console: the user's own exports, read-only.
            Some(ChannelMsg::RequestSubsystem { name, .. }) if name == "sftp" => {
                super::sftp::serve(read, write, ctx.transfer(login).await).await;
                if let Some(done) = done {
                    let _ = done.send(());
                }
                return;
            }
            Some(ChannelMsg::Exec { .. }) | Some(ChannelMsg::RequestSubsystem { .. }) => {
                let _ = write
                    .data_bytes(&b"moat: only interactive sessions are served (ssh -t)\r\n"[..])
                    .await;
                let _ = write.exit_status(2).await;
                let _ = write.close().await;
                return;
            }
            Some(ChannelMsg::Eof) | Some(ChannelMsg::Close) | None => return,
            Some(_) => {}
        }
    }

    let (event_tx, event_rx) = mpsc::channel(EVENT_QUEUE);
    let (frame_tx, mut frame_rx) = mpsc::channel::<Vec<u8>>(FRAME_QUEUE);
    let reader = tokio::spawn(async move {
        while let Some(msg) = read.wait().await {
            let event = match msg {
                ChannelMsg::Data { data } => Event::Input(data.to_vec()),
                ChannelMsg::WindowChange {
                    col_width,
                    row_height,
                    ..
                } => Event::Resize {
                    cols: col_width,
                    rows: row_height,
                },
                ChannelMsg::Eof | ChannelMsg::Close => break,
                _ => continue,
            };
            if event_tx.send(event).await.is_err() {
                return;
            }
        }
        let _ = event_tx.send(Event::Closed).await;
    });
    let user = crate::domain::log_text(login.username());
    let session_ctx = Arc::clone(&ctx);
    let session = tokio::spawn(tracing::Instrument::in_current_span(async move {
        session_ctx.run(login, term, event_rx, frame_tx).await
    }));

    // Forward frames until the session drops its sender (it ended, or panicked).
    while let Some(frame) = frame_rx.recv().await {
        if write.data_bytes(frame).await.is_err() {
            break;
        }
    }
    // If the client went away mid-stream, the session's sends must fail, not wait.
    drop(frame_rx);
    let status = match session.await {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            tracing::warn!(%user, %peer, error = %e, "session ended with an error");
            1
        }
        Err(join) => {
            tracing::error!(%user, %peer, panic = join.is_panic(), "session task failed; connection closed, server unaffected");
            let mut bye = AnsiBackend::LEAVE.to_vec();
            bye.extend_from_slice(b"moat: internal error, session closed\r\n");
            let _ = write.data_bytes(bye).await;
            1
        }
    };
    reader.abort();
    tracing::info!(%user, %peer, "session closed");
    let _ = write.exit_status(status).await;
    let _ = write.eof().await;
    let _ = write.close().await;
    if let Some(done) = done {
        let _ = done.send(());
    }
}
