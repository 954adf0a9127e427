//! TOTP per RFC 6238: SHA-1, 6 digits, 30-second steps, one step of skew either way, with
//! the replay rule (a code's step must be later than the last accepted one).
//!
//! Pure functions of the secret, the code and `now` (unix seconds): no clock is read here.

use totp_rs::{Algorithm, TOTP};

/// Seconds per time step.
pub const STEP_SECS: u64 = 30;
/// Digits per code.
pub const DIGITS: usize = 6;
/// Steps of clock skew accepted either side of now.
pub const SKEW: i64 = 1;
/// Bytes of a generated secret (160 bits, as RFC 4226 recommends).
pub const SECRET_LEN: usize = 20;

/// Why a code was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeError {
    /// Not the code of any step in the window.
    Invalid,
    /// The code's step is not later than the last accepted one.
    Replay,
}

/// The time step that `now` falls in.
pub fn step_at(now: u64) -> i64 {
    i64::try_from(now / STEP_SECS).unwrap_or(i64::MAX)
}

/// The code for one time step.
pub fn code_at(secret: &[u8], step: i64) -> String {
    let time = u64::try_from(step).unwrap_or(0).saturating_mul(STEP_SECS);
    totp(secret, String::new()).generate(time)
}

/// Check `code` against the steps around `now`. On success returns the matched step,
/// which the caller must store as the new last accepted step (atomically, see
/// `Store::accept_totp_step`).
pub fn verify(
    secret: &[u8],
    code: &str,
    now: u64,
    last_step: Option<i64>,
) -> Result<i64, CodeError> {
    let code = code.trim();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CodeError::Invalid);
    }
    let current = step_at(now);
    // Check every step of the window (no early exit) so timing says nothing about which.
    let mut matched = None;
    for step in [current, current - SKEW, current + SKEW] {
        if step >= 0 && constant_time_eq(code_at(secret, step).as_bytes(), code.as_bytes()) {
            matched = matched.or(Some(step));
        }
    }
    let step = matched.ok_or(CodeError::Invalid)?;
    match last_step {
        Some(last) if step <= last => Err(CodeError::Replay),
        _ => Ok(step),
    }
}

/// A fresh random secret.
pub fn generate_secret() -> Vec<u8> {
    let mut secret = vec![0u8; SECRET_LEN];
    rand::Rng::fill(&mut rand::thread_rng(), secret.as_mut_slice());
    secret
}

/// The secret in base32 (what authenticator apps accept when typed).
pub fn secret_base32(secret: &[u8]) -> String {
    totp(secret, String::new()).get_secret_base32()
}

/// The `otpauth://totp/` provisioning URI (issuer `moat`).
pub fn otpauth_uri(secret: &[u8], account: &str) -> String {
    totp(secret, account.to_string()).get_url()
}

fn totp(secret: &[u8], account: String) -> TOTP {
    TOTP::new_unchecked(
        Algorithm::SHA1,
        DIGITS,
        0,
        STEP_SECS,
        secret.to_vec(),
        Some("moat".to_string()),
        account,
    )
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 secret; the RFC lists 8-digit codes, the last six are ours.
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc6238_vectors() {
        for (t, code8) in [
            (59u64, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
        ] {
            assert_eq!(code_at(RFC_SECRET, step_at(t)), &code8[2..], "t={t}");
        }
    }

    #[test]
    fn window_is_one_step_each_way() {
        let now = 1_000_000_000;
        let step = step_at(now);
        for (offset, ok) in [(-2, false), (-1, true), (0, true), (1, true), (2, false)] {
            let code = code_at(RFC_SECRET, step + offset);
            assert_eq!(
                verify(RFC_SECRET, &code, now, None).is_ok(),
                ok,
                "offset {offset}"
            );
        }
        // The matched step is reported, for the replay rule.
        let code = code_at(RFC_SECRET, step + 1);
        assert_eq!(verify(RFC_SECRET, &code, now, None), Ok(step + 1));
    }

    #[test]
    fn replay_rule() {
        let now = 1_000_000_000;
        let step = step_at(now);
        let code = code_at(RFC_SECRET, step);
        assert_eq!(verify(RFC_SECRET, &code, now, Some(step - 1)), Ok(step));
        assert_eq!(
            verify(RFC_SECRET, &code, now, Some(step)),
            Err(CodeError::Replay)
        );
        // 29 seconds later the same code is still in the window but already used.
        assert_eq!(
            verify(RFC_SECRET, &code, now + 29, Some(step)),
            Err(CodeError::Replay)
        );
        // A later code after an early-accepted future step is refused too.
        let prev = code_at(RFC_SECRET, step - 1);
        assert_eq!(
            verify(RFC_SECRET, &prev, now, Some(step)),
            Err(CodeError::Replay)
        );
    }

    #[test]
    fn malformed_codes() {
        for bad in ["", "12345", "1234567", "12a456", "١٢٣٤٥٦"] {
            assert_eq!(
                verify(RFC_SECRET, bad, 59, None),
                Err(CodeError::Invalid),
                "{bad:?}"
            );
        }
        let code = code_at(RFC_SECRET, step_at(59));
        assert!(verify(RFC_SECRET, &format!(" {code}\n"), 59, None).is_ok());
    }

    #[test]
    fn uri_and_base32() {
        let uri = otpauth_uri(RFC_SECRET, "alice");
        assert!(uri.starts_with("otpauth://totp/moat:alice?"), "{uri}");
        assert!(
            uri.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
            "{uri}"
        );
        assert!(uri.contains("issuer=moat"), "{uri}");
        assert_eq!(
            secret_base32(RFC_SECRET),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        assert_eq!(generate_secret().len(), SECRET_LEN);
    }
}
