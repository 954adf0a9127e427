//! moat's behaviour across rooms, in one test binary (one link of the crate instead of one
//! per file): end to end over real SSH, the CLI through the binary, two instances on one
//! database, the stock OpenSSH client under tmux, and the console's screens as snapshots.
//!
//! `common` is the harness: an in-process server on 127.0.0.1:0, users with known
//! passwords and TOTP secrets, a russh client feeding a vt100 screen, and
//! `on_every_database!`, which runs one test body on SQLite and PostgreSQL.

mod common;

mod accept;
mod accounts;
mod attacks;
mod audit;
mod bulk;
mod bulk_delete;
mod cli;
mod cli_parity;
mod console;
mod edit;
mod exports;
mod gate;
mod instances;
mod keys;
mod live;
mod memory;
mod openssh;
mod openssh_keys;
mod ops;
mod parity;
mod perms;
mod proxy;
mod recording;
mod search;
mod search_index;
mod tui_snapshots;
mod undo;
