-- moat's own tables. Every name starts with `moat_` so schema introspection can leave
-- them out of the console. Times are unix seconds (INTEGER) unless noted.

-- Accounts. password_hash is an argon2id PHC string.
CREATE TABLE moat_users (
    id                   INTEGER PRIMARY KEY,
    username             TEXT    NOT NULL UNIQUE,
    password_hash        TEXT    NOT NULL,
    is_superuser         BOOLEAN NOT NULL DEFAULT 0,
    is_active            BOOLEAN NOT NULL DEFAULT 1,
    -- set for one-time passwords: the user must choose a new one at first login
    must_change_password BOOLEAN NOT NULL DEFAULT 0,
    password_expires_at  INTEGER NULL,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);

-- One TOTP device per user. last_step is the RFC 6238 time step of the last accepted
-- code: a code whose step is not later is a replay and is refused.
CREATE TABLE moat_totp_devices (
    user_id    INTEGER PRIMARY KEY REFERENCES moat_users(id) ON DELETE CASCADE,
    secret     BLOB    NOT NULL,
    confirmed  BOOLEAN NOT NULL DEFAULT 0,
    last_step  INTEGER NULL,
    created_at INTEGER NOT NULL
);

-- Single-use backup codes, stored hashed.
CREATE TABLE moat_backup_codes (
    id        INTEGER PRIMARY KEY,
    user_id   INTEGER NOT NULL REFERENCES moat_users(id) ON DELETE CASCADE,
    code_hash TEXT    NOT NULL,
    used_at   INTEGER NULL
);
CREATE INDEX moat_backup_codes_user ON moat_backup_codes(user_id);

CREATE TABLE moat_groups (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE moat_user_groups (
    user_id  INTEGER NOT NULL REFERENCES moat_users(id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL REFERENCES moat_groups(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX moat_user_groups_group ON moat_user_groups(group_id);

-- Model-level permissions: codename is view_/add_/change_/delete_ + model (or a custom one).
CREATE TABLE moat_user_perms (
    user_id  INTEGER NOT NULL REFERENCES moat_users(id) ON DELETE CASCADE,
    codename TEXT    NOT NULL,
    PRIMARY KEY (user_id, codename)
);

CREATE TABLE moat_group_perms (
    group_id INTEGER NOT NULL REFERENCES moat_groups(id) ON DELETE CASCADE,
    codename TEXT    NOT NULL,
    PRIMARY KEY (group_id, codename)
);

-- Object-level permissions (django-guardian): codename on one row of one model.
-- pk is the row's key rendered as text.
CREATE TABLE moat_user_object_perms (
    user_id  INTEGER NOT NULL REFERENCES moat_users(id) ON DELETE CASCADE,
    codename TEXT    NOT NULL,
    model    TEXT    NOT NULL,
    pk       TEXT    NOT NULL,
    PRIMARY KEY (user_id, codename, model, pk)
);
CREATE INDEX moat_user_object_perms_row ON moat_user_object_perms(model, pk);

CREATE TABLE moat_group_object_perms (
    group_id INTEGER NOT NULL REFERENCES moat_groups(id) ON DELETE CASCADE,
    codename TEXT    NOT NULL,
    model    TEXT    NOT NULL,
    pk       TEXT    NOT NULL,
    PRIMARY KEY (group_id, codename, model, pk)
);
CREATE INDEX moat_group_object_perms_row ON moat_group_object_perms(model, pk);

-- Failure counters and lockouts, shared by every instance on this database.
-- One row per key: (username, ip) for the pair, (username, '') for the username from any
-- address, ('', ip) for the address with any username. tier counts lockouts so far
-- (progressive cool-off).
CREATE TABLE moat_auth_failures (
    username         TEXT    NOT NULL,
    ip               TEXT    NOT NULL,
    failures         INTEGER NOT NULL DEFAULT 0,
    tier             INTEGER NOT NULL DEFAULT 0,
    first_failure_at INTEGER NOT NULL,
    last_failure_at  INTEGER NOT NULL,
    locked_until     INTEGER NULL,
    PRIMARY KEY (username, ip),
    CHECK (username <> '' OR ip <> '')
);
CREATE INDEX moat_auth_failures_ip ON moat_auth_failures(ip);

-- Live sessions, so any instance can list and end them.
CREATE TABLE moat_sessions (
    id            TEXT    PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES moat_users(id) ON DELETE CASCADE,
    source_ip     TEXT    NOT NULL,
    started_at    INTEGER NOT NULL,
    last_input_at INTEGER NOT NULL,
    ended_at      INTEGER NULL,
    end_requested BOOLEAN NOT NULL DEFAULT 0
);

-- The audit trail. Each row's hash is SHA-256 over a canonical serialization of the row
-- and prev_hash, so editing, removing or reordering rows breaks the chain.
CREATE TABLE moat_audit_log (
    id          INTEGER PRIMARY KEY,
    at_ms       INTEGER NOT NULL,
    actor       TEXT    NULL,
    source_ip   TEXT    NULL,
    session_id  TEXT    NULL,
    action      TEXT    NOT NULL,
    model       TEXT    NULL,
    pk          TEXT    NULL,
    before_json TEXT    NULL,
    after_json  TEXT    NULL,
    outcome     TEXT    NOT NULL,
    reason      TEXT    NULL,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL
);
CREATE INDEX moat_audit_log_row ON moat_audit_log(model, pk);
