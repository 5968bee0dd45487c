-- +goose Up
-- Browser sessions. The cookie holds a random token; only its SHA-256 is kept.
CREATE TABLE sessions (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    token_hash   TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    amr          TEXT NOT NULL, -- JSON ["pwd","otp"]: how the user proved who they are (RFC 8176)
    client_ip    TEXT NOT NULL,
    user_agent   TEXT NOT NULL,
    created_at   TEXT NOT NULL, -- also the authentication time
    mfa_at       TEXT,
    last_seen_at TEXT NOT NULL,
    idle_until   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX sessions_token_uq ON sessions (token_hash);
CREATE INDEX sessions_user_ix ON sessions (tenant_id, user_id);
CREATE INDEX sessions_expiry_ix ON sessions (expires_at);

-- Single-use, expiring secrets: links sent by mail, a sign-in waiting for its
-- second factor, WebAuthn ceremonies, a TOTP secret waiting for its first code.
CREATE TABLE sign_in_tokens (
    token_hash TEXT NOT NULL PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    data       TEXT NOT NULL, -- JSON, never a secret in clear
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX sign_in_tokens_user_ix ON sign_in_tokens (tenant_id, user_id, purpose);
CREATE INDEX sign_in_tokens_expiry_ix ON sign_in_tokens (expires_at);

-- Failed sign-ins per account (or per unknown login, keyed by its digest, so
-- that unknown accounts are throttled exactly like real ones).
CREATE TABLE sign_in_failures (
    tenant_id   TEXT NOT NULL,
    subject     TEXT NOT NULL,
    failures    INTEGER NOT NULL,
    last_failed TEXT NOT NULL,
    PRIMARY KEY (tenant_id, subject)
);
CREATE INDEX sign_in_failures_age_ix ON sign_in_failures (last_failed);

-- Second factors: TOTP (sealed secret, last accepted step) and WebAuthn
-- credentials (the library's credential record).
CREATE TABLE mfa_factors (
    tenant_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    kind          TEXT NOT NULL, -- totp or webauthn
    name          TEXT NOT NULL,
    secret        BLOB, -- totp: sealed with the master key
    last_step     INTEGER NOT NULL,
    credential_id TEXT, -- webauthn: base64url credential id
    credential    TEXT, -- webauthn: JSON
    created_at    TEXT NOT NULL,
    last_used_at  TEXT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX mfa_factors_user_ix ON mfa_factors (tenant_id, user_id);
CREATE UNIQUE INDEX mfa_factors_credential_uq ON mfa_factors (tenant_id, credential_id);

-- Recovery codes, as HMACs; a used code is deleted.
CREATE TABLE recovery_codes (
    tenant_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    code_hash  TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, code_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

-- A tenant's own host name for its sign-in pages and portal.
ALTER TABLE tenants ADD COLUMN domain TEXT;
CREATE UNIQUE INDEX tenants_domain_uq ON tenants (domain);

-- Bookmark applications open this URL from the portal.
ALTER TABLE applications ADD COLUMN launch_url TEXT NOT NULL DEFAULT '';

-- +goose Down
DROP INDEX tenants_domain_uq;
ALTER TABLE tenants DROP COLUMN domain;
ALTER TABLE applications DROP COLUMN launch_url;
DROP TABLE recovery_codes;
DROP TABLE mfa_factors;
DROP TABLE sign_in_failures;
DROP TABLE sign_in_tokens;
DROP TABLE sessions;
