-- The transactional outbox: events written with the state change that causes them.
CREATE TABLE IF NOT EXISTS outbox (
    seq          BIGSERIAL PRIMARY KEY,
    event_id     UUID NOT NULL UNIQUE,
    event_type   TEXT NOT NULL,
    payload      BYTEA NOT NULL,
    headers      JSONB NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    published_at TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;

-- The inbox: events a consumer group has applied, so a redelivery is skipped.
CREATE TABLE IF NOT EXISTS inbox (
    consumer_group TEXT NOT NULL,
    event_id       UUID NOT NULL,
    processed_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (consumer_group, event_id)
);
