-- +goose Up
-- The service-provider side of applications of kind saml: one row per
-- application, the configuration as JSON. Entity ids are unique per tenant
-- (the IdP finds an AuthnRequest's application by its issuer) and compared
-- as exact strings.
CREATE TABLE saml_apps (
    tenant_id  TEXT NOT NULL,
    app_id     TEXT COLLATE "C" NOT NULL,
    entity_id  TEXT COLLATE "C" NOT NULL,
    config     TEXT NOT NULL, -- JSON: endpoints, name id, attributes, signing, encryption, certificate
    version    BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, app_id),
    FOREIGN KEY (tenant_id, app_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX saml_apps_entity_id_uq ON saml_apps (tenant_id, entity_id);

-- +goose Down
DROP TABLE saml_apps;
