-- Why each case went to its researcher: the candidates and the rule that
-- chose (JSON {"ar", "en"}), for supervisors.
ALTER TABLE research_assignments ADD COLUMN why JSONB NOT NULL DEFAULT '{"ar":"","en":""}';

-- Verified cases nobody in their branch can take yet: supervisors see them,
-- and research assigns each as soon as someone can. Before this a case with
-- nobody to take it was dead-lettered.
CREATE TABLE unassigned_cases (
    request_id     UUID PRIMARY KEY,
    association    TEXT NOT NULL,
    branch         TEXT NOT NULL,
    service_type   TEXT NOT NULL,
    policy_version BIGINT NOT NULL,
    waiting_since  TIMESTAMPTZ NOT NULL,
    why            JSONB NOT NULL
);
CREATE INDEX unassigned_cases_waiting ON unassigned_cases (association, branch, waiting_since);
