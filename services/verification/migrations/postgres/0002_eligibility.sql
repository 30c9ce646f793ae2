-- The policy version in force at submission, and its eligibility rules judged one by one.
ALTER TABLE verification_cases ADD COLUMN policy_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE verification_cases ADD COLUMN eligibility JSONB NOT NULL DEFAULT '[]';
