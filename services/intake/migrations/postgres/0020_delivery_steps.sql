-- The records of an approved case's delivery plan, as they happen: one row
-- per record of a step (a partial delivery is a record with complete = 0),
-- and the beneficiary's confirmation of the steps that ask for it.
CREATE TABLE delivery_records (
    record_id   UUID PRIMARY KEY,
    request_id  UUID NOT NULL REFERENCES service_requests (request_id),
    step        TEXT NOT NULL,
    done_on     DATE NOT NULL,
    contractor  TEXT NOT NULL,
    provider    TEXT NOT NULL,
    amount_sar  BIGINT NOT NULL, -- 0 where the step states no amount
    reference   TEXT NOT NULL,
    note        TEXT NOT NULL,
    complete    BIGINT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX delivery_records_by_request ON delivery_records (request_id, recorded_at);
CREATE TABLE delivery_confirmations (
    request_id   UUID NOT NULL REFERENCES service_requests (request_id),
    step         TEXT NOT NULL,
    note         TEXT NOT NULL,
    confirmed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (request_id, step)
);
-- A delivered case never rated closes by itself after the pack's period:
-- service_deliveries.rated is then 2 (closed unrated), beside 0 and 1.
CREATE INDEX service_deliveries_unrated ON service_deliveries (delivered_at) WHERE rated = 0;
