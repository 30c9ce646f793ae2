-- The policy version in force at submission, and the applicant's answers to the facts its rules name.
ALTER TABLE service_requests ADD COLUMN policy_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE service_requests ADD COLUMN facts TEXT NOT NULL DEFAULT '{}';
