-- +goose Up
-- The audit chain (package audit): every event keeps the hash of the event
-- before it and its own, SHA-256 over a canonical encoding. The head row
-- keeps the newest hash beside the newest seq, and the anchor: the seq and
-- hash just before the oldest event still here (zero until events are
-- archived to files). Events written before this migration have no hashes
-- until the server seals them at start (store.SealAuditLog).
ALTER TABLE audit_heads ADD COLUMN hash BLOB;
ALTER TABLE audit_heads ADD COLUMN anchor_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit_heads ADD COLUMN anchor_hash BLOB NOT NULL DEFAULT x'0000000000000000000000000000000000000000000000000000000000000000';
ALTER TABLE audit_events ADD COLUMN prev_hash BLOB;
ALTER TABLE audit_events ADD COLUMN hash BLOB;

-- The System Log's most used filter: by target (an object's history,
-- sign-ins to an application). Filters by actor or time scan the tenant's
-- log in seq order: on SQLite every index is one more page written by
-- every append of the single writer, and an index each for actor and time
-- cost a third of the append rate (docs/benchmarks.md). PostgreSQL has them.
CREATE INDEX audit_events_target ON audit_events (tenant_id, target_type, target_id, seq);

-- Append-only: a sealed event is never updated, and only archiving (which
-- first moves the anchor past them) deletes events. Someone who can drop
-- triggers can still tamper; verification then names the first bad event.
-- +goose StatementBegin
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
WHEN OLD.hash IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
WHEN OLD.seq > COALESCE((SELECT anchor_seq FROM audit_heads WHERE tenant_id = OLD.tenant_id), 0)
BEGIN
    SELECT RAISE(ABORT, 'audit events are deleted only by archiving');
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER audit_events_no_delete;
DROP TRIGGER audit_events_no_update;
DROP INDEX audit_events_target;
ALTER TABLE audit_events DROP COLUMN hash;
ALTER TABLE audit_events DROP COLUMN prev_hash;
ALTER TABLE audit_heads DROP COLUMN anchor_hash;
ALTER TABLE audit_heads DROP COLUMN anchor_seq;
ALTER TABLE audit_heads DROP COLUMN hash;
