-- Credentials sent by SMS on an anonymous registration: the holder of a
-- national ID, and of a number, is told only a few times a day, so that
-- nobody can flood a person's phone by typing their ID.
CREATE TABLE credential_messages (
    national_id TEXT NOT NULL,
    mobile      TEXT NOT NULL,
    sent_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX credential_messages_by_national_id ON credential_messages (national_id, sent_at);
CREATE INDEX credential_messages_by_mobile ON credential_messages (mobile, sent_at);
