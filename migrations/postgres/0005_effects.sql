-- Outbound effects of provisioning (issue 3, points 3 and 6): the server-wide secrets
-- several processes share (the invitation signing key), and the team entries an IdP
-- writes on a user (the rollcall User extension's `teams`), which feed the rules.

CREATE TABLE server_secrets (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

-- (user, team, role) as the IdP sent them; the memberships table says what came of it.
CREATE TABLE user_team_attributes (
    user_id  TEXT NOT NULL REFERENCES scim_users(id) ON DELETE CASCADE,
    team_id  TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    role     TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    PRIMARY KEY (user_id, team_id)
);
CREATE INDEX user_team_attributes_team ON user_team_attributes(team_id);
