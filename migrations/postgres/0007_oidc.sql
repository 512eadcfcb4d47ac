-- OIDC sign-in (issue 4 points 1 and 2): each org's OpenID Connect connections, and the
-- logins in flight between `/sso/{org}/start` and `/sso/oidc/callback`.
-- Times are RFC 3339 UTC strings of fixed width, so text order is time order.

CREATE TABLE oidc_connections (
    id                TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    issuer            TEXT NOT NULL,
    client_id         TEXT NOT NULL,
    -- Kept as given: the token endpoint needs the secret itself (client_secret_basic,
    -- RFC 6749 §2.3.1), so it cannot be hashed. Never returned by the admin API.
    client_secret     TEXT NOT NULL,
    -- Space-separated scopes requested besides `openid`.
    scopes            TEXT NOT NULL,
    use_userinfo      BOOLEAN NOT NULL,
    -- The claim that names the user (`email`, `sub`, `preferred_username` ...), and the
    -- attribute of ours it is compared with.
    claim             TEXT NOT NULL,
    match_by          TEXT NOT NULL CHECK (match_by IN ('userName', 'email', 'externalId')),
    jit               BOOLEAN NOT NULL,
    enabled           BOOLEAN NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX oidc_connections_org ON oidc_connections(org_id, created_at);

-- A login started and not yet finished. Found by the hash of its `state`; bound to the
-- browser that started it by the hash of a random cookie value. Used once: the callback
-- deletes the row before it talks to the IdP.
CREATE TABLE oidc_logins (
    state_hash     TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    connection_id  TEXT NOT NULL REFERENCES oidc_connections(id) ON DELETE CASCADE,
    browser_hash   TEXT NOT NULL,
    nonce_hash     TEXT NOT NULL,
    -- RFC 7636: sent to the token endpoint, so kept as is; it lives minutes.
    pkce_verifier  TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL
);
CREATE INDEX oidc_logins_expires ON oidc_logins(expires_at);
CREATE INDEX oidc_logins_connection ON oidc_logins(connection_id);
