-- moat's own tables on MySQL and MariaDB, in the database of `database_url` beside the
-- tables the console shows (every name starts with `moat_`, which introspection leaves
-- out). Names, columns and meanings are those of migrations/sqlite (one file here for
-- its 0001-0007), so one body of SQL serves every database:
-- - text is VARCHAR where sqlx's Any driver must read it as text (it reads MySQL's TEXT
--   types as blobs), with the binary collation utf8mb4_bin: usernames, codenames and
--   keys compare byte for byte, as on SQLite and PostgreSQL; the long free texts of the
--   audit log are LONGTEXT and read through `sql::text`;
-- - flags are SMALLINT 0/1 (queries write TRUE and FALSE; the Any driver reads no TINYINT);
-- - times are unix seconds (or ms) in BIGINT, ids are BIGINT AUTO_INCREMENT;
-- - BLOB for bytes (a VARBINARY would arrive as a string).
-- Key lengths: InnoDB keys are at most 3072 bytes, 4 bytes a character in utf8mb4.

CREATE TABLE moat_users (
    id                      BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    username                VARCHAR(255) NOT NULL UNIQUE,
    password_hash           VARCHAR(255) NOT NULL,
    is_superuser            SMALLINT     NOT NULL DEFAULT 0,
    is_active               SMALLINT     NOT NULL DEFAULT 1,
    must_change_password    SMALLINT     NOT NULL DEFAULT 0,
    password_expires_at     BIGINT       NULL,
    created_at              BIGINT       NOT NULL,
    updated_at              BIGINT       NOT NULL,
    sessions_valid_after    BIGINT       NULL,
    sessions_valid_after_ms BIGINT       NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE moat_totp_devices (
    user_id    BIGINT   NOT NULL PRIMARY KEY,
    secret     BLOB     NOT NULL,
    confirmed  SMALLINT NOT NULL DEFAULT 0,
    last_step  BIGINT   NULL,
    created_at BIGINT   NOT NULL,
    sealed     SMALLINT NOT NULL DEFAULT 0,
    FOREIGN KEY (user_id) REFERENCES moat_users(id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE moat_backup_codes (
    id        BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id   BIGINT       NOT NULL,
    code_hash VARCHAR(255) NOT NULL,
    used_at   BIGINT       NULL,
    FOREIGN KEY (user_id) REFERENCES moat_users(id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE moat_groups (
    id         BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name       VARCHAR(255) NOT NULL UNIQUE,
    created_at BIGINT       NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE moat_user_groups (
    user_id  BIGINT NOT NULL,
    group_id BIGINT NOT NULL,
    PRIMARY KEY (user_id, group_id),
    INDEX moat_user_groups_group (group_id),
    FOREIGN KEY (user_id) REFERENCES moat_users(id) ON DELETE CASCADE,
    FOREIGN KEY (group_id) REFERENCES moat_groups(id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE moat_user_perms (
    user_id  BIGINT       NOT NULL,
    codename VARCHAR(255) NOT NULL,
    PRIMARY KEY (user_id, codename),
    FOREIGN KEY (user_id) REFERENCES moat_users(id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE moat_group_perms (
    group_id BIGINT       NOT NULL,
    codename VARCHAR(255) NOT NULL,
    PRIMARY KEY (group_id, codename),
    FOREIGN KEY (group_id) REFERENCES moat_groups(id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- (100 + 128 + 500) characters of key: under 3072 bytes.
CREATE TABLE moat_user_object_perms (
    user_id  BIGINT       NOT NULL,
    codename VARCHAR(100) NOT NULL,
    model    VARCHAR(128) NOT NULL,
    pk       VARCHAR(500) NOT NULL,
    PRIMARY KEY (user_id, codename, model, pk),
    INDEX moat_user_object_perms_row (model, pk),
    FOREIGN KEY (user_id) REFERENCES moat_users(id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE moat_group_object_perms (
    group_id BIGINT       NOT NULL,
    codename VARCHAR(100) NOT NULL,
    model    VARCHAR(128) NOT NULL,
    pk       VARCHAR(500) NOT NULL,
    PRIMARY KEY (group_id, codename, model, pk),
    INDEX moat_group_object_perms_row (model, pk),
    FOREIGN KEY (group_id) REFERENCES moat_groups(id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- A username tried at login can be any text: 700 characters are kept, with the address
-- (64) under 3072 bytes.
CREATE TABLE moat_auth_failures (
    username         VARCHAR(700) NOT NULL,
    ip               VARCHAR(64)  NOT NULL,
    failures         BIGINT       NOT NULL DEFAULT 0,
    tier             BIGINT       NOT NULL DEFAULT 0,
    first_failure_at BIGINT       NOT NULL,
    last_failure_at  BIGINT       NOT NULL,
    locked_until     BIGINT       NULL,
    PRIMARY KEY (username, ip),
    INDEX moat_auth_failures_ip (ip),
    CHECK (username <> '' OR ip <> '')
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE moat_sessions (
    id            VARCHAR(64)   NOT NULL PRIMARY KEY,
    user_id       BIGINT        NOT NULL,
    source_ip     VARCHAR(64)   NOT NULL,
    started_at    BIGINT        NOT NULL,
    last_input_at BIGINT        NOT NULL,
    ended_at      BIGINT        NULL,
    end_requested SMALLINT      NOT NULL DEFAULT 0,
    username      VARCHAR(255)  NOT NULL DEFAULT '',
    seen_at       BIGINT        NULL,
    end_reason    VARCHAR(1000) NULL,
    started_ms    BIGINT        NULL,
    key_id        BIGINT        NULL,
    INDEX moat_sessions_live (ended_at, end_requested),
    INDEX moat_sessions_user (user_id),
    FOREIGN KEY (user_id) REFERENCES moat_users(id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- The audit chain. Appends are serialized across instances by the write lock every
-- moat write transaction takes (moat_write_lock below, see store::Store::begin_write).
CREATE TABLE moat_audit_log (
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    at_ms       BIGINT       NOT NULL,
    actor       VARCHAR(255) NULL,
    source_ip   VARCHAR(64)  NULL,
    session_id  VARCHAR(64)  NULL,
    action      VARCHAR(64)  NOT NULL,
    model       VARCHAR(255) NULL,
    pk          LONGTEXT     NULL,
    before_json LONGTEXT     NULL,
    after_json  LONGTEXT     NULL,
    outcome     VARCHAR(32)  NOT NULL,
    reason      LONGTEXT     NULL,
    prev_hash   VARCHAR(128) NOT NULL,
    hash        VARCHAR(128) NOT NULL,
    mac         VARCHAR(128) NULL,
    INDEX moat_audit_log_row (model, pk(255)),
    INDEX moat_audit_log_session (session_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE moat_meta (
    name  VARCHAR(191) NOT NULL PRIMARY KEY,
    value BLOB         NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE moat_login_sources (
    username        VARCHAR(700) NOT NULL,
    ip              VARCHAR(64)  NOT NULL,
    last_success_at BIGINT       NOT NULL,
    PRIMARY KEY (username, ip)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE moat_recordings (
    session_id VARCHAR(64)   NOT NULL PRIMARY KEY,
    user_id    BIGINT        NOT NULL,
    username   VARCHAR(255)  NOT NULL,
    source_ip  VARCHAR(64)   NOT NULL,
    file       VARCHAR(4000) NOT NULL,
    started_ms BIGINT        NOT NULL,
    width      BIGINT        NOT NULL,
    height     BIGINT        NOT NULL,
    input      SMALLINT      NOT NULL DEFAULT 0,
    ended_ms   BIGINT        NULL,
    size       BIGINT        NULL,
    sha256     VARCHAR(64)   NULL,
    removed_ms BIGINT        NULL,
    INDEX moat_recordings_ended (ended_ms)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE moat_user_keys (
    id           BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id      BIGINT        NOT NULL,
    algorithm    VARCHAR(64)   NOT NULL,
    public_key   VARCHAR(8000) NOT NULL,
    fingerprint  VARCHAR(128)  NOT NULL UNIQUE,
    comment      VARCHAR(1000) NOT NULL DEFAULT '',
    created_at   BIGINT        NOT NULL,
    last_used_at BIGINT        NULL,
    INDEX moat_user_keys_user (user_id),
    FOREIGN KEY (user_id) REFERENCES moat_users(id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- The write lock: one row every moat write transaction locks first (SELECT … FOR UPDATE),
-- held until it commits or rolls back, by every instance sharing the database.
CREATE TABLE moat_write_lock (
    id SMALLINT NOT NULL PRIMARY KEY
) ENGINE = InnoDB;
INSERT INTO moat_write_lock (id) VALUES (1);
