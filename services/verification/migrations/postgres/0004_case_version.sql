-- Raised by every change to a case, so a staff action based on an older
-- reading is refused instead of overwriting another's (ETag / If-Match).
ALTER TABLE verification_cases ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
