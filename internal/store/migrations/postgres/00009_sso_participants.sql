-- +goose Up
-- The applications that received an assertion within a Tessera session, for
-- single logout (SAML profiles §4.4): what they know the user and the
-- session by. No foreign key to sessions: the rows must outlive the session
-- while a logout is propagated; the logout removes them, and the session
-- purge removes those of sessions that are gone.
CREATE TABLE sso_participants (
    tenant_id      TEXT NOT NULL,
    session_id     TEXT COLLATE "C" NOT NULL,
    app_id         TEXT COLLATE "C" NOT NULL,
    name_id        TEXT NOT NULL,
    name_id_format TEXT NOT NULL,
    session_index  TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, session_id, app_id)
);
CREATE INDEX sso_participants_created_ix ON sso_participants (created_at);

-- +goose Down
DROP TABLE sso_participants;
