-- The service's delivery, once per approved request. `rated` (0 or 1) marks
-- that its beneficiary has rated it, once, without saying how.
CREATE TABLE service_deliveries (
    request_id   UUID PRIMARY KEY REFERENCES service_requests (request_id),
    delivered_by TEXT NOT NULL,
    delivered_at TIMESTAMPTZ NOT NULL,
    note         TEXT NOT NULL,
    rated        BIGINT NOT NULL DEFAULT 0
);

-- Beneficiaries' ratings, kept apart from the cases they rate: a random id,
-- the scope, the service type and the day. Nothing joins a rating to its
-- case, and so to the staff who served it: ratings are for improving the
-- service, not for judging people.
CREATE TABLE service_ratings (
    rating_id    UUID PRIMARY KEY,
    association  TEXT NOT NULL,
    branch       TEXT NOT NULL,
    service_type TEXT NOT NULL,
    score        BIGINT NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment      TEXT NOT NULL,
    rated_on     DATE NOT NULL
);
CREATE INDEX service_ratings_scope ON service_ratings (association, branch, rated_on);
