-- Every decision of a case, one per round (a deferred case comes back for
-- another), with the evidence the committee saw at that moment
-- (masar.committee.v1.Evidence, protobuf-encoded: the research file, the
-- votes, the policy version) and its SHA-256, so a later reader can check
-- nothing changed. The votes of earlier rounds are kept beside them.
ALTER TABLE agenda_items ADD COLUMN round BIGINT NOT NULL DEFAULT 1;
CREATE TABLE decisions (
    request_id      UUID NOT NULL,
    round           BIGINT NOT NULL,
    decision        TEXT NOT NULL,
    decided_at      TIMESTAMPTZ NOT NULL,
    decided_by      TEXT NOT NULL,
    evidence        BYTEA NOT NULL,
    evidence_sha256 TEXT NOT NULL,
    PRIMARY KEY (request_id, round)
);
CREATE TABLE past_votes (
    request_id UUID NOT NULL,
    round      BIGINT NOT NULL,
    member     TEXT NOT NULL,
    vote       TEXT NOT NULL,
    note       TEXT NOT NULL,
    cast_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (request_id, round, member)
);
