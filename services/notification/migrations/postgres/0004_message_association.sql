-- Whose number a message goes to is sealed with its association's key (see
-- masar_platform::personal): the message names the association to open it.
ALTER TABLE messages ADD COLUMN association TEXT NOT NULL DEFAULT '';
