-- The visits' appointments: the day, time and place the researcher set, and
-- what became of each (kept or missed by the visit recorded, moved by a
-- later one, or asked to be changed by the beneficiary, with their reason).
CREATE TABLE visit_appointments (
    appointment_id UUID PRIMARY KEY,
    request_id     UUID NOT NULL REFERENCES research_assignments (request_id),
    visit_on       DATE NOT NULL,
    visit_time     TEXT NOT NULL,
    place          TEXT NOT NULL,
    status         TEXT NOT NULL,
    change_reason  TEXT NOT NULL DEFAULT '',
    scheduled_by   TEXT NOT NULL,
    scheduled_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX visit_appointments_of_case ON visit_appointments (request_id, scheduled_at);
