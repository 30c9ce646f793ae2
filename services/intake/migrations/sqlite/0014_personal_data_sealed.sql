-- Personal data is stored sealed (see masar_platform::personal): national IDs,
-- mobiles and answers hold `pd:<version>:…`, name keys hold a blind index, and
-- equality lookups go through blind indexes beside the sealed values. Rows
-- written before this are sealed, and their indexes filled, by intake's
-- re-seal job (the same job re-seals after a key rotation).
ALTER TABLE service_requests ADD COLUMN national_id_index TEXT;
DROP INDEX service_requests_beneficiary;
CREATE INDEX service_requests_history ON service_requests (association, national_id_index, service_type);

ALTER TABLE beneficiaries ADD COLUMN national_id_index TEXT;
ALTER TABLE beneficiaries ADD COLUMN mobile_index TEXT;
CREATE UNIQUE INDEX beneficiaries_one_per_national_id ON beneficiaries (association, national_id_index);
DROP INDEX beneficiaries_match;
CREATE INDEX beneficiaries_match ON beneficiaries (association, name_key, mobile_index);

ALTER TABLE accounts ADD COLUMN mobile_index TEXT;
DROP INDEX accounts_one_per_number;
CREATE UNIQUE INDEX accounts_one_per_number ON accounts (beneficiary_id, mobile_index);

-- Counted per blind index from now on; a day's counts in clear are dropped.
DELETE FROM credential_messages;
