-- Failed sign-ins are counted per username and client address (as the
-- gateway vouched for it), so that nobody can lock a staff member out from
-- elsewhere. The counts are short-lived: the old ones are dropped.
DROP TABLE sign_in_failures;
CREATE TABLE sign_in_failures (
    association    TEXT NOT NULL,
    username       TEXT NOT NULL,
    client         TEXT NOT NULL,
    failures       INTEGER NOT NULL,
    last_failed_at TEXT NOT NULL,
    locked_until   TEXT,
    PRIMARY KEY (association, username, client)
);
