-- Admin API bearer tokens, kept apart from SCIM tokens so neither works on the other's API.
-- Stored only as SHA-256 hashes, like scim_tokens.

CREATE TABLE admin_tokens (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    label        TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    revoked_at   TEXT
);
CREATE INDEX admin_tokens_org ON admin_tokens(org_id);
