-- Questions from any channel, answered or referred to the association's referral role.
CREATE TABLE inquiries (
    inquiry_id         TEXT PRIMARY KEY,
    reference          TEXT NOT NULL UNIQUE,
    association        TEXT NOT NULL,
    branch             TEXT NOT NULL,
    channel            TEXT NOT NULL,
    beneficiary_id     TEXT REFERENCES beneficiaries (beneficiary_id),
    asker_name         TEXT NOT NULL,
    mobile             TEXT,
    preferred_language TEXT NOT NULL,
    question           TEXT NOT NULL,
    status             TEXT NOT NULL,
    referred_to        TEXT,
    asked_at           TEXT NOT NULL
);
CREATE INDEX inquiries_queue ON inquiries (association, status, asked_at);

-- Each inquiry's own timeline: asked, referred, answered; each with its channel.
CREATE TABLE inquiry_entries (
    entry_id   TEXT PRIMARY KEY,
    inquiry_id TEXT NOT NULL REFERENCES inquiries (inquiry_id),
    status     TEXT NOT NULL,
    actor_role TEXT NOT NULL,
    actor      TEXT NOT NULL,
    channel    TEXT NOT NULL,
    text       TEXT NOT NULL,
    at         TEXT NOT NULL
);
CREATE INDEX inquiry_entries_timeline ON inquiry_entries (inquiry_id, at);
