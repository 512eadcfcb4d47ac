//! `/admin/v1/webhooks`: the org's webhook endpoints.

use super::auth::AdminJson;
use super::error::{AdminApiError, ErrorBody};
use crate::domain::WebhookId;
use crate::http::AppState;
use crate::provisioning::admin::{AdminActor, NewWebhook, WebhookUpdate, WebhookView};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

/// The org's webhook endpoints (without secrets).
#[utoipa::path(get, path = "/admin/v1/webhooks", tag = "webhooks",
    responses((status = 200, body = [WebhookView])))]
pub async fn list_webhooks(
    State(state): State<AppState>,
    actor: AdminActor,
) -> Result<Json<Vec<WebhookView>>, AdminApiError> {
    Ok(Json(state.directory.admin().list_webhooks(&actor).await?))
}

/// Creates an endpoint; the answer shows its signing secret once.
#[utoipa::path(post, path = "/admin/v1/webhooks", tag = "webhooks", request_body = NewWebhook,
    responses((status = 201, body = WebhookView),
        (status = 400, description = "Not an http(s) URL, a bad secret or an unknown event type", body = ErrorBody)))]
pub async fn create_webhook(
    State(state): State<AppState>,
    actor: AdminActor,
    AdminJson(new): AdminJson<NewWebhook>,
) -> Result<(StatusCode, Json<WebhookView>), AdminApiError> {
    let w = state.directory.admin().create_webhook(&actor, new).await?;
    Ok((StatusCode::CREATED, Json(w)))
}

/// One endpoint.
#[utoipa::path(get, path = "/admin/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "Endpoint id")),
    responses((status = 200, body = WebhookView)))]
pub async fn get_webhook(
    State(state): State<AppState>,
    actor: AdminActor,
    Path(id): Path<WebhookId>,
) -> Result<Json<WebhookView>, AdminApiError> {
    Ok(Json(
        state.directory.admin().get_webhook(&actor, &id).await?,
    ))
}

/// Changes an endpoint (URL, event types, on/off, or rotates its secret).
#[utoipa::path(patch, path = "/admin/v1/webhooks/{id}", tag = "webhooks",
    request_body = WebhookUpdate, params(("id" = String, Path, description = "Endpoint id")),
    responses((status = 200, body = WebhookView)))]
pub async fn update_webhook(
    State(state): State<AppState>,
    actor: AdminActor,
    Path(id): Path<WebhookId>,
    AdminJson(update): AdminJson<WebhookUpdate>,
) -> Result<Json<WebhookView>, AdminApiError> {
    Ok(Json(
        state
            .directory
            .admin()
            .update_webhook(&actor, &id, update)
            .await?,
    ))
}

/// Deletes an endpoint.
#[utoipa::path(delete, path = "/admin/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "Endpoint id")),
    responses((status = 204)))]
pub async fn delete_webhook(
    State(state): State<AppState>,
    actor: AdminActor,
    Path(id): Path<WebhookId>,
) -> Result<StatusCode, AdminApiError> {
    state.directory.admin().delete_webhook(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
