//! `/admin/v1/sso/oidc-connections`: the org's OpenID Connect connections.

use super::auth::AdminJson;
use super::error::{AdminApiError, ErrorBody};
use crate::http::AppState;
use crate::provisioning::admin::AdminActor;
use crate::sso::oidc::{
    NewOidcConnection, OidcConnectionUpdate, OidcConnectionView, OidcConnections,
};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

/// The org's OIDC connections (never their client secrets).
#[utoipa::path(get, path = "/admin/v1/sso/oidc-connections", tag = "sso",
    responses((status = 200, body = [OidcConnectionView])))]
pub async fn list_oidc_connections(
    State(state): State<AppState>,
    actor: AdminActor,
) -> Result<Json<Vec<OidcConnectionView>>, AdminApiError> {
    Ok(Json(
        state
            .sso
            .list_connections::<OidcConnections>(&actor)
            .await?,
    ))
}

/// Creates a connection after fetching the issuer's discovery document.
#[utoipa::path(post, path = "/admin/v1/sso/oidc-connections", tag = "sso",
    request_body = NewOidcConnection,
    responses((status = 201, body = OidcConnectionView),
        (status = 400, description = "Invalid settings, or the issuer's discovery failed", body = ErrorBody)))]
pub async fn create_oidc_connection(
    State(state): State<AppState>,
    actor: AdminActor,
    AdminJson(new): AdminJson<NewOidcConnection>,
) -> Result<(StatusCode, Json<OidcConnectionView>), AdminApiError> {
    let c = state.sso.create_oidc_connection(&actor, new).await?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// One connection.
#[utoipa::path(get, path = "/admin/v1/sso/oidc-connections/{id}", tag = "sso",
    params(("id" = String, Path, description = "Connection id")),
    responses((status = 200, body = OidcConnectionView)))]
pub async fn get_oidc_connection(
    State(state): State<AppState>,
    actor: AdminActor,
    Path(id): Path<String>,
) -> Result<Json<OidcConnectionView>, AdminApiError> {
    Ok(Json(
        state
            .sso
            .get_connection::<OidcConnections>(&actor, &id)
            .await?,
    ))
}

/// Changes a connection (a new issuer is checked by discovery; a new secret replaces the old).
#[utoipa::path(patch, path = "/admin/v1/sso/oidc-connections/{id}", tag = "sso",
    request_body = OidcConnectionUpdate,
    params(("id" = String, Path, description = "Connection id")),
    responses((status = 200, body = OidcConnectionView)))]
pub async fn update_oidc_connection(
    State(state): State<AppState>,
    actor: AdminActor,
    Path(id): Path<String>,
    AdminJson(update): AdminJson<OidcConnectionUpdate>,
) -> Result<Json<OidcConnectionView>, AdminApiError> {
    Ok(Json(
        state
            .sso
            .update_oidc_connection(&actor, &id, update)
            .await?,
    ))
}

/// Deletes a connection; sign-ins in flight through it fail.
#[utoipa::path(delete, path = "/admin/v1/sso/oidc-connections/{id}", tag = "sso",
    params(("id" = String, Path, description = "Connection id")),
    responses((status = 204)))]
pub async fn delete_oidc_connection(
    State(state): State<AppState>,
    actor: AdminActor,
    Path(id): Path<String>,
) -> Result<StatusCode, AdminApiError> {
    state
        .sso
        .delete_connection::<OidcConnections>(&actor, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
