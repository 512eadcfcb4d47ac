//! The outbox tables: queued emails and webhooks, their attempts, webhook endpoints.
//!
//! The rules (what to queue, when to retry) live in `crate::outbox`; this is only SQL.
//! Claiming is one statement on both backends: an `UPDATE ... WHERE id IN (SELECT ...)`
//! whose sub-select takes `FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent workers
//! claim disjoint rows, and runs inside the single-writer `BEGIN IMMEDIATE` on SQLite.

use super::sealed_columns::WEBHOOK_SECRETS;
use super::sql::{Dialect, Q, Row};
use super::{StoreError, Tx};
use crate::domain::time::Timestamp;
use crate::domain::{OrgId, WebhookId};
use secrecy::SecretString;
use std::collections::BTreeSet;

pub use crate::domain::kinds::{OutboxKind as Kind, OutboxState as State};

/// A row to queue.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    pub id: &'a str,
    pub org_id: &'a OrgId,
    pub kind: Kind,
    pub dedupe_key: &'a str,
    pub endpoint_id: Option<&'a WebhookId>,
    pub payload: &'a str,
    pub now: &'a str,
}

/// An outbox row as stored. `payload` may hold an email body: never log it.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    pub id: String,
    pub org_id: OrgId,
    pub kind: Kind,
    pub dedupe_key: String,
    pub endpoint_id: Option<WebhookId>,
    pub payload: String,
    pub state: State,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<Timestamp>,
    pub created: Timestamp,
    pub delivered: Option<Timestamp>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("id", &self.id)
            .field("org_id", &self.org_id)
            .field("kind", &self.kind)
            .field("dedupe_key", &self.dedupe_key)
            .field("endpoint_id", &self.endpoint_id)
            .field("payload", &"<redacted>")
            .field("state", &self.state)
            .field("attempts", &self.attempts)
            .field("next_attempt_at", &self.next_attempt_at)
            .field("last_error", &self.last_error)
            .field("claimed_by", &self.claimed_by)
            .field("claimed_until", &self.claimed_until)
            .field("created", &self.created)
            .field("delivered", &self.delivered)
            .finish()
    }
}

const MESSAGE_COLUMNS: &str = "id, org_id, kind, dedupe_key, endpoint_id, payload, state, \
     attempts, next_attempt_at, last_error, claimed_by, claimed_until, created_at, delivered_at";

fn decode_message(r: &Row) -> Result<Message, StoreError> {
    Ok(Message {
        id: r.text("id")?,
        org_id: r.id("org_id")?,
        kind: r.parse("kind")?,
        dedupe_key: r.text("dedupe_key")?,
        endpoint_id: r.opt_id("endpoint_id")?,
        payload: r.text("payload")?,
        state: r.parse("state")?,
        attempts: r.int("attempts")?,
        next_attempt_at: r.parse("next_attempt_at")?,
        last_error: r.opt_text("last_error")?,
        claimed_by: r.opt_text("claimed_by")?,
        claimed_until: r.opt_parse("claimed_until")?,
        created: r.parse("created_at")?,
        delivered: r.opt_parse("delivered_at")?,
    })
}

/// Queues a row unless the org already has one with this dedupe key. Returns whether a
/// row was inserted. `ON CONFLICT DO NOTHING` rather than check-then-insert: a racing
/// transaction with the same key waits for the first and then inserts nothing.
pub async fn insert_message(tx: &mut Tx, m: &NewMessage<'_>) -> Result<bool, StoreError> {
    let n = tx
        .execute(
            Q::new(
                "INSERT INTO outbox (id, org_id, kind, dedupe_key, endpoint_id, payload, state, \
                 attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?) \
                 ON CONFLICT (org_id, dedupe_key) DO NOTHING",
            )
            .bind(m.id)
            .bind(m.org_id)
            .bind(m.kind.as_str())
            .bind(m.dedupe_key)
            .bind(m.endpoint_id)
            .bind(m.payload)
            .bind(m.now)
            .bind(m.now),
        )
        .await?;
    Ok(n == 1)
}

