//! The delivery loop: claim due rows, send, record the attempt, retry with backoff.

use super::webhook::WebhookSender;
use super::{Email, Kind, Mailer, Message, OutboxError};
use crate::clock::{Clock, format_timestamp};
use crate::domain::WebhookId;
use crate::outbound::Destinations;
use crate::store::Store;
use crate::store::outbox::Endpoint;
use crate::store::outbox::{self as sql, Outcome};
use futures::FutureExt as _;
use futures::stream::{FuturesUnordered, StreamExt as _};
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use time::OffsetDateTime;

/// The default lease on a claimed row (`--outbox-lease-ms`).
pub const DEFAULT_CLAIM_FOR: Duration = Duration::from_secs(30);

/// How the worker paces itself.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Pause when nothing is due.
    pub poll_interval: Duration,
    /// Rows claimed (and sent concurrently) per round.
    pub batch_size: usize,
    /// How long a claim (the lease on a row) lasts. The worker renews it every third of
    /// this while the send is in progress, so a slow send keeps its row; a row whose
    /// worker died is claimed again at most this long after the death. Short, so a crash
    /// delays the emails it interrupted by seconds, not minutes.
    pub claim_for: Duration,
    /// Longest one send may take, whatever the transport (the claim is renewed meanwhile).
    pub send_timeout: Duration,
    /// Longest a webhook request may take, connecting included.
    pub webhook_timeout: Duration,
    /// After this many attempts a row is `failed`.
    pub max_attempts: i64,
    /// Delay before the second attempt; it doubles with each further attempt ...
    pub backoff_base: Duration,
    /// ... up to this.
    pub backoff_cap: Duration,
    /// Where webhooks may go (internal addresses only when an operator allowed them).
    pub destinations: Destinations,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            poll_interval: Duration::from_secs(1),
            batch_size: 8,
            claim_for: DEFAULT_CLAIM_FOR,
            // A slow SMTP relay may take a while; a stalled one still ends well inside
            // a claim.
            send_timeout: Duration::from_secs(60),
            // Webhook receivers are expected to answer quickly and do slow work later.
            webhook_timeout: Duration::from_secs(10),
            // 30 s doubling to 1 h: the 16th attempt comes about 12 hours after the first.
            max_attempts: 16,
            backoff_base: Duration::from_secs(30),
            backoff_cap: Duration::from_secs(3600),
            destinations: Destinations::default(),
        }
    }
}

/// Delivers the outbox. Several workers, in one process or many, may share a database.
#[derive(Debug, Clone)]
pub struct Worker {
    store: Store,
    clock: Arc<dyn Clock>,
    mailer: Mailer,
    webhooks: WebhookSender,
    options: WorkerOptions,
    id: String,
}

