-- Known sources; see migrations/sqlite/0003_known_sources.sql for the why.
CREATE TABLE moat_login_sources (
    username        TEXT   NOT NULL,
    ip              TEXT   NOT NULL,
    last_success_at BIGINT NOT NULL,
    PRIMARY KEY (username, ip)
);