/// Queues several rows with one statement, skipping those whose dedupe key the org
/// already has (as [`insert_message`]). Returns the ids of the rows inserted. The ids
/// must be new: a row found with one of them afterwards is the one inserted here.
pub async fn insert_messages(
    tx: &mut Tx,
    messages: &[NewMessage<'_>],
) -> Result<Vec<String>, StoreError> {
    let mut inserted = Vec::new();
    for chunk in messages.chunks(100) {
        let mut q = Q::new(
            "INSERT INTO outbox (id, org_id, kind, dedupe_key, endpoint_id, payload, state, \
             attempts, next_attempt_at, created_at) VALUES ",
        );
        for (i, m) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push("(")
                .push_bind(m.id)
                .push(", ")
                .push_bind(m.org_id)
                .push(", ")
                .push_bind(m.kind.as_str())
                .push(", ")
                .push_bind(m.dedupe_key)
                .push(", ")
                .push_bind(m.endpoint_id)
                .push(", ")
                .push_bind(m.payload)
                .push(", 'pending', 0, ")
                .push_bind(m.now)
                .push(", ")
                .push_bind(m.now)
                .push(")");
        }
        // No RETURNING: SQLite collects RETURNING rows in a temporary b-tree per run.
        // Usually every row goes in, and the count says so.
        q.push(" ON CONFLICT (org_id, dedupe_key) DO NOTHING");
        let added = tx.execute(q).await?;
        if added == chunk.len() as u64 {
            inserted.extend(chunk.iter().map(|m| m.id.to_owned()));
            continue;
        }
        let mut q = Q::new("SELECT id FROM outbox WHERE id IN (");
        push_ids(&mut q, chunk.iter().map(|m| m.id));
        q.push(")");
        let found: BTreeSet<String> = tx
            .fetch_all(q)
            .await?
            .iter()
            .map(|row| row.text("id"))
            .collect::<Result<_, _>>()?;
        inserted.extend(
            chunk
                .iter()
                .filter(|m| found.contains(m.id))
                .map(|m| m.id.to_owned()),
        );
    }
    Ok(inserted)
}

/// How many rows the outbox holds, and how many of them still wait for delivery
/// (pending or being sent, whenever due).
pub async fn counts(tx: &mut Tx) -> Result<(i64, i64), StoreError> {
    let row = tx
        .fetch_one(Q::new(
            "SELECT COUNT(*) AS total, \
             COUNT(CASE WHEN state IN ('pending', 'sending') THEN 1 END) AS undelivered \
             FROM outbox",
        ))
        .await?;
    Ok((row.int("total")?, row.int("undelivered")?))
}

/// Whether any row is due at `now`: a cheap read, so an idle worker never takes the
/// write lock (SQLite has one writer, which SCIM requests need).
pub async fn any_due(tx: &mut Tx, now: &str) -> Result<bool, StoreError> {
    let row = tx
        .fetch_optional(
            Q::new(
                "SELECT id FROM outbox WHERE state IN ('pending', 'sending') \
                 AND next_attempt_at <= ? LIMIT 1",
            )
            .bind(now),
        )
        .await?;
    Ok(row.is_some())
}

