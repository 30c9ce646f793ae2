-- A visit's outcome (done, or missed and why), its day, and whom the
-- researcher met there: the beneficiary or reference persons, with their
-- relation and telephone (JSON, sealed: personal data). Earlier visits were
-- done visits recorded on the day, meeting nobody named.
ALTER TABLE field_visits ADD COLUMN outcome TEXT NOT NULL DEFAULT 'done';
ALTER TABLE field_visits ADD COLUMN visited_on TEXT;
ALTER TABLE field_visits ADD COLUMN people_met TEXT NOT NULL DEFAULT '';
ALTER TABLE field_visits ADD COLUMN association TEXT NOT NULL DEFAULT '';
UPDATE field_visits SET association = (SELECT association FROM research_assignments a WHERE a.request_id = field_visits.request_id);
