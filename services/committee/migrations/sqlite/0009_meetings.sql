-- The committee's meetings: scheduled per branch (or association-wide, branch
-- ''), in session from the first attendance recorded (its agenda fixed then:
-- agenda_items.meeting_id), closed with its minutes. The minutes are kept as
-- their record (masar.committee.v1.MinutesRecord, protobuf) and as the
-- printable document members confirm by its SHA-256; once every present
-- member has, minutes_status is 'confirmed' and nothing changes them.
CREATE TABLE meetings (
    meeting_id     TEXT PRIMARY KEY,
    association    TEXT NOT NULL,
    branch         TEXT NOT NULL,
    starts_at      TEXT NOT NULL,
    place          TEXT NOT NULL,
    chair          TEXT NOT NULL,
    status         TEXT NOT NULL,
    quorum         INTEGER NOT NULL,
    majority       TEXT NOT NULL,
    policy_version INTEGER NOT NULL,
    scheduled_by   TEXT NOT NULL,
    scheduled_at   TEXT NOT NULL,
    opened_at      TEXT,
    closed_at      TEXT,
    version        INTEGER NOT NULL,
    minutes_status TEXT NOT NULL DEFAULT '',
    minutes_record BLOB NOT NULL DEFAULT x'',
    minutes_html   TEXT NOT NULL DEFAULT '',
    minutes_sha256 TEXT NOT NULL DEFAULT ''
);
CREATE INDEX meetings_by_scope ON meetings (association, branch, starts_at);
CREATE TABLE meeting_members (
    meeting_id TEXT NOT NULL REFERENCES meetings (meeting_id),
    member     TEXT NOT NULL,
    seat       INTEGER NOT NULL, -- the order the supervisor named them in
    present    INTEGER NOT NULL DEFAULT 0, -- 1 when recorded present
    PRIMARY KEY (meeting_id, member)
);
CREATE TABLE minutes_confirmations (
    meeting_id     TEXT NOT NULL REFERENCES meetings (meeting_id),
    member         TEXT NOT NULL,
    minutes_sha256 TEXT NOT NULL,
    confirmed_at   TEXT NOT NULL,
    PRIMARY KEY (meeting_id, member)
);
ALTER TABLE agenda_items ADD COLUMN meeting_id TEXT;
CREATE INDEX agenda_items_by_meeting ON agenda_items (meeting_id) WHERE meeting_id IS NOT NULL;
ALTER TABLE decisions ADD COLUMN meeting_id TEXT;
