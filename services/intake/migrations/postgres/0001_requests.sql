CREATE TABLE service_requests (
    request_id           UUID PRIMARY KEY,
    reference            TEXT NOT NULL UNIQUE,
    association          TEXT NOT NULL,
    branch               TEXT NOT NULL,
    service_type         TEXT NOT NULL,
    channel              TEXT NOT NULL,
    national_id          TEXT NOT NULL,
    applicant_name       TEXT NOT NULL,
    mobile               TEXT NOT NULL,
    preferred_language   TEXT NOT NULL,
    description          TEXT NOT NULL,
    status               TEXT NOT NULL,
    submitted_at         TIMESTAMPTZ NOT NULL,
    expected_decision_on DATE NOT NULL
);
CREATE INDEX service_requests_scope ON service_requests (association, branch, status);

-- The case's history as the beneficiary follows it; one row per stage event.
CREATE TABLE timeline_entries (
    entry_id   UUID PRIMARY KEY,
    request_id UUID NOT NULL REFERENCES service_requests (request_id),
    status     TEXT NOT NULL,
    stage      TEXT NOT NULL,
    actor_role TEXT NOT NULL,
    at         TIMESTAMPTZ NOT NULL,
    note       TEXT NOT NULL
);
CREATE INDEX timeline_entries_request ON timeline_entries (request_id, at);
