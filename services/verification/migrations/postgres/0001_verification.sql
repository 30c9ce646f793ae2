-- Requests awaiting or past verification, as this stage knows them.
CREATE TABLE verification_cases (
    request_id         UUID PRIMARY KEY,
    association        TEXT NOT NULL,
    branch             TEXT NOT NULL,
    service_type       TEXT NOT NULL,
    applicant_name     TEXT NOT NULL,
    national_id_masked TEXT NOT NULL,
    status             TEXT NOT NULL,
    received_at        TIMESTAMPTZ NOT NULL,
    decided_by         TEXT,
    decided_at         TIMESTAMPTZ,
    outcome_detail     JSONB NOT NULL
);
CREATE INDEX verification_cases_queue ON verification_cases (association, branch, status, received_at);
