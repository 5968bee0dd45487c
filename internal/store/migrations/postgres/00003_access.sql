-- +goose Up
CREATE TABLE applications (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    id         TEXT COLLATE "C" NOT NULL,
    name       TEXT NOT NULL,
    name_key   TEXT COLLATE "C" NOT NULL,
    kind       TEXT NOT NULL,
    status     TEXT NOT NULL,
    logo_url   TEXT NOT NULL,
    roles      TEXT NOT NULL, -- JSON [{"name","description"}]
    seats      INTEGER NOT NULL, -- 0: unlimited
    version    BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX applications_name_key_uq ON applications (tenant_id, name_key);

CREATE TABLE business_roles (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    id          TEXT COLLATE "C" NOT NULL,
    name        TEXT NOT NULL,
    name_key    TEXT COLLATE "C" NOT NULL,
    description TEXT NOT NULL,
    version     BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX business_roles_name_key_uq ON business_roles (tenant_id, name_key);

CREATE TABLE business_role_holders (
    tenant_id   TEXT NOT NULL,
    role_id     TEXT COLLATE "C" NOT NULL,
    holder_type TEXT NOT NULL, -- user or group
    holder_id   TEXT COLLATE "C" NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, role_id, holder_type, holder_id),
    FOREIGN KEY (tenant_id, role_id) REFERENCES business_roles (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX business_role_holders_holder ON business_role_holders (tenant_id, holder_type, holder_id);

CREATE TABLE assignments (
    tenant_id      TEXT NOT NULL,
    id             TEXT COLLATE "C" NOT NULL,
    app_id         TEXT COLLATE "C" NOT NULL,
    principal_type TEXT NOT NULL, -- user, group or business_role
    principal_id   TEXT COLLATE "C" NOT NULL,
    roles          TEXT NOT NULL, -- JSON array of application role names
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, app_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX assignments_principal_uq ON assignments (tenant_id, app_id, principal_type, principal_id);
CREATE INDEX assignments_by_principal ON assignments (tenant_id, principal_type, principal_id);

-- The interval index: one row per (user, application, role, path) for each
-- span it was held. valid_to NULL: held now. No foreign keys: history
-- outlives deleted users, groups and applications.
CREATE TABLE access_intervals (
    tenant_id  TEXT NOT NULL,
    app_id     TEXT COLLATE "C" NOT NULL,
    user_id    TEXT COLLATE "C" NOT NULL,
    app_role   TEXT COLLATE "C" NOT NULL,
    via_type   TEXT COLLATE "C" NOT NULL,
    via_id     TEXT COLLATE "C" NOT NULL,
    valid_from TIMESTAMPTZ NOT NULL,
    valid_to   TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, app_id, user_id, app_role, via_type, via_id, valid_from)
);
CREATE INDEX access_intervals_user ON access_intervals (tenant_id, user_id, valid_from, valid_to);
CREATE INDEX access_intervals_granted ON access_intervals (tenant_id, app_id, valid_from);
CREATE INDEX access_intervals_revoked ON access_intervals (tenant_id, app_id, valid_to) WHERE valid_to IS NOT NULL;
CREATE INDEX access_intervals_open_user ON access_intervals (tenant_id, user_id) WHERE valid_to IS NULL;
-- At most one open interval per grant, whatever happens concurrently; its
-- (tenant, app, user) prefix also counts seats.
CREATE UNIQUE INDEX access_intervals_open_uq ON access_intervals (tenant_id, app_id, user_id, app_role, via_type, via_id)
    WHERE valid_to IS NULL;

-- +goose Down
DROP TABLE access_intervals;
DROP TABLE assignments;
DROP TABLE business_role_holders;
DROP TABLE business_roles;
DROP TABLE applications;