/// Claims up to `limit` rows that are due at `now` (pending, or sending with an expired
/// claim) for `worker` until `until`, counts the attempt, and opens an `in_progress`
/// attempt record for each. An open record left by a dead worker becomes `interrupted`.
pub async fn claim_due(
    tx: &mut Tx,
    worker: &str,
    now: &str,
    until: &str,
    limit: i64,
) -> Result<Vec<Message>, StoreError> {
    let skip_locked = match tx.dialect() {
        Dialect::Sqlite => "",
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
    };
    let mut q = Q::new(
        "UPDATE outbox SET state = 'sending', attempts = attempts + 1, claimed_by = ?, \
         claimed_until = ?, next_attempt_at = ? WHERE id IN (SELECT id FROM outbox \
         WHERE state IN ('pending', 'sending') AND next_attempt_at <= ? \
         ORDER BY next_attempt_at",
    )
    .bind(worker)
    .bind(until)
    .bind(until)
    .bind(now);
    q.push_limit(limit).push(skip_locked);
    q.push(") RETURNING ");
    q.push(MESSAGE_COLUMNS);
    let rows = tx.fetch_all(q).await?;
    let mut claimed = rows
        .iter()
        .map(decode_message)
        .collect::<Result<Vec<_>, _>>()?;
    // RETURNING gives no order; deliver oldest first.
    claimed.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
    if claimed.is_empty() {
        return Ok(claimed);
    }
    let mut q = Q::new(
        "UPDATE outbox_attempts SET outcome = 'interrupted', finished_at = ?, \
         error = 'claim expired before the attempt finished (worker stopped or crashed)' \
         WHERE outcome = 'in_progress' AND outbox_id IN (",
    )
    .bind(now);
    push_ids(&mut q, claimed.iter().map(|m| m.id.as_str()));
    q.push(")");
    tx.execute(q).await?;
    let mut q = Q::new(
        "INSERT INTO outbox_attempts (outbox_id, attempt, worker, started_at, outcome) VALUES ",
    );
    for (i, m) in claimed.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.push("(")
            .push_bind(m.id.as_str())
            .push(", ")
            .push_bind(m.attempts)
            .push(", ")
            .push_bind(worker)
            .push(", ")
            .push_bind(now)
            .push(", 'in_progress')");
    }
    tx.execute(q).await?;
    Ok(claimed)
}

/// Extends `worker`'s claims on rows `ids` (still `sending`) to `until`; rows another
/// worker has claimed meanwhile are left alone. Returns how many were renewed.
pub async fn renew_claims<'a>(
    tx: &mut Tx,
    worker: &str,
    ids: impl IntoIterator<Item = &'a str>,
    until: &str,
) -> Result<u64, StoreError> {
    let mut q = Q::new(
        "UPDATE outbox SET claimed_until = ?, next_attempt_at = ? \
         WHERE state = 'sending' AND claimed_by = ? AND id IN (",
    )
    .bind(until)
    .bind(until)
    .bind(worker);
    push_ids(&mut q, ids);
    q.push(")");
    tx.execute(q).await
}

fn push_ids<'a>(q: &mut Q, ids: impl IntoIterator<Item = &'a str>) {
    for (i, id) in ids.into_iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.push_bind(id);
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Try again at `at`.
    Retry {
        at: String,
        error: String,
    },
    Failed {
        error: String,
    },
}

/// Records the end of attempt `attempt` of row `id` claimed by `worker`, replacing its
/// payload by `payload` if given. Returns false
/// (and changes nothing) if the claim was lost meanwhile: another worker reclaimed the
/// row after the claim expired, so this attempt no longer owns it.
pub async fn finish_attempt(
    tx: &mut Tx,
    id: &str,
    worker: &str,
    attempt: i64,
    outcome: &Outcome,
    now: &str,
    payload: Option<&str>,
) -> Result<bool, StoreError> {
    let (state, next, error, delivered, record) = match outcome {
        Outcome::Delivered => (State::Delivered, None, None, Some(now), "delivered"),
        Outcome::Retry { at, error } => (
            State::Pending,
            Some(at.as_str()),
            Some(error.as_str()),
            None,
            "retry",
        ),
        Outcome::Failed { error } => (State::Failed, None, Some(error.as_str()), None, "failed"),
    };
    // A finished row keeps its last next_attempt_at; it leaves the due index anyway.
    let n = tx
        .execute(
            Q::new(
                "UPDATE outbox SET state = ?, next_attempt_at = COALESCE(?, next_attempt_at), \
                 last_error = ?, delivered_at = ?, claimed_by = NULL, claimed_until = NULL, \
                 payload = COALESCE(?, payload) \
                 WHERE id = ? AND state = 'sending' AND claimed_by = ? AND attempts = ?",
            )
            .bind(state.as_str())
            .bind(next)
            .bind(error)
            .bind(delivered)
            .bind(payload)
            .bind(id)
            .bind(worker)
            .bind(attempt),
        )
        .await?;
    if n != 1 {
        return Ok(false);
    }
    tx.execute(
        Q::new(
            "UPDATE outbox_attempts SET outcome = ?, error = ?, finished_at = ? \
             WHERE outbox_id = ? AND attempt = ?",
        )
        .bind(record)
        .bind(error)
        .bind(now)
        .bind(id)
        .bind(attempt),
    )
    .await?;
    Ok(true)
}

