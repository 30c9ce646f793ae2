-- Raised by every change to an assignment, so an action based on an older
-- reading is refused instead of overwriting another's (ETag / If-Match).
ALTER TABLE research_assignments ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
