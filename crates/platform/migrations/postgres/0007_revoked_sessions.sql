-- Sign-in sessions that ended before their time, as intake announced them:
-- their access tokens are refused here until the last one has expired.
CREATE TABLE revoked_sessions (
    session_id   TEXT PRIMARY KEY,
    association  TEXT NOT NULL,
    revoked_at   TIMESTAMPTZ NOT NULL,
    forget_after TIMESTAMPTZ NOT NULL
);
