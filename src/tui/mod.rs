//! The console, in ratatui only: no tokio, sqlx or russh here.
//!
//! - [`protocol`]: what the console and the session say to each other (`Cmd` out, `Msg`
//!   in, typed payloads);
//! - [`app`]: the stack of screens, the overlays, and the routing of keys and messages;
//! - [`screen`]: the trait every screen implements; [`screens`]: one file per screen;
//! - [`draw`]: styles and drawing helpers every screen shares; [`prompt`]: the one-line
//!   prompt; [`backup_codes`]: the box that shows new backup codes;
//! - [`backend`]: a ratatui backend that renders frame diffs to ANSI bytes;
//! - [`input`]: terminal bytes → keys and pastes; [`qr`]: QR codes in half blocks;
//! - [`sanitize`]: the one gate for untrusted text on its way to the screen;
//! - [`secrecy`]: which keys and screens a session recording leaves out.

pub mod app;
pub mod backend;
pub mod backup_codes;
mod chrome;
pub mod draw;
pub mod input;
pub mod prompt;
pub mod protocol;
pub mod qr;
pub mod sanitize;
pub mod screen;
pub mod screens;
pub mod secrecy;
pub mod values;

pub use app::App;
pub use protocol::{Cmd, Msg};

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
