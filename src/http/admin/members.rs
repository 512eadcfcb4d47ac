//! `/admin/v1/teams/{id}/members` and `/waitlist`.

use super::auth::AdminJson;
use super::error::{AdminApiError, ErrorBody};
use crate::domain::{TeamId, UserId};
use crate::http::AppState;
use crate::provisioning::admin::{AdminActor, MemberList, MemberView, NewMember};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

/// A team's members with role, source, state and times.
#[utoipa::path(get, path = "/admin/v1/teams/{id}/members", tag = "memberships",
    params(("id" = String, Path, description = "Team id")),
    responses((status = 200, body = [MemberView])))]
pub async fn list_members(
    State(state): State<AppState>,
    actor: AdminActor,
    Path(id): Path<TeamId>,
) -> Result<Json<Vec<MemberView>>, AdminApiError> {
    members(&state, &actor, &id, MemberList::All).await
}

/// Adds a member by hand (not when teams are IdP-managed).
#[utoipa::path(post, path = "/admin/v1/teams/{id}/members", tag = "memberships",
    request_body = NewMember, params(("id" = String, Path, description = "Team id")),
    responses((status = 201, body = MemberView),
        (status = 409, description = "IdP-managed teams, already a member, or no seat", body = ErrorBody)))]
pub async fn add_member(
    State(state): State<AppState>,
    actor: AdminActor,
    Path(id): Path<TeamId>,
    AdminJson(new): AdminJson<NewMember>,
) -> Result<(StatusCode, Json<MemberView>), AdminApiError> {
    let m = state.directory.admin().add_member(&actor, &id, new).await?;
    Ok((StatusCode::CREATED, Json(m)))
}

/// Removes a member added by hand; the seat goes to the waitlist.
#[utoipa::path(delete, path = "/admin/v1/teams/{id}/members/{user_id}", tag = "memberships",
    params(("id" = String, Path, description = "Team id"), ("user_id" = String, Path, description = "User id")),
    responses((status = 204),
        (status = 409, description = "IdP-managed teams, or a membership from the IdP", body = ErrorBody)))]
pub async fn remove_member(
    State(state): State<AppState>,
    actor: AdminActor,
    Path((id, user_id)): Path<(TeamId, UserId)>,
) -> Result<StatusCode, AdminApiError> {
    state
        .directory
        .admin()
        .remove_member(&actor, &id, &user_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A team's waitlist in the order seats are handed out.
#[utoipa::path(get, path = "/admin/v1/teams/{id}/waitlist", tag = "memberships",
    params(("id" = String, Path, description = "Team id")),
    responses((status = 200, body = [MemberView])))]
pub async fn waitlist(
    State(state): State<AppState>,
    actor: AdminActor,
    Path(id): Path<TeamId>,
) -> Result<Json<Vec<MemberView>>, AdminApiError> {
    members(&state, &actor, &id, MemberList::Waitlist).await
}

async fn members(
    state: &AppState,
    actor: &AdminActor,
    id: &TeamId,
    list: MemberList,
) -> Result<Json<Vec<MemberView>>, AdminApiError> {
    Ok(Json(
        state
            .directory
            .admin()
            .list_members(actor, id, list)
            .await?,
    ))
}
