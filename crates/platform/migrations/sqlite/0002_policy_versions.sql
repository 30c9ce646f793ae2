-- Every board-approved policy version a stage judges by, as the file that was applied.
CREATE TABLE policy_versions (
    association    TEXT NOT NULL,
    version        INTEGER NOT NULL,
    effective_from TEXT NOT NULL,
    source         TEXT NOT NULL,
    applied_at     TEXT NOT NULL,
    PRIMARY KEY (association, version)
);