impl Worker {
    /// A worker with a random id (which names it in `claimed_by` and the attempts).
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        mailer: Mailer,
        options: WorkerOptions,
    ) -> Result<Worker, OutboxError> {
        let uuid = uuid::Uuid::new_v4().simple().to_string();
        let id = format!("pid{}-{}", std::process::id(), &uuid[..8]);
        Ok(Worker {
            store,
            clock,
            mailer,
            webhooks: WebhookSender::new(options.webhook_timeout, &options.destinations)?,
            options,
            id,
        })
    }

    /// This worker's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Delivers until `shutdown` completes. A round that has started is finished first
    /// (cutting a send short would leave its row to be sent again after the claim).
    pub async fn run(&self, shutdown: impl Future<Output = ()> + Send) {
        let mut shutdown = std::pin::pin!(shutdown);
        tracing::info!(worker = %self.id, mail = %self.mailer.describe(), "outbox worker started");
        loop {
            let busy = match self.run_once().await {
                Ok(n) => n > 0,
                Err(e) => {
                    tracing::warn!(worker = %self.id, error = %e, "outbox round failed");
                    false
                }
            };
            if busy {
                if shutdown.as_mut().now_or_never().is_some() {
                    break;
                }
                continue;
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(self.options.poll_interval) => {}
            }
        }
        tracing::info!(worker = %self.id, "outbox worker stopped");
    }

    /// One round: claims the rows due now (at most `batch_size`), sends them
    /// concurrently and records each outcome. Returns how many rows it handled.
    pub async fn run_once(&self) -> Result<usize, OutboxError> {
        let now = self.clock.now();
        let until = now + self.options.claim_for;
        let limit = i64::try_from(self.options.batch_size.max(1)).unwrap_or(i64::MAX);
        let mut read = self.store.read().await?;
        let due = sql::any_due(&mut read, &format_timestamp(now)).await?;
        drop(read);
        if !due {
            return Ok(0);
        }
        // The lease: short, and renewed below while the sends run. A process killed here
        // or later leaves its rows to be claimed again once `until` passes; what is then
        // sent twice is only a send the receiver accepted in the moment before the kill,
        // before its outcome was recorded (the at-least-once window of the module docs),
        // and that copy carries the same Message-ID / webhook-id.
        let mut tx = self.store.write().await?;
        let claimed = sql::claim_due(
            &mut tx,
            &self.id,
            &format_timestamp(now),
            &format_timestamp(until),
            limit,
        )
        .await?;
        tx.commit().await?;
        let n = claimed.len();
        // Read before any send starts: a send suspended in the middle of a read would hold
        // a reader while this task waits for the writer to record another send's outcome
        // (see `store::reader_ledger`).
        let endpoints = self.endpoints_of(&claimed).await;
        let endpoints = &endpoints;
        let mut in_flight: BTreeSet<&str> = claimed.iter().map(|m| m.id.as_str()).collect();
        let mut sending: FuturesUnordered<_> = claimed
            .iter()
            .map(|m| async move { (m, self.attempt(m, endpoints).await) })
            .collect();
        let period = self.options.claim_for / 3;
        let mut renewal = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        renewal.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Each outcome is recorded as soon as its send ends; sends that ended together
        // share one write transaction (the writer is what SCIM requests wait for).
        let mut first_error = None;
        loop {
            let done = tokio::select! {
                done = sending.next() => done,
                _ = renewal.tick() => {
                    if let Err(e) = self.renew(&in_flight).await {
                        // The claims may lapse: another worker may then send these rows
                        // again, with the same ids. Keep sending; say so.
                        tracing::warn!(worker = %self.id, error = %e, "outbox claims not renewed");
                    }
                    continue;
                }
            };
            let Some(done) = done else { break };
            let mut ended = vec![done];
            while let Some(Some(more)) = sending.next().now_or_never() {
                ended.push(more);
            }
            for (m, _) in &ended {
                in_flight.remove(m.id.as_str());
            }
            if let Err(e) = self.record(&ended).await {
                // Every row is still tried; the first bookkeeping failure is reported.
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(n), Err)
    }

    /// Extends this worker's claims on the rows still being sent by another lease.
    async fn renew(&self, ids: &BTreeSet<&str>) -> Result<(), OutboxError> {
        if ids.is_empty() {
            return Ok(());
        }
        let until = format_timestamp(self.clock.now() + self.options.claim_for);
        let mut tx = self.store.write().await?;
        sql::renew_claims(&mut tx, &self.id, ids.iter().copied(), &until).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The endpoints of the claimed webhook rows (one deleted since is absent), or why
    /// they could not be read.
    async fn endpoints_of(
        &self,
        claimed: &[Message],
    ) -> Result<HashMap<WebhookId, Endpoint>, String> {
        let wanted: BTreeSet<_> = claimed
            .iter()
            .filter_map(|m| m.endpoint_id.as_ref().map(|id| (&m.org_id, id)))
            .collect();
        let mut found = HashMap::new();
        if wanted.is_empty() {
            return Ok(found);
        }
        let mut tx = self.store.read().await.map_err(|e| e.to_string())?;
        for (org_id, id) in wanted {
            if let Some(endpoint) = sql::get_endpoint(&mut tx, Some(org_id), id)
                .await
                .map_err(|e| e.to_string())?
            {
                found.insert(id.clone(), endpoint);
            }
        }
        Ok(found)
    }

    /// Sends one claimed row and says how it went.
    async fn attempt(
        &self,
        m: &Message,
        endpoints: &Result<HashMap<WebhookId, Endpoint>, String>,
    ) -> (Outcome, OffsetDateTime) {
        let sent =
            match tokio::time::timeout(self.options.send_timeout, self.send(m, endpoints)).await {
                Ok(result) => result,
                Err(_) => Err(Failure::Retry(format!(
                    "no answer within {} s",
                    self.options.send_timeout.as_secs()
                ))),
            };
        let now = self.clock.now();
        let outcome = match sent {
            Ok(()) => Outcome::Delivered,
            Err(Failure::Permanent(error)) => Outcome::Failed { error },
            Err(Failure::Retry(error)) if m.attempts >= self.options.max_attempts => {
                Outcome::Failed {
                    error: format!("gave up after {} attempts: {error}", m.attempts),
                }
            }
            Err(Failure::Retry(error)) => match self.backoff(m.attempts) {
                Ok(pause) => Outcome::Retry {
                    at: format_timestamp(now + pause),
                    error,
                },
                // No randomness for the jitter: retry after the full pause.
                Err(_) => Outcome::Retry {
                    at: format_timestamp(now + self.full_pause(m.attempts)),
                    error,
                },
            },
        };
        match &outcome {
            Outcome::Delivered => {
                tracing::info!(outbox_id = %m.id, kind = m.kind.as_str(), attempt = m.attempts, "outbox delivered");
            }
            Outcome::Retry { at, error } => {
                tracing::warn!(outbox_id = %m.id, kind = m.kind.as_str(), attempt = m.attempts, retry_at = %at, %error, "outbox delivery failed, will retry");
            }
            Outcome::Failed { error } => {
                tracing::error!(outbox_id = %m.id, kind = m.kind.as_str(), attempt = m.attempts, %error, "outbox delivery failed for good");
            }
        }
        (outcome, now)
    }

    /// Records the outcomes of ended sends in one transaction.
    async fn record(
        &self,
        ended: &[(&Message, (Outcome, OffsetDateTime))],
    ) -> Result<(), OutboxError> {
        let mut tx = self.store.write().await?;
        let mut lost = Vec::new();
        for (m, (outcome, at)) in ended {
            // A finished email loses its code or link; a retry still needs them.
            let finished = matches!(outcome, Outcome::Delivered | Outcome::Failed { .. });
            let scrubbed = (finished && m.kind == Kind::Email)
                .then(|| super::email::scrubbed_payload(&m.payload));
            let owned = sql::finish_attempt(
                &mut tx,
                &m.id,
                &self.id,
                m.attempts,
                outcome,
                &format_timestamp(*at),
                scrubbed.as_deref(),
            )
            .await?;
            if !owned {
                lost.push(&m.id);
            }
        }
        tx.commit().await?;
        for id in lost {
            tracing::warn!(outbox_id = %id, "outbox claim expired during the attempt; another worker owns the row");
        }
        Ok(())
    }

    async fn send(
        &self,
        m: &Message,
        endpoints: &Result<HashMap<WebhookId, Endpoint>, String>,
    ) -> Result<(), Failure> {
        match m.kind {
            Kind::Email => {
                let email: Email = serde_json::from_str(&m.payload)
                    .map_err(|e| Failure::Permanent(format!("unreadable email payload: {e}")))?;
                let message = email
                    .message(
                        self.mailer.from(),
                        &m.id,
                        SystemTime::from(self.clock.now()),
                    )
                    .map_err(|e| Failure::Permanent(e.to_string()))?;
                self.mailer
                    .send(&m.id, message)
                    .await
                    .map_err(Failure::Retry)
            }
            Kind::Webhook => {
                let endpoint = match (&m.endpoint_id, endpoints) {
                    (Some(id), Ok(found)) => found.get(id),
                    (Some(_), Err(e)) => return Err(Failure::Retry(e.clone())),
                    (None, _) => None,
                };
                let endpoint = endpoint
                    .ok_or_else(|| Failure::Permanent("the webhook endpoint was deleted".into()))?;
                if !endpoint.enabled {
                    return Err(Failure::Permanent(
                        "the webhook endpoint is disabled".into(),
                    ));
                }
                let timestamp = self.clock.now().unix_timestamp();
                self.webhooks
                    .send(endpoint, &m.id, timestamp, &m.payload)
                    .await
                    .map_err(Failure::Retry)
            }
        }
    }

    /// The pause after attempt `attempt` failed: `base * 2^(attempt-1)` capped, of which
    /// the second half is random ("equal jitter"). Workers that failed together spread
    /// out, and each pause is still at least as long as the one before.
    fn backoff(&self, attempt: i64) -> Result<Duration, OutboxError> {
        let half = self.full_pause(attempt) / 2;
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).map_err(|e| OutboxError::Random(e.to_string()))?;
        let fraction = u64::from_le_bytes(bytes) as f64 / u64::MAX as f64;
        Ok(half + half.mul_f64(fraction))
    }

    /// `base * 2^(attempt-1)`, capped.
    fn full_pause(&self, attempt: i64) -> Duration {
        let exponent = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        self.options
            .backoff_base
            .saturating_mul(1u32 << exponent)
            .min(self.options.backoff_cap)
    }
}

/// Why a send did not go through.
enum Failure {
    /// Worth trying again (connection refused, timeout, 4xx/5xx from the peer).
    Retry(String),
    /// Will never work (unreadable payload, endpoint gone).
    Permanent(String),
}
