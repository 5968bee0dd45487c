-- +goose Up
-- The OpenID Connect client side of applications of kind oidc: one row per
-- application, the settings as JSON. Client ids are random and unique across
-- tenants (the provider finds a request's client by its client_id, within
-- the tenant of the issuer). Secrets are never stored: only HMAC-SHA256
-- digests under a key derived from the master key, and during a rotation the
-- previous secret's digest with the moment it stops being accepted.
CREATE TABLE oidc_clients (
    tenant_id                  TEXT NOT NULL,
    app_id                     TEXT NOT NULL,
    client_id                  TEXT NOT NULL,
    config                     TEXT NOT NULL, -- JSON: type, redirect URIs, grants, scopes, authentication, lifetimes
    secret_digest              TEXT,          -- NULL for public clients
    previous_secret_digest     TEXT,
    previous_secret_expires_at TEXT,
    version                    INTEGER NOT NULL,
    created_at                 TEXT NOT NULL,
    updated_at                 TEXT NOT NULL,
    PRIMARY KEY (tenant_id, app_id),
    FOREIGN KEY (tenant_id, app_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX oidc_clients_client_id_uq ON oidc_clients (client_id);

-- +goose Down
DROP TABLE oidc_clients;
