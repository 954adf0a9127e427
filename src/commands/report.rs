//! `moat report users`: the "audit admin users" report. Every user with what they hold
//! and how they log in; filters for superusers, dormant accounts and accounts without a
//! second factor; a table for people, CSV for spreadsheets, JSON for pipelines.

use std::io::Write;

use serde::Serialize;

use crate::config::Config;
use crate::domain::format_time;
use crate::store::{TotpState, UserFacts};
use crate::tui::sanitize::SafeText;

use super::{open_admin_store, CommandError, TerminalSafeJson};

/// Failed logins are counted over this many days.
pub const FAILED_LOGIN_DAYS: i64 = 30;

/// Output format of a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
}

/// Which users a report lists (all of those given must hold).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserFilter {
    pub superusers: bool,
    /// Users who have not logged in for this many days (never: created before then).
    pub dormant_days: Option<u64>,
    /// Users without a confirmed TOTP device.
    pub no_2fa: bool,
}

/// `90d`, `12w`, `36h` or a number of days → days (hours round up to whole days).
pub fn parse_days(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{}` is not a duration like 90d", s.escape_debug()))?;
    match unit {
        "" | "d" => Ok(n),
        "w" => Ok(n.saturating_mul(7)),
        "h" => Ok(n.div_ceil(24)),
        _ => Err(format!(
            "`{}` is not a duration like 90d (units: d, w, h)",
            s.escape_debug()
        )),
    }
}

impl UserFilter {
    fn keeps(&self, u: &UserFacts, now: i64) -> bool {
        if self.superusers && !u.is_superuser {
            return false;
        }
        if self.no_2fa && u.totp == TotpState::Enrolled {
            return false;
        }
        if let Some(days) = self.dormant_days {
            let cutoff = now - i64::try_from(days.saturating_mul(86_400)).unwrap_or(i64::MAX);
            let last = u.last_login.as_ref().map_or(u.created_at, |(at, _)| *at);
            if last >= cutoff {
                return false;
            }
        }
        true
    }
}

/// One row of the report, as JSON names it.
#[derive(Serialize)]
struct Row<'a> {
    username: &'a str,
    superuser: bool,
    active: bool,
    groups: &'a [String],
    model_perms: u64,
    object_perms: u64,
    totp: &'static str,
    backup_codes_left: u64,
    last_login_at: Option<String>,
    last_login_unix: Option<i64>,
    last_login_from: Option<&'a str>,
    failed_logins_30d: u64,
    /// `pending`, `expired` or null.
    one_time_password: Option<&'static str>,
}

fn row(u: &UserFacts, now: i64) -> Row<'_> {
    Row {
        username: &u.username,
        superuser: u.is_superuser,
        active: u.is_active,
        groups: &u.groups,
        model_perms: u.model_perms,
        object_perms: u.object_perms,
        totp: u.totp.as_str(),
        backup_codes_left: u.backup_codes_left,
        last_login_at: u.last_login.as_ref().map(|(at, _)| format_time(*at)),
        last_login_unix: u.last_login.as_ref().map(|(at, _)| *at),
        last_login_from: u.last_login.as_ref().map(|(_, ip)| ip.as_str()),
        failed_logins_30d: u.failed_logins,
        one_time_password: u.one_time_password.then(|| {
            if u.password_expires_at.is_some_and(|t| t <= now) {
                "expired"
            } else {
                "pending"
            }
        }),
    }
}

/// `moat report users [filters] [--format table|csv|json]`.
pub async fn report_users(
    config: &Config,
    filter: UserFilter,
    format: Format,
    now: i64,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    let store = open_admin_store(config).await?;
    let since_ms = (now - FAILED_LOGIN_DAYS * 86_400).saturating_mul(1000);
    let users = store.user_facts(since_ms).await?;
    store.close().await;
    let rows: Vec<Row> = users
        .iter()
        .filter(|u| filter.keeps(u, now))
        .map(|u| row(u, now))
        .collect();
    match format {
        Format::Json => {
            let report = serde_json::json!({
                "format": 1,
                "database": config.database_shown(),
                "generated_at": format_time(now),
                "users": rows,
            });
            let mut ser = serde_json::Serializer::with_formatter(&mut *out, TerminalSafeJson);
            report.serialize(&mut ser).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        Format::Csv => {
            writeln!(
                out,
                "username,superuser,active,groups,model_perms,object_perms,totp,\
                 backup_codes_left,last_login_at,last_login_from,failed_logins_30d,\
                 one_time_password"
            )?;
            for r in &rows {
                let fields = [
                    r.username.to_string(),
                    yes(r.superuser).into(),
                    yes(r.active).into(),
                    r.groups.join(" "),
                    r.model_perms.to_string(),
                    r.object_perms.to_string(),
                    r.totp.into(),
                    r.backup_codes_left.to_string(),
                    r.last_login_at.clone().unwrap_or_default(),
                    r.last_login_from.unwrap_or_default().to_string(),
                    r.failed_logins_30d.to_string(),
                    r.one_time_password.unwrap_or_default().to_string(),
                ];
                let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
                writeln!(out, "{}", line.join(","))?;
            }
        }
        Format::Table => {
            if rows.is_empty() {
                writeln!(out, "no users match")?;
                return Ok(());
            }
            writeln!(
                out,
                "{:<20} {:<5} {:<8} {:<11} {:>6} {:>5} {:>7}  {:<23}  {:<18} {:>6}  {:<8} groups",
                "user",
                "super",
                "active",
                "2fa",
                "backup",
                "perms",
                "objects",
                "last login",
                "from",
                "failed",
                "one-time",
            )?;
            for r in &rows {
                let groups = if r.groups.is_empty() {
                    "-".to_string()
                } else {
                    r.groups.join(", ")
                };
                writeln!(
                    out,
                    "{:<20} {:<5} {:<8} {:<11} {:>6} {:>5} {:>7}  {:<23}  {:<18} {:>6}  {:<8} {}",
                    SafeText::new(r.username).to_string(),
                    yes(r.superuser),
                    yes(r.active),
                    r.totp,
                    r.backup_codes_left,
                    r.model_perms,
                    r.object_perms,
                    r.last_login_at.as_deref().unwrap_or("never"),
                    SafeText::new(r.last_login_from.unwrap_or("-")).to_string(),
                    r.failed_logins_30d,
                    r.one_time_password.unwrap_or("-"),
                    SafeText::new(&groups),
                )?;
            }
        }
    }
    Ok(())
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// A CSV field: always quoted, quotes doubled; text a spreadsheet would run as a formula
/// gets a leading `'`; control characters as escapes, so the file is safe in a terminal.
fn csv_field(s: &str) -> String {
    let mut out = String::from("\"");
    if s.starts_with(['=', '+', '-', '@', '|', '\t', '\r']) {
        out.push('\'');
    }
    out.push_str(&SafeText::new(s).to_string().replace('"', "\"\""));
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> UserFacts {
        UserFacts {
            username: name.into(),
            is_superuser: false,
            is_active: true,
            groups: vec![],
            model_perms: 0,
            object_perms: 0,
            totp: TotpState::Enrolled,
            backup_codes_left: 0,
            last_login: None,
            failed_logins: 0,
            one_time_password: false,
            password_expires_at: None,
            created_at: 0,
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_days("90d"), Ok(90));
        assert_eq!(parse_days("90"), Ok(90));
        assert_eq!(parse_days("2w"), Ok(14));
        assert_eq!(parse_days("36h"), Ok(2));
        assert!(parse_days("soon").is_err());
        assert!(parse_days("9y").is_err());
        assert!(parse_days("-3d").is_err());
    }

    #[test]
    fn filters_hold_together() {
        let day = 86_400;
        let now = 1000 * day;
        let mut old = user("old");
        old.last_login = Some((now - 100 * day, "10.0.0.1".into()));
        let mut fresh = user("fresh");
        fresh.last_login = Some((now - day, "10.0.0.1".into()));
        let mut never = user("never");
        never.created_at = now - 200 * day;
        let mut new = user("new");
        new.created_at = now - day;
        let dormant = UserFilter {
            dormant_days: Some(90),
            ..UserFilter::default()
        };
        let kept: Vec<&str> = [&old, &fresh, &never, &new]
            .iter()
            .filter(|u| dormant.keeps(u, now))
            .map(|u| u.username.as_str())
            .collect();
        assert_eq!(kept, ["old", "never"]);

        let mut root = user("root");
        root.is_superuser = true;
        root.totp = TotpState::None;
        let both = UserFilter {
            superusers: true,
            no_2fa: true,
            ..UserFilter::default()
        };
        assert!(both.keeps(&root, now));
        assert!(!both.keeps(&old, now), "not a superuser");
        root.totp = TotpState::Enrolled;
        assert!(!both.keeps(&root, now), "has 2FA");
    }

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("alice"), "\"alice\"");
        assert_eq!(csv_field("=1+1"), "\"'=1+1\"");
        assert_eq!(csv_field("a\"b"), "\"a\"\"b\"");
        assert!(!csv_field("a\x1b[2Jb").contains('\x1b'));
    }
}
