//! moat's accounts: users, their TOTP devices (secrets sealed, see [`crate::seal`])
//! and the key check that ties the secret key to this database.

use sqlx::Row;

use super::audit::append;
use super::{sql, AuditEntry, Store, StoreError};
use crate::seal::Sealer;

/// Associated data of a sealed TOTP secret: the secret opens only on its own user's row.
fn totp_aad(user_id: i64) -> Vec<u8> {
    format!("moat_totp_devices {user_id}").into_bytes()
}

/// The known value sealed under `moat_meta.key_check`.
const KEY_CHECK: &[u8] = b"moat secret key check";
const KEY_CHECK_AAD: &[u8] = b"moat_meta key_check";

/// How a secret key relates to this database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyCheck {
    /// Nothing is sealed yet: any key may be adopted.
    Fresh,
    /// The key opens this database's key check.
    Matches,
    /// The database was set up with another key.
    WrongKey,
}

/// A user to create. `totp_secret` enrols (and confirms) a TOTP device at once.
#[derive(Clone, Debug)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub password_hash: &'a str,
    pub is_superuser: bool,
    pub totp_secret: Option<&'a [u8]>,
    pub must_change_password: bool,
    /// When the password stops working (one-time passwords), unix seconds.
    pub password_expires_at: Option<i64>,
    pub now: i64,
}

/// What a login needs to know about a user.
/// `Debug` leaves the password hash out.
#[derive(Clone)]
pub struct LoginUser {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub is_active: bool,
    pub is_superuser: bool,
    /// A one-time password: the user must enrol TOTP (if not yet) and choose a password.
    pub must_change_password: bool,
    pub password_expires_at: Option<i64>,
    pub totp: Option<TotpDevice>,
}

/// A user's TOTP device.
/// `Debug` leaves the secret out.
#[derive(Clone)]
pub struct TotpDevice {
    pub secret: Vec<u8>,
    pub confirmed: bool,
    /// Time step of the last accepted code (replay rule).
    pub last_step: Option<i64>,
}

