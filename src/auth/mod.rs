//! Authentication: argon2id passwords, RFC 6238 TOTP, and the login service that runs
//! them in order.
//!
//! `password` and `totp` are pure (time is passed in); `service` is the only async part
//! and the only one that touches the store.

pub mod backup;
pub mod lockout;
pub mod password;
pub mod service;
pub mod totp;
mod workers;

pub use service::{Attempt, AuthService, Identity, PasswordCheck, PendingLogin, Reason, Refusal};
