-- The social researchers' roster, per association, as supervisors keep it:
-- started from the directory's entries the first time the association's
-- roster is read, changed through the API since. `capacity` 0 means no
-- limit; `active` 0 takes a researcher off duty (no new case, theirs kept).
CREATE TABLE roster (
    association TEXT NOT NULL,
    username    TEXT NOT NULL,
    branch      TEXT NOT NULL,
    gender      TEXT NOT NULL,
    specialties TEXT NOT NULL,
    capacity    INTEGER NOT NULL,
    active      INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    updated_by  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (association, username)
);
CREATE INDEX roster_by_branch ON roster (association, branch, username);
CREATE TABLE roster_leaves (
    leave_id    TEXT PRIMARY KEY,
    association TEXT NOT NULL,
    username    TEXT NOT NULL,
    starts_on   TEXT NOT NULL,
    ends_on     TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE INDEX roster_leaves_by_researcher ON roster_leaves (association, username, starts_on);
