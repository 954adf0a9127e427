//! Opening a database that must already be moat's: the CLI's commands other than `serve`
//! and `migrate` never create one (run from the wrong directory, they would otherwise
//! make an empty `moat.db` and report on it as if it were the real one).

use super::sql::{self, Dialect};
use super::{sqlite_creating, sqlite_file, Store, StoreError};

impl Store {
    /// Open the database at `url` if it exists and holds moat's tables; `None` if not.
    /// Nothing is created: a SQLite file that is not there is not made.
    pub async fn connect_existing(url: &str) -> Result<Option<Store>, StoreError> {
        if Dialect::of_url(url) == Some(Dialect::Sqlite) {
            match sqlite_file(&sqlite_creating(url)) {
                Some(path) if !path.exists() => return Ok(None),
                _ => {}
            }
        }
        let store = Store::connect(url).await?;
        if !store.initialized().await? {
            store.close().await;
            return Ok(None);
        }
        Ok(Some(store))
    }

    /// Whether moat's tables are in this database (`moat migrate` or `moat serve` made
    /// them). A database the server refuses to answer is an error, not a "no".
    pub async fn initialized(&self) -> Result<bool, StoreError> {
        match sql::query(self.dialect, "SELECT 1 FROM moat_users WHERE 1 = 0")
            .fetch_optional(&self.pool)
            .await
        {
            Ok(_) => Ok(true),
            // The server's own refusal: the table is not there.
            Err(sqlx::Error::Database(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_database_without_moats_tables_is_not_initialized() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        assert!(!store.initialized().await.unwrap());
        store.migrate().await.unwrap();
        assert!(store.initialized().await.unwrap());
    }

    #[tokio::test]
    async fn a_missing_sqlite_file_is_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("moat.db");
        let url = format!("sqlite://{}", db.display());
        assert!(Store::connect_existing(&url).await.unwrap().is_none());
        assert!(!db.exists(), "nothing created");
        let store = Store::connect(&url).await.unwrap();
        assert!(
            Store::connect_existing(&url).await.unwrap().is_none(),
            "a file without moat's tables is not moat's database"
        );
        store.migrate().await.unwrap();
        store.close().await;
        assert!(Store::connect_existing(&url).await.unwrap().is_some());
    }
}
