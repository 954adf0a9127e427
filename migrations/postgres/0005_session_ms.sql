-- See migrations/sqlite/0005_session_ms.sql.
ALTER TABLE moat_sessions ADD COLUMN started_ms BIGINT NULL;
ALTER TABLE moat_users ADD COLUMN sessions_valid_after_ms BIGINT NULL;
