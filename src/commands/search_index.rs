//! `moat search-index add|remove|list`: trigram indexes for `/` search, made only when an
//! operator asks (see [`crate::store::search_index`]).

use std::io::Write;

use super::{now_unix_ms, open_admin_store, CommandError};
use crate::config::Config;
use crate::domain::{group_thousands, Schema, TableInfo};
use crate::store::{AuditEntry, Store};
use crate::tui::sanitize::SafeText;

fn table<'a>(schema: &'a Schema, model: &str) -> Result<&'a TableInfo, CommandError> {
    schema
        .table(model)
        .ok_or_else(|| CommandError::Usage(format!("no such model: {}", SafeText::new(model))))
}

fn audit(operator: &str, action: &str, model: &str, columns: &[String]) -> AuditEntry {
    AuditEntry {
        at_ms: now_unix_ms(),
        actor: Some(format!("cli:{operator}")),
        action: action.into(),
        model: Some(model.into()),
        after: Some(serde_json::json!({ "columns": columns })),
        outcome: "success".into(),
        ..AuditEntry::default()
    }
}

fn columns_text(columns: &[String]) -> String {
    columns
        .iter()
        .map(|c| SafeText::new(c).to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `moat search-index add MODEL COLUMN…`: build a trigram index on the columns, printing
/// progress on `progress` (a line rewritten in place on a terminal).
pub async fn add(
    config: &Config,
    model: &str,
    columns: &[String],
    operator: &str,
    out: &mut impl Write,
    progress: &mut (dyn Write + Send),
) -> Result<(), CommandError> {
    let store = open_admin_store(config).await?;
    let schema = store.introspect().await?;
    let t = table(&schema, model)?;
    let started = std::time::Instant::now();
    let mut last_shown = std::time::Instant::now();
    let mut shown = false;
    let mut report = |done: u64, total: u64| {
        // At most a few lines a second; the last one always.
        if done < total && last_shown.elapsed() < std::time::Duration::from_millis(250) {
            return;
        }
        last_shown = std::time::Instant::now();
        shown = true;
        let pct = (u128::from(done) * 100)
            .checked_div(u128::from(total))
            .unwrap_or(100);
        let _ = write!(
            progress,
            "\rindexing {}: {} of {} ({pct}%)",
            SafeText::new(&t.name),
            group_thousands(done),
            group_thousands(total)
        );
        let _ = progress.flush();
    };
    let result = store.add_search_index(t, columns, &mut report).await;
    if shown {
        let _ = writeln!(progress);
    }
    result?;
    store
        .audit(&[audit(operator, "search_index_add", &t.name, columns)])
        .await?;
    writeln!(
        out,
        "search index on {} ({}) ready in {:.1} s: `/` searches of 3 or more characters use it",
        SafeText::new(&t.name),
        columns_text(columns),
        started.elapsed().as_secs_f64()
    )?;
    store.close().await;
    Ok(())
}

/// `moat search-index remove MODEL [COLUMN…]`.
pub async fn remove(
    config: &Config,
    model: &str,
    columns: &[String],
    operator: &str,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    let store = open_admin_store(config).await?;
    let schema = store.introspect().await?;
    let t = table(&schema, model)?;
    let (removed, kept) = store.remove_search_index(t, columns).await?;
    if removed.is_empty() && kept.is_empty() {
        store.close().await;
        return Err(CommandError::Usage(format!(
            "{} has no search index",
            SafeText::new(&t.name)
        )));
    }
    if !removed.is_empty() {
        store
            .audit(&[audit(operator, "search_index_remove", &t.name, columns)])
            .await?;
        writeln!(
            out,
            "removed the search index on {} ({})",
            SafeText::new(&t.name),
            columns_text(&removed)
        )?;
    }
    for k in kept {
        writeln!(
            out,
            "left {} alone: moat did not make it (drop it yourself if you mean to)",
            SafeText::new(&k)
        )?;
    }
    store.close().await;
    Ok(())
}

/// `moat search-index list`: every search index moat would use, with its columns.
pub async fn list(config: &Config, out: &mut impl Write) -> Result<(), CommandError> {
    let store: Store = open_admin_store(config).await?;
    let schema = store.introspect().await?;
    let indexes = store.search_indexes(&schema).await?;
    if indexes.is_empty() {
        writeln!(out, "no search indexes")?;
    }
    for i in indexes {
        writeln!(
            out,
            "{}  {}  {}",
            SafeText::new(&i.model),
            columns_text(&i.columns),
            SafeText::new(&i.kind.describe())
        )?;
    }
    store.close().await;
    Ok(())
}
