//! The password policy for passwords users choose: long enough, not the username, not one
//! of the passwords every guessing list starts with. Pure; the caller shows the message.

/// Fewest characters a chosen password may have.
pub const MIN_LEN: usize = crate::domain::MIN_PASSWORD_LEN;
/// Most characters: argon2 takes any length, but a bound keeps a paste from doing harm.
pub const MAX_LEN: usize = 1024;

/// Passwords of 12+ characters that top the public breach lists (lower-cased). Short ones
/// are already refused by length.
const COMMON: &[&str] = &[
    "123456789012",
    "1234567890123",
    "12345678901234",
    "123456789012345",
    "1234567890qwerty",
    "qwertyuiop123",
    "qwertyuiopasdfgh",
    "qwertyuiopasdfghjkl",
    "1q2w3e4r5t6y",
    "1q2w3e4r5t6y7u",
    "1qaz2wsx3edc",
    "1qaz2wsx3edc4rfv",
    "zaq12wsxcde3",
    "q1w2e3r4t5y6",
    "password1234",
    "password12345",
    "password123456",
    "passwordpassword",
    "password!123",
    "p@ssw0rd1234",
    "p@ssword1234",
    "passw0rd1234",
    "iloveyou1234",
    "letmein12345",
    "welcome12345",
    "welcome@1234",
    "administrator",
    "admin1234567",
    "adminadmin123",
    "changeme1234",
    "changemenow!",
    "trustno11234",
    "football1234",
    "baseball1234",
    "superman1234",
    "sunshine1234",
    "princess1234",
    "monkey123456",
    "dragon123456",
    "abc123456789",
    "abcdefghijkl",
    "abcdefghijklm",
    "aaaaaaaaaaaa",
    "111111111111",
    "000000000000",
    "987654321098",
    "qwerty123456",
    "qwertyqwerty",
    "asdfghjkl123",
    "correcthorsebatterystaple",
    "correct horse battery staple",
];

/// Check a new password for `username`; `Err` says why in one sentence.
pub fn check(username: &str, password: &str) -> Result<(), String> {
    let len = password.chars().count();
    if len < MIN_LEN {
        return Err(format!(
            "too short: at least {MIN_LEN} characters (this one has {len})"
        ));
    }
    if len > MAX_LEN {
        return Err(format!("too long: at most {MAX_LEN} characters"));
    }
    let lower = password.to_lowercase();
    if !username.is_empty() && lower.contains(&username.to_lowercase()) {
        return Err("must not contain the username".into());
    }
    if COMMON.contains(&lower.as_str()) {
        return Err("too common: it is on the lists attackers try first".into());
    }
    let mut chars = lower.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first) {
        return Err("one character repeated is not a password".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn refusals_and_acceptance() {
        assert!(check("alice", "short").unwrap_err().contains("too short"));
        assert!(check("alice", "elevenchars")
            .unwrap_err()
            .contains("at least 12"));
        assert!(check("alice", "xxALICExx-long-enough")
            .unwrap_err()
            .contains("username"));
        assert!(check("alice", "Password1234")
            .unwrap_err()
            .contains("too common"));
        assert!(check("bob", "zzzzzzzzzzzzzz").is_err());
        assert!(check("bob", &"x".repeat(2000))
            .unwrap_err()
            .contains("too long"));
        assert!(check("alice", "violet staple orbit 42").is_ok());
        // Twelve characters counted as characters, not bytes.
        assert!(check("alice", "ééééééééééée").is_ok());
    }
}
