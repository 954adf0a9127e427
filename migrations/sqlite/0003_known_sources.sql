-- Known sources: the (username, address) pairs that logged in successfully, and when
-- last. A pair that logged in recently is refused only by its own lock, never by a lock
-- of the username or the address that strangers' guesses caused (auth::lockout).
CREATE TABLE moat_login_sources (
    username        TEXT    NOT NULL,
    ip              TEXT    NOT NULL,
    last_success_at INTEGER NOT NULL,
    PRIMARY KEY (username, ip)
);
