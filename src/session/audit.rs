//! The audit viewer and a row's history, with values only where the viewer may see them.

use super::{describe, Actor, Context, Shown, MASK};
use crate::domain::Grants;
use crate::perm::moat_perms;
use crate::perm::{self, Action, Decision, Visibility};
use crate::store::{AuditEntry, AuditFilter};
use crate::tui::app::{AuditPage, AuditQuery};
use crate::tui::Msg;

/// Which before/after values of an audit entry a viewer sees.
pub(super) enum AuditValues {
    /// Everything (`moat.view_audit_values`, or a superuser).
    All,
    /// As the viewer sees the row today: hidden columns left out, masked ones masked.
    Shown(Shown),
    /// None: the viewer may not view that model or row.
    Withheld,
}

impl Context {
    /// The values of entry `e` that `g` may see without `moat.view_audit_values`: those
    /// of a row of a model they may view (column rules applied, as in `H`); entries about
    /// moat's own tables (users, groups, sessions) show theirs, which are who-did-what.
    pub(super) async fn audit_values(
        &self,
        actor: &Actor,
        g: &Grants,
        e: &AuditEntry,
    ) -> AuditValues {
        let Some(model) = e.model.as_deref() else {
            return AuditValues::Withheld;
        };
        if self.schema.table(model).is_none() {
            // moat's own records (who did what to users, groups, sessions), by exact name:
            // a dropped data table called `moatx` is not one of them.
            const MOAT_RECORDS: [&str; 5] = [
                "moat",
                "moat_audit_log",
                "moat_groups",
                "moat_sessions",
                "moat_users",
            ];
            return if MOAT_RECORDS.contains(&model) {
                AuditValues::All
            } else {
                AuditValues::Withheld
            };
        }
        let allowed = match perm::visibility(g, model) {
            Visibility::All => true,
            Visibility::Nothing => false,
            Visibility::Granted => match e.pk.as_deref() {
                Some(pk) => match self.store.row_perms(actor.user_id, model, pk).await {
                    Ok(row) => perm::decide(g, &Action::View, model, &row).is_allowed(),
                    Err(_) => false,
                },
                None => false,
            },
        };
        match (allowed, self.table(g, model)) {
            (true, Ok(t)) => AuditValues::Shown(t),
            _ => AuditValues::Withheld,
        }
    }