impl std::fmt::Debug for LoginUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginUser")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("is_active", &self.is_active)
            .field("is_superuser", &self.is_superuser)
            .field("must_change_password", &self.must_change_password)
            .field("totp", &self.totp)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for TotpDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpDevice")
            .field("confirmed", &self.confirmed)
            .field("last_step", &self.last_step)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Number of accounts.
    pub async fn user_count(&self) -> Result<i64, StoreError> {
        Ok(
            sql::query_scalar(self.dialect, "SELECT COUNT(*) FROM moat_users")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Create a user (and its TOTP device) in one transaction; returns its id.
    pub async fn create_user(&self, u: &NewUser<'_>) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let id = self.insert_user(&mut tx, u).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// [`Store::create_user`] with its audit row, in the same transaction.
    pub async fn create_user_audited(
        &self,
        u: &NewUser<'_>,
        audit: &AuditEntry,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin_write().await?;
        let id = self.insert_user(&mut tx, u).await?;
        append(&mut tx, self.audit_key(), audit).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn insert_user(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        u: &NewUser<'_>,
    ) -> Result<i64, StoreError> {
        let inserted: Result<i64, _> = sql::query_scalar(
            self.dialect,
            "INSERT INTO moat_users (username, password_hash, is_superuser, must_change_password, \
                                     password_expires_at, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(u.username)
        .bind(u.password_hash)
        .bind(u.is_superuser)
        .bind(u.must_change_password)
        .bind(u.password_expires_at)
        .bind(u.now)
        .bind(u.now)
        .fetch_one(&mut **tx)
        .await;
        let id = match inserted {
            Ok(id) => id,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(StoreError::Conflict(format!(
                    "user `{}` already exists",
                    u.username
                )))
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(secret) = u.totp_secret {
            let sealed = self.sealer()?.seal(secret, &totp_aad(id));
            sql::query(
                self.dialect,
                "INSERT INTO moat_totp_devices (user_id, secret, sealed, confirmed, created_at) \
                 VALUES (?, ?, TRUE, TRUE, ?)",
            )
            .bind(id)
            .bind(sealed)
            .bind(u.now)
            .execute(&mut **tx)
            .await?;
        }
        Ok(id)
    }

    /// The login view of `username`, if it exists.
    pub async fn login_user(&self, username: &str) -> Result<Option<LoginUser>, StoreError> {
        let _timer = crate::metrics::global().query(crate::metrics::Query::Login);
        let row = sql::query(
            self.dialect,
            "SELECT u.id, u.username, u.password_hash, u.is_active = TRUE AS is_active, \
                    u.is_superuser = TRUE AS is_superuser, \
                    u.must_change_password = TRUE AS must_change_password, \
                    u.password_expires_at, t.secret, t.sealed = TRUE AS sealed, \
                    t.confirmed = TRUE AS confirmed, t.last_step \
             FROM moat_users u LEFT JOIN moat_totp_devices t ON t.user_id = u.id \
             WHERE u.username = ?",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let id: i64 = r.try_get("id")?;
        let secret: Option<Vec<u8>> = r.try_get("secret")?;
        let totp = match secret {
            Some(secret) => Some(TotpDevice {
                secret: self.open_secret(id, &secret, sql::flag(&r, "sealed")?)?,
                confirmed: sql::flag(&r, "confirmed")?,
                last_step: r.try_get("last_step")?,
            }),
            None => None,
        };
        Ok(Some(LoginUser {
            id,
            username: r.try_get("username")?,
            password_hash: r.try_get("password_hash")?,
            is_active: sql::flag(&r, "is_active")?,
            is_superuser: sql::flag(&r, "is_superuser")?,
            must_change_password: sql::flag(&r, "must_change_password")?,
            password_expires_at: r.try_get("password_expires_at")?,
            totp,
        }))
    }

    fn open_secret(
        &self,
        user_id: i64,
        stored: &[u8],
        sealed: bool,
    ) -> Result<Vec<u8>, StoreError> {
        if !sealed {
            // Written before secrets were sealed; `adopt_key` seals it at the next start.
            return Ok(stored.to_vec());
        }
        self.sealer()?
            .open(stored, &totp_aad(user_id))
            .map_err(|_| {
                StoreError::Sealed(format!(
                    "the TOTP secret of user #{user_id} does not open with the loaded secret key"
                ))
            })
    }

    /// Whether `sealer` is this database's key.
    pub async fn check_key(&self, sealer: &Sealer) -> Result<KeyCheck, StoreError> {
        let check: Option<Vec<u8>> = sql::query_scalar(
            self.dialect,
            "SELECT value FROM moat_meta WHERE name = 'key_check'",
        )
        .fetch_optional(&self.pool)
        .await?;
        if let Some(c) = check {
            return Ok(match sealer.open(&c, KEY_CHECK_AAD) {
                Ok(_) => KeyCheck::Matches,
                Err(_) => KeyCheck::WrongKey,
            });
        }
        // No key check (it should be there whenever something is sealed): judge by a
        // sealed secret, if any.
        let sealed: Option<(i64, Vec<u8>)> = sql::query_as(
            self.dialect,
            "SELECT user_id, secret FROM moat_totp_devices WHERE sealed = TRUE LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(match sealed {
            Some((user_id, secret)) if sealer.open(&secret, &totp_aad(user_id)).is_ok() => {
                KeyCheck::Matches
            }
            Some(_) => KeyCheck::WrongKey,
            None => KeyCheck::Fresh,
        })
    }

    /// Whether anything in the database was sealed with a secret key (so a missing key
    /// file is an error, not a first start).
    pub async fn holds_sealed_secrets(&self) -> Result<bool, StoreError> {
        let n: i64 = sql::query_scalar(
            self.dialect,
            "SELECT (SELECT COUNT(*) FROM moat_meta WHERE name = 'key_check') \
                  + (SELECT COUNT(*) FROM moat_totp_devices WHERE sealed = TRUE)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// Record `sealer` as this database's key (the key check) and seal every TOTP secret
    /// still stored in plaintext. Returns how many were sealed. Call after
    /// [`Store::check_key`] said `Fresh` or `Matches`.
    pub async fn adopt_key(&self, sealer: &Sealer) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        sql::query(
            self.dialect,
            "INSERT INTO moat_meta (name, value) VALUES ('key_check', ?) ON CONFLICT DO NOTHING",
        )
        .bind(sealer.seal(KEY_CHECK, KEY_CHECK_AAD))
        .execute(&mut *tx)
        .await?;
        // Another process may have adopted its own key between our check and now.
        let check: Vec<u8> = sql::query_scalar(
            self.dialect,
            "SELECT value FROM moat_meta WHERE name = 'key_check'",
        )
        .fetch_one(&mut *tx)
        .await?;
        if sealer.open(&check, KEY_CHECK_AAD).is_err() {
            return Err(StoreError::Sealed(
                "another secret key was set up for this database at the same time".into(),
            ));
        }
        let plain: Vec<(i64, Vec<u8>)> = sql::query_as(
            self.dialect,
            "SELECT user_id, secret FROM moat_totp_devices WHERE sealed = FALSE",
        )
        .fetch_all(&mut *tx)
        .await?;
        for (user_id, secret) in &plain {
            sql::query(
                self.dialect,
                "UPDATE moat_totp_devices SET secret = ?, sealed = TRUE WHERE user_id = ?",
            )
            .bind(sealer.seal(secret, &totp_aad(*user_id)))
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(plain.len() as u64)
    }

    /// Enrol `secret` as the user's confirmed TOTP device, with `step` as the last
    /// accepted step (the confirming code cannot be replayed), recording `audit` in the
    /// same transaction. Only while the user is being set up (one-time password, no
    /// confirmed device): a second session on the same one-time password cannot replace
    /// a device already enrolled.
    pub async fn confirm_totp(
        &self,
        user_id: i64,
        secret: &[u8],
        step: i64,
        now: i64,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let sealed = self.sealer()?.seal(secret, &totp_aad(user_id));
        let mut tx = self.begin_write().await?;
        let in_setup = sql::query(
            self.dialect,
            "SELECT must_change_password = TRUE AS m FROM moat_users WHERE id = ?",
        )
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| sql::flag(&r, "m"))
        .transpose()?;
        let inserted = if self.dialect == super::Dialect::Mysql {
            // MySQL's upsert has no WHERE: the same under the write lock, in two steps.
            let confirmed = sql::query(
                self.dialect,
                "SELECT confirmed = TRUE AS c FROM moat_totp_devices WHERE user_id = ?",
            )
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| sql::flag(&r, "c"))
            .transpose()?;
            let q = match confirmed {
                Some(true) => None,
                Some(false) => Some(
                    "UPDATE moat_totp_devices SET secret = ?, sealed = TRUE, confirmed = TRUE, \
                     last_step = ?, created_at = ? WHERE user_id = ?",
                ),
                None => Some(
                    "INSERT INTO moat_totp_devices \
                       (secret, sealed, confirmed, last_step, created_at, user_id) \
                     VALUES (?, TRUE, TRUE, ?, ?, ?)",
                ),
            };
            match q {
                None => 0,
                Some(q) => sql::query(self.dialect, q)
                    .bind(sealed)
                    .bind(step)
                    .bind(now)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected(),
            }
        } else {
            sql::query(self.dialect,
                "INSERT INTO moat_totp_devices (user_id, secret, sealed, confirmed, last_step, created_at) \
                 VALUES (?, ?, TRUE, TRUE, ?, ?) \
                 ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, sealed = TRUE, \
                     confirmed = TRUE, last_step = excluded.last_step, created_at = excluded.created_at \
                 WHERE moat_totp_devices.confirmed = FALSE",
            )
            .bind(user_id)
            .bind(sealed)
            .bind(step)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        };
        if in_setup != Some(true) || inserted != 1 {
            return Err(StoreError::Conflict(
                "two-factor authentication is already set up for this account: log in again".into(),
            ));
        }
        super::audit::append(&mut tx, self.audit_key(), audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replace the user's password hash and clear the one-time marks; every other live
    /// session of the user (all but `keep_session`) is asked to end. With
    /// `only_if_one_time`, only while the one-time password is still pending and unexpired
    /// at `now` (the forced change after enrolment: a second session on the same one-time
    /// password cannot change it again). Recorded with `audit`.
    pub async fn set_password(
        &self,
        user_id: i64,
        phc: &str,
        only_if_one_time: bool,
        keep_session: &str,
        now: i64,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let changed = sql::query(
            self.dialect,
            "UPDATE moat_users SET password_hash = ?, must_change_password = FALSE, \
                 password_expires_at = NULL, updated_at = ? \
             WHERE id = ? AND (? = FALSE OR (must_change_password = TRUE \
                 AND (password_expires_at IS NULL OR password_expires_at > ?)))",
        )
        .bind(phc)
        .bind(now)
        .bind(user_id)
        .bind(only_if_one_time)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed != 1 {
            return Err(StoreError::Conflict(
                "this one-time password is no longer valid: log in again".into(),
            ));
        }
        sql::query(
            self.dialect,
            "UPDATE moat_sessions SET end_requested = TRUE, end_reason = 'password changed' \
             WHERE user_id = ? AND id <> ? AND ended_at IS NULL AND end_requested = FALSE",
        )
        .bind(user_id)
        .bind(keep_session)
        .execute(&mut *tx)
        .await?;
        super::audit::append(&mut tx, self.audit_key(), audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Reset the user's second factor: the TOTP device and backup codes go, `phc` (a
    /// one-time password expiring at `expires_at`) replaces the password, and every live
    /// session of the user is asked to end. One transaction with `audit`.
    pub async fn reset_second_factor(
        &self,
        user_id: i64,
        phc: &str,
        expires_at: i64,
        now: i64,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sql::query(
            self.dialect,
            "DELETE FROM moat_totp_devices WHERE user_id = ?",
        )
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        sql::query(
            self.dialect,
            "DELETE FROM moat_backup_codes WHERE user_id = ?",
        )
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        sql::query(
            self.dialect,
            "UPDATE moat_users SET password_hash = ?, must_change_password = TRUE, \
                 password_expires_at = ?, updated_at = ? WHERE id = ?",
        )
        .bind(phc)
        .bind(expires_at)
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        let now_ms = audit.at_ms.max(now.saturating_mul(1000));
        super::sessions::request_user_end(&mut tx, user_id, "second factor reset", now_ms).await?;
        super::audit::append(&mut tx, self.audit_key(), audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Record `step` as the user's last accepted TOTP step, only if it is later than the
    /// stored one. Returns false for a replay. Atomic: two sessions racing with the same
    /// code cannot both succeed.
    pub async fn accept_totp_step(&self, user_id: i64, step: i64) -> Result<bool, StoreError> {
        let r = sql::query(
            self.dialect,
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
            sql::query_scalar(self.dialect, "SELECT id FROM moat_users WHERE username = ?")
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
        let mut tx = self.begin_write().await?;
        sql::query(
            self.dialect,
            "DELETE FROM moat_backup_codes WHERE user_id = ?",
        )
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        for hash in hashes {
            sql::query(
                self.dialect,
                "INSERT INTO moat_backup_codes (user_id, code_hash) VALUES (?, ?)",
            )
            .bind(user_id)
            .bind(hash)
            .execute(&mut *tx)
            .await?;
        }
        super::audit::append(&mut tx, self.audit_key(), audit).await?;
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
        let mut tx = self.begin_write().await?;
        let used = sql::query(self.dialect,
            "UPDATE moat_backup_codes SET used_at = ?              WHERE user_id = ? AND code_hash = ? AND used_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .bind(hash)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let left: i64 = sql::query_scalar(
            self.dialect,
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
    use crate::store::test_support::on_every_database;

    on_every_database! {
        async fn create_find_and_replay_rule(store: Store) {
            let secret = [7u8; 20];
            let id = store
                .create_user(&NewUser {
                    username: "alice",
                    password_hash: "$argon2id$x",
                    is_superuser: true,
                    totp_secret: Some(&secret),
                    must_change_password: false,
                    password_expires_at: None,
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
                    password_expires_at: None,
                    now: 1,
                })
                .await
                .unwrap_err();
            assert!(dup.to_string().contains("already exists"));
            assert_eq!(store.user_count().await.unwrap(), 1);
        }
    }

    #[tokio::test]
    async fn plaintext_secrets_are_sealed_on_adoption_and_the_key_is_checked() {
        use crate::seal::Sealer;
        let store = crate::store::Store::connect("sqlite::memory:")
            .await
            .unwrap();
        store.migrate().await.unwrap();
        sqlx::query(
            "INSERT INTO moat_users (id, username, password_hash, created_at, updated_at) \
             VALUES (1, 'old', 'h', 0, 0)",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        // A row from before secrets were sealed.
        sqlx::query(
            "INSERT INTO moat_totp_devices (user_id, secret, confirmed, created_at) \
             VALUES (1, X'0102030405', 1, 0)",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        let key = Sealer::random();
        assert_eq!(store.check_key(&key).await.unwrap(), KeyCheck::Fresh);
        assert!(!store.holds_sealed_secrets().await.unwrap());
        assert_eq!(store.adopt_key(&key).await.unwrap(), 1);
        assert_eq!(store.check_key(&key).await.unwrap(), KeyCheck::Matches);
        assert_eq!(
            store.check_key(&Sealer::random()).await.unwrap(),
            KeyCheck::WrongKey
        );
        let raw: Vec<u8> = sqlx::query_scalar("SELECT secret FROM moat_totp_devices")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_ne!(raw, vec![1, 2, 3, 4, 5]);
        // A second key adopted on the same database (a race lost) is refused.
        let late = Sealer::random();
        assert!(store.adopt_key(&late).await.is_err());
        let store = store.with_sealer(key);
        let u = store.login_user("old").await.unwrap().unwrap();
        assert_eq!(u.totp.as_ref().unwrap().secret, vec![1, 2, 3, 4, 5]);
        assert!(
            !format!("{u:?}").contains("[1, 2, 3, 4, 5]"),
            "Debug hides the secret"
        );
    }

    on_every_database! {
        async fn backup_codes_are_spent_once(store: Store) {
            let id = crate::store::test_support::plain_user(&store, "alice").await;
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
}
