-- Raised by every change to an inquiry (referred, answered), so an action
-- based on an older reading is refused (ETag / If-Match).
ALTER TABLE inquiries ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
