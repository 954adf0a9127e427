//! moat: an admin console for a SQL database, served over SSH.
//!
//! An operator runs `moat serve`; people on allow-listed networks `ssh` in, pass a
//! password and a TOTP code, and browse the database's tables in a keyboard-driven
//! ratatui console.
//!
//! # Layout
//!
//! Arrows run one way: `ssh → session → {auth, ops, perm, recording, store, tui}`,
//! `commands → {ops, recording, store}`, `{auth, ops} → store`, and
//! `{perm, store, tui} → domain`. Nothing imports `ssh`.
//!
//! - [`config`]: the TOML file, defaults and `MOAT_*` overrides; `validate()` types it.
//! - [`gate`]: who may open a TCP connection at all (the allow-list), decided before the
//!   SSH banner. Pure.
//! - [`auth`]: argon2id passwords, RFC 6238 TOTP, and public keys and SSH certificates
//!   (`auth::keys`: kinds taken, `[auth]` rules, certificate rules, revocation) as pure
//!   functions of their inputs and `now`; `auth::service` is the async login sequence
//!   over the store.
//! - [`perm`]: the permission engine, pure and sync; the session asks it before every
//!   store call. `perm::columns` is the column policy (what a user sees of a table);
//!   `perm::capabilities` what the console may offer them.
//! - [`ops`]: the changes to moat's own records that the console and the CLI both make,
//!   each with its audit row and who made it.
//! - [`store`]: all SQL — pool, migrations, moat's tables, schema introspection, record
//!   paging. Identifiers reach SQL only through `store::sql::Ident`.
//! - [`tui`]: the console in ratatui only: `protocol` (`Cmd` out, `Msg` in, typed
//!   data), one file per screen under `screens/` behind the `Screen` trait, the `App`
//!   that stacks and routes them; terminal input decoding, the ANSI diff backend and the
//!   sanitizer.
//! - [`session`]: one logged-in connection: bytes → `App` → checked commands (one
//!   handler each, `session::dispatch`) → store → messages → frames.
//! - [`ssh`]: the russh front, kept thin: accept, gate, handshake, forward.
//! - [`commands`]: the CLI's commands as functions (`main.rs` only parses arguments).
//! - [`demo`]: the demo data set `serve --demo` loads: generated rows, inserted through
//!   the store.
//! - [`recording`]: session recordings: the asciicast v2 format, the compressed files in
//!   `recordings_dir` (one writer thread; a reader that survives a writer that died
//!   mid-file), and the filter that lets only moat's own escape sequences out of a
//!   recording into an operator's terminal. No tokio, sqlx or russh: `session` records,
//!   `commands` lists, exports and replays.
//! - [`seal`]: the keys in `keys_dir`: the secret key and the AEAD that seals TOTP
//!   secrets at rest, and the audit key whose HMAC makes the audit chain keyed; used by
//!   `store` (which seals, opens and MACs) and the key-file checks of `ssh`.
//! - [`domain`]: plain values shared by the rooms.
//! - [`metrics`]: the Prometheus registry with typed handles that `gate`, `auth`, `session`
//!   and `store` call (labels from fixed enums only), and its `GET /metrics` endpoint.

/// The git revision moat was built from (`git` and 12 hex digits), or what the packager
/// set in `MOAT_REVISION` at build time, or `unknown revision` (a tarball without `.git`).
pub const REVISION: &str = env!("MOAT_REVISION");

/// `moat --version`: the version and the git revision.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("MOAT_REVISION"), ")");

pub mod auth;
pub mod commands;
pub mod config;
pub mod demo;
pub mod domain;
pub mod gate;
pub mod metrics;
pub mod ops;
pub mod perm;
pub mod recording;
pub mod seal;
pub mod session;
pub mod ssh;
pub mod store;
pub mod tui;
