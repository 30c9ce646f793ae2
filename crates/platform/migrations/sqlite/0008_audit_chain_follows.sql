-- A chain's head follows the row appended to it, within the same statement:
-- an append is the read of the head and this insert, one round trip fewer
-- per audited action, and no code path can append without moving it.
CREATE TRIGGER audit_chain_follows AFTER INSERT ON audit_log
    WHEN NEW.chain <> ''
BEGIN
    UPDATE audit_chain_heads SET hash = NEW.hash WHERE chain = NEW.chain;
END;
