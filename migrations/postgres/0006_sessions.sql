-- Sessions opened by a sign-in (issue 4, point 5): the server-wide keys that sign access
-- tokens (published as JWKS), the sessions, and their rotating refresh tokens.
-- Times are RFC 3339 UTC strings of fixed width, so text order is time order.

-- Server-wide, like server_secrets: every process signs with the one key whose `signer`
-- is 1 (at most one row: NULLs are distinct in a UNIQUE column), and verifies with any
-- key by `kid`. A retired key stays published until the tokens it signed have expired.
CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    alg          TEXT NOT NULL CHECK (alg IN ('EdDSA')),
    -- The Ed25519 seed, base64; never leaves the server.
    private_key  TEXT NOT NULL,
    -- The Ed25519 public key, base64url (the JWK's `x`).
    public_key   TEXT NOT NULL,
    signer       INTEGER UNIQUE CHECK (signer = 1),
    created_at   TEXT NOT NULL,
    retired_at   TEXT
);

-- A session is one sign-in and the family of refresh tokens descending from it: reuse
-- of a retired refresh token revokes the whole family (the session).
CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL,
    -- `oidc:<connection>`, `saml:<connection>`, `email_code`.
    method          TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    refreshed_at    TEXT,
    revoked_at      TEXT,
    revoked_reason  TEXT
);
CREATE INDEX sessions_user ON sessions(org_id, user_id);

-- Refresh tokens, stored only as SHA-256 hashes. A used token is kept (with `used_at`)
-- so that presenting it again is recognised as reuse.
CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    org_id      TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT
);
CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);
