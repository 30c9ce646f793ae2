-- Whose an account is. An account opened online is a claim to a national ID
-- until its holder proves it is theirs (see masar_domain::AccountStanding);
-- several people may claim one ID, so an entry may have several accounts.
ALTER TABLE accounts DROP CONSTRAINT accounts_beneficiary_id_key;
ALTER TABLE accounts ADD COLUMN mobile TEXT;
ALTER TABLE accounts ADD COLUMN standing TEXT;
ALTER TABLE accounts ADD COLUMN verified_at TIMESTAMPTZ;
ALTER TABLE accounts ADD COLUMN verified_by TEXT;
ALTER TABLE accounts ADD COLUMN closed_at TIMESTAMPTZ;
ALTER TABLE accounts ADD COLUMN closed_reason TEXT;
-- Accounts opened by reception went to the number staff entered: verified.
UPDATE accounts a SET mobile = b.mobile,
    standing = CASE WHEN a.opened_by = 'beneficiary' THEN 'unverified' ELSE 'registry_mobile' END,
    verified_at = CASE WHEN a.opened_by = 'beneficiary' THEN NULL ELSE a.opened_at END,
    verified_by = CASE WHEN a.opened_by = 'beneficiary' THEN NULL ELSE a.opened_by END
FROM beneficiaries b WHERE b.beneficiary_id = a.beneficiary_id;
ALTER TABLE accounts ALTER COLUMN mobile SET NOT NULL;
ALTER TABLE accounts ALTER COLUMN standing SET NOT NULL;
-- One account per number and ID: a second registration with the same number opens nothing.
CREATE UNIQUE INDEX accounts_one_per_number ON accounts (beneficiary_id, mobile);
CREATE INDEX accounts_unverified ON accounts (association, opened_at) WHERE standing = 'unverified';

-- The registry's number is the person's when staff entered it or a verified
-- account proved it; a number typed online is provisional.
ALTER TABLE beneficiaries ADD COLUMN contact_confirmed BIGINT NOT NULL DEFAULT 0;
UPDATE beneficiaries SET contact_confirmed = 1 WHERE registered_by <> 'beneficiary';

-- Which account filed a request or asked a question: all an unverified account sees.
ALTER TABLE service_requests ADD COLUMN filed_by_account UUID;
CREATE INDEX requests_filed_by_account ON service_requests (filed_by_account) WHERE filed_by_account IS NOT NULL;
ALTER TABLE inquiries ADD COLUMN asked_by_account UUID;
CREATE INDEX inquiries_asked_by_account ON inquiries (asked_by_account) WHERE asked_by_account IS NOT NULL;

-- External identity checks (Nafath-style) an account's holder started.
CREATE TABLE identity_checks (
    check_id       UUID PRIMARY KEY,
    account_id     UUID NOT NULL REFERENCES accounts (account_id),
    association    TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    number         BIGINT NOT NULL,
    answer         TEXT NOT NULL,
    asked_at       TIMESTAMPTZ NOT NULL,
    answered_at    TIMESTAMPTZ
);
CREATE INDEX identity_checks_of_account ON identity_checks (account_id, asked_at);
