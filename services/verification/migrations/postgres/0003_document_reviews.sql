-- Each required document of a case as last submitted, and the project manager's review of it.
CREATE TABLE case_documents (
    request_id    UUID NOT NULL,
    document      TEXT NOT NULL,
    name_ar       TEXT NOT NULL,
    name_en       TEXT NOT NULL,
    attachment_id UUID NOT NULL,
    content_type  TEXT NOT NULL,
    size_bytes    BIGINT NOT NULL,
    sha256        TEXT NOT NULL,
    issued_on     DATE,
    expires_on    DATE,
    review        TEXT NOT NULL,
    reason        TEXT NOT NULL,
    reviewed_by   TEXT,
    reviewed_at   TIMESTAMPTZ,
    PRIMARY KEY (request_id, document)
);
