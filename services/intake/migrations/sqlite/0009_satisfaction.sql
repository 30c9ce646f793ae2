-- The service's delivery, once per approved request.
CREATE TABLE service_deliveries (
    request_id   TEXT PRIMARY KEY REFERENCES service_requests (request_id),
    delivered_by TEXT NOT NULL,
    delivered_at TEXT NOT NULL,
    note         TEXT NOT NULL
);

-- The beneficiary's rating of a delivered service, once per request. It keeps
-- the case's scope and service type but no staff member: ratings are for
-- improving the service, not for judging people.
CREATE TABLE service_ratings (
    request_id   TEXT PRIMARY KEY REFERENCES service_requests (request_id),
    association  TEXT NOT NULL,
    branch       TEXT NOT NULL,
    service_type TEXT NOT NULL,
    score        INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment      TEXT NOT NULL,
    rated_at     TEXT NOT NULL
);
CREATE INDEX service_ratings_scope ON service_ratings (association, branch, rated_at);
