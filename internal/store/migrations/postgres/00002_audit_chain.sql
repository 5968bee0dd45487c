-- +goose Up
-- The audit chain (package audit): every event keeps the hash of the event
-- before it and its own, SHA-256 over a canonical encoding. The head row
-- keeps the newest hash beside the newest seq, and the anchor: the seq and
-- hash just before the oldest event still here (zero until events are
-- archived to files). Events written before this migration have no hashes
-- until the server seals them at start (store.SealAuditLog).
ALTER TABLE audit_heads
    ADD COLUMN hash BYTEA,
    ADD COLUMN anchor_seq BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN anchor_hash BYTEA NOT NULL DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
ALTER TABLE audit_events
    ADD COLUMN prev_hash BYTEA,
    ADD COLUMN hash BYTEA;

-- The System Log's filters: by target (an object's history, sign-ins to an
-- application), by actor, by time.
CREATE INDEX audit_events_target ON audit_events (tenant_id, target_type, target_id, seq);
CREATE INDEX audit_events_actor ON audit_events (tenant_id, actor_id, seq);
CREATE INDEX audit_events_at ON audit_events (tenant_id, at);

-- Append-only: a sealed event is never updated, and only archiving (which
-- first moves the anchor past them) deletes events. Someone who can drop
-- triggers can still tamper; verification then names the first bad event.
-- +goose StatementBegin
CREATE FUNCTION audit_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF OLD.hash IS NOT NULL THEN
            RAISE EXCEPTION 'audit events are append-only';
        END IF;
        RETURN NEW;
    END IF;
    IF OLD.seq > COALESCE((SELECT anchor_seq FROM audit_heads WHERE tenant_id = OLD.tenant_id), 0) THEN
        RAISE EXCEPTION 'audit events are deleted only by archiving';
    END IF;
    RETURN OLD;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_events_guard BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_guard();

-- +goose Down
DROP TRIGGER audit_events_guard ON audit_events;
DROP FUNCTION audit_events_guard();
DROP INDEX audit_events_at;
DROP INDEX audit_events_actor;
DROP INDEX audit_events_target;
ALTER TABLE audit_events DROP COLUMN hash, DROP COLUMN prev_hash;
ALTER TABLE audit_heads DROP COLUMN anchor_hash, DROP COLUMN anchor_seq, DROP COLUMN hash;
