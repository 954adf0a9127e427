//! What a user chose for themselves in the console: the columns of a model's list, in
//! order (the column chooser, `c` in a list). Names only; the session reads them through
//! the column rules every time, so a column the user may no longer see is never shown.

use super::{sql, Store, StoreError};

impl Store {
    /// The columns `user_id` chose for `model`'s list, in order; `None` when they did not
    /// choose (the model's default applies).
    pub async fn list_columns(
        &self,
        user_id: i64,
        model: &str,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let row = sql::query(
            self.dialect,
            "SELECT names FROM moat_list_columns WHERE user_id = ? AND model = ?",
        )
        .bind(user_id)
        .bind(model)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let json = sql::text(&row, "names")?.unwrap_or_default();
        Ok(serde_json::from_str(&json).ok())
    }

    /// Keep `columns` as `user_id`'s choice for `model`'s list; `None` forgets the choice
    /// (back to the model's default).
    pub async fn set_list_columns(
        &self,
        user_id: i64,
        model: &str,
        columns: Option<&[String]>,
    ) -> Result<(), StoreError> {
        let Some(columns) = columns else {
            sql::query(
                self.dialect,
                "DELETE FROM moat_list_columns WHERE user_id = ? AND model = ?",
            )
            .bind(user_id)
            .bind(model)
            .execute(&self.pool)
            .await?;
            return Ok(());
        };
        let json = serde_json::to_string(columns)
            .map_err(|e| StoreError::Conflict(format!("column list: {e}")))?;
        sql::query(
            self.dialect,
            "INSERT INTO moat_list_columns (user_id, model, names) VALUES (?, ?, ?) \
             ON CONFLICT (user_id, model) DO UPDATE SET names = excluded.names",
        )
        .bind(user_id)
        .bind(model)
        .bind(json)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
