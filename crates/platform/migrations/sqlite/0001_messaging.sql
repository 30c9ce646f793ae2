-- The transactional outbox: events written with the state change that causes them.
CREATE TABLE IF NOT EXISTS outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     TEXT NOT NULL UNIQUE,
    event_type   TEXT NOT NULL,
    payload      BLOB NOT NULL,
    headers      TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    published_at TEXT
);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;

-- The inbox: events a consumer group has applied, so a redelivery is skipped.
CREATE TABLE IF NOT EXISTS inbox (
    consumer_group TEXT NOT NULL,
    event_id       TEXT NOT NULL,
    processed_at   TEXT NOT NULL,
    PRIMARY KEY (consumer_group, event_id)
);
