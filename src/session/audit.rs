//! The audit viewer and a row's history, with values only where the viewer may see them.

use super::{describe, Actor, Context, Shown};
use crate::domain::Grants;
use crate::perm::moat_perms;
use crate::perm::{self, Action, Decision, Visibility};
use crate::store::{AuditEntry, AuditFilter, AuditRow as StoredRow};
use crate::tui::protocol::{AuditPage, AuditQuery, AuditRow, AuditValue, AuditValues, Change, Msg};

/// Which before/after values of an audit entry a viewer sees.
pub(super) enum Seen {
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
    pub(super) async fn audit_values(&self, actor: &Actor, g: &Grants, e: &AuditEntry) -> Seen {
        let Some(model) = e.model.as_deref() else {
            return Seen::Withheld;
        };
        if self.schema().table(model).is_none() {
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
                Seen::All
            } else {
                Seen::Withheld
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
            (true, Ok(t)) => Seen::Shown(t),
            _ => Seen::Withheld,
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
            until_ms: None,
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
        let rows: Vec<StoredRow> = rows.into_iter().take(PAGE as usize).collect();
        let offers = self.undo_offers(actor, g, &rows).await;
        let mut page = Vec::with_capacity(rows.len());
        for (row, undo) in rows.into_iter().zip(offers) {
            let seen = if all_values {
                Seen::All
            } else {
                self.audit_values(actor, g, &row.entry).await
            };
            page.push(AuditRow {
                undo,
                ..audit_row(row, &seen)
            });
        }
        Ok(Msg::Audit(Box::new(AuditPage {
            query,
            rows: page,
            more,
            appended: before_id.is_some(),
        })))
    }
}

/// A stored audit row as a viewer who sees its values as `seen` gets it.
pub(super) fn audit_row(row: StoredRow, seen: &Seen) -> AuditRow {
    let e = row.entry;
    let values = match seen {
        _ if e.before.is_none() && e.after.is_none() => AuditValues::None,
        Seen::All => AuditValues::Raw {
            before: e.before.as_ref().map(|v| v.to_string()),
            after: e.after.as_ref().map(|v| v.to_string()),
        },
        Seen::Shown(t) => AuditValues::Changes(changes(t, &e)),
        Seen::Withheld => AuditValues::Withheld,
    };
    AuditRow {
        id: row.id,
        at_ms: e.at_ms,
        actor: e.actor,
        source_ip: e.source_ip,
        session_id: e.session_id,
        action: e.action,
        model: e.model,
        pk: e.pk,
        outcome: e.outcome,
        reason: e.reason,
        values,
        hash: row.hash,
        undo: None,
    }
}

/// The columns an entry recorded, as `t` shows them: hidden columns left out, masked
/// values masked; sorted by column name.
fn changes(t: &Shown, e: &AuditEntry) -> Vec<Change> {
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
    let mut out = Vec::new();
    for c in columns {
        // A hidden column is not in the table as shown: left out.
        let Some(i) = t.table.columns.iter().position(|x| x.name == *c) else {
            continue;
        };
        let masked = t.masked.get(i).copied().unwrap_or(true);
        let value = |side: &Option<serde_json::Map<String, serde_json::Value>>| {
            side.as_ref().map(|m| match m.get(c) {
                None | Some(serde_json::Value::Null) => AuditValue::Null,
                Some(_) if masked => AuditValue::Masked,
                Some(serde_json::Value::String(s)) => AuditValue::Text(s.clone()),
                Some(other) => AuditValue::Other(other.to_string()),
            })
        };
        out.push(Change {
            column: c.clone(),
            before: value(&before),
            after: value(&after),
        });
    }
    out
}
