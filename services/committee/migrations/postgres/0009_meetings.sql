-- The committee's meetings: scheduled per branch (or association-wide, branch
-- ''), in session from the first attendance recorded (its agenda fixed then:
-- agenda_items.meeting_id), closed with its minutes. The minutes are kept as
-- their record (masar.committee.v1.MinutesRecord, protobuf) and as the
-- printable document members confirm by its SHA-256; once every present
-- member has, minutes_status is 'confirmed' and nothing changes them.
CREATE TABLE meetings (
    meeting_id     UUID PRIMARY KEY,
    association    TEXT NOT NULL,
    branch         TEXT NOT NULL,
    starts_at      TIMESTAMPTZ NOT NULL,
    place          TEXT NOT NULL,
    chair          TEXT NOT NULL,
    status         TEXT NOT NULL,
    quorum         BIGINT NOT NULL,
    majority       TEXT NOT NULL,
    policy_version BIGINT NOT NULL,
    scheduled_by   TEXT NOT NULL,
    scheduled_at   TIMESTAMPTZ NOT NULL,
    opened_at      TIMESTAMPTZ,
    closed_at      TIMESTAMPTZ,
    version        BIGINT NOT NULL,
    minutes_status TEXT NOT NULL DEFAULT '',
    minutes_record BYTEA NOT NULL DEFAULT ''::bytea,
    minutes_html   TEXT NOT NULL DEFAULT '',
    minutes_sha256 TEXT NOT NULL DEFAULT ''
);
CREATE INDEX meetings_by_scope ON meetings (association, branch, starts_at);
CREATE TABLE meeting_members (
    meeting_id UUID NOT NULL REFERENCES meetings (meeting_id),
    member     TEXT NOT NULL,
    seat       BIGINT NOT NULL, -- the order the supervisor named them in
    present    BIGINT NOT NULL DEFAULT 0, -- 1 when recorded present
    PRIMARY KEY (meeting_id, member)
);
CREATE TABLE minutes_confirmations (
    meeting_id     UUID NOT NULL REFERENCES meetings (meeting_id),
    member         TEXT NOT NULL,
    minutes_sha256 TEXT NOT NULL,
    confirmed_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (meeting_id, member)
);
ALTER TABLE agenda_items ADD COLUMN meeting_id UUID;
CREATE INDEX agenda_items_by_meeting ON agenda_items (meeting_id) WHERE meeting_id IS NOT NULL;
ALTER TABLE decisions ADD COLUMN meeting_id UUID;
