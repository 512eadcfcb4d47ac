//! `/admin/v1/policies/sso`, `/admin/v1/policies/settings` and
//! `/admin/v1/teams/{id}/effective-settings` (DESIGN.md "Policies").

use super::auth::AdminJson;
use super::error::{AdminApiError, ErrorBody};
use crate::domain::TeamId;
use crate::http::AppState;
use crate::provisioning::admin::AdminActor;
use crate::sso::policy::{
    EffectiveSettingsView, NewSettingsPolicy, SettingsPolicyUpdate, SettingsPolicyView,
    SsoPolicyUpdate, SsoPolicyView,
};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

/// The org's SSO policy: the teams whose members must sign in through the org's SSO.
#[utoipa::path(get, path = "/admin/v1/policies/sso", tag = "policies",
    responses((status = 200, body = SsoPolicyView)))]
pub async fn get_sso_policy(
    State(state): State<AppState>,
    actor: AdminActor,
) -> Result<Json<SsoPolicyView>, AdminApiError> {
    Ok(Json(state.sso.sso_policy(&actor).await?))
}

/// Sets the teams the SSO policy applies to (the list replaces the previous one).
#[utoipa::path(put, path = "/admin/v1/policies/sso", tag = "policies",
    request_body = SsoPolicyUpdate,
    responses((status = 200, body = SsoPolicyView),
        (status = 404, description = "No such team", body = ErrorBody),
        (status = 409, description = "Changed by another request at the same time", body = ErrorBody)))]
pub async fn put_sso_policy(
    State(state): State<AppState>,
    actor: AdminActor,
    AdminJson(update): AdminJson<SsoPolicyUpdate>,
) -> Result<Json<SsoPolicyView>, AdminApiError> {
    Ok(Json(state.sso.put_sso_policy(&actor, update).await?))
}

/// The org's settings policies.
#[utoipa::path(get, path = "/admin/v1/policies/settings", tag = "policies",
    responses((status = 200, body = [SettingsPolicyView])))]
pub async fn list_settings_policies(
    State(state): State<AppState>,
    actor: AdminActor,
) -> Result<Json<Vec<SettingsPolicyView>>, AdminApiError> {
    Ok(Json(state.sso.settings_policies(&actor).await?))
}

/// Creates a settings policy: its settings override those of the teams it names; where
/// two policies set the same key on a team, the one changed last wins.
#[utoipa::path(post, path = "/admin/v1/policies/settings", tag = "policies",
    request_body = NewSettingsPolicy,
    responses((status = 201, body = SettingsPolicyView),
        (status = 404, description = "No such team", body = ErrorBody)))]
pub async fn create_settings_policy(
    State(state): State<AppState>,
    actor: AdminActor,
    AdminJson(new): AdminJson<NewSettingsPolicy>,
) -> Result<(StatusCode, Json<SettingsPolicyView>), AdminApiError> {
    let p = state.sso.create_settings_policy(&actor, new).await?;
    Ok((StatusCode::CREATED, Json(p)))
}

/// One settings policy.
#[utoipa::path(get, path = "/admin/v1/policies/settings/{id}", tag = "policies",
    params(("id" = String, Path, description = "Policy id")),
    responses((status = 200, body = SettingsPolicyView)))]
pub async fn get_settings_policy(
    State(state): State<AppState>,
    actor: AdminActor,
    Path(id): Path<String>,
) -> Result<Json<SettingsPolicyView>, AdminApiError> {
    Ok(Json(state.sso.settings_policy(&actor, &id).await?))
}

/// Changes a settings policy's name, settings or teams.
#[utoipa::path(patch, path = "/admin/v1/policies/settings/{id}", tag = "policies",
    request_body = SettingsPolicyUpdate,
    params(("id" = String, Path, description = "Policy id")),
    responses((status = 200, body = SettingsPolicyView),
        (status = 404, description = "No such policy or team", body = ErrorBody)))]
pub async fn update_settings_policy(
    State(state): State<AppState>,
    actor: AdminActor,
    Path(id): Path<String>,
    AdminJson(update): AdminJson<SettingsPolicyUpdate>,
) -> Result<Json<SettingsPolicyView>, AdminApiError> {
    Ok(Json(
        state
            .sso
            .update_settings_policy(&actor, &id, update)
            .await?,
    ))
}

/// Deletes a settings policy.
#[utoipa::path(delete, path = "/admin/v1/policies/settings/{id}", tag = "policies",
    params(("id" = String, Path, description = "Policy id")),
    responses((status = 204)))]
pub async fn delete_settings_policy(
    State(state): State<AppState>,
    actor: AdminActor,
    Path(id): Path<String>,
) -> Result<StatusCode, AdminApiError> {
    state.sso.delete_settings_policy(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A team's effective settings (its own, overridden by its policies) and where each value
/// comes from.
#[utoipa::path(get, path = "/admin/v1/teams/{id}/effective-settings", tag = "policies",
    params(("id" = String, Path, description = "Team id")),
    responses((status = 200, body = EffectiveSettingsView)))]
pub async fn effective_settings(
    State(state): State<AppState>,
    actor: AdminActor,
    Path(id): Path<TeamId>,
) -> Result<Json<EffectiveSettingsView>, AdminApiError> {
    Ok(Json(state.sso.effective_settings(&actor, &id).await?))
}
