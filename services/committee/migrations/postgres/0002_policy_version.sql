-- The policy version the case was judged under; the decision records it.
ALTER TABLE agenda_items ADD COLUMN policy_version BIGINT NOT NULL DEFAULT 0;
