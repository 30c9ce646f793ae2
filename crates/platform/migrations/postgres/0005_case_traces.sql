-- Each case's trace context, as this service first met it (its filing, or the
-- first event about it): its later actions on the case record their spans there.
CREATE TABLE IF NOT EXISTS case_traces (
    request_id  UUID PRIMARY KEY,
    headers     JSONB NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL
);
