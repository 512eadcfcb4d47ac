//! Webhooks in the Standard Webhooks format (https://www.standardwebhooks.com): events,
//! per-org endpoints, signing and the HTTP delivery.

use super::OutboxError;
use crate::clock::{Timestamp, format_timestamp};
use crate::domain::{OrgId, WebhookId};
use crate::outbound::{Destinations, GuardedClient, redact_url, scrub_url};
use crate::store::Tx;
use crate::store::outbox::{self as sql, Endpoint};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac as _};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};
use sha2::Sha256;
use std::time::Duration;
use time::OffsetDateTime;

/// What happened. The names are the `type` of the webhook body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    UserProvisioned,
    UserUpdated,
    UserDeprovisioned,
    UserSignedIn,
    /// A user's sessions were revoked (deprovisioned, or a refresh token was reused).
    UserSessionsRevoked,
    MembershipGranted,
    MembershipWaitlisted,
    MembershipRemoved,
    SeatReleased,
    RoleChanged,
    /// The person accepted the invitation of a membership (`invited` → `pending_app_login`).
    InvitationAccepted,
}

impl EventType {
    /// Every event type.
    pub const ALL: [EventType; 11] = [
        EventType::UserProvisioned,
        EventType::UserUpdated,
        EventType::UserDeprovisioned,
        EventType::UserSignedIn,
        EventType::UserSessionsRevoked,
        EventType::MembershipGranted,
        EventType::MembershipWaitlisted,
        EventType::MembershipRemoved,
        EventType::SeatReleased,
        EventType::RoleChanged,
        EventType::InvitationAccepted,
    ];

    /// The wire name, e.g. `user.provisioned`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::UserProvisioned => "user.provisioned",
            EventType::UserUpdated => "user.updated",
            EventType::UserDeprovisioned => "user.deprovisioned",
            EventType::UserSignedIn => "user.signed_in",
            EventType::UserSessionsRevoked => "user.sessions_revoked",
            EventType::MembershipGranted => "membership.granted",
            EventType::MembershipWaitlisted => "membership.waitlisted",
            EventType::MembershipRemoved => "membership.removed",
            EventType::SeatReleased => "seat.released",
            EventType::RoleChanged => "role.changed",
            EventType::InvitationAccepted => "invitation.accepted",
        }
    }
}

impl std::str::FromStr for EventType {
    type Err = OutboxError;
    fn from_str(s: &str) -> Result<EventType, OutboxError> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| OutboxError::UnknownEventType(s.to_owned()))
    }
}

/// An event to send to the org's endpoints.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: EventType,
    /// The event's subject, e.g. `{"user": {"id": ..., "userName": ...}, "team": ...}`.
    pub data: Value,
}

impl Event {
    /// The body, fixed at enqueue time: `{"type", "timestamp", "data"}` as Standard
    /// Webhooks recommends.
    pub(super) fn body(&self, now: OffsetDateTime) -> Result<String, OutboxError> {
        serde_json::to_string(&json!({
            "type": self.kind.as_str(),
            "timestamp": format_timestamp(now),
            "data": self.data,
        }))
        .map_err(|e| OutboxError::Encode(e.to_string()))
    }
}

/// A Standard Webhooks secret: `whsec_` and the base64 of 24 to 64 random bytes. Its
/// `Debug` prints nothing of the key.
#[derive(Clone)]
pub struct WebhookSecret(SecretString);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

const SECRET_PREFIX: &str = "whsec_";

impl WebhookSecret {
    /// Parses a secret as given by an admin.
    pub fn parse(s: &str) -> Result<WebhookSecret, OutboxError> {
        let key = decode_key(s).ok_or(OutboxError::InvalidSecret)?;
        if !(24..=64).contains(&key.len()) {
            return Err(OutboxError::InvalidSecret);
        }
        Ok(WebhookSecret(SecretString::from(s.to_owned())))
    }

    /// A new random 32-byte secret.
    pub fn generate() -> Result<WebhookSecret, OutboxError> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| OutboxError::Random(e.to_string()))?;
        Ok(WebhookSecret(SecretString::from(format!(
            "{SECRET_PREFIX}{}",
            BASE64.encode(key)
        ))))
    }

    /// The `whsec_...` text, to show the admin once or to store.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

