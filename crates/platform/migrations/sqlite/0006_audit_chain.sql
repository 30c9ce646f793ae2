-- Each audit row holds the hash of the row before it in its chain (the
-- case's rows, or an association's rows about no case) and its own, so an
-- edit or a removal made around the append-only triggers shows. The head of
-- each chain is kept; `masar audit verify` checks every chain.
ALTER TABLE audit_log ADD COLUMN chain TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN hash TEXT NOT NULL DEFAULT '';
CREATE TABLE audit_chain_heads (
    chain TEXT PRIMARY KEY,
    hash  TEXT NOT NULL
);
