//! `/admin/v1/teams`: teams, their seat allocation and subscription.

use super::auth::AdminJson;
use super::error::{AdminApiError, ErrorBody};
use crate::domain::{SubscriptionId, TeamId};
use crate::http::AppState;
use crate::provisioning::admin::{AdminActor, AllocationUpdate, NewTeam, TeamUpdate, TeamView};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

/// Moving a team to another subscription.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveTeam {
    #[schema(value_type = String)]
    pub subscription_id: SubscriptionId,
}

/// The org's teams with seats assigned, members waiting and seats reserved.
#[utoipa::path(get, path = "/admin/v1/teams", tag = "teams",
    responses((status = 200, body = [TeamView])))]
pub async fn list_teams(
    State(state): State<AppState>,
    actor: AdminActor,
) -> Result<Json<Vec<TeamView>>, AdminApiError> {
    Ok(Json(state.directory.admin().list_teams(&actor).await?))
}

/// Creates a team.
#[utoipa::path(post, path = "/admin/v1/teams", tag = "teams", request_body = NewTeam,
    responses((status = 201, body = TeamView),
        (status = 404, description = "No such subscription", body = ErrorBody),
        (status = 409, description = "Name taken or reservations above the pool", body = ErrorBody)))]
pub async fn create_team(
    State(state): State<AppState>,
    actor: AdminActor,
    AdminJson(new): AdminJson<NewTeam>,
) -> Result<(StatusCode, Json<TeamView>), AdminApiError> {
    let team = state.directory.admin().create_team(&actor, new).await?;
    Ok((StatusCode::CREATED, Json(team)))
}

/// One team.
#[utoipa::path(get, path = "/admin/v1/teams/{id}", tag = "teams",
    params(("id" = String, Path, description = "Team id")),
    responses((status = 200, body = TeamView)))]
pub async fn get_team(
    State(state): State<AppState>,
    actor: AdminActor,
    Path(id): Path<TeamId>,
) -> Result<Json<TeamView>, AdminApiError> {
    Ok(Json(state.directory.admin().get_team(&actor, &id).await?))
}

/// Changes a team's name, description, login type or settings.
#[utoipa::path(patch, path = "/admin/v1/teams/{id}", tag = "teams", request_body = TeamUpdate,
    params(("id" = String, Path, description = "Team id")),
    responses((status = 200, body = TeamView),
        (status = 409, body = ErrorBody)))]
pub async fn update_team(
    State(state): State<AppState>,
    actor: AdminActor,
    Path(id): Path<TeamId>,
    AdminJson(update): AdminJson<TeamUpdate>,
) -> Result<Json<TeamView>, AdminApiError> {
    Ok(Json(
        state
            .directory
            .admin()
            .update_team(&actor, &id, update)
            .await?,
    ))
}

/// Deletes a team without members (not the initial or default team).
#[utoipa::path(delete, path = "/admin/v1/teams/{id}", tag = "teams",
    params(("id" = String, Path, description = "Team id")),
    responses((status = 204),
        (status = 409, description = "The team has members or is the initial/default team", body = ErrorBody)))]
pub async fn delete_team(
    State(state): State<AppState>,
    actor: AdminActor,
    Path(id): Path<TeamId>,
) -> Result<StatusCode, AdminApiError> {
    state.directory.admin().delete_team(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets or clears (null) the seats reserved for a team.
#[utoipa::path(put, path = "/admin/v1/teams/{id}/allocation", tag = "subscriptions",
    request_body = AllocationUpdate, params(("id" = String, Path, description = "Team id")),
    responses((status = 200, body = TeamView),
        (status = 409, description = "Reservations would exceed the pool", body = ErrorBody)))]
pub async fn set_allocation(
    State(state): State<AppState>,
    actor: AdminActor,
    Path(id): Path<TeamId>,
    AdminJson(update): AdminJson<AllocationUpdate>,
) -> Result<Json<TeamView>, AdminApiError> {
    Ok(Json(
        state
            .directory
            .admin()
            .set_allocation(&actor, &id, update.reserved_seats)
            .await?,
    ))
}

/// Clears a team's reservation: it shares the unreserved pool again.
#[utoipa::path(delete, path = "/admin/v1/teams/{id}/allocation", tag = "subscriptions",
    params(("id" = String, Path, description = "Team id")),
    responses((status = 200, body = TeamView)))]
pub async fn clear_allocation(
    State(state): State<AppState>,
    actor: AdminActor,
    Path(id): Path<TeamId>,
) -> Result<Json<TeamView>, AdminApiError> {
    Ok(Json(
        state
            .directory
            .admin()
            .set_allocation(&actor, &id, None)
            .await?,
    ))
}

/// Moves a team to another subscription of the org.
#[utoipa::path(put, path = "/admin/v1/teams/{id}/subscription", tag = "subscriptions",
    request_body = MoveTeam, params(("id" = String, Path, description = "Team id")),
    responses((status = 200, body = TeamView),
        (status = 409, description = "The target subscription has no room", body = ErrorBody)))]
pub async fn move_team(
    State(state): State<AppState>,
    actor: AdminActor,
    Path(id): Path<TeamId>,
    AdminJson(m): AdminJson<MoveTeam>,
) -> Result<Json<TeamView>, AdminApiError> {
    Ok(Json(
        state
            .directory
            .admin()
            .move_team(&actor, &id, &m.subscription_id)
            .await?,
    ))
}
