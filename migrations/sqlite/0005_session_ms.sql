-- Sessions now start at authentication, so a login made in the same second as a 2FA reset
-- or a disable (with the new one-time password, say) must not be taken for one from
-- before it: the start and the invalidation are also kept in milliseconds.
ALTER TABLE moat_sessions ADD COLUMN started_ms INTEGER NULL;
ALTER TABLE moat_users ADD COLUMN sessions_valid_after_ms INTEGER NULL;
