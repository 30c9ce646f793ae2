-- The social researchers' roster, per association, as supervisors keep it:
-- started from the directory's entries the first time the association's
-- roster is read, changed through the API since. `capacity` 0 means no
-- limit; `active` 0 takes a researcher off duty (no new case, theirs kept).
CREATE TABLE roster (
    association TEXT NOT NULL,
    username    TEXT NOT NULL,
    branch      TEXT NOT NULL,
    gender      TEXT NOT NULL,
    specialties JSONB NOT NULL,
    capacity    BIGINT NOT NULL,
    active      BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    updated_by  TEXT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (association, username)
);
CREATE INDEX roster_by_branch ON roster (association, branch, username);
CREATE TABLE roster_leaves (
    leave_id    UUID PRIMARY KEY,
    association TEXT NOT NULL,
    username    TEXT NOT NULL,
    starts_on   DATE NOT NULL,
    ends_on     DATE NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX roster_leaves_by_researcher ON roster_leaves (association, username, starts_on);
