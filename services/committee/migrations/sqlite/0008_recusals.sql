-- Members who take no part in deciding a case, per round: whoever researched
-- it (recorded when it is scheduled) and whoever declares a conflict (related
-- to the beneficiary, say), with the reason.
CREATE TABLE recusals (
    request_id  TEXT NOT NULL,
    round       INTEGER NOT NULL,
    member      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    kind        TEXT NOT NULL, -- "researched" | "declared"
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (request_id, round, member)
);
