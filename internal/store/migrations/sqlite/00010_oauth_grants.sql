-- +goose Up
-- The OpenID provider's state. An authorization request lives from the
-- authorize endpoint until its code is redeemed and then until it expires,
-- so that a second use of the code is recognised (RFC 6749 §4.1.2). A grant
-- is what one authorization gave one client: the refresh tokens of one
-- rotation family and the access tokens issued from them; revoking it ends
-- them all. Codes, refresh tokens and opaque access tokens are stored only as
-- SHA-256 digests.
CREATE TABLE oauth_requests (
    tenant_id       TEXT NOT NULL,
    id              TEXT NOT NULL,
    app_id          TEXT NOT NULL,
    browser_hash    TEXT NOT NULL, -- SHA-256 of the browser-binding cookie that started the request
    data            TEXT NOT NULL, -- JSON: the request's parameters and, once signed in, the user and session
    code_hash       TEXT,
    code_expires_at TEXT,
    code_used_at    TEXT,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, app_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX oauth_requests_code_uq ON oauth_requests (code_hash);
CREATE INDEX oauth_requests_expiry_ix ON oauth_requests (expires_at);

CREATE TABLE oauth_grants (
    tenant_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
    app_id        TEXT NOT NULL,
    client_id     TEXT NOT NULL,
    user_id       TEXT,          -- NULL for client credentials
    session_id    TEXT,          -- the browser session it came from, for logout
    request_id    TEXT,          -- the authorization request, for code replay
    data          TEXT NOT NULL, -- JSON: scopes, auth time, methods
    created_at    TEXT NOT NULL,
    expires_at    TEXT,          -- the family's absolute end; NULL: none
    revoked_at    TEXT,
    revoke_reason TEXT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, app_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX oauth_grants_session_ix ON oauth_grants (tenant_id, session_id);
CREATE INDEX oauth_grants_request_ix ON oauth_grants (tenant_id, request_id);
CREATE INDEX oauth_grants_user_ix ON oauth_grants (tenant_id, user_id);

-- Access and refresh tokens by digest. An access token's digest is of its
-- opaque value or, for a JWT, of its jti.
CREATE TABLE oauth_tokens (
    hash       TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    kind       TEXT NOT NULL, -- access, refresh
    grant_id   TEXT,          -- NULL for client credentials
    app_id     TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    user_id    TEXT,
    scopes     TEXT NOT NULL, -- JSON array
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT,          -- a refresh token that was rotated
    revoked_at TEXT,
    FOREIGN KEY (tenant_id, app_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX oauth_tokens_grant_ix ON oauth_tokens (tenant_id, grant_id);
CREATE INDEX oauth_tokens_expiry_ix ON oauth_tokens (expires_at);

-- Consent a user gave a third-party application, until they take it back.
CREATE TABLE oauth_consents (
    tenant_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    app_id     TEXT NOT NULL,
    scopes     TEXT NOT NULL, -- JSON array
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, app_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, app_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE
);

-- The ids (jti) of client assertions (private_key_jwt) already used, until
-- they expire: an assertion authenticates once (OIDC Core §9).
CREATE TABLE oauth_assertions (
    tenant_id  TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, client_id, jti)
);
CREATE INDEX oauth_assertions_expiry_ix ON oauth_assertions (expires_at);

-- +goose Down
DROP TABLE oauth_assertions;
DROP TABLE oauth_consents;
DROP TABLE oauth_tokens;
DROP TABLE oauth_grants;
DROP TABLE oauth_requests;
