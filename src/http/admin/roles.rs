//! `/admin/v1/org-roles`: org admins and analysts.

use super::auth::AdminJson;
use super::error::{AdminApiError, ErrorBody};
use crate::domain::UserId;
use crate::http::AppState;
use crate::provisioning::admin::{AdminActor, NewOrgRole, OrgRoleView};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

/// The org's roles.
#[utoipa::path(get, path = "/admin/v1/org-roles", tag = "org roles",
    responses((status = 200, body = [OrgRoleView])))]
pub async fn list_org_roles(
    State(state): State<AppState>,
    actor: AdminActor,
) -> Result<Json<Vec<OrgRoleView>>, AdminApiError> {
    Ok(Json(state.directory.admin().list_org_roles(&actor).await?))
}

/// Grants a user an org role (and adds them to the initial team).
#[utoipa::path(post, path = "/admin/v1/org-roles", tag = "org roles", request_body = NewOrgRole,
    responses((status = 200, body = OrgRoleView),
        (status = 404, description = "No such active user", body = ErrorBody),
        (status = 409, description = "It would remove the last org admin, or no seat", body = ErrorBody)))]
pub async fn assign_org_role(
    State(state): State<AppState>,
    actor: AdminActor,
    AdminJson(new): AdminJson<NewOrgRole>,
) -> Result<Json<OrgRoleView>, AdminApiError> {
    Ok(Json(
        state.directory.admin().assign_org_role(&actor, new).await?,
    ))
}

/// Revokes a user's org role (not the last org admin's).
#[utoipa::path(delete, path = "/admin/v1/org-roles/{user_id}", tag = "org roles",
    params(("user_id" = String, Path, description = "User id")),
    responses((status = 204),
        (status = 409, description = "The last org admin, or a role from a mapped group", body = ErrorBody)))]
pub async fn revoke_org_role(
    State(state): State<AppState>,
    actor: AdminActor,
    Path(user_id): Path<UserId>,
) -> Result<StatusCode, AdminApiError> {
    state
        .directory
        .admin()
        .revoke_org_role(&actor, &user_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
