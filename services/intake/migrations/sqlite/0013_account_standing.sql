-- Whose an account is. An account opened online is a claim to a national ID
-- until its holder proves it is theirs (see masar_domain::AccountStanding);
-- several people may claim one ID, so an entry may have several accounts.
CREATE TABLE accounts_with_standing (
    account_id           TEXT PRIMARY KEY,
    association          TEXT NOT NULL,
    beneficiary_id       TEXT NOT NULL REFERENCES beneficiaries (beneficiary_id),
    username             TEXT NOT NULL UNIQUE,
    password_hash        TEXT NOT NULL,
    must_change_password INTEGER NOT NULL,
    channel              TEXT NOT NULL,
    opened_by            TEXT NOT NULL,
    opened_at            TEXT NOT NULL,
    password_changed_at  TEXT,
    -- The number its credentials went to.
    mobile               TEXT NOT NULL,
    standing             TEXT NOT NULL,
    verified_at          TEXT,
    verified_by          TEXT,
    closed_at            TEXT,
    closed_reason        TEXT
);
-- Accounts opened by reception went to the number staff entered: verified.
INSERT INTO accounts_with_standing
SELECT a.account_id, a.association, a.beneficiary_id, a.username, a.password_hash, a.must_change_password,
       a.channel, a.opened_by, a.opened_at, a.password_changed_at, b.mobile,
       CASE WHEN a.opened_by = 'beneficiary' THEN 'unverified' ELSE 'registry_mobile' END,
       CASE WHEN a.opened_by = 'beneficiary' THEN NULL ELSE a.opened_at END,
       CASE WHEN a.opened_by = 'beneficiary' THEN NULL ELSE a.opened_by END,
       NULL, NULL
FROM accounts a JOIN beneficiaries b ON b.beneficiary_id = a.beneficiary_id;
DROP TABLE accounts;
ALTER TABLE accounts_with_standing RENAME TO accounts;
-- One account per number and ID: a second registration with the same number opens nothing.
CREATE UNIQUE INDEX accounts_one_per_number ON accounts (beneficiary_id, mobile);
CREATE INDEX accounts_unverified ON accounts (association, opened_at) WHERE standing = 'unverified';

-- The registry's number is the person's when staff entered it or a verified
-- account proved it; a number typed online is provisional.
ALTER TABLE beneficiaries ADD COLUMN contact_confirmed INTEGER NOT NULL DEFAULT 0;
UPDATE beneficiaries SET contact_confirmed = 1 WHERE registered_by <> 'beneficiary';

-- Which account filed a request or asked a question: all an unverified account sees.
ALTER TABLE service_requests ADD COLUMN filed_by_account TEXT;
CREATE INDEX requests_filed_by_account ON service_requests (filed_by_account) WHERE filed_by_account IS NOT NULL;
ALTER TABLE inquiries ADD COLUMN asked_by_account TEXT;
CREATE INDEX inquiries_asked_by_account ON inquiries (asked_by_account) WHERE asked_by_account IS NOT NULL;

-- External identity checks (Nafath-style) an account's holder started.
CREATE TABLE identity_checks (
    check_id       TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts (account_id),
    association    TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    number         INTEGER NOT NULL,
    answer         TEXT NOT NULL,
    asked_at       TEXT NOT NULL,
    answered_at    TEXT
);
CREATE INDEX identity_checks_of_account ON identity_checks (account_id, asked_at);
