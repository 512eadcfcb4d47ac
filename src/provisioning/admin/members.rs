//! A team's members and waitlist, and manual memberships (added by an admin; refused
//! when the org's teams are IdP-managed).

use super::audit::record;
use super::kinds::TeamRole;
use super::roles::active_user;
use super::teams::team;
use super::{Admin, AdminActor, AdminError, to_json};
use crate::domain::kinds::{MembershipSource, MembershipState};
use crate::domain::time::Timestamp;
use crate::domain::{MembershipId, OrgId, TeamId, UserId};
use crate::provisioning::rules::Changes;
use crate::store::teams::{self, TeamMembership};
use crate::store::{Tx, team_admin};
use serde::{Deserialize, Serialize};

/// Which memberships of a team to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberList {
    /// Every state, by time added.
    All,
    /// Those waiting for a seat, in the order seats are handed out, with their positions.
    Waitlist,
}

/// A membership as an admin sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MemberView {
    #[schema(value_type = String)]
    pub user_id: UserId,
    /// Absent when the user no longer exists.
    pub user_name: Option<String>,
    #[schema(value_type = TeamRole)]
    pub role: TeamRole,
    /// `group`, `attribute`, `default` or `manual`
    #[schema(value_type = String)]
    pub source: MembershipSource,
    /// `awaiting_seat`, `invited`, `pending_app_login` or `active`
    #[schema(value_type = String)]
    pub state: MembershipState,
    #[schema(value_type = String)]
    pub added: Timestamp,
    #[schema(value_type = Option<String>)]
    pub invited: Option<Timestamp>,
    #[schema(value_type = Option<String>)]
    pub invitation_expires: Option<Timestamp>,
    #[schema(value_type = Option<String>)]
    pub accepted: Option<Timestamp>,
    #[schema(value_type = Option<String>)]
    pub first_sign_in: Option<Timestamp>,
    #[schema(value_type = Option<String>)]
    pub last_active: Option<Timestamp>,
    /// Why the person was not emailed: `"no address"` when the membership holds its seat
    /// (`invited`) but no joining email went out, because the user had no usable email
    /// address (the audit log has a `membership.invitation_not_sent` entry). Absent
    /// otherwise; a "resend invite" once the user has an address clears it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation_not_sent: Option<String>,
    /// Place in the waitlist (1 is served next); only on the waitlist.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
}

/// A member to add by hand.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    #[schema(value_type = String)]
    pub user_id: UserId,
    /// Default `user`.
    pub role: Option<TeamRole>,
}

fn view(m: team_admin::MemberDetail, position: Option<usize>) -> MemberView {
    // Every joining email sets the invitation's expiry; an `invited` membership without
    // one was never emailed, which happens only for want of an address.
    let invitation_not_sent = (m.state == MembershipState::Invited
        && m.invitation_expires.is_none())
    .then(|| crate::provisioning::invitations::NO_ADDRESS.to_owned());
    MemberView {
        user_id: m.user_id,
        user_name: m.user_name,
        role: m.role,
        source: m.source,
        state: m.state,
        added: m.added,
        invited: m.invited,
        invitation_expires: m.invitation_expires,
        accepted: m.accepted,
        first_sign_in: m.first_sign_in,
        last_active: m.last_active,
        invitation_not_sent,
        position,
    }
}

async fn refuse_if_idp_managed(
    tx: &mut Tx,
    org_id: &OrgId,
    team_name: &str,
) -> Result<(), AdminError> {
    if teams::settings(tx, org_id).await?.idp_managed_teams {
        return Err(AdminError::Conflict(format!(
            "the organization's teams are managed by the identity provider: members of team \
             {team_name:?} cannot be added or removed by hand"
        )));
    }
    Ok(())
}

async fn member_view(
    tx: &mut Tx,
    team_id: &TeamId,
    user_id: &UserId,
) -> Result<MemberView, AdminError> {
    team_admin::team_memberships(tx, team_id, false)
        .await?
        .into_iter()
        .find(|m| m.user_id == *user_id)
        .map(|m| view(m, None))
        .ok_or_else(|| AdminError::Internal("membership just written is missing".into()))
}

impl Admin {
    /// A team's members: all of them, or its waitlist.
    pub async fn list_members(
        &self,
        actor: &AdminActor,
        team_id: &TeamId,
        list: MemberList,
    ) -> Result<Vec<MemberView>, AdminError> {
        let mut tx = self.read().await?;
        team(&mut tx, &actor.org_id, team_id).await?;
        let waitlist = list == MemberList::Waitlist;
        let members = team_admin::team_memberships(&mut tx, team_id, waitlist).await?;
        Ok(members
            .into_iter()
            .enumerate()
            .map(|(i, m)| view(m, waitlist.then_some(i + 1)))
            .collect())
    }

