-- Whom the pack prefers to research the case (masar_domain::roster::Preference
-- as JSON: a gender and why), judged on the answers at receipt; '' for nobody.
-- It travels with request.verified to research's assignment.
ALTER TABLE verification_cases ADD COLUMN researcher_preference TEXT NOT NULL DEFAULT '';
