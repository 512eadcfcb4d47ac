//! The transactional outbox: emails and webhooks queued in the same transaction as the
//! change that causes them (DESIGN.md "Outbound effects", "Provisioning rules" 4), and a
//! [`Worker`] that delivers them.
//!
//! # Guarantees
//! - **Never lost.** A row is written in the caller's transaction: it exists if and only if
//!   the change committed. It leaves the queue only when delivered or given up (`failed`,
//!   after [`WorkerOptions::max_attempts`] or for a message that can never be sent).
//! - **Never queued twice.** Every row carries a dedupe key unique per org; replaying the
//!   same SCIM request, or retrying after a conflict, inserts nothing the second time.
//! - **Sent once, barring one window.** A worker claims rows (on PostgreSQL with
//!   `FOR UPDATE SKIP LOCKED`, on SQLite inside the single writer), so two workers or two
//!   processes never hold the same row. A claim is a short lease
//!   ([`WorkerOptions::claim_for`], 30 s by default) that the worker renews every third of
//!   it while the send is in progress; a row whose worker died is claimed again once the
//!   lease runs out, so a crash delays what it interrupted by at most one lease. The
//!   attempt is recorded the moment the send returns. What remains is the window between
//!   the receiver accepting the message (the SMTP server's `250` after `DATA`, the
//!   webhook's `2xx`) and that record committing: a crash, a lost database connection or a
//!   timeout there means the message is sent again after the lease expires. It is
//!   milliseconds wide, and the second copy is recognisable: an email keeps its
//!   `Message-ID` (`<outbox-id@domain>`, derived from the row, never from the attempt), a
//!   webhook its `webhook-id`, and the `.eml` file transport rewrites the same file. A
//!   worker that cannot renew its leases (database unreachable for a whole lease) may
//!   likewise see another worker send its rows again. This is the usual at-least-once
//!   delivery with idempotency keys; exactly-once across two systems that share no
//!   transaction is not possible.
//!
//! Email bodies, webhook secrets and SMTP passwords are never logged.

mod email;
mod eml_files;
mod mailer;
mod webhook;
mod worker;

pub use crate::store::outbox::{Attempt, Endpoint, Kind, Message, State};
pub use email::Email;
pub use mailer::Mailer;
pub use webhook::{
    EndpointUpdate, Event, EventType, NO_ANSWER, NewEndpoint, WebhookSecret, create_endpoint,
    delete_endpoint, get_endpoint, list_endpoints, sign, update_endpoint,
};
pub use worker::{DEFAULT_CLAIM_FOR, Worker, WorkerOptions};

use crate::clock::format_timestamp;
use crate::domain::{OrgId, WebhookId};
use crate::store::outbox::{self as sql, NewMessage};
use crate::store::{StoreError, Tx};
use time::OffsetDateTime;

/// Why queueing, configuring or delivering failed.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An email address that cannot be parsed (RFC 5322).
    #[error("invalid {field} address {value:?}: {reason}")]
    InvalidAddress {
        field: &'static str,
        value: String,
        reason: String,
    },
    /// A webhook endpoint URL that is not an absolute http(s) URL.
    #[error("invalid webhook URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// A webhook secret that is not `whsec_` followed by base64 of 24 to 64 bytes.
    #[error(
        "invalid webhook secret: expected whsec_ followed by the base64 of 24 to 64 random bytes"
    )]
    InvalidSecret,
    /// An unknown event type name.
    #[error("unknown webhook event type {0:?}")]
    UnknownEventType(String),
    /// The mail transport could not be set up (bad SMTP URL, unwritable directory).
    #[error("cannot set up mail delivery: {0}")]
    Mailer(String),
    /// The HTTP client for webhooks could not be built.
    #[error("cannot set up webhook delivery: {0}")]
    HttpClient(String),
    /// Randomness was unavailable.
    #[error("no randomness available: {0}")]
    Random(String),
    /// A payload could not be encoded.
    #[error("cannot encode the payload: {0}")]
    Encode(String),
}

/// Queues an email in `tx`. Returns the new row's id, or None if the org already has a
/// row with `dedupe_key` (a replay: nothing is added). The addresses are checked here, so
/// an unsendable email fails the caller's transaction rather than the worker.
///
/// Choose a key that names the reason for the email once, e.g.
/// `invite:{membership_id}` or `invite:{membership_id}:resend:{request_id}`.
pub async fn enqueue_email(
    tx: &mut Tx,
    org_id: &OrgId,
    dedupe_key: &str,
    email: &Email,
    now: OffsetDateTime,
) -> Result<Option<String>, OutboxError> {
    email.validate()?;
    let payload = serde_json::to_string(email).map_err(|e| OutboxError::Encode(e.to_string()))?;
    let id = new_id();
    let inserted = sql::insert_message(
        tx,
        &NewMessage {
            id: &id,
            org_id,
            kind: Kind::Email,
            dedupe_key,
            endpoint_id: None,
            payload: &payload,
            now: &format_timestamp(now),
        },
    )
    .await?;
    Ok(inserted.then_some(id))
}

