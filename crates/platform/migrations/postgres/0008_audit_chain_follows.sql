-- A chain's head follows the row appended to it, within the same statement:
-- an append is the locking read of the head and this insert, one round trip
-- fewer per audited action, and no code path can append without moving it.
CREATE FUNCTION audit_chain_follows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE audit_chain_heads SET hash = NEW.hash WHERE chain = NEW.chain;
    RETURN NULL;
END
$$;
CREATE TRIGGER audit_chain_follows AFTER INSERT ON audit_log
    FOR EACH ROW WHEN (NEW.chain <> '') EXECUTE FUNCTION audit_chain_follows();