    /// Adds a user to a team by hand: a seat if one is free and nobody waits, else the
    /// waitlist (or 409 with seat overflow `reject`).
    pub async fn add_member(
        &self,
        actor: &AdminActor,
        team_id: &TeamId,
        new: NewMember,
    ) -> Result<MemberView, AdminError> {
        let role = new.role.unwrap_or(TeamRole::User);
        let now = self.now();
        let mut tx = self.write().await?;
        let t = team(&mut tx, &actor.org_id, team_id).await?;
        refuse_if_idp_managed(&mut tx, &actor.org_id, &t.name).await?;
        active_user(&mut tx, &actor.org_id, &new.user_id).await?;
        if let Some(m) = team_admin::membership(&mut tx, team_id, &new.user_id).await? {
            return Err(AdminError::Conflict(format!(
                "user {:?} is already a member of team {:?} (source {}, state {})",
                new.user_id, t.name, m.source, m.state
            )));
        }
        let pool = teams::lock_pool(&mut tx, &t.subscription_id).await?;
        let free = teams::free_seats(&mut tx, &t, pool).await?;
        let scope = t.reserved_seats.map(|_| &t.id);
        let queue_ahead = !teams::waiting(&mut tx, &t.subscription_id, scope, 1)
            .await?
            .is_empty();
        let seat = free > 0 && !queue_ahead;
        if !seat
            && teams::settings(&mut tx, &actor.org_id).await?.seat_overflow
                == super::kinds::SeatOverflow::Reject
        {
            let held = teams::seats_held(&mut tx, &t.id).await?;
            return Err(AdminError::SeatLimit(format!(
                "team {:?} has no free seat ({held} held{}); the organization rejects members \
                 beyond its seats (seat overflow: reject)",
                t.name,
                t.reserved_seats
                    .map(|r| format!(" of {r} reserved"))
                    .unwrap_or_default()
            )));
        }
        let m = TeamMembership {
            id: MembershipId::new_v4(),
            team_id: t.id.clone(),
            user_id: new.user_id.clone(),
            role,
            source: MembershipSource::Manual,
            state: if seat {
                MembershipState::Invited
            } else {
                MembershipState::AwaitingSeat
            },
        };
        teams::insert_membership(&mut tx, &actor.org_id, &m, &now).await?;
        let changes = if seat {
            Changes {
                granted: vec![m],
                ..Changes::default()
            }
        } else {
            Changes {
                waitlisted: vec![m],
                ..Changes::default()
            }
        };
        self.effects(&mut tx, actor, &changes).await?;
        let after = member_view(&mut tx, team_id, &new.user_id).await?;
        record(
            &mut tx,
            actor,
            &now,
            "membership.added",
            &format!("membership:{team_id}/{}", new.user_id),
            None,
            Some(&to_json(&after)?),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Removes a manual member; the seat goes to the waitlist.
    pub async fn remove_member(
        &self,
        actor: &AdminActor,
        team_id: &TeamId,
        user_id: &UserId,
    ) -> Result<(), AdminError> {
        let now = self.now();
        let mut tx = self.write().await?;
        let t = team(&mut tx, &actor.org_id, team_id).await?;
        refuse_if_idp_managed(&mut tx, &actor.org_id, &t.name).await?;
        let m = team_admin::membership(&mut tx, team_id, user_id)
            .await?
            .ok_or_else(|| {
                AdminError::NotFound(format!(
                    "user {user_id:?} is not a member of team {:?}",
                    t.name
                ))
            })?;
        if m.source != MembershipSource::Manual {
            return Err(AdminError::Conflict(format!(
                "user {user_id:?} is in team {:?} through the identity provider (source {}); \
                 change it there",
                t.name, m.source
            )));
        }
        let before = member_view(&mut tx, team_id, user_id).await?;
        // The pool before the team row (the held-seats trigger): the order grants use.
        teams::lock_pool(&mut tx, &t.subscription_id).await?;
        teams::delete_memberships(&mut tx, std::slice::from_ref(&m.id)).await?;
        record(
            &mut tx,
            actor,
            &now,
            "membership.removed",
            &format!("membership:{team_id}/{user_id}"),
            Some(&to_json(&before)?),
            None,
        )
        .await?;
        let held = m.state.holds_seat();
        let changes = Changes {
            removed: vec![(m, held)],
            ..Changes::default()
        };
        self.effects(&mut tx, actor, &changes).await?;
        if held {
            self.fill(&mut tx, actor, &now, &t.subscription_id).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
