//! `/admin/v1/teams/{team_id}/members/resend-invite` and `.../send-instructions`: emails
//! to chosen members of a team, queued through the outbox.

use super::auth::AdminJson;
use super::error::AdminApiError;
use crate::domain::{TeamId, UserId};
use crate::http::AppState;
use crate::provisioning::admin::{AdminActor, AdminError};
use crate::provisioning::invitations::{self, AdminMail, Sent};
use axum::Json;
use axum::extract::{Path, State};

/// The most users one request may name.
const MAX_USERS: usize = 1000;

/// The members to write to.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberSelection {
    /// SCIM user ids of members of the team.
    #[schema(min_items = 1, max_items = 1000, value_type = Vec<String>)]
    pub user_ids: Vec<UserId>,
}

/// A member no email was queued for, and why.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Skipped {
    #[schema(value_type = String)]
    pub user_id: UserId,
    pub reason: String,
}

/// What was queued.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct EmailsQueued {
    /// Users an email was queued for.
    #[schema(value_type = Vec<String>)]
    pub sent: Vec<UserId>,
    /// Users skipped (not a member, waiting for a seat, already accepted, no address).
    pub skipped: Vec<Skipped>,
}

impl From<Sent> for EmailsQueued {
    fn from(s: Sent) -> Self {
        EmailsQueued {
            sent: s.sent,
            skipped: s
                .skipped
                .into_iter()
                .map(|(user_id, reason)| Skipped { user_id, reason })
                .collect(),
        }
    }
}

/// Queues `mail` for the selected members of `team_id`.
async fn queue(
    state: &AppState,
    actor: &AdminActor,
    team_id: &TeamId,
    selection: &MemberSelection,
    mail: AdminMail,
) -> Result<Json<EmailsQueued>, AdminApiError> {
    if selection.user_ids.is_empty() || selection.user_ids.len() > MAX_USERS {
        return Err(AdminApiError::BadRequest(format!(
            "user_ids must name 1 to {MAX_USERS} users; it names {}.",
            selection.user_ids.len()
        )));
    }
    let sent = invitations::send_to_members(
        &state.directory,
        &actor.audit_name(),
        &actor.org_id,
        team_id,
        &selection.user_ids,
        mail,
    )
    .await
    .map_err(AdminError::from)?;
    Ok(Json(sent.into()))
}

/// Sends members who have not accepted yet a new invitation link (the old one keeps
/// working until it expires).
#[utoipa::path(post, path = "/admin/v1/teams/{id}/members/resend-invite", tag = "teams",
    request_body = MemberSelection, params(("id" = String, Path, description = "Team id")),
    responses((status = 200, body = EmailsQueued)))]
pub async fn resend_invite(
    State(state): State<AppState>,
    actor: AdminActor,
    Path(team_id): Path<TeamId>,
    AdminJson(selection): AdminJson<MemberSelection>,
) -> Result<Json<EmailsQueued>, AdminApiError> {
    queue(&state, &actor, &team_id, &selection, AdminMail::Invitation).await
}

/// Sends members with a seat the instructions to sign in.
#[utoipa::path(post, path = "/admin/v1/teams/{id}/members/send-instructions", tag = "teams",
    request_body = MemberSelection, params(("id" = String, Path, description = "Team id")),
    responses((status = 200, body = EmailsQueued)))]
pub async fn send_instructions(
    State(state): State<AppState>,
    actor: AdminActor,
    Path(team_id): Path<TeamId>,
    AdminJson(selection): AdminJson<MemberSelection>,
) -> Result<Json<EmailsQueued>, AdminApiError> {
    queue(
        &state,
        &actor,
        &team_id,
        &selection,
        AdminMail::Instructions,
    )
    .await
}
