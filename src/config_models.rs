//! `[models.*]` against the introspected schema: every model and column a rule names
//! must exist, and key columns can be neither hidden nor masked.

use std::collections::BTreeMap;

use super::{invalid, ConfigError, ModelConfig};

/// Check `[models.*]` rules against `schema`: every model and column named must exist, and
/// key columns can be neither hidden nor masked (see [`Config::validate_models`]).
pub fn validate_models(
    models: &BTreeMap<String, ModelConfig>,
    schema: &crate::domain::Schema,
) -> Result<(), ConfigError> {
    for (model, mc) in models {
        let Some(table) = schema.table(model) else {
            return Err(invalid(
                "models",
                format!("models.{model}: the database has no table `{model}`"),
            ));
        };
        if let Some(d) = &mc.display {
            if table.column(d).is_none() {
                return Err(invalid(
                    "models",
                    format!("models.{model}.display: `{model}` has no column `{d}`"),
                ));
            }
        }
        if let Some(o) = &mc.ordering {
            let column = o.strip_prefix('-').unwrap_or(o);
            if table.column(column).is_none() {
                return Err(invalid(
                    "models",
                    format!("models.{model}.ordering: `{model}` has no column `{column}`"),
                ));
            }
        }
        for action in &mc.bulk {
            if action.name.is_empty() || action.set.is_empty() {
                return Err(invalid(
                    "models",
                    format!("models.{model}.bulk: an action needs a name and columns to set"),
                ));
            }
            for (column, value) in &action.set {
                if table.column(column).is_none() {
                    return Err(invalid(
                        "models",
                        format!(
                            "models.{model}.bulk.{}: `{model}` has no column `{column}`",
                            action.name
                        ),
                    ));
                }
                if !matches!(
                    value,
                    toml::Value::String(_)
                        | toml::Value::Integer(_)
                        | toml::Value::Float(_)
                        | toml::Value::Boolean(_)
                ) {
                    return Err(invalid(
                        "models",
                        format!("models.{model}.bulk.{}: `{column}` must be a string, number or boolean", action.name),
                    ));
                }
            }
        }
        if mc.page_size.is_some_and(|n| !(10..=10_000).contains(&n)) {
            return Err(invalid(
                "models",
                format!("models.{model}.page_size: must be between 10 and 10000"),
            ));
        }
        for (rule, columns) in [
            ("hidden", &mc.hidden),
            ("masked", &mc.masked),
            ("read_only", &mc.read_only),
            ("search", &mc.search),
            ("list", &mc.list),
        ] {
            for c in columns {
                if table.column(c).is_none() {
                    return Err(invalid(
                        "models",
                        format!("models.{model}.{rule}: `{model}` has no column `{c}`"),
                    ));
                }
                // A key names its row everywhere (breadcrumb, status lines, delete
                // questions, audit rows): it can be neither hidden nor masked.
                if (rule == "hidden" || rule == "masked") && table.key_columns().contains(c) {
                    return Err(invalid(
                        "models",
                        format!(
                            "models.{model}.{rule}: `{c}` identifies rows (it names the row \
                             on every screen and in the audit trail), so it cannot be {rule}; \
                             give the table a surrogate key to {} it",
                            if rule == "hidden" { "hide" } else { "mask" }
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}
