-- The same CHECK constraints, written so that SQLite checks them in place.
--
-- SQLite evaluates `x IN (a, b, c)` with more than two constants through a temporary
-- b-tree that it builds again on every run of the statement. As CHECK constraints on
-- `memberships`, `outbox` and `outbox_attempts` they cost five such b-trees per user
-- created, all while the one writer is held. As chains of `=` ... `OR` they allow the
-- same values and cost a few comparisons.
--
-- SQLite cannot change a constraint in place, so the three tables are rebuilt
-- (https://www.sqlite.org/lang_altertable.html, "other kinds of table schema changes").
-- Foreign keys are on here: the old `outbox_attempts` is dropped before the old
-- `outbox`, so that dropping `outbox` cascades to nothing. Renaming a table rewrites the
-- foreign keys that name it. Dropping a table drops its indexes and triggers; they are
-- created again below, as 0002, 0003 and 0010 define them. The copies fire no triggers,
-- so `teams.held_seats` stays as it is.

CREATE TABLE memberships_rebuilt (
    id                     TEXT PRIMARY KEY,
    org_id                 TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    team_id                TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id                TEXT NOT NULL,
    role                   TEXT NOT NULL CHECK (role = 'user' OR role = 'admin'),
    source                 TEXT NOT NULL CHECK (source = 'group' OR source = 'attribute'
                                                OR source = 'default' OR source = 'manual'),
    state                  TEXT NOT NULL CHECK (state = 'awaiting_seat' OR state = 'invited'
                                                OR state = 'pending_app_login' OR state = 'active'),
    wait_seq               INTEGER,
    added_at               TEXT NOT NULL,
    invited_at             TEXT,
    invitation_expires_at  TEXT,
    accepted_at            TEXT,
    first_sign_in_at       TEXT,
    last_active_at         TEXT
);
INSERT INTO memberships_rebuilt
    (id, org_id, team_id, user_id, role, source, state, wait_seq, added_at, invited_at,
     invitation_expires_at, accepted_at, first_sign_in_at, last_active_at)
SELECT id, org_id, team_id, user_id, role, source, state, wait_seq, added_at, invited_at,
       invitation_expires_at, accepted_at, first_sign_in_at, last_active_at
FROM memberships;
DROP TABLE memberships;
ALTER TABLE memberships_rebuilt RENAME TO memberships;
CREATE UNIQUE INDEX memberships_team_user ON memberships(team_id, user_id);
CREATE INDEX memberships_user ON memberships(user_id);
CREATE INDEX memberships_waiting ON memberships(team_id, state, wait_seq);
CREATE INDEX memberships_wait_seq ON memberships(wait_seq);

CREATE TRIGGER memberships_held_insert AFTER INSERT ON memberships
WHEN NEW.state <> 'awaiting_seat'
BEGIN
    UPDATE teams SET held_seats = held_seats + 1 WHERE id = NEW.team_id;
END;

CREATE TRIGGER memberships_held_delete AFTER DELETE ON memberships
WHEN OLD.state <> 'awaiting_seat'
BEGIN
    UPDATE teams SET held_seats = held_seats - 1 WHERE id = OLD.team_id;
END;

CREATE TRIGGER memberships_held_update AFTER UPDATE OF state, team_id ON memberships
WHEN (OLD.state <> 'awaiting_seat') <> (NEW.state <> 'awaiting_seat')
    OR OLD.team_id <> NEW.team_id
BEGIN
    UPDATE teams SET held_seats = held_seats - 1
    WHERE id = OLD.team_id AND OLD.state <> 'awaiting_seat';
    UPDATE teams SET held_seats = held_seats + 1
    WHERE id = NEW.team_id AND NEW.state <> 'awaiting_seat';
END;

CREATE TABLE outbox_rebuilt (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    kind             TEXT NOT NULL CHECK (kind = 'email' OR kind = 'webhook'),
    -- Chosen by the caller so that a replayed request finds its row and adds none.
    dedupe_key       TEXT NOT NULL,
    -- Webhooks only. SET NULL keeps the history of a deleted endpoint; its undelivered
    -- rows fail at their next attempt.
    endpoint_id      TEXT REFERENCES webhook_endpoints(id) ON DELETE SET NULL,
    -- Email: the message as JSON. Webhook: the exact body that is signed and sent.
    payload          TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state = 'pending' OR state = 'sending'
                                          OR state = 'delivered' OR state = 'failed'),
    attempts         INTEGER NOT NULL DEFAULT 0,
    -- While `sending`, the end of the claim: a row whose worker died becomes due again.
    next_attempt_at  TEXT NOT NULL,
    last_error       TEXT,
    claimed_by       TEXT,
    claimed_until    TEXT,
    created_at       TEXT NOT NULL,
    delivered_at     TEXT,
    UNIQUE (org_id, dedupe_key)
);
INSERT INTO outbox_rebuilt
    (id, org_id, kind, dedupe_key, endpoint_id, payload, state, attempts, next_attempt_at,
     last_error, claimed_by, claimed_until, created_at, delivered_at)
SELECT id, org_id, kind, dedupe_key, endpoint_id, payload, state, attempts, next_attempt_at,
       last_error, claimed_by, claimed_until, created_at, delivered_at
FROM outbox;

CREATE TABLE outbox_attempts_rebuilt (
    outbox_id    TEXT NOT NULL REFERENCES outbox_rebuilt(id) ON DELETE CASCADE,
    attempt      INTEGER NOT NULL,
    worker       TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    outcome      TEXT NOT NULL CHECK (outcome = 'in_progress' OR outcome = 'delivered'
                                      OR outcome = 'retry' OR outcome = 'failed'
                                      OR outcome = 'interrupted'),
    error        TEXT,
    PRIMARY KEY (outbox_id, attempt)
);
INSERT INTO outbox_attempts_rebuilt
    (outbox_id, attempt, worker, started_at, finished_at, outcome, error)
SELECT outbox_id, attempt, worker, started_at, finished_at, outcome, error
FROM outbox_attempts;

DROP TABLE outbox_attempts;
DROP TABLE outbox;
ALTER TABLE outbox_rebuilt RENAME TO outbox;
ALTER TABLE outbox_attempts_rebuilt RENAME TO outbox_attempts;
-- What the worker looks for: due rows that are not finished.
CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE state IN ('pending', 'sending');
CREATE INDEX outbox_org ON outbox(org_id, created_at);