fn decode_key(secret: &str) -> Option<Vec<u8>> {
    BASE64.decode(secret.strip_prefix(SECRET_PREFIX)?).ok()
}

/// The `webhook-signature` header value: `v1,` and the base64 HMAC-SHA256 of
/// `{id}.{timestamp}.{body}` keyed with the decoded secret (Standard Webhooks, "Signature
/// scheme"). None if the secret does not decode.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key = decode_key(secret)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    Some(format!("v1,{}", BASE64.encode(mac.finalize().into_bytes())))
}

/// Whether an endpoint receives events of this type.
pub(super) fn wants(endpoint: &Endpoint, kind: EventType) -> bool {
    endpoint.enabled
        && endpoint
            .event_types
            .as_ref()
            .is_none_or(|types| types.iter().any(|t| t == kind.as_str()))
}

/// A new endpoint.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    /// An absolute `http://` or `https://` URL.
    pub url: String,
    /// None: a new random one is generated (read it back from the result).
    pub secret: Option<WebhookSecret>,
    /// None: every event type.
    pub event_types: Option<Vec<EventType>>,
    pub enabled: bool,
}

/// Changes to an endpoint; None leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct EndpointUpdate {
    pub url: Option<String>,
    /// Rotates the secret.
    pub secret: Option<WebhookSecret>,
    /// `Some(None)`: every event type.
    pub event_types: Option<Option<Vec<EventType>>>,
    pub enabled: Option<bool>,
}

fn check_url(url: &str) -> Result<(), OutboxError> {
    let invalid = |reason: &str| OutboxError::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("a host is required"));
    }
    Ok(())
}

fn type_names(types: Option<&[EventType]>) -> Option<Vec<String>> {
    types.map(|t| t.iter().map(|k| k.as_str().to_owned()).collect())
}

/// Creates an endpoint for the org.
pub async fn create_endpoint(
    tx: &mut Tx,
    org_id: &OrgId,
    new: NewEndpoint,
    now: OffsetDateTime,
) -> Result<Endpoint, OutboxError> {
    check_url(&new.url)?;
    let secret = match new.secret {
        Some(s) => s,
        None => WebhookSecret::generate()?,
    };
    let stamp = Timestamp::from(now);
    let endpoint = Endpoint {
        id: WebhookId::new_v7(),
        org_id: org_id.to_owned(),
        url: new.url,
        secret: secret.0.clone(),
        event_types: type_names(new.event_types.as_deref()),
        enabled: new.enabled,
        created: stamp.clone(),
        updated: stamp,
    };
    sql::insert_endpoint(tx, &endpoint, secret.expose()).await?;
    Ok(endpoint)
}

/// The org's endpoints, oldest first.
pub async fn list_endpoints(tx: &mut Tx, org_id: &OrgId) -> Result<Vec<Endpoint>, OutboxError> {
    Ok(sql::list_endpoints(tx, org_id).await?)
}

/// One of the org's endpoints.
pub async fn get_endpoint(
    tx: &mut Tx,
    org_id: &OrgId,
    id: &WebhookId,
) -> Result<Option<Endpoint>, OutboxError> {
    Ok(sql::get_endpoint(tx, Some(org_id), id).await?)
}

/// Changes one of the org's endpoints; None if it has none with that id. Rows already
/// queued are signed with the secret current at delivery and go to the current URL.
pub async fn update_endpoint(
    tx: &mut Tx,
    org_id: &OrgId,
    id: &WebhookId,
    update: EndpointUpdate,
    now: OffsetDateTime,
) -> Result<Option<Endpoint>, OutboxError> {
    let Some(mut endpoint) = sql::get_endpoint(tx, Some(org_id), id).await? else {
        return Ok(None);
    };
    if let Some(url) = update.url {
        check_url(&url)?;
        endpoint.url = url;
    }
    if let Some(secret) = update.secret {
        endpoint.secret = secret.0;
    }
    if let Some(types) = update.event_types {
        endpoint.event_types = type_names(types.as_deref());
    }
    if let Some(enabled) = update.enabled {
        endpoint.enabled = enabled;
    }
    endpoint.updated = Timestamp::from(now);
    let secret = endpoint.secret.expose_secret().to_owned();
    Ok(sql::update_endpoint(tx, &endpoint, &secret)
        .await?
        .then_some(endpoint))
}

