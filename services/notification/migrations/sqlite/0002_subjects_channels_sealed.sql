-- A message is about a request, or about something else of the beneficiary's
-- (an account, an inquiry): its subject. Each records the channel of what it answers.
ALTER TABLE messages RENAME COLUMN request_id TO subject_id;
ALTER TABLE messages ADD COLUMN channel TEXT NOT NULL DEFAULT '';
-- A secret the text carries (a one-time password), sealed; opened only to send.
ALTER TABLE messages ADD COLUMN sealed_secret TEXT;
ALTER TABLE recipients ADD COLUMN channel TEXT NOT NULL DEFAULT '';
