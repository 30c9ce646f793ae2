-- Staff passwords, as argon2 hashes. Who the staff are, and their roles and
-- branches, is the directory's; this table only lets them sign in.
CREATE TABLE staff_credentials (
    association          TEXT NOT NULL,
    username             TEXT NOT NULL,
    password_hash        TEXT NOT NULL,
    must_change_password BIGINT NOT NULL,
    set_by               TEXT NOT NULL,
    set_at               TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (association, username)
);

-- Failed sign-ins in a row, per username: after a few, each attempt must
-- wait longer; after more, the username is locked for a while.
CREATE TABLE sign_in_failures (
    association    TEXT NOT NULL,
    username       TEXT NOT NULL,
    failures       BIGINT NOT NULL,
    last_failed_at TIMESTAMPTZ NOT NULL,
    locked_until   TIMESTAMPTZ,
    PRIMARY KEY (association, username)
);

-- Sign-in sessions. The refresh token is kept only as a SHA-256 hash and
-- replaced at each use; a revoked session can no longer be refreshed.
CREATE TABLE sessions (
    session_id   UUID PRIMARY KEY,
    association  TEXT NOT NULL,
    username     TEXT NOT NULL,
    refresh_hash TEXT NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL,
    refreshed_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ,
    revoked_why  TEXT
);
CREATE INDEX sessions_of_user ON sessions (association, username) WHERE revoked_at IS NULL;
