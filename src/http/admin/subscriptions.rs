//! `/admin/v1/subscriptions`: seat pools.

use super::auth::AdminJson;
use super::error::{AdminApiError, ErrorBody};
use crate::domain::SubscriptionId;
use crate::http::AppState;
use crate::provisioning::admin::{
    AdminActor, NewSubscription, SubscriptionUpdate, SubscriptionView,
};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

/// The org's subscriptions with seats reserved and held.
#[utoipa::path(get, path = "/admin/v1/subscriptions", tag = "subscriptions",
    responses((status = 200, body = [SubscriptionView])))]
pub async fn list_subscriptions(
    State(state): State<AppState>,
    actor: AdminActor,
) -> Result<Json<Vec<SubscriptionView>>, AdminApiError> {
    Ok(Json(
        state.directory.admin().list_subscriptions(&actor).await?,
    ))
}

/// Creates a subscription.
#[utoipa::path(post, path = "/admin/v1/subscriptions", tag = "subscriptions",
    request_body = NewSubscription,
    responses((status = 201, body = SubscriptionView)))]
pub async fn create_subscription(
    State(state): State<AppState>,
    actor: AdminActor,
    AdminJson(new): AdminJson<NewSubscription>,
) -> Result<(StatusCode, Json<SubscriptionView>), AdminApiError> {
    let s = state
        .directory
        .admin()
        .create_subscription(&actor, new)
        .await?;
    Ok((StatusCode::CREATED, Json(s)))
}

/// Changes a subscription's label, plan or pool size (growing it seats waiting members).
#[utoipa::path(patch, path = "/admin/v1/subscriptions/{id}", tag = "subscriptions",
    request_body = SubscriptionUpdate,
    params(("id" = String, Path, description = "Subscription id")),
    responses((status = 200, body = SubscriptionView),
        (status = 409, description = "The pool would be smaller than its reservations or seats held", body = ErrorBody)))]
pub async fn update_subscription(
    State(state): State<AppState>,
    actor: AdminActor,
    Path(id): Path<SubscriptionId>,
    AdminJson(update): AdminJson<SubscriptionUpdate>,
) -> Result<Json<SubscriptionView>, AdminApiError> {
    Ok(Json(
        state
            .directory
            .admin()
            .update_subscription(&actor, &id, update)
            .await?,
    ))
}
