-- The dispatcher claims a message before handing it to the provider: status
-- 'sending' with a lease until not_before. A lease that runs out means an
-- attempt whose outcome was never recorded; so is any earlier attempt: the
-- provider is asked about it before the message is sent again.
-- A pending message is not retried before not_before either.
ALTER TABLE messages ADD COLUMN not_before TEXT;
ALTER TABLE messages ADD COLUMN provider_message_id TEXT;
-- Which claim an outcome belongs to: only the dispatcher holding the claim records it.
ALTER TABLE messages ADD COLUMN claim_token TEXT;
DROP INDEX IF EXISTS messages_pending;
CREATE INDEX messages_due ON messages (created_at) WHERE status IN ('pending', 'sending');
