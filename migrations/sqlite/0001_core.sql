-- Organizations, SCIM tokens, and the SCIM resources (users, groups, memberships).
-- Times are RFC 3339 UTC strings of fixed width, so text order is time order.

CREATE TABLE orgs (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    name_norm   TEXT NOT NULL UNIQUE,
    seats       INTEGER,
    created_at  TEXT NOT NULL
);

CREATE TABLE scim_tokens (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    label        TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    revoked_at   TEXT
);
CREATE INDEX scim_tokens_org ON scim_tokens(org_id);

CREATE TABLE scim_users (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    org_id          TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_name       TEXT NOT NULL,
    user_name_norm  TEXT NOT NULL,
    external_id     TEXT,
    display_name    TEXT,
    active          INTEGER NOT NULL,
    doc             TEXT NOT NULL,
    doc_ci          TEXT NOT NULL,
    password_hash   TEXT,
    version         INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE UNIQUE INDEX scim_users_user_name ON scim_users(org_id, user_name_norm);
CREATE INDEX scim_users_external_id ON scim_users(org_id, external_id);
CREATE INDEX scim_users_org_seq ON scim_users(org_id, seq);

CREATE TABLE scim_user_emails (
    user_seq    INTEGER NOT NULL REFERENCES scim_users(seq) ON DELETE CASCADE,
    org_id      TEXT NOT NULL,
    value_norm  TEXT NOT NULL
);
CREATE INDEX scim_user_emails_value ON scim_user_emails(org_id, value_norm);
CREATE INDEX scim_user_emails_user ON scim_user_emails(user_seq);

CREATE TABLE scim_groups (
    seq                INTEGER PRIMARY KEY,
    id                 TEXT NOT NULL UNIQUE,
    org_id             TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    display_name       TEXT NOT NULL,
    display_name_norm  TEXT NOT NULL,
    external_id        TEXT,
    doc                TEXT NOT NULL,
    doc_ci             TEXT NOT NULL,
    version            INTEGER NOT NULL,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE UNIQUE INDEX scim_groups_display_name ON scim_groups(org_id, display_name_norm);
CREATE INDEX scim_groups_external_id ON scim_groups(org_id, external_id);
CREATE INDEX scim_groups_org_seq ON scim_groups(org_id, seq);

-- One row per (group, member): changing 100 members of a 100,000-member group touches
-- 100 rows. Indexed both ways: members of a group, groups of a member.
CREATE TABLE scim_group_members (
    group_id     TEXT NOT NULL REFERENCES scim_groups(id) ON DELETE CASCADE,
    member_id    TEXT NOT NULL,
    member_type  TEXT NOT NULL,
    org_id       TEXT NOT NULL,
    PRIMARY KEY (group_id, member_id)
) WITHOUT ROWID;
CREATE INDEX scim_group_members_member ON scim_group_members(member_id, group_id);

-- Resource counts per org, so an unfiltered list need not count 100,000 rows per page.
CREATE TABLE scim_counts (
    org_id         TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    resource_type  TEXT NOT NULL,
    total          INTEGER NOT NULL,
    PRIMARY KEY (org_id, resource_type)
);
