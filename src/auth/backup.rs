//! Single-use backup codes: 16 characters of Crockford base32 (80 bits), shown as
//! `xxxx-xxxx-xxxx-xxxx`, stored as SHA-256 hashes. Their entropy makes a slow hash
//! unnecessary, and a fast one lets a login check all of a user's codes at once.

use rand::Rng;
use sha2::{Digest, Sha256};

/// Codes generated at a time.
pub const COUNT: usize = 10;
const LEN: usize = 16;
const ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// `COUNT` fresh codes, formatted for people.
pub fn generate() -> Vec<String> {
    let mut rng = rand::thread_rng();
    (0..COUNT)
        .map(|_| {
            let raw: String = (0..LEN)
                .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
                .collect();
            raw.as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

/// What a typed code is compared as: lower case, no separators, Crockford's look-alikes
/// folded (`i`/`l` → `1`, `o` → `0`). `None` if it cannot be a backup code.
pub fn normalize(typed: &str) -> Option<String> {
    let s: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| match c.to_ascii_lowercase() {
            'i' | 'l' => '1',
            'o' => '0',
            c => c,
        })
        .collect();
    (s.len() == LEN && s.bytes().all(|b| ALPHABET.contains(&b))).then_some(s)
}

/// The stored form of a normalized code.
pub fn hash(normalized: &str) -> String {
    Sha256::digest(normalized.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_normalize_and_differ() {
        let codes = generate();
        assert_eq!(codes.len(), COUNT);
        for c in &codes {
            assert_eq!(c.len(), 19, "{c}");
            assert_eq!(c.matches('-').count(), 3);
            assert!(normalize(c).is_some(), "{c}");
        }
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), COUNT);
    }

    #[test]
    fn typing_is_forgiving_but_strict_on_length() {
        let n = normalize("ABCD-EFGH-JK01-2345").unwrap();
        assert_eq!(n, "abcdefghjk012345");
        assert_eq!(
            normalize("abcd efgh jkOl 2345").unwrap(),
            "abcdefghjk012345"
        );
        assert_eq!(
            normalize("123456"),
            None,
            "a TOTP code is not a backup code"
        );
        assert_eq!(
            normalize("abcd-efgh-jk01-234u"),
            None,
            "u is not in the alphabet"
        );
        assert_eq!(hash(&n), hash("abcdefghjk012345"));
        assert_eq!(hash(&n).len(), 64);
    }
}
