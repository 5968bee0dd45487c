-- +goose Up
-- Installation-wide facts, such as the check value that proves every node
-- runs with the same master key.
CREATE TABLE system_settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- SQLite compares TEXT bytewise (BINARY), which the prefix ranges rely on.
-- Times are fixed-width RFC 3339 UTC text so that text order is time order.
CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE tenant_settings (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    key       TEXT NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, key)
);

CREATE TABLE organizations (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL,
    external_id TEXT,
    status      TEXT NOT NULL,
    version     INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX organizations_name_key_uq ON organizations (tenant_id, name_key);
CREATE UNIQUE INDEX organizations_external_id_uq ON organizations (tenant_id, external_id) WHERE external_id IS NOT NULL;

CREATE TABLE organization_domains (
    tenant_id       TEXT NOT NULL,
    domain          TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    verified        INTEGER NOT NULL,
    token           TEXT NOT NULL,
    verified_at     TEXT,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, domain),
    FOREIGN KEY (tenant_id, organization_id) REFERENCES organizations (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX organization_domains_org ON organization_domains (tenant_id, organization_id);

CREATE TABLE users (
    tenant_id           TEXT NOT NULL REFERENCES tenants (id),
    id                  TEXT NOT NULL,
    username            TEXT NOT NULL,
    username_key        TEXT NOT NULL,
    email_key           TEXT,
    emails              TEXT NOT NULL,
    given_name          TEXT NOT NULL,
    family_name         TEXT NOT NULL,
    display_name        TEXT NOT NULL,
    phone               TEXT NOT NULL,
    locale              TEXT NOT NULL,
    time_zone           TEXT NOT NULL,
    attributes          TEXT NOT NULL,
    organization_id     TEXT,
    source              TEXT NOT NULL,
    status              TEXT NOT NULL,
    locked              INTEGER NOT NULL,
    password_changed_at TEXT,
    status_changed_at   TEXT NOT NULL,
    version             INTEGER NOT NULL,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, organization_id) REFERENCES organizations (tenant_id, id)
);
CREATE UNIQUE INDEX users_username_key_uq ON users (tenant_id, username_key);
CREATE UNIQUE INDEX users_email_key_uq ON users (tenant_id, email_key) WHERE email_key IS NOT NULL;
CREATE INDEX users_status ON users (tenant_id, status, id);
CREATE INDEX users_org ON users (tenant_id, organization_id, id);
-- An organization admin's most common view: its suspended (or staged) users.
CREATE INDEX users_org_status ON users (tenant_id, organization_id, status, id);
CREATE INDEX users_updated ON users (tenant_id, updated_at, id);

-- One sign-in namespace per tenant: a user's username key and primary email
-- key, so that no string names two accounts (Ada's username can't be Bob's
-- email).
CREATE TABLE user_logins (
    tenant_id TEXT NOT NULL,
    login_key TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    kind      TEXT NOT NULL, -- username or email
    PRIMARY KEY (tenant_id, login_key),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX user_logins_user ON user_logins (tenant_id, user_id);

CREATE TABLE user_external_ids (
    tenant_id   TEXT NOT NULL,
    source      TEXT NOT NULL,
    external_id TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, source, external_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX user_external_ids_user_source_uq ON user_external_ids (tenant_id, user_id, source);

CREATE TABLE passwords (
    tenant_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    hash       TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE password_history (
    tenant_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    hash       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, seq),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE groups (
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    id              TEXT NOT NULL,
    name            TEXT NOT NULL,
    name_key        TEXT NOT NULL,
    description     TEXT NOT NULL,
    organization_id TEXT,
    scope           TEXT NOT NULL, -- organization_id or '' so names are unique per scope
    external_id     TEXT,
    version         INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, organization_id) REFERENCES organizations (tenant_id, id)
);
CREATE UNIQUE INDEX groups_name_key_uq ON groups (tenant_id, scope, name_key);
CREATE UNIQUE INDEX groups_external_id_uq ON groups (tenant_id, external_id) WHERE external_id IS NOT NULL;

CREATE TABLE group_members (
    tenant_id  TEXT NOT NULL,
    group_id   TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, group_id, user_id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX group_members_user ON group_members (tenant_id, user_id, group_id);

CREATE TABLE api_tokens (
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    id              TEXT NOT NULL,
    name            TEXT NOT NULL,
    role            TEXT NOT NULL,
    organization_id TEXT,
    digest          TEXT NOT NULL UNIQUE,
    created_at      TEXT NOT NULL,
    expires_at      TEXT,
    revoked_at      TEXT,
    last_used_at    TEXT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, organization_id) REFERENCES organizations (tenant_id, id)
);

CREATE TABLE idempotency_keys (
    tenant_id   TEXT NOT NULL,
    principal   TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status      INTEGER NOT NULL, -- 0 while the first request is in flight
    headers     TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, principal, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- The head row per tenant numbers the log; locking one tenant's head never
-- blocks another tenant's writers.
CREATE TABLE audit_heads (
    tenant_id TEXT PRIMARY KEY,
    seq       INTEGER NOT NULL
);

CREATE TABLE audit_events (
    tenant_id   TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    at          TEXT NOT NULL,
    actor_type  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    client_ip   TEXT NOT NULL,
    user_agent  TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    action      TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    details     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE audit_heads;
DROP TABLE idempotency_keys;
DROP TABLE api_tokens;
DROP TABLE group_members;
DROP TABLE groups;
DROP TABLE password_history;
DROP TABLE passwords;
DROP TABLE user_external_ids;
DROP TABLE user_logins;
DROP TABLE users;
DROP TABLE organization_domains;
DROP TABLE organizations;
DROP TABLE tenant_settings;
DROP TABLE tenants;
DROP TABLE system_settings;
