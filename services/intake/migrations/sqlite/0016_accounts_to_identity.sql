-- Accounts, sign-in sessions, staff credentials and identity checks are the
-- identity service's now (services/identity, its own schema). Intake learns
-- that an entry has an account from identity's `account.opened`. The old
-- tables stay, unread, for identity to take their rows over on its first
-- start (see masar_identity::adopt); a later version drops them.
ALTER TABLE beneficiaries ADD COLUMN has_account INTEGER NOT NULL DEFAULT 0;
UPDATE beneficiaries SET has_account = 1 WHERE beneficiary_id IN (SELECT beneficiary_id FROM accounts);
