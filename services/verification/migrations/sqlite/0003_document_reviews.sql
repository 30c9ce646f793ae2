-- Each required document of a case as last submitted, and the project manager's review of it.
CREATE TABLE case_documents (
    request_id    TEXT NOT NULL,
    document      TEXT NOT NULL,
    name_ar       TEXT NOT NULL,
    name_en       TEXT NOT NULL,
    attachment_id TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL,
    sha256        TEXT NOT NULL,
    issued_on     TEXT,
    expires_on    TEXT,
    review        TEXT NOT NULL,
    reason        TEXT NOT NULL,
    reviewed_by   TEXT,
    reviewed_at   TEXT,
    PRIMARY KEY (request_id, document)
);
