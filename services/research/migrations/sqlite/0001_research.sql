CREATE TABLE research_assignments (
    request_id     TEXT PRIMARY KEY,
    association    TEXT NOT NULL,
    branch         TEXT NOT NULL,
    service_type   TEXT NOT NULL,
    researcher     TEXT NOT NULL,
    status         TEXT NOT NULL,
    visits         INTEGER NOT NULL,
    recommendation TEXT NOT NULL,
    justification  TEXT NOT NULL,
    assigned_at    TEXT NOT NULL
);
CREATE INDEX research_assignments_researcher ON research_assignments (researcher, status);

CREATE TABLE field_visits (
    visit_id   TEXT PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES research_assignments (request_id),
    researcher TEXT NOT NULL,
    findings   TEXT NOT NULL,
    visited_at TEXT NOT NULL
);
