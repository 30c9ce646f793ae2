-- The researcher's score on each of the pack's social-research criteria
-- (scored again, replaced), and what the recommendation proposes beside
-- approve or reject: the service and its amount, or the reasons, the reason
-- to depart from the total's band, and the total itself (JSON).
CREATE TABLE criterion_scores (
    request_id UUID NOT NULL REFERENCES research_assignments (request_id),
    criterion  TEXT NOT NULL,
    score      BIGINT NOT NULL,
    note       TEXT NOT NULL,
    researcher TEXT NOT NULL,
    scored_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (request_id, criterion)
);
ALTER TABLE research_assignments ADD COLUMN proposal JSONB NOT NULL DEFAULT '{}';
ALTER TABLE research_assignments ADD COLUMN recommended_at TIMESTAMPTZ;
CREATE INDEX field_visits_of_case ON field_visits (request_id, visited_at);
