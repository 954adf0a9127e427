//! `moat sessions [list]` and `moat sessions end`: live sessions on every instance.

use std::io::Write;

use crate::config::Config;
use crate::domain::format_time;
use crate::ops::{self, By};
use crate::session;
use crate::store::StoreError;
use crate::tui::sanitize::SafeText;

use super::{now_unix, now_unix_ms, open_admin_store, CommandError};

/// `moat sessions [list]`: live sessions on every instance.
pub async fn sessions_list(config: &Config, out: &mut impl Write) -> Result<(), CommandError> {
    let store = open_admin_store(config).await?;
    let now = now_unix();
    let rows = store.live_sessions(now - session::live::STALE_SECS).await?;
    if rows.is_empty() {
        writeln!(out, "no live sessions")?;
    } else {
        let shown: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    SafeText::new(&r.id),
                    SafeText::new(&r.username),
                    SafeText::new(&r.source_ip),
                )
            })
            .collect();
        let user_w = shown
            .iter()
            .map(|(_, n, _)| n.as_str().chars().count())
            .max()
            .unwrap_or(0)
            .max(4);
        let from_w = shown
            .iter()
            .map(|(_, _, ip)| ip.as_str().chars().count())
            .max()
            .unwrap_or(0)
            .max(4);
        writeln!(
            out,
            "{:<16}  {:<user_w$}  {:<from_w$}  {:<23}  idle",
            "session", "user", "from", "started"
        )?;
        for (r, (id, name, from)) in rows.iter().zip(shown) {
            let ending = if r.end_requested { "  (ending)" } else { "" };
            writeln!(
                out,
                "{id:<16}  {name:<user_w$}  {from:<from_w$}  {:<23}  {}{ending}",
                format_time(r.started_at),
                crate::domain::format_duration(now - r.last_input_at)
            )?;
        }
    }
    store.close().await;
    Ok(())
}

/// `moat sessions end ID`: ask the session to end (whichever instance runs it notices
/// within a second and tells its user).
pub async fn session_end(
    config: &Config,
    id: &str,
    operator: &str,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    let store = open_admin_store(config).await?;
    let by = By::Cli { os_user: operator };
    let ops::Ended { id: full, user, .. } =
        match ops::end_session(&store, by, id, now_unix_ms()).await {
            Err(StoreError::NotFound(what)) => return Err(CommandError::Usage(what)),
            other => other?,
        };
    writeln!(
        out,
        "session {} of {} ended",
        SafeText::new(&full),
        SafeText::new(&user)
    )?;
    store.close().await;
    Ok(())
}
