-- Staff passwords, as argon2 hashes. Who the staff are, and their roles and
-- branches, is the directory's; this table only lets them sign in.
CREATE TABLE staff_credentials (
    association          TEXT NOT NULL,
    username             TEXT NOT NULL,
    password_hash        TEXT NOT NULL,
    must_change_password INTEGER NOT NULL,
    set_by               TEXT NOT NULL,
    set_at               TEXT NOT NULL,
    PRIMARY KEY (association, username)
);

-- Failed sign-ins in a row, per username: after a few, each attempt must
-- wait longer; after more, the username is locked for a while.
CREATE TABLE sign_in_failures (
    association    TEXT NOT NULL,
    username       TEXT NOT NULL,
    failures       INTEGER NOT NULL,
    last_failed_at TEXT NOT NULL,
    locked_until   TEXT,
    PRIMARY KEY (association, username)
);

-- Sign-in sessions. The refresh token is kept only as a SHA-256 hash and
-- replaced at each use; a revoked session can no longer be refreshed.
CREATE TABLE sessions (
    session_id   TEXT PRIMARY KEY,
    association  TEXT NOT NULL,
    username     TEXT NOT NULL,
    refresh_hash TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    refreshed_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    revoked_at   TEXT,
    revoked_why  TEXT
);
CREATE INDEX sessions_of_user ON sessions (association, username) WHERE revoked_at IS NULL;
