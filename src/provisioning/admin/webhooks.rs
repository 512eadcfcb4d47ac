//! Webhook endpoints of the org (the outbox delivers to them), with audit entries. The
//! secret is shown once, when created or rotated.

use super::audit::record;
use super::settings::present;
use super::{Admin, AdminActor, AdminError, to_json};
use crate::domain::WebhookId;
use crate::outbox::{
    self, Endpoint, EndpointUpdate, EventType, NewEndpoint, OutboxError, WebhookSecret,
};
use crate::store::Tx;
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// An endpoint as an admin sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WebhookView {
    #[schema(value_type = String)]
    pub id: WebhookId,
    pub url: String,
    /// Event types sent; null: every type.
    #[schema(value_type = Option<Vec<WebhookEventType>>)]
    pub event_types: Option<Vec<String>>,
    pub enabled: bool,
    /// The signing secret (`whsec_...`): only in the answer that created or rotated it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub created: String,
    pub updated: String,
}

/// An endpoint to create.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// An absolute http:// or https:// URL. (The server takes any URL with a host; the
    /// pattern describes the ones a client can count on.)
    #[schema(
        pattern = r"^https?://((?!xn--)[a-z0-9]([a-z0-9-]*[a-z0-9])?\.)*(?!xn--)[a-z]([a-z0-9-]*[a-z0-9])?(:[0-9]{1,4})?(/[A-Za-z0-9._~/-]*)?$"
    )]
    pub url: String,
    /// A Standard Webhooks secret: `whsec_` and the base64 of 24 to 64 bytes; default: a
    /// new random one.
    #[schema(
        pattern = r"^whsec_((?:[A-Za-z0-9+/]{4}){8,21}|(?:[A-Za-z0-9+/]{4}){8,20}[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=|(?:[A-Za-z0-9+/]{4}){8,21}[A-Za-z0-9+/][AQgw]==)$"
    )]
    pub secret: Option<String>,
    /// e.g. `["membership.granted"]`; default: every type.
    #[schema(value_type = Option<Vec<WebhookEventType>>)]
    pub event_types: Option<Vec<String>>,
    /// Default true.
    pub enabled: Option<bool>,
}

/// Changes to an endpoint; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookUpdate {
    #[schema(
        pattern = r"^https?://((?!xn--)[a-z0-9]([a-z0-9-]*[a-z0-9])?\.)*(?!xn--)[a-z]([a-z0-9-]*[a-z0-9])?(:[0-9]{1,4})?(/[A-Za-z0-9._~/-]*)?$"
    )]
    pub url: Option<String>,
    /// A new secret (rotation).
    #[schema(
        pattern = r"^whsec_((?:[A-Za-z0-9+/]{4}){8,21}|(?:[A-Za-z0-9+/]{4}){8,20}[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=|(?:[A-Za-z0-9+/]{4}){8,21}[A-Za-z0-9+/][AQgw]==)$"
    )]
    pub secret: Option<String>,
    /// A list of event types, or null for every type.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<WebhookEventType>>)]
    pub event_types: Option<Option<Vec<String>>>,
    pub enabled: Option<bool>,
}

/// The name of an event type, for the OpenAPI document: the values come from
/// [`EventType::ALL`], so the document lists exactly what the server accepts.
pub struct WebhookEventType;

impl utoipa::PartialSchema for WebhookEventType {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(EventType::ALL.map(EventType::as_str)))
            .into()
    }
}

impl utoipa::ToSchema for WebhookEventType {}

fn invalid(e: OutboxError) -> AdminError {
    match e {
        OutboxError::Store(s) => AdminError::Store(s),
        e @ (OutboxError::InvalidUrl { .. }
        | OutboxError::InvalidSecret
        | OutboxError::UnknownEventType(_)) => AdminError::Invalid(e.to_string()),
        other => AdminError::Internal(other.to_string()),
    }
}

fn types(names: Option<Vec<String>>) -> Result<Option<Vec<EventType>>, AdminError> {
    names
        .map(|n| n.iter().map(|t| t.parse().map_err(invalid)).collect())
        .transpose()
}

fn secret(s: Option<String>) -> Result<Option<WebhookSecret>, AdminError> {
    s.map(|s| WebhookSecret::parse(&s).map_err(invalid))
        .transpose()
}

fn view(e: &Endpoint, show_secret: bool) -> WebhookView {
    WebhookView {
        id: e.id.clone(),
        url: e.url.clone(),
        event_types: e.event_types.clone(),
        enabled: e.enabled,
        secret: show_secret.then(|| e.secret.expose_secret().to_owned()),
        created: e.created.to_string(),
        updated: e.updated.to_string(),
    }
}