/// Queues `event` in `tx` for every enabled endpoint of the org whose filter admits its
/// type: one row per endpoint, keyed `{dedupe_key_prefix}:{endpoint id}`. Returns the ids
/// of the rows added (empty when no endpoint wants it, or on a replay). The body is fixed
/// here, so every redelivery carries the same bytes and the same `webhook-id` (the row id).
pub async fn enqueue_event(
    tx: &mut Tx,
    org_id: &OrgId,
    dedupe_key_prefix: &str,
    event: &Event,
    now: OffsetDateTime,
) -> Result<Vec<String>, OutboxError> {
    let body = event.body(now)?;
    let stamp = format_timestamp(now);
    let mut ids = Vec::new();
    for endpoint in sql::list_endpoints(tx, org_id).await? {
        if !webhook::wants(&endpoint, event.kind) {
            continue;
        }
        let id = new_id();
        let key = format!("{dedupe_key_prefix}:{}", endpoint.id);
        let inserted = sql::insert_message(
            tx,
            &NewMessage {
                id: &id,
                org_id,
                kind: Kind::Webhook,
                dedupe_key: &key,
                endpoint_id: Some(&endpoint.id),
                payload: &body,
                now: &stamp,
            },
        )
        .await?;
        if inserted {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Queues emails and events of one change in `tx` with one read (the org's endpoints)
/// and one multi-row insert: what a SCIM request's effects cost. Keys as for
/// [`enqueue_email`] and [`enqueue_event`] (an event's row is keyed
/// `{prefix}:{endpoint id}`); rows whose key the org already has are skipped. Returns
/// the ids of the rows added.
pub async fn enqueue_batch(
    tx: &mut Tx,
    org_id: &OrgId,
    emails: &[(String, Email)],
    events: &[(String, Event)],
    now: OffsetDateTime,
) -> Result<Vec<String>, OutboxError> {
    let stamp = format_timestamp(now);
    // (id, key, endpoint, payload) owned here, borrowed by the rows below.
    let mut rows: Vec<(String, Kind, String, Option<WebhookId>, String)> = Vec::new();
    for (key, email) in emails {
        email.validate()?;
        let payload =
            serde_json::to_string(email).map_err(|e| OutboxError::Encode(e.to_string()))?;
        rows.push((new_id(), Kind::Email, key.clone(), None, payload));
    }
    if !events.is_empty() {
        let endpoints = sql::list_endpoints(tx, org_id).await?;
        for (prefix, event) in events {
            let mut body = None;
            for endpoint in endpoints.iter().filter(|e| webhook::wants(e, event.kind)) {
                let body = match &body {
                    Some(b) => b,
                    None => body.insert(event.body(now)?),
                };
                rows.push((
                    new_id(),
                    Kind::Webhook,
                    format!("{prefix}:{}", endpoint.id),
                    Some(endpoint.id.clone()),
                    body.clone(),
                ));
            }
        }
    }
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let messages: Vec<NewMessage<'_>> = rows
        .iter()
        .map(|(id, kind, key, endpoint, payload)| NewMessage {
            id,
            org_id,
            kind: *kind,
            dedupe_key: key,
            endpoint_id: endpoint.as_ref(),
            payload,
            now: &stamp,
        })
        .collect();
    Ok(sql::insert_messages(tx, &messages).await?)
}

/// One outbox row (for the admin API and tests).
pub async fn get_message(tx: &mut Tx, id: &str) -> Result<Option<Message>, OutboxError> {
    Ok(sql::get_message(tx, id).await?)
}

/// An org's outbox rows, oldest first, at most `limit`.
pub async fn list_messages(
    tx: &mut Tx,
    org_id: &OrgId,
    limit: i64,
) -> Result<Vec<Message>, OutboxError> {
    Ok(sql::list_messages(tx, org_id, limit).await?)
}

/// Every attempt at delivering a row, in order.
pub async fn list_attempts(tx: &mut Tx, outbox_id: &str) -> Result<Vec<Attempt>, OutboxError> {
    Ok(sql::list_attempts(tx, outbox_id).await?)
}

/// Time-ordered ids (UUID v7): rows and `.eml` files sort by creation.
fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
