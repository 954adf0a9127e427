-- Accounts and session safety (issue: first-login enrolment, sealed TOTP secrets, live
-- session control).

-- TOTP secrets are sealed (XChaCha20-Poly1305) with the key in keys_dir/secret.key.
-- Rows written before this migration hold plaintext (sealed = 0); `serve` seals them at
-- start.
ALTER TABLE moat_totp_devices ADD COLUMN sealed BOOLEAN NOT NULL DEFAULT 0;

-- Small facts about this database. `key_check` holds a known value sealed with the secret
-- key, so a wrong key is noticed at start instead of at someone's login.
CREATE TABLE moat_meta (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

-- Live sessions: seen_at is the owning instance's last heartbeat (a crashed instance's
-- sessions stop looking live); end_reason says why an end was requested.
ALTER TABLE moat_sessions ADD COLUMN username TEXT NOT NULL DEFAULT '';
ALTER TABLE moat_sessions ADD COLUMN seen_at INTEGER NULL;
ALTER TABLE moat_sessions ADD COLUMN end_reason TEXT NULL;
CREATE INDEX moat_sessions_live ON moat_sessions(ended_at, end_requested);
-- Sessions of the user that started at or before this time (unix seconds) must end: set
-- by a 2FA reset or a lockout of the user, so that a session whose row was not written
-- yet when the end was asked for still ends.
ALTER TABLE moat_users ADD COLUMN sessions_valid_after INTEGER NULL;
CREATE INDEX moat_sessions_user ON moat_sessions(user_id);
