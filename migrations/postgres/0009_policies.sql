-- Policies (issue 4, point 4) and email sign-in codes (issue 4, point 3).
--
-- A policy belongs to an org and applies to the teams listed in policy_teams. `kind`
-- `sso`: the org's one SSO policy (its teams must sign in through the org's SSO
-- connection). `settings`: a settings object that overrides the settings of its teams.
-- Where two settings policies set the same key on a team, the one changed last wins:
-- `revision` is a per-org counter bumped by every change.

CREATE TABLE policies (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('sso', 'settings')),
    name        TEXT NOT NULL,
    settings    JSONB NOT NULL DEFAULT '{}',
    revision    BIGINT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX policies_org ON policies(org_id, kind);
-- At most one SSO policy per org.
CREATE UNIQUE INDEX policies_one_sso ON policies(org_id) WHERE kind = 'sso';

CREATE TABLE policy_teams (
    policy_id  TEXT NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
    team_id    TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    org_id     TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    PRIMARY KEY (policy_id, team_id)
);
CREATE INDEX policy_teams_team ON policy_teams(team_id);

-- One-time email sign-in codes: only a hash is stored; a code is dead once used,
-- expired, or after too many wrong attempts.
CREATE TABLE email_sign_in_codes (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES scim_users(id) ON DELETE CASCADE,
    code_hash   TEXT NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT
);
CREATE INDEX email_sign_in_codes_user ON email_sign_in_codes(org_id, user_id, created_at);
