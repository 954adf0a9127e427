//! The console, in ratatui only: no tokio, sqlx or russh here.
//!
//! - [`app`]: state and the update rule (`Msg` in, `Cmd` out);
//! - [`view`]: drawing the state into a ratatui buffer;
//! - [`backend`]: a ratatui backend that renders frame diffs to ANSI bytes;
//! - [`input`]: terminal bytes → keys and pastes;
//! - [`sanitize`]: the one gate for untrusted text on its way to the screen;
//! - [`secrecy`]: which keys and screens a session recording leaves out.

pub mod account;
pub mod app;
pub mod backend;
pub mod form;
pub mod input;
pub mod manage;
pub mod qr;
pub mod sanitize;
pub mod secrecy;
pub mod view;

pub use app::{App, Cmd, Msg};

/// Whether a client's `TERM` can show colours. `dumb`, `*-m`/`*-mono` and the classic
/// VT terminals cannot.
pub fn term_has_color(term: &str) -> bool {
    let term = term.to_ascii_lowercase();
    !(term.is_empty()
        || term == "dumb"
        || term.ends_with("-m")
        || term.contains("mono")
        || term.starts_with("vt1")
        || term.starts_with("vt2"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn colour_terms() {
        for t in [
            "xterm-256color",
            "screen",
            "tmux-256color",
            "linux",
            "xterm",
        ] {
            assert!(super::term_has_color(t), "{t}");
        }
        for t in ["dumb", "xterm-mono", "vt100", "vt220", "", "xterm-m"] {
            assert!(!super::term_has_color(t), "{t}");
        }
    }
}
