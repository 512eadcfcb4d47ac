-- Teams, subscriptions and seats, memberships, org roles, group mappings, org settings
-- and the audit log (DESIGN.md "Domain model", "Provisioning rules").

CREATE TABLE subscriptions (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    label       TEXT NOT NULL,
    plan        TEXT NOT NULL,
    seats       INTEGER NOT NULL CHECK (seats >= 0),
    created_at  TEXT NOT NULL
);
CREATE INDEX subscriptions_org ON subscriptions(org_id);

CREATE TABLE teams (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    name_norm        TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    login_type       TEXT NOT NULL CHECK (login_type IN ('email', 'device')),
    settings         TEXT NOT NULL DEFAULT '{}',
    subscription_id  TEXT NOT NULL REFERENCES subscriptions(id),
    -- Seats reserved for (and the cap of) this team; NULL: shares the unreserved pool.
    reserved_seats   INTEGER CHECK (reserved_seats IS NULL OR reserved_seats >= 0),
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE UNIQUE INDEX teams_name ON teams(org_id, name_norm);
CREATE INDEX teams_subscription ON teams(subscription_id);

CREATE TABLE org_settings (
    org_id             TEXT PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
    initial_team_id    TEXT REFERENCES teams(id),
    default_team_id    TEXT REFERENCES teams(id),
    seat_overflow      TEXT NOT NULL DEFAULT 'waitlist' CHECK (seat_overflow IN ('waitlist', 'reject')),
    idp_managed_teams  INTEGER NOT NULL DEFAULT 0
);

-- One row per (team, user): a user is never counted twice in a team. A row holds a
-- seat in every state but awaiting_seat; waiting rows are served in `wait_seq` order,
-- one sequence for the whole database so a shared pool serves its teams' waiters in turn.
CREATE TABLE memberships (
    id                     TEXT PRIMARY KEY,
    org_id                 TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    team_id                TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id                TEXT NOT NULL,
    role                   TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    source                 TEXT NOT NULL CHECK (source IN ('group', 'attribute', 'default', 'manual')),
    state                  TEXT NOT NULL CHECK (state IN ('awaiting_seat', 'invited', 'pending_app_login', 'active')),
    wait_seq               INTEGER,
    added_at               TEXT NOT NULL,
    invited_at             TEXT,
    invitation_expires_at  TEXT,
    accepted_at            TEXT,
    first_sign_in_at       TEXT,
    last_active_at         TEXT
);
CREATE UNIQUE INDEX memberships_team_user ON memberships(team_id, user_id);
CREATE INDEX memberships_user ON memberships(user_id);
CREATE INDEX memberships_waiting ON memberships(team_id, state, wait_seq);
CREATE INDEX memberships_wait_seq ON memberships(wait_seq);

CREATE TABLE org_roles (
    org_id      TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('org_admin', 'org_analyst')),
    source      TEXT NOT NULL CHECK (source IN ('group', 'manual')),
    granted_at  TEXT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);

-- An IdP group mapped to a team with a role, or to an org role.
CREATE TABLE group_mappings (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    group_id    TEXT NOT NULL REFERENCES scim_groups(id) ON DELETE CASCADE,
    team_id     TEXT REFERENCES teams(id) ON DELETE CASCADE,
    team_role   TEXT CHECK (team_role IN ('user', 'admin')),
    org_role    TEXT CHECK (org_role IN ('org_admin', 'org_analyst')),
    created_at  TEXT NOT NULL,
    CHECK ((team_id IS NOT NULL AND team_role IS NOT NULL AND org_role IS NULL)
        OR (team_id IS NULL AND team_role IS NULL AND org_role IS NOT NULL))
);
CREATE INDEX group_mappings_group ON group_mappings(group_id);
CREATE INDEX group_mappings_org ON group_mappings(org_id);

CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    before      TEXT,
    after       TEXT
);
CREATE INDEX audit_log_org ON audit_log(org_id, seq);