    /// A page of the audit viewer (needs `moat.view_audit`): who did what, where and
    /// when for every model; before/after values only where the viewer may view the row
    /// (hidden columns left out, masked ones masked, as in lists), or all of them with
    /// `moat.view_audit_values`.
    pub(super) async fn audit_page(
        &self,
        actor: &Actor,
        g: &Grants,
        query: AuditQuery,
        before_id: Option<i64>,
    ) -> Result<Msg, Msg> {
        if let Decision::Deny(reason) = perm::decide_moat(g, moat_perms::VIEW_AUDIT) {
            return Err(self
                .deny(actor, &Action::View, "moat_audit_log", None, &reason)
                .await);
        }
        let since_ms = match &query.since {
            Some(t) => Some(
                crate::domain::parse_time(t)
                    .ok_or_else(|| Msg::Failed(format!("since: `{t}` is not a time (YYYY-MM-DD)")))?
                    .saturating_mul(1000),
            ),
            None => None,
        };
        let filter = AuditFilter {
            since_ms,
            actor: query.user.clone(),
            model: query.model.clone(),
            action: query.action.clone(),
            outcome: query.outcome.clone(),
            before_id,
        };
        const PAGE: i64 = 200;
        let rows = self
            .store
            .audit_page(&filter, PAGE + 1)
            .await
            .map_err(|e| Msg::Failed(describe(&e)))?;
        let more = rows.len() > PAGE as usize;
        let all_values = perm::decide_moat(g, moat_perms::VIEW_AUDIT_VALUES).is_allowed();
        let mut page = Vec::with_capacity(rows.len().min(PAGE as usize));
        for row in rows.into_iter().take(PAGE as usize) {
            let e = &row.entry;
            let values = if all_values {
                AuditValues::All
            } else {
                self.audit_values(actor, g, e).await
            };
            let what = match (&e.model, &e.pk) {
                (Some(m), Some(pk)) => format!("{m} #{pk}"),
                (Some(m), None) => m.clone(),
                _ => String::new(),
            };
            let line = format!(
                "{}  {:<12} {:<14} {:<24} {}{}",
                crate::domain::format_time(e.at_ms.div_euclid(1000)),
                e.actor.as_deref().unwrap_or("-"),
                e.action,
                what,
                e.outcome,
                e.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            );
            let mut details = vec![
                format!("entry      {}", row.id),
                format!(
                    "time       {}",
                    crate::domain::format_time(e.at_ms.div_euclid(1000))
                ),
                format!("actor      {}", e.actor.as_deref().unwrap_or("-")),
                format!("from       {}", e.source_ip.as_deref().unwrap_or("-")),
                format!("session    {}", e.session_id.as_deref().unwrap_or("-")),
                format!("action     {} {what}", e.action),
                format!("outcome    {}", e.outcome),
            ];
            if let Some(r) = &e.reason {
                details.push(format!("reason     {r}"));
            }
            match values {
                AuditValues::Shown(t) => details.extend(
                    history_lines(&t, std::slice::from_ref(e))
                        .into_iter()
                        .skip(1),
                ),
                AuditValues::All => {
                    for (label, v) in [("before", &e.before), ("after", &e.after)] {
                        if let Some(v) = v {
                            details.push(format!("{label:<10} {v}"));
                        }
                    }
                }
                AuditValues::Withheld if e.before.is_some() || e.after.is_some() => details.push(
                    "values     not shown: you may not view this row (moat.view_audit_values shows them)"
                        .into(),
                ),
                AuditValues::Withheld => {}
            }
            details.push(format!("hash       {}", row.hash));
            page.push((row.id, line, details));
        }
        let rows = page;
        Ok(Msg::Audit(Box::new(AuditPage {
            query,
            rows,
            more,
            appended: before_id.is_some(),
        })))
    }
}

/// Audit entries as lines: a heading per entry, then one line per changed column, with
/// hidden columns left out and masked ones masked.
pub(super) fn history_lines(t: &Shown, entries: &[AuditEntry]) -> Vec<String> {
    let value = |column: &str, v: Option<&serde_json::Value>| -> Option<String> {
        let i = t.table.columns.iter().position(|c| c.name == column)?; // hidden: skip
        Some(match v {
            None | Some(serde_json::Value::Null) => "∅".into(),
            Some(_) if t.masked.get(i).copied().unwrap_or(true) => MASK.into(),
            Some(serde_json::Value::String(s)) => format!("{s:?}"),
            Some(other) => other.to_string(),
        })
    };
    let mut lines = Vec::new();
    for e in entries {
        let who = e.actor.as_deref().unwrap_or("?");
        let why = e
            .reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        lines.push(format!(
            "{}  {who}  {} {}{why}",
            crate::domain::format_time(e.at_ms.div_euclid(1000)),
            e.action,
            e.outcome
        ));
        let object = |v: &Option<serde_json::Value>| match v {
            Some(serde_json::Value::Object(m)) => Some(m.clone()),
            _ => None,
        };
        let (before, after) = (object(&e.before), object(&e.after));
        let mut columns: Vec<&String> = before
            .iter()
            .chain(after.iter())
            .flat_map(|m| m.keys())
            .collect();
        columns.sort();
        columns.dedup();
        for c in columns {
            let b = before.as_ref().map(|m| m.get(c));
            let a = after.as_ref().map(|m| m.get(c));
            let (Some(b), Some(a)) = (value(c, b.flatten()), value(c, a.flatten())) else {
                continue;
            };
            let line = match (before.is_some(), after.is_some()) {
                (true, true) => format!("    {c}: {b} → {a}"),
                (true, false) => format!("    {c}: {b}"),
                _ => format!("    {c}: {a}"),
            };
            lines.push(line);
        }
    }
    lines
}
