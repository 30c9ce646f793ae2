-- How to reach each request's beneficiary (from its submission event).
CREATE TABLE recipients (
    request_id  UUID PRIMARY KEY,
    association TEXT NOT NULL,
    branch      TEXT NOT NULL,
    reference   TEXT NOT NULL,
    mobile      TEXT NOT NULL,
    language    TEXT NOT NULL
);

-- One message per stage event; the dispatcher sends the pending ones.
CREATE TABLE messages (
    message_id UUID PRIMARY KEY,
    request_id UUID NOT NULL,
    event_id   UUID NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    language   TEXT NOT NULL,
    mobile     TEXT NOT NULL,
    body       TEXT NOT NULL,
    status     TEXT NOT NULL,
    attempts   BIGINT NOT NULL,
    last_error TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    sent_at    TIMESTAMPTZ
);
CREATE INDEX messages_pending ON messages (status, created_at);
CREATE INDEX messages_request ON messages (request_id, created_at);
