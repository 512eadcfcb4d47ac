-- SAML 2.0 sign-in (issue 4): the org's SAML connections, the AuthnRequests we sent and
-- await an answer to (InResponseTo), and the assertions already consumed (replay cache).
-- Both caches live in the database so that any process answers the same.

CREATE TABLE saml_connections (
    id                   TEXT PRIMARY KEY,
    org_id               TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    idp_entity_id        TEXT NOT NULL,
    -- Where AuthnRequests go (HTTP-Redirect binding).
    idp_sso_url          TEXT NOT NULL,
    -- One or more PEM certificates; signatures are verified against these only.
    idp_certificate      TEXT NOT NULL,
    allow_sha1           BOOLEAN NOT NULL,
    allow_idp_initiated  BOOLEAN NOT NULL,
    -- NULL: the NameID identifies the user; else the name of the attribute that does.
    identity_attribute   TEXT,
    match_by             TEXT NOT NULL CHECK (match_by IN ('user_name', 'email', 'external_id')),
    jit                  BOOLEAN NOT NULL,
    enabled              BOOLEAN NOT NULL,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);
CREATE INDEX saml_connections_org ON saml_connections(org_id);

-- AuthnRequests awaiting their Response; a row is deleted when a Response consumes it.
CREATE TABLE saml_requests (
    id             TEXT PRIMARY KEY,
    connection_id  TEXT NOT NULL REFERENCES saml_connections(id) ON DELETE CASCADE,
    org_id         TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL
);
CREATE INDEX saml_requests_expiry ON saml_requests(expires_at);

-- Assertion IDs seen, kept until the assertion itself expires (SAML profiles §4.1.4.5).
CREATE TABLE saml_assertions (
    connection_id  TEXT NOT NULL REFERENCES saml_connections(id) ON DELETE CASCADE,
    assertion_id   TEXT NOT NULL,
    org_id         TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    expires_at     TEXT NOT NULL,
    PRIMARY KEY (connection_id, assertion_id)
);
CREATE INDEX saml_assertions_expiry ON saml_assertions(expires_at);
