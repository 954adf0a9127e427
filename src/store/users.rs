//! moat's accounts: users and their TOTP devices.

use sqlx::Row;

use super::{Store, StoreError};

/// A user to create. `totp_secret` enrols (and confirms) a TOTP device at once.
#[derive(Clone, Debug)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub password_hash: &'a str,
    pub is_superuser: bool,
    pub totp_secret: Option<&'a [u8]>,
    pub must_change_password: bool,
    pub now: i64,
}

/// What a login needs to know about a user.
#[derive(Clone, Debug)]
pub struct LoginUser {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub is_active: bool,
    pub is_superuser: bool,
    pub totp: Option<TotpDevice>,
}

/// A user's TOTP device.
#[derive(Clone, Debug)]
pub struct TotpDevice {
    pub secret: Vec<u8>,
    pub confirmed: bool,
    /// Time step of the last accepted code (replay rule).
    pub last_step: Option<i64>,
}

impl Store {
    /// Number of accounts.
    pub async fn user_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM moat_users")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Create a user (and its TOTP device) in one transaction; returns its id.
    pub async fn create_user(&self, u: &NewUser<'_>) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO moat_users (username, password_hash, is_superuser, must_change_password, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(u.username)
        .bind(u.password_hash)
        .bind(u.is_superuser)
        .bind(u.must_change_password)
        .bind(u.now)
        .bind(u.now)
        .execute(&mut *tx)
        .await;
        let id = match inserted {
            Ok(r) => r.last_insert_rowid(),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(StoreError::Conflict(format!(
                    "user `{}` already exists",
                    u.username
                )))
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(secret) = u.totp_secret {
            sqlx::query(
                "INSERT INTO moat_totp_devices (user_id, secret, confirmed, created_at) VALUES (?, ?, 1, ?)",
            )
            .bind(id)
            .bind(secret)
            .bind(u.now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// The login view of `username`, if it exists.
    pub async fn login_user(&self, username: &str) -> Result<Option<LoginUser>, StoreError> {
        let row = sqlx::query(
            "SELECT u.id, u.username, u.password_hash, u.is_active, u.is_superuser, \
                    t.secret, t.confirmed, t.last_step \
             FROM moat_users u LEFT JOIN moat_totp_devices t ON t.user_id = u.id \
             WHERE u.username = ?",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let secret: Option<Vec<u8>> = r.try_get("secret")?;
        let totp = match secret {
            Some(secret) => Some(TotpDevice {
                secret,
                confirmed: r.try_get("confirmed")?,
                last_step: r.try_get("last_step")?,
            }),
            None => None,
        };
        Ok(Some(LoginUser {
            id: r.try_get("id")?,
            username: r.try_get("username")?,
            password_hash: r.try_get("password_hash")?,
            is_active: r.try_get("is_active")?,
            is_superuser: r.try_get("is_superuser")?,
            totp,
        }))
    }

    /// Record `step` as the user's last accepted TOTP step, only if it is later than the
    /// stored one. Returns false for a replay. Atomic: two sessions racing with the same
    /// code cannot both succeed.
    pub async fn accept_totp_step(&self, user_id: i64, step: i64) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE moat_totp_devices SET last_step = ? \
             WHERE user_id = ? AND (last_step IS NULL OR last_step < ?)",
        )
        .bind(step)
        .bind(user_id)
        .bind(step)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }
}

impl Store {
    /// The id of `username`, if the user exists.
    pub async fn user_id(&self, username: &str) -> Result<Option<i64>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT id FROM moat_users WHERE username = ?")
                .bind(username)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Replace the user's backup codes by `hashes`, recording `audit` in the same
    /// transaction.
    pub async fn replace_backup_codes(
        &self,
        user_id: i64,
        hashes: &[String],
        audit: &super::AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("DELETE FROM moat_backup_codes WHERE user_id = ?")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        for hash in hashes {
            sqlx::query("INSERT INTO moat_backup_codes (user_id, code_hash) VALUES (?, ?)")
                .bind(user_id)
                .bind(hash)
                .execute(&mut *tx)
                .await?;
        }
        super::audit::append(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Spend the unused backup code with `hash`: returns how many remain unused, or `None`
    /// when no such unused code exists. Atomic: a code cannot be spent twice.
    pub async fn use_backup_code(
        &self,
        user_id: i64,
        hash: &str,
        now: i64,
    ) -> Result<Option<u32>, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let used = sqlx::query(
            "UPDATE moat_backup_codes SET used_at = ?              WHERE user_id = ? AND code_hash = ? AND used_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .bind(hash)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let left: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM moat_backup_codes WHERE user_id = ? AND used_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((used == 1).then(|| u32::try_from(left).unwrap_or(0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::memory_store;

    #[tokio::test]
    async fn create_find_and_replay_rule() {
        let store = memory_store().await;
        let secret = [7u8; 20];
        let id = store
            .create_user(&NewUser {
                username: "alice",
                password_hash: "$argon2id$x",
                is_superuser: true,
                totp_secret: Some(&secret),
                must_change_password: false,
                now: 100,
            })
            .await
            .unwrap();
        let u = store.login_user("alice").await.unwrap().unwrap();
        assert_eq!(u.id, id);
        assert!(u.is_superuser && u.is_active);
        let t = u.totp.unwrap();
        assert_eq!(t.secret, secret);
        assert_eq!(t.last_step, None);
        assert!(store.login_user("bob").await.unwrap().is_none());

        assert!(store.accept_totp_step(id, 10).await.unwrap());
        assert!(
            !store.accept_totp_step(id, 10).await.unwrap(),
            "same step is a replay"
        );
        assert!(
            !store.accept_totp_step(id, 9).await.unwrap(),
            "earlier step is a replay"
        );
        assert!(store.accept_totp_step(id, 11).await.unwrap());

        let dup = store
            .create_user(&NewUser {
                username: "alice",
                password_hash: "h",
                is_superuser: false,
                totp_secret: None,
                must_change_password: false,
                now: 1,
            })
            .await
            .unwrap_err();
        assert!(dup.to_string().contains("already exists"));
        assert_eq!(store.user_count().await.unwrap(), 1);
    }

    #[tokio::test]
    async fn backup_codes_are_spent_once() {
        let store = memory_store().await;
        let id = store
            .create_user(&NewUser {
                username: "alice",
                password_hash: "h",
                is_superuser: false,
                totp_secret: None,
                must_change_password: false,
                now: 0,
            })
            .await
            .unwrap();
        assert_eq!(store.user_id("alice").await.unwrap(), Some(id));
        let hashes: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let audit = crate::store::AuditEntry {
            action: "backup_codes".into(),
            outcome: "generated".into(),
            ..Default::default()
        };
        store
            .replace_backup_codes(id, &hashes, &audit)
            .await
            .unwrap();
        assert_eq!(store.use_backup_code(id, "b", 1).await.unwrap(), Some(2));
        assert_eq!(
            store.use_backup_code(id, "b", 2).await.unwrap(),
            None,
            "spent"
        );
        assert_eq!(store.use_backup_code(id, "zz", 2).await.unwrap(), None);
        // Regenerating replaces every old code.
        store
            .replace_backup_codes(id, &hashes[..1], &audit)
            .await
            .unwrap();
        assert_eq!(store.use_backup_code(id, "c", 3).await.unwrap(), None);
        assert_eq!(store.use_backup_code(id, "a", 3).await.unwrap(), Some(0));
    }
}
