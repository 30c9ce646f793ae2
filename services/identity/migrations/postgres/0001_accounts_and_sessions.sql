-- Identity's tables: who may sign in and how they proved who they are.
-- Moved from intake (its migrations 0005–0014 built them there; intake's
-- 0016 hands them over), so they start here in their present shape.

-- A beneficiary's account: a claim to intake's registry entry (named by id;
-- the registry is another service's, so no foreign key) until its holder
-- proves the national ID is theirs (see masar_domain::AccountStanding).
-- The password is kept only as an argon2 hash; the number its credentials
-- went to sealed, with its blind index.
CREATE TABLE accounts (
    account_id           UUID PRIMARY KEY,
    association          TEXT NOT NULL,
    beneficiary_id       UUID NOT NULL,
    username             TEXT NOT NULL UNIQUE,
    password_hash        TEXT NOT NULL,
    must_change_password BIGINT NOT NULL,
    channel              TEXT NOT NULL,
    opened_by            TEXT NOT NULL,
    opened_at            TIMESTAMPTZ NOT NULL,
    password_changed_at  TIMESTAMPTZ,
    mobile               TEXT NOT NULL,
    mobile_index         TEXT,
    standing             TEXT NOT NULL,
    verified_at          TIMESTAMPTZ,
    verified_by          TEXT,
    closed_at            TIMESTAMPTZ,
    closed_reason        TEXT
);
-- One account per number and ID: a second registration with the same number opens nothing.
CREATE UNIQUE INDEX accounts_one_per_number ON accounts (beneficiary_id, mobile_index);
CREATE INDEX accounts_unverified ON accounts (association, opened_at) WHERE standing = 'unverified';

-- Staff passwords, as argon2 hashes. Who the staff are, and their roles and
-- branches, is the directory's; this table only lets them sign in.
CREATE TABLE staff_credentials (
    association          TEXT NOT NULL,
    username             TEXT NOT NULL,
    password_hash        TEXT NOT NULL,
    must_change_password BIGINT NOT NULL,
    set_by               TEXT NOT NULL,
    set_at               TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (association, username)
);

-- Failed sign-ins are counted per username and client address (as the
-- gateway vouched for it), so that nobody can lock a staff member out from
-- elsewhere.
CREATE TABLE sign_in_failures (
    association    TEXT NOT NULL,
    username       TEXT NOT NULL,
    client         TEXT NOT NULL,
    failures       BIGINT NOT NULL,
    last_failed_at TIMESTAMPTZ NOT NULL,
    locked_until   TIMESTAMPTZ,
    PRIMARY KEY (association, username, client)
);

-- Sign-in sessions. The refresh token is kept only as a SHA-256 hash and
-- replaced at each use; a revoked session can no longer be refreshed.
CREATE TABLE sessions (
    session_id   UUID PRIMARY KEY,
    association  TEXT NOT NULL,
    username     TEXT NOT NULL,
    refresh_hash TEXT NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL,
    refreshed_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ,
    revoked_why  TEXT
);
CREATE INDEX sessions_of_user ON sessions (association, username) WHERE revoked_at IS NULL;

-- Credentials sent by SMS on an anonymous registration, by blind index: the
-- holder of a national ID, and of a number, is told only a few times a day,
-- so that nobody can flood a person's phone by typing their ID.
CREATE TABLE credential_messages (
    national_id TEXT NOT NULL,
    mobile      TEXT NOT NULL,
    sent_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX credential_messages_by_national_id ON credential_messages (national_id, sent_at);
CREATE INDEX credential_messages_by_mobile ON credential_messages (mobile, sent_at);

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
