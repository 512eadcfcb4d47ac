//! `/admin/v1/sso/saml-connections`: the org's SAML connections.

use super::auth::AdminJson;
use super::error::{AdminApiError, ErrorBody};
use crate::http::AppState;
use crate::provisioning::admin::AdminActor;
use crate::sso::saml::{
    NewSamlConnection, SamlConnectionUpdate, SamlConnectionView, SamlConnections,
};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

/// The org's SAML connections, with the SP values to give the IdP.
#[utoipa::path(get, path = "/admin/v1/sso/saml-connections", tag = "sso",
    responses((status = 200, body = [SamlConnectionView])))]
pub async fn list_saml_connections(
    State(state): State<AppState>,
    actor: AdminActor,
) -> Result<Json<Vec<SamlConnectionView>>, AdminApiError> {
    Ok(Json(
        state
            .sso
            .list_connections::<SamlConnections>(&actor)
            .await?,
    ))
}

/// Creates a connection from the IdP's metadata or its entity id, SSO URL and signing
/// certificate. A connection without a certificate is refused.
#[utoipa::path(post, path = "/admin/v1/sso/saml-connections", tag = "sso",
    request_body = NewSamlConnection,
    responses((status = 201, body = SamlConnectionView),
        (status = 400, description = "No signing certificate, bad metadata, URL or certificate", body = ErrorBody)))]
pub async fn create_saml_connection(
    State(state): State<AppState>,
    actor: AdminActor,
    AdminJson(new): AdminJson<NewSamlConnection>,
) -> Result<(StatusCode, Json<SamlConnectionView>), AdminApiError> {
    let c = state.sso.create_saml_connection(&actor, new).await?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// One connection.
#[utoipa::path(get, path = "/admin/v1/sso/saml-connections/{id}", tag = "sso",
    params(("id" = String, Path, description = "Connection id")),
    responses((status = 200, body = SamlConnectionView)))]
pub async fn get_saml_connection(
    State(state): State<AppState>,
    actor: AdminActor,
    Path(id): Path<String>,
) -> Result<Json<SamlConnectionView>, AdminApiError> {
    Ok(Json(
        state
            .sso
            .get_connection::<SamlConnections>(&actor, &id)
            .await?,
    ))
}

/// Changes a connection; absent fields stay as they are.
#[utoipa::path(patch, path = "/admin/v1/sso/saml-connections/{id}", tag = "sso",
    request_body = SamlConnectionUpdate, params(("id" = String, Path, description = "Connection id")),
    responses((status = 200, body = SamlConnectionView)))]
pub async fn update_saml_connection(
    State(state): State<AppState>,
    actor: AdminActor,
    Path(id): Path<String>,
    AdminJson(update): AdminJson<SamlConnectionUpdate>,
) -> Result<Json<SamlConnectionView>, AdminApiError> {
    Ok(Json(
        state
            .sso
            .update_saml_connection(&actor, &id, update)
            .await?,
    ))
}

/// Deletes a connection.
#[utoipa::path(delete, path = "/admin/v1/sso/saml-connections/{id}", tag = "sso",
    params(("id" = String, Path, description = "Connection id")),
    responses((status = 204)))]
pub async fn delete_saml_connection(
    State(state): State<AppState>,
    actor: AdminActor,
    Path(id): Path<String>,
) -> Result<StatusCode, AdminApiError> {
    state
        .sso
        .delete_connection::<SamlConnections>(&actor, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
