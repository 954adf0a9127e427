//! Authentication: argon2id passwords, RFC 6238 TOTP, and the login service that runs
//! them in order.
//!
//! `password` and `totp` are pure (time is passed in); `service` is the only async part
//! and the only one that touches the store.

pub mod account;
pub mod backup;
pub mod keys;
pub mod lockout;
pub mod password;
pub mod policy;
pub mod service;
pub mod totp;
mod workers;

pub use service::{
    AfterKey, Attempt, AuthService, Credential, Identity, KeyCheck, KeyPass, KeyUse, Onboarding,
    PasswordCheck, PendingLogin, Reason, Refusal,
};

/// Usernames (and group names): 1–32 of `a-z 0-9 . _ -`, starting with a letter or `_`.
pub fn validate_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if first_ok && rest_ok && name.len() <= 32 {
        Ok(())
    } else {
        Err(format!(
            "invalid name `{}`: use 1-32 of a-z 0-9 . _ - starting with a letter",
            name.escape_debug()
        ))
    }
}
