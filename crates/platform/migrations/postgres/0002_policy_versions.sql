-- Every board-approved policy version a stage judges by, as the file that was applied.
CREATE TABLE policy_versions (
    association    TEXT NOT NULL,
    version        BIGINT NOT NULL,
    effective_from DATE NOT NULL,
    source         TEXT NOT NULL,
    applied_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (association, version)
);