/// One outbox row by id.
pub async fn get_message(tx: &mut Tx, id: &str) -> Result<Option<Message>, StoreError> {
    let mut q = Q::new("SELECT ");
    q.push(MESSAGE_COLUMNS);
    q.push(" FROM outbox WHERE id = ").push_bind(id);
    tx.fetch_optional(q)
        .await?
        .as_ref()
        .map(decode_message)
        .transpose()
}

/// An org's rows, oldest first.
pub async fn list_messages(
    tx: &mut Tx,
    org_id: &OrgId,
    limit: i64,
) -> Result<Vec<Message>, StoreError> {
    let mut q = Q::new("SELECT ");
    q.push(MESSAGE_COLUMNS);
    q.push(" FROM outbox WHERE org_id = ")
        .push_bind(org_id)
        .push(" ORDER BY created_at, id")
        .push_limit(limit);
    tx.fetch_all(q).await?.iter().map(decode_message).collect()
}

/// One attempt at delivering a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub outbox_id: String,
    pub attempt: i64,
    pub worker: String,
    pub started: Timestamp,
    pub finished: Option<Timestamp>,
    /// `in_progress`, `delivered`, `retry`, `failed` or `interrupted`.
    pub outcome: String,
    pub error: Option<String>,
}

/// The attempts at a row, in order.
pub async fn list_attempts(tx: &mut Tx, outbox_id: &str) -> Result<Vec<Attempt>, StoreError> {
    let rows = tx
        .fetch_all(
            Q::new(
                "SELECT outbox_id, attempt, worker, started_at, finished_at, outcome, error \
                 FROM outbox_attempts WHERE outbox_id = ? ORDER BY attempt",
            )
            .bind(outbox_id),
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Attempt {
                outbox_id: r.text("outbox_id")?,
                attempt: r.int("attempt")?,
                worker: r.text("worker")?,
                started: r.parse("started_at")?,
                finished: r.opt_parse("finished_at")?,
                outcome: r.text("outcome")?,
                error: r.opt_text("error")?,
            })
        })
        .collect()
}

/// A webhook endpoint as stored. The secret is never printed by `Debug`.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: WebhookId,
    pub org_id: OrgId,
    pub url: String,
    pub secret: SecretString,
    /// None: every event type.
    pub event_types: Option<Vec<String>>,
    pub enabled: bool,
    pub created: Timestamp,
    pub updated: Timestamp,
}

const ENDPOINT_COLUMNS: &str =
    "id, org_id, url, secret, event_types, enabled, created_at, updated_at";

fn decode_endpoint(r: &Row, tx: &Tx) -> Result<Endpoint, StoreError> {
    let id: WebhookId = r.id("id")?;
    let secret = tx.open(WEBHOOK_SECRETS, id.as_str(), &r.text("secret")?)?;
    let event_types = match r.opt_text("event_types")? {
        None => None,
        Some(json) => Some(
            serde_json::from_str(&json)
                .map_err(|e| StoreError::Decode(format!("event_types: {e}")))?,
        ),
    };
    Ok(Endpoint {
        id,
        org_id: r.id("org_id")?,
        url: r.text("url")?,
        secret: SecretString::from(secret),
        event_types,
        enabled: r.bool("enabled")?,
        created: r.parse("created_at")?,
        updated: r.parse("updated_at")?,
    })
}

