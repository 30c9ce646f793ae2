-- A waiting case keeps whom the pack prefers to research it
-- (masar_domain::roster::Preference as JSON; '' for nobody), for when someone can take it.
ALTER TABLE unassigned_cases ADD COLUMN preference TEXT NOT NULL DEFAULT '';
