-- Published rows are followed up until every consumer group has their
-- entries (settled); an entry the queue lost is published again.
ALTER TABLE outbox ADD COLUMN stream_entry_id TEXT;
ALTER TABLE outbox ADD COLUMN settled_at TEXT;
ALTER TABLE outbox ADD COLUMN republished INTEGER NOT NULL DEFAULT 0;
-- Rows published before this migration were handed off by the old relay: taken as settled.
UPDATE outbox SET settled_at = published_at WHERE published_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS outbox_unsettled ON outbox (seq) WHERE settled_at IS NULL AND published_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS outbox_settled ON outbox (settled_at) WHERE settled_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS inbox_processed ON inbox (processed_at);