/// Deletes one of the org's endpoints; false if it has none with that id. Its rows not
/// yet delivered fail at their next attempt; their history stays.
pub async fn delete_endpoint(
    tx: &mut Tx,
    org_id: &OrgId,
    id: &WebhookId,
) -> Result<bool, OutboxError> {
    Ok(sql::delete_endpoint(tx, org_id, id).await?)
}

/// What an attempt records when no answer came: the same whether the endpoint was
/// unreachable, refused the connection or is not an allowed destination, so that an
/// admin cannot map the internal network through it (the operator's log says which).
pub const NO_ANSWER: &str =
    "no answer from the endpoint (unreachable, timed out, or not an allowed destination)";

/// Posts signed webhook bodies to allowed destinations (`crate::outbound`).
#[derive(Debug, Clone)]
pub(super) struct WebhookSender {
    client: GuardedClient,
}

impl WebhookSender {
    pub(super) fn new(
        timeout: Duration,
        destinations: &Destinations,
    ) -> Result<WebhookSender, OutboxError> {
        let client = GuardedClient::new(destinations, |b| {
            b.timeout(timeout).connect_timeout(timeout)
        })
        .map_err(OutboxError::HttpClient)?;
        Ok(WebhookSender { client })
    }

    /// Posts `body` to the endpoint; `Ok` on any 2xx. The error names neither the secret
    /// nor the URL's userinfo or query.
    pub(super) async fn send(
        &self,
        endpoint: &Endpoint,
        webhook_id: &str,
        timestamp: i64,
        body: &str,
    ) -> Result<(), String> {
        // Every error of the attempt passes through `scrub_url` once, below.
        let outcome: Result<(), String> = async {
            let signature = sign(endpoint.secret.expose_secret(), webhook_id, timestamp, body)
                .ok_or_else(|| "the endpoint's secret does not decode".to_owned())?;
            let url =
                reqwest::Url::parse(&endpoint.url).map_err(|e| format!("invalid URL: {e}"))?;
            let request = self
                .client
                .request(reqwest::Method::POST, url)
                .header("content-type", "application/json")
                .header("webhook-id", webhook_id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", signature)
                .body(body.to_owned())
                .build()
                .map_err(|e| format!("cannot build the request: {}", e.without_url()))?;
            let response = match self.client.execute(request).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(
                        outbox_id = %webhook_id,
                        endpoint = %redact_url(&endpoint.url),
                        cause = %scrub_url(&e.to_string(), &endpoint.url),
                        "webhook endpoint not reached"
                    );
                    return Err(NO_ANSWER.to_owned());
                }
            };
            let status = response.status();
            if status.is_success() {
                return Ok(());
            }
            // A little of the receiver's answer helps whoever debugs the endpoint.
            let text = response.text().await.unwrap_or_default();
            let excerpt: String = text.chars().take(200).collect();
            Err(format!("HTTP {status}: {excerpt}"))
        }
        .await;
        outcome.map_err(|e| scrub_url(&e, &endpoint.url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_like_the_standard_webhooks_reference() {
        // The example of the Standard Webhooks specification and its reference libraries.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_checked_and_never_printed() {
        let s = WebhookSecret::generate().unwrap();
        assert!(s.expose().starts_with("whsec_"));
        assert!(WebhookSecret::parse(s.expose()).is_ok());
        assert!(!format!("{s:?}").contains(&s.expose()[6..]));
        assert!(WebhookSecret::parse("whsec_c2hvcnQ=").is_err());
        assert!(WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
    }

    #[test]
    fn event_types_round_trip_and_urls_are_checked() {
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>().unwrap(), t);
        }
        assert!("user.exploded".parse::<EventType>().is_err());
        assert!(check_url("https://hooks.example.com/rollcall").is_ok());
        assert!(check_url("ftp://hooks.example.com").is_err());
        assert!(check_url("/relative").is_err());
    }
}
