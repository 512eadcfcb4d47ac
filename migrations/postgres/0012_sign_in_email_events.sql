-- Email sign-in events per requesting client address (issue 16, point 6): codes and
-- "use your company SSO" notices sent, wrong codes tried. The limits count them per person
-- and per address, so that a stranger asking or guessing for someone uses up the
-- stranger's own budget, not the person's. Rows older than a day are deleted as new ones
-- arrive for the same person.

CREATE TABLE sign_in_email_events (
    org_id     TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES scim_users(id) ON DELETE CASCADE,
    requester  TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('code_sent', 'notice_sent', 'wrong_code')),
    code_id    TEXT,
    at         TEXT NOT NULL
);
CREATE INDEX sign_in_email_events_user ON sign_in_email_events(org_id, user_id, at);
