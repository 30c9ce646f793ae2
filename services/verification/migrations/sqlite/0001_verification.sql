-- Requests awaiting or past verification, as this stage knows them.
CREATE TABLE verification_cases (
    request_id         TEXT PRIMARY KEY,
    association        TEXT NOT NULL,
    branch             TEXT NOT NULL,
    service_type       TEXT NOT NULL,
    applicant_name     TEXT NOT NULL,
    national_id_masked TEXT NOT NULL,
    status             TEXT NOT NULL,
    received_at        TEXT NOT NULL,
    decided_by         TEXT,
    decided_at         TEXT,
    outcome_detail     TEXT NOT NULL
);
CREATE INDEX verification_cases_queue ON verification_cases (association, branch, status, received_at);
