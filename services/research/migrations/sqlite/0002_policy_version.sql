-- The policy version the case is judged under, passed on to the committee.
ALTER TABLE research_assignments ADD COLUMN policy_version INTEGER NOT NULL DEFAULT 0;
