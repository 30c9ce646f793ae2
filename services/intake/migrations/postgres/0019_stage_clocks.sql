-- Each case's clock on the stage it waits on, as supervision last read it
-- (for the request's `status` then): when the stage began, its deadline on
-- the association's working calendar, when its supervisors were alerted
-- (once per breach: a new stage starts a new clock), and the reply date the
-- beneficiary was last told when the promise slipped.
CREATE TABLE stage_clocks (
    request_id         UUID PRIMARY KEY REFERENCES service_requests (request_id),
    association        TEXT NOT NULL,
    branch             TEXT NOT NULL,
    status             TEXT NOT NULL,
    stage              TEXT NOT NULL,
    started_at         TIMESTAMPTZ NOT NULL,
    deadline           DATE NOT NULL,
    escalated_at       TIMESTAMPTZ,
    promise_revised_to DATE
);
CREATE INDEX stage_clocks_due ON stage_clocks (deadline) WHERE escalated_at IS NULL;
CREATE INDEX stage_clocks_by_scope ON stage_clocks (association, branch, started_at);
-- In-product alerts, addressed to a post in a scope (the branch's manager,
-- the association's admin), the latest read first.
CREATE TABLE alerts (
    alert_id    UUID PRIMARY KEY,
    association TEXT NOT NULL,
    branch      TEXT NOT NULL,
    role        TEXT NOT NULL,
    request_id  UUID NOT NULL,
    reference   TEXT NOT NULL,
    stage       TEXT NOT NULL,
    deadline    DATE NOT NULL,
    raised_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX alerts_by_post ON alerts (association, role, raised_at);