fn not_found(id: &WebhookId) -> AdminError {
    AdminError::NotFound(format!(
        "no webhook endpoint with id {id:?} in this organization"
    ))
}

/// The endpoint `id` of the actor's org.
async fn endpoint(tx: &mut Tx, actor: &AdminActor, id: &WebhookId) -> Result<Endpoint, AdminError> {
    outbox::get_endpoint(tx, &actor.org_id, id)
        .await
        .map_err(invalid)?
        .ok_or_else(|| not_found(id))
}

/// Records a change to endpoint `id` in the audit log (the endpoint before it without its
/// secret, and what it is after) and commits the change.
async fn commit_change(
    mut tx: Tx,
    actor: &AdminActor,
    now: &str,
    action: &str,
    id: &WebhookId,
    before: Option<&Endpoint>,
    after: Option<&Value>,
) -> Result<(), AdminError> {
    let before = before.map(|e| to_json(&view(e, false))).transpose()?;
    let target = format!("webhook:{id}");
    record(&mut tx, actor, now, action, &target, before.as_ref(), after).await?;
    tx.commit().await?;
    Ok(())
}

impl Admin {
    /// The org's endpoints (without secrets).
    pub async fn list_webhooks(&self, actor: &AdminActor) -> Result<Vec<WebhookView>, AdminError> {
        let mut tx = self.read().await?;
        Ok(outbox::list_endpoints(&mut tx, &actor.org_id)
            .await
            .map_err(invalid)?
            .iter()
            .map(|e| view(e, false))
            .collect())
    }

    /// One endpoint (without its secret).
    pub async fn get_webhook(
        &self,
        actor: &AdminActor,
        id: &WebhookId,
    ) -> Result<WebhookView, AdminError> {
        let mut tx = self.read().await?;
        Ok(view(&endpoint(&mut tx, actor, id).await?, false))
    }

    /// Creates an endpoint; the answer carries its secret.
    pub async fn create_webhook(
        &self,
        actor: &AdminActor,
        new: NewWebhook,
    ) -> Result<WebhookView, AdminError> {
        let new = NewEndpoint {
            url: new.url,
            secret: secret(new.secret)?,
            event_types: types(new.event_types)?,
            enabled: new.enabled.unwrap_or(true),
        };
        let now = self.now();
        let mut tx = self.write().await?;
        let e = outbox::create_endpoint(&mut tx, &actor.org_id, new, self.clock.now())
            .await
            .map_err(invalid)?;
        let after = to_json(&view(&e, false))?;
        commit_change(
            tx,
            actor,
            &now,
            "webhook.created",
            &e.id,
            None,
            Some(&after),
        )
        .await?;
        Ok(view(&e, true))
    }

    /// Changes an endpoint; the answer carries the secret only if it was rotated.
    pub async fn update_webhook(
        &self,
        actor: &AdminActor,
        id: &WebhookId,
        update: WebhookUpdate,
    ) -> Result<WebhookView, AdminError> {
        let rotated = update.secret.is_some();
        let update = EndpointUpdate {
            url: update.url,
            secret: secret(update.secret)?,
            event_types: update.event_types.map(types).transpose()?,
            enabled: update.enabled,
        };
        let now = self.now();
        let mut tx = self.write().await?;
        let before = endpoint(&mut tx, actor, id).await?;
        let e = outbox::update_endpoint(&mut tx, &actor.org_id, id, update, self.clock.now())
            .await
            .map_err(invalid)?
            .ok_or_else(|| not_found(id))?;
        let mut after = to_json(&view(&e, false))?;
        if rotated {
            after["secret_rotated"] = true.into();
        }
        let action = "webhook.updated";
        commit_change(tx, actor, &now, action, id, Some(&before), Some(&after)).await?;
        Ok(view(&e, rotated))
    }

    /// Deletes an endpoint.
    pub async fn delete_webhook(
        &self,
        actor: &AdminActor,
        id: &WebhookId,
    ) -> Result<(), AdminError> {
        let now = self.now();
        let mut tx = self.write().await?;
        let before = endpoint(&mut tx, actor, id).await?;
        outbox::delete_endpoint(&mut tx, &actor.org_id, id)
            .await
            .map_err(invalid)?;
        commit_change(tx, actor, &now, "webhook.deleted", id, Some(&before), None).await?;
        Ok(())
    }
}
