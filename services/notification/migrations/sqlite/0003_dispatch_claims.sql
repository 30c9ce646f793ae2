-- The dispatcher claims a message before handing it to the provider: status
-- 'sending' with a lease until not_before. A lease that runs out means an
-- attempt whose outcome was never recorded: the provider is asked first.
-- A pending message is not retried before not_before either.
ALTER TABLE messages ADD COLUMN not_before TEXT;
ALTER TABLE messages ADD COLUMN provider_message_id TEXT;
DROP INDEX IF EXISTS messages_pending;
CREATE INDEX messages_due ON messages (created_at) WHERE status IN ('pending', 'sending');