fn event_types_json(types: Option<&[String]>) -> Result<Option<String>, StoreError> {
    types
        .map(|t| serde_json::to_string(t).map_err(|e| StoreError::Decode(e.to_string())))
        .transpose()
}

/// Inserts an endpoint.
pub async fn insert_endpoint(tx: &mut Tx, e: &Endpoint, secret: &str) -> Result<(), StoreError> {
    let secret = tx.seal(WEBHOOK_SECRETS, e.id.as_str(), secret)?;
    tx.execute(
        Q::new(
            "INSERT INTO webhook_endpoints (id, org_id, url, secret, event_types, enabled, \
             created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(e.id.as_str())
        .bind(e.org_id.as_str())
        .bind(e.url.as_str())
        .bind(secret.as_str())
        .bind(event_types_json(e.event_types.as_deref())?)
        .bind(e.enabled)
        .bind(e.created.as_str())
        .bind(e.updated.as_str()),
    )
    .await?;
    Ok(())
}

/// Updates an endpoint's URL, secret, filter and switch. Returns false if the org has
/// no endpoint with that id.
pub async fn update_endpoint(tx: &mut Tx, e: &Endpoint, secret: &str) -> Result<bool, StoreError> {
    let secret = tx.seal(WEBHOOK_SECRETS, e.id.as_str(), secret)?;
    let n = tx
        .execute(
            Q::new(
                "UPDATE webhook_endpoints SET url = ?, secret = ?, event_types = ?, enabled = ?, \
                 updated_at = ? WHERE id = ? AND org_id = ?",
            )
            .bind(e.url.as_str())
            .bind(secret.as_str())
            .bind(event_types_json(e.event_types.as_deref())?)
            .bind(e.enabled)
            .bind(e.updated.as_str())
            .bind(e.id.as_str())
            .bind(e.org_id.as_str()),
        )
        .await?;
    Ok(n == 1)
}

/// Deletes an endpoint. Returns false if the org has no endpoint with that id.
pub async fn delete_endpoint(
    tx: &mut Tx,
    org_id: &OrgId,
    id: &WebhookId,
) -> Result<bool, StoreError> {
    let n = tx
        .execute(
            Q::new("DELETE FROM webhook_endpoints WHERE id = ? AND org_id = ?")
                .bind(id)
                .bind(org_id),
        )
        .await?;
    Ok(n == 1)
}

/// One endpoint by id; `org_id` None only for the worker, which trusts its own row.
pub async fn get_endpoint(
    tx: &mut Tx,
    org_id: Option<&OrgId>,
    id: &WebhookId,
) -> Result<Option<Endpoint>, StoreError> {
    let mut q = Q::new("SELECT ");
    q.push(ENDPOINT_COLUMNS);
    q.push(" FROM webhook_endpoints WHERE id = ").push_bind(id);
    if let Some(org) = org_id {
        q.push(" AND org_id = ").push_bind(org);
    }
    let row = tx.fetch_optional(q).await?;
    row.as_ref().map(|r| decode_endpoint(r, tx)).transpose()
}

/// An org's endpoints, oldest first.
pub async fn list_endpoints(tx: &mut Tx, org_id: &OrgId) -> Result<Vec<Endpoint>, StoreError> {
    let mut q = Q::new("SELECT ");
    q.push(ENDPOINT_COLUMNS);
    q.push(" FROM webhook_endpoints WHERE org_id = ")
        .push_bind(org_id)
        .push(" ORDER BY created_at, id");
    let rows = tx.fetch_all(q).await?;
    rows.iter().map(|r| decode_endpoint(r, tx)).collect()
}
