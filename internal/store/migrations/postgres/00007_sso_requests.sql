-- +goose Up
-- Requests that applications send through the browser (SAML AuthnRequests),
-- kept until they expire. The key refuses a second request with the same id
-- from the same application (a replay); a request waiting for its browser to
-- sign in also holds the digest of the single-use token that resumes it.
CREATE TABLE sso_requests (
    tenant_id   TEXT NOT NULL,
    app_id      TEXT COLLATE "C" NOT NULL,
    request_id  TEXT COLLATE "C" NOT NULL, -- the protocol's own id (AuthnRequest ID)
    resume_hash TEXT COLLATE "C",          -- SHA-256 of the resume token while the request waits; NULL otherwise
    data        TEXT NOT NULL,             -- JSON: what answering needs (endpoint, relay state, flags); never a secret
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, app_id, request_id),
    FOREIGN KEY (tenant_id, app_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX sso_requests_resume_uq ON sso_requests (resume_hash);
CREATE INDEX sso_requests_expiry_ix ON sso_requests (expires_at);

-- +goose Down
DROP TABLE sso_requests;
