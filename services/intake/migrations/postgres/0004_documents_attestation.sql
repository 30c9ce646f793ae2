-- Uploaded supporting documents; a replacement keeps the earlier upload, marked replaced.
CREATE TABLE request_documents (
    attachment_id UUID PRIMARY KEY,
    request_id    UUID NOT NULL REFERENCES service_requests (request_id),
    document      TEXT NOT NULL,
    file_name     TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size_bytes    BIGINT NOT NULL,
    sha256        TEXT NOT NULL,
    object_key    TEXT NOT NULL,
    issued_on     DATE,
    expires_on    DATE,
    uploaded_by   TEXT NOT NULL,
    uploaded_at   TIMESTAMPTZ NOT NULL,
    replaced_at   TIMESTAMPTZ
);
CREATE INDEX request_documents_current ON request_documents (request_id, document) WHERE replaced_at IS NULL;

-- The applicant's attestation that the data is correct: who, when, which text.
ALTER TABLE service_requests ADD COLUMN attested_by TEXT;
ALTER TABLE service_requests ADD COLUMN attested_at TIMESTAMPTZ;
ALTER TABLE service_requests ADD COLUMN attestation_version TEXT;
