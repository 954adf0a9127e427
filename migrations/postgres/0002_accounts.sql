-- Accounts and session safety; see migrations/sqlite/0002_accounts.sql for the why.

ALTER TABLE moat_totp_devices ADD COLUMN sealed BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE moat_meta (
    name  TEXT  PRIMARY KEY,
    value BYTEA NOT NULL
);

ALTER TABLE moat_sessions ADD COLUMN username TEXT NOT NULL DEFAULT '';
ALTER TABLE moat_sessions ADD COLUMN seen_at BIGINT NULL;
ALTER TABLE moat_sessions ADD COLUMN end_reason TEXT NULL;
CREATE INDEX moat_sessions_live ON moat_sessions(ended_at, end_requested);
ALTER TABLE moat_users ADD COLUMN sessions_valid_after BIGINT NULL;
CREATE INDEX moat_sessions_user ON moat_sessions(user_id);
