-- The transactional outbox: emails and webhooks written in the same transaction as the
-- change that causes them, delivered afterwards by a worker (src/outbox/).
-- Times are RFC 3339 UTC strings of fixed width, so text order is time order.

-- Per-org receivers of signed webhooks (Standard Webhooks).
CREATE TABLE webhook_endpoints (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    url          TEXT NOT NULL,
    -- `whsec_` + base64 key, kept as given: delivery needs the key itself to sign.
    secret       TEXT NOT NULL,
    -- JSON array of event types; NULL means every event.
    event_types  TEXT,
    enabled      BOOLEAN NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints(org_id);

CREATE TABLE outbox (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    kind             TEXT NOT NULL CHECK (kind IN ('email', 'webhook')),
    -- Chosen by the caller so that a replayed request finds its row and adds none.
    dedupe_key       TEXT NOT NULL,
    -- Webhooks only. SET NULL keeps the history of a deleted endpoint; its undelivered
    -- rows fail at their next attempt.
    endpoint_id      TEXT REFERENCES webhook_endpoints(id) ON DELETE SET NULL,
    -- Email: the message as JSON. Webhook: the exact body that is signed and sent.
    payload          TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'delivered', 'failed')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    -- While `sending`, the end of the claim: a row whose worker died becomes due again.
    next_attempt_at  TEXT NOT NULL,
    last_error       TEXT,
    claimed_by       TEXT,
    claimed_until    TEXT,
    created_at       TEXT NOT NULL,
    delivered_at     TEXT,
    UNIQUE (org_id, dedupe_key)
);
-- What the worker looks for: due rows that are not finished.
CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE state IN ('pending', 'sending');
CREATE INDEX outbox_org ON outbox(org_id, created_at);

-- Every attempt, written when it starts (`in_progress`) and completed when it ends, so
-- an attempt cut short by a crash stays visible (`interrupted`).
CREATE TABLE outbox_attempts (
    outbox_id    TEXT NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
    attempt      BIGINT NOT NULL,
    worker       TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    outcome      TEXT NOT NULL CHECK (outcome IN ('in_progress', 'delivered', 'retry', 'failed', 'interrupted')),
    error        TEXT,
    PRIMARY KEY (outbox_id, attempt)
);
