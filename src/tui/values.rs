//! Values as the console writes and reads them, shared by every screen: yes/no for
//! booleans, and what counts as a date, a time of day and a timestamp (with the shown
//! form a timestamp is normalized to). Pure functions; no screen state.

use crate::domain::Value;

/// How a yes/no column's value reads everywhere: `yes` or `no`.
pub fn yes_no(v: &Value) -> String {
    match v {
        Value::Integer(0) => "no".into(),
        Value::Integer(_) => "yes".into(),
        Value::Text(t) if matches!(t.as_str(), "0" | "f" | "false") => "no".into(),
        Value::Text(t) if matches!(t.as_str(), "1" | "t" | "true") => "yes".into(),
        other => other.to_string(),
    }
}

fn digits(s: &str, n: usize) -> Option<u32> {
    (s.len() == n && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// A time of day without its zone: `12:00:00+02`, `12:00:00-05:30` and `12:00:00Z` give
/// `12:00:00` (PostgreSQL writes `timestamptz` with the offset).
fn without_zone(t: &str) -> &str {
    let t = t.strip_suffix('Z').unwrap_or(t);
    match t.rfind(['+', '-']) {
        Some(at) => {
            let zone = &t[at + 1..];
            let ok = match zone.split_once(':') {
                Some((h, m)) => digits(h, 2).is_some() && digits(m, 2).is_some(),
                None => digits(zone, 2).is_some(),
            };
            if ok {
                &t[..at]
            } else {
                t
            }
        }
        None => t,
    }
}

/// Whether `t` is a date, or a date and a time of day (`YYYY-MM-DD HH:MM[:SS]`, a zone
/// allowed).
pub fn valid_timestamp(t: &str) -> bool {
    normalized_timestamp(t).is_some()
}

/// Timestamp `t` written the way lists and records show it: `2026-12-01 10:00` becomes
/// `2026-12-01 10:00:00` (a `T` separator a space); a date alone, seconds and a zone
/// are kept as typed. `None` when it is not a timestamp.
pub fn normalized_timestamp(t: &str) -> Option<String> {
    let Some((d, tm)) = t.split_once([' ', 'T']) else {
        return valid_date(t).then(|| t.to_string());
    };
    let time = without_zone(tm);
    if !(valid_date(d) && valid_time(time)) {
        return None;
    }
    let zone = &tm[time.len()..];
    let seconds = if time.len() == 5 { ":00" } else { "" };
    Some(format!("{d} {time}{seconds}{zone}"))
}

/// `YYYY-MM-DD` with a real day of that month.
pub fn valid_date(s: &str) -> bool {
    let mut parts = s.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Some(y), Some(m), Some(d)) = (digits(y, 4), digits(m, 2), digits(d, 2)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// `HH:MM` or `HH:MM:SS` (seconds may carry a fraction).
pub fn valid_time(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    let seconds_ok = |p: &str| {
        let whole = p.split_once('.').map_or(p, |(w, f)| {
            if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
                "x"
            } else {
                w
            }
        });
        digits(whole, 2).is_some_and(|v| v < 60)
    };
    match parts.as_slice() {
        [h, m] => digits(h, 2).is_some_and(|v| v < 24) && digits(m, 2).is_some_and(|v| v < 60),
        [h, m, sec] => {
            digits(h, 2).is_some_and(|v| v < 24)
                && digits(m, 2).is_some_and(|v| v < 60)
                && seconds_ok(sec)
        }
        _ => false,
    }
}
