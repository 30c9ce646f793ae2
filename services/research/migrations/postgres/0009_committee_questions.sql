-- What the committee asked when it deferred the case back to research.
ALTER TABLE research_assignments ADD COLUMN committee_questions JSONB NOT NULL DEFAULT '[]';
