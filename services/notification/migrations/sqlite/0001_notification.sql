-- How to reach each request's beneficiary (from its submission event).
CREATE TABLE recipients (
    request_id  TEXT PRIMARY KEY,
    association TEXT NOT NULL,
    branch      TEXT NOT NULL,
    reference   TEXT NOT NULL,
    mobile      TEXT NOT NULL,
    language    TEXT NOT NULL
);

-- One message per stage event; the dispatcher sends the pending ones.
CREATE TABLE messages (
    message_id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    event_id   TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    language   TEXT NOT NULL,
    mobile     TEXT NOT NULL,
    body       TEXT NOT NULL,
    status     TEXT NOT NULL,
    attempts   INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    created_at TEXT NOT NULL,
    sent_at    TEXT
);
CREATE INDEX messages_pending ON messages (status, created_at);
CREATE INDEX messages_request ON messages (request_id, created_at);
