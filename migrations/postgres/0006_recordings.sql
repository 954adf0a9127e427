-- See migrations/sqlite/0006_recordings.sql.
CREATE TABLE moat_recordings (
    session_id  TEXT    PRIMARY KEY,
    user_id     BIGINT  NOT NULL,
    username    TEXT    NOT NULL,
    source_ip   TEXT    NOT NULL,
    file        TEXT    NOT NULL,
    started_ms  BIGINT  NOT NULL,
    width       BIGINT  NOT NULL,
    height      BIGINT  NOT NULL,
    input       BOOLEAN NOT NULL DEFAULT FALSE,
    ended_ms    BIGINT  NULL,
    size        BIGINT  NULL,
    sha256      TEXT    NULL,
    removed_ms  BIGINT  NULL
);
CREATE INDEX moat_recordings_ended ON moat_recordings(ended_ms);
CREATE INDEX moat_audit_log_session ON moat_audit_log(session_id);
