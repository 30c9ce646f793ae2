-- The audit trail of the actions this service performs, appended in the
-- same transaction as each action. Rows are never changed or removed.
CREATE TABLE audit_log (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id     TEXT,
    association    TEXT NOT NULL,
    branch         TEXT NOT NULL,
    actor          TEXT NOT NULL,
    actor_role     TEXT NOT NULL,
    action         TEXT NOT NULL,
    detail         TEXT NOT NULL,
    channel        TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    trace_id       TEXT NOT NULL,
    at             TEXT NOT NULL
);
CREATE INDEX audit_log_by_request ON audit_log (request_id, seq);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
