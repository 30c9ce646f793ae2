-- The association's beneficiaries: one per national ID. The name key matches
-- names written differently (see masar_domain::people::name_key).
CREATE TABLE beneficiaries (
    beneficiary_id        UUID PRIMARY KEY,
    association           TEXT NOT NULL,
    national_id           TEXT NOT NULL,
    full_name             TEXT NOT NULL,
    name_key              TEXT NOT NULL,
    mobile                TEXT NOT NULL,
    preferred_language    TEXT NOT NULL,
    channel               TEXT NOT NULL,
    registered_by         TEXT NOT NULL,
    registered_at         TIMESTAMPTZ NOT NULL,
    -- An earlier beneficiary with the same name key and mobile but another ID: for staff to look at.
    possible_duplicate_of UUID,
    UNIQUE (association, national_id)
);
CREATE INDEX beneficiaries_match ON beneficiaries (association, name_key, mobile);
CREATE INDEX beneficiaries_duplicates ON beneficiaries (association) WHERE possible_duplicate_of IS NOT NULL;

ALTER TABLE service_requests ADD COLUMN beneficiary_id UUID REFERENCES beneficiaries (beneficiary_id);

-- A beneficiary's sign-in. The password is kept only as an argon2 hash.
CREATE TABLE accounts (
    account_id           UUID PRIMARY KEY,
    association          TEXT NOT NULL,
    beneficiary_id       UUID NOT NULL UNIQUE REFERENCES beneficiaries (beneficiary_id),
    username             TEXT NOT NULL UNIQUE,
    password_hash        TEXT NOT NULL,
    must_change_password BIGINT NOT NULL,
    channel              TEXT NOT NULL,
    opened_by            TEXT NOT NULL,
    opened_at            TIMESTAMPTZ NOT NULL,
    password_changed_at  TIMESTAMPTZ
);
