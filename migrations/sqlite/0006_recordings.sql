-- Session recordings (asciicast files in recordings_dir): whose, where, and once the
-- session ended its size and SHA-256, which its `recording` audit entry also holds (the
-- entry, chained and MAC'd, is what `moat audit verify` trusts; this table is for
-- listing and lookups). No foreign key to moat_users: a recording outlives its user.
CREATE TABLE moat_recordings (
    session_id  TEXT    PRIMARY KEY,
    user_id     INTEGER NOT NULL,
    username    TEXT    NOT NULL,
    source_ip   TEXT    NOT NULL,
    file        TEXT    NOT NULL,
    started_ms  INTEGER NOT NULL,
    width       INTEGER NOT NULL,
    height      INTEGER NOT NULL,
    input       BOOLEAN NOT NULL DEFAULT 0,
    ended_ms    INTEGER NULL,
    size        INTEGER NULL,
    sha256      TEXT    NULL,
    removed_ms  INTEGER NULL
);
CREATE INDEX moat_recordings_ended ON moat_recordings(ended_ms);
-- A session's audit rows (the markers of its replay).
CREATE INDEX moat_audit_log_session ON moat_audit_log(session_id);
