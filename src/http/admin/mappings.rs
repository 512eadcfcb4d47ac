//! `/admin/v1/group-mappings`: IdP groups to teams and roles.

use super::auth::AdminJson;
use super::error::{AdminApiError, ErrorBody};
use crate::domain::MappingId;
use crate::http::AppState;
use crate::provisioning::admin::{AdminActor, MappingChange, MappingView, NewMapping};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

/// The org's group mappings.
#[utoipa::path(get, path = "/admin/v1/group-mappings", tag = "group mappings",
    responses((status = 200, body = [MappingView])))]
pub async fn list_mappings(
    State(state): State<AppState>,
    actor: AdminActor,
) -> Result<Json<Vec<MappingView>>, AdminApiError> {
    Ok(Json(state.directory.admin().list_mappings(&actor).await?))
}

/// Maps a group to a team and role, or to an org role; its members are provisioned.
#[utoipa::path(post, path = "/admin/v1/group-mappings", tag = "group mappings",
    request_body = NewMapping,
    responses((status = 201, body = MappingChange),
        (status = 404, description = "No such group or team", body = ErrorBody),
        (status = 409, description = "A team is full and seat overflow is reject", body = ErrorBody)))]
pub async fn create_mapping(
    State(state): State<AppState>,
    actor: AdminActor,
    AdminJson(new): AdminJson<NewMapping>,
) -> Result<(StatusCode, Json<MappingChange>), AdminApiError> {
    let m = state.directory.admin().create_mapping(&actor, new).await?;
    Ok((StatusCode::CREATED, Json(m)))
}

/// Deletes a mapping; memberships and roles that came only from it go.
#[utoipa::path(delete, path = "/admin/v1/group-mappings/{id}", tag = "group mappings",
    params(("id" = String, Path, description = "Mapping id")),
    responses((status = 200, body = MappingChange),
        (status = 409, description = "It would remove the last org admin", body = ErrorBody)))]
pub async fn delete_mapping(
    State(state): State<AppState>,
    actor: AdminActor,
    Path(id): Path<MappingId>,
) -> Result<Json<MappingChange>, AdminApiError> {
    Ok(Json(
        state.directory.admin().delete_mapping(&actor, &id).await?,
    ))
}
