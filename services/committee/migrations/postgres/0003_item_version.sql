-- Raised by every change to an agenda item (each vote, the decision), so a
-- decision based on an older reading is refused (ETag / If-Match).
ALTER TABLE agenda_items ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
