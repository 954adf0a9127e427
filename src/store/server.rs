//! Which database servers moat runs on, told from the version a server reports.
//!
//! On `mysql://` URLs moat needs MariaDB 10.5 or later: its writes use
//! `INSERT … RETURNING` (MariaDB 10.5), and its type rules read JSON columns from the
//! `json_valid` CHECK MariaDB adds. MySQL itself (8.x) has neither, and no MySQL server
//! was available to test on, so moat refuses it at start with the reason rather than
//! failing later on the first write.

/// The oldest MariaDB moat runs on: `INSERT … RETURNING` came in 10.5.
pub const MARIADB_MIN: (u32, u32) = (10, 5);

/// `Ok` when the server whose `SELECT VERSION()` is `version` can hold moat's tables and
/// serve its console; else why not, in words for the operator.
pub fn check_mysql_version(version: &str) -> Result<(), String> {
    // Cut, and escaped: the server's words reach the operator's terminal.
    let cut: String = version.chars().take(80).collect();
    let shown = crate::domain::log_text(&cut);
    if !version.to_ascii_lowercase().contains("mariadb") {
        return Err(format!(
            "this server is MySQL {shown}, not MariaDB: moat runs on MariaDB {}.{} or later \
             (its writes use INSERT … RETURNING, which MySQL does not have); MySQL itself is \
             not supported yet",
            MARIADB_MIN.0, MARIADB_MIN.1
        ));
    }
    // `10.11.19-MariaDB-0+deb12u1`; through some proxies `5.5.5-10.11.19-MariaDB`.
    let numbers = version
        .split('-')
        .find(|part| *part != "5.5.5" && part.contains('.'))
        .unwrap_or_default();
    let mut parts = numbers.split('.').map(|p| p.parse::<u32>());
    match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) if (major, minor) >= MARIADB_MIN => Ok(()),
        (Some(Ok(_)), Some(Ok(_))) => Err(format!(
            "this server is MariaDB {shown}: moat runs on MariaDB {}.{} or later (its writes \
             use INSERT … RETURNING)",
            MARIADB_MIN.0, MARIADB_MIN.1
        )),
        _ => Err(format!(
            "cannot tell the version of this MariaDB server ({shown}); moat runs on MariaDB \
             {}.{} or later",
            MARIADB_MIN.0, MARIADB_MIN.1
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mariadb_from_10_5_is_accepted() {
        for v in [
            "10.11.19-MariaDB-0+deb12u1",
            "10.5.0-MariaDB",
            "11.4.2-MariaDB-ubu2404",
            "5.5.5-10.6.12-MariaDB-log",
        ] {
            assert_eq!(check_mysql_version(v), Ok(()), "{v}");
        }
    }

    #[test]
    fn older_mariadb_and_mysql_itself_are_refused_with_the_reason() {
        let e = check_mysql_version("10.4.32-MariaDB").unwrap_err();
        assert!(e.contains("MariaDB 10.5 or later"), "{e}");
        assert!(e.contains("10.4.32-MariaDB"), "{e}");
        for v in ["8.0.36", "8.4.0-commercial", "5.7.44-log"] {
            let e = check_mysql_version(v).unwrap_err();
            assert!(e.contains("not MariaDB") && e.contains(v), "{e}");
            assert!(e.contains("MySQL itself is not supported yet"), "{e}");
        }
        let e = check_mysql_version("MariaDB-custom").unwrap_err();
        assert!(e.contains("cannot tell the version"), "{e}");
    }

    #[test]
    fn a_hostile_version_string_is_cut_and_reaches_no_terminal_raw() {
        let e = check_mysql_version(&format!("8.0\x1b[2J{}", "x".repeat(500))).unwrap_err();
        assert!(!e.contains('\x1b') && e.len() < 400, "{e}");
        for hostile in ["8.0\u{202e}lqsym", "8.0\u{200b}", "8.0\u{9b}31m"] {
            let e = check_mysql_version(hostile).unwrap_err();
            assert!(!e.contains(['\u{202e}', '\u{200b}', '\u{9b}']), "{e:?}");
        }
        // 5.5.50 is a version, not the 5.5.5 prefix some proxies add.
        let e = check_mysql_version("5.5.50-MariaDB").unwrap_err();
        assert!(
            e.contains("MariaDB 10.5 or later") && !e.contains("cannot tell"),
            "{e}"
        );
    }
}
