-- Where the applicant lives, where the pack's form asks for it (sealed JSON,
-- see masar_domain::Address); empty for requests of packs that do not ask.
ALTER TABLE service_requests ADD COLUMN address TEXT;
