-- +goose Up
-- Signing keys of the SAML IdP and the OpenID Provider, per tenant, purpose
-- (saml, oidc) and algorithm (RS256, ES256). The private key is PKCS #8
-- sealed with the master key; the certificate is public.
CREATE TABLE signing_keys (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    id           TEXT COLLATE "C" NOT NULL,
    purpose      TEXT NOT NULL,
    algorithm    TEXT NOT NULL,
    state        TEXT NOT NULL, -- next, active or retired
    certificate  BYTEA NOT NULL, -- DER, self-signed X.509
    sealed_key   BYTEA NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    activated_at TIMESTAMPTZ,
    retired_at   TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id)
);
-- One active and one next key per tenant, purpose and algorithm: racing
-- creators and rotations cannot make a second.
CREATE UNIQUE INDEX signing_keys_current_uq ON signing_keys (tenant_id, purpose, algorithm, state)
    WHERE state IN ('active', 'next');
CREATE INDEX signing_keys_retired_ix ON signing_keys (tenant_id, purpose, algorithm, retired_at);

-- +goose Down
DROP TABLE signing_keys;
