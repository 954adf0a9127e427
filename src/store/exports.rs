//! What the exports a user gets back over SFTP need from the database: when the user
//! was created. Exports live in a directory named by the user's id, and SQLite hands a
//! deleted user's id to the next user created; a file older than its directory's
//! current owner is not theirs.

use super::{sql, Store, StoreError};

impl Store {
    /// When user `user_id` was created (unix seconds), if the user exists.
    pub async fn user_created_at(&self, user_id: i64) -> Result<Option<i64>, StoreError> {
        Ok(sql::query_scalar(
            self.dialect,
            "SELECT created_at FROM moat_users WHERE id = ?",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?)
    }
}
