//! Group mappings: an IdP group to a team and team role, or to an org role. Creating or
//! deleting one recomputes the memberships and roles of the group's members in the same
//! transaction.

use super::audit::record;
use super::kinds::{OrgRole, TeamRole};
use super::teams::team;
use super::{Admin, AdminActor, AdminError, to_json};
use crate::domain::time::Timestamp;
use crate::domain::{GroupId, MappingId, OrgId, TeamId, UserId};
use crate::provisioning::rules::{self, Changes};
use crate::store::resources::{self, Table};
use crate::store::teams::{self, GroupMapping};
use crate::store::{Tx, mappings, members};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A mapping as an admin sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MappingView {
    #[schema(value_type = String)]
    pub id: MappingId,
    #[schema(value_type = String)]
    pub group_id: GroupId,
    pub group_name: String,
    #[schema(value_type = Option<String>)]
    pub team_id: Option<TeamId>,
    pub team_name: Option<String>,
    /// With a team.
    #[schema(value_type = Option<TeamRole>)]
    pub team_role: Option<TeamRole>,
    /// Without a team.
    #[schema(value_type = Option<OrgRole>)]
    pub org_role: Option<OrgRole>,
    #[schema(value_type = String)]
    pub created: Timestamp,
}

/// A mapping to create: `group_id` with `team_id` (and `team_role`, default `user`), or
/// with `org_role`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMapping {
    /// The SCIM id of the IdP group.
    #[schema(value_type = String)]
    pub group_id: GroupId,
    #[schema(value_type = Option<String>)]
    pub team_id: Option<TeamId>,
    /// Only with `team_id`; default `user`.
    pub team_role: Option<TeamRole>,
    /// Only without `team_id`.
    pub org_role: Option<OrgRole>,
}

/// What applying a mapping change did to the group's members.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct MappingEffects {
    /// Memberships that got a seat.
    pub seated: usize,
    /// New memberships waiting for a seat.
    pub waitlisted: usize,
    /// Memberships removed.
    pub removed: usize,
    /// Memberships whose role changed.
    pub changed: usize,
}

/// A mapping and what creating or deleting it did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MappingChange {
    pub mapping: MappingView,
    pub effects: MappingEffects,
}

fn view(d: mappings::MappingDetail) -> MappingView {
    MappingView {
        id: d.mapping.id,
        group_id: d.mapping.group_id,
        group_name: d.group_name,
        team_id: d.mapping.team_id,
        team_name: d.team_name,
        team_role: d.mapping.team_role,
        org_role: d.mapping.org_role,
        created: d.mapping.created,
    }
}

fn effects(c: &Changes) -> MappingEffects {
    MappingEffects {
        seated: c.granted.len(),
        waitlisted: c.waitlisted.len(),
        removed: c.removed.len(),
        changed: c.changed.len(),
    }
}

async fn mapping(tx: &mut Tx, org_id: &OrgId, id: &MappingId) -> Result<MappingView, AdminError> {
    mappings::list(tx, org_id, Some(id))
        .await?
        .pop()
        .map(view)
        .ok_or_else(|| {
            AdminError::NotFound(format!(
                "no group mapping with id {id:?} in this organization"
            ))
        })
}

/// Recomputes the memberships and roles of the group's members.
async fn reconcile_group(
    tx: &mut Tx,
    org_id: &OrgId,
    group_id: &GroupId,
    now: &str,
) -> Result<Changes, AdminError> {
    let users: Vec<UserId> = members::of_groups(tx, std::slice::from_ref(group_id))
        .await?
        .into_iter()
        .filter(|m| m.member_type == "User")
        .map(|m| UserId::from(m.member_id))
        .collect();
    Ok(rules::reconcile_users(tx, org_id, &users, now).await?)
}

impl Admin {
    /// The org's mappings, oldest first.
    pub async fn list_mappings(&self, actor: &AdminActor) -> Result<Vec<MappingView>, AdminError> {
        let mut tx = self.read().await?;
        Ok(mappings::list(&mut tx, &actor.org_id, None)
            .await?
            .into_iter()
            .map(view)
            .collect())
    }

    /// Maps a group and provisions its members accordingly.
    pub async fn create_mapping(
        &self,
        actor: &AdminActor,
        new: NewMapping,
    ) -> Result<MappingChange, AdminError> {
        let now = self.now();
        let mut tx = self.write().await?;
        let group = [new.group_id.to_string()];
        if resources::existing_ids(&mut tx, Table::Groups, &actor.org_id, &group)
            .await?
            .is_empty()
        {
            return Err(AdminError::NotFound(format!(
                "no group with id {:?} in this organization",
                new.group_id
            )));
        }
        let (team_id, team_role, org_role) = match (new.team_id, new.org_role) {
            (Some(team_id), None) => {
                team(&mut tx, &actor.org_id, &team_id).await?;
                let role = new.team_role.unwrap_or(TeamRole::User);
                (Some(team_id), Some(role), None)
            }
            (None, Some(org_role)) if new.team_role.is_none() => (None, None, Some(org_role)),
            _ => {
                return Err(AdminError::Invalid(
                    "a mapping names either team_id (with an optional team_role) or org_role"
                        .into(),
                ));
            }
        };
        let m = GroupMapping {
            id: MappingId::new_v4(),
            org_id: actor.org_id.clone(),
            group_id: new.group_id.clone(),
            team_id,
            team_role,
            org_role,
            created: now.clone(),
        };
        teams::insert_mapping(&mut tx, &m).await?;
        let changes = reconcile_group(&mut tx, &actor.org_id, &new.group_id, &now).await?;
        self.effects(&mut tx, actor, &changes).await?;
        let after = MappingChange {
            mapping: mapping(&mut tx, &actor.org_id, &m.id).await?,
            effects: effects(&changes),
        };
        record(
            &mut tx,
            actor,
            &now,
            "group_mapping.created",
            &format!("group_mapping:{}", m.id),
            None,
            Some(&to_json(&after)?),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Deletes a mapping: memberships and roles that came only from it go, their seats
    /// go to waiting members. Refused if it would remove the last org admin.
    pub async fn delete_mapping(
        &self,
        actor: &AdminActor,
        id: &MappingId,
    ) -> Result<MappingChange, AdminError> {
        let now = self.now();
        let mut tx = self.write().await?;
        let before = mapping(&mut tx, &actor.org_id, id).await?;
        mappings::delete(&mut tx, &actor.org_id, id).await?;
        let changes = reconcile_group(&mut tx, &actor.org_id, &before.group_id, &now).await?;
        self.effects(&mut tx, actor, &changes).await?;
        let result = MappingChange {
            mapping: before,
            effects: effects(&changes),
        };
        record(
            &mut tx,
            actor,
            &now,
            "group_mapping.deleted",
            &format!("group_mapping:{id}"),
            Some(&to_json(&result.mapping)?),
            Some(&json!({"effects": to_json(&result.effects)?})),
        )
        .await?;
        tx.commit().await?;
        Ok(result)
    }
}
