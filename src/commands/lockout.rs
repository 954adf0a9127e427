//! `moat lockout list|reset`.

use std::io::Write;

use crate::config::Config;
use crate::domain::format_time;
use crate::ops::{self, By};
use crate::tui::sanitize::SafeText;

use super::{now_unix, now_unix_ms, open_admin_store, CommandError};

/// `moat lockout list`: every failure counter, locked ones first: the key (which scope
/// is locked: a username from an address, a username, an address), its failures, how
/// many lockouts it has had (each lasts longer), the last failure, and until when it is
/// locked. Why a login was refused is in the audit trail (`locked: this username`, …).
pub async fn lockout_list(config: &Config, out: &mut impl Write) -> Result<(), CommandError> {
    let store = open_admin_store(config).await?;
    let now = now_unix();
    let rows = store.list_failure_counters().await?;
    if rows.is_empty() {
        writeln!(out, "no failed logins recorded")?;
    } else {
        writeln!(
            out,
            "{:<40} {:>8} {:>8}  {:<23}  locked until",
            "key", "failures", "lockouts", "last failure"
        )?;
        for (key, c) in rows {
            let locked = match c.locked_until {
                Some(t) if t > now => format_time(t),
                _ => "-".into(),
            };
            let key = SafeText::new(&key.to_string());
            writeln!(
                out,
                "{key:<40} {:>8} {:>8}  {:<23}  {locked}",
                c.failures,
                c.tier,
                format_time(c.last_failure_at)
            )?;
        }
    }
    store.close().await;
    Ok(())
}

/// `moat lockout reset [--user U] [--ip IP]`: forget failure counters (both given: only
/// those naming both). Audited as done from the command line by `operator`.
pub async fn lockout_reset(
    config: &Config,
    user: Option<&str>,
    ip: Option<&str>,
    operator: &str,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    if user.is_none() && ip.is_none() {
        return Err(CommandError::Usage(
            "lockout reset needs --user, --ip or both".into(),
        ));
    }
    // Counts are kept per source: an IPv6 address is counted as its network
    // ([limits] ipv6_prefix), so `--ip 2001:db8:1:2::5` resets `2001:db8:1:2::/64`.
    let source = match ip {
        Some(ip) => {
            let addr = ip
                .parse::<std::net::IpAddr>()
                .or_else(|_| ip.parse::<ipnet::IpNet>().map(|n| n.addr()))
                .map_err(|_| {
                    CommandError::Usage(format!("`{}` is not an IP address", ip.escape_debug()))
                })?;
            Some(crate::gate::source_label(addr, config.limits.ipv6_prefix))
        }
        None => None,
    };
    let ip = source.as_deref();
    let store = open_admin_store(config).await?;
    let by = By::Cli { os_user: operator };
    let n = ops::reset_lockout(&store, by, user, ip, now_unix_ms()).await?;
    let what = match (user, ip) {
        (Some(u), Some(i)) => format!("user {u} from {i}"),
        (Some(u), None) => format!("user {u}"),
        (None, Some(i)) => format!("address {i}"),
        (None, None) => String::new(),
    };
    writeln!(out, "reset {n} counters for {}", SafeText::new(&what))?;
    store.close().await;
    Ok(())
}
