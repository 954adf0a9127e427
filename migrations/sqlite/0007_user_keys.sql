-- Public keys as a login factor (issue 22). A key belongs to one user: its SHA-256
-- fingerprint (OpenSSH's `SHA256:…` text) is unique across users, and is what logins look
-- up. public_key is the OpenSSH text without its comment (`ssh-ed25519 AAAA…`).
CREATE TABLE moat_user_keys (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES moat_users(id) ON DELETE CASCADE,
    algorithm    TEXT    NOT NULL,
    public_key   TEXT    NOT NULL,
    fingerprint  TEXT    NOT NULL UNIQUE,
    comment      TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NULL
);
CREATE INDEX moat_user_keys_user ON moat_user_keys(user_id);

-- The registered key a session logged in with (NULL: none, or a certificate). Removing
-- the key ends the session on every instance: a session whose key row is gone is asked
-- to end (see store/sessions.rs), also when its row was written after the removal.
ALTER TABLE moat_sessions ADD COLUMN key_id INTEGER NULL;
