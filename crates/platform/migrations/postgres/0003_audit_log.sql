-- The audit trail of the actions this service performs, appended in the
-- same transaction as each action. Rows are never changed or removed.
CREATE TABLE audit_log (
    seq            BIGSERIAL PRIMARY KEY,
    request_id     UUID,
    association    TEXT NOT NULL,
    branch         TEXT NOT NULL,
    actor          TEXT NOT NULL,
    actor_role     TEXT NOT NULL,
    action         TEXT NOT NULL,
    detail         TEXT NOT NULL,
    channel        TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    trace_id       TEXT NOT NULL,
    at             TIMESTAMPTZ NOT NULL
);
CREATE INDEX audit_log_by_request ON audit_log (request_id, seq);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END
$$;
CREATE TRIGGER audit_log_is_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
