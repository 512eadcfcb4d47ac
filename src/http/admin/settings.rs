//! `/admin/v1/settings`: the org's provisioning settings.

use super::auth::AdminJson;
use super::error::{AdminApiError, ErrorBody};
use crate::http::AppState;
use crate::provisioning::admin::{AdminActor, SettingsUpdate, SettingsView};
use axum::Json;
use axum::extract::State;

/// The org's settings.
#[utoipa::path(get, path = "/admin/v1/settings", tag = "settings",
    responses((status = 200, body = SettingsView)))]
pub async fn get_settings(
    State(state): State<AppState>,
    actor: AdminActor,
) -> Result<Json<SettingsView>, AdminApiError> {
    Ok(Json(state.directory.admin().get_settings(&actor).await?))
}

/// Changes the default team, seat overflow or IdP management (recomputes memberships).
#[utoipa::path(patch, path = "/admin/v1/settings", tag = "settings", request_body = SettingsUpdate,
    responses((status = 200, body = SettingsView),
        (status = 404, description = "No such team", body = ErrorBody),
        (status = 409, description = "A new default team is full and seat overflow is reject", body = ErrorBody)))]
pub async fn update_settings(
    State(state): State<AppState>,
    actor: AdminActor,
    AdminJson(update): AdminJson<SettingsUpdate>,
) -> Result<Json<SettingsView>, AdminApiError> {
    Ok(Json(
        state
            .directory
            .admin()
            .update_settings(&actor, update)
            .await?,
    ))
}
